"""Training and fine-tuning: the multiclass curriculum, event-level validation, checkpoints.

``train`` starts a run and ``resume`` continues an unfinished one; both are generators: they
yield :class:`TrainProgress` reports (stage, step, loss, validation scores, steps/s, time
left), honour a cancel token, and return a :class:`TrainResult`. Everything a run needs is in
a frozen :class:`TrainOptions`, which the checkpoint (:class:`RunState`) keeps, so resuming takes
only the folder. A run is a :class:`TrainingRun` whose named steps are its methods: prepare the
data, build the model, train each stage (steps, validations, snapshots, checkpoints), write the
outputs, calibrate the filter.

The output is an ExoDeep model folder, laid out by :mod:`exodeep_gui.ml.model_folder`
(config, best/last weights, history, validation reports, checkpoint, snapshots).

Validation is what users care about: full-movie detection on the validation movies and the
paper's event matching (precision, recall, F1), at the end of every stage and every
``validate_every`` steps.
"""

from __future__ import annotations

import math
import platform
import time
from typing import Generator, Optional, Sequence

import numpy as np

from exodeep_gui import __version__
from exodeep_gui.core.progress import CancelToken, Cancelled, Progress
from exodeep_gui.ml.model_folder import BEST, LAST, Checkpoint, ModelFolder, model_config, save_weights
from exodeep_gui.ml.training.dataset import TrainingItem, prepare_items, summary
from exodeep_gui.ml.training.options import (RunState, TrainOptions, TrainProgress, TrainResult, items_from_rows,
                                             rows_of)
from exodeep_gui.ml.training.patches import Augment, PatchSampler
from exodeep_gui.ml.training.schedule import Stage, to_list
from exodeep_gui.ml.training.validation import calibrate, validate, validation_loss
from exodeep_gui.ml.unet import ModelError, UNetSpec

__all__ = ["TrainOptions", "TrainProgress", "TrainResult", "RunState", "TrainingRun", "train", "resume",
           "items_from_rows", "tversky_loss"]


# ---------------------------------------------------------------- loss
def tversky_loss(alpha: float = 0.5, beta: float = 0.5):
    """Tversky loss over one-hot targets: n_classes − Σ_c TP/(TP + α·FP + β·FN), with the sums
    over batch, t, y and x together (one score per class per batch, as the reference); a tiny
    epsilon keeps an absent class finite."""
    from keras import ops

    def loss(y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        y_true = ops.cast(y_true, "float32")
        axes = tuple(range(len(y_pred.shape) - 1))
        tp = ops.sum(y_pred * y_true, axis=axes)
        fp = ops.sum(y_pred * (1.0 - y_true), axis=axes)
        fn = ops.sum((1.0 - y_pred) * y_true, axis=axes)
        score = tp / (tp + alpha * fp + beta * fn + 1e-7)
        return ops.cast(ops.shape(y_pred)[-1], "float32") - ops.sum(score)

    loss.__name__ = "tversky"
    return loss


# ---------------------------------------------------------------- hardware choices
def has_gpu() -> bool:
    from exodeep_gui.ml.device import describe_device

    return "GPU" in describe_device()


def _resolve(flag: str, gpu: bool) -> bool:
    return gpu if flag == "auto" else flag == "on"


# ---------------------------------------------------------------- model, optimiser, checkpoint
def write_checkpoint(folder: ModelFolder, model, state: dict) -> None:
    """The model's weights, its optimiser's variables and ``state`` into the folder's checkpoint."""
    from keras import ops

    opt = getattr(model, "optimizer", None)
    arrays = [ops.convert_to_numpy(v) for v in opt.variables] if opt is not None and opt.built else []
    folder.write_checkpoint(model.save_weights, arrays, state)


def _compile(model, options: TrainOptions, jit: bool):
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=options.learning_rate, beta_1=0.9,
                                                  beta_2=0.999, epsilon=1e-8),
                  loss=tversky_loss(options.alpha, options.beta), jit_compile=jit)
    model.optimizer.build(model.trainable_variables)


def _restore_optimizer(model, path) -> None:
    with np.load(path) as npz:
        arrays = [npz[f"arr_{i}"] for i in range(len(npz.files))]
    variables = model.optimizer.variables
    if arrays and len(arrays) == len(variables):
        for v, a in zip(variables, arrays):
            v.assign(a)


def _initial_model(options: TrainOptions, mixed: bool):
    from exodeep_gui.ml.models import load_keras_model, resolve_model
    from exodeep_gui.ml.unet import build_unet

    if options.start_from:
        info = resolve_model(options.start_from)
        return load_keras_model(info, mixed_precision=mixed), info.spec, info.name
    spec = UNetSpec(filters=tuple(options.filters))
    return build_unet(spec, mixed_precision=mixed), spec, None


# ---------------------------------------------------------------- starting and resuming
def train(train_items: Sequence[TrainingItem], valid_items: Sequence[TrainingItem], out_dir,
          options: TrainOptions = TrainOptions(), *, overwrite: bool = False,
          cancel: Optional[CancelToken] = None) -> Generator[Progress, None, TrainResult]:
    """Train (or fine-tune) a model into the new (or empty) folder ``out_dir``; with ``overwrite``
    a folder that holds a model or an unfinished run is reused (its checkpoint and snapshots
    are cleared). See the module docstring."""
    folder = ModelFolder(out_dir)
    folder.check_new_run(overwrite)
    if overwrite:
        folder.clear_run()
    state = RunState(options, rows_of(train_items), rows_of(valid_items))
    return (yield from TrainingRun(folder, state, None, cancel).run())


def resume(out_dir, *, cancel: Optional[CancelToken] = None) -> Generator[Progress, None, TrainResult]:
    """Continue the unfinished run in ``out_dir`` from its checkpoint, with the options and data
    the run started with (a finished run is refused: it has no checkpoint)."""
    folder = ModelFolder(out_dir)
    folder.settle_checkpoint()                    # a run killed in the middle of a checkpoint swap
    ckpt = folder.read_checkpoint()
    return (yield from TrainingRun(folder, RunState.from_dict(ckpt.state), ckpt, cancel).run())


# ---------------------------------------------------------------- the run
class TrainingRun:
    """One run, from the start (``ckpt`` None) or from a checkpoint, in named steps.

    Killed at any moment, the folder stays usable: its ``config.json`` is written before the first
    step (status "running"), the checkpoint is swapped in atomically and ``weights_last`` and
    ``history.csv`` follow each checkpoint, so that ``resume`` loses no step before the last
    checkpoint and the last weights (or a snapshot) can detect meanwhile."""

    def __init__(self, folder: ModelFolder, state: RunState, ckpt: Optional[Checkpoint],
                 cancel: Optional[CancelToken]):
        self.folder, self.state, self.ckpt, self.cancel = folder, state, ckpt, cancel
        self.options = state.options
        self.schedule = self.options.schedule
        self.model = self.spec = self.started_from = None
        self.sampler = self.valid_sampler = None
        self.train_movies: list = []
        self.valid_movies: list = []

    # ---- the steps, in order
    def run(self) -> Generator[Progress, None, TrainResult]:
        from exodeep_gui.ml.unet import import_keras

        self.keras = import_keras()
        self.folder.path.mkdir(parents=True, exist_ok=True)
        self.folder.clear_partial()                        # what a killed run left half-written
        yield from self.prepare_data()
        self.build_model()
        self.begin_session()
        self.write_config("running")                       # the folder is a model (of this run) from now on
        yield TrainProgress("train", 0, max(1, self.options.total_steps - self.state.global_step), "starting", 0.0,
                            n_stages=len(self.schedule))
        try:
            for stage_idx in range(self.state.stage, len(self.schedule)):
                yield from self.train_stage(stage_idx)
        except Cancelled:
            self.save_checkpoint()
            self.write_outputs("cancelled")
            raise
        self.write_outputs("finished")
        yield from self.calibrate()
        self.folder.clear_checkpoint()
        s = self.state
        return TrainResult(self.folder.path, s.global_step, s.best, s.validations[-1] if s.validations else None,
                           s.history)

    def prepare_data(self) -> Generator[Progress, None, None]:
        """The training and validation movies with their targets and counter-examples, and the
        patch samplers (every stage's patch must fit in the movies)."""
        o = self.options
        spots = o.spot_params()
        self.train_movies = yield from prepare_items(items_from_rows(self.state.train), spots, seed=o.seed,
                                                     cancel=self.cancel)
        self.valid_movies = yield from prepare_items(items_from_rows(self.state.valid), spots, seed=o.seed + 1000,
                                                     cancel=self.cancel)
        self.sampler = PatchSampler(self.train_movies, background_share=o.background_share,
                                    augment=Augment(intensity=o.augment_intensity))
        for stage in self.schedule:
            self.sampler.check_fits(stage.patch)
        self.valid_sampler = PatchSampler(self.valid_movies, background_share=o.background_share,
                                          augment=Augment(dihedral=False)) if self.valid_movies else None

    def build_model(self) -> None:
        """The network to train (fine-tuned from ``start_from``, else new), its precision and
        compilation mode, and the random state (the checkpoint's when resuming)."""
        gpu = has_gpu()
        self.mixed, self.jit = _resolve(self.options.mixed_precision, gpu), _resolve(self.options.jit_compile, gpu)
        self.keras.utils.set_random_seed(self.options.seed)
        self.model, self.spec, self.started_from = _initial_model(self.options, self.mixed)
        self.rng = np.random.default_rng(self.options.seed)
        if self.ckpt is not None:
            self.model.load_weights(self.ckpt.weights)
            self.rng.bit_generator.state = self.state.rng

    def begin_session(self) -> None:
        """This session's clock and the voxels it has to train (for steps/s and time left, also
        after a resume)."""
        self.t0 = time.perf_counter()
        self.elapsed0 = self.state.elapsed_s
        self.start_global = self.state.global_step
        self.work0 = self._work_until(self.state.stage, self.state.stage_step)
        self.work_total = self._work_until(len(self.schedule), 0) - self.work0
        self.data = {"train": summary(self.train_movies), "valid": summary(self.valid_movies)}

    def train_stage(self, stage_idx: int) -> Generator[Progress, None, None]:
        """One stage of the schedule: a fresh Adam (as the reference), then its steps, with the
        validations, snapshots and checkpoints they call for; a checkpoint at its end."""
        stage, s, o = self.schedule[stage_idx], self.state, self.options
        _compile(self.model, o, self.jit)
        resuming = stage_idx == s.stage and s.stage_step > 0
        if resuming and self.ckpt is not None:
            _restore_optimizer(self.model, self.ckpt.optimizer)
        s.stage, s.stage_step = stage_idx, (s.stage_step if resuming else 0)
        while s.stage_step < stage.steps:
            if self.cancel is not None:
                self.cancel.raise_if_cancelled()
            loss = self.step(stage_idx, stage)
            validation = None
            end_of_stage = s.stage_step == stage.steps
            if self.valid_movies and (end_of_stage or (o.validate_every and s.stage_step % o.validate_every == 0)):
                validation = self.validate(stage_idx, stage)
            if o.snapshot_every and s.global_step % o.snapshot_every == 0:
                self.folder.save_snapshot(self.model, s.global_step)
            if o.checkpoint_every and s.stage_step % o.checkpoint_every == 0 and not end_of_stage:
                self.save_checkpoint()
            yield self.report(stage_idx, stage, loss, validation)
        s.stage, s.stage_step = stage_idx + 1, 0
        self.save_checkpoint()

    def step(self, stage_idx: int, stage: Stage) -> float:
        """One optimiser step on a batch of patches; its loss, kept in the history."""
        s = self.state
        x, y = self.sampler.sample(stage.patch, stage.batch, stage.shift, self.rng)
        loss = float(np.asarray(self.model.train_on_batch(x, y)))
        if not math.isfinite(loss):
            raise ModelError(f"training diverged at step {s.global_step + 1} (loss {loss}); try a lower learning rate")
        s.stage_step += 1
        s.global_step += 1
        s.history.append({"step": s.global_step, "stage": stage_idx + 1, "patch": stage.patch,
                          "loss": round(loss, 6), "elapsed_s": round(self.elapsed(), 2)})
        return loss

    def validate(self, stage_idx: int, stage: Stage) -> dict:
        """Full-movie detection on the validation movies (the paper's matching) and the loss on
        validation patches; the best weights so far are kept."""
        s, o = self.state, self.options
        rep = validate(self.model, self.spec, self.valid_movies, o.threshold, self.cancel)
        vrng = np.random.default_rng(o.seed + 7)
        batches = [self.valid_sampler.sample(stage.patch, stage.batch, stage.shift, vrng) for _ in range(2)]
        rep.update(step=s.global_step, stage=stage_idx + 1, patch=stage.patch,
                   val_loss=validation_loss(self.model, batches), elapsed_s=round(self.elapsed(), 1))
        s.validations.append(rep)
        if s.history:
            s.history[-1].update(val_loss=rep["val_loss"], precision=rep["precision"], recall=rep["recall"],
                                 f1=rep["f1"])
        if s.best is None or rep["f1"] >= s.best["f1"]:
            s.best = {k: rep[k] for k in ("step", "stage", "precision", "recall", "f1", "tp", "fp", "fn")}
            save_weights(self.model, self.folder.best)
        return rep

    def calibrate(self) -> Generator[Progress, None, None]:
        """The score threshold and minimum size the best weights do best with on the validation
        movies, kept in the folder as its recommended filter."""
        if not self.valid_movies:
            return
        yield TrainProgress("calibrate", 0, 1, "choosing the score threshold and minimum size on the validation "
                            "movies", time.perf_counter() - self.t0, n_stages=len(self.schedule),
                            global_step=self.state.global_step)
        self.model.load_weights(self.folder.best)
        cfg = self.folder.read_config()
        cfg["recommended"] = calibrate(self.model, self.spec, self.valid_movies, self.cancel)
        self.folder.write_config(cfg)

    # ---- what the steps write
    def save_checkpoint(self) -> None:
        self.state.rng = self.rng.bit_generator.state
        self.state.elapsed_s = self.elapsed()
        write_checkpoint(self.folder, self.model, self.state.to_dict())
        save_weights(self.model, self.folder.last)
        self.folder.write_history(self.state.history)

    def write_config(self, status: str) -> None:
        s, o = self.state, self.options
        cfg = model_config(self.spec, BEST, schedule=to_list(self.schedule), training={
            "status": status, "steps": s.global_step, "total_steps": o.total_steps, "options": o.to_dict(),
            "started_from": self.started_from, "data": self.data, "best": s.best,
            "last": s.validations[-1] if s.validations else None, "wall_time_s": round(self.elapsed(), 1),
            "backend": self.keras.backend.backend(), "hardware": _hardware(), "mixed_precision": self.mixed,
            "exodeep_version": __version__}, weights_last=LAST)
        self.folder.write_config(cfg)

    def write_outputs(self, status: str) -> None:
        save_weights(self.model, self.folder.last)
        if self.state.best is None or not self.folder.best.is_file():
            save_weights(self.model, self.folder.best)
        self.write_config(status)
        self.folder.write_history(self.state.history)
        self.folder.write_validation(self.state.validations)

    # ---- time and reports
    def elapsed(self) -> float:
        return self.elapsed0 + time.perf_counter() - self.t0

    def _work_until(self, stage_idx: int, stage_step: int) -> float:
        """Voxels trained on from the start of the schedule to (stage, step)."""
        done = sum(s.voxels_per_step * s.steps for s in self.schedule[:stage_idx])
        return done + (self.schedule[stage_idx].voxels_per_step * stage_step if stage_idx < len(self.schedule) else 0)

    def report(self, stage_idx: int, stage: Stage, loss: float, validation: Optional[dict]) -> TrainProgress:
        """done/total/elapsed count this session's steps, so that steps/s and time left stay right
        after a resume; global_step is the position in the whole schedule."""
        s, n = self.state, len(self.schedule)
        msg = (f"stage {stage_idx + 1}/{n} ({stage.patch}³ patches) step {s.stage_step}/{stage.steps}"
               f" loss {loss:.3f}" + (f" validation F1 {validation['f1']:.3f}" if validation else ""))
        total = self.options.total_steps
        return TrainProgress("train", s.global_step - self.start_global, max(1, total - self.start_global), msg,
                             time.perf_counter() - self.t0, stage_index=stage_idx, n_stages=n,
                             stage_step=s.stage_step, patch=stage.patch, loss=loss, validation=validation,
                             best_f1=None if s.best is None else s.best["f1"], global_step=s.global_step,
                             work_done=self._work_until(stage_idx, s.stage_step) - self.work0,
                             work_total=self.work_total)


def _hardware() -> str:
    import os

    from exodeep_gui.ml.device import describe_device

    return f"{describe_device()}; {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
