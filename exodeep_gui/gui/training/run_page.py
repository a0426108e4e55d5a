"""Wizard page 4, Run: training in a child process driven by the job runner, with live curves
(loss per step; validation precision, recall and F1), stage, step, steps/s, time left and a log.
Cancel writes a checkpoint and stops; Resume continues from it (also after the app was killed)."""

from __future__ import annotations

import logging
import math
import time

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QGridLayout, QHBoxLayout, QLabel, QMessageBox, QPlainTextEdit, QPushButton,
                               QVBoxLayout, QWizardPage)

from exodeep_gui.core.progress import clock_text
from exodeep_gui.gui import workers
from exodeep_gui.gui.training.plan import TrainingPlan
from exodeep_gui.gui.widgets.plots import plot_widget

log = logging.getLogger("exodeep")


class RunPage(QWizardPage):
    started = Signal(str)                  # the model folder of a run that starts (or resumes)
    finished = Signal(object)              # the run's summary

    def __init__(self, plan: TrainingPlan, runner, model_page, parent=None):
        super().__init__(parent)
        self.plan, self.runner, self.model_page = plan, runner, model_page
        self.setTitle("4. Training")
        self.loss_plot = plot_widget("step", "training loss (Tversky)", title="Loss", min_height=160)
        self.loss_curve = self.loss_plot.plot([], [], pen="#ffd000")
        self.val_plot = plot_widget("step", "validation", title="Validation: precision, recall, F1", min_height=160)
        self.val_plot.addLegend(offset=(-10, 10))
        self.val_plot.setYRange(0, 1)
        self.curves = {k: self.val_plot.plot([], [], pen=pg.mkPen(c, width=2), symbol="o", symbolSize=6,
                                             symbolBrush=c, name=k)
                       for k, c in (("precision", "#4fc3f7"), ("recall", "#ff8a65"), ("F1", "#81c784"))}
        self.labels = {k: QLabel("—") for k in ("stage", "step", "speed", "left", "best")}
        grid = QGridLayout()
        for i, (k, title) in enumerate((("stage", "Stage"), ("step", "Step"), ("speed", "Speed"),
                                        ("left", "Time left"), ("best", "Best F1 (score ≥ 0.5)"))):
            grid.addWidget(QLabel(f"<b>{title}</b>"), 0, i)
            grid.addWidget(self.labels[k], 1, i)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        self.cancel_button = QPushButton("Cancel (keeps a checkpoint)")
        self.resume_button = QPushButton("Resume")
        self.cancel_button.clicked.connect(self.cancel)
        self.resume_button.clicked.connect(self.resume)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.resume_button)
        buttons.addStretch(1)
        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.val_plot)
        layout = QVBoxLayout(self)
        layout.addLayout(plots, 3)
        layout.addLayout(grid)
        layout.addLayout(buttons)
        layout.addWidget(self.log, 1)
        self.job = None
        self.result = None
        self.resuming = False               # the run started last is a resumed one (its own stages)
        self.steps, self.losses = [], []
        self.val = {k: ([], []) for k in self.curves}
        self._set_buttons()

    # ---- starting
    def initializePage(self) -> None:
        """Next from the model page starts the run it describes: a new one after a finished run
        (in the new folder the model page asks for), or the resumed one."""
        if self.job is not None:
            return
        if self.result is not None and self.plan.folder != self.result.folder:
            self.reset()
        if self.result is None:
            self.start(resume=self.model_page.resume_requested)

    def reset(self) -> None:
        """Forget a finished run (its result and curves) before another starts on this page."""
        if self.job is None:
            self.result = None
            self.steps.clear()
            self.losses.clear()
            for name, (xs, ys) in self.val.items():
                xs.clear()
                ys.clear()
                self.curves[name].setData([], [])
            self.loss_curve.setData([], [])
            for label in self.labels.values():          # no figure of the last run left up
                label.setText("—")
            self.log.clear()
            self._last_message = None

    def start(self, resume: bool = False) -> None:
        if self.job is not None:
            return
        try:
            request = self.plan.resume_request() if resume else self.plan.request(overwrite=False)
        except OSError as exc:
            QMessageBox.warning(self, "ExoDeep", str(exc))
            return
        if not resume:
            self.reset()
        title = f"Training {self.plan.name or request.folder}"
        self._t0 = time.monotonic()
        self._say(("Resuming" if resume else "Starting") + f" in {request.folder}")
        self.job = self.runner.start("train", title, workers.train_generator, request, on_progress=self._progress,
                                     on_result=self._result, on_failed=self._failed, on_cancelled=self._cancelled,
                                     on_done=self._done)
        self.resuming = resume
        self.started.emit(request.folder)
        self._set_buttons()

    def cancel(self) -> None:
        if self.job is not None:
            self.runner.cancel(self.job)
            self._say("Cancelling: the engine writes a checkpoint, then stops…")

    def resume(self) -> None:
        self.start(resume=True)

    # ---- reports
    def _say(self, text: str) -> None:
        self.log.appendPlainText(time.strftime("%H:%M:%S ") + text)

    def _progress(self, p) -> None:
        if p.stage != "train":
            if p.stage != "spots" and p.message != getattr(self, "_last_message", None):   # not every block
                self._last_message = p.message
                self._say(p.message)
            return
        step = getattr(p, "global_step", 0)
        loss = getattr(p, "loss", math.nan)
        if step and math.isfinite(loss):
            self.steps.append(step)
            self.losses.append(loss)
            if len(self.steps) % 5 == 1 or getattr(p, "validation", None):
                self.loss_curve.setData(self.steps, self.losses)
        n = getattr(p, "n_stages", 0)
        self.labels["stage"].setText(f"{getattr(p, 'stage_index', 0) + 1} of {n} ({getattr(p, 'patch', 0)}³)" if n else "—")
        self.labels["step"].setText(f"{step} of {step - int(p.done) + int(p.total)}")
        self.labels["speed"].setText(f"{p.rate:.2f} steps/s" if p.rate else "—")
        self.labels["left"].setText(clock_text(p.eta_s) or "—")
        v = getattr(p, "validation", None)
        if v:
            for key, name in (("precision", "precision"), ("recall", "recall"), ("f1", "F1")):
                xs, ys = self.val[name]
                xs.append(step)
                ys.append(v[key])
                self.curves[name].setData(xs, ys)
            self._say(f"step {step}: validation (score ≥ 0.5) precision {v['precision']:.3f}, recall "
                      f"{v['recall']:.3f}, F1 {v['f1']:.3f} (TP {v['tp']}, FP {v['fp']}, FN {v['fn']})")
        if getattr(p, "best_f1", None) is not None:
            self.labels["best"].setText(f"{p.best_f1:.3f}")

    def _result(self, summary) -> None:
        self.result = summary
        self.loss_curve.setData(self.steps, self.losses)
        rec = summary.recommended or {}
        self._say(f"Finished: {summary.steps} steps in {clock_text(time.monotonic() - self._t0)}; model in "
                  f"{summary.folder}" + (f"; recommended filter score ≥ {rec['threshold']}, size ≥ {rec['min_size']} "
                                         f"(F1 {rec['f1']:.3f} on the validation movies with that filter; the "
                                         "curves above are at score ≥ 0.5, any size)" if rec else ""))
        log.info("training finished: %d steps, model in %s", summary.steps, summary.folder)
        self.completeChanged.emit()          # Next (to the comparison) is enabled at once
        self.finished.emit(summary)

    def _failed(self, message: str, details: str) -> None:
        self._say("Training failed: " + message)
        QMessageBox.warning(self, "ExoDeep", "Training failed: " + message)

    def _cancelled(self) -> None:
        from exodeep_gui.ml.model_folder import ModelFolder

        if self.plan.folder and ModelFolder(self.plan.folder).is_unfinished():
            self._say("Cancelled. The checkpoint is in the model folder: Resume continues from it.")
        else:
            self._say("Cancelled before the first checkpoint: nothing to resume; start again when you like.")

    def _done(self) -> None:
        self.job = None
        self._set_buttons()
        self.completeChanged.emit()

    def _set_buttons(self) -> None:
        running = self.job is not None
        self.cancel_button.setEnabled(running)
        from exodeep_gui.ml.model_folder import ModelFolder

        self.resume_button.setEnabled(not running and self.result is None and bool(self.plan.folder)
                                      and ModelFolder(self.plan.folder).is_unfinished())

    def isComplete(self) -> bool:
        return self.result is not None
