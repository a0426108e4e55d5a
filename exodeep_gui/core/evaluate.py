"""Event-level evaluation with the paper's rule (Lachuer et al. 2025, Methods):
a prediction matches a true event when it lies within 4.5 px and −2 ≤ Δt ≤ +5 frames
(Δt = predicted − true frame); matching is one-to-one and maximises the number of
matches (then the spatial closeness), FN = N_true − TP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy.optimize import linear_sum_assignment

from exodeep_gui.core.events import EventTable

PAPER_MAX_DIST_PX = 4.5
PAPER_DT = (-2, 5)


@dataclass(frozen=True)
class Scores:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, other: "Scores") -> "Scores":
        return Scores(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    def summary(self) -> str:
        return (f"precision {self.precision:.3f}  recall {self.recall:.3f}  F1 {self.f1:.3f}  "
                f"(TP {self.tp}, FP {self.fp}, FN {self.fn})")


def match_events(truth: EventTable, pred: EventTable, max_dist: float = PAPER_MAX_DIST_PX,
                 dt_range=PAPER_DT):
    """One-to-one matching; returns (truth indices, prediction indices) of matched pairs."""
    if len(truth) == 0 or len(pred) == 0:
        return np.zeros(0, int), np.zeros(0, int)
    d = np.hypot(truth.x[:, None] - pred.x[None], truth.y[:, None] - pred.y[None])
    dt = pred.frame[None].astype(float) - truth.frame[:, None]
    ok = (d <= max_dist) & (dt >= dt_range[0]) & (dt <= dt_range[1])
    if not ok.any():
        return np.zeros(0, int), np.zeros(0, int)
    big = 1e6
    cost = np.where(ok, d + 1e-3 * np.abs(dt), big)
    rows = np.nonzero(ok.any(axis=1))[0]
    cols = np.nonzero(ok.any(axis=0))[0]
    r, c = linear_sum_assignment(cost[np.ix_(rows, cols)])
    good = ok[rows[r], cols[c]]
    return rows[r][good], cols[c][good]


def evaluate_events(truth: EventTable, pred: EventTable, *, max_dist: float = PAPER_MAX_DIST_PX,
                    dt_range=PAPER_DT, mask: Optional[np.ndarray] = None,
                    exclude_edge_frames: int = 0, n_frames: Optional[int] = None) -> Scores:
    """Paper rule; optionally drop events outside ``mask`` and in the first/last frames."""
    if mask is not None:
        truth, pred = truth.filtered(mask=mask), pred.filtered(mask=mask)
    if exclude_edge_frames:
        last = (n_frames if n_frames is not None else
                int(max(truth.frame.max(initial=0), pred.frame.max(initial=0))) + 1)
        lo, hi = exclude_edge_frames, last - exclude_edge_frames
        truth = truth.select((truth.frame >= lo) & (truth.frame < hi))
        pred = pred.select((pred.frame >= lo) & (pred.frame < hi))
    ti, _ = match_events(truth, pred, max_dist, dt_range)
    tp = len(ti)
    return Scores(tp=tp, fp=len(pred) - tp, fn=len(truth) - tp)
