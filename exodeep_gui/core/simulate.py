"""Realistic simulated TIRF movies of pHluorin exocytosis, with ground truth.

The model, per pixel and frame (all intensities in photons, then camera counts):

* **Cell**: a footprint made of a perturbed ellipse (random low harmonics of the radius)
  with a soft edge, filled with membrane fluorescence ``cell_photons`` modulated by a
  smooth random texture (±``texture`` relative) and photobleaching ``exp(-t/bleach_frames)``.
  Outside the cell only ``background_photons`` (autofluorescence, scattered light).
* **Docked vesicles**: steady Gaussian spots (σ = ``psf_sigma_px``) inside the cell with a
  log-normal brightness, that appear and leave at random times (some are present from
  frame 0, which the reference detector mistook for events); they jitter slightly.
* **Visiting vesicles**: spots that approach the membrane and leave it again without
  fusing: a smooth rise over a few frames, a plateau, a smooth fall, no spreading.
* **Exocytosis events**: at frame t0 a one-frame rise to F = SBR · F0 (F0: the local
  fluorescence before the event, SBR drawn log-normal, median ``sbr_median``, clipped to
  ``sbr_range``, as the paper's spread of F/F0), then an exponential decay of the total
  signal (time constant ``decay_frames``) while the spot spreads in 2D by diffusion
  (σ² grows by ``spread_px2_per_frame`` each frame, which conserves the integral).
* **Kiss-and-run events** (a share ``kiss_and_run_fraction`` of the events, none by default): the
  same rise and exponential decay (a pore that closes and re-quenches the vesicle), but no
  spreading: the spot keeps the PSF's width. Drawn from a second random stream, so that a movie
  without them is the same, seed for seed, as before they existed.
* **Camera (EMCCD)**: Poisson photon noise, gamma-distributed electron multiplication
  (gain ``em_gain``), conversion to counts (``electrons_per_count``), Gaussian read
  noise (``read_noise_counts``) and an ``offset_counts`` offset; stored as uint16.

Ground truth is the (x, y) position (column, row, pixels) and the frame t0 of the rise, with
per-event extra columns: ``sbr`` (F/F0 at the centre pixel), ``tau_frames`` (decay time constant
of the total signal), ``spread_px2_per_frame`` (growth of σ² per frame), ``diffusion_px2_per_frame``
(D of σ² = σ0² + 2Dt, so half of it), ``fusion_mode`` (``full`` or ``kiss-and-run``), and what an
ideal, noise-free measurement in a disc of radius :data:`TRUTH_DISC_RADIUS_PX` centred on the event gives (see
:func:`ideal_disc_kinetics`): ``dF_F0`` (ΔF/F0 at the peak, F0 being the cell's fluorescence
above the extracellular background), ``t_half_frames`` (time for that disc's excess signal to
fall to half its peak: decay and spreading together) and ``fwhm_px`` (of the spot at the peak).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional, Tuple

import numpy as np
from scipy import ndimage

from exodeep_gui.core.events import EventTable

TRUTH_DISC_RADIUS_PX = 3.0       # the disc of the ideal measurement behind dF_F0 and t_half_frames


@dataclass
class SimulationParams:
    frames: int = 300
    height: int = 256
    width: int = 256
    pixel_size_um: float = 0.16
    frame_interval_s: float = 0.3
    events: int = 40                      # exocytosis events per movie
    docked: int = 60                      # docked vesicles per movie
    visiting: int = 25                    # vesicles that come close and leave without fusing
    cell_photons: float = 80.0
    background_photons: float = 3.0
    texture: float = 0.25
    bleach_frames: float = 900.0
    psf_sigma_px: float = 1.3
    docked_photons: float = 60.0          # median peak of a docked vesicle above the cell
    sbr_median: float = 2.2
    sbr_range: Tuple[float, float] = (1.3, 8.0)
    decay_frames: float = 3.0
    spread_px2_per_frame: float = 0.5
    kiss_and_run_fraction: float = 0.0    # events that do not spread (re-quenched through a closing pore)
    em_gain: float = 100.0
    electrons_per_count: float = 10.0
    read_noise_counts: float = 4.0
    offset_counts: float = 100.0
    edge_margin_px: int = 8

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SimulatedMovie:
    movie: np.ndarray             # uint16 (t, y, x)
    truth: EventTable             # the exocytosis events
    cell_mask: np.ndarray         # bool (y, x)
    params: SimulationParams
    distractors: dict = field(default_factory=dict)   # positions of docked/visiting vesicles


def _cell_footprint(rng, h: int, w: int) -> Tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = h * rng.uniform(0.45, 0.55), w * rng.uniform(0.45, 0.55)
    ry, rx = h * rng.uniform(0.36, 0.44), w * rng.uniform(0.36, 0.44)
    ang = np.arctan2((yy - cy) / ry, (xx - cx) / rx)
    r = np.hypot((yy - cy) / ry, (xx - cx) / rx)
    radius = np.ones_like(ang)
    for k in range(2, 6):
        radius += rng.normal(0, 0.06 / k * 2) * np.cos(k * ang + rng.uniform(0, 2 * np.pi))
    mask = r < radius
    soft = ndimage.gaussian_filter(mask.astype(np.float32), 2.0)
    return mask, soft


def _texture(rng, h: int, w: int, amount: float) -> np.ndarray:
    noise = ndimage.gaussian_filter(rng.normal(size=(h, w)).astype(np.float32), 6.0)
    noise /= noise.std() + 1e-9
    return np.clip(1.0 + amount * noise, 0.2, None)


def _add_spot(stack, t0: int, amps, sigmas, y: float, x: float) -> None:
    """Add Gaussian spots of per-frame amplitude/σ at (y, x) from frame t0."""
    T, H, W = stack.shape
    n = len(amps)
    t1 = min(T, t0 + n)
    if t1 <= max(t0, 0):
        return
    rad = int(np.ceil(4 * max(sigmas))) + 1
    y0, y1 = max(0, int(y) - rad), min(H, int(y) + rad + 1)
    x0, x1 = max(0, int(x) - rad), min(W, int(x) + rad + 1)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    d2 = (yy - y) ** 2 + (xx - x) ** 2
    for i in range(max(0, -t0), t1 - t0):
        stack[t0 + i, y0:y1, x0:x1] += amps[i] * np.exp(-d2 / (2 * sigmas[i] ** 2))


def _inside(rng, mask: np.ndarray, n: int, margin: int) -> np.ndarray:
    H, W = mask.shape
    inner = ndimage.binary_erosion(mask, iterations=3)
    inner[:margin] = inner[-margin:] = False
    inner[:, :margin] = inner[:, -margin:] = False
    ys, xs = np.nonzero(inner)
    if len(ys) == 0:
        raise ValueError("the simulated cell is too small for its margins")
    pick = rng.integers(0, len(ys), n)
    return np.stack([ys[pick] + rng.uniform(-0.5, 0.5, n), xs[pick] + rng.uniform(-0.5, 0.5, n)], 1)


def simulate_movie(params: Optional[SimulationParams] = None, seed: int = 0) -> SimulatedMovie:
    p = params or SimulationParams()
    rng = np.random.default_rng(seed)
    T, H, W = p.frames, p.height, p.width
    mask, soft = _cell_footprint(rng, H, W)
    base = p.cell_photons * soft * _texture(rng, H, W, p.texture)
    bleach = np.exp(-np.arange(T) / p.bleach_frames).astype(np.float32)
    stack = base[None] * bleach[:, None, None]
    spots = np.zeros((T, H, W), np.float32)

    # docked vesicles: steady, appear and leave
    docked = _inside(rng, mask, p.docked, p.edge_margin_px)
    for y, x in docked:
        start = 0 if rng.random() < 0.4 else int(rng.integers(0, T))
        life = int(rng.integers(T // 4, T + 1))
        amp = p.docked_photons * rng.lognormal(0, 0.4)
        n = max(1, min(life, T - start))
        jy = np.cumsum(rng.normal(0, 0.05, n))
        jx = np.cumsum(rng.normal(0, 0.05, n))
        for i in range(0, n, 10):          # piecewise-steady jitter in 10-frame blocks
            k = min(10, n - i)
            _add_spot(spots, start + i, np.full(k, amp), np.full(k, p.psf_sigma_px), y + jy[i], x + jx[i])

    # visiting vesicles: rise, plateau, fall, no spreading
    visiting = _inside(rng, mask, p.visiting, p.edge_margin_px)
    for y, x in visiting:
        rise, hold, fall = rng.integers(3, 9), rng.integers(2, 20), rng.integers(3, 9)
        prof = np.concatenate([np.linspace(0, 1, rise + 1)[1:], np.ones(hold), np.linspace(1, 0, fall + 1)[1:]])
        amp = p.docked_photons * rng.lognormal(0, 0.4)
        start = int(rng.integers(0, max(1, T - len(prof))))
        _add_spot(spots, start, amp * prof, np.full(len(prof), p.psf_sigma_px), y, x)

    # exocytosis events
    pos = _inside(rng, mask, p.events, p.edge_margin_px)
    frames = np.sort(rng.integers(3, max(4, T - 8), p.events))
    sbr = np.clip(rng.lognormal(np.log(p.sbr_median), 0.45, p.events), *p.sbr_range)
    n_decay = int(np.ceil(6 * p.decay_frames)) + 1
    dt = np.arange(n_decay, dtype=np.float32)
    taus, spreads, cell_f0 = np.zeros(p.events), np.zeros(p.events), np.zeros(p.events)
    kiss = np.zeros(p.events, bool)
    if p.kiss_and_run_fraction > 0:              # a second stream: the first one draws as it always did
        kiss = np.random.default_rng([seed, 1]).random(p.events) < p.kiss_and_run_fraction
    for k, ((y, x), t0, s) in enumerate(zip(pos, frames, sbr)):
        f0 = float(base[int(y), int(x)] * bleach[t0]) + p.background_photons
        tau = p.decay_frames * rng.lognormal(0, 0.25)
        spread = p.spread_px2_per_frame * rng.lognormal(0, 0.25) * (0.0 if kiss[k] else 1.0)
        taus[k], spreads[k], cell_f0[k] = tau, spread, f0 - p.background_photons
        sig2 = p.psf_sigma_px ** 2 + spread * dt
        peak = (s - 1.0) * f0 * 2 * np.pi * p.psf_sigma_px ** 2     # integral at t0
        amps = peak * np.exp(-dt / tau) / (2 * np.pi * sig2)
        _add_spot(spots, int(t0), amps, np.sqrt(sig2), y, x)

    photons = stack + spots + p.background_photons
    counts = rng.poisson(photons)
    electrons = np.where(counts > 0, rng.gamma(np.maximum(counts, 1), p.em_gain), 0.0)
    adu = electrons / p.electrons_per_count + p.offset_counts + rng.normal(0, p.read_noise_counts, counts.shape)
    movie = np.clip(np.rint(adu), 0, 65535).astype(np.uint16)
    truth = EventTable.from_arrays(x=pos[:, 1], y=pos[:, 0], frame=frames,
                                   score=np.ones(len(frames)), size=np.zeros(len(frames)),
                                   extra={"sbr": sbr, **ideal_disc_kinetics(sbr, cell_f0, taus, spreads, p),
                                          "diffusion_px2_per_frame": spreads / 2.0,
                                          "fusion_mode": np.where(kiss, "kiss-and-run", "full")})
    return SimulatedMovie(movie, truth, mask, p, {"docked": docked, "visiting": visiting})


def ideal_disc_kinetics(sbr, cell_f0, tau, spread, params: SimulationParams,
                        radius: float = TRUTH_DISC_RADIUS_PX) -> dict:
    """Per-event truth of an ideal (noise-free, continuous) measurement in a disc of ``radius``
    px centred on each event: ``dF_F0`` at the peak (ΔF over the cell's own fluorescence
    ``cell_f0``, extracellular background excluded), ``t_half_frames`` (when the disc's excess
    falls to half: exponential loss of the total signal and 2D spreading together), plus
    ``tau_frames``, ``spread_px2_per_frame`` and ``fwhm_px`` (2.355 σ of the spot at the peak)."""
    sbr, cell_f0 = np.asarray(sbr, float), np.asarray(cell_f0, float)
    tau, spread = np.asarray(tau, float), np.asarray(spread, float)
    s0 = params.psf_sigma_px ** 2
    f0 = cell_f0 + params.background_photons
    in_disc0 = 1.0 - np.exp(-radius ** 2 / (2 * s0))            # share of the spot inside the disc
    df_f0 = (sbr - 1.0) * f0 * 2 * s0 * in_disc0 / radius ** 2 / np.maximum(cell_f0, 1e-9)
    t = np.linspace(0.0, 40.0, 40001)[None, :] * np.maximum(tau, 1e-3)[:, None]
    excess = np.exp(-t / tau[:, None]) * (1.0 - np.exp(-radius ** 2 / (2 * (s0 + spread[:, None] * t))))
    below = excess <= 0.5 * in_disc0
    t_half = np.where(below.any(axis=1), t[np.arange(len(tau)), below.argmax(axis=1)], np.nan) \
        if len(tau) else np.zeros(0)
    return {"dF_F0": df_f0, "t_half_frames": t_half, "tau_frames": tau,
            "spread_px2_per_frame": spread, "fwhm_px": np.full(len(tau), 2.3548 * params.psf_sigma_px)}
