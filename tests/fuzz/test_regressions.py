"""The bugs that started the fuzzing (issue 16) and what it found, pinned through the public
functions and the command line: each gives one line naming the file and the problem."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import tifffile

from exodeep_gui.cli import main
from exodeep_gui.core.movie import MovieError
from exodeep_gui.io.movie_io import open_movie


@pytest.fixture
def stack():
    return np.random.default_rng(0).integers(0, 4000, (120, 32, 32)).astype(np.uint16)


def _cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("imagej", [False, True])
def test_a_truncated_tiff_says_truncated_and_which_frame(tmp_path, stack, capsys, imagej):
    path = tmp_path / "cut.tif"
    tifffile.imwrite(path, stack, imagej=imagej, metadata={"axes": "TYX"} if imagej else None)
    raw = path.read_bytes()
    path.write_bytes(raw[:len(raw) // 2])
    with pytest.raises(MovieError, match=r"truncated or damaged: frame (6[0-9]|5[0-9])( of 120)? cannot be read"):
        open_movie(path)
    code, out, err = _cli(capsys, "spots", path)
    assert code == 1 and err.count("\n") == 1 and "truncated" in err and str(path) in err
    assert "single 2D image" not in err and "tifffile" not in err.lower()


def test_an_imagej_stack_without_axes_is_a_time_series_with_a_notice(tmp_path, stack, capsys):
    path = tmp_path / "noaxes.tif"
    tifffile.imwrite(path, stack, imagej=True)            # tifffile calls its 120 planes channels
    movie = open_movie(path)
    assert movie.shape == (120, 32, 32) and np.array_equal(movie.frames(0, 120), stack)
    assert any("channels" in n and "120 time points" in n for n in movie.metadata["notices"])
    from exodeep_gui.cli.common import movie_notices

    assert movie_notices(movie)[0].startswith("note: noaxes.tif: the file labels its 120 planes as channels")
    code, out, err = _cli(capsys, "spots", path, "--stop", "3", "--out", tmp_path / "spots.tif")
    assert code == 0, err
    # a real multi-channel image (few channels, no time) is still refused, with the channel count
    few = tmp_path / "three.tif"
    tifffile.imwrite(few, stack[:3], imagej=True)
    with pytest.raises(MovieError, match="single 2D image with 3 channels"):
        open_movie(few)


def test_slices_and_generic_axes_are_time_with_a_notice(tmp_path, stack):
    z = tmp_path / "z.tif"
    tifffile.imwrite(z, stack, imagej=True, metadata={"axes": "ZYX"})
    m = open_movie(z)
    assert m.shape == (120, 32, 32) and "slices (Z)" in m.metadata["notices"][0]
    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, stack)
    assert open_movie(plain).metadata["notices"] == []


def test_ome_metadata_that_disagrees_with_the_pages_is_named(tmp_path, stack):
    path = tmp_path / "m.ome.tif"
    tifffile.imwrite(path, stack[:12], ome=True, metadata={"axes": "TYX"})
    raw = path.read_bytes()
    for wrong in (b'SizeT="20"', b'SizeT="06"'):
        path.write_bytes(raw.replace(b'SizeT="12"', wrong))
        with pytest.raises(MovieError, match="OME metadata") as err:
            open_movie(path)
        assert str(path) in str(err.value)


def test_a_model_of_another_architecture_is_one_line(tmp_path, tiny_model_dir, capsys):
    wrong = tmp_path / "wrong"
    shutil.copytree(tiny_model_dir, wrong)
    cfg = json.loads((wrong / "config.json").read_text())
    cfg["architecture"]["filters"] = [8, 12, 16]
    (wrong / "config.json").write_text(json.dumps(cfg))
    movie = tmp_path / "m.tif"
    tifffile.imwrite(movie, np.zeros((20, 16, 16), np.uint16))
    code, out, err = _cli(capsys, "detect", movie, "--model", wrong, "--out", tmp_path / "out")
    assert code == 1 and err.count("\n") == 1, err
    assert "filters (4, 6, 8)" in err and "filters (8, 12, 16)" in err and str(wrong / "config.json") in err
    assert "Warning" not in err and "Keras" not in err


def test_evaluate_refuses_rows_outside_the_movie_and_names_them(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "cell.tif", np.zeros((50, 32, 40), np.uint16))
    truth = tmp_path / "cell.csv"
    truth.write_text(" ,X,Y,Slice\n1,10,10,5\n2,45,10,5\n3,10,10,51\n4,10,31.4,50\n")
    pred = tmp_path / "pred.csv"
    pred.write_text(" ,X,Y,Slice\n1,10,10,5\n")
    code, out, err = _cli(capsys, "evaluate", truth, pred)
    assert code == 1 and err.count("\n") == 1
    assert str(truth) in err and "2 rows lie outside the movie (40×32 px, 50 frames)" in err
    assert "row 2 (X 45, Y 10, Slice 5)" in err and "row 3 (X 10, Y 10, Slice 51)" in err
    # given explicitly, a movie of another name is used too; without a movie, nothing to check
    other = tmp_path / "elsewhere"
    other.mkdir()
    shutil.move(str(tmp_path / "cell.tif"), other / "movie.tif")
    assert _cli(capsys, "evaluate", truth, pred)[0] == 0
    code, out, err = _cli(capsys, "evaluate", truth, pred, "--movie", other / "movie.tif")
    assert code == 1 and "outside the movie" in err


def test_tables_as_exoj_and_excel_write_them(tmp_path):
    from exodeep_gui.io.results import read_events

    text = " \tX\tY\tSlice\r\n1\t5.5\t6.5\t10\r\n2\t7\t8\t11\r\n"
    for enc, name in (("utf-16", "exoj.txt"), ("utf-16-le", "nobom.txt"), ("utf-8-sig", "bom.csv")):
        p = tmp_path / name
        p.write_bytes(text.encode(enc))
        t = read_events(p)
        assert t.x.tolist() == [5.5, 7.0] and t.frame.tolist() == [9, 10], name
    semi = tmp_path / "excel.csv"
    semi.write_bytes("X;Y;Slice\r\n5,5;6,5;10\r\n".encode("cp1252"))
    assert read_events(semi).x.tolist() == [5.5]
    nan = tmp_path / "nan.csv"
    nan.write_text("X,Y,Slice\n1,2,3\nNaN,2,3\n")
    with pytest.raises(ValueError, match=r"nan.csv: line 3: X is NaN, not a finite number"):
        read_events(nan)


_LOAD = r'''
import sys
from exodeep_gui.ml.models import load_keras_model, resolve_model
try:
    load_keras_model(resolve_model(sys.argv[1]))
    print("loaded")
except ValueError as exc:
    print("refused:", exc)
'''


def test_a_damaged_weights_heap_does_not_hang_the_loading(tmp_path, tiny_model_dir):
    """Two bytes of a weights file flipped in its attribute heap made HDF5 loop forever when the
    layer-name attribute was read (found by the fuzzing): the weights are now matched by group name,
    as Keras does. Run in a child with a timeout, so that a hang fails the test instead of the suite."""
    import subprocess
    import sys

    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    weights = folder / "weights_best.weights.h5"
    raw = bytearray(weights.read_bytes())
    raw[189], raw[2608] = 0xE1, 0xC6                     # the bytes the campaign flipped
    weights.write_bytes(bytes(raw))
    out = subprocess.run([sys.executable, "-c", _LOAD, str(folder)], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith(("loaded", "refused:")), out.stdout
