"""The Analysis panel on a bare ViewerState: analyse through the job runner, the measurement
table (a click selects the event), the selected event's trace with its fit, the cell mask
offered to the movie view, the movie's plots, staleness after an edit, cancel, and export."""

import math
import os

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from exodeep_gui.core.movie import Movie
from exodeep_gui.core.simulate import SimulationParams, simulate_movie
from exodeep_gui.session.state import ViewerState
from exodeep_gui.gui.analysis import AnalysisPanel
from exodeep_gui.gui.jobs import JobRunner
from exodeep_gui.gui.review.event_panel import EventPanel
from tests.gui.helpers import fake_detection


@pytest.fixture
def setup(qtbot):
    sims = [simulate_movie(SimulationParams(frames=60, height=64, width=64, events=6, docked=4, visiting=2),
                           seed=s) for s in (3, 4)]
    state = ViewerState()
    docs = []
    for k, sim in enumerate(sims):
        doc = state.add_movie(Movie(sim.movie, pixel_size_um=0.16, frame_interval_s=0.3))
        state.set_detection(doc, fake_detection(sim.truth, scores=np.ones(len(sim.truth))))
        docs.append(doc)
    state.set_current(docs[0])
    runner = JobRunner()
    panel = AnalysisPanel(state, runner)
    qtbot.addWidget(panel)
    yield state, runner, panel, docs, sims
    runner.shutdown()


def _run(qtbot, panel, button):
    with qtbot.waitSignal(panel.analysis_changed, timeout=30_000) as sig:
        button.click()
    qtbot.waitUntil(lambda: panel.job is None, timeout=10_000)     # the job's end reached the panel
    return sig.args[0]


def test_analyze_this_movie_shows_measurements_trace_mask_and_plots(qtbot, setup):
    state, runner, panel, docs, sims = setup
    assert panel.result() is None and panel.model.rowCount() == 0
    masks = []
    panel.mask_changed.connect(masks.append)
    a = _run(qtbot, panel, panel.analyze_button)
    assert a is panel.result() and len(a) == 6 and panel.result(docs[1]) is None
    assert panel.model.rowCount() == 6
    names = panel.model.names
    for col in ("id", "Slice", "dF_F0", "t_half_s", "decay_r2", "fwhm_um", "fit_note"):
        assert col in names
    assert masks[-1].shape == (64, 64) and masks[-1].any()
    assert "rate" in panel.summary.text() and "Ripley" in panel.summary.text()
    assert panel.time_plot.bars is not None and len(panel.ripley_plot.curve.getData()[0]) == 40
    # a click on a row selects the event; the trace shows it with its fit
    panel.show()
    qtbot.waitExposed(panel)
    view_row = panel.proxy.mapFromSource(panel.model.index(2, 0))
    qtbot.mouseClick(panel.table.viewport(), Qt.LeftButton, pos=panel.table.visualRect(view_row).center())
    eid = int(state.events().extra["id"][2])
    assert state.selected == eid
    x, y = panel.trace.curve.getData()
    peak = a.kinetics.peak[2]
    assert len(x) == 41 and y[x == x[peak]][0] == pytest.approx(a.columns["dF_F0"][2], rel=1e-6)
    assert len(panel.trace.fit.getData()[0]) == 200
    assert f"event {eid}" in panel.trace.widget.getPlotItem().titleLabel.text
    events = EventPanel(state)                   # the event table gains the measures (the window wires it)
    qtbot.addWidget(events)
    panel.analysis_changed.connect(events.show_measurements)
    panel.analysis_changed.emit(a)
    col = [events.model.headerData(c, Qt.Horizontal) for c in range(events.model.columnCount())].index("dF_F0")
    assert events.model.value(events.model.row_of(eid), col) == pytest.approx(a.columns["dF_F0"][2])
    # selecting in the state selects the table row
    other = int(state.events().extra["id"][4])
    state.select(other)
    sel = panel.table.selectionModel().selectedRows()
    assert [panel.model.event_id(panel.proxy.mapToSource(i).row()) for i in sel] == [other]


def test_analyze_all_movies_filters_and_staleness(qtbot, setup):
    state, runner, panel, docs, sims = setup
    panel.min_df.setValue(0.3)
    _run(qtbot, panel, panel.analyze_all_button)
    a0, a1 = panel.result(docs[0]), panel.result(docs[1])
    assert a0 is not None and a1 is not None and a0.options.filters == (("dF_F0", ">=", 0.3),)
    np.testing.assert_array_equal(a0.kept, a0.in_mask & (a0.columns["dF_F0"] >= 0.3))
    with qtbot.waitSignal(panel.analysis_changed) as sig:
        state.set_current(docs[1])
    assert sig.args[0] is a1 and panel.model.rowCount() == len(a1)
    assert not panel.stale()
    state.delete_event(int(state.events().extra["id"][0]))
    assert panel.stale() and "changed since this analysis" in panel.status.text()
    state.close_movie(docs[0])
    # the analysis is the movie's record's: no table in the panel outlives the closed movie
    assert docs[0] not in state.docs and not hasattr(panel, "results")
    assert panel.result() is state.current.analysis is a1


def _slow(n, cancel=None):
    import time

    from exodeep_gui.core.progress import Progress

    for i in range(n):
        cancel.raise_if_cancelled()
        time.sleep(0.02)
        yield Progress("work", i + 1, n)


def test_cancel_leaves_results_unchanged_and_buttons_usable(qtbot, setup):
    state, runner, panel, docs, sims = setup
    blocker = runner.submit(runner.job("detect", "other work", _slow, 500))       # the analysis waits
    job = panel.analyze(all_movies=True)
    assert "Waiting" in panel.status.text()
    assert not panel.analyze_button.isEnabled() and panel.cancel_button.isEnabled()
    with qtbot.waitSignal(job.done, timeout=5000):
        panel.cancel()
    assert panel.analyze_button.isEnabled() and not panel.cancel_button.isEnabled()
    assert all(d.analysis is None for d in docs) and "Cancelled" in panel.status.text()
    with qtbot.waitSignal(blocker.done, timeout=5000):
        runner.cancel(blocker)
    # and a running analysis can be cancelled too (or finishes first): the buttons come back
    job = panel.analyze()
    panel.cancel()
    qtbot.waitUntil(lambda: panel.analyze_button.isEnabled(), timeout=30_000)


def test_export_writes_the_report(qtbot, setup, tmp_path):
    state, runner, panel, docs, sims = setup
    assert panel.export(tmp_path / "nothing") is None and "analyse a movie first" in panel.status.text()
    _run(qtbot, panel, panel.analyze_button)
    job = panel.export(tmp_path / "out")
    with qtbot.waitSignal(job.done, timeout=60_000):
        pass
    assert (tmp_path / "out" / "report.html").is_file() and (tmp_path / "out" / "events.csv").is_file()
    assert "Report written" in panel.status.text()


def test_the_report_opens_with_the_systems_libraries(qtbot, setup, tmp_path, monkeypatch):
    """Clicking the report's link opens it in the browser; in the frozen app the browser is started
    without the bundle's library folder in LD_LIBRARY_PATH (the user's own comes back), and the app's
    environment is as before afterwards."""
    import sys

    from PySide6.QtGui import QDesktopServices

    state, runner, panel, docs, sims = setup
    _run(qtbot, panel, panel.analyze_button)
    from PySide6.QtWidgets import QFileDialog

    (tmp_path / "out").mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tmp_path / "out")))
    panel.export_button.click()                                     # Export report… into a new folder
    qtbot.waitUntil(lambda: "Report written" in panel.status.text(), timeout=60_000)
    from exodeep_gui.gui.widgets import system

    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append((url.toLocalFile(), "Qt")) or True)
    monkeypatch.setattr(system, "start_detached",
                        lambda program, args, env: opened.append((args[0], env.get("LD_LIBRARY_PATH"))) or True)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setenv("LD_LIBRARY_PATH", "/opt/ExoDeep/_internal")
    monkeypatch.setenv("LD_LIBRARY_PATH_ORIG", "/home/user/lib")
    panel.status.linkActivated.emit("report")
    assert opened == [(str(tmp_path / "out" / "report.html"), "/home/user/lib")]
    assert os.environ["LD_LIBRARY_PATH"] == "/opt/ExoDeep/_internal"
    assert os.environ["LD_LIBRARY_PATH_ORIG"] == "/home/user/lib"
    monkeypatch.setattr(sys, "frozen", False)                   # not the frozen app: Qt's own way
    panel.status.linkActivated.emit("report")
    assert opened[-1] == (str(tmp_path / "out" / "report.html"), "Qt")
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)     # no browser at all: where it is
    panel.status.linkActivated.emit("report")
    assert panel.status.text() == f"No browser could be started; the report is {tmp_path / 'out' / 'report.html'}"


def test_a_desktop_program_gets_exactly_the_environment_given(qtbot, tmp_path):
    from exodeep_gui.gui.widgets.system import start_detached

    out = tmp_path / "env.txt"
    assert start_detached("/bin/sh", ["-c", f'echo "$WHO:$LD_LIBRARY_PATH" > {out}'], {"WHO": "system"})
    qtbot.waitUntil(out.is_file, timeout=5000)
    qtbot.waitUntil(lambda: out.read_text().strip() != "", timeout=5000)
    assert out.read_text().strip() == "system:"


def test_no_events_no_job(qtbot):
    state = ViewerState()
    runner = JobRunner()
    panel = AnalysisPanel(state, runner)
    qtbot.addWidget(panel)
    assert panel.analyze() is None and "No events" in panel.status.text()
    runner.shutdown()


def test_a_measure_column_sorts_by_value_with_unknown_values_last(qtbot, setup):
    """The event table's analysis columns sort as numbers when their header is clicked; an event
    whose value is unknown (a fit that failed) comes after every number."""
    state, runner, panel, docs, sims = setup
    events = EventPanel(state)
    qtbot.addWidget(events)
    a = _run(qtbot, panel, panel.analyze_button)
    a.columns["dF_F0"] = np.array([3.0, math.nan, -2.0, 10.0, 0.5, 7.0])
    values = {int(eid): float(v) for eid, v in zip(a.ids(), a.columns["dF_F0"])}
    events.show_measurements(a)
    events.show()
    qtbot.waitExposed(events)
    header = events.view.horizontalHeader()
    col = [events.model.headerData(c, Qt.Horizontal) for c in range(events.model.columnCount())].index("dF_F0")
    qtbot.mouseClick(header.viewport(), Qt.LeftButton,
                     pos=QPoint(header.sectionViewportPosition(col) + 5, header.height() // 2))
    shown = [events.model.event_id(events.proxy.mapToSource(events.proxy.index(r, 0)).row())
             for r in range(events.proxy.rowCount())]
    assert header.sortIndicatorSection() == col and header.sortIndicatorOrder() == Qt.AscendingOrder
    assert [values[e] for e in shown[:-1]] == sorted(v for v in values.values() if not math.isnan(v))
    assert math.isnan(values[shown[-1]])
