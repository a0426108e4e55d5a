"""Training and fine-tuning: the multiclass curriculum, event-level validation, checkpoints.

``train`` starts a run and ``resume`` continues an unfinished one; both are generators: they
yield :class:`TrainProgress` reports (stage, step, loss, validation scores, steps/s, time
left), honour a cancel token, and return a :class:`TrainResult`. Everything a run needs is in
a frozen :class:`TrainOptions`, which a checkpoint keeps, so resuming takes only the folder.

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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Generator, List, Optional, Sequence, Tuple

import numpy as np

from exodeep_gui import __version__
from exodeep_gui.core.patches import Augment, PatchSampler
from exodeep_gui.core.progress import CancelToken, Cancelled, Progress
from exodeep_gui.core.schedule import PRESETS, Schedule, Stage, from_list, to_list
from exodeep_gui.core.spots import SpotParams
from exodeep_gui.ml.dataset import TrainingItem, prepare_items, summary
from exodeep_gui.ml.model_folder import BEST, LAST, Checkpoint, ModelFolder, model_config, save_weights
from exodeep_gui.ml.unet import PUBLISHED_FILTERS, ModelError, UNetSpec
from exodeep_gui.ml.validation import calibrate, validate, validation_loss


@dataclass(frozen=True)
class TrainOptions:
    """Everything a training run needs, frozen before it starts."""

    schedule: Schedule = PRESETS["quick"]
    start_from: Optional[str] = None          # a model name or folder to fine-tune; None: from scratch
    filters: Tuple[int, int, int] = PUBLISHED_FILTERS   # architecture when training from scratch
    alpha: float = 0.5                        # Tversky weights of false positives / negatives
    beta: float = 0.5
    learning_rate: float = 1e-4
    background_share: float = 0.1             # share of patches centred anywhere in the cell
    augment_intensity: bool = False
    validate_every: int = 0                   # steps; 0: at the end of each stage only
    checkpoint_every: int = 50                # steps
    snapshot_every: int = 0                   # steps between kept copies of the weights; 0: none
    threshold: float = 0.5                    # event score threshold used for validation
    seed: int = 0
    spot_window: float = 21.0                 # the spot detector (counter-examples): window σ, px
    spot_pfa: float = 1e-3                    # … probability of false alarm
    spot_min_area: int = 3                    # … smallest spot, px
    mixed_precision: str = "auto"             # "auto" (on a GPU), "on", "off"
    jit_compile: str = "auto"                 # "auto" (on a GPU), "on", "off"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["schedule"] = to_list(self.schedule)
        d["filters"] = list(self.filters)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainOptions":
        d = dict(d)
        d["schedule"] = from_list(d["schedule"])
        d["filters"] = tuple(d["filters"])
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def spot_params(self) -> SpotParams:
        return SpotParams(window_sigma=self.spot_window, pfa=self.spot_pfa, min_area=self.spot_min_area)

    @property
    def total_steps(self) -> int:
        return sum(s.steps for s in self.schedule)


@dataclass(frozen=True)
class TrainProgress(Progress):
    """A training report: ``done``/``total`` are optimiser steps over the whole schedule."""

    stage_index: int = 0
    n_stages: int = 0
    stage_step: int = 0
    patch: int = 0
    loss: float = math.nan
    validation: Optional[dict] = None        # set on reports that follow a validation
    best_f1: Optional[float] = None
    global_step: int = 0
    work_done: float = 0.0                   # voxels trained on this session (stages differ in cost)
    work_total: float = 0.0

    @property
    def eta_s(self) -> Optional[float]:
        """Time left from the voxel throughput, since a 48³ step costs far more than an 8³ one."""
        if self.work_done <= 0 or self.elapsed_s <= 0:
            return super().eta_s
        return max(0.0, (self.work_total - self.work_done) * self.elapsed_s / self.work_done)


@dataclass
class TrainResult:
    folder: Path
    steps: int
    best: Optional[dict]
    last: Optional[dict]
    history: List[dict] = field(default_factory=list)


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


# ---------------------------------------------------------------- checkpoints
def write_checkpoint(folder: ModelFolder, model, state: dict) -> None:
    """The model's weights, its optimiser's variables and ``state`` into the folder's checkpoint."""
    from keras import ops

    opt = getattr(model, "optimizer", None)
    arrays = [ops.convert_to_numpy(v) for v in opt.variables] if opt is not None and opt.built else []
    folder.write_checkpoint(model.save_weights, arrays, state)


# ---------------------------------------------------------------- the run
def _compile(model, options: TrainOptions, jit: bool):
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=options.learning_rate, beta_1=0.9,
                                                  beta_2=0.999, epsilon=1e-8),
                  loss=tversky_loss(options.alpha, options.beta), jit_compile=jit)
    model.optimizer.build(model.trainable_variables)


def _restore_optimizer(model, path: Path) -> None:
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
    return (yield from _run(folder, list(train_items), list(valid_items), options, None, cancel))


def resume(out_dir, *, cancel: Optional[CancelToken] = None) -> Generator[Progress, None, TrainResult]:
    """Continue the unfinished run in ``out_dir`` from its checkpoint, with the options and data
    the run started with (a finished run is refused: it has no checkpoint)."""
    folder = ModelFolder(out_dir)
    folder.settle_checkpoint()                    # a run killed in the middle of a checkpoint swap
    ckpt = folder.read_checkpoint()
    options = TrainOptions.from_dict(ckpt.state["options"])
    return (yield from _run(folder, items_from_rows(ckpt.state["train"]), items_from_rows(ckpt.state["valid"]), options, ckpt,
                            cancel))


def items_from_rows(rows: Sequence[Sequence[str]]) -> List[TrainingItem]:
    """Training items from (movie, annotations, mask) rows of paths, mask "" when none (a checkpoint's
    state, a training request from the window)."""
    return [TrainingItem(Path(a), Path(b), Path(c) if c else None) for a, b, c in rows]


def _rows(items: Sequence[TrainingItem]) -> list:
    return [[str(i.movie), str(i.annotations), str(i.mask) if i.mask else ""] for i in items]


def _run(folder: ModelFolder, train_items: List[TrainingItem], valid_items: List[TrainingItem],
         options: TrainOptions, ckpt: Optional[Checkpoint], cancel: Optional[CancelToken]
         ) -> Generator[Progress, None, TrainResult]:
    """The training loop, from the start (``ckpt`` None) or from a checkpoint.

    Killed at any moment, the folder stays usable: its ``config.json`` is written before the first
    step (status "running"), the checkpoint is swapped in atomically and ``weights_last`` and
    ``history.csv`` follow each checkpoint, so that ``resume`` loses no step before the last
    checkpoint and the last weights (or a snapshot) can detect meanwhile."""
    from exodeep_gui.ml.unet import import_keras

    keras = import_keras()
    folder.path.mkdir(parents=True, exist_ok=True)
    folder.clear_partial()                        # what a killed run left half-written
    state: dict = ckpt.state if ckpt is not None else {}
    spots = options.spot_params()
    train_movies = yield from prepare_items(train_items, spots, seed=options.seed, cancel=cancel)
    valid_movies = yield from prepare_items(valid_items, spots, seed=options.seed + 1000, cancel=cancel)
    sampler = PatchSampler(train_movies, background_share=options.background_share,
                           augment=Augment(intensity=options.augment_intensity))
    for stage in options.schedule:
        sampler.check_fits(stage.patch)
    valid_sampler = PatchSampler(valid_movies, background_share=options.background_share,
                                 augment=Augment(dihedral=False)) if valid_movies else None

    gpu = has_gpu()
    mixed, jit = _resolve(options.mixed_precision, gpu), _resolve(options.jit_compile, gpu)
    keras.utils.set_random_seed(options.seed)
    model, spec, started_from = _initial_model(options, mixed)
    rng = np.random.default_rng(options.seed)
    if ckpt is not None:
        model.load_weights(ckpt.weights)
        rng.bit_generator.state = state["rng"]

    history: List[dict] = state.get("history", [])
    reports: List[dict] = state.get("validations", [])
    best = state.get("best")
    first_stage = int(state.get("stage", 0))
    first_step = int(state.get("stage_step", 0))
    global_step = int(state.get("global_step", 0))
    elapsed0 = float(state.get("elapsed_s", 0.0))
    t0 = time.perf_counter()
    total = options.total_steps
    n_stages = len(options.schedule)
    data = {"train": summary(train_movies), "valid": summary(valid_movies)}

    def elapsed() -> float:
        return elapsed0 + time.perf_counter() - t0

    def checkpoint_state(stage_idx: int, stage_step: int) -> dict:
        return {"options": options.to_dict(), "stage": stage_idx, "stage_step": stage_step,
                "global_step": global_step, "history": history, "validations": reports, "best": best,
                "rng": rng.bit_generator.state, "elapsed_s": elapsed(),
                "train": _rows(train_items), "valid": _rows(valid_items)}

    def write_config(status: str) -> None:
        cfg = model_config(spec, BEST, schedule=to_list(options.schedule), training={
            "status": status, "steps": global_step, "total_steps": total, "options": options.to_dict(),
            "started_from": started_from, "data": data, "best": best,
            "last": reports[-1] if reports else None, "wall_time_s": round(elapsed(), 1),
            "backend": keras.backend.backend(), "hardware": _hardware(), "mixed_precision": mixed,
            "exodeep_version": __version__}, weights_last=LAST)
        folder.write_config(cfg)

    def write_outputs(status: str) -> None:
        save_weights(model, folder.last)
        if best is None or not folder.best.is_file():
            save_weights(model, folder.best)
        write_config(status)
        folder.write_history(history)
        folder.write_validation(reports)

    def checkpoint(stage_idx: int, stage_step: int) -> None:
        write_checkpoint(folder, model, checkpoint_state(stage_idx, stage_step))
        save_weights(model, folder.last)
        folder.write_history(history)

    def do_validation(stage_idx: int, stage: Stage) -> dict:
        nonlocal best
        rep = validate(model, spec, valid_movies, options.threshold, cancel)
        vrng = np.random.default_rng(options.seed + 7)
        batches = [valid_sampler.sample(stage.patch, stage.batch, stage.shift, vrng) for _ in range(2)]
        rep.update(step=global_step, stage=stage_idx + 1, patch=stage.patch,
                   val_loss=validation_loss(model, batches), elapsed_s=round(elapsed(), 1))
        reports.append(rep)
        if history:
            history[-1].update(val_loss=rep["val_loss"], precision=rep["precision"], recall=rep["recall"],
                               f1=rep["f1"])
        if best is None or rep["f1"] >= best["f1"]:
            best = {k: rep[k] for k in ("step", "stage", "precision", "recall", "f1", "tp", "fp", "fn")}
            save_weights(model, folder.best)
        return rep

    start_global = global_step

    def work_until(stage_idx: int, stage_step: int) -> float:
        """Voxels trained on from the start of the schedule to (stage, step)."""
        done = sum(s.voxels_per_step * s.steps for s in options.schedule[:stage_idx])
        return done + (options.schedule[stage_idx].voxels_per_step * stage_step if stage_idx < n_stages else 0)

    work0 = work_until(first_stage, first_step)
    work_total = work_until(n_stages, 0) - work0

    def report(stage_idx, stage, stage_step, loss, validation=None) -> TrainProgress:
        # done/total/elapsed count this session's steps, so that steps/s and time left stay
        # right after a resume; global_step is the position in the whole schedule
        msg = (f"stage {stage_idx + 1}/{n_stages} ({stage.patch}³ patches) step {stage_step}/{stage.steps}"
               f" loss {loss:.3f}" + (f" validation F1 {validation['f1']:.3f}" if validation else ""))
        return TrainProgress("train", global_step - start_global, max(1, total - start_global), msg,
                             time.perf_counter() - t0, stage_index=stage_idx, n_stages=n_stages,
                             stage_step=stage_step, patch=stage.patch, loss=loss, validation=validation,
                             best_f1=None if best is None else best["f1"], global_step=global_step,
                             work_done=work_until(stage_idx, stage_step) - work0, work_total=work_total)

    write_config("running")                       # the folder is a model (of this run) from now on
    yield TrainProgress("train", 0, max(1, total - global_step), "starting", 0.0, n_stages=n_stages)
    stage_idx, step = first_stage, first_step
    try:
        for stage_idx in range(first_stage, n_stages):
            stage = options.schedule[stage_idx]
            _compile(model, options, jit)                 # a fresh Adam per stage, as the reference
            start = first_step if stage_idx == first_stage else 0
            if ckpt is not None and stage_idx == first_stage and start > 0:
                _restore_optimizer(model, ckpt.optimizer)
            step = start
            last_loss = math.nan
            while step < stage.steps:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                x, y = sampler.sample(stage.patch, stage.batch, stage.shift, rng)
                last_loss = float(np.asarray(model.train_on_batch(x, y)))
                if not math.isfinite(last_loss):
                    raise ModelError(f"training diverged at step {global_step + 1} (loss {last_loss}); "
                                     "try a lower learning rate")
                step += 1
                global_step += 1
                history.append({"step": global_step, "stage": stage_idx + 1, "patch": stage.patch,
                                "loss": round(last_loss, 6), "elapsed_s": round(elapsed(), 2)})
                validation = None
                end_of_stage = step == stage.steps
                if valid_movies and (end_of_stage or (options.validate_every and step % options.validate_every == 0)):
                    validation = do_validation(stage_idx, stage)
                if options.snapshot_every and global_step % options.snapshot_every == 0:
                    folder.save_snapshot(model, global_step)
                if options.checkpoint_every and step % options.checkpoint_every == 0 and not end_of_stage:
                    checkpoint(stage_idx, step)
                yield report(stage_idx, stage, step, last_loss, validation)
            checkpoint(stage_idx + 1, 0)
    except Cancelled:
        write_checkpoint(folder, model, checkpoint_state(stage_idx, step))
        write_outputs("cancelled")
        raise
    write_outputs("finished")
    if valid_movies:
        yield TrainProgress("calibrate", 0, 1, "choosing the score threshold and minimum size on the validation movies",
                            time.perf_counter() - t0, n_stages=n_stages, global_step=global_step)
        model.load_weights(folder.best)
        cfg = folder.read_config()
        cfg["recommended"] = calibrate(model, spec, valid_movies, cancel)
        folder.write_config(cfg)
    folder.clear_checkpoint()
    return TrainResult(folder.path, global_step, best, reports[-1] if reports else None, history)


def _hardware() -> str:
    import os

    from exodeep_gui.ml.device import describe_device

    return f"{describe_device()}; {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
