"""Kinetics against the simulator's truth: does the reported half-life follow the decay of the
fluorescence (not its spreading out of a disc), the diffusion coefficient the spreading, and the
fusion mode the kind of event?

  python benchmarks/bench_kinetics.py [--movies 8 --events 40 --seed 1000]

Held-out simulated movies (seeds from --seed on, never used by the tests), each with its own decay
time (1.5–8 frames, log-uniform), spreading (σ² growth 0.2–1.5 px² per frame) and a third of
kiss-and-run events (no spreading), analysed at the true positions in the true cell mask. Prints,
over all events: Spearman rank correlation and median relative error of the half-life against
the true decay (τ·ln 2 of the total signal) — ExoDeep's, and a 20-line disc-mean + exponential fit
for comparison —; the same for the diffusion coefficient against the truth (D = growth/2) on the
spreading events; the fusion-mode table; and the time the kinetics of 300 events take."""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exodeep_gui.core.analysis import AnalysisOptions, analyze_movie          # noqa: E402
from exodeep_gui.core.analysis.kinetics import measure_kinetics               # noqa: E402
from exodeep_gui.core.analysis.traces import sweep, traces_from_boxes         # noqa: E402
from exodeep_gui.core.movie import Movie                                       # noqa: E402
from exodeep_gui.core.progress import run_to_end                               # noqa: E402
from exodeep_gui.core.simulate import SimulationParams, simulate_movie         # noqa: E402


def disc_mean_fit(movie, x, y, frame, radius=3.0, before=5, after=20):
    """The comparison: mean in a disc minus the 5 frames before, exponential fit from the peak."""
    from scipy.optimize import curve_fit

    T, H, W = movie.shape
    yy, xx = np.mgrid[0:H, 0:W]
    out = []
    for xi, yi, f in zip(x, y, frame):
        disc = (xx - xi) ** 2 + (yy - yi) ** 2 <= radius ** 2
        tr = movie[max(f - before, 0):min(f + after, T)][:, disc].mean(1).astype(float)
        k = f - max(f - before, 0)
        base = tr[:k].mean() if k else tr.min()
        y = tr[k:] - base
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                p, _ = curve_fit(lambda t, a, tau, b: a * np.exp(-t / tau) + b, np.arange(len(y)), y,
                                 p0=(y[0], 3.0, 0.0), bounds=([0, 0.05, -np.inf], [np.inf, 1e3, np.inf]), maxfev=2000)
            out.append(p[1] * np.log(2))
        except (RuntimeError, ValueError):
            out.append(np.nan)
    return np.array(out)


def disc_fit_before(a):
    """What ExoDeep reported before (0.1.0): the exponential fit of the same disc trace from its peak."""
    from exodeep_gui.core.analysis.kinetics import fit_decays

    k, o = a.kinetics, a.options
    n, L = k.dF.shape
    ok = (k.peak >= 0)
    amp = np.where(ok, k.dF[np.arange(n), np.maximum(k.peak, 0)], np.nan)
    ok &= amp > 0
    norm = k.dF / np.where(ok, amp, np.nan)[:, None]
    beyond = np.arange(L)[None, :] >= (np.maximum(k.peak, 0) + o.decay_fit_frames)[:, None]
    p, _ = fit_decays(np.where(beyond, np.nan, norm), np.maximum(k.peak, 0), ok, o.min_decay_points)
    return p[:, 1] * np.log(2)


def agreement(est, truth):
    from scipy.stats import spearmanr

    est, truth = np.asarray(est, float), np.asarray(truth, float)
    ok = np.isfinite(est) & np.isfinite(truth)
    rel = np.abs(est[ok] - truth[ok]) / truth[ok]
    return ok.sum(), len(est), float(spearmanr(est[ok], truth[ok])[0]), float(np.median(rel))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--movies", type=int, default=8)
    ap.add_argument("--events", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1000)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    rows = {k: [] for k in ("t_half", "disc", "old", "tau_true", "D", "D_true", "mode", "mode_true")}
    for m in range(args.movies):
        decay = float(np.exp(rng.uniform(np.log(1.5), np.log(8.0))))
        spread = float(rng.uniform(0.2, 1.5))
        p = SimulationParams(frames=160, height=128, width=128, events=args.events, decay_frames=decay,
                             spread_px2_per_frame=spread, kiss_and_run_fraction=1 / 3)
        sim = simulate_movie(p, seed=args.seed + m)
        a = run_to_end(analyze_movie(Movie(sim.movie), sim.truth, AnalysisOptions(ripley_simulations=0),
                                     mask=sim.cell_mask))
        ev = sim.truth
        rows["t_half"].append(a.columns["t_half_frames"])
        rows["disc"].append(disc_mean_fit(sim.movie, ev.x, ev.y, ev.frame))
        rows["old"].append(disc_fit_before(a))
        rows["tau_true"].append(ev.extra["tau_frames"] * np.log(2))
        rows["D"].append(a.columns["diffusion_px2_frame"])
        rows["D_true"].append(ev.extra["diffusion_px2_per_frame"])
        rows["mode"].append(a.columns["fusion_mode"])
        rows["mode_true"].append(ev.extra["fusion_mode"])
        print(f"movie {m + 1}: τ {decay:.2f} frames, σ² growth {spread:.2f} px²/frame: median t½ "
              f"{np.nanmedian(rows['t_half'][-1]):.2f} (truth {np.median(rows['tau_true'][-1]):.2f}), median D "
              f"{np.nanmedian(rows['D'][-1][ev.extra['fusion_mode'] == 'full']):.3f} (truth {spread / 2:.3f})")
    r = {k: np.concatenate(v) for k, v in rows.items()}
    n, tot, rho, rel = agreement(r["t_half"], r["tau_true"])
    print(f"half-life (ExoDeep, Gaussian fits): {n}/{tot} measured, Spearman {rho:.3f}, median relative error {rel:.3f}")
    n, tot, rho, rel = agreement(r["disc"], r["tau_true"])
    print(f"half-life (disc mean + exponential): {n}/{tot} measured, Spearman {rho:.3f}, median relative error {rel:.3f}")
    same = np.isfinite(r["t_half"])
    _, _, rho, rel = agreement(r["disc"][same], r["tau_true"][same])
    print(f"  … the disc mean + exponential on the same {same.sum()} events: Spearman {rho:.3f}, median relative "
          f"error {rel:.3f}")
    n, tot, rho, rel = agreement(r["old"], r["tau_true"])
    print(f"half-life (ExoDeep 0.1.0: disc trace fit): {n}/{tot} measured, Spearman {rho:.3f}, median relative error "
          f"{rel:.3f}")
    full = r["mode_true"] == "full"
    n, tot, rho, rel = agreement(r["D"][full], r["D_true"][full])
    print(f"diffusion (spreading events): {n}/{tot} measured, Spearman {rho:.3f}, median relative error {rel:.3f}")
    kiss = ~full
    print(f"diffusion (kiss-and-run events, truth 0): median {np.nanmedian(r['D'][kiss]):.3f} px²/frame "
          f"(spreading events: {np.nanmedian(r['D'][full]):.3f})")
    for truth in ("full", "kiss-and-run"):
        sel = r["mode_true"] == truth
        got = {g: int((r["mode"][sel] == g).sum()) for g in ("full", "kiss-and-run", "")}
        print(f"fusion mode of {truth} events ({sel.sum()}): " + ", ".join(f"{g or 'undetermined'} {c}"
                                                                          for g, c in got.items()))
    # speed: the kinetics of 300 events (traces already read)
    p = SimulationParams(frames=300, height=192, width=192, events=300)
    sim = simulate_movie(p, seed=args.seed + 999)
    ev, o = sim.truth, AnalysisOptions()
    _, boxes = run_to_end(sweep(sim.movie, ev.x, ev.y, ev.frame, o))
    tr = traces_from_boxes(boxes, ev.x, ev.y, ev.frame, sim.movie.shape, o)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        measure_kinetics(tr, 100.0, o)
        times.append(time.perf_counter() - t0)
    print(f"kinetics of 300 events (ΔF/F0, decay, spreading, size): best {min(times):.2f} s, median "
          f"{np.median(times):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
