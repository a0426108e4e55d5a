"""A per-event confidence (0–1) that ranks real events above false ones, and candidate events.

Why not the score: the class-2 output of the published network is binary (99.99 % of voxels at 0
or 1) and the bundled model's nearly so, so an event's peak probability (``score``) is 1.00 for
almost every event and separates true from false detections no better than chance. What does
separate them was measured (``benchmarks/bench_confidence.py``; README "Confidence") over the
network's outputs per event (peak and mean class-2 probability, size in voxels), the agreement of
test-time-augmentation views and the event's kinetics: the R² of the exponential fit of its decay
(as core.analysis measures it) ranked best (AUC 0.97–0.98), and half of it plus half a size term
better still (0.98–0.996): that is :func:`confidence`. It costs one more read of the movie and a fit
per event (:func:`decay_r2`), small beside the network.

Candidates: events the model is unsure of are kept, with ``candidate`` = 1, so that a reviewer can
accept them: every event that does not pass the run's filter (score below the threshold, or size
below the minimum size) and, with test-time augmentation, the events some views saw that hold no
consensus voxel (their score, from the consensus map, is below 0.5; see ml.tta). A candidate's
``score`` and ``size`` are what the network gives, so a filter never shows it by itself at the
threshold the run used.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from exodeep_gui.core.events import EventTable
from exodeep_gui.core.postprocess import events_from_segmentation
from exodeep_gui.core.progress import Progress

SIZE_SCALE = 40.0       # voxels: the size at which the size term is 1 − 1/e ≈ 0.63
BATCH = 200             # events measured at once (pixel boxes of ~60 kB each and the fits' arrays: ~1 MB an event)


def auc(values, is_true) -> float:
    """Area under the ROC curve of ``values`` ranking the true events (``is_true``) above the
    false ones: the probability that a random true event scores above a random false one (ties
    count one half; Mann–Whitney U / (n_true · n_false)); NaN without both kinds. NaN values rank
    lowest."""
    v = np.asarray(values, float)
    t = np.asarray(is_true, bool)
    n1, n0 = int(t.sum()), int((~t).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    from scipy.stats import rankdata        # here: scipy.stats takes a while to import, and only benchmarks ask

    ranks = rankdata(np.where(np.isfinite(v), v, -np.inf))   # ties: their average rank
    return float((ranks[t].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def events_with_stats(labels, score, method: str = "components", bandwidth: float = 5.0) -> EventTable:
    """core.postprocess.events_from_segmentation (the same events) with the per-event statistics
    the confidence needs: ``p_mean``, the mean class-2 probability over the event's voxels."""
    table = events_from_segmentation(labels, score, method=method, bandwidth=bandwidth,
                                     stats={"p_mean": (score, "mean")})
    table.extra["p_mean"] = table.extra["p_mean"] / 255.0
    return table


def size_term(size) -> np.ndarray:
    """1 − exp(−size / :data:`SIZE_SCALE`): 0 for no voxel, → 1 for large events."""
    s = np.asarray(size, float)
    return 1.0 - np.exp(-np.where(np.isfinite(s), np.maximum(s, 0.0), 0.0) / SIZE_SCALE)


def confidence(events: EventTable) -> np.ndarray:
    """The confidence of each event, 0–1: ½ · R²₊ + ½ · (1 − exp(−size / 40 voxels)), where R²₊ is
    the R² of the exponential fit of the event's decay (``decay_r2``, see :func:`decay_r2`)
    clipped to [0, 1], 0 where no decay could be fitted (no rise above the baseline, no decay,
    fewer than 5 frames after the peak). See README "Confidence" for the measurements behind it."""
    if len(events) == 0:
        return np.zeros(0)
    r2 = np.asarray(events.extra.get("decay_r2", np.full(len(events), np.nan)), float)
    r2 = np.clip(np.where(np.isfinite(r2), r2, 0.0), 0.0, 1.0)
    return np.clip(0.5 * r2 + 0.5 * size_term(events.size), 0.0, 1.0)


def decay_r2(movie, events: EventTable, options=None, cancel=None, batch: int = BATCH):
    """Generator: the R² of the exponential decay of each event's fluorescence, as the analysis
    measures it (core.analysis: disc and annulus traces, the total of 2D Gaussian fits from the
    peak, S/S(0) = A·e^(−t/τ) + B), NaN where no decay could be fitted. ``movie``: a core Movie or
    a (t, y, x) array. See :func:`event_kinetics`."""
    return (yield from event_kinetics(movie, events, "r2", options, cancel, batch))


def event_kinetics(movie, events: EventTable, field: str = "r2", options=None, cancel=None, batch: int = BATCH):
    """Generator: one field of core.analysis's kinetics (``r2``, ``dF_F0``, … of
    core.analysis.kinetics.Kinetics) of each event, with the cell found in the movie itself (no mask
    file) and NaN for events not measured. The cell's extracellular level and bleaching come from the
    whole movie (one read); the events are measured ``batch`` at a time, each batch reading only the
    frames its traces cover, so memory stays bounded however many events there are."""
    from exodeep_gui.core.analysis import cell
    from exodeep_gui.core.analysis.kinetics import measure_kinetics
    from exodeep_gui.core.analysis.options import AnalysisOptions
    from exodeep_gui.core.analysis.pipeline import bleaching
    from exodeep_gui.core.analysis.traces import sweep, traces_from_boxes

    opts = options or AnalysisOptions()
    T, H, W = (int(v) for v in movie.shape)
    reader = movie.frames if hasattr(movie, "frames") else (lambda a, b: np.asarray(movie[a:b]))
    data = _Frames(reader, (T, H, W), 0, T)
    n = len(events)
    out = np.full(n, np.nan)
    if n == 0:
        return out
    order = np.argsort(events.frame, kind="stable")
    batches = [order[a:a + batch] for a in range(0, n, batch)]
    means: list = []
    background = bleach = None
    for k, idx in enumerate(batches):
        if cancel is not None:
            cancel.raise_if_cancelled()
        yield Progress("confidence", k, len(batches), f"measuring the decay of {n} events")
        frame = events.frame[idx]
        if k == 0:                       # the whole movie: the mean image, frame means and the first boxes
            lo, hi = 0, T
            mean_img, boxes = yield from sweep(data, events.x[idx], events.y[idx], frame, opts, cancel, means)
            mask = cell.auto_mask(mean_img, opts.mask_smooth_px)
            background = cell.extracellular_level(mean_img, mask)
            bleach = bleaching(means, background)
        else:                            # only the frames this batch's traces cover
            lo = max(0, int(frame.min()) - opts.before)
            hi = min(T, int(frame.max()) + opts.after + 1)
            window = _Frames(reader, (T, H, W), lo, hi)
            _, boxes = yield from sweep(window, events.x[idx], events.y[idx], frame - lo, opts, cancel)
        traces = traces_from_boxes(boxes, events.x[idx], events.y[idx], frame - lo, (hi - lo, H, W), opts)
        k_ = measure_kinetics(traces, background or 0.0, opts, None if bleach is None else bleach[lo:hi])
        out[idx] = getattr(k_, field)
    yield Progress("confidence", len(batches), len(batches), "done")
    return out


class _Frames:
    """Frames lo…hi−1 of a movie read by ``reader(start, stop)``, as an array-like of their own."""

    def __init__(self, reader, shape, lo: int, hi: int):
        self.reader, self.lo = reader, lo
        self.shape = (hi - lo,) + tuple(shape[1:])

    def __getitem__(self, key: slice):
        return self.reader(key.start + self.lo, key.stop + self.lo)


def with_confidence(movie, events: EventTable, threshold: Optional[float], min_size: Optional[int],
                    cancel=None):
    """Generator: ``events`` with the columns ``decay_r2``, ``confidence`` and ``candidate`` (1.0 for
    an event that does not pass the run's filter or that only some test-time-augmentation views
    saw, which ml.tta marks, else 0.0)."""
    t = 0.0 if threshold is None else float(threshold)
    s = 0.0 if min_size is None else float(min_size)
    out = events.select(np.arange(len(events)))
    passes = (out.score >= t) & (out.size >= s)
    earlier = np.asarray(out.extra.get("candidate", np.zeros(len(out))), float) > 0
    out.extra["candidate"] = (earlier | ~passes).astype(float)
    out.extra["decay_r2"] = yield from decay_r2(movie, out, cancel=cancel)
    out.extra["confidence"] = confidence(out)
    return out
