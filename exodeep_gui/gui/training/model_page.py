"""Wizard page 3, Model and schedule: what to start from, the preset and its editable stages,
simulated movies to mix in, where the new model goes, and a short measured trial on this
computer (device, time per step, the whole run's wall time; a batch too large for the memory is
lowered with a message). A folder that holds an unfinished run is offered for resuming."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWizardPage)

from exodeep_gui.core.progress import clock_text
from exodeep_gui.ml.training.schedule import PRESET_HELP, PRESETS, ScheduleError, Stage
from exodeep_gui.gui import workers
from exodeep_gui.gui.training.plan import VALID, TrainingPlan
from exodeep_gui.ml.training import job as training_job
from exodeep_gui.ml.model_folder import ModelFolder
from exodeep_gui.ml.models import PUBLISHED, find_local, resolve_model
from exodeep_gui.paths import bundled_models, portable_model_spec

STAGE_COLUMNS = ("patch", "batch", "shift", "steps")
SCRATCH = "__scratch__"
CUSTOM = "__custom__"


def _is_here(spec: str) -> bool:
    """``spec`` names a model on this computer (nothing is downloaded to find out)."""
    try:
        resolve_model(spec, download=False)
        return True
    except ValueError:
        return False


DEFAULT_REPLAY = 2          # simulated movies mixed into the training data unless the user says otherwise


class ModelPage(QWizardPage):
    def __init__(self, plan: TrainingPlan, state, runner, parent=None):
        super().__init__(parent)
        self.plan, self.state, self.runner = plan, state, runner
        self.setTitle("3. Model and schedule")
        self.setSubTitle("Fine-tuning a base model (the published one when it is on this computer, else the "
                         "bundled one) on all your reviewed movies is the usual choice.")
        self.start = QComboBox()
        self._fill_start()
        self.start.currentIndexChanged.connect(self._start_changed)
        self.start_path = ""
        self.preset = QComboBox()
        for name in ("finetune", "paper", "quick"):
            self.preset.addItem(f"{name}: {PRESET_HELP[name]}", name)
        self.preset.currentIndexChanged.connect(self._preset_chosen)
        self.stages = QTableWidget(0, len(STAGE_COLUMNS))
        self.stages.setHorizontalHeaderLabels(("patch (voxels)", "batch", "shift (±voxels)", "steps"))
        self.stages.verticalHeader().setVisible(True)
        self.stages.itemChanged.connect(lambda _: self._schedule_edited())
        # 2 by default: a replay set kept the base's F1 on what it knew, and cost nothing measurable on the
        # new kind (README, "Forgetting on the CPU schedule"; benchmarks/bench_forgetting.py)
        self.simulated = QSpinBox(minimum=0, maximum=20, value=DEFAULT_REPLAY, suffix=" simulated movies")
        self.simulated.setToolTip("Mix movies from the built-in simulator into the training data, so that "
                                  "fine-tuning on your movies does not forget what the model knew (0: none)")
        self.validate_every = QSpinBox(minimum=0, maximum=100000, value=0, specialValueText="at the end of each stage")
        self.folder = QLineEdit()
        browse = QPushButton("Folder…")
        browse.clicked.connect(self._choose_folder)
        self.folder.editingFinished.connect(self._folder_changed)
        self.name = QLineEdit()
        self.notes = QLineEdit()
        self.notes.setPlaceholderText("e.g. fine-tuned on 3 RPE-1 VAMP7 movies of 2026-11")
        self.resume_label = QLabel("")
        self.resume_label.setWordWrap(True)
        self.resume_button = QPushButton("Resume that run")
        self.resume_button.setVisible(False)
        self.trial_button = QPushButton("Measure on this computer")
        self.trial_button.setToolTip("A few steps of every stage: the time per step, the whole run's time, "
                                     "and whether the largest batch fits in memory")
        self.trial_button.clicked.connect(self.run_trial)
        self.trial_label = QLabel("Device and time: press “Measure on this computer”.")
        self.trial_label.setWordWrap(True)
        self.resume_requested = False
        self.resume_button.clicked.connect(self._resume)

        form = QFormLayout()
        form.addRow("Start from", self.start)
        form.addRow("Preset", self.preset)
        form.addRow("Stages", self.stages)
        form.addRow("Validate", self.validate_every)
        form.addRow("Mix in", self.simulated)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        form.addRow("New model folder", row)
        form.addRow("Name", self.name)
        form.addRow("Notes", self.notes)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.resume_label)
        layout.addWidget(self.resume_button)
        trial = QHBoxLayout()
        trial.addWidget(self.trial_button, 0, Qt.AlignTop)      # stays put when the result below grows
        trial.addWidget(self.trial_label, 1)
        layout.addLayout(trial)
        self.trial_job = None
        self.set_schedule(PRESETS["finetune"])

    def initializePage(self) -> None:
        self._fill_start()
        if not self.folder.text():
            self.folder.setText(self.plan.folder or self.plan.default_folder())
            self.name.setText(Path(self.folder.text()).name)
        self._folder_changed()

    def revisit(self) -> None:
        """Shown again (Back from a run): if the folder holds the model a run just made, the next
        run goes into a new folder, and the page says so (Next was greyed with no reason)."""
        folder = ModelFolder(self.folder.text()) if self.folder.text() else None
        if folder is not None and folder.is_model() and not folder.is_unfinished():
            done = folder.path
            self.folder.setText(self.plan.default_folder())
            self.name.setText(Path(self.folder.text()).name)
            self._folder_changed()
            self.resume_label.setText(f"The last run's model is in {done}; a new run goes into a new folder "
                                      f"({Path(self.folder.text()).name}).")
        else:
            self._folder_changed()

    # ---- schedule
    def set_schedule(self, schedule) -> None:
        self.stages.blockSignals(True)
        self.stages.setRowCount(len(schedule))
        for i, s in enumerate(schedule):
            for c, v in enumerate((s.patch, s.batch, s.shift, s.steps)):
                self.stages.setItem(i, c, QTableWidgetItem(str(v)))
        self.stages.blockSignals(False)
        self._schedule_edited()

    def _preset_chosen(self) -> None:
        if self.preset.currentData() in PRESETS:
            self.set_schedule(PRESETS[self.preset.currentData()])

    def schedule(self):
        rows = []
        for i in range(self.stages.rowCount()):
            vals = [int(self.stages.item(i, c).text()) for c in range(len(STAGE_COLUMNS))]
            rows.append(Stage(*vals))
        return tuple(rows)

    def _schedule_edited(self) -> None:
        try:
            schedule = self.schedule()
            self.trial_label.setText("Device and time: press “Measure on this computer”.")
        except (ValueError, ScheduleError) as exc:
            schedule = None
            self.trial_label.setText(f"Stages: {exc}")
        self._show_preset(schedule)
        self.completeChanged.emit()

    def _show_preset(self, schedule) -> None:
        """The preset box names the preset the stages are, else "custom" (it kept a preset's name
        after the table was edited)."""
        name = next((n for n, p in PRESETS.items() if schedule is not None and tuple(p) == tuple(schedule)), CUSTOM)
        if name == CUSTOM and self.preset.findData(CUSTOM) < 0:
            self.preset.addItem("custom: the stages below, as edited", CUSTOM)
        i = self.preset.findData(name)
        if i != self.preset.currentIndex():
            self.preset.blockSignals(True)
            self.preset.setCurrentIndex(i)
            self.preset.blockSignals(False)

    # ---- start model
    def _fill_start(self) -> None:
        """Only models that are on this computer: the published one if it is here, the bundled ones,
        the model in use for detection (if it is another one and is here), a folder, or scratch.
        The choice made before is kept when it is still offered."""
        kept = self.start.currentData()
        self.start.blockSignals(True)
        self.start.clear()
        if find_local(PUBLISHED) is not None:
            self.start.addItem("ExoDeepFinder published model (recommended)", PUBLISHED.name)
        for p in bundled_models():
            self.start.addItem(f"{p.name} (bundled; trained on simulated movies)", p.name)
        in_use = portable_model_spec(self.state.model)
        if self.start.findData(in_use) < 0 and _is_here(in_use):
            self.start.addItem(f"The model in use for detection ({Path(in_use).name})", in_use)
        self.start.addItem("A model folder…", "folder")
        self.start.addItem("From scratch (a new network)", SCRATCH)
        i = self.start.findData(kept) if kept is not None else -1
        self.start.setCurrentIndex(i if i >= 0 else 0)
        self.start.blockSignals(False)

    def _start_changed(self) -> None:
        if self.start.currentData() == "folder":
            folder = QFileDialog.getExistingDirectory(self, "Start from this model folder")
            self.start_path = folder or ""
            if not folder:
                self.start.setCurrentIndex(0)
        if self.start.currentData() == SCRATCH and self.preset.currentData() == "finetune":
            self.preset.setCurrentIndex(self.preset.findData("quick"))
        self.completeChanged.emit()

    def start_from(self):
        data = self.start.currentData()
        if data == "folder":
            return self.start_path or None
        return None if data == SCRATCH else data

    # ---- output folder (and an unfinished run in it)
    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for the new model (new or empty)")
        if folder:
            self.folder.setText(folder)
            self._folder_changed()

    def _folder_changed(self) -> None:
        folder = ModelFolder(self.folder.text()) if self.folder.text() else None
        unfinished = folder is not None and folder.is_unfinished()
        self.resume_button.setVisible(unfinished)
        if unfinished:
            from exodeep_gui.ml.training.job import describe_folder

            info = describe_folder(folder.path)
            where = f" (step {info['step']} of {info['total']})" if "step" in info else ""
            self.resume_label.setText(f"{folder.path} holds an unfinished training run{where}. Resume it, or "
                                      "choose another folder for a new model.")
        elif folder is not None and folder.path.exists() and any(folder.path.iterdir()):
            self.resume_label.setText(f"{folder.path} is not empty: a new model needs a new or empty folder.")
        else:
            self.resume_label.setText("")
        self.completeChanged.emit()

    def _resume(self) -> None:
        self.resume_requested = True
        self.plan.folder = str(ModelFolder(self.folder.text()).path)
        self.wizard().next()

    def isComplete(self) -> bool:
        try:
            self.schedule()
        except (ValueError, ScheduleError):
            return False
        folder = self.folder.text().strip()
        if not folder:
            return False
        path = Path(folder)
        return not (path.exists() and any(path.iterdir()))

    def validatePage(self) -> bool:
        self.plan.options = replace(self.plan.options, schedule=self.schedule(), start_from=self.start_from(),
                                    validate_every=self.validate_every.value())
        self.plan.simulated = self.simulated.value()
        self.plan.folder = str(Path(self.folder.text().strip()).expanduser().resolve())
        self.plan.name, self.plan.notes = self.name.text().strip(), self.notes.text().strip()
        self.plan.start_label = self.start.currentText()
        self.resume_requested = False
        return True

    # ---- the trial
    def run_trial(self) -> None:
        if self.trial_job is not None:
            return
        self.validatePage()
        voxels = sum(int(r.shape[0]) * int(r.shape[1]) * int(r.shape[2]) for r in self.plan.rows if r.role == VALID)
        self.trial_button.setEnabled(False)
        self.trial_label.setText("Measuring… (a minute or two: the network is built and a few steps run)")
        self.trial_job = self.runner.start("trial", "measuring training speed", workers.in_child, training_job.trial,
                                           self.plan.options, 2, 32, float(voxels), on_progress=self._trial_progress,
                                           on_result=self._trial_result, on_failed=self._trial_failed,
                                           on_done=self._trial_done)

    def _trial_progress(self, p) -> None:
        self.trial_label.setText("Measuring: " + p.message)

    def _trial_result(self, result: dict) -> None:
        from exodeep_gui.ml.training.job import lowered

        self.trial_result = result
        lines = [f"Runs on: {result['device']}."]
        lines += [f"Stage {i + 1} ({s['patch']}³ × {s['batch']}): {s['s_per_step']:.2f} s per step"
                  for i, s in enumerate(result["stages"])]
        lines += result["messages"]
        lines.append(f"Estimated wall time: {clock_text(result['total_s'])} (of which validation "
                     f"{clock_text(result['validation_s'])}).")
        if result["messages"]:
            self.set_schedule(lowered(self.plan.options, result).schedule)
        self.trial_label.setText("\n".join(lines))

    def _trial_failed(self, message: str, details: str) -> None:
        self.trial_label.setText("The trial failed: " + message)

    def _trial_done(self) -> None:
        self.trial_job = None
        self.trial_button.setEnabled(True)
