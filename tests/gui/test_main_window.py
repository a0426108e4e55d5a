"""The main window, offscreen: open by drag-and-drop, scrub, kymograph, detection in a worker
with cancel, threshold re-filtering, review edits with undo, export and re-read."""

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent

from exodeep_gui.core.events import EventTable
from exodeep_gui.core.kymograph import kymograph


def drop(window, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPoint(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dropEvent(event)


def test_drop_open_and_scrub(window, qtbot, sim_movie_file):
    path, sim = sim_movie_file
    drop(window, [path])
    assert [d.name for d in window.state.docs] == ["cells"]
    assert window.movie_list.count() == 1
    # scrub with the slider and the keyboard: the image shows that frame
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
    # contrast is fixed while scrubbing
    levels = window.movie_view.image.getLevels()
    window.state.set_frame(3)
    assert np.allclose(window.movie_view.image.getLevels(), levels)


def test_bad_file_gives_a_message_not_a_crash(window, tmp_path):
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00 not really a tiff")
    assert window.open_paths([bad]) == 0
    from PySide6.QtWidgets import QMessageBox

    shown = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    assert shown and "broken.tif" in shown[-1].text()
    assert window.state.docs == []


def test_kymograph_matches_numpy(window, sim_movie_file):
    path, sim = sim_movie_file
    window.open_paths([path])
    window.movie_view.start_line([[5.0, 30.0], [55.0, 30.0]])
    data = window.kymo_view.data
    assert data.shape == (40, 51)
    assert np.allclose(data, sim.movie[:, 30, 5:56].astype(np.float32))
    # a diagonal polyline is sampled bilinearly
    line = np.array([[2.0, 3.0], [20.5, 17.25], [40.0, 17.25]])
    assert np.allclose(kymograph(sim.movie, line)[:, 0], sim.movie[:, 3, 2])
    window.state.set_frame(12)
    assert window.kymo_view.cursor.value() == 12


def _fake_detection(sim):
    from exodeep_gui.core.detection import Detection, DetectOptions

    cands = EventTable.from_arrays(sim.truth.x, sim.truth.y, sim.truth.frame,
                                   score=np.linspace(0.3, 0.9, len(sim.truth)), size=np.full(len(sim.truth), 40))
    return Detection("cells", None, cands, DetectOptions(), "fake")


def test_threshold_refilters_and_review_edits_undo_and_export(window, sim_movie_file, tmp_path):
    from exodeep_gui.io.results import read_events

    path, sim = sim_movie_file
    window.open_paths([path])
    doc = window.state.current
    window.state.set_detection(doc, _fake_detection(sim))
    n_all = len(sim.truth)
    window.detection.threshold.setValue(0.0)
    assert window.events.model.rowCount() == n_all
    window.detection.threshold.setValue(0.6)
    expected = int((np.linspace(0.3, 0.9, n_all) >= 0.6).sum())
    assert window.events.model.rowCount() == expected
    window.detection.threshold.setValue(0.0)
    # select → jump to the event frame; delete; add; undo both
    window.events._clicked(window.events.proxy.index(1, 0))
    ev = window.state.events()
    assert window.state.frame == ev.frame[1]
    assert len(window.events.trace_curve.getData()[0]) > 0
    window.events.delete_selected()
    assert window.events.model.rowCount() == n_all - 1
    window.state.add_event(10.0, 12.0, 5)
    assert window.events.model.rowCount() == n_all
    assert window.state.undo() and window.state.undo()
    assert window.events.model.rowCount() == n_all
    assert len(window.state.events()) == n_all
    # export and read back: Slice is 1-based in the CSV
    written = window.export_dialog(folder=str(tmp_path / "out"))
    assert {p.name for p in written} == {"cells_events.csv", "cells_RoiSet.zip"}
    back = read_events(tmp_path / "out" / "cells_events.csv")
    assert np.array_equal(np.sort(back.frame), np.sort(window.state.events().frame))
    import roifile

    rois = roifile.roiread(tmp_path / "out" / "cells_RoiSet.zip")
    assert len(rois) == n_all
    # annotations give precision/recall/F1 in the panel
    window.import_annotations_dialog(str(path.with_suffix(".csv")))
    assert "F1 1.00" in window.events.summary.text()


def test_detection_runs_in_a_worker_and_can_be_cancelled(window, qtbot, sim_movie_file, tiny_model_dir):
    path, _ = sim_movie_file
    window.open_paths([path])
    window.detection.set_model(str(tiny_model_dir))
    with qtbot.waitSignal(window.detection.finished, timeout=120_000):
        window.detection.run()
        assert window.detection.cancel_button.isEnabled()
    assert window.state.current.detection is not None
    assert window.state.current.detection.segmentation.labels.shape == (40, 64, 64)
    assert window.detection.run_button.isEnabled() and "Done" in window.detection.status.text()
    assert "CPU" in window.detection.device_label.text() or "GPU" in window.detection.device_label.text()

    # cancel: the run stops, the buttons come back, nothing is replaced
    before = window.state.current.detection
    with qtbot.waitSignal(window.detection.finished, timeout=60_000):
        window.detection.run()
        window.detection.cancel()
    assert window.detection.run_button.isEnabled() and not window.detection.cancel_button.isEnabled()
    assert window.state.current.detection is before
    assert window.detection.status.text() == "Cancelled."


def test_detect_in_all_movies_keeps_results_per_movie(window, qtbot, sim_movie_file, tiny_model_dir, tmp_path):
    from exodeep_gui.core.simulate import SimulationParams, simulate_movie
    from exodeep_gui.io.simulated import write_simulated

    path, _ = sim_movie_file
    other = write_simulated(tmp_path, "other", simulate_movie(
        SimulationParams(frames=32, height=48, width=56, events=2, docked=3, visiting=1), seed=4))
    window.open_paths([path, other])
    assert len(window.state.docs) == 2
    window.detection.set_model(str(tiny_model_dir))
    from PySide6.QtGui import QAction, QKeySequence

    actions = {a.text(): a for a in window.findChildren(QAction)}
    menu_item = actions["Detect events in &all movies"]            # the Detect menu, Ctrl+Shift+D
    assert menu_item.shortcut() == QKeySequence("Ctrl+Shift+D")
    assert actions["Detect events in &this movie"].shortcut() == QKeySequence("Ctrl+D")
    with qtbot.waitSignal(window.detection.finished, timeout=120_000):
        menu_item.trigger()
    shapes = [d.detection.segmentation.labels.shape for d in window.state.docs]
    assert shapes == [(40, 64, 64), (32, 48, 56)]


def test_missing_model_reports_an_error(window, qtbot, sim_movie_file, tmp_path):
    path, _ = sim_movie_file
    window.open_paths([path])
    window.detection.set_model(str(tmp_path / "no-such-model"))
    with qtbot.waitSignal(window.detection.error, timeout=60_000) as sig:
        window.detection.run()
    assert "no such model" in sig.args[0]
    qtbot.waitUntil(lambda: window.detection.run_button.isEnabled(), timeout=10_000)


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
