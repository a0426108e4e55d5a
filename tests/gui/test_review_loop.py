"""The review loop a biologist can trust (issue 20), through what the user touches: "fully
reviewed" keeps exactly what was reviewed, panels follow the movie shown, adding ends after one
click or with Esc, Redo, exported tables carry identity and blanks, the Movies list shows names."""

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from exodeep_gui.core import review
from exodeep_gui.core.events import EventTable
from exodeep_gui.io.results import read_events
from tests.gui.helpers import fake_detection, menu_action


def _scored(sim, n_low=3):
    """The truth as a detection whose last ``n_low`` events score below 0.6 and are small."""
    n = len(sim.truth)
    scores = np.full(n, 0.9)
    sizes = np.full(n, 120.0)
    scores[-n_low:], sizes[-n_low:] = 0.55, 70.0
    return fake_detection(sim.truth, scores, sizes)


def test_fully_reviewed_keeps_the_reviewed_set_whatever_the_filter(window, sim_movie_file):
    path, sim = sim_movie_file
    window.open_paths([path])
    state, doc = window.state, window.state.current
    window.detection.threshold.setValue(0.6)
    window.detection.min_size.setValue(80)
    state.set_detection(doc, _scored(sim))
    shown = state.events().extra["id"].tolist()
    assert len(shown) == len(sim.truth) - 3
    menu_action(window, "Review", "Movie fully reviewed").trigger()
    assert doc.fully_reviewed and "marked fully reviewed" in window.statusBar().currentMessage()
    # the filter of a new model (0.5 / 60) would show 3 more: the reviewed set stays what was seen
    window.detection.threshold.setValue(0.5)
    window.detection.min_size.setValue(60)
    assert state.events().extra["id"].tolist() == shown and doc.fully_reviewed
    assert sorted(review.reviewed(doc.rows).extra["id"].tolist()) == sorted(shown)
    # training reads the reviewed set (the wizard's data page), not a re-filtered table
    menu_action(window, "Train", "Train or fine-tune a model…").trigger()
    wizard = window.wizard
    row = next(r for r in wizard.plan.rows if r.name == doc.name)
    assert row.reviewed and row.n_events == len(shown)
    wizard.hide()
    # a new detection that brings events to review clears the mark and says so
    more = EventTable.from_arrays(np.r_[sim.truth.x, 3.0], np.r_[sim.truth.y, 3.0], np.r_[sim.truth.frame, 30],
                                  np.r_[np.full(len(sim.truth), 0.9), 0.95], np.r_[np.full(len(sim.truth), 120), 200])
    summary = state.set_detection(doc, fake_detection(more, more.score, more.size))
    assert summary.unmarked and not doc.fully_reviewed and "no longer marked fully reviewed" in summary.message()
    # Undo gives the mark back with the rows it had
    menu_action(window, "Edit", "Undo").trigger()
    assert doc.fully_reviewed and state.events().extra["id"].tolist() == shown


def test_the_data_page_follows_the_movies_list(window, sim_movie_file):
    """A movie checked as fully reviewed after the wizard was opened counts at New split and when
    the wizard is opened again (the data page went stale)."""
    path, sim = sim_movie_file
    window.open_paths([path])
    window.state.set_detection(window.state.current, fake_detection(sim.truth, np.full(len(sim.truth), 0.9)))
    menu_action(window, "Train", "Train or fine-tune a model…").trigger()
    wizard = window.wizard
    page = wizard.data_page
    assert page.table.item(0, 3).text() == "no"
    wizard.hide()
    item = window.movie_list.item(0, 3)                    # the ✓ column of the Movies list
    item.setCheckState(Qt.Checked)
    assert window.state.current.fully_reviewed
    menu_action(window, "Train", "Train or fine-tune a model…").trigger()
    wizard = window.wizard
    assert page.table.item(0, 3).text() == "yes"
    window.movie_list.item(0, 3).setCheckState(Qt.Unchecked)       # (the list's rows are rebuilt)
    page.split_button.click()
    assert page.table.item(0, 3).text() == "no"
    wizard.hide()


def test_panels_show_the_movie_shown(window, qtbot, sim_movie_file, tmp_path):
    from exodeep_gui.core.simulate import SimulationParams, simulate_movie
    from exodeep_gui.io.simulated import write_simulated

    path, sim = sim_movie_file
    other = write_simulated(tmp_path, "other", simulate_movie(
        SimulationParams(frames=30, height=48, width=48, events=2, docked=3, visiting=1), seed=5))
    window.open_paths([path, other])
    first, second = window.state.docs
    window.state.set_current(first)
    first.detection_message = "Done with fake: 4 events."
    window.detection.show_message(first)
    window.state.set_current(second)
    assert "Not detected yet" in window.detection.status.text()
    window.state.set_current(first)
    assert window.detection.status.text() == "Done with fake: 4 events."
    # the kymograph's frame axis is the movie's, 1-based like the frame box and Fiji's Slice
    window.movie_view.start_line([[5.0, 20.0], [40.0, 20.0]])
    kymo = window.kymo_view
    assert kymo.frame_range() == (1, first.movie.n_frames)
    window.state.set_current(second)
    window.movie_view.start_line([[5.0, 20.0], [40.0, 20.0]])
    assert kymo.frame_range() == (1, second.movie.n_frames)
    # the movie names are readable in the Movies list at the width it gets on a 1280-px screen
    from exodeep_gui.gui.viewer.movie_list import MovieList

    movies = MovieList(window.state)
    movies.resize(200, 300)
    movies.show()
    names = movies.visualItemRect(movies.item(0, 0)).width()
    assert names >= movies.fontMetrics().horizontalAdvance("cells.tif") + 8
    movies.close()


def test_adding_ends_after_one_click_or_with_esc_and_the_cursor_says_so(window, qtbot, sim_movie_file):
    path, sim = sim_movie_file
    window.open_paths([path])
    window.show()
    qtbot.waitExposed(window)
    view = window.movie_view
    menu_action(window, "Review", "Add events by clicking").trigger()
    assert view.add_mode and view.canvas.viewport().cursor().shape() == Qt.CrossCursor
    menu_action(window, "Review", "Stop adding events").trigger()
    assert not view.add_mode and not window.act["add"].isChecked()
    assert view.canvas.viewport().cursor().shape() != Qt.CrossCursor
    window.act["add"].trigger()
    QTest.keyClick(window, Qt.Key_Escape)
    assert not view.add_mode
    # one click adds one event, then adding is off (the next click pans as usual)
    window.act["add"].trigger()
    n = len(window.state.events())
    scene = view.view.mapViewToScene(QPointF(20.0, 25.0))
    point = view.canvas.mapFromScene(scene)
    QTest.mouseClick(view.canvas.viewport(), Qt.LeftButton, pos=point)
    qtbot.waitUntil(lambda: len(window.state.events()) == n + 1, timeout=3000)
    assert not view.add_mode and not window.act["add"].isChecked()
    added = window.state.events()
    i = int(np.nonzero(added.extra["origin"] == "added")[0][0])
    assert abs(added.x[i] - 20.0) < 1.5 and abs(added.y[i] - 25.0) < 1.5


def test_redo_does_again_what_undo_took_back(window, sim_movie_file):
    path, sim = sim_movie_file
    window.open_paths([path])
    state = window.state
    state.set_detection(state.current, fake_detection(sim.truth, np.full(len(sim.truth), 0.9)))
    eid = int(state.events().extra["id"][0])
    state.delete_event(eid)
    menu_action(window, "Edit", "Undo").trigger()
    assert eid in state.events().extra["id"]
    menu_action(window, "Edit", "Redo").trigger()
    assert eid not in state.events().extra["id"] and "Redone: delete" in window.statusBar().currentMessage()
    menu_action(window, "Edit", "Redo").trigger()
    assert "Nothing to redo" in window.statusBar().currentMessage()


def test_an_added_event_without_score_exports_with_blanks_and_its_identity(window, sim_movie_file, tmp_path,
                                                                           dialogs_answer):
    """An event added where the network saw nothing has no score or size: the export writes blank
    cells (it crashed on int(NaN)), every table carries id, origin and status, and reads back with
    them; an added event is kept whatever the minimum size, and the table says so."""
    path, sim = sim_movie_file
    window.open_paths([path])
    state = window.state
    state.set_detection(state.current, fake_detection(sim.truth, np.full(len(sim.truth), 0.9)))
    window.detection.min_size.setValue(80)                 # every detection (size 40) is hidden now
    eid = state.add_event(12.0, 14.0, 7)
    assert state.events().extra["id"].tolist() == [eid]
    review_col = window.events.model.columnCount()
    texts = [window.events.model.data(window.events.model.index(0, c)) for c in range(review_col)]
    assert any("always kept" in str(t) for t in texts), texts
    dialogs_answer["getExistingDirectory"] = str(tmp_path / "out")
    menu_action(window, "File", "Export results of this movie…").trigger()
    csv = tmp_path / "out" / "cells_events.csv"
    assert csv.is_file(), window.statusBar().currentMessage()
    header, row = csv.read_text().splitlines()[:2]
    assert header.split(",")[:9] == [" ", "X", "Y", "Slice", "id", "origin", "status", "score", "size"]
    cells = row.split(",")
    assert cells[4:9] == [str(eid), "added", "", "", ""] and cells[3] == "8"
    back = read_events(csv)
    assert back.extra["id"].tolist() == [eid] and back.extra["origin"].tolist() == ["added"]
    assert np.isnan(back.score).all() and np.isnan(back.size).all()
    # Save as annotations: the same table beside the movie, blanks and identity included
    from exodeep_gui.gui import file_actions

    saved_ask = file_actions.ask_yes_no
    file_actions.ask_yes_no = lambda *a: True
    try:
        menu_action(window, "File", "Save reviewed events as annotations").trigger()
    finally:
        file_actions.ask_yes_no = saved_ask
    ann = read_events(path.with_suffix(".csv"))
    assert ann.extra["id"].tolist() == [eid] and np.isnan(ann.size).all()


@pytest.fixture
def dialogs_answer(monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    answers = {}
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *a, **k: answers.pop("getExistingDirectory", "")))
    return answers


def test_the_wizard_learns_from_every_movie_reviewed_so_far(window, qtbot, sim_movie_file):
    """A movie marked fully reviewed in an earlier session (closed now, in the recent files) is
    listed for training with the set that was reviewed, as the open ones are."""
    path, sim = sim_movie_file
    window.open_paths([path])
    state = window.state
    state.set_detection(state.current, fake_detection(sim.truth, np.full(len(sim.truth), 0.9)))
    state.delete_event(int(state.events().extra["id"][0]))
    menu_action(window, "Review", "Movie fully reviewed").trigger()
    menu_action(window, "File", "Close movie").trigger()
    assert not state.docs and str(path) in window.settings.recent
    menu_action(window, "Train", "Train or fine-tune a model…").trigger()
    wizard = window.wizard
    row = next(r for r in wizard.plan.rows if r.name == "cells")
    assert row.reviewed and row.n_events == len(sim.truth) - 1 and row.role != "not used"
    wizard.hide()


def test_the_confidence_box_filters_every_movie(window, sim_movie_file):
    path, sim = sim_movie_file
    window.open_paths([path])
    state = window.state
    n = len(sim.truth)
    table = EventTable.from_arrays(sim.truth.x, sim.truth.y, sim.truth.frame, np.full(n, 0.9), np.full(n, 50.0),
                                   {"confidence": np.linspace(0.1, 1.0, n)})
    state.set_detection(state.current, fake_detection(table, table.score, table.size))
    assert len(state.events()) == n
    window.detection.min_confidence.setValue(0.5)
    assert state.filter.min_confidence == 0.5
    assert len(state.events()) == int((table.extra["confidence"] >= 0.5).sum())
    col = [window.events.model.headerData(c, Qt.Horizontal) for c in range(window.events.model.columnCount())]
    conf = col.index("confidence")
    assert window.events.model.value(0, conf) >= 0.5
    window.close()
    from exodeep_gui.gui.settings import Settings
    assert window.settings.min_confidence == 0.5 and Settings.load().min_confidence == 0.5      # kept
