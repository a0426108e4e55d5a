"""Training from the window: what the training wizard runs in a child process.

The wizard collects a frozen :class:`TrainRequest` and runs, in a child process (so that the
window never imports the framework and a crash of it is a message):

- :func:`run_training`: writes the reviewed events of the open movies (and, if asked, simulated
  movies) into the model folder's ``data/``, then trains (or resumes) with ``ml.training.train``; yields
  its progress; returns a small summary;
- :func:`trial`: a short measured trial on this hardware: seconds per step of every stage (on
  random batches of the stage's shape, which cost what real ones do), with a memory pre-flight
  that halves the batch of a stage that does not fit, and the cost of a validation;
- :func:`compare`: precision, recall and F1 of the starting model and of the new one on every
  validation movie, each at its own recommended threshold and minimum size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional, Sequence, Tuple

import numpy as np

from exodeep_gui.core.progress import CancelToken, Progress, run_to_end
from exodeep_gui.ml.training.schedule import Stage
from exodeep_gui.ml.model_folder import DATA, ModelFolder
from exodeep_gui.ml.training.train import TrainOptions, items_from_rows

Item = Tuple[str, str, str]         # movie, annotations, mask ("" when none)


@dataclass(frozen=True)
class TrainRequest:
    """Everything a training run from the window needs, frozen before it starts."""

    folder: str
    train: Tuple[Item, ...] = ()
    valid: Tuple[Item, ...] = ()
    options: TrainOptions = TrainOptions()
    simulated: int = 0                  # simulated movies mixed into the training data
    name: str = ""
    notes: str = ""
    overwrite: bool = False             # the user agreed to replace what the folder holds
    resume: bool = False                # continue the unfinished run in ``folder``


def _simulated_items(folder: Path, n: int, like: Sequence[Item], seed: int):
    """``n`` simulated movies the size of the training movies (median), written into ``folder``."""
    from exodeep_gui.core.simulate import SimulationParams, simulate_movie
    from exodeep_gui.io.movie_io import open_movie
    from exodeep_gui.io.simulated import write_simulated

    shapes = np.array([open_movie(m).shape for m, _, _ in like] or [(200, 128, 128)])
    t, h, w = (int(v) for v in np.median(shapes, axis=0))
    params = SimulationParams(frames=max(64, min(t, 300)), height=max(64, min(h, 256)), width=max(64, min(w, 256)),
                              events=max(10, int(0.25 * max(64, min(t, 300)) * max(64, min(h, 256)) ** 2 / 16000)))
    out = []
    for i in range(n):
        path = write_simulated(folder, f"simulated_{i:02d}", simulate_movie(params, seed=seed + i), overwrite=True)
        out.append((str(path), str(path.with_suffix(".csv")), str(path.with_name(path.stem + "_mask.tif"))))
    return out


@dataclass(frozen=True)
class TrainingSummary:
    """What a finished run hands back to the window (across the process boundary)."""

    folder: str
    steps: int
    best: Optional[dict]                # the best validation during training: {"step", "f1", …} at score ≥ 0.5
    recommended: Optional[dict]         # the filter chosen on the validation movies: threshold, min_size, f1
    start_from: Optional[str]           # the model it was fine-tuned from (None: from scratch)
    valid: Tuple[tuple, ...] = ()       # the validation movies: (movie, annotations, mask)
    validation_threshold: float = 0.5   # the score threshold of the validations during training


def run_training(request: TrainRequest, cancel: Optional[CancelToken] = None):
    """Train (or resume) as the request says; yields progress, returns a :class:`TrainingSummary`."""
    from exodeep_gui.ml.training.dataset import check_training_items
    from exodeep_gui.ml.training.train import resume, train

    folder = ModelFolder(request.folder)
    if request.resume:
        valid = [tuple(v) for v in folder.read_checkpoint().state.get("valid", [])]
        result = yield from resume(folder.path, cancel=cancel)
    else:
        folder.check_new_run(request.overwrite)
        train_rows = list(request.train)
        if request.simulated:
            yield Progress("prepare", 0, 1, f"simulating {request.simulated} movies to mix in")
            data = folder.path / DATA
            data.mkdir(parents=True, exist_ok=True)
            train_rows += _simulated_items(data, request.simulated, request.train, request.options.seed + 500)
        valid = list(request.valid)
        train_items, valid_items = items_from_rows(train_rows), items_from_rows(valid)
        check_training_items(train_items + valid_items)
        result = yield from train(train_items, valid_items, folder.path, request.options, overwrite=True,
                                  cancel=cancel)
    cfg = folder.read_config()
    if request.name or request.notes:
        cfg.update(name=request.name or cfg.get("name", folder.name), notes=request.notes)
        folder.write_config(cfg)
    options = (cfg.get("training") or {}).get("options", {})
    return TrainingSummary(str(folder.path), result.steps, result.best, cfg.get("recommended"),
                           options.get("start_from"), tuple(tuple(v) for v in valid),
                           float(options.get("threshold", 0.5)))


# ---------------------------------------------------------------- a short trial on this hardware
def _is_out_of_memory(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return isinstance(exc, MemoryError) or any(k in text for k in ("out of memory", "resourceexhausted",
                                                                   "oom", "cannot allocate"))


def trial(options: TrainOptions, steps: int = 2, validation_frames: int = 32,
          validation_voxels: float = 0.0, cancel: Optional[CancelToken] = None):
    """Measure seconds per step of each stage (after one warm-up step) and lower a batch that does
    not fit in memory (halving it until one step runs). Returns {"stages": [...], "messages": [...],
    "validation_s": estimated seconds of all validations, "total_s": the estimated wall time}."""
    from exodeep_gui.ml.device import describe_device
    from exodeep_gui.ml.training.train import _compile, _initial_model
    from exodeep_gui.ml.unet import import_keras

    keras = import_keras()

    yield Progress("trial", 0, len(options.schedule) + 1, "building the model")
    model, spec, _ = _initial_model(options, mixed=False)
    rng = np.random.default_rng(0)
    stages, messages = [], []
    for i, stage in enumerate(options.schedule):
        if cancel is not None:
            cancel.raise_if_cancelled()
        _compile(model, options, jit=False)
        batch = stage.batch
        while True:
            x = rng.normal(size=(batch, stage.patch, stage.patch, stage.patch, 1)).astype(np.float32)
            y = keras.utils.to_categorical(rng.integers(0, 3, x.shape[:-1]), 3).astype(np.float32)
            try:
                model.train_on_batch(x, y)                      # warm-up (and the memory pre-flight)
                break
            except Exception as exc:                            # noqa: BLE001 (frameworks differ)
                if not _is_out_of_memory(exc) or batch == 1:
                    raise
                batch //= 2
        if batch != stage.batch:
            messages.append(f"stage {i + 1} ({stage.patch}³): batch lowered from {stage.batch} to {batch} to fit "
                            "in memory")
        t0 = time.perf_counter()
        for _ in range(steps):
            model.train_on_batch(x, y)
        per_step = (time.perf_counter() - t0) / steps
        stages.append({"patch": stage.patch, "batch": batch, "steps": stage.steps, "s_per_step": per_step})
        yield Progress("trial", i + 1, len(options.schedule) + 1, f"stage {i + 1}: {per_step:.2f} s per step")
    from exodeep_gui.core.movie import Movie
    from exodeep_gui.ml.predict import segment_movie

    side = 64
    movie = Movie(rng.poisson(100, (validation_frames, side, side)).astype(np.uint16))
    t0 = time.perf_counter()
    run_to_end(segment_movie(model, spec, movie, cancel=cancel))
    per_voxel = (time.perf_counter() - t0) / (validation_frames * side * side)
    n_validations = len(options.schedule) + (sum(s.steps for s in options.schedule) // options.validate_every
                                             if options.validate_every else 0) + 1   # + calibration
    validation_s = n_validations * per_voxel * validation_voxels
    total = sum(s["s_per_step"] * s["steps"] for s in stages) + validation_s
    yield Progress("trial", len(options.schedule) + 1, len(options.schedule) + 1, "done")
    return {"stages": stages, "messages": messages, "validation_s": validation_s, "total_s": total,
            "device": describe_device()}


def lowered(options: TrainOptions, trial_result: dict) -> TrainOptions:
    """``options`` with the batches the trial's memory pre-flight chose."""
    batches = [s["batch"] for s in trial_result["stages"]]
    schedule = tuple(Stage(s.patch, b, s.shift, s.steps) for s, b in zip(options.schedule, batches))
    return replace(options, schedule=schedule)


# ---------------------------------------------------------------- before / after
def compare(before: Optional[str], after: str, valid: Sequence[Item], cancel: Optional[CancelToken] = None):
    """Per validation movie: {"movie", "before": {precision, recall, f1}, "after": {...}} for the
    starting model (None: trained from scratch) and the new one, each at its recommended filter."""
    from exodeep_gui.core.evaluate import evaluate_events
    from exodeep_gui.core.detection import DetectOptions
    from exodeep_gui.io.movie_io import open_movie
    from exodeep_gui.io.results import read_events
    from exodeep_gui.ml.detect import Detector

    models = [("after", after)] + ([("before", before)] if before else [])
    rows = {m: {"movie": Path(m).stem} for m, _, _ in valid}
    total = len(models) * len(valid)
    done = 0
    for label, spec in models:
        det = Detector.load(spec)
        for movie_path, ann, _ in valid:
            yield Progress("compare", done, total, f"{label}: {Path(movie_path).stem}")
            options = DetectOptions(model=spec, confidence=False)      # the scores need the events only
            detection = yield from det.detect(open_movie(movie_path), options, cancel=cancel)
            s = evaluate_events(read_events(ann), detection.events())
            rows[movie_path][label] = {"precision": s.precision, "recall": s.recall, "f1": s.f1,
                                       "threshold": detection.options.threshold,
                                       "min_size": detection.options.min_size}
            done += 1
    yield Progress("compare", total, total, "done")
    return list(rows.values())


def describe_folder(path) -> dict:
    """What the wizard shows of a model folder it finds (unfinished run, finished model)."""
    folder = ModelFolder(path)
    info = {"unfinished": folder.is_unfinished(), "model": folder.is_model()}
    if info["unfinished"]:
        try:
            state = folder.read_checkpoint().state
            info.update(step=state.get("global_step", 0),
                        total=sum(s["steps"] for s in state.get("options", {}).get("schedule", [])))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
    return info
