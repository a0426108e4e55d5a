import csv
import os
import shutil
import subprocess

import numpy as np
import pytest

from exodeep_gui.core.events import EventTable
from exodeep_gui.io.atomic import OutputError, write_text_atomic
from exodeep_gui.io.results import (AnnotationError, read_events, write_objlist_xml,
                                    write_results_csv, write_roiset)


@pytest.fixture
def events():
    return EventTable.from_arrays([10.25, 40.5, 3.0], [20.75, 8.0, 60.0], [0, 14, 99],
                                  score=[0.9, 0.6, 0.99], size=[40, 12, 63])


def test_results_csv_is_imagej_layout_and_round_trips(tmp_path, events):
    path = write_results_csv(tmp_path / "e.csv", events, pixel_size_um=0.16, frame_interval_s=0.3)
    rows = list(csv.reader(path.open()))
    assert rows[0][:4] == [" ", "X", "Y", "Slice"] and "time_s" in rows[0] and "x_um" in rows[0]
    assert rows[1][0] == "1" and rows[1][3] == "1"          # Slice is 1-based
    assert rows[3][3] == "100"
    back = read_events(path)
    np.testing.assert_allclose(back.x, events.x)
    assert list(back.frame) == [0, 14, 99]


def test_reads_reference_csv_and_tab_separated_results(tmp_path):
    ref = tmp_path / "ref.csv"
    ref.write_text("tomo_idx,class_label,x,y,z\n0,1,20,78,32\n")
    t = read_events(ref)
    assert (t.x[0], t.y[0], t.frame[0]) == (20, 78, 32)       # z is already 0-based
    ij = tmp_path / "ij.txt"
    ij.write_text(" \tX\tY\tSlice\n1\t5.5\t6.5\t10\n")
    t = read_events(ij)
    assert (t.x[0], t.frame[0]) == (5.5, 9)


@pytest.mark.parametrize("text, message", [
    ("A,B,C\n1,2,3\n", "needs columns X, Y and Slice"),
    ("X,Y,Slice\n1,2,zero\n", "not a number"),
    ("X,Y,Slice\n1,2,0\n", "start at 1"),
    ("", "empty"),
])
def test_bad_tables_are_explained(tmp_path, text, message):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(AnnotationError, match=message):
        read_events(p)


def test_objlist_xml_round_trip(tmp_path, events):
    p = write_objlist_xml(tmp_path / "e.xml", events)
    assert 'class_label="1"' in p.read_text()
    back = read_events(p)
    np.testing.assert_allclose(back.y, events.y)
    assert list(back.frame) == [0, 14, 99] and list(back.size) == [40, 12, 63]


def test_roiset_holds_point_rois_at_their_frames(tmp_path, events):
    import roifile

    p = write_roiset(tmp_path / "RoiSet.zip", events)
    rois = roifile.roiread(p)
    assert len(rois) == 3
    assert all(r.roitype == roifile.ROI_TYPE.POINT for r in rois)
    assert [r.position for r in rois] == [1, 15, 100]
    np.testing.assert_allclose(rois[1].coordinates()[0], [40.5, 8.0], atol=1e-3)


def test_atomic_writes_never_overwrite_and_leave_nothing_behind(tmp_path, events):
    p = tmp_path / "e.csv"
    p.write_text("precious")
    with pytest.raises(OutputError, match="already exists"):
        write_results_csv(p, events)
    assert p.read_text() == "precious"
    write_results_csv(p, events, overwrite=True)
    assert p.read_text().startswith(" ,X")
    assert [f.name for f in tmp_path.iterdir()] == ["e.csv"]
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot create"):
        write_text_atomic(blocker / "sub" / "out.csv", "x")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_read_only_folder(tmp_path, events):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    with pytest.raises(OutputError, match="read-only"):
        write_results_csv(ro / "e.csv", events)


IJ_JAR = "/usr/share/java/ij.jar"


def _imagej(macro_text: str, tmp_path) -> str:
    """Run an ImageJ macro in batch mode on a virtual screen; return what it printed."""
    macro = tmp_path / "m.ijm"
    macro.write_text(macro_text)
    out = subprocess.run(["xvfb-run", "-a", "java", "-jar", IJ_JAR, "-batch", str(macro)],
                         capture_output=True, text=True, timeout=180)
    return out.stdout + out.stderr


needs_imagej = pytest.mark.skipif(
    not (os.path.isfile(IJ_JAR) and shutil.which("java") and shutil.which("xvfb-run")),
    reason="ImageJ (Debian packages imagej, xvfb, xauth) not installed")


@needs_imagej
def test_imagej_opens_the_results_table(tmp_path, events):
    path = write_results_csv(tmp_path / "e.csv", events, 0.16, 0.3)
    text = _imagej(f'open("{path}");\nprint("ROWS " + Table.size + " HEAD " + Table.headings + '
                   f'" X " + Table.get("X", 1) + " SLICE " + Table.get("Slice", 2));\n', tmp_path)
    assert "ROWS 3" in text and "X 40.5 SLICE 100" in text, text[-2000:]
    assert "HEAD X\tY\tSlice\tscore" in text, text[-2000:]


@needs_imagej
def test_imagej_roi_manager_opens_the_roiset(tmp_path, events):
    path = write_roiset(tmp_path / "RoiSet.zip", events)
    text = _imagej(f'newImage("m", "16-bit black", 64, 64, 100);\nroiManager("Open", "{path}");\n'
                   f'print("ROIS " + roiManager("count"));\nroiManager("select", 1);\n'
                   f'getSelectionCoordinates(xs, ys);\n'
                   f'print("TYPE " + selectionType + " SLICE " + getSliceNumber() + " XY " + xs[0] + "," + ys[0]);\n',
                   tmp_path)
    assert "ROIS 3" in text and "TYPE 10 SLICE 15 XY 40.5,8" in text, text[-2000:]


def test_write_results_checks_every_target_before_writing_any(tmp_path):
    from exodeep_gui.io.atomic import OutputExists
    from exodeep_gui.io.results import result_paths, write_results

    events = EventTable.from_arrays([3.0, 8.5], [4.0, 2.0], [1, 6])
    paths = result_paths(tmp_path, "m")
    paths["roi"].write_bytes(b"the user's own file")
    with pytest.raises(OutputExists):
        write_results(tmp_path, "m", events)
    assert not paths["csv"].exists() and not paths["xml"].exists()
    assert paths["roi"].read_bytes() == b"the user's own file"
    written = write_results(tmp_path, "m", events, formats=("csv", "roi"), overwrite=True)
    assert written == [paths["csv"], paths["roi"]]
    assert len(read_events(paths["csv"])) == 2
