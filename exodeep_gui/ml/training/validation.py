"""Validation that measures what users care about: the network detects events in whole validation
movies (the streaming engine) and they are matched to the annotations with the paper's rule;
calibration sweeps the score threshold and minimum size on those candidates."""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

from exodeep_gui.core.evaluate import Scores, evaluate_events
from exodeep_gui.core.movie import Movie
from exodeep_gui.ml.training.patches import TrainingMovie
from exodeep_gui.core.postprocess import events_from_segmentation
from exodeep_gui.core.progress import CancelToken
from exodeep_gui.ml.unet import UNetSpec


def _candidates(model, spec: UNetSpec, movies: Sequence[TrainingMovie], cancel: Optional[CancelToken]):
    """Every unfiltered event the network finds in each whole movie (the streaming engine)."""
    from exodeep_gui.core.progress import run_to_end
    from exodeep_gui.ml.predict import segment_movie

    out = []
    for m in movies:
        seg = run_to_end(segment_movie(model, spec, Movie(m.image), cancel=cancel))
        out.append(events_from_segmentation(seg.labels, seg.score))
    return out


def validate(model, spec: UNetSpec, movies: Sequence[TrainingMovie], threshold: float = 0.5,
             cancel: Optional[CancelToken] = None) -> dict:
    """Full-movie detection on ``movies`` and the paper's event scores against their annotations."""
    total = Scores(0, 0, 0)
    per_movie = {}
    for m, cands in zip(movies, _candidates(model, spec, movies, cancel)):
        s = evaluate_events(m.annotations, cands.filtered(threshold=threshold))
        per_movie[m.name] = {"tp": s.tp, "fp": s.fp, "fn": s.fn, "f1": s.f1}
        total = total + s
    return {"precision": total.precision, "recall": total.recall, "f1": total.f1,
            "tp": total.tp, "fp": total.fp, "fn": total.fn, "movies": per_movie}


THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
MIN_SIZES = (0, 10, 20, 30, 40, 50, 60, 80, 100)


def calibrate(model, spec: UNetSpec, movies: Sequence[TrainingMovie], cancel: Optional[CancelToken] = None) -> dict:
    """The score threshold and minimum size that give the best event F1 on ``movies`` (the network
    runs once per movie; the filters are swept on its candidates)."""
    cands = list(zip(_candidates(model, spec, movies, cancel), (m.annotations for m in movies)))
    best = None
    for t in THRESHOLDS:
        for size in MIN_SIZES:
            total = Scores(0, 0, 0)
            for c, truth in cands:
                total = total + evaluate_events(truth, c.filtered(threshold=t, min_size=size))
            if best is None or total.f1 > best["f1"] + 1e-9:
                best = {"threshold": t, "min_size": size, "precision": total.precision, "recall": total.recall,
                        "f1": total.f1, "chosen_on": "validation movies"}
    return best


def validation_loss(model, batches) -> float:
    if not batches:
        return math.nan
    return float(np.mean([float(np.asarray(model.test_on_batch(x, y))) for x, y in batches]))
