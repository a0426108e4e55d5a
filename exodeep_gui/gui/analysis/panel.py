"""Analysis panel: measures the current movie's (or every open movie's) reviewed events through the
job runner (core.analysis in a worker thread, with progress and Cancel), then shows the per-event
measurements (a sortable table; a click selects the event), the selected event's ΔF/F0 trace with
its decay fit, the movie's numbers and plots (events over time, Ripley's L(r) − r), and exports
the tables, figures and report.html. It never changes the events; the cell mask of the current
movie is offered to the movie view through :attr:`AnalysisPanel.mask_changed`."""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtWidgets import (QDoubleSpinBox, QFileDialog, QFormLayout, QGridLayout, QLabel,
                               QPushButton, QTabWidget, QVBoxLayout, QWidget)

from exodeep_gui.core.analysis import AnalysisOptions, MovieAnalysis, analyze_movies
from exodeep_gui.gui import workers
from exodeep_gui.gui.dialogs import ask_yes_no
from exodeep_gui.gui.analysis.plots import RipleyPlot, TimePlot, TracePlot
from exodeep_gui.gui.analysis.table import MeasurementModel
from exodeep_gui.gui.jobs import JobRunner
from exodeep_gui.gui.widgets.system import open_report
from exodeep_gui.gui.widgets.tables import sortable_table
from exodeep_gui.session.record import MovieDoc
from exodeep_gui.session.state import ViewerState

log = logging.getLogger("exodeep")


def analyze_generator(items, options, cancel=None):
    """The job: core.analysis.analyze_movies (returns [MovieAnalysis])."""
    return (yield from analyze_movies(items, options, cancel=cancel))


def export_generator(folder, analyses, options, overwrite, cancel=None):
    from exodeep_gui.io.analysis_output import write_analysis

    return (yield from write_analysis(folder, analyses, options, overwrite=overwrite, cancel=cancel))


def _mask_beside(movie):
    """The movie's ``<name>_mask.tif`` (io.masks) when there is one and it fits, else None (automatic)."""
    if movie.source is None:
        return None, ""
    from exodeep_gui.io.masks import MaskError, mask_for, read_mask

    path = mask_for(movie.source)
    if path is None:
        return None, ""
    try:
        return read_mask(path, movie.shape[1:]), f"mask file {path.name}"
    except MaskError:
        return None, ""


def _mask_of(doc):
    """The cell of an open movie: the outline drawn on it, else its mask file, else automatic (None)."""
    if doc.cell is not None and len(doc.cell) >= 3:
        from exodeep_gui.core.analysis.cell import polygon_mask

        return polygon_mask(doc.cell, doc.movie.shape[1:]), "outline drawn on the movie"
    return _mask_beside(doc.movie)


class AnalysisPanel(QWidget):
    analysis_changed = Signal(object)     # the current movie's MovieAnalysis, or None
    mask_changed = Signal(object)         # the current movie's cell mask (bool, frame-shaped), or None
    error = Signal(str, str)              # message, details
    draw_cell = Signal()                  # the user asks to draw the cell's outline on the movie

    def __init__(self, state: ViewerState, runner: JobRunner, parent=None):
        super().__init__(parent)
        self.state, self.runner = state, runner
        self.job: Optional[workers.GeneratorWorker] = None
        self._job_docs: list = []
        self._build()
        for signal, slot in self._connections():
            signal.connect(slot)
        self._movie_changed(state.current)

    # ---------------------------------------------------------------- layout
    def _build(self) -> None:
        self.radius = QDoubleSpinBox(minimum=1.0, maximum=4.5, singleStep=0.5, decimals=1, value=3.0, suffix=" px")
        self.radius.setToolTip("Radius of the disc whose mean intensity is the event's trace")
        self.onset_k = QDoubleSpinBox(minimum=1.0, maximum=10.0, singleStep=0.5, decimals=1, value=3.0)
        self.onset_k.setToolTip("Onset: first frame above F0 + k·σ of the baseline")
        self.min_r2 = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, decimals=2, value=0.0)
        self.min_r2.setToolTip("Count only events whose decay fit has R² ≥ this (0: all)")
        self.min_df = QDoubleSpinBox(minimum=0.0, maximum=100.0, singleStep=0.05, decimals=2, value=0.0)
        self.min_df.setToolTip("Count only events with ΔF/F0 ≥ this (0: all)")
        form = QFormLayout()
        form.addRow("Disc radius", self.radius)
        form.addRow("Onset k", self.onset_k)
        form.addRow("Count R² ≥", self.min_r2)
        form.addRow("Count ΔF/F0 ≥", self.min_df)
        self.analyze_button = QPushButton("Analyze this movie")
        self.analyze_all_button = QPushButton("Analyze all movies")
        self.cancel_button = QPushButton("Cancel")
        self.export_button = QPushButton("Export report…")
        self.analyze_button.clicked.connect(lambda: self.analyze(all_movies=False))
        self.analyze_all_button.clicked.connect(lambda: self.analyze(all_movies=True))
        self.cancel_button.clicked.connect(self.cancel)
        self.export_button.clicked.connect(self.choose_export_folder)
        self.cell_button = QPushButton("Draw the cell…")
        self.cell_button.setToolTip("Outline the cell on the movie (drag the handles; click an edge to add one); "
                                    "the analysis then measures inside it instead of the automatic mask")
        self.auto_cell_button = QPushButton("Automatic cell")
        self.auto_cell_button.setToolTip("Forget the drawn outline: a mask file beside the movie, else Otsu on the "
                                         "temporal mean")
        self.cell_button.clicked.connect(self.draw_cell.emit)
        self.auto_cell_button.clicked.connect(lambda: self.state.set_cell(None))
        buttons = QGridLayout()                   # two rows: the panel stays narrow beside the movie
        for i, b in enumerate((self.analyze_button, self.analyze_all_button, self.cell_button, self.auto_cell_button,
                               self.cancel_button, self.export_button)):
            buttons.addWidget(b, i // 2, i % 2)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.report = None                        # the last report written, opened from the status link
        self.status.linkActivated.connect(lambda _link: self.open_report())
        self.notes = QLabel("")
        self.notes.setWordWrap(True)
        self.notes.setStyleSheet("color: #e65100")
        self.model = MeasurementModel()
        self.proxy, self.table = sortable_table(self.model)
        self.table.clicked.connect(self._row_clicked)
        self.trace = TracePlot()
        self.time_plot, self.ripley_plot = TimePlot(), RipleyPlot()
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextSelectableByMouse)
        cell = QWidget()
        cl = QVBoxLayout(cell)
        cl.addWidget(self.summary)
        cl.addWidget(self.time_plot.widget)
        cl.addWidget(self.ripley_plot.widget)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.table, "Events")
        self.tabs.addTab(self.trace.widget, "Trace")
        self.tabs.addTab(cell, "Cell")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.notes)
        layout.addWidget(self.tabs, 1)
        self._set_running(False)

    def _connections(self):
        s = self.state
        return [(s.movie_changed, self._movie_changed), (s.events_changed, self._events_changed),
                (s.selection_changed, self._selection_changed)]

    def detach(self) -> None:
        """Disconnect from the viewer state (when the panel is closed for good)."""
        for signal, slot in self._connections():
            signal.disconnect(slot)

    # ---------------------------------------------------------------- what the window reads
    def result(self, doc: Optional[MovieDoc] = None) -> Optional[MovieAnalysis]:
        doc = doc or self.state.current
        return None if doc is None else doc.analysis

    def options(self) -> AnalysisOptions:
        rules = []
        if self.min_r2.value() > 0:
            rules.append(("decay_r2", ">=", float(self.min_r2.value())))
        if self.min_df.value() > 0:
            rules.append(("dF_F0", ">=", float(self.min_df.value())))
        return AnalysisOptions(radius_px=float(self.radius.value()), onset_k=float(self.onset_k.value()),
                               filters=tuple(rules))

    # ---------------------------------------------------------------- running
    def analyze(self, all_movies: bool = False) -> Optional[workers.GeneratorWorker]:
        if self.job is not None:                  # its results are matched to its own movies
            self.status.setText("An analysis is already running or waiting; Cancel it first.")
            return None
        docs = list(self.state.docs) if all_movies else ([self.state.current] if self.state.current else [])
        docs = [d for d in docs if len(self.state.events(d))]
        if not docs:
            self.status.setText("No events to analyse: detect or add events first.")
            return None
        items = []
        for d in docs:
            mask, source = _mask_of(d)
            items.append({"movie": d.movie, "events": self.state.events(d), "name": d.name, "mask": mask,
                          "mask_source": source, "condition": d.condition})
        self._job_docs = docs
        title = "Analysing " + (f"{len(docs)} movies" if len(docs) > 1 else docs[0].name)
        return self._submit(title, analyze_generator, (items, self.options()), self._result)

    def export(self, folder, overwrite: bool = False) -> Optional[workers.GeneratorWorker]:
        """Write the analysed movies' tables, figures and report.html into ``folder``."""
        if self.job is not None:
            self.status.setText("An analysis is already running or waiting; Cancel it first.")
            return None
        analyses = [d.analysis for d in self.state.docs if d.analysis is not None]
        if not analyses:
            self.status.setText("Nothing to export: analyse a movie first.")
            return None
        return self._submit("Writing the analysis report", export_generator, (Path(folder), analyses,
                            analyses[0].options, overwrite), self._written)

    def choose_export_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export the analysis into a folder")
        if not folder:
            return
        from exodeep_gui.io.analysis_output import existing_outputs

        found = existing_outputs(folder)
        overwrite = False
        if found:
            if not ask_yes_no(self, f"{folder} already holds {', '.join(p.name for p in found)}. Replace them?",
                              "Replace the earlier analysis?"):
                return
            overwrite = True
        self.export(folder, overwrite)

    def _submit(self, title: str, work, args: tuple, on_result):
        self.status.setText("Waiting for the running job…" if self.runner.busy else "Starting…")
        self._set_running(True)
        self.job = self.runner.start("analyze", title, work, *args, on_progress=self._progress, on_result=on_result,
                                     on_failed=self._failed, on_cancelled=self._cancelled, on_done=self._done)
        return self.job

    def _written(self, written) -> None:
        log.info("analysis report written: %s", written["report"])
        self.report = Path(written["report"])
        self.status.setText(f"Report written: <a href=\"report\">{html.escape(str(self.report))}</a> (click to open)")

    def open_report(self) -> bool:
        """Open the last report written in the user's browser (with the system's environment)."""
        if self.report is None:
            return False
        return open_report(self.report, self.status)

    def _cancelled(self) -> None:
        self.status.setText("Cancelled; nothing was changed.")

    def _done(self) -> None:
        self.job = None
        self._set_running(False)

    def cancel(self) -> None:
        if self.job is not None:
            self.status.setText("Cancelling…")
            self.runner.cancel(self.job)          # a job still waiting is dropped at once

    def _set_running(self, on: bool) -> None:
        for b in (self.analyze_button, self.analyze_all_button, self.export_button):
            b.setEnabled(not on)
        self.cancel_button.setEnabled(on)

    def _progress(self, p) -> None:
        self.status.setText(p.message)

    def _failed(self, message: str, details: str) -> None:
        self.status.setText("Analysis failed: " + message)
        self.error.emit(message, details)

    def _result(self, analyses) -> None:
        for doc, a in zip(self._job_docs, analyses):
            if doc in self.state.docs:
                doc.analysis = a
                log.info("analysed %s: %d events", doc.movie.source or doc.name, len(a))
        self.status.setText(f"Analysed {len(analyses)} movie(s).")
        self._movie_changed(self.state.current)

    # ---------------------------------------------------------------- showing
    def _movie_changed(self, doc) -> None:
        a = self.result(doc)
        self.model.set_analysis(a)
        self.table.resizeColumnsToContents()
        self.time_plot.show(a)
        self.ripley_plot.show(a)
        self.summary.setText(self._summary_text(a))
        self.notes.setText("\n".join(a.notes) if a is not None else "")
        self._events_changed()
        self._selection_changed(self.state.selected)
        self.analysis_changed.emit(a)
        self.mask_changed.emit(None if a is None else a.mask)

    def _summary_text(self, a) -> str:
        if a is None:
            return "Not analysed yet."
        s, u = a.summary, a.units
        rate = s[u.rate_col()]
        return (f"{s['events_kept']} of {s['events']} events counted ({s['events_in_mask']} in the cell; mask: "
                f"{a.mask_source}). Area {s[u.area_col()]:.4g} {u.length_label}²; rate {rate:.3g} per "
                f"{u.length_label}² per {'min' if u.timed else 'frame'}. Median ΔF/F0 {s['dF_F0_median']:.3g}, "
                f"t½ {s[u.t('t_half_median')]:.3g} {u.time_unit}, FWHM {s[u.l('fwhm_median')]:.3g} "
                f"{u.length_label}. Spatial: {a.ripley.verdict} (Ripley MAD test p = {a.ripley.p_value:.2g}).")

    def stale(self) -> bool:
        """Whether the current movie's events changed since its analysis."""
        a = self.result()
        if a is None:
            return False
        ev = self.state.events()
        if len(ev) != len(a) or not len(ev):
            return len(ev) != len(a)
        return not (np.array_equal(ev.extra["id"], a.ids()) and np.array_equal(ev.frame, a.events.frame)
                    and np.allclose(ev.x, a.events.x) and np.allclose(ev.y, a.events.y))

    def _events_changed(self) -> None:
        if self.stale():
            self.status.setText("The events changed since this analysis: analyse again to update it.")

    def _selection_changed(self, event_id) -> None:
        a = self.result()
        i = None if a is None or event_id is None else a.index_of(event_id)
        self.trace.show(a, i)
        if i is None:
            self.table.clearSelection()
            return
        src = self.model.index(i, 0)
        row = self.proxy.mapFromSource(src)
        self.table.selectionModel().select(row, QItemSelectionModel.ClearAndSelect | QItemSelectionModel.Rows)
        self.table.scrollTo(row)

    def _row_clicked(self, index) -> None:
        src = self.proxy.mapToSource(index)
        self.state.select(self.model.event_id(src.row()))
