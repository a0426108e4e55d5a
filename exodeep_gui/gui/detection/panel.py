"""Detection panel: the model, the device, the filter (score threshold, minimum size: one for
every movie, owned by the viewer state), and running detection on this or all movies through
the job runner. A re-detection merges into each movie's review; the panel says what changed."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
                               QPushButton, QSizePolicy, QSpinBox, QVBoxLayout, QWidget)

from exodeep_gui.core import review
from exodeep_gui.core.detection import DetectOptions
from exodeep_gui.core.review import DEFAULT_FILTER, EventFilter
from exodeep_gui.session.state import ViewerState
from exodeep_gui.gui import workers
from exodeep_gui.gui.detection.background import BackgroundDetection
from exodeep_gui.gui.jobs import JobRunner
from exodeep_gui.gui.widgets.layout import message_area
from exodeep_gui.ml.model_folder import ModelFolder
from exodeep_gui.ml.unet import ModelError
from exodeep_gui.ml.models import PUBLISHED, find_local, recommended_filter, resolve_model
from exodeep_gui.paths import bundled_models, portable_model_spec

log = logging.getLogger("exodeep")


def published_label() -> str:
    where = "on this computer" if find_local(PUBLISHED) else "downloaded on first use"
    return f"ExoDeepFinder published model — recommended ({where})"


def model_choices() -> list:
    """(label, model spec) pairs: the published model first (recommended for real data; local or
    downloaded on first use), then the models bundled with the app (offline), by name: the app may
    be moved or upgraded, the name stays."""
    out = [(published_label(), PUBLISHED.name)]
    out += [(f"{p.name} (bundled, offline; trained on simulated movies)", p.name) for p in bundled_models()]
    return out


def folder_label(spec: str) -> str:
    """A model folder in the list: the name it was given when trained (the wizard's Name), and its folder."""
    try:
        name = str(ModelFolder(spec).read_config().get("name") or "")
    except (ModelError, OSError, ValueError):
        name = ""
    folder = Path(spec).name
    return f"{name} (folder {folder})" if name and name != folder else f"{folder} (folder)"


class DetectionPanel(BackgroundDetection, QWidget):
    error = Signal(str, str)
    finished = Signal()
    run_options_changed = Signal(str)      # the precision or the number of views changed

    def __init__(self, state: ViewerState, runner: JobRunner, parent=None):
        super().__init__(parent)
        self.state, self.runner = state, runner
        self.job: Optional[workers.GeneratorWorker] = None

        self.model_box = QComboBox()
        self.model_box.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.model_box.setMinimumContentsLength(18)
        for label, spec in model_choices():
            self.model_box.addItem(label, spec)
        self.model_box.currentIndexChanged.connect(lambda _: state.set_model(self.model_box.currentData()))
        browse = QPushButton("Folder…")
        browse.setObjectName("choose-model-folder")
        browse.setToolTip("Use a model folder (trained with ExoDeep)")
        browse.clicked.connect(self.choose_folder)
        self.get_published = QPushButton("Get the published model…")
        self.get_published.setObjectName("get-published-model")
        self.get_published.setToolTip("Download the published ExoDeepFinder model (11 MB, once; GPL-3.0), the "
                                      "one recommended for real movies")
        self.get_published.clicked.connect(self.download_published)
        self.get_published.setVisible(False)
        self.download_job = None
        self.device_label = QLabel("Device: checked when a model first runs")
        self.device_label.setWordWrap(True)
        self.threshold = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, decimals=2)
        self.threshold.setToolTip("Minimum event score (peak exocytosis probability); applies to every movie")
        self.min_size = QSpinBox(minimum=0, maximum=100000, suffix=" voxels")
        self.min_size.setToolTip("Minimum event size; applies to every movie")
        self.min_confidence = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, decimals=2)
        self.min_confidence.setSpecialValueText("any")
        self.min_confidence.setToolTip("Minimum confidence (how sure the model is that it is an exocytosis: "
                                       "agreement across test-time views, else its class-2 probability); "
                                       "applies to every movie; events without a confidence pass")
        self.threshold.valueChanged.connect(self._filter_edited)
        self.min_size.valueChanged.connect(self._filter_edited)
        self.min_confidence.valueChanged.connect(self._filter_edited)
        self.precision_box = QComboBox()
        for value, label in (("auto", "automatic (fastest that keeps the events)"), ("float32", "float32"),
                             ("bfloat16", "bfloat16 (CPUs with AVX512_BF16 or AMX, GPUs)"), ("float16", "float16 (GPUs)")):
            self.precision_box.addItem(label, value)
        self.precision_box.currentIndexChanged.connect(lambda _: self.run_options_changed.emit(self.precision()))
        self.precision_box.setToolTip("Arithmetic of the network. Automatic: bfloat16 on CPUs that have it (about "
                                      "2× faster, same events), float16 on GPUs, float32 elsewhere")
        self.views_box = QComboBox()
        for value, label in ((1, "1 (one pass)"), (4, "4 (the movie rotated: ×4 time)"),
                             (8, "8 (rotated and mirrored: ×8 time)")):
            self.views_box.addItem(label, value)
        self.views_box.setToolTip("Test-time augmentation: the network looks at the movie turned and mirrored and "
                                  "the views are combined; events only some views see become candidates to accept "
                                  "or reject, and the confidence says how many views agree")
        self.views_box.currentIndexChanged.connect(lambda _: self.run_options_changed.emit(self.precision()))
        self.run_button = QPushButton("Detect in this movie")
        self.run_all_button = QPushButton("Detect in all movies")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.run_button.clicked.connect(lambda: self.run(all_movies=False))
        self.run_all_button.clicked.connect(lambda: self.run(all_movies=True))
        self.cancel_button.clicked.connect(self.cancel)
        self.background = QCheckBox("Detect the next movie meanwhile")
        self.background.setChecked(True)
        self.background.setToolTip("After a detection, the next open movie not yet detected is detected in the "
                                   "background while you review (anything you start goes first)")
        self.bg_job = None
        self._bg_failed: set = set()          # movies whose background detection failed: not tried again
        self.status = QLabel("")
        self.status.setWordWrap(True)

        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.model_box, 1)
        row.addWidget(browse)
        form.addRow("Model", row)
        form.addRow("Score ≥", self.threshold)
        form.addRow("Size ≥", self.min_size)
        form.addRow("Confidence ≥", self.min_confidence)
        form.addRow("Precision", self.precision_box)
        form.addRow("Views", self.views_box)
        buttons = QHBoxLayout()
        for b in (self.run_button, self.run_all_button, self.cancel_button):
            buttons.addWidget(b)
        self.get_published.setSizePolicy(QSizePolicy.Fixed, QSizePolicy.Fixed)
        keep_room = self.get_published.sizePolicy()
        keep_room.setRetainSizeWhenHidden(True)          # showing it moves nothing
        self.get_published.setSizePolicy(keep_room)
        last = QHBoxLayout()
        last.addWidget(self.device_label, 1)
        last.addWidget(self.get_published)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.background)
        # the message has a room of its own, four lines high, that scrolls when it says more: the
        # panel's height never changes, so the rows above are never squeezed and nothing moves
        layout.addWidget(message_area(self.status, lines=4))
        layout.addLayout(last)
        layout.addStretch(1)

        state.filter_changed.connect(self._show_filter)
        state.model_changed.connect(self._model_chosen)
        state.movie_changed.connect(self.show_message)
        state.model_changed.connect(self.cancel_background)
        self.run_options_changed.connect(self.cancel_background)
        runner.changed.connect(self._runner_changed)
        self._show_filter(state.filter)
        self._show_model(state.model)
        self._update_published_button()

    # ---- state → widgets
    def _show_filter(self, flt: EventFilter) -> None:
        for box, value in ((self.threshold, flt.threshold), (self.min_size, flt.min_size),
                           (self.min_confidence, flt.min_confidence)):
            if box.value() != value:
                box.blockSignals(True)
                box.setValue(value)
                box.blockSignals(False)

    def _show_model(self, spec: str) -> None:
        spec = portable_model_spec(spec)
        if Path(spec).is_dir():
            spec = str(Path(spec).resolve())         # one entry per folder, however it was named
        i = self.model_box.findData(spec)
        if i < 0:
            self.model_box.blockSignals(True)
            self.model_box.addItem(folder_label(spec), spec)
            self.model_box.blockSignals(False)
            i = self.model_box.count() - 1
        if i != self.model_box.currentIndex():
            self.model_box.blockSignals(True)
            self.model_box.setCurrentIndex(i)
            self.model_box.blockSignals(False)

    def _model_chosen(self, spec: str) -> None:
        """A model the user picks (list, folder, the wizard's new model) sets the filter to the
        threshold and minimum size its folder recommends (chosen on its validation movies when it
        was trained), if it recommends one; the published model, the paper's filter (score ≥ 0.5, any
        size: it kept the previous model's minimum size); the filter restored at start-up stays as it
        was saved."""
        self._show_model(spec)
        if spec == PUBLISHED.name:
            self.state.set_filter(EventFilter(DEFAULT_FILTER.threshold, DEFAULT_FILTER.min_size,
                                              self.state.filter.min_confidence))
        elif spec:
            try:
                config = resolve_model(spec, download=False).config
            except ValueError:
                return                    # a broken or missing model is reported when it runs
            if config.get("recommended"):
                self.state.set_filter(EventFilter(*recommended_filter(config), self.state.filter.min_confidence))

    # ---- widgets → state
    def _filter_edited(self) -> None:
        self.state.set_filter(EventFilter(self.threshold.value(), self.min_size.value(), self.min_confidence.value()))

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose an ExoDeep model folder")
        if folder:
            self.state.set_model(portable_model_spec(str(Path(folder).resolve())))

    def options(self) -> DetectOptions:
        """The frozen options the job gets (it never reads these widgets). No filter: the window keeps
        every event the network finds and filters them itself (the viewer state's filter), so that a
        changed filter shows at once without running the network again."""
        return DetectOptions(model=self.state.model, precision=self.precision(), tta=self.views())

    def views(self) -> int:
        return int(self.views_box.currentData())

    def set_views(self, value: int) -> None:
        i = self.views_box.findData(int(value))
        self.views_box.setCurrentIndex(i if i >= 0 else 0)

    def precision(self) -> str:
        return self.precision_box.currentData()

    def set_precision(self, value: str) -> None:
        i = self.precision_box.findData(value)
        self.precision_box.setCurrentIndex(i if i >= 0 else 0)

    # ---- running
    @property
    def running(self) -> bool:
        return self.job is not None

    def run(self, all_movies: bool = False) -> None:
        if self.running:
            return
        docs = list(self.state.docs) if all_movies else ([self.state.current] if self.state.current else [])
        if not docs:
            self.status.setText("Open a movie first (drag it onto the window).")
            return
        self._docs = {d.uid: d for d in docs}
        movies = [(d.uid, d.movie) for d in docs]
        title = "Detecting in " + (f"{len(docs)} movies" if len(docs) > 1 else docs[0].name)
        self.status.setText("Waiting for the running job…" if self.runner.busy else "Starting…")
        self._set_running(True)
        self.job = self.runner.start("detect", title, workers.detect_generator, self.state.model, movies,
                                     self.options(), self.runner.engine, fallback=True, on_progress=self._progress,
                                     on_result=self._result, on_failed=self._failed, on_cancelled=self._cancelled,
                                     on_done=self._done)

    def cancel(self) -> None:
        if self.job is not None:
            self.status.setText("Cancelling…")
            self.runner.cancel(self.job)              # a job still waiting ends at once (and says so)

    def _cancelled(self) -> None:
        self.status.setText("Cancelled; nothing was changed.")

    def _set_running(self, on: bool) -> None:
        self.run_button.setEnabled(not on)
        self.run_all_button.setEnabled(not on)
        self.cancel_button.setEnabled(on)
        self.model_box.setEnabled(not on)

    def _runner_changed(self) -> None:
        if self.job is not None and self.runner.current is self.job:
            self.status.setText("Running…")

    def _progress(self, p) -> None:
        if p.stage == "device":
            self.device_label.setText("Runs on: " + p.message)

    def _result(self, results) -> None:
        results = [(self._docs.get(key), detection) for key, detection in results]
        results = [(doc, d) for doc, d in results if doc is not None and doc in self.state.docs]
        notes = sorted({(d.model_name, d.note) for _, d in results if d.note})
        before = self.state.filter
        if notes:                     # offline: the bundled model ran instead of the published one
            self._ran_instead(notes[0][0])   # (its recommended filter applies to the merge and the counts)
        filter_note = (f" The filter is the bundled model's recommended one now ({self.state.filter.describe()}; "
                       f"it was {before.describe()})." if self.state.filter != before else "")
        for doc, detection in results:
            self.take_detection(doc, detection, "Done with")
            if detection.note:
                doc.detection_message += f"\n{detection.note[0].upper()}{detection.note[1:]}.{filter_note}"
        self.show_message(self.state.current, force=True)
        if len(results) > 1:
            self.status.setText(f"Detected in {len(results)} movies. " + self.status.text())

    def take_detection(self, doc, detection, how: str) -> None:
        """``doc``'s review takes ``detection`` (state.set_detection: merged, undoable); what the panel
        says of it (``how``: "Done with", "Detected in the background with") and the log."""
        summary = self.state.set_detection(doc, detection)
        shown = len(self.state.events(doc))
        doc.detection_message = (f"{how} {detection.model_name}: {shown} events ({summary.message()}). "
                                 "Edit > Undo takes it back.")
        log.info("%s: %s %s (%s): %d events shown; %s", doc.movie.source or doc.name, how, detection.model_name,
                 detection.options.precision, shown, summary.message())

    def show_message(self, doc, force: bool = False) -> None:
        """What the panel says: the running job's state, else what it last said about the movie
        shown (each movie keeps its own message)."""
        if self.job is not None and not force:
            return
        if doc is None:
            self.status.setText("")
        elif self.bg_job is not None and doc is self._bg_doc:
            self.status.setText("Being detected in the background… (Detect starts it again in the foreground)")
        else:
            self.status.setText(doc.detection_message or self._restored_message(doc))

    def _restored_message(self, doc) -> str:
        """What to say of a movie this session has not detected in: detected in an earlier session (its
        review file says with which model), or not yet."""
        detected = int(np.count_nonzero(doc.rows.extra["origin"] == review.DETECTED)) if len(doc.rows) else 0
        if not detected:
            return "Not detected yet: press Detect in this movie (Ctrl+D)."
        shown = len(self.state.events(doc))
        model = f" with {doc.model_name}" if doc.model_name else ""
        return (f"Detected earlier{model}; your review was restored ({shown} events shown). Detect in this "
                f"movie runs again and keeps your review.")

    def _ran_instead(self, name: str) -> None:
        """The bundled model ran because the published one could not be had: it becomes the model
        in use (the list shows what ran) and one click gets the published model later."""
        self.state.set_model(name)
        self._update_published_button()

    def _update_published_button(self) -> None:
        self.get_published.setVisible(find_local(PUBLISHED) is None)
        i = self.model_box.findData(PUBLISHED.name)
        if i >= 0:
            self.model_box.setItemText(i, published_label())

    def download_published(self) -> None:
        """Download the published model (a light job: no framework, a few seconds)."""
        if self.download_job is not None:
            return
        self.get_published.setEnabled(False)
        self.status.setText("Downloading the published ExoDeepFinder model (11 MB)…")
        self.download_job = self.runner.start("download", "Downloading the published model", workers.download_generator,
                                              PUBLISHED.name, on_result=self._downloaded, on_failed=self._download_failed,
                                              on_done=self._download_done, light=True)   # beside a detection

    def _downloaded(self, _path) -> None:
        self._update_published_button()
        self.state.set_model(PUBLISHED.name)
        self.status.setText("The published ExoDeepFinder model is on this computer now and in use: press Detect "
                            "to run it.")

    def _download_failed(self, message: str, details: str) -> None:
        log.info("download of the published model failed: %s", message)
        self.status.setText("The published model could not be downloaded now (no internet connection?). Try again "
                            "when this computer is online.")

    def _download_done(self) -> None:
        self.download_job = None
        self.get_published.setEnabled(True)

    def _failed(self, message: str, details: str) -> None:
        exc = self.job.exception if self.job is not None else None
        message = getattr(exc, "window_text", None) or message      # a model's problem in the window's words
        self.status.setText("Detection failed: " + message)
        self.error.emit(message, details)

    def _done(self) -> None:
        succeeded = self.job is not None and self.job.exception is None and not self.job.token.cancelled
        self.job = None
        self._set_running(False)
        self.finished.emit()
        if succeeded:
            QTimer.singleShot(0, self.detect_next_in_background)
