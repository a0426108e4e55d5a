"""The viewer, offscreen: an empty window that says where to drop movies, opening by drag and
drop, scrubbing, the kymograph, the layout at common screen sizes, keyboard shortcuts."""

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from exodeep_gui.core.kymograph import kymograph


def pg_point(x, y):
    from PySide6.QtCore import QPointF

    return QPointF(x, y)
from tests.gui.helpers import drop


def test_empty_window_says_where_to_drop_movies(window):
    assert window.stack.currentWidget() is window.welcome
    from PySide6.QtWidgets import QLabel

    assert any("Drop TIFF movies here" in label.text() for label in window.welcome.findChildren(QLabel))
    texts = [b.text() for b in window.welcome.buttons]
    assert any("Open" in t for t in texts) and any("demo" in t for t in texts)
    assert not window.act["detect"].isEnabled() and not window.act["export"].isEnabled()


def test_drop_open_and_scrub(window, qtbot, sim_movie_file):
    path, sim = sim_movie_file
    assert "Drag TIFF movies" in window.statusBar().currentMessage()
    drop(window, [path])
    assert [d.name for d in window.state.docs] == ["cells"]
    assert "Drag TIFF movies" not in window.statusBar().currentMessage()      # done: the hint goes
    assert window.movie_list.rowCount() == 1 and window.stack.currentWidget() is window.movie_view
    window.movie_view.slider.setValue(17)
    assert window.state.frame == 17
    assert np.array_equal(window.movie_view.image.image, sim.movie[17])
    assert window.movie_view.frame_box.value() == 18                      # 1-based, as Fiji
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    window.movie_view.play_button.setFocus()
    qtbot.keyClick(window.movie_view.play_button, Qt.Key_Right)
    assert window.state.frame == 18
    qtbot.keyClick(window.movie_view.play_button, Qt.Key_End)
    assert window.state.frame == 39
    assert "s" in window.movie_view.time_label.text()
    levels = window.movie_view.image.getLevels()          # contrast is fixed while scrubbing
    window.state.set_frame(3)
    assert np.allclose(window.movie_view.image.getLevels(), levels)


def test_movies_picked_with_their_masks_open_as_movies_only(window, sim_movie_file):
    """``*.tif`` of a folder of movies and their cell masks: the masks are not opened as movies (nor
    reported as unreadable ones); the status bar says why they were left out."""
    path, _ = sim_movie_file
    mask = path.with_name(path.stem + "_mask.tif")
    assert mask.is_file()
    drop(window, [path, mask])
    assert [d.name for d in window.state.docs] == ["cells"]
    assert not [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    assert "cells_mask.tif: the cell mask of the movie beside it" in window.statusBar().currentMessage()
    drop(window, [mask])          # picked alone, it is tried as a movie (one of that name would open)
    shown = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    assert shown and "cells_mask.tif" in shown[-1].text()                  # a single image: said so


def test_bad_file_gives_a_message_not_a_crash(window, tmp_path):
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00 not really a tiff")
    assert window.open_paths([bad]) == 0
    shown = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    assert shown and "broken.tif" in shown[-1].text()
    assert window.state.docs == []


def test_forty_bad_files_give_a_dialog_that_fits_the_screen(window, tmp_path):
    paths = []
    for i in range(40):
        p = tmp_path / f"frame_{i:03d}.txt"
        p.write_text("not a movie")
        paths.append(p)
    window.open_paths(paths)
    box = [b for b in window.findChildren(QMessageBox) if b.isVisible()][-1]
    assert box.text().count("\n") <= 8 and "more" in box.text()
    assert "frame_039" in box.detailedText()                     # every file is named in the details
    screen = window.screen().availableGeometry()
    assert box.sizeHint().height() < screen.height()


def test_kymograph_matches_numpy_and_follows_the_movie(window, sim_movie_file, tmp_path):
    path, sim = sim_movie_file
    window.open_paths([path])
    window.movie_view.start_line([[5.0, 30.0], [55.0, 30.0]])
    data = window.kymo_view.data
    assert data.shape == (40, 51)
    assert np.allclose(data, sim.movie[:, 30, 5:56].astype(np.float32))
    line = np.array([[2.0, 3.0], [20.5, 17.25], [40.0, 17.25]])      # bilinear along a polyline
    assert np.allclose(kymograph(sim.movie, line)[:, 0], sim.movie[:, 3, 2])
    window.state.set_frame(12)
    assert window.kymo_view.cursor.value() == 13 == window.movie_view.frame_box.value()     # 1-based, as Slice
    assert window.kymo_dock.isVisible()                                # drawing a line shows it
    # dragging a handle moves the movie's line (through the state) and the kymograph follows
    roi = window.movie_view.roi
    roi.movePoint(roi.getHandles()[1], roi.mapToParent(pg_point(55.0, 40.0)))
    assert np.allclose(window.state.line[1], [55.0, 40.0]) and window.movie_view.roi is roi
    assert window.kymo_view.data.shape[1] == int(np.hypot(50.0, 10.0)) + 1      # a point per px along the line
    # the line belongs to the movie: another movie has none, coming back restores it
    import shutil

    other = tmp_path / "other.tif"
    shutil.copy(path, other)
    window.open_paths([other])
    assert window.state.line is None and window.kymo_view.data is None
    window.state.set_current(window.state.docs[0])
    assert window.kymo_view.data.shape == (40, 51) and window.movie_view.roi is not None


@pytest.mark.parametrize("size", [(1400, 860), (1920, 1080)])
def test_the_movie_gets_the_room(window, qtbot, sim_movie_file, size):
    """At common window sizes the movie view takes at least half of the window, the frame slider
    spans the movie view, and the kymograph has room for its labels."""
    path, _ = sim_movie_file
    window.resize(*size)
    window.open_paths([path])
    window.movie_view.start_line([[5.0, 30.0], [55.0, 30.0]])
    qtbot.wait(50)
    mv = window.movie_view
    assert mv.width() * mv.height() >= 0.5 * window.width() * window.height()
    assert mv.slider.width() >= 0.95 * mv.width()
    plot = window.kymo_view.plot
    assert plot.width() >= 300 and plot.height() >= 300
    for side in ("left", "bottom"):
        assert plot.getAxis(side).label.isVisible() and plot.getAxis(side).label.toPlainText().strip()


def test_window_shortcut_and_the_spin_box_both_work_while_it_has_focus(window, qtbot, sim_movie_file, monkeypatch):
    """Ctrl+E exports while a spin box has the focus, and the spin box still takes its own keys. (The
    bug itself, Ctrl+E doing nothing, shows only on X11: tests/gui/test_x11.py presses the keys there.)"""
    path, _ = sim_movie_file
    window.open_paths([path])
    asked = []
    monkeypatch.setattr(window.files, "export_dialog", lambda *a, **k: asked.append(1) or [])
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    box = window.detection.threshold
    box.setFocus()
    qtbot.waitUntil(box.hasFocus, timeout=2000)
    qtbot.keyClick(box, Qt.Key_E, Qt.ControlModifier)        # to the spin box, as X11 delivers it
    assert asked == [1]
    qtbot.keyClick(box.lineEdit(), Qt.Key_Up)                        # the spin box still works
    assert box.value() == pytest.approx(0.55)


def test_a_frame_typed_and_confirmed_gives_the_keys_back_to_the_movie(window, qtbot, sim_movie_file):
    """Type 12 in the frame box and press Enter: frame 12 is shown, and the next one-key shortcut (→,
    G…) reaches the window again, not the box's text field."""
    path, _ = sim_movie_file
    window.open_paths([path])
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    box = window.movie_view.frame_box
    box.setFocus()
    qtbot.waitUntil(box.hasFocus, timeout=2000)
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), "12")
    qtbot.keyClick(box.lineEdit(), Qt.Key_Return)
    assert window.state.frame == 11                                     # 1-based in the box
    qtbot.waitUntil(lambda: not box.hasFocus(), timeout=2000)
    focused = QApplication.focusWidget()
    assert focused is not None and focused.window() is window
    qtbot.keyClick(focused, Qt.Key_Right)
    assert window.state.frame == 12 and box.value() == 13
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_G)               # Review > Event gallery
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.gallery.list, timeout=2000)


def test_scrubbing_does_not_leak_references_to_none(window, sim_movie_file):
    """PySide6 6.12.0 on Python 3.11 lost a reference to None at every slider move and the app
    crashed after a few thousand frames ("deallocating None"); the pinned version must not.
    Pending deletions (a previous test's worker, garbage) are settled before and after, so that
    only what the moves themselves lose is counted."""
    import gc
    import sys

    from PySide6.QtWidgets import QApplication

    def settle():
        for _ in range(3):
            QApplication.processEvents()
            gc.collect()

    path, _ = sim_movie_file
    window.open_paths([path])
    settle()
    before = sys.getrefcount(None)
    moves = 1000
    for i in range(moves):
        window.movie_view.slider.setValue(i % 40)
        window.movie_view.canvas.viewport().repaint()
    settle()
    assert before - sys.getrefcount(None) < moves // 10      # the bug lost one per move


def test_the_window_starts_without_the_heavy_libraries():
    """Opening the window imports neither the deep-learning framework (it runs in the engine
    process) nor matplotlib (only the analysis report draws with it; pyqtgraph's colour-map menu
    used to import it at start-up, 0.31 s)."""
    import subprocess
    import sys

    code = ("import sys; from PySide6.QtWidgets import QApplication; app = QApplication([]); "
            "from exodeep_gui.gui.main_window import MainWindow; from exodeep_gui.gui.settings import Settings; "
            "w = MainWindow(Settings()); w.show(); app.processEvents(); "
            "print(sorted(m for m in ('tensorflow', 'keras', 'torch', 'matplotlib', 'dask') if m in sys.modules))")
    import os

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr
