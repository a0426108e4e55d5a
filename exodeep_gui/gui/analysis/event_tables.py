"""File > Analyze event tables…: the analysis of earlier work without its movies — a folder of
``<movie>_events.csv`` (X, Y, Slice) with each cell's ``<movie>_mask.tif``, and a conditions table
giving each movie's condition, pair, frames, frame interval and pixel size — into a report folder.
Rates, spatial statistics and condition comparisons; no kinetics (they need the pixels), and the
report says so. The work is io.event_tables' (the same as ``exodeep analyze --events``), run by the
window's job runner."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtWidgets import (QDialog, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QVBoxLayout)

from exodeep_gui.gui.widgets.layout import message_area
from exodeep_gui.gui.widgets.system import open_report
from exodeep_gui.io.event_tables import event_tables_job

log = logging.getLogger("exodeep")
INTRO = ("Analyse event tables from earlier work (ImageJ, ExoJ, ExoDeepFinder or ExoDeep tables: X, Y, Slice "
         "1-based), without their movies. Each <movie>_events.csv needs its cell mask <movie>_mask.tif beside it, "
         "and the conditions table (CSV) a row per movie: movie, condition, pair (optional), frames, "
         "frame_interval_s, pixel_size_um. Kinetics need the movies and stay blank.")


def _picker(dialog, line: QLineEdit, title: str, folder: bool, filter_: str = "") -> QHBoxLayout:
    def choose():
        start = line.text() or str(Path.home())
        if folder:
            path = QFileDialog.getExistingDirectory(dialog, title, start)
        else:
            path, _ = QFileDialog.getOpenFileName(dialog, title, start, filter_)
        if path:
            line.setText(path)
            dialog.check()

    button = QPushButton("Choose…")
    button.clicked.connect(choose)
    row = QHBoxLayout()
    row.addWidget(line, 1)
    row.addWidget(button)
    return row


class EventTablesDialog(QDialog):
    def __init__(self, runner, start_folder: str = "", parent=None):
        super().__init__(parent)
        self.runner = runner
        self.setWindowTitle("Analyze event tables (no movies)")
        self.events = QLineEdit(start_folder)
        self.conditions = QLineEdit()
        self.out = QLineEdit()
        for line in (self.events, self.conditions, self.out):
            line.textChanged.connect(self.check)
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Events folder", _picker(self, self.events, "Folder of <movie>_events.csv", True))
        form.addRow("Conditions table", _picker(self, self.conditions, "Conditions table", False,
                                                "Tables (*.csv *.txt *.tsv)"))
        form.addRow("Report folder", _picker(self, self.out, "Folder for the report (new or empty)", True))
        self.run_button = QPushButton("Analyze")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.open_button = QPushButton("Open the report")
        self.open_button.clicked.connect(self.open_report)
        self.open_button.setEnabled(False)
        self.status = QLabel("")
        buttons = QHBoxLayout()
        for b in (self.run_button, self.cancel_button, self.open_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(message_area(self.status, lines=8))    # a long list of problems scrolls
        self.job = None
        self.result = None
        self.check()

    def check(self) -> None:
        """Analyze is enabled once the folder, the conditions and the report folder are given."""
        ready = all(line.text().strip() for line in (self.events, self.conditions, self.out))
        self.run_button.setEnabled(ready and self.job is None)
        self.cancel_button.setEnabled(self.job is not None)

    def run(self) -> None:
        events, conditions, out = (Path(line.text().strip()) for line in (self.events, self.conditions, self.out))
        self.result = None
        self.open_button.setEnabled(False)
        self.status.setText("Waiting for the running job…" if self.runner.busy else "Starting…")
        self.job = self.runner.start("analyze", f"Analysing the event tables in {events.name}", event_tables_job,
                                     events, conditions, out, on_progress=self._progress, on_result=self._result,
                                     on_failed=self._failed, on_cancelled=self._cancelled, on_done=self._done)
        self.check()

    def cancel(self) -> None:
        if self.job is not None:
            self.runner.cancel(self.job)

    def _progress(self, p) -> None:
        self.status.setText(p.message)

    def _result(self, result) -> None:
        self.result = result
        lines = [f"Analysed {len(result.analyses)} cells" + (f"; report: {result.written['report']}"
                                                              if result.written else ".")]
        if result.problems:
            lines.append(f"Not analysed ({len(result.problems)}):")
            lines += [f"• {p}" for p in result.problems]
        self.status.setText("\n".join(lines))
        self.open_button.setEnabled(bool(result.written))
        log.info("event tables analysed: %d cells, %d not (%s)", len(result.analyses), len(result.problems),
                 result.written["report"] if result.written else "no report")

    def _failed(self, message: str, details: str) -> None:
        self.status.setText("The analysis could not run: " + message)

    def _cancelled(self) -> None:
        self.status.setText("Cancelled.")

    def _done(self) -> None:
        self.job = None
        self.check()

    def open_report(self) -> None:
        if self.result is not None and self.result.written:
            open_report(self.result.written["report"], self.status)

    def reject(self) -> None:
        self.cancel()
        super().reject()
