"""Exocytosis events as a small column table: x, y (pixels, sub-pixel), frame (0-based),
score (peak class-2 probability), size (voxels), plus optional extra columns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional

import numpy as np

CORE_COLUMNS = ("x", "y", "frame", "score", "size")


@dataclass
class EventTable:
    x: np.ndarray
    y: np.ndarray
    frame: np.ndarray            # 0-based frame index (int)
    score: np.ndarray
    size: np.ndarray
    extra: Dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_arrays(cls, x, y, frame, score=None, size=None, extra=None) -> "EventTable":
        x = np.asarray(x, np.float64).reshape(-1)
        n = len(x)
        score = np.ones(n) if score is None else np.asarray(score, np.float64).reshape(-1)
        size = np.zeros(n) if size is None else np.asarray(size, np.float64).reshape(-1)
        table = cls(x, np.asarray(y, np.float64).reshape(-1), np.rint(np.asarray(frame, np.float64)).astype(np.int64).reshape(-1),
                    score, size, {k: np.asarray(v).reshape(-1) for k, v in (extra or {}).items()})
        for name in ("y", "frame", "score", "size"):
            if len(getattr(table, name)) != n:
                raise ValueError(f"column {name} has {len(getattr(table, name))} values, x has {n}")
        return table

    @classmethod
    def empty(cls) -> "EventTable":
        return cls.from_arrays([], [], [])

    def __len__(self) -> int:
        return len(self.x)

    def select(self, keep) -> "EventTable":
        keep = np.asarray(keep)
        return EventTable(self.x[keep], self.y[keep], self.frame[keep], self.score[keep],
                          self.size[keep], {k: v[keep] for k, v in self.extra.items()})

    def filtered(self, threshold: float = 0.0, min_size: float = 0.0,
                 mask: Optional[np.ndarray] = None) -> "EventTable":
        """Events with score ≥ threshold, size ≥ min_size and (if given) inside a 2D mask."""
        keep = (self.score >= threshold) & (self.size >= min_size)
        if mask is not None and len(self):
            yi = np.clip(np.rint(self.y).astype(int), 0, mask.shape[0] - 1)
            xi = np.clip(np.rint(self.x).astype(int), 0, mask.shape[1] - 1)
            keep &= mask[yi, xi].astype(bool)
        return self.select(keep)

    def concat(self, other: "EventTable") -> "EventTable":
        """The rows of ``self`` then ``other`` (core columns; extra columns only when both have them)."""
        extra = {k: np.r_[v, other.extra[k]] for k, v in self.extra.items() if k in other.extra}
        return EventTable.from_arrays(np.r_[self.x, other.x], np.r_[self.y, other.y],
                                      np.r_[self.frame, other.frame], np.r_[self.score, other.score],
                                      np.r_[self.size, other.size], extra)

    def sorted(self) -> "EventTable":
        return self.select(np.lexsort((self.x, self.y, self.frame)))

    def columns(self) -> Dict[str, np.ndarray]:
        cols = {name: getattr(self, name) for name in CORE_COLUMNS}
        cols.update(self.extra)
        return cols


class EventsOutsideMovie(ValueError):
    """An events table with rows that do not lie in its movie; the message names the rows."""


def rows_outside(events: EventTable, shape) -> np.ndarray:
    """Indices of the events of ``events`` that do not fall on a pixel of a movie of ``shape``
    (t, y, x): x and y rounded to the nearest pixel, the frame 0-based."""
    T, H, W = (int(n) for n in shape[:3])
    xi, yi = np.rint(events.x), np.rint(events.y)
    bad = ((xi < 0) | (xi > W - 1) | (yi < 0) | (yi > H - 1) | (events.frame < 0) | (events.frame > T - 1)
           | ~np.isfinite(events.x) | ~np.isfinite(events.y))
    return np.nonzero(bad)[0]


def check_events_in_movie(events: EventTable, shape, source: str, shown: int = 5) -> None:
    """Raise :class:`EventsOutsideMovie` naming the rows (1-based, in table order; X, Y, and the
    1-based Slice as in an ImageJ table) of ``events`` that lie outside a movie of ``shape``."""
    bad = rows_outside(events, shape)
    if len(bad) == 0:
        return
    T, H, W = (int(n) for n in shape[:3])
    rows = "; ".join(f"row {i + 1} (X {events.x[i]:g}, Y {events.y[i]:g}, Slice {int(events.frame[i]) + 1})"
                     for i in bad[:shown])
    more = f"; and {len(bad) - shown} more" if len(bad) > shown else ""
    what = "row lies" if len(bad) == 1 else "rows lie"
    raise EventsOutsideMovie(f"{source}: {len(bad)} {what} outside the movie ({W}×{H} px, {T} frames): "
                             f"{rows}{more}")
