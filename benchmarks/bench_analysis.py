"""Analysis speed: ``core.analysis.analyze_movie`` on a simulated 1000 × 300 × 300 uint16 movie
with 300 events (goal: under 10 s on the 2-core development machine), then the report (tables,
12 figures as PNG + SVG, report.html) for the same movie, timed separately.

  python benchmarks/bench_analysis.py [--frames 1000 --size 300 --events 300 --repeats 3]
  python benchmarks/bench_analysis.py --truth     # only the truth check of the README (3 movies, 300 events)
  python benchmarks/bench_analysis.py --events-only [--cells 200 --total-events 35000]
      # events tables without movies: `exodeep analyze --events DIR --conditions FILE --out OUT`
      # on generated cells (masks, events, a paired conditions table), timed as a whole

The movie is simulated first (not timed; a minute or so and ~4 GB of memory at the default size).
Prints the simulation time, each analysis run, the best and median, events/s and the report time;
also how closely ΔF/F0 and t½ follow the simulated truth on this movie."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exodeep_gui.core.analysis import AnalysisOptions, analyze_movie          # noqa: E402
from exodeep_gui.core.movie import Movie                                       # noqa: E402
from exodeep_gui.core.progress import run_to_end                               # noqa: E402
from exodeep_gui.core.simulate import SimulationParams, simulate_movie         # noqa: E402


def agreement(est, truth):
    ok = np.isfinite(est) & np.isfinite(truth)
    rel = np.abs(est[ok] - truth[ok]) / truth[ok]
    return ok.sum(), float(np.median(rel)), float(np.corrcoef(est[ok], truth[ok])[0, 1])


def truth_check() -> None:
    """Three movies (300 frames, 256 × 256, 100 events each) whose events decay with τ = 2, 4 and 8
    frames, measured at the true positions in the true cell mask: how closely ΔF/F0 (against the
    ideal disc measurement, core.simulate.ideal_disc_kinetics), t½ (against the decay of the
    event's fluorescence, τ·ln 2), D (against half the growth of σ² per frame) and the FWHM follow
    the simulator's truth."""
    from scipy.stats import spearmanr

    est = {"dF_F0": [], "t_half": [], "fwhm": [], "D": []}
    tru = {"dF_F0": [], "t_half": [], "D": []}
    for k, decay in enumerate((2.0, 4.0, 8.0)):
        p = SimulationParams(frames=300, height=256, width=256, events=100, decay_frames=decay)
        sim = simulate_movie(p, seed=10 + k)
        a = run_to_end(analyze_movie(Movie(sim.movie), sim.truth, AnalysisOptions(ripley_simulations=9),
                                     mask=sim.cell_mask))
        est["dF_F0"].append(a.columns["dF_F0"])
        est["t_half"].append(a.columns["t_half_frames"])
        est["fwhm"].append(a.columns["fwhm_px"])
        est["D"].append(a.columns["diffusion_px2_frame"])
        tru["dF_F0"].append(sim.truth.extra["dF_F0"])
        tru["t_half"].append(sim.truth.extra["tau_frames"] * np.log(2))
        tru["D"].append(sim.truth.extra["diffusion_px2_per_frame"])
        print(f"τ = {decay:g} frames: median t½ {np.nanmedian(est['t_half'][-1]):.2f} frames "
              f"(truth {np.median(tru['t_half'][-1]):.2f}), median ΔF/F0 {np.nanmedian(est['dF_F0'][-1]):.3f} "
              f"(truth {np.median(tru['dF_F0'][-1]):.3f})")
    for name in ("dF_F0", "t_half", "D"):
        e, t = np.concatenate(est[name]), np.concatenate(tru[name])
        ok = np.isfinite(e) & np.isfinite(t)
        rel = np.abs(e[ok] - t[ok]) / t[ok]
        q1, q3 = np.percentile(rel, [25, 75])
        print(f"{name}: {ok.sum()}/{len(e)} measured; median relative error {np.median(rel):.3f} (IQR {q1:.3f}–"
              f"{q3:.3f}); median ratio {np.median(e[ok] / t[ok]):.3f}; Pearson r {np.corrcoef(e[ok], t[ok])[0, 1]:.3f}, "
              f"Spearman {spearmanr(e[ok], t[ok])[0]:.3f}")
    print(f"FWHM: median {np.nanmedian(np.concatenate(est['fwhm'])):.2f} px (truth {2.3548 * 1.3:.2f} px)")


def make_event_tables(folder: Path, cells: int, total_events: int, seed: int = 0) -> Path:
    """``cells`` cells (before/after pairs): a 256 × 256 elliptic mask each, events (X, Y, Slice)
    uniform in it, half of them in a few clusters, ``total_events`` in all; returns the conditions table."""
    import tifffile

    from exodeep_gui.core.analysis.spatial import random_points

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    per = rng.multinomial(total_events, np.full(cells, 1.0 / cells))
    yy, xx = np.mgrid[0:256, 0:256]
    lines = ["movie,condition,pair,frames,frame_interval_s,pixel_size_um"]
    for c in range(cells):
        mask = ((xx - 128) / rng.uniform(70, 120)) ** 2 + ((yy - 128) / rng.uniform(70, 120)) ** 2 < 1
        n = int(per[c])
        pts = random_points(mask, n, rng)
        k = n // 2
        centres = random_points(mask, 4, rng)
        pts[:k] = centres[rng.integers(0, 4, k)] + rng.normal(0, 4, (k, 2))
        pts = np.clip(pts, 0, 255)
        inside = mask[np.rint(pts[:, 1]).astype(int), np.rint(pts[:, 0]).astype(int)]
        pts[~inside] = random_points(mask, int((~inside).sum()), rng)     # cluster points outside: anywhere
        frames = rng.integers(1, 1001, len(pts))
        name = f"cell{c:03d}"
        rows = ["X,Y,Slice,id,score,size"] + [f"{x:.2f},{y:.2f},{f},{i + 1},,"
                                              for i, ((x, y), f) in enumerate(zip(pts, frames))]
        (folder / f"{name}_events.csv").write_text("\n".join(rows) + "\n")
        tifffile.imwrite(folder / f"{name}_mask.tif", mask.astype(np.uint8))
        lines.append(f"{name},{'before' if c % 2 == 0 else 'after'},p{c // 2},1001,0.3,0.16")
    table = folder / "conditions.csv"
    table.write_text("\n".join(lines) + "\n")
    return table


def events_only(cells: int, total_events: int) -> None:
    from exodeep_gui.cli import main as cli

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        table = make_event_tables(Path(tmp) / "tables", cells, total_events)
        n = sum(len(p.read_text().splitlines()) - 1 for p in (Path(tmp) / "tables").glob("*_events.csv"))
        print(f"generated {cells} cells, {n} events in {time.perf_counter() - t0:.1f} s (not timed below)")
        for run, extra in (("default: figures of 10 cells", []), ("--movie-figures 0", ["--movie-figures", "0"])):
            out = Path(tmp) / f"out{len(extra)}"
            t0 = time.perf_counter()
            rc = cli(["analyze", "--events", str(Path(tmp) / "tables"), "--conditions", str(table), "--out", str(out)]
                     + extra)
            print(f"exodeep analyze --events ({run}): {time.perf_counter() - t0:.1f} s, exit status {rc}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--size", type=int, default=300)
    ap.add_argument("--events", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-report", action="store_true")
    ap.add_argument("--truth", action="store_true", help="run only the truth check")
    ap.add_argument("--events-only", action="store_true", help="time an events-only analysis of --cells cells")
    ap.add_argument("--cells", type=int, default=200)
    ap.add_argument("--total-events", type=int, default=35000)
    args = ap.parse_args()
    if args.truth:
        truth_check()
        return 0
    if args.events_only:
        events_only(args.cells, args.total_events)
        return 0
    t0 = time.perf_counter()
    p = SimulationParams(frames=args.frames, height=args.size, width=args.size, events=args.events,
                         docked=150, visiting=60)
    sim = simulate_movie(p, seed=7)
    movie = Movie(sim.movie, pixel_size_um=p.pixel_size_um, frame_interval_s=p.frame_interval_s)
    print(f"simulated {args.frames} × {args.size} × {args.size} uint16 ({sim.movie.nbytes / 1e6:.0f} MB), "
          f"{len(sim.truth)} events in {time.perf_counter() - t0:.1f} s (not timed below)")
    options = AnalysisOptions()
    times = []
    for k in range(args.repeats):
        t0 = time.perf_counter()
        result = run_to_end(analyze_movie(movie, sim.truth, options))
        times.append(time.perf_counter() - t0)
        print(f"run {k + 1}: analysis {times[-1]:.2f} s")
    best, med = min(times), statistics.median(times)
    print(f"analysis of {len(sim.truth)} events on {args.frames} × {args.size} × {args.size}: best {best:.2f} s, "
          f"median {med:.2f} s ({len(sim.truth) / med:.0f} events/s; goal < 10 s: {'met' if med < 10 else 'NOT met'})")
    truths = {"dF_F0": sim.truth.extra["dF_F0"], "t_half_s": sim.truth.extra["tau_frames"] * np.log(2)}
    for name, col in (("ΔF/F0", "dF_F0"), ("t½ (against τ·ln 2)", "t_half_s")):
        est = result.columns[col] / (p.frame_interval_s if col == "t_half_s" else 1.0)
        n, rel, r = agreement(est, truths[col])
        print(f"  {name}: {n} events, median relative error {rel:.3f}, Pearson r {r:.3f}")
    if not args.no_report:
        from exodeep_gui.io.analysis_output import write_analysis

        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            run_to_end(write_analysis(Path(tmp) / "out", [result], options))
            print(f"report (tables, figures PNG + SVG, report.html): {time.perf_counter() - t0:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
