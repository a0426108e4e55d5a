"""Decay and lateral spreading of each event, separated, from 2D Gaussian fits of its frames (as
pHusion and ExoJ fit each event's spot), for all events at once.

Model. After fusion the released fluorescence spreads in the membrane while it fades. Each frame
t = 0, 1, … from the peak, minus the event's baseline image (the mean of its baseline frames,
followed for the cell's bleaching when the pipeline gives it), is a 2D Gaussian of amplitude A_t,
variance σ_t² (width) and centre (x0, y0) on the (2·half + 1)² px around the event:

    I_t(x, y) = A_t · exp(−((x − x0)² + (y − y0)²) / (2σ_t²))

* The centre is fitted once, on the sum of the first three frames from the peak (a batched
  Levenberg–Marquardt fit of amplitude, centre, width and offset: :func:`fit_gaussians`), and kept
  for the later frames (the centre of a spreading puff does not move; fitting it on fading frames
  only adds noise). No offset is fitted on the frames: after the baseline image is taken away the
  event is all that is left, and a free offset takes up the wings of a wide, faint spot.
* Per frame, A_t is linear given σ_t²: for every σ² of a grid, A_t is solved exactly, which gives
  each frame's width (refined by a parabola) and its matched-filter SNR.
* **Spreading**: 2D diffusion from a point-like source widens a Gaussian as σ²(t) = σ0² + 2Dt (per
  axis). σ0² and D are fitted together over the frames where the spot stands out (from the peak
  while the SNR stays ≥ :data:`MIN_SNR`, one frame below it allowed): for each (σ0², D) of a grid
  every frame's amplitude is exact, and the summed residual is the profile to minimise (weak
  frames count little by themselves). D is refined by a parabola; its standard error comes from the
  profile's curvature. D < 0 (noise around no spreading) is reported as 0.
* **Decay**: with σ_t² from that line, A_t is solved again and the event's total fluorescence
  S_t = 2π·A_t·σ_t² (the Gaussian's integral, which spreading leaves unchanged) is fitted with
  S0·e^(−t/τ), weighted by its noise (:func:`fit_total_decay`): τ is the decay of the fluorescence
  itself, not of a fixed disc that the puff spreads out of. Frames where the spot is wider than the
  window can hold (σ > half / 2.5) are left out.
* **Fusion mode** (where the data allow; blank otherwise): ``full`` when the spot widens
  significantly (D − 2·SE(D) > 0 and σ² grows by at least :data:`MIN_GROWTH` over the frames used):
  the content spreads into the membrane (full fusion); ``kiss-and-run`` when its width stays that
  of the spot (no significant growth, less than :data:`MIN_GROWTH`) while its total fluorescence
  falls to half within the frames fitted: a pore that closes and re-quenches the vesicle without
  spreading. Blank with fewer than :data:`MIN_FRAMES` frames where the spot stands out."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import List

import numpy as np

SIGMA2_GRID = np.geomspace(0.25, 40.0, 40)        # px², the per-frame width search
S0_GRID = np.geomspace(0.6, 9.0, 28)              # px², σ² at the peak
D_GRID = np.linspace(0.0, 3.0, 61)                # px² per frame
MIN_SNR = 5.0                                     # matched-filter SNR of a frame used for the width
MIN_FRAMES = 3                                    # usable frames for a spreading estimate
MIN_GROWTH = 0.3                                  # relative growth of σ² that counts as spreading
FULL, KISS = "full", "kiss-and-run"


@dataclass
class Spread:
    x0: np.ndarray            # (n,) fitted centre in the box (px, relative to the box centre)
    y0: np.ndarray
    sigma2: np.ndarray        # (n, M) per-frame fitted σ² (px²), NaN where not usable
    snr: np.ndarray           # (n, M) matched-filter SNR of each frame
    sigma0_sq: np.ndarray     # (n,) σ² at the peak from the line (px²)
    diffusion: np.ndarray     # (n,) D (px² per frame), ≥ 0
    diffusion_se: np.ndarray  # (n,)
    total: np.ndarray         # (n, M) total fluorescence S_t (counts·px²), NaN where not usable
    mode: np.ndarray          # (n,) "full", "kiss-and-run" or ""
    total_sd: np.ndarray = None    # (n, M) its standard deviation from the pixel noise


def _take_frames(boxes, start, M):
    n, L = boxes.shape[:2]
    idx = start[:, None] + np.arange(M)[None, :]
    ok = (idx >= 0) & (idx < L)
    out = boxes[np.arange(n)[:, None], np.clip(idx, 0, L - 1)]
    return np.where(ok[:, :, None, None], out, np.nan)


def _linear_fit(I, w, G):
    """Least-squares A, c of I ≈ A·G + c (per row; I, w: (..., P), G broadcastable), and the SSE."""
    s1, sg, sgg = w.sum(-1), (w * G).sum(-1), (w * G * G).sum(-1)
    si, sig, sii = (w * I).sum(-1), (w * I * G).sum(-1), (w * I * I).sum(-1)
    det = sgg * s1 - sg ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        a = (sig * s1 - sg * si) / det
        c = (sgg * si - sg * sig) / det
    return a, c, sii - a * sig - c * si


def fit_gaussians(img, w, xx, yy, x_start, y_start, iterations: int = 12, s_max: float = 40.0):
    """Batched damped Gauss–Newton (Levenberg–Marquardt) fit of A·exp(−r²/2s) + c (A, x0, y0,
    s = σ², c) to each row of ``img`` (n, P) with weights ``w`` (0: no pixel), pixel coordinates
    ``xx``, ``yy`` (P,); returns the (n, 5) parameters (NaN rows where the fit is not finite)."""
    n = len(img)
    s = np.full(n, 2.0)
    x0, y0 = x_start.copy(), y_start.copy()
    d2 = (xx[None] - x0[:, None]) ** 2 + (yy[None] - y0[:, None]) ** 2
    a, c, _ = _linear_fit(img, w, np.exp(-d2 / (2 * s[:, None])))
    p = np.column_stack([np.nan_to_num(a, nan=1.0), x0, y0, s, np.nan_to_num(c)])
    lam = np.full(n, 1e-2)
    with np.errstate(all="ignore"):
        for _ in range(iterations):
            A, X, Y, S, C = p.T
            dx, dy = xx[None] - X[:, None], yy[None] - Y[:, None]
            g = np.exp(-(dx ** 2 + dy ** 2) / (2 * S[:, None]))
            r = img - (A[:, None] * g + C[:, None])
            J = np.stack([g, A[:, None] * g * dx / S[:, None], A[:, None] * g * dy / S[:, None],
                          A[:, None] * g * (dx ** 2 + dy ** 2) / (2 * S[:, None] ** 2), np.ones_like(g)], -1)
            Jw = J * w[..., None]
            H = np.einsum("npi,npj->nij", Jw, J)
            grad = np.einsum("npi,np->ni", Jw, r)
            diag = np.maximum(np.diagonal(H, axis1=1, axis2=2), 1e-12)
            H = H + lam[:, None, None] * np.eye(5)[None] * diag[:, :, None]
            ok = np.isfinite(H).all((1, 2)) & np.isfinite(grad).all(1)
            step = np.zeros_like(p)
            if ok.any():
                try:
                    step[ok] = np.linalg.solve(H[ok], grad[ok][..., None])[..., 0]
                except np.linalg.LinAlgError:
                    break
            new = p + step
            new[:, 3] = np.clip(new[:, 3], 0.2, s_max)
            sse_old = (w * r ** 2).sum(1)
            g2 = np.exp(-((xx[None] - new[:, 1:2]) ** 2 + (yy[None] - new[:, 2:3]) ** 2) / (2 * new[:, 3:4]))
            sse_new = (w * (img - (new[:, :1] * g2 + new[:, 4:5])) ** 2).sum(1)
            better = np.isfinite(sse_new) & (sse_new <= sse_old)
            p = np.where(better[:, None], new, p)
            lam = np.where(better, lam * 0.3, lam * 10.0)
    return np.where(np.isfinite(p).all(1)[:, None], p, np.nan)


def _fit_centre(img, w, xx, yy, x_start, y_start):
    """The centre (x0, y0 px) of the Gaussian fitted to ``img``, else the start where the fit fails
    or wanders more than 2 px."""
    p = fit_gaussians(img, w, xx, yy, x_start, y_start)
    x0, y0 = p[:, 1], p[:, 2]
    bad = ~np.isfinite(x0) | ~np.isfinite(y0) | (np.hypot(x0 - x_start, y0 - y_start) > 2.0) | ~(p[:, 0] > 0)
    return np.where(bad, x_start, x0), np.where(bad, y_start, y0)


def measure_spread(boxes: np.ndarray, peak: np.ndarray, bidx: np.ndarray, ok: np.ndarray, box_half: int,
                   frames: int, x_frac, y_frac, notes: List[List[str]], half: int = 0, drift=None,
                   background: float = 0.0) -> Spread:
    """Per-frame Gaussian fits from each event's peak over ``frames`` frames (see the module).
    ``boxes`` (n, L, B, B) around each event, ``peak`` the trace index of its peak, ``bidx`` its
    baseline frames, ``ok`` the events with a peak above their baseline; ``x_frac``, ``y_frac`` the
    events' sub-pixel offsets in their boxes."""
    n, L, B, _ = boxes.shape
    s = min(half, box_half) if half > 0 else box_half - 1
    M = int(frames)
    nan_nm = np.full((n, M), np.nan)
    empty = Spread(np.full(n, np.nan), np.full(n, np.nan), nan_nm, nan_nm.copy(), np.full(n, np.nan),
                   np.full(n, np.nan), np.full(n, np.nan), nan_nm.copy(), np.full(n, "", dtype=object).astype(str))
    if n == 0:
        return empty
    crop = boxes[:, :, box_half - s:box_half + s + 1, box_half - s:box_half + s + 1].astype(np.float64)
    W = 2 * s + 1
    yy, xx = (g.ravel() for g in np.mgrid[-s:s + 1, -s:s + 1].astype(float))
    base_frames = _take_frames(crop, bidx[:, 0], bidx.shape[1])          # (n, K, W, W)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        base = np.nanmean(base_frames, axis=1)
        noise = np.nanmedian(np.nanstd(base_frames, axis=1, ddof=1).reshape(n, -1), axis=1)
        level = np.nanmedian(np.abs(base).reshape(n, -1), axis=1)
    noise = np.where(np.isfinite(noise), np.maximum(noise, 1e-4 * np.nan_to_num(level) + 1e-6), np.nan)
    frames_img = _take_frames(crop, np.maximum(peak, 0), M) - base[:, None]      # (n, M, W, W)
    if drift is not None:        # the cell bleaches: its background at each frame is not the baseline's
        d = np.where(np.isfinite(drift), drift, 1.0)[:, :, None, None]
        frames_img = frames_img - (base[:, None] - background) * (d - 1.0)
    I = frames_img.reshape(n, M, W * W)
    w = np.isfinite(I).astype(np.float64)
    I = np.where(w > 0, I, 0.0)
    w[~ok] = 0.0
    # the centre, from the first three frames together
    first = I[:, :3].sum(1)
    w3 = w[:, :3].min(1)
    x0, y0 = _fit_centre(first, w3, xx, yy, np.asarray(x_frac, float), np.asarray(y_frac, float))
    d2 = (xx[None] - x0[:, None]) ** 2 + (yy[None] - y0[:, None]) ** 2              # (n, P)
    # per-frame width: grid search with A exact, then a parabola through the best three
    G = np.exp(-d2[:, None, :] / (2 * SIGMA2_GRID[None, :, None]))                  # (n, g, P)
    sgg = np.einsum("nmp,ngp->nmg", w, G * G)
    sig = np.einsum("nmp,ngp->nmg", w * I, G)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = sig / sgg
    sse = -(a * sig)                                               # + Σ w I², the same for every σ²
    sse = np.where((a > 0) & np.isfinite(sse) & (sgg > 1e-12), sse, np.inf)
    logg = np.log(SIGMA2_GRID)
    step = logg[1] - logg[0]
    k = np.argmin(sse, axis=-1)
    k1 = np.clip(k, 1, len(SIGMA2_GRID) - 2)
    e0, e1, e2 = (np.take_along_axis(sse, (k1 + d)[..., None], -1)[..., 0] for d in (-1, 0, 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        curv = e0 - 2 * e1 + e2
        shift = np.where(np.isfinite(e0 + e1 + e2) & (curv > 0), 0.5 * (e0 - e2) / curv, 0.0)
    shift = np.where(k == k1, np.clip(shift, -1, 1), 0.0)
    sigma2 = np.exp(logg[k] + shift * step)
    Gt = np.exp(-d2[:, None, :] / (2 * sigma2[..., None]))
    with np.errstate(invalid="ignore", divide="ignore"):
        A = (w * I * Gt).sum(-1) / (w * Gt * Gt).sum(-1)
        snr = A * np.sqrt((w * Gt * Gt).sum(-1)) / noise[:, None]
    found = np.isfinite(sse.min(-1)) & (w.sum(-1) > 12)
    limit = (s / 2.5) ** 2
    usable = found & (snr >= MIN_SNR) & (sigma2 <= limit) & (sigma2 > SIGMA2_GRID[0] * 1.01)
    # the frames of the event: from the peak while the spot stands out (SNR ≥ MIN_SNR, one frame
    # below it allowed), at most while a spreading spot still fits in the window
    t = np.arange(M, dtype=np.float64)[None, :]
    clear = found & (snr >= MIN_SNR)
    gap = ~clear & ~np.roll(clear, -1, axis=1)
    gap[:, -1] = ~clear[:, -1]
    last = np.where(gap.any(1), np.argmax(gap, axis=1) - 1, M - 1)
    frames_used = (t <= last[:, None]) & found
    nf = frames_used.sum(1)
    # spreading: σ0² and D of σ²(t) = σ0² + 2Dt by a profile fit over every frame used at once:
    # for each (σ0², D) each frame's amplitude is exact (interpolated from the width grid)
    prof = np.where(np.isfinite(sse), sse, 0.0)                    # −A²·Σg² (0 where A ≤ 0)
    s0g, dg = S0_GRID[:, None], D_GRID[None, :]
    model = (s0g[..., None] + 2 * dg[..., None] * t[0][None, None, :]).reshape(-1, M)          # (C, M)
    u = np.clip((np.log(model) - logg[0]) / step, 0, len(logg) - 1.000001)
    i0, fr = np.floor(u).astype(int), u - np.floor(u)
    total_sse = np.zeros((n, model.shape[0]))
    for m in range(M):                                             # (n, C) per frame, summed
        v = prof[:, m, i0[:, m]] * (1 - fr[:, m]) + prof[:, m, i0[:, m] + 1] * fr[:, m]
        total_sse += np.where(frames_used[:, m:m + 1], v, 0.0)
    total_sse = total_sse.reshape(n, len(S0_GRID), len(D_GRID))
    best = total_sse.reshape(n, -1).argmin(1)
    bs, bd = np.unravel_index(best, total_sse.shape[1:])
    # D refined by a parabola along D at the best σ0² (a grid uniform in D), and its standard error
    # from the curvature: var(D) ≈ 2σ²_noise / (∂²SSE/∂D²)
    rows = np.arange(n)
    bd1 = np.clip(bd, 1, len(D_GRID) - 2)
    f0, f1, f2 = (total_sse[rows, bs, bd1 + d] for d in (-1, 0, 1))
    h = D_GRID[1] - D_GRID[0]
    curv = (f0 - 2 * f1 + f2) / h ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        shift_d = np.where((curv > 0) & (bd == bd1), np.clip(0.5 * (f0 - f2) / (f0 - 2 * f1 + f2), -1, 1), 0.0)
        D_fit = D_GRID[bd] + shift_d * h * (bd == bd1)
        D_se = np.sqrt(2 * noise ** 2 / np.where(curv > 0, curv, np.nan))
    fit = ok & (nf >= MIN_FRAMES)
    D = np.where(fit, np.maximum(D_fit, 0.0), np.nan)
    D_se = np.where(fit, D_se, np.nan)
    s0 = np.where(fit, S0_GRID[bs], np.nan)
    # the total fluorescence, each frame's width from the fitted line
    s0_use = np.where(fit, s0, np.where(usable[:, 0], sigma2[:, 0], np.nan))
    model = np.clip(s0_use[:, None] + 2.0 * np.nan_to_num(D)[:, None] * t, SIGMA2_GRID[0], None)
    Gm = np.exp(-d2[:, None, :] / (2 * model[..., None]))
    with np.errstate(invalid="ignore", divide="ignore"):
        Am = (w * I * Gm).sum(-1) / (w * Gm * Gm).sum(-1)
        total_sd = 2 * np.pi * model * noise[:, None] / np.sqrt((w * Gm * Gm).sum(-1))
    total = 2 * np.pi * Am * model
    keep_total = ok[:, None] & np.isfinite(total) & np.isfinite(total_sd) & (model <= limit) & (w.sum(-1) > 12)
    total = np.where(keep_total, total, np.nan)
    total_sd = np.where(keep_total, total_sd, np.nan)
    # fusion mode
    with np.errstate(invalid="ignore", divide="ignore"):
        growth = (np.nan_to_num(D) * 2 * np.maximum(last, 0)) / s0
        halved = (np.nanmin(np.where(keep_total, total, np.inf), axis=1) <= 0.5 * total[:, 0])
    spreading = fit & (D - 2 * D_se > 0) & (growth >= MIN_GROWTH)
    still = fit & ~(D - 2 * D_se > 0) & (growth < MIN_GROWTH) & halved
    mode = np.where(spreading, FULL, np.where(still, KISS, "")).astype(str)
    for i in np.nonzero(ok & ~fit)[0]:
        notes[i].append(f"no spreading fit (only {int(nf[i])} frames with a clear spot)")
    return Spread(x0, y0, np.where(usable, sigma2, np.nan), snr, s0, D, D_se, total, mode, total_sd)


def fit_total_decay(total: np.ndarray, sd: np.ndarray, ok: np.ndarray, min_points: int, notes: List[List[str]],
                    offset: bool = False):
    """S_t = S0·e^(−t/τ) (+ B with ``offset``) fitted to each row of ``total`` (t = 0, 1, … frames)
    by weighted least squares (weights 1/sd²), over a grid of τ with S0 (and B) exact, refined by a
    parabola in log τ. Returns ((n, 3) a, τ, b of S/S0 = a·e^(−t/τ) + b; (n,) weighted R²)."""
    from exodeep_gui.core.analysis.kinetics import TAU_GRID

    n, M = total.shape
    t = np.arange(M, dtype=np.float64)
    good = np.isfinite(total) & np.isfinite(sd) & (sd > 0)
    wt = np.where(good, 1.0 / np.where(good, sd, 1.0) ** 2, 0.0)
    y = np.where(good, total, 0.0)
    E = np.exp(-t[None, :] / TAU_GRID[:, None])                     # (g, M)
    swee, swey = wt @ (E ** 2).T, (wt * y) @ E.T                    # (n, g)
    if offset:
        sw, swy, swe = wt.sum(1)[:, None], (wt * y).sum(1)[:, None], wt @ E.T
        det = swee * sw - swe ** 2
        with np.errstate(invalid="ignore", divide="ignore"):
            a = (swey * sw - swe * swy) / det
            b = (swee * swy - swe * swey) / det
        sse = -(a * swey + b * swy)
        sse = np.where((a > 0) & (det > 1e-12), sse, np.inf)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            a = swey / swee
        b = np.zeros_like(a)
        sse = np.where(a > 0, -a * swey, np.inf)
    g = np.argmin(sse, axis=1)
    r = np.arange(n)
    g1 = np.clip(g, 1, len(TAU_GRID) - 2)
    e0, e1, e2 = sse[r, g1 - 1], sse[r, g1], sse[r, g1 + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        sh = np.where(np.isfinite(e0 + e1 + e2) & (e0 - 2 * e1 + e2 > 0) & (g == g1),
                      np.clip(0.5 * (e0 - e2) / (e0 - 2 * e1 + e2), -1, 1), 0.0)
    lg = np.log(TAU_GRID)
    tau = np.exp(lg[g] + sh * (lg[1] - lg[0]))
    Et = np.exp(-t[None, :] / tau[:, None])
    if offset:
        sw, swy, swe, swee, swey = (wt.sum(1), (wt * y).sum(1), (wt * Et).sum(1), (wt * Et ** 2).sum(1),
                                    (wt * y * Et).sum(1))
        det = swee * sw - swe ** 2
        with np.errstate(invalid="ignore", divide="ignore"):
            A = (swey * sw - swe * swy) / det
            B = (swee * swy - swe * swey) / det
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            A = (wt * y * Et).sum(1) / (wt * Et ** 2).sum(1)
        B = np.zeros(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        res = np.where(good, y - (A[:, None] * Et + B[:, None]), 0.0)
        ybar = (wt * y).sum(1) / wt.sum(1)
        sst = (wt * (y - ybar[:, None]) ** 2 * good).sum(1)
        r2 = 1.0 - (wt * res ** 2).sum(1) / sst
    out = np.column_stack([np.ones(n), tau, B / A])
    npts = good.sum(1)
    done = ok & np.isfinite(sse[r, g]) & (npts >= min_points) & (A > 0)
    for i in range(n):
        if not ok[i]:
            continue
        if npts[i] < min_points:
            notes[i].append(f"no decay fit (only {npts[i]} frames after the peak with the spot in view)")
        elif not done[i]:
            notes[i].append("no decay of the event's fluorescence")
        elif tau[i] >= TAU_GRID[-1] * 0.999 or tau[i] > 3 * M:
            notes[i].append("decay slower than the trace: τ not measurable")
            done[i] = False
    out[~done] = np.nan
    return out, np.where(done, r2, np.nan)
