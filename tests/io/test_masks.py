"""Cell masks: found beside a movie, read as a 2D boolean image, errors naming the file."""

import numpy as np
import pytest
import tifffile

from exodeep_gui.io.masks import MaskError, mask_for, read_mask


def test_mask_beside_a_movie_or_a_frame_folder(tmp_path):
    movie = tmp_path / "cell.tif"
    movie.write_bytes(b"")
    assert mask_for(movie) is None
    (tmp_path / "cell_mask.tiff").write_bytes(b"")
    assert mask_for(movie) == tmp_path / "cell_mask.tiff"
    frames = tmp_path / "frames"
    frames.mkdir()
    (tmp_path / "frames_mask.tif").write_bytes(b"")
    assert mask_for(frames) == tmp_path / "frames_mask.tif"


def test_non_zero_is_inside_and_stacks_and_colours_are_unions(tmp_path):
    m = np.zeros((6, 8), np.uint8)
    m[1:3, 2:5] = 255
    tifffile.imwrite(tmp_path / "a.tif", m, imagej=True)
    got = read_mask(tmp_path / "a.tif", (6, 8))
    assert got.dtype == bool and np.array_equal(got, m > 0)
    planes = np.zeros((3, 6, 8), np.uint16)
    planes[0, 0, 0] = 1
    planes[2, 5, 7] = 9
    tifffile.imwrite(tmp_path / "b.tif", planes)
    assert np.argwhere(read_mask(tmp_path / "b.tif")).tolist() == [[0, 0], [5, 7]]
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[4, 1, 2] = 200
    tifffile.imwrite(tmp_path / "c.tif", rgb, photometric="rgb")
    assert np.argwhere(read_mask(tmp_path / "c.tif", (6, 8))).tolist() == [[4, 1]]


def test_errors_name_the_file(tmp_path):
    with pytest.raises(MaskError, match="gone_mask.tif: no such mask file"):
        read_mask(tmp_path / "gone_mask.tif")
    (tmp_path / "junk_mask.tif").write_bytes(b"not a tiff at all")
    with pytest.raises(MaskError, match="junk_mask.tif: not a readable mask image"):
        read_mask(tmp_path / "junk_mask.tif")
    tifffile.imwrite(tmp_path / "small_mask.tif", np.ones((6, 8), np.uint8))
    with pytest.raises(MaskError, match=r"small_mask.tif: mask is 8×6 px, the movie 32×24 px"):
        read_mask(tmp_path / "small_mask.tif", (24, 32))
