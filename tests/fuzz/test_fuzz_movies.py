"""Fuzzing the movie readers (open_movie, find_movies, the CLI): TIFFs cut at any byte, corrupt
IFDs and tags, wrong or mixed pixel types, 2D, RGB, 4D/5D, absurd sizes in the header, ImageJ
metadata that labels time as channels or slices, OME-XML that disagrees with the pages, empty
and non-TIFF files, frame folders and HDF5."""

from __future__ import annotations

import re
import struct

import numpy as np
import pytest
import tifffile
from hypothesis import given, settings
from hypothesis import strategies as st

from exodeep_gui.io.movie_io import find_movies, open_movie
from tests.fuzz.conftest import examples
from tests.fuzz.contract import run_case, run_cli, scratch_dir
from tests.fuzz.damage import cut_bytes, flip_bytes

# the generator casts pages to other types on purpose (mixed pages): numpy's notes about it are noise
pytestmark = pytest.mark.filterwarnings("ignore:Casting complex values", "ignore:invalid value encountered in cast")

DTYPES = ["uint8", "uint16", "int16", "uint32", "int32", "float32", "float64", "float16", "int8",
          "complex64", "bool", "int64"]


def _pixels(draw, shape, dtype):
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.startswith("complex"):
        return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(dtype)
    if dtype.startswith("float"):
        a = rng.normal(100, 10, shape).astype(dtype)
        if draw(st.booleans()) and a.size:
            a.flat[draw(st.integers(0, a.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        return a
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, 0), min(info.max, 4000), shape, endpoint=True).astype(dtype)


@st.composite
def tiff_bytes(draw, tmp):
    """A TIFF as a writer would make it (tifffile plain, ImageJ with or without axes, OME,
    compressed, BigTIFF, RGB, 2D…4D), then possibly damaged."""
    kind = draw(st.sampled_from(["plain", "imagej", "imagej-noaxes", "imagej-Z", "imagej-C", "ome",
                                 "compressed", "bigtiff", "rgb", "2d", "4d", "5d", "pages-mixed"]))
    t = draw(st.integers(1, 24)) if draw(st.integers(0, 4)) == 0 else draw(st.integers(8, 24))
    small = draw(st.integers(0, 5)) == 0
    h, w = (draw(st.integers(1, 20)), draw(st.integers(1, 20))) if small else \
        (draw(st.integers(8, 20)), draw(st.integers(8, 20)))
    dtype = draw(st.sampled_from(DTYPES)) if draw(st.integers(0, 3)) == 0 else "uint16"
    path = tmp / draw(st.sampled_from(["m.tif", "m.tiff", "M.TIF", "cell 1.ome.tif"]))
    kw = {}
    if kind in ("imagej", "imagej-noaxes", "imagej-Z", "imagej-C") and dtype not in ("uint8", "uint16", "float32"):
        dtype = "uint16"                                   # ImageJ writes only these
    if kind == "rgb":
        data = _pixels(draw, (t, h, w, 3), "uint8")
        kw = dict(photometric="rgb")
    elif kind == "2d":
        data = _pixels(draw, (h, w), dtype)
    elif kind == "4d":
        data = _pixels(draw, (t, draw(st.integers(1, 4)), h, w), dtype)
    elif kind == "5d":
        data = _pixels(draw, (t, draw(st.integers(1, 3)), draw(st.integers(1, 3)), h, w), dtype)
    else:
        data = _pixels(draw, (t, h, w), dtype)
    try:
        if kind == "imagej":
            tifffile.imwrite(path, data, imagej=True, metadata={"axes": "TYX", "finterval": 0.1})
        elif kind == "imagej-noaxes":
            tifffile.imwrite(path, data, imagej=True)
        elif kind == "imagej-Z":
            tifffile.imwrite(path, data, imagej=True, metadata={"axes": "ZYX"})
        elif kind == "imagej-C":
            tifffile.imwrite(path, data, imagej=True, metadata={"axes": "CYX"})
        elif kind == "ome":
            axes = {2: "YX", 3: "TYX"}[data.ndim]
            tifffile.imwrite(path, data, ome=True, metadata={"axes": axes, "PhysicalSizeX": 0.1})
        elif kind == "compressed":
            tifffile.imwrite(path, data, compression=draw(st.sampled_from(["zlib", "lzw", "zstd"])))
        elif kind == "bigtiff":
            tifffile.imwrite(path, data, bigtiff=True)
        elif kind == "pages-mixed":
            with tifffile.TiffWriter(path) as tw:
                for i in range(t):
                    page = data[i]
                    if draw(st.integers(0, 3)) == 0:
                        page = page.astype(draw(st.sampled_from(["float32", "uint8", "int32"])))
                    if draw(st.integers(0, 5)) == 0:
                        page = np.zeros((h + 1, w), page.dtype)
                    tw.write(page, contiguous=False)
        else:
            tifffile.imwrite(path, data, **kw)
    except Exception:                  # a combination tifffile cannot write: write a plain one
        data = _pixels(draw, (t, max(h, 1), max(w, 1)), "uint16")
        tifffile.imwrite(path, data)
    return path, kind


def damage(draw, path):
    """Damage the file: cut it at any byte, flip bytes (often in the header and IFDs), write
    absurd numbers in tags, edit the ImageJ or OME description, append garbage."""
    raw = bytearray(path.read_bytes())
    how = draw(st.sampled_from(["none", "none", "truncate", "flip", "flip-head", "absurd", "ij-meta",
                                "ome-meta", "append", "ifd-zero"]))
    if how == "truncate":
        raw = bytearray(cut_bytes(draw, raw))
    elif how in ("flip", "flip-head"):
        raw = bytearray(flip_bytes(draw, raw, within=512 if how == "flip-head" else None, most=8))
    elif how == "absurd" and len(raw) > 16:
        # overwrite a 4-byte word in the first kB (tag values: sizes, offsets, counts)
        i = draw(st.integers(4, min(len(raw), 1024) - 4))
        raw[i:i + 4] = struct.pack("<I", draw(st.sampled_from([0, 1, 2**16 - 1, 2**31 - 1, 2**32 - 1,
                                                                 len(raw), len(raw) + 1, 123456789])))
    elif how == "ij-meta":
        text = raw.decode("latin-1")
        for key in ("images", "channels", "slices", "frames"):
            text = re.sub(rf"{key}=\d+", lambda m: f"{key}={draw(st.integers(0, 300))}", text)
        # same length, so that the file's offsets stay right: a bad calibration in a sound file
        text = text.replace("finterval=0.1", "finterval=" + draw(st.sampled_from(["0.1", "0  ", "-1 ", "nan", "abc",
                                                                              "9e9"])))
        if draw(st.booleans()):
            text = text.replace("ImageJ=", f"ImageJ=1.54f\nchannels={draw(st.integers(0, 200))}\nX=", 1)
        raw = bytearray(text.encode("latin-1"))
    elif how == "ome-meta":
        text = raw.decode("latin-1")

        def size_sub(m):
            return f'{m.group(1)}="{draw(st.integers(0, 99)):02d}"'

        text = re.sub(r'(Size[TCZXY])="(\d\d)"', size_sub, text)
        text = text.replace('PhysicalSizeX="0.1"', 'PhysicalSizeX="%s"' % draw(st.sampled_from(
            ["0.1", "0.0", "-2 ", "NaN", "abc", "INF", "   "])))
        text = text.replace('DimensionOrder="XYCZT"', draw(st.sampled_from(
            ['DimensionOrder="XYCZT"', 'DimensionOrder="XYTZC"', 'DimensionOrder="XYZCT"'])))
        raw = bytearray(text.encode("latin-1"))
    elif how == "append":
        raw += bytes(draw(st.binary(min_size=1, max_size=200)))
    elif how == "ifd-zero" and len(raw) >= 8:
        raw[4:8] = b"\0\0\0\0"
    path.write_bytes(bytes(raw))
    return how


def _read_all(movie):
    """What detection does with a movie: every frame, block by block."""
    for a in range(0, movie.n_frames, 16):
        block = movie.frames(a, a + 16)
        assert block.ndim == 3 and block.shape[1:] == movie.shape[1:]
    assert movie.n_frames >= 1 and min(movie.shape[1:]) >= 8
    notices = movie.metadata.get("notices", [])
    assert all(isinstance(n, str) and "\n" not in n for n in notices)


@settings(max_examples=examples(60))
@given(data=st.data())
def test_tiff_files_open_or_fail_with_one_line(fuzz_dir, data):
    tmp = scratch_dir(fuzz_dir / "tiff")
    path, kind = data.draw(tiff_bytes(tmp))
    how = damage(data.draw, path)
    run_case(f"movies: TIFF {'intact' if how == 'none' else 'damaged'}",
             lambda: open_movie(path), [path], check=_read_all)


@settings(max_examples=examples(20))
@given(data=st.data())
def test_tiff_channel_choice(fuzz_dir, data):
    tmp = scratch_dir(fuzz_dir / "tiffc")
    path, kind = data.draw(tiff_bytes(tmp))
    channel = data.draw(st.integers(0, 5))
    run_case("movies: TIFF with --channel", lambda: open_movie(path, channel=channel), [path], check=_read_all)


@settings(max_examples=examples(25))
@given(data=st.data())
def test_non_tiff_and_empty_files(fuzz_dir, data):
    tmp = scratch_dir(fuzz_dir / "raw")
    suffix = data.draw(st.sampled_from([".tif", ".tiff", ".h5", ".hdf5", ".nd2"]))
    content = data.draw(st.one_of(st.just(b""), st.binary(max_size=300),
                                  st.sampled_from([b"II*\0", b"MM\0*", b"II+\0\x08\0\0\0", b"\x89HDF\r\n\x1a\n",
                                                   b"II*\0\x08\0\0\0\0\0", b"<html>not a movie</html>"])
                                  .map(lambda b: b + bytes(data.draw(st.binary(max_size=64))))))
    path = tmp / f"movie{suffix}"
    path.write_bytes(content)
    run_case("movies: empty / non-TIFF files", lambda: open_movie(path), [path], check=_read_all)


@settings(max_examples=examples(15))
@given(data=st.data())
def test_hdf5_files(fuzz_dir, data):
    import h5py

    tmp = scratch_dir(fuzz_dir / "h5")
    path = tmp / "movie.h5"
    shape = data.draw(st.sampled_from([(20, 16, 16), (20, 16, 16), (12, 24, 8), (16, 16), (2, 10, 16, 16),
                                       (0, 16, 16), (20, 4, 16)]))
    dtype = data.draw(st.sampled_from(["uint16", "uint16", "float32", "int8", "complex64", "bool"]))
    name = data.draw(st.sampled_from(["dataset", "dataset", "dataset", "data", "movie"]))
    with h5py.File(path, "w") as f:
        f.create_dataset(name, data=np.zeros(shape, dtype) if dtype != "float32" else
                         np.random.default_rng(0).normal(size=shape).astype(dtype))
    how = data.draw(st.sampled_from(["none", "none", "cut", "flip"]))
    raw = path.read_bytes()
    if how == "cut":
        raw = cut_bytes(data.draw, raw)
    elif how == "flip":                     # in the superblock and object headers
        raw = flip_bytes(data.draw, raw, within=2048)
    path.write_bytes(raw)
    run_case("movies: HDF5", lambda: open_movie(path), [path], check=_read_all)


@settings(max_examples=examples(15))
@given(data=st.data())
def test_frame_folders(fuzz_dir, data):
    tmp = scratch_dir(fuzz_dir / "frames")
    folder = tmp / "frames_fz"            # a name no message contains by chance (names_the_file)
    folder.mkdir()
    n = data.draw(st.integers(1, 12))
    rng = np.random.default_rng(0)
    for i in range(n):
        shape = (16, 16) if data.draw(st.integers(0, 6)) else data.draw(st.sampled_from([(16, 17), (3, 16, 16)]))
        name = data.draw(st.sampled_from([f"f_{i + 1:03d}.tif", f"cell_t{i + 1}.tif", f"frame{i * 2}.tif",
                                          "nonumber.tif", f"f_{i + 1:03d}.TIFF"]))
        p = folder / name
        if p.exists():
            continue
        tifffile.imwrite(p, rng.integers(0, 100, shape).astype(data.draw(st.sampled_from(["uint16", "float32"]))))
        if data.draw(st.integers(0, 8)) == 0:
            raw = p.read_bytes()
            p.write_bytes(raw[:data.draw(st.integers(0, len(raw) - 1))])
    target = data.draw(st.sampled_from(["open", "find"]))
    if target == "open":
        run_case("movies: frame folders", lambda: open_movie(folder), [folder], check=_read_all)
    else:
        run_case("movies: find_movies on folders", lambda: [open_movie(p) for p in find_movies([tmp])], [tmp],
                 named=[tmp] + list(folder.iterdir()) + [folder])


@settings(max_examples=examples(15))
@given(data=st.data())
def test_cli_spots_on_bad_movies(fuzz_dir, data):
    """The command line: `exodeep spots MOVIE` exits 0, or 1 with one line naming the movie."""
    tmp = scratch_dir(fuzz_dir / "cli")
    path, kind = data.draw(tiff_bytes(tmp))
    damage(data.draw, path)
    run_cli("CLI: exodeep spots MOVIE", ["spots", path, "--out", tmp / "out" / "spots.tif", "--stop", "4"], [path])
