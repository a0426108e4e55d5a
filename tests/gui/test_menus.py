"""Every menu item, chosen as the user chooses it (QAction.trigger(), file dialogs answered),
does what it says. Calling the handlers directly once hid three dead File-menu items (the
action's `checked` argument reached a handler that took it for a path)."""

import re

import numpy as np
import pytest
import tifffile
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from exodeep_gui.gui.actions import MENUS
from tests.gui.helpers import fake_detection, menu_action

def window_log_dir():
    from exodeep_gui.paths import user_log_dir

    return user_log_dir()


def choose(window, menu, text):
    menu_action(window, menu, text).trigger()


@pytest.fixture
def dialogs(monkeypatch):
    """Answers the file dialogs: set ``answers[name]`` to what the user picks."""
    answers = {}
    for name, empty in (("getOpenFileNames", ([], "")), ("getOpenFileName", ("", "")),
                        ("getSaveFileName", ("", "")), ("getExistingDirectory", "")):
        monkeypatch.setattr(QFileDialog, name, staticmethod(
            lambda *a, _n=name, _e=empty, **k: answers.pop(_n, _e)))
    return answers


def test_file_menu(window, dialogs, sim_movie_file, tmp_path):
    path, sim = sim_movie_file
    dialogs["getOpenFileNames"] = ([str(path)], "")
    choose(window, "File", "Open movies…")
    assert [d.name for d in window.state.docs] == ["cells"]
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(20):
        tifffile.imwrite(frames / f"img_{i:03d}.tif", sim.movie[i])
    dialogs["getExistingDirectory"] = str(frames)
    choose(window, "File", "Open folder of frames…")
    assert window.state.current.name == "frames" and window.state.current.movie.n_frames == 20
    window.close_current()
    # the frames picked one by one in File > Open are one movie (not 20 errors in a dialog)
    dialogs["getOpenFileNames"] = ([str(f) for f in sorted(frames.glob("*.tif"))], "")
    choose(window, "File", "Open movies…")
    assert [d.name for d in window.state.docs] == ["cells", "frames"] and window.state.current.movie.n_frames == 20
    assert not [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    window.state.set_current(window.state.docs[0])

    dialogs["getOpenFileName"] = (str(path.with_suffix(".csv")), "")
    choose(window, "File", "Import annotations (ground truth)…")
    assert len(window.state.current.annotations) == len(sim.truth)

    window.state.set_detection(window.state.current, fake_detection(sim.truth))
    dialogs["getExistingDirectory"] = str(tmp_path / "out")
    choose(window, "File", "Export results of this movie…")
    assert (tmp_path / "out" / "cells_events.csv").is_file() and (tmp_path / "out" / "cells_RoiSet.zip").is_file()
    dialogs["getExistingDirectory"] = str(tmp_path / "all")
    choose(window, "File", "Export results of all movies…")
    # the movie never detected is skipped and named: an empty table would read as "0 events"
    assert {p.name for p in (tmp_path / "all").iterdir()} == {"cells_events.csv", "cells_RoiSet.zip"}
    assert "skipped, never detected: frames" in window.statusBar().currentMessage()

    window.movie_view.start_line([[5.0, 30.0], [55.0, 30.0]])
    dialogs["getSaveFileName"] = (str(tmp_path / "kymo.tif"), "")
    choose(window, "File", "Export kymograph…")
    assert np.allclose(tifffile.imread(tmp_path / "kymo.tif"), sim.movie[:, 30, 5:56])
    dialogs["getSaveFileName"] = (str(tmp_path / "kymo.png"), "")
    choose(window, "File", "Export kymograph…")
    assert (tmp_path / "kymo.png").stat().st_size > 1000
    dialogs["getSaveFileName"] = (str(tmp_path / "view.png"), "")
    choose(window, "File", "Save snapshot of the window…")
    assert (tmp_path / "view.png").stat().st_size > 10_000

    from exodeep_gui.gui import file_actions

    file_actions.ask_yes_no = lambda *a: True
    try:
        choose(window, "File", "Save reviewed events as annotations")
    finally:
        from exodeep_gui.gui.dialogs import ask_yes_no

        file_actions.ask_yes_no = ask_yes_no
    assert "Saved" in window.statusBar().currentMessage()

    choose(window, "File", "Close movie")
    assert [d.name for d in window.state.docs] == ["frames"]
    window.settings.recent = []
    choose(window, "File", "Open the demo movie")
    assert window.state.current.name == "demo_movie" and window.state.current.annotations is not None


def test_review_and_edit_menus(window, sim_movie_file):
    path, sim = sim_movie_file
    window.open_paths([path])
    state = window.state
    state.set_detection(state.current, fake_detection(sim.truth, np.full(len(sim.truth), 0.9)))
    ids = state.events().extra["id"].tolist()
    choose(window, "Review", "Next event to review")
    assert state.selected == ids[0] and state.frame == state.events().frame[0]
    choose(window, "Review", "Confirm selected event")
    assert state.current.rows.extra["status"][0] == "confirmed" and state.selected == ids[1]
    choose(window, "Review", "Previous event")
    assert state.selected == ids[0]
    choose(window, "Review", "Next event to review")
    choose(window, "Review", "Delete selected event")
    assert ids[1] not in state.events().extra["id"]
    choose(window, "Edit", "Undo")
    assert ids[1] in state.events().extra["id"]
    choose(window, "Review", "Add events by clicking")
    assert window.movie_view.add_mode and window.act["add"].isChecked()
    choose(window, "Review", "Add events by clicking")
    assert not window.movie_view.add_mode
    choose(window, "Review", "Movie fully reviewed")
    assert state.current.fully_reviewed
    choose(window, "Review", "Movie fully reviewed")
    assert not state.current.fully_reviewed


def test_view_menu(window, sim_movie_file):
    path, _ = sim_movie_file
    window.open_paths([path])
    choose(window, "View", "Kymograph line")
    assert window.state.line is not None and window.kymo_view.data is not None
    choose(window, "View", "Remove kymograph line")
    assert window.state.line is None and window.kymo_view.data is None
    window.state.set_levels((0.0, 1.0))
    choose(window, "View", "Auto contrast")
    assert window.state.current.levels[1] > 1.0
    choose(window, "View", "Play / pause")
    assert window.movie_view.timer.isActive()
    choose(window, "View", "Play / pause")
    assert not window.movie_view.timer.isActive()
    choose(window, "View", "Last frame")
    assert window.state.frame == 39
    choose(window, "View", "Previous frame")
    assert window.state.frame == 38
    choose(window, "View", "First frame")
    assert window.state.frame == 0
    choose(window, "View", "Next frame")
    assert window.state.frame == 1
    choose(window, "File", "Quit")
    assert not window.isVisible() and window.runner.engine.pid is None


def test_detect_and_help_menus(window, dialogs, qtbot, sim_movie_file, tiny_model_dir):
    path, _ = sim_movie_file
    window.open_paths([path])
    dialogs["getExistingDirectory"] = str(tiny_model_dir)
    choose(window, "Detect", "Choose a model folder…")
    assert window.state.model == str(tiny_model_dir.resolve())
    with qtbot.waitSignal(window.detection.finished, timeout=120_000):
        choose(window, "Detect", "Detect events in this movie")
        choose(window, "Detect", "Cancel the running job")
    assert "Cancel" in window.detection.status.text()
    choose(window, "Help", "About ExoDeep")
    box = next(b for b in window.findChildren(QMessageBox) if b.objectName() == "about" and b.isVisible())
    text = box.text()
    assert "ExoDeepFinder" in text and "GPL-3.0" in text and "PLoS Computational Biology 2025" in text
    assert str(window_log_dir()) in text                  # where the log is
    box.close()


def test_analyze_and_train_menus(window, dialogs, qtbot, sim_movie_file, tmp_path):
    path, sim = sim_movie_file
    window.open_paths([path])
    window.state.set_detection(window.state.current, fake_detection(sim.truth, np.full(len(sim.truth), 0.9)))
    with qtbot.waitSignal(window.analysis.analysis_changed, timeout=60_000,
                          check_params_cb=lambda a: a is not None):
        choose(window, "Analyze", "Analyze this movie")
    assert window.analysis_dock.isVisible()
    header = [window.events.model.headerData(c, Qt.Horizontal) for c in range(window.events.model.columnCount())]
    assert "dF_F0" in header and "decay_r2" in header                    # the event table gains the measures
    assert window.movie_view.mask_item.image is not None                   # the cell outline on the movie
    with qtbot.waitSignal(window.analysis.analysis_changed, timeout=60_000):
        choose(window, "Analyze", "Analyze all movies")
    # the cell drawn on the movie replaces the automatic mask (and is kept with the review)
    choose(window, "Analyze", "Draw the cell outline")
    roi = window.movie_view.cell_roi
    assert window.state.current.cell is not None and roi is not None
    from PySide6.QtCore import QPointF

    roi.movePoint(roi.getHandles()[0], roi.mapToParent(QPointF(50.0, 32.0)), finish=True)   # dragged
    outline = window.state.current.cell
    assert np.allclose(outline[0], [50.0, 32.0])
    with qtbot.waitSignal(window.analysis.analysis_changed, timeout=60_000,
                          check_params_cb=lambda a: a is not None):
        window.analysis.analyze_button.click()
    from exodeep_gui.core.analysis.cell import polygon_mask

    analysis = window.analysis.result()
    assert analysis.mask_source == "outline drawn on the movie"
    assert np.array_equal(analysis.mask, polygon_mask(outline, (64, 64)))
    qtbot.waitUntil(lambda: window.analysis.job is None, timeout=10_000)
    dialogs["getExistingDirectory"] = str(tmp_path / "report")
    choose(window, "Analyze", "Export the analysis report…")
    qtbot.waitUntil(lambda: (tmp_path / "report" / "report.html").is_file(), timeout=60_000)
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=60_000)
    header = (tmp_path / "report" / "events.csv").read_text().splitlines()[0].split(",")
    assert {"id", "origin", "status"} <= set(header)          # identity to the end: the review's ids

    choose(window, "Train", "Train or fine-tune a model…")
    assert window.wizard.isVisible()
    window.wizard.reject()
    dialogs["getExistingDirectory"] = str(tmp_path)                         # not a training run
    choose(window, "Train", "Resume an unfinished training run…")
    box = [b for b in window.findChildren(QMessageBox) if b.isVisible()][-1]
    assert "no unfinished training run" in box.text()


def test_every_menu_item_is_tested():
    """Every menu item is triggered by some GUI test (read from the tests' sources, so this holds
    whatever the order or the selection of tests); a new menu item needs its test."""
    from pathlib import Path

    from exodeep_gui.gui.actions import ACTIONS

    texts = {a.key: a.text.replace("&", "") for a in ACTIONS}
    menus = {key: [title.replace("&", "") for title, keys in MENUS if key in keys] for key in texts}
    every = {(title, texts[k]) for title, keys in MENUS for k in keys if k not in ("-", "recent")
             for title in [title.replace("&", "")]}
    sources = "".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    triggered = set(re.findall(r'(?:choose|menu_action)\(\w+, "([^"]+)", "([^"]+)"\)', sources))
    # an item in two menus is one action: triggering it in one menu covers both
    covered = {(m, t) for m, t in every if any((other, t) in triggered for k, text in texts.items() if text == t
                                                for other in menus[k])}
    assert every - covered == set()
