"""Per-event kinetics from the traces, for all events at once: F0, ΔF/F0 at the peak, onset,
rise time (10 → 90 %), the decay of the event's fluorescence (τ, t½, R²) separated from its
lateral spreading (diffusion coefficient D, fusion mode) by 2D Gaussian fits of its frames
(:mod:`.spread`), and the apparent size (a 2D Gaussian fitted at the peak, FWHM = 2.355 σ).

Definitions (frames and px here; the pipeline converts to s and µm):

* ΔF(t) = [disc(t) − annulus(t)] − the same over the baseline frames: the event's signal above
  its local background (the annulus follows bleaching and slow local changes).
* F0 = mean of the disc over the baseline frames (``baseline_frames`` before the onset, skipping
  ``baseline_gap`` just before it) minus the movie's extracellular level (camera offset and
  light outside the cell), so ΔF/F0 is relative to the cell's own fluorescence.
* peak: the largest ΔF within ``peak_window`` frames of the event's frame; onset: the first frame
  of the run of frames above F0 + k·σ(baseline) that ends at the peak.
* decay: the event's total fluorescence S(t) (the integral of its fitted Gaussian, which spreading
  does not change) from the peak, S/S(0) = A·e^(−t/τ) + B; t½ = τ·ln 2. A disc trace mixes decay
  and spreading (the puff leaves the disc as it spreads); this does not. Spreading: σ²(t) = σ0² +
  2Dt (see :mod:`.spread`).
* Every exponential fit starts from a vectorised grid search of τ (A and B solved in closed form
  for each τ), refined by ``scipy.optimize.curve_fit``. A fit that cannot be made gives NaN and a
  reason in ``fit_note``, never an exception."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from exodeep_gui.core.analysis.options import FWHM_PER_SIGMA, AnalysisOptions
from exodeep_gui.core.analysis.spread import fit_gaussians, fit_total_decay, measure_spread
from exodeep_gui.core.analysis.traces import Traces

TAU_GRID = np.geomspace(0.1, 300.0, 80)          # frames


@dataclass
class Kinetics:
    dF: np.ndarray            # (n, L) ΔF trace (counts)
    F0: np.ndarray            # (n,) cell fluorescence before the event (counts above the extracellular level)
    peak: np.ndarray          # (n,) index into the trace of the peak (−1: none)
    onset: np.ndarray         # (n,) index into the trace of the onset (−1: none)
    dF_F0: np.ndarray
    rise: np.ndarray          # frames
    decay: np.ndarray         # (n, 3): A, τ (frames), B of S/S(peak) = A·e^(−t/τ) + B (total fluorescence)
    r2: np.ndarray
    fwhm: np.ndarray          # px
    notes: List[List[str]]
    sigma0_sq: np.ndarray = None    # (n,) σ² of the spot at the peak (px²)
    diffusion: np.ndarray = None    # (n,) D (px² per frame) of σ² = σ0² + 2Dt
    fusion_mode: np.ndarray = None  # (n,) "full", "kiss-and-run" or "" (undetermined)

    def __post_init__(self):
        n = len(self.F0)
        if self.sigma0_sq is None:
            self.sigma0_sq = np.full(n, np.nan)
        if self.diffusion is None:
            self.diffusion = np.full(n, np.nan)
        if self.fusion_mode is None:
            self.fusion_mode = np.full(n, "", dtype=object).astype(str) if n else np.zeros(0, "U1")

    @property
    def tau(self) -> np.ndarray:
        return self.decay[:, 1]

    def disc_model(self, i: int, t, radius: float) -> np.ndarray:
        """What the fitted decay and spreading of event ``i`` predict for its excess in a disc of
        ``radius`` px, relative to the peak, ``t`` frames after it: (A·e^(−t/τ) + B) × the share of a
        Gaussian of variance σ0² + 2Dt inside the disc, over that share at the peak."""
        a, tau, b = self.decay[i]
        t = np.asarray(t, float)
        s0 = self.sigma0_sq[i] if np.isfinite(self.sigma0_sq[i]) else (self.fwhm[i] / FWHM_PER_SIGMA) ** 2
        d = self.diffusion[i] if np.isfinite(self.diffusion[i]) else 0.0
        if not np.isfinite(s0) or s0 <= 0:
            return a * np.exp(-t / tau) + b
        share = 1.0 - np.exp(-radius ** 2 / (2 * (s0 + 2 * d * t)))
        return (a * np.exp(-t / tau) + b) * share / (1.0 - np.exp(-radius ** 2 / (2 * s0)))

    def fit_note(self) -> np.ndarray:
        return np.array(["; ".join(n) for n in self.notes], dtype=object).astype(str) if self.notes \
            else np.zeros(0, "U1")


def take(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``a[i, idx[i, k]]`` with NaN where the index falls outside the row."""
    L = a.shape[1]
    ok = (idx >= 0) & (idx < L)
    return np.where(ok, np.take_along_axis(a, np.clip(idx, 0, L - 1), axis=1), np.nan)


def _nanmean(a, axis=1):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=axis)


def _nanstd(a, axis=1):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanstd(a, axis=axis, ddof=1)


def _first_crossing(dF, level, start, stop):
    """Fractional index where ΔF first reaches ``level`` going from ``start`` to ``stop``
    (linear interpolation between frames); NaN when it never does."""
    n, L = dF.shape
    idx = np.arange(L)[None, :]
    hit = (idx >= start[:, None]) & (idx <= stop[:, None]) & (dF >= level[:, None])
    j = hit.argmax(axis=1)
    found = hit.any(axis=1)
    prev = take(dF, np.maximum(j - 1, 0)[:, None])[:, 0]
    cur = dF[np.arange(n), j]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where((j > start) & (cur > prev), (level - prev) / (cur - prev), 1.0)
    out = np.where(j > start, j - 1 + np.clip(frac, 0, 1), j.astype(float))
    return np.where(found, out, np.nan)


def measure_kinetics(traces: Traces, background: float, options: AnalysisOptions = AnalysisOptions(),
                     bleach: Optional[np.ndarray] = None) -> Kinetics:
    """The kinetics of every event; ``bleach``: each frame's cell fluorescence relative to the
    movie's mean (core.analysis.pipeline.bleaching), to follow the background's bleaching in the
    Gaussian fits."""
    n, L = traces.disc.shape
    notes: List[List[str]] = [[] for _ in range(n)]
    if n == 0:
        z = np.zeros(0)
        return Kinetics(np.zeros((0, L)), z, z.astype(int), z.astype(int), z, z, np.zeros((0, 3)), z, z, notes)
    e = options.before
    disc = traces.disc.astype(np.float64)
    local = np.where(np.isfinite(traces.annulus), disc - traces.annulus, disc)
    rows = np.arange(n)
    # first guess of the baseline: the frames well before the event's frame
    idx0 = np.arange(0, max(e - 2, 1))[None, :].repeat(n, 0)
    base0, sd0 = _nanmean(take(local, idx0)), _nanstd(take(local, idx0))
    lo, hi = max(e + options.peak_window[0], 0), min(e + options.peak_window[1] + 1, L)
    win = local[:, lo:hi]
    has_peak = np.isfinite(win).any(axis=1)
    peak = np.where(has_peak, lo + np.argmax(np.where(np.isfinite(win), win, -np.inf), axis=1), -1)
    # onset: start of the run above F0 + k·σ that ends at the peak
    thr = base0 + options.onset_k * np.where(np.isfinite(sd0), sd0, 0.0)
    idx = np.arange(L)[None, :]
    below = ~(local > thr[:, None]) & (idx < peak[:, None])
    onset = np.where(below.any(axis=1), L - 1 - np.argmax(below[:, ::-1], axis=1) + 1, 0)
    onset = np.where(peak >= 0, np.minimum(onset, peak), -1)
    weak = (peak >= 0) & ~(local[rows, np.maximum(peak, 0)] > thr)
    # final baseline: baseline_frames before the onset, skipping baseline_gap
    bidx = (onset - options.baseline_gap - options.baseline_frames)[:, None] + np.arange(options.baseline_frames)
    bidx = np.where(onset[:, None] >= 0, bidx, -1)
    f0_raw, base = _nanmean(take(disc, bidx)), _nanmean(take(local, bidx))
    dF = local - base[:, None]
    amp = np.where(peak >= 0, dF[rows, np.maximum(peak, 0)], np.nan)
    F0 = f0_raw - background
    with np.errstate(invalid="ignore", divide="ignore"):
        dF_F0 = np.where(F0 > 0, amp / F0, np.nan)
    r0 = np.maximum(onset - 1, 0)
    rise = _first_crossing(dF, 0.9 * amp, r0, peak) - _first_crossing(dF, 0.1 * amp, r0, peak)
    for i in range(n):
        if peak[i] < 0:
            notes[i].append("no trace around the event")
        elif not np.isfinite(f0_raw[i]):
            notes[i].append("no baseline before the event (movie start)")
        elif not F0[i] > 0:
            notes[i].append("F0 not above the extracellular level")
        if weak[i]:
            notes[i].append(f"peak below F0 + {options.onset_k:g}σ")
    ok = (peak >= 0) & (amp > 0)
    M = min(options.decay_fit_frames, options.spread_frames)
    drift = None
    if bleach is not None:             # the background of each fitted frame relative to the baseline's
        T = len(bleach)
        at = lambda idx: np.where((idx >= 0) & (idx < T), bleach[np.clip(idx, 0, T - 1)], np.nan)   # noqa: E731
        first = traces.frame - options.before                      # movie frame of trace index 0
        base_level = _nanmean(at(first[:, None] + np.where(bidx >= 0, bidx, -10 ** 9)))
        drift = at(first[:, None] + np.maximum(peak, 0)[:, None] + np.arange(M)[None, :]) / base_level[:, None]
    sp = measure_spread(traces.boxes, peak, bidx, ok, options.box_half, M, traces.x - np.rint(traces.x),
                        traces.y - np.rint(traces.y), notes, options.spread_half_px, drift, background)
    decay, r2 = fit_total_decay(sp.total, sp.total_sd, ok, options.min_decay_points, notes)
    sigma = fit_sizes(traces, np.maximum(peak, 0), bidx, options, ok, notes)
    return Kinetics(dF, F0, peak, onset, dF_F0, rise, decay, r2, FWHM_PER_SIGMA * sigma, notes, sp.sigma0_sq,
                    sp.diffusion, sp.mode)


# ---------------------------------------------------------------- decay
def _exp_model(t, a, tau, b):
    return a * np.exp(-t / tau) + b


def _aligned(y: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Rows of ``y`` from their ``start`` index on, left-aligned, NaN-padded."""
    n, L = y.shape
    return take(y, start[:, None] + np.arange(L)[None, :])


def grid_decay(Y: np.ndarray):
    """Best (A, τ, B, SSE, SST) per row of ``Y`` (n, M), t = 0, 1, … (NaN = no point), over
    :data:`TAU_GRID` with A and B solved exactly for each τ (A > 0)."""
    w = np.isfinite(Y).astype(np.float64)
    Y0 = np.where(w > 0, Y, 0.0)
    t = np.arange(Y.shape[1], dtype=np.float64)
    E = np.exp(-t[None, :] / TAU_GRID[:, None])                        # (g, M)
    s1, sy, syy = w.sum(1)[:, None], Y0.sum(1)[:, None], (Y0 ** 2).sum(1)
    see, se, sey = w @ (E ** 2).T, w @ E.T, Y0 @ E.T                   # (n, g)
    det = see * s1 - se ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        a = (sey * s1 - se * sy) / det
        b = (see * sy - se * sey) / det
    sse = syy[:, None] - a * sey - b * sy
    sse = np.where((a > 0) & np.isfinite(sse) & (det > 1e-12), sse, np.inf)
    g = np.argmin(sse, axis=1)
    r = np.arange(len(Y))
    with np.errstate(invalid="ignore", divide="ignore"):
        sst = syy - sy[:, 0] ** 2 / s1[:, 0]
    return a[r, g], TAU_GRID[g], b[r, g], sse[r, g], sst


def fit_decays(y: np.ndarray, peak: np.ndarray, ok: np.ndarray, min_points: int,
               notes: Optional[List[List[str]]] = None):
    """Fit y(t) = A·e^(−t/τ) + B on each row of ``y`` from its ``peak`` index on (t in frames).
    Returns ((n, 3) A, τ, B; (n,) R²), NaN where no fit; reasons appended to ``notes``."""
    from scipy.optimize import curve_fit

    n = len(y)
    notes = notes if notes is not None else [[] for _ in range(n)]
    Y = _aligned(y, peak)
    npts = np.isfinite(Y).sum(1)
    a0, tau0, b0, _, _ = grid_decay(Y)
    out, r2 = np.full((n, 3), np.nan), np.full(n, np.nan)
    for i in range(n):
        if not ok[i]:
            notes[i].append("no decay fit (no peak above the baseline)")
            continue
        if npts[i] < min_points:
            notes[i].append(f"no decay fit (only {npts[i]} frames after the peak)")
            continue
        t = np.nonzero(np.isfinite(Y[i]))[0].astype(float)
        v = Y[i][np.isfinite(Y[i])]
        p0 = (max(a0[i], 1e-6), float(np.clip(tau0[i], 0.06, 9e3)), b0[i]) \
            if np.isfinite(a0[i]) and np.isfinite(b0[i]) else (1.0, 3.0, 0.0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                p, _ = curve_fit(_exp_model, t, v, p0=p0, bounds=([0.0, 0.05, -np.inf], [np.inf, 1e4, np.inf]),
                                 maxfev=2000)
        except (RuntimeError, ValueError) as exc:
            notes[i].append(f"decay fit did not converge ({str(exc)[:60]})")
            continue
        if p[0] < 0.1:                    # less than a tenth of the peak decays
            notes[i].append("no decay after the peak")
            continue
        res = v - _exp_model(t, *p)
        sst = float(((v - v.mean()) ** 2).sum())
        r2[i] = 1.0 - float((res ** 2).sum()) / sst if sst > 0 else np.nan
        if p[1] > 3 * (t[-1] + 1):
            notes[i].append("decay slower than the trace: τ not measurable")
            continue
        if p[1] < 0.2:
            notes[i].append("decay within one frame")
        out[i] = p
    return out, r2


def fit_mean_decay(y: np.ndarray, min_points: int = 5):
    """(A, τ, B, R²) of the decay of one mean trace ``y`` (t = 0, 1, … from its peak)."""
    p, r2 = fit_decays(np.asarray(y, float)[None, :], np.zeros(1, int), np.ones(1, bool), min_points)
    return (*p[0], r2[0])


# ---------------------------------------------------------------- size
def fit_sizes(traces: Traces, peak, bidx, options: AnalysisOptions, ok, notes) -> np.ndarray:
    """σ (px) of a 2D Gaussian fitted to each event's peak frame minus its baseline image, on
    (2·size_half_px + 1)² px (all events at once: core.analysis.spread.fit_gaussians)."""
    boxes, n = traces.boxes, len(peak)
    h, s = options.box_half, options.size_half_px
    sigma = np.full(n, np.nan)
    if n == 0:
        return sigma
    rows = np.arange(n)
    L = boxes.shape[1]
    crop = boxes[:, :, h - s:h + s + 1, h - s:h + s + 1].astype(np.float64)
    valid_b = (bidx >= 0) & (bidx < L)
    base_frames = np.where(valid_b[:, :, None, None], crop[rows[:, None], np.clip(bidx, 0, L - 1)], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        base = np.nanmean(base_frames, axis=1)
    img = (crop[rows, np.clip(peak, 0, L - 1)] - base).reshape(n, -1)
    w = np.isfinite(img).astype(np.float64)
    img = np.where(w > 0, img, 0.0)
    yy, xx = (g.ravel().astype(float) for g in np.mgrid[-s:s + 1, -s:s + 1])
    fx, fy = traces.x - np.rint(traces.x), traces.y - np.rint(traces.y)
    p = fit_gaussians(img, w, xx, yy, fx, fy, iterations=20, s_max=float(s) ** 2)
    sig = np.sqrt(p[:, 3])
    for i in range(n):
        if not ok[i] or not valid_b[i].any():
            continue
        if w[i].sum() < 12:
            notes[i].append("no size fit (event at the border)")
        elif not (np.isfinite(sig[i]) and p[i, 0] > 0 and abs(p[i, 1] - fx[i]) <= 2.5 and abs(p[i, 2] - fy[i]) <= 2.5
                  and sig[i] >= 0.3):
            notes[i].append("size fit did not converge")
        elif sig[i] >= 0.98 * s:
            notes[i].append("size larger than the fit window")
        else:
            sigma[i] = sig[i]
    return sigma
