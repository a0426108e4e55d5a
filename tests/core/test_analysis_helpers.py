"""Synthetic movies with exactly known events for the analysis tests (helpers only, no tests)."""

import numpy as np

CELL, OUTSIDE, SIGMA = 1000.0, 100.0, 1.3


def disc_share(radius=3.0, sigma=SIGMA):
    """Mean of a unit-amplitude Gaussian spot over a disc of ``radius`` (continuous)."""
    return 2 * sigma ** 2 * (1 - np.exp(-radius ** 2 / (2 * sigma ** 2))) / radius ** 2


def make_movie(events, T=80, H=64, W=64, noise=0.0, seed=0, cell_radius=26.0, spread=0.0, rise=1):
    """(movie float32, cell mask). A round cell of level CELL on OUTSIDE, with events
    (x, y, frame, amplitude, tau_frames): a jump (over ``rise`` frames) to ``amplitude`` at
    ``frame`` then an exponential decay, Gaussian spots of σ SIGMA (σ² growing by ``spread``)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    mask = np.hypot(yy - H / 2, xx - W / 2) < cell_radius
    movie = np.where(mask, CELL, OUTSIDE).astype(np.float32)[None].repeat(T, 0)
    for x, y, f, amp, tau in events:
        for t in range(max(f - rise + 1, 0), T):
            dt = t - f
            a = amp * (np.exp(-dt / tau) if dt >= 0 else (rise + dt) / rise)
            s2 = SIGMA ** 2 + spread * max(dt, 0)
            movie[t] += a * SIGMA ** 2 / s2 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * s2))
    if noise:
        movie += rng.normal(0, noise, movie.shape).astype(np.float32)
    return movie, mask
