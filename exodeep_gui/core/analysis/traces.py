"""Per-event intensity traces: the mean in a disc centred on the event and, for the local
background, the mean in an annulus around it, from ``before`` frames before the event's frame to
``after`` frames after, for all events at once.

The movie is read once, in blocks of frames (memory-mapped movies and folders of frames read
each frame once, however many events share it), and the same pass gives the temporal mean
image (for the cell mask) and, for every event, a box of pixels around it over its trace
(the size fit and the gallery use it). Pixels outside the movie are NaN: an event near the
border or the movie's ends gets a partial trace and a flag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generator, Optional

import numpy as np

from exodeep_gui.core.analysis.options import AnalysisOptions
from exodeep_gui.core.progress import CancelToken, Progress, ProgressClock

BLOCK_FRAMES = 64
FLAG_BORDER, FLAG_START, FLAG_END = "border", "movie_start", "movie_end"


@dataclass
class Traces:
    offsets: np.ndarray          # (L,) frame offsets −before … +after
    x: np.ndarray                # (n,) event positions (px)
    y: np.ndarray
    frame: np.ndarray            # (n,) event frames (0-based)
    boxes: np.ndarray            # (n, L, B, B) float32 pixels around each event, NaN outside the movie
    disc: np.ndarray             # (n, L) mean in the disc (NaN where no pixel is in the movie)
    annulus: np.ndarray          # (n, L) mean in the annulus
    flags: np.ndarray            # (n,) str: "", or "border", "movie_start", "movie_end" joined by ";"

    def __len__(self) -> int:
        return len(self.frame)


def ring_weights(x, y, box_half: int, r_in: float, r_out: float) -> np.ndarray:
    """(n, B·B) 0/1 weights of the pixels of each event's box whose centres lie at
    ``r_in`` < d ≤ ``r_out`` px from the event (``r_in`` < 0: a full disc)."""
    b = np.arange(-box_half, box_half + 1, dtype=np.float64)
    fx = np.asarray(x, float) - np.rint(x)          # sub-pixel offset of the event in its box
    fy = np.asarray(y, float) - np.rint(y)
    dx = b[None, None, :] - fx[:, None, None]
    dy = b[None, :, None] - fy[:, None, None]
    d = np.hypot(dx, dy)
    return ((d > r_in) & (d <= r_out)).reshape(len(fx), -1).astype(np.float32)


def masked_mean(boxes: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(n, L) NaN-aware mean of ``boxes`` (n, L, B, B) over the pixels with weight 1."""
    n, L = boxes.shape[:2]
    flat = boxes.reshape(n, L, -1)
    finite = np.isfinite(flat)
    total = np.einsum("nlp,np->nl", np.where(finite, flat, 0.0), weights)
    count = np.einsum("nlp,np->nl", finite.astype(np.float32), weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def sweep(data, x, y, frame, options: AnalysisOptions = AnalysisOptions(),
          cancel: Optional[CancelToken] = None, frame_means: Optional[list] = None) -> Generator[Progress, None, tuple]:
    """One pass over the movie: returns (temporal mean image float32, boxes (n, L, B, B)); the mean
    of each frame (for the bleaching) is appended to ``frame_means`` when a list is given."""
    T, H, W = (int(s) for s in data.shape)
    x, y, frame = np.asarray(x, float), np.asarray(y, float), np.asarray(frame, int)
    n, h = len(x), options.box_half
    B, L = 2 * h + 1, options.before + options.after + 1
    boxes = np.full((n, L, B, B), np.nan, np.float32)
    xi, yi = np.rint(x).astype(int), np.rint(y).astype(int)
    # the part of each box inside the frame
    ya, yb = np.maximum(yi - h, 0), np.minimum(yi + h + 1, H)
    xa, xb = np.maximum(xi - h, 0), np.minimum(xi + h + 1, W)
    first, last = frame - options.before, frame + options.after       # inclusive
    order = np.argsort(first, kind="stable")
    total = np.zeros((H, W), np.float64)
    clock = ProgressClock("analyze", T)
    for a in range(0, T, BLOCK_FRAMES):
        if cancel is not None:
            cancel.raise_if_cancelled()
        b = min(T, a + BLOCK_FRAMES)
        block = np.asarray(data[a:b])
        total += block.sum(axis=0, dtype=np.float64)
        if frame_means is not None:
            frame_means.extend(block.reshape(len(block), -1).mean(axis=1, dtype=np.float64).tolist())
        lo = np.searchsorted(first[order], b, side="left")
        for k in order[:lo]:
            if last[k] < a:
                continue
            t0, t1 = max(a, first[k]), min(b, last[k] + 1)
            boxes[k, t0 - first[k]:t1 - first[k], ya[k] - (yi[k] - h):yb[k] - (yi[k] - h),
                  xa[k] - (xi[k] - h):xb[k] - (xi[k] - h)] = block[t0 - a:t1 - a, ya[k]:yb[k], xa[k]:xb[k]]
        yield clock.report(b, f"reading frames {b}/{T}")
    return (total / max(T, 1)).astype(np.float32), boxes


def traces_from_boxes(boxes: np.ndarray, x, y, frame, shape, options: AnalysisOptions = AnalysisOptions()
                      ) -> Traces:
    """Disc and annulus means of every event and its flags (border, movie start or end)."""
    T, H, W = shape
    x, y, frame = np.asarray(x, float), np.asarray(y, float), np.asarray(frame, int)
    h = options.box_half
    disc_w = ring_weights(x, y, h, -1.0, options.radius_px)
    ann_w = ring_weights(x, y, h, *options.annulus_px)
    disc = masked_mean(boxes, disc_w)
    annulus = masked_mean(boxes, ann_w)
    reach = options.annulus_px[1]
    border = (x - reach < -0.5) | (y - reach < -0.5) | (x + reach > W - 0.5) | (y + reach > H - 0.5)
    start, end = frame - options.before < 0, frame + options.after > T - 1
    flags = np.array([";".join(f for f, on in ((FLAG_BORDER, b), (FLAG_START, s), (FLAG_END, e)) if on)
                      for b, s, e in zip(border, start, end)], dtype=object).astype(str) \
        if len(x) else np.zeros(0, "U1")
    offsets = np.arange(-options.before, options.after + 1)
    return Traces(offsets, x, y, frame, boxes, disc, annulus, flags)
