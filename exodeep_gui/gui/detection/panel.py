"""Detection panel: choose a model, see the device, set the score threshold and minimum size
(re-filters cached results instantly), run on the current or all movies with progress
(frames/s, time left) and Cancel."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
                               QProgressBar, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from exodeep_gui.core.state import ViewerState
from exodeep_gui.gui import workers
from exodeep_gui.core.detection import DetectOptions
from exodeep_gui.ml.models import PUBLISHED, find_local, read_model_folder, recommended_filter
from exodeep_gui.paths import bundled_models


def model_choices() -> list:
    """(label, model spec) pairs: the published model first (recommended for real data; local or
    downloaded on first use), then the models bundled with the app (offline)."""
    where = "on this computer" if find_local(PUBLISHED) else "downloaded on first use"
    out = [(f"ExoDeepFinder published model — recommended ({where})", PUBLISHED.name)]
    out += [(f"{p.name} (bundled, offline; trained on simulated movies)", str(p)) for p in bundled_models()]
    return out


class DetectionPanel(QWidget):
    error = Signal(str, str)
    finished = Signal()

    def __init__(self, state: ViewerState, parent=None):
        super().__init__(parent)
        self.state = state
        self.thread = None
        self.worker: Optional[workers.GeneratorWorker] = None

        self.model_box = QComboBox()
        for label, spec in model_choices():
            self.model_box.addItem(label, spec)
        self.model_box.currentIndexChanged.connect(self._model_changed)
        browse = QPushButton("Model folder…")
        browse.clicked.connect(self.choose_folder)
        self.device_label = QLabel("device: checked when a model first runs")
        self.device_label.setWordWrap(True)
        self.threshold = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, decimals=2, value=0.5)
        self.threshold.setToolTip("Minimum event score (peak exocytosis probability)")
        self.min_size = QSpinBox(minimum=0, maximum=100000, value=0, suffix=" voxels")
        self.threshold.valueChanged.connect(self._filter_changed)
        self.min_size.valueChanged.connect(self._filter_changed)
        self.run_button = QPushButton("Detect in this movie")
        self.run_all_button = QPushButton("Detect in all movies")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.run_button.clicked.connect(lambda: self.run(all_movies=False))
        self.run_all_button.clicked.connect(lambda: self.run(all_movies=True))
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.status = QLabel("")
        self.status.setWordWrap(True)

        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.model_box, 1)
        row.addWidget(browse)
        form.addRow("Model", row)
        form.addRow("Score threshold", self.threshold)
        form.addRow("Minimum size", self.min_size)
        buttons = QHBoxLayout()
        for b in (self.run_button, self.run_all_button, self.cancel_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.device_label)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addStretch(1)

    # ---- model
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose an ExoDeep model folder")
        if folder:
            self.set_model(folder)

    def set_model(self, spec: str) -> None:
        if Path(spec).is_dir():
            spec = str(Path(spec).resolve())         # one entry per folder, however it was named
        i = self.model_box.findData(spec)
        if i < 0:
            self.model_box.addItem(f"{Path(spec).name} (folder)", spec)
            i = self.model_box.count() - 1
        self.model_box.setCurrentIndex(i)

    def _model_changed(self) -> None:
        """A model folder that recommends a threshold and minimum size (chosen on its validation
        movies when it was trained) sets them."""
        spec = self.model()
        if spec and Path(spec).is_dir():
            try:
                threshold, min_size = recommended_filter(read_model_folder(Path(spec)).config)
            except ValueError:
                return                    # a broken folder is reported when it runs
            self.threshold.setValue(threshold)
            self.min_size.setValue(min_size)

    def model(self) -> str:
        return self.model_box.currentData()

    def options(self) -> DetectOptions:
        """The frozen options the worker gets (it never reads these widgets)."""
        return DetectOptions(model=self.model(), threshold=self.threshold.value(), min_size=self.min_size.value())

    def _filter_changed(self) -> None:
        self.state.set_filter(self.threshold.value(), self.min_size.value())

    # ---- running
    @property
    def running(self) -> bool:
        return self.thread is not None

    def run(self, all_movies: bool = False) -> None:
        if self.running:
            return
        docs = list(self.state.docs) if all_movies else ([self.state.current] if self.state.current else [])
        if not docs:
            self.status.setText("Open a movie first (drag it onto the window).")
            return
        movies = [(id(d), d.movie) for d in docs]
        self._docs = {id(d): d for d in docs}
        self.worker = workers.GeneratorWorker(workers.detect_generator, self.model(), movies, self.options())
        self.worker.progress.connect(self._progress)
        self.worker.result.connect(self._result)
        self.worker.failed.connect(self._failed)
        self.worker.cancelled.connect(lambda: self.status.setText("Cancelled."))
        self.worker.done.connect(self._done)
        self._set_running(True)
        self.status.setText("Starting…")
        self.progress.setValue(0)
        self.thread = workers.start(self.worker)

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.status.setText("Cancelling…")

    def _set_running(self, on: bool) -> None:
        self.run_button.setEnabled(not on)
        self.run_all_button.setEnabled(not on)
        self.cancel_button.setEnabled(on)
        self.model_box.setEnabled(not on)

    def _progress(self, p) -> None:
        if p.stage == "device":
            self.device_label.setText("Runs on: " + p.message)
            return
        self.progress.setValue(int(1000 * p.fraction))
        extra = ""
        if p.stage == "detect" and p.rate:
            extra = f" — {p.rate:.1f} frames/s"
            if p.eta_s is not None:
                extra += f", {int(p.eta_s) // 60}:{int(p.eta_s) % 60:02d} left"
        self.status.setText(p.message + extra)

    def _result(self, results) -> None:
        for key, detection in results:
            doc = self._docs.get(key)
            if doc is not None and doc in self.state.docs:
                self.state.set_detection(doc, detection)
        n = sum(len(d.events()) for d in self._docs.values())
        self.status.setText(f"Done: {n} events in {len(results)} movie(s).")
        self.progress.setValue(1000)

    def _failed(self, message: str, details: str) -> None:
        self.status.setText("Detection failed: " + message)
        self.error.emit(message, details)

    def _done(self) -> None:
        thread = self.thread
        self.thread, self.worker = None, None
        if thread is not None:
            thread.wait(5000)
        self._set_running(False)
        self.finished.emit()

    def stop_and_wait(self, timeout_ms: int = 10000) -> None:
        """Cancel any run and wait for its thread (closing the window)."""
        if self.thread is not None:
            self.worker.cancel()
            self.thread.quit()
            self.thread.wait(timeout_ms)
