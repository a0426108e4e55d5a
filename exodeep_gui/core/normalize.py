"""Intensity normalisation as the ExoDeepFinder model was trained: per frame,
(I − p1) / (p99 − p1) with the frame's 1st and 99th percentiles; a flat frame
(p99 − p1 < 1e-3) becomes zeros. Not clipped."""

from __future__ import annotations

import numpy as np

from exodeep_gui.core.movie import check_finite

LOW, HIGH = 1.0, 99.0


def normalize_frames(frames: np.ndarray, low: float = LOW, high: float = HIGH,
                     source: str = "movie", first_frame: int = 0) -> np.ndarray:
    """Normalise a (t, y, x) block frame by frame; returns float32."""
    x = np.asarray(frames, dtype=np.float32)
    if x.ndim == 2:
        x = x[None]
    check_finite(x, source, first_frame)
    flat = x.reshape(x.shape[0], -1)
    p_lo, p_hi = np.percentile(flat, [low, high], axis=1)
    span = (p_hi - p_lo).astype(np.float32)
    ok = span >= 1e-3
    scale = np.where(ok, 1.0 / np.where(ok, span, 1.0), 0.0).astype(np.float32)
    out = (x - p_lo.astype(np.float32)[:, None, None]) * scale[:, None, None]
    out[~ok] = 0.0
    return out
