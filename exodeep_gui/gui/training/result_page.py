"""Wizard page 5, Result: precision, recall and F1 of the starting model and of the new one on
every validation movie (each at its recommended threshold and minimum size), the model folder,
"use this model" and "detect in all open movies"."""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import (QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWizardPage)

from exodeep_gui.gui import workers
from exodeep_gui.paths import portable_model_spec
from exodeep_gui.ml.training import job as training_job
from exodeep_gui.gui.training.plan import TrainingPlan

HEADERS = ("validation movie", "precision: before → after", "recall: before → after", "F1: before → after")


def mean_f1(rows, which: str) -> Optional[float]:
    values = [r[which]["f1"] for r in rows if r.get(which)]
    return sum(values) / len(values) if values else None


def _worse(before: Optional[float], after: Optional[float]) -> bool:
    return before is not None and after is not None and after < before - 0.005


def verdict_is_worse(rows) -> bool:
    return _worse(mean_f1(rows, "before"), mean_f1(rows, "after"))


def verdict(rows) -> str:
    """One line on whether the new model is better on the validation movies (mean F1)."""
    before, after = mean_f1(rows, "before"), mean_f1(rows, "after")
    if after is None:
        return ""
    if before is None:
        return f"The new model's F1 on the validation movies: {after:.3f} (trained from scratch)."
    if _worse(before, after):
        return (f"<b style='color:#c62828'>The new model is worse than the one it started from</b> on the "
                f"validation movies (F1 {before:.3f} → {after:.3f}): keep the model you have, or train again with "
                f"more reviewed movies or longer stages.")
    if after > before + 0.005:
        return f"<b>The new model is better</b> on the validation movies (F1 {before:.3f} → {after:.3f})."
    return f"The new model is about as good as the one it started from (F1 {before:.3f} → {after:.3f})."


class ResultPage(QWizardPage):
    def __init__(self, plan: TrainingPlan, state, runner, run_page, detect_all=None, parent=None):
        super().__init__(parent)
        self.plan, self.state, self.runner, self.run_page, self.detect_all = plan, state, runner, run_page, detect_all
        self.setTitle("5. Result: before and after")
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.use_button = QPushButton("Use this model for detection")
        self.use_button.setStyleSheet("font-weight: bold")
        self.detect_button = QPushButton("Detect in all open movies with it")
        self.use_button.clicked.connect(self.use_model)
        self.detect_button.clicked.connect(self._detect_all)
        buttons = QHBoxLayout()
        buttons.addWidget(self.use_button)
        buttons.addWidget(self.detect_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        self.verdict = QLabel("")
        self.verdict.setWordWrap(True)
        layout.addWidget(self.verdict)
        layout.addLayout(buttons)
        self.used = QLabel("")
        self.used.setWordWrap(True)
        layout.addWidget(self.used)
        self.job = None
        self.rows = None

    def folder(self) -> str:
        return self.run_page.result.folder if self.run_page.result is not None else self.plan.folder

    def initializePage(self) -> None:
        result = self.run_page.result
        best, rec = result.best or {}, result.recommended or {}
        self.summary.setText(
            f"<b>{self.plan.name or self.folder()}</b> — {result.steps} steps, started from "
            f"{portable_model_spec(result.start_from) if result.start_from else 'scratch'}. Model folder: {self.folder()}<br>"
            + (f"During training, best validation F1 {best.get('f1', 0):.3f} at step {best.get('step')} (score ≥ "
               f"{result.validation_threshold:.2f}, any size); " if best else "")
            + (f"with the filter chosen on the validation movies (score ≥ {rec['threshold']}, size ≥ "
               f"{rec['min_size']}): F1 {rec.get('f1', float('nan')):.3f}." if rec else "")
            + "<br>Comparing the two models on the validation movies…")
        self.compare()

    def compare(self) -> None:
        self.rows = None                 # the last run's comparison is not this one's
        self.table.setRowCount(0)
        self.verdict.setText("")
        self.used.setText("")
        valid = list(self.run_page.result.valid)
        started = self.run_page.result.start_from
        self.job = self.runner.start("compare", "comparing before and after", workers.in_child, training_job.compare,
                                     started, self.folder(), valid, on_result=self._show, on_failed=self._failed,
                                     on_done=self._done)

    def _show(self, rows) -> None:
        self.rows = rows
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            cells = [r["movie"]]
            for k in ("precision", "recall", "f1"):
                before, after = r.get("before"), r.get("after")
                cells.append((f"{before[k]:.3f} → " if before else "(from scratch) ") + f"{after[k]:.3f}")
            for c, text in enumerate(cells):
                self.table.setItem(i, c, QTableWidgetItem(text))
        self.summary.setText(self.summary.text().replace("<br>Comparing the two models on the validation movies…",
                                                         "<br>Each model at its own recommended filter."))
        self.verdict.setText(verdict(rows))
        worse = verdict_is_worse(rows)
        self.use_button.setText("Use it anyway" if worse else "Use this model for detection")
        self.use_button.setStyleSheet("" if worse else "font-weight: bold")

    def _failed(self, message: str, details: str) -> None:
        self.summary.setText(self.summary.text() + f"<br>The comparison failed: {message}")

    def _done(self) -> None:
        self.job = None

    def use_model(self) -> None:
        self.state.set_model(self.folder())
        self.used.setText(f"Detection now uses {self.plan.name or self.folder()} (the Detection panel's Model); "
                          "Detect runs it.")

    def _detect_all(self) -> None:
        self.use_model()
        if self.detect_all is not None:
            self.detect_all()
