import os

import h5py
import numpy as np
import pytest
import tifffile

from exodeep_gui.core.movie import MovieError
from exodeep_gui.io.movie_io import open_movie


@pytest.fixture
def stack():
    return np.random.default_rng(1).integers(0, 4000, (20, 24, 32)).astype(np.uint16)


def test_multipage_tiff_is_memory_mapped_with_calibration(tmp_path, stack):
    path = tmp_path / "m.tif"
    tifffile.imwrite(path, stack, imagej=True, resolution=(1 / 0.16, 1 / 0.16),
                     metadata={"axes": "TYX", "finterval": 0.3, "unit": "micron"})
    m = open_movie(path)
    assert m.shape == (20, 24, 32) and m.is_memory_mapped
    assert np.array_equal(m.frames(3, 5), stack[3:5])
    assert m.pixel_size_um == pytest.approx(0.16) and m.frame_interval_s == pytest.approx(0.3)


def test_imagej_z_stack_is_a_time_series_and_channels_are_picked(tmp_path, stack):
    z = tmp_path / "z.tif"
    tifffile.imwrite(z, stack, imagej=True, metadata={"axes": "ZYX"})
    assert open_movie(z).shape == (20, 24, 32)
    two = np.stack([stack, stack + 1], axis=1)                    # (T, C, Y, X)
    c = tmp_path / "c.tif"
    tifffile.imwrite(c, two, imagej=True, metadata={"axes": "TCYX"})
    assert np.array_equal(open_movie(c, channel=1).frames(0, 20), stack + 1)
    with pytest.raises(MovieError, match="channel 2"):
        open_movie(c, channel=2)


def test_ome_tiff_and_compressed_and_float(tmp_path, stack):
    ome = tmp_path / "m.ome.tif"
    tifffile.imwrite(ome, stack, metadata={"axes": "TYX", "PhysicalSizeX": 0.1, "TimeIncrement": 0.5},
                     compression="zlib")
    m = open_movie(ome)
    assert np.array_equal(m.frames(0, 20), stack)
    assert m.pixel_size_um == pytest.approx(0.1) and m.frame_interval_s == pytest.approx(0.5)
    f = tmp_path / "f.tif"
    tifffile.imwrite(f, stack.astype(np.float32))
    assert open_movie(f).dtype == np.float32
    u8 = tmp_path / "u8.tif"
    tifffile.imwrite(u8, (stack // 16).astype(np.uint8))
    assert open_movie(u8).dtype == np.uint8


def test_large_compressed_tiff_goes_to_a_temporary_memmap(tmp_path, stack):
    path = tmp_path / "z.tif"
    tifffile.imwrite(path, stack, compression="zlib")
    import tempfile

    before = set(os.listdir(tempfile.gettempdir()))
    m = open_movie(path, memory_limit_bytes=1000)
    assert isinstance(m.data, np.memmap) and np.array_equal(np.asarray(m.data), stack)
    leftovers = [f for f in set(os.listdir(tempfile.gettempdir())) - before if f.startswith("exodeep-")]
    assert leftovers == []                          # the backing file is unlinked, the map stays valid


def test_frame_folder_and_h5(tmp_path, stack):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, fr in enumerate(stack):
        tifffile.imwrite(folder / f"cell_t{i + 1}.tif", fr)   # unpadded numbers sort numerically
    m = open_movie(folder)
    assert m.shape == stack.shape and np.array_equal(m.frames(9, 12), stack[9:12])
    os.remove(folder / "cell_t5.tif")
    with pytest.raises(MovieError, match="not consecutive"):
        open_movie(folder)
    h5 = tmp_path / "movie.h5"
    with h5py.File(h5, "w") as f:
        f.create_dataset("dataset", data=stack)
    assert np.array_equal(open_movie(h5).frames(0, 20), stack)
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f.create_dataset("other", data=stack)
    with pytest.raises(MovieError, match="'dataset'"):
        open_movie(tmp_path / "bad.h5")


@pytest.mark.parametrize("case, message", [
    ("not_tiff", "not a TIFF"),
    ("truncated", "truncated"),
    ("image2d", "single 2D image"),
    ("rgb", "RGB"),
    ("nan", "NaN"),
    ("nd2", "not an ND2 file"),
    ("missing", "no such file"),
])
def test_bad_input_gets_one_clear_line(tmp_path, stack, case, message):
    path = tmp_path / ("x.nd2" if case == "nd2" else "x.tif")
    if case in ("not_tiff", "nd2"):
        path.write_bytes(b"hello, this is not a movie" * 10)
    elif case == "truncated":
        tifffile.imwrite(path, stack)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif case == "image2d":
        tifffile.imwrite(path, stack[0])
    elif case == "rgb":
        tifffile.imwrite(path, np.zeros((64, 64, 3), np.uint8), photometric="rgb")
    elif case == "nan":
        bad = stack.astype(np.float32)
        bad[4, 2, 2] = np.nan
        tifffile.imwrite(path, bad)
    with pytest.raises(MovieError) as err:
        open_movie(path)
    text = str(err.value)
    assert message in text and "x." in text and "\n" not in text


def test_nd2_axes_channel_and_calibration(tmp_path, monkeypatch):
    """ND2 goes through the `nd2` library (which cannot write a file, and no sample file is
    available here): a stand-in ND2File with nd2's interface checks ExoDeep's side — axis order,
    channel choice, multi-position files, pixel size and frame interval."""
    nd2 = pytest.importorskip("nd2")
    from types import SimpleNamespace

    from exodeep_gui.core.movie import MovieError
    from exodeep_gui.io.movie_io import open_movie

    data = np.random.default_rng(1).integers(0, 4000, (20, 2, 24, 28), dtype=np.uint16)

    class FakeND2:
        def __init__(self, path):
            self.sizes = {"T": 20, "C": 2, "Y": 24, "X": 28}
            self.nbytes = data.nbytes
            self.experiment = [SimpleNamespace(type="TimeLoop", parameters=SimpleNamespace(periodMs=250.0))]

        def asarray(self):
            return data

        def voxel_size(self):
            return SimpleNamespace(x=0.108, y=0.108, z=1.0)

    monkeypatch.setattr(nd2, "ND2File", FakeND2)
    path = tmp_path / "cell.nd2"
    path.write_bytes(b"\0" * 16)
    movie = open_movie(path, channel=1)
    assert movie.shape == (20, 24, 28) and np.array_equal(np.asarray(movie.data), data[:, 1])
    assert movie.pixel_size_um == pytest.approx(0.108) and movie.frame_interval_s == pytest.approx(0.25)
    with pytest.raises(MovieError, match="cell.nd2"):
        open_movie(path, channel=5)
