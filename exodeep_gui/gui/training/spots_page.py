"""Wizard page 2, Counter-examples: the built-in spot detector finds bright spots that are not
exocytoses (docked vesicles) for the model to learn as "bright spot". Its parameters, a live
preview on the current frame (spots outlined; spots that are annotated events left out) and
the counts per movie, computed in workers."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (QHeaderView, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QPushButton, QSpinBox,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWizardPage)

from exodeep_gui.core.spots import SpotParams
from exodeep_gui.gui.training.plan import TRAIN, VALID, TrainingPlan, count_counter_examples, row_movie_and_events

KEPT_RGBA = (255, 60, 200, 230)       # counter-examples: magenta outlines
LEFT_RGBA = (60, 255, 90, 230)        # left out (annotated events): green outlines


def _outline(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return mask & ~ndimage.binary_erosion(mask)


def _preview_job(frame, index, events, params, cancel=None):
    """A generator for a worker: (kept, left out) masks of one frame."""
    from exodeep_gui.core.progress import Progress
    from exodeep_gui.ml.training.targets import counter_examples_in_frame

    yield Progress("preview", 0, 1, "finding spots")
    return counter_examples_in_frame(frame, index, events, params)


class SpotsPage(QWizardPage):
    def __init__(self, plan: TrainingPlan, state, runner, parent=None):
        super().__init__(parent)
        self.plan, self.state, self.runner = plan, state, runner
        self.setTitle("2. Counter-examples: bright spots that are not exocytoses")
        self.setSubTitle("The spot detector marks bright spots (docked vesicles) for the model to learn as "
                         "not-exocytosis. Magenta: used as counter-examples; green: left out (annotated events).")
        o = plan.options
        self.window_sigma = QDoubleSpinBox(minimum=3.0, maximum=100.0, value=o.spot_window, suffix=" px", decimals=1)
        self.window_sigma.setToolTip("σ of the window of local background statistics")
        self.pfa_exp = QSpinBox(minimum=1, maximum=9, value=int(round(-np.log10(o.spot_pfa))), prefix="10^-")
        self.pfa_exp.setToolTip("Probability of false alarm: 10^-3 finds more spots than 10^-5")
        self.min_area = QSpinBox(minimum=1, maximum=200, value=o.spot_min_area, suffix=" px")
        for w in (self.window_sigma, self.pfa_exp, self.min_area):
            w.valueChanged.connect(self._params_changed)
        form = QFormLayout()
        form.addRow("Background window σ", self.window_sigma)
        form.addRow("False alarm probability", self.pfa_exp)
        form.addRow("Smallest spot", self.min_area)
        self.canvas = pg.GraphicsLayoutWidget()
        self.view = self.canvas.addViewBox(lockAspect=True, invertY=True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.overlay = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.view.addItem(self.overlay)
        self.preview_label = QLabel("")
        self.count_button = QPushButton("Count in every movie")
        self.count_button.clicked.connect(self.count)
        self.counts = QTableWidget(0, 3)
        self.counts.setHorizontalHeaderLabels(("movie", "spots", "left out"))
        self.counts.horizontalHeaderItem(1).setToolTip("Counter-examples: bright spots that are not exocytoses")
        self.counts.horizontalHeaderItem(2).setToolTip("Spots left out because they are annotated events")
        self.counts.verticalHeader().hide()
        self.counts.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        for c in (1, 2):                  # the headers readable whatever the width (it cut "counter-example")
            self.counts.horizontalHeader().setSectionResizeMode(c, QHeaderView.ResizeToContents)
        side = QVBoxLayout()
        side.addLayout(form)
        side.addWidget(self.preview_label)
        side.addWidget(self.count_button)
        side.addWidget(self.counts, 1)
        layout = QHBoxLayout(self)
        layout.addWidget(self.canvas, 3)
        layout.addLayout(side, 2)
        self.preview_job = None
        self.count_job = None
        self._pending = False
        self.last_preview = None          # (kept, left out) masks of the last preview

    def params(self) -> SpotParams:
        return SpotParams(window_sigma=self.window_sigma.value(), pfa=10.0 ** -self.pfa_exp.value(),
                          min_area=self.min_area.value())

    def initializePage(self) -> None:
        self.preview()

    def _params_changed(self) -> None:
        p = self.params()
        self.plan.options = replace(self.plan.options, spot_window=p.window_sigma, spot_pfa=p.pfa,
                                    spot_min_area=p.min_area)
        self.counts.setRowCount(0)
        self.preview()

    # ---- the preview on the current frame of the current movie
    def _preview_source(self):
        doc = self.state.current
        if doc is not None:
            row = next((r for r in self.plan.rows if r.movie_path is not None and doc.movie.source is not None
                        and str(r.movie_path) == str(doc.movie.source)), None)
            events = row.events if row is not None and row.events is not None else self.state.events(doc)
            return doc.movie, self.state.frame, events
        rows = [r for r in self.plan.rows if r.role in (TRAIN, VALID)]
        if rows:
            movie, events = row_movie_and_events(rows[0], self.state.docs)
            return movie, movie.n_frames // 2, events
        return None

    def preview(self) -> None:
        if self.preview_job is not None:           # one at a time; the latest parameters win
            self._pending = True
            return
        source = self._preview_source()
        if source is None:
            self.preview_label.setText("Open a movie to see a preview.")
            return
        movie, index, events = source
        frame = movie.frame(index)
        self.image.setImage(frame, autoLevels=True)
        self._preview_index = index
        self.preview_job = self.runner.start("preview", "spot preview", _preview_job, frame, index, events,
                                             self.params(), on_result=self._show_preview, on_failed=self._failed,
                                             on_done=self._preview_done, light=True)

    def _show_preview(self, result) -> None:
        kept, left = result
        index = self._preview_index
        self.last_preview = result
        rgba = np.zeros(kept.shape + (4,), np.uint8)
        rgba[_outline(kept)] = KEPT_RGBA
        rgba[_outline(left)] = LEFT_RGBA
        self.overlay.setImage(rgba, autoLevels=False, levels=(0, 255))
        from scipy import ndimage

        self.preview_label.setText(f"Frame {index + 1}: {ndimage.label(kept)[1]} counter-example spots, "
                                   f"{ndimage.label(left)[1]} left out as annotated events.")

    def _failed(self, message: str, details: str) -> None:
        self.preview_label.setText("The spot detector failed: " + message)

    def _preview_done(self) -> None:
        self.preview_job = None
        if self._pending:
            self._pending = False
            self.preview()

    # ---- counts per movie
    def count(self) -> None:
        rows = [r for r in self.plan.rows if r.role in (TRAIN, VALID)]
        if self.count_job is not None or not rows:
            return
        self.count_button.setEnabled(False)
        self.count_job = self.runner.start("preview", "counting spots", count_counter_examples, rows, self.params(),
                                           list(self.state.docs), on_progress=self._count_progress,
                                           on_result=self._show_counts, on_failed=self._failed,
                                           on_done=self._count_done, light=True)

    def _count_progress(self, p) -> None:
        self.preview_label.setText(p.message)

    def _count_done(self) -> None:
        self.count_job = None
        self.count_button.setEnabled(True)

    def _show_counts(self, counts: dict) -> None:
        self.counts.setRowCount(len(counts))
        for i, (name, (kept, left)) in enumerate(counts.items()):
            for c, v in enumerate((name, str(kept), str(left))):
                self.counts.setItem(i, c, QTableWidgetItem(v))
        self.preview_label.setText(f"Counted in {len(counts)} movies.")
