"""Detection speed, memory and agreement: ExoDeep against the reference ExoDeepFinder, end to end.

Both run the published weights on the same movie, each as a whole command in its own process
(interpreter and TensorFlow start-up included), side by side in one run:
  ExoDeep:   exodeep detect movie.tif --model WEIGHTS --threshold 0 --method meanshift --precision P
             --no-resume --overwrite (no score threshold and the reference's clustering, so that the
             comparison is of the engines; --tiling reference runs ExoDeep with the reference's cubes)
  reference: edf_segment -m movie.h5 -mw WEIGHTS -ps 160 -s seg.h5, then
             edf_generate_annotation -s seg.h5 -cr 5 -a annotation.xml
The movie: ``--movie`` (a TIFF; its ``.h5`` twin beside it, dataset "dataset", is the reference's
input, else one is written), e.g. the reference's own 200 × 128 × 128 fixture in
../shared/reference, or by default a simulated one (300 × 256 × 256, seed 7).

``--repeats N`` runs both N times, alternately (ExoDeep, reference, ExoDeep, …): the machine may be
shared, so every run is printed with the load average before it, and the ratio is given per pair and
for the best of each. ExoDeep's own breakdown of its best run (``EXODEEP_TIMINGS``: start-up until the
command runs, imports of TensorFlow/Keras, model build and weights, opening the movie, reading,
normalising, the network, bringing the labels back, grouping, writing; "other" is what is left:
finding the movies, the markers, the report) is printed below. Then peak RSS, the events'
agreement (one-to-one within 1.5 px and 1 frame, overall and away from the first and last 25
frames) and each list's F1 against the truth (the simulation's, or ``--truth CSV``).

  python benchmarks/bench_detect.py --reference-venv VENV --movie ../shared/reference/synthetic_movie_200x128x128_uint16.tif \\
      --truth ../shared/reference/synthetic_movie_truth.csv --repeats 3 [--precision float32]
The reference venv comes from ../shared/tools/install-reference-exodeepfinder.sh.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exodeep_gui.core.evaluate import evaluate_events, match_events  # noqa: E402
from exodeep_gui.io.results import read_events  # noqa: E402

WEIGHTS = ROOT.parent / "shared" / "reference" / "exodeepfinder_net_weights_FINAL.h5"
MEASURE = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
           "rc = subprocess.run(sys.argv[1:]).returncode; dt = time.perf_counter() - t; "
           "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
           "print('MEASURE', rc, dt, u.ru_maxrss, u.ru_utime + u.ru_stime)")
STAGES = ("startup", "imports", "model", "open", "setup", "read", "normalize", "network", "transfer",
          "grouping", "write")


def measured(cmd, env=None):
    """Run cmd; return (wall seconds, peak RSS in MB of its process tree's largest process, CPU seconds
    of its processes: user + system, all threads; on a shared machine a steadier figure than the wall
    time, since waiting for a core counts in the wall time only)."""
    out = subprocess.run([sys.executable, "-c", MEASURE] + [str(c) for c in cmd], env=env,
                         capture_output=True, text=True)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("MEASURE")]
    if not line:
        raise RuntimeError(out.stderr[-2000:])
    _, rc, dt, rss, cpu = line[-1].split()
    if int(rc) != 0:
        raise RuntimeError(f"{cmd[0]} failed:\n{out.stderr[-3000:]}")
    return float(dt), int(rss) / 1024.0, float(cpu)


def agreement(a, b, n_frames, edge=0):
    if edge:
        a = a.select((a.frame >= edge) & (a.frame < n_frames - edge))
        b = b.select((b.frame >= edge) & (b.frame < n_frames - edge))
    ia, _ = match_events(a, b, max_dist=1.5, dt_range=(-1, 1))
    m = len(ia)
    return m, len(a), len(b), (2 * m / (len(a) + len(b)) if len(a) + len(b) else 1.0)


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def the_movie(args, work: Path):
    """(TIFF, HDF5 for the reference, the array, the truth EventTable or None)."""
    import h5py
    import numpy as np

    if args.movie:
        from exodeep_gui.io.movie_io import open_movie

        tif = args.movie.resolve()
        m = open_movie(tif)
        movie = np.asarray(m.frames(0, m.n_frames))
        truth = read_events(args.truth) if args.truth else None
        h5 = tif.with_suffix(".h5")
    else:
        from exodeep_gui.core.simulate import SimulationParams, simulate_movie
        from exodeep_gui.io.movie_io import write_imagej_tiff

        sim = simulate_movie(SimulationParams(frames=args.frames, height=args.size, width=args.size),
                             seed=args.seed)
        movie, truth = sim.movie, sim.truth
        tif, h5 = work / "movie.tif", work / "movie.h5"
        if not tif.exists():
            write_imagej_tiff(tif, movie, 0.16, 0.3)
    if not h5.is_file():
        h5 = work / "movie.h5"
        if not h5.exists():
            with h5py.File(h5, "w") as f:
                f.create_dataset("dataset", data=movie)
    return tif, h5, movie, truth


def run_exodeep(args, tif: Path, out: Path, timings: Path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT), EXODEEP_TIMINGS=str(timings))
    dt, rss, cpu = measured([sys.executable, "-m", "exodeep_gui.cli", "detect", tif, "--model", args.weights, "--out", out,
                        "--threshold", "0", "--formats", "csv,xml", "--overwrite", "--no-resume",
                        "--method", args.method, "--tiling", args.tiling, "--precision", args.precision], env=env)
    return dt, rss, cpu, json.loads(timings.read_text())


def run_reference(venv: Path, weights: Path, h5: Path, work: Path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    seg, ann = work / "movie_segmentation.h5", work / "reference_annotation.xml"
    dt_seg, rss_seg, cpu_seg = measured([venv / "bin" / "edf_segment", "-m", h5, "-mw", weights, "-ps", "160", "-s", seg],
                               env=env)
    dt_cl, rss_cl, cpu_cl = measured([venv / "bin" / "edf_generate_annotation", "-s", seg, "-cr", "5", "-a", ann], env=env)
    return dt_seg + dt_cl, max(rss_seg, rss_cl), cpu_seg + cpu_cl


def breakdown(t: dict) -> str:
    parts = [f"{k} {t[k]:.2f}" for k in STAGES if k in t]
    other = t["total"] - sum(t[k] for k in STAGES if k in t)
    return f"{', '.join(parts)}, other {other:.2f} (total {t['total']:.2f} s)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference-venv", type=Path, help="venv with exodeepfinder 0.3.14 (skip if absent)")
    ap.add_argument("--weights", type=Path, default=WEIGHTS, help=f"the published weights (default {WEIGHTS})")
    ap.add_argument("--movie", type=Path, help="a TIFF movie (default: a simulated one)")
    ap.add_argument("--truth", type=Path, help="the movie's true events (CSV/XML), for --movie")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeats", type=int, default=1, help="runs of each, alternately (default 1)")
    ap.add_argument("--precision", default="auto", help="ExoDeep's --precision (default auto)")
    ap.add_argument("--method", choices=["meanshift", "components"], default="meanshift",
                    help="ExoDeep's clustering (meanshift: the reference's, for the agreement)")
    ap.add_argument("--tiling", choices=["streaming", "reference"], default="streaming",
                    help="ExoDeep's engine (reference: the reference's cubes and zero padding, for equivalence)")
    ap.add_argument("--work", type=Path, default=None, help="work folder (reused: the reference's run is cached)")
    ap.add_argument("--rerun-reference", action="store_true",
                    help="time the reference again even if the work folder has its timing")
    args = ap.parse_args()
    if not args.weights.is_file():
        print(f"published weights not found at {args.weights}; nothing to benchmark")
        return 0
    work = args.work or Path(tempfile.mkdtemp(prefix="exodeep-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    tif, h5, movie, truth = the_movie(args, work)
    T, H, W = movie.shape
    voxels = T * H * W
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?") \
        if os.path.exists("/proc/cpuinfo") else "?"
    print(f"movie {tif.name}: {T}×{H}×{W} {movie.dtype} ({movie.nbytes / 1e6:.0f} MB)"
          f"{f', {len(truth)} true events' if truth is not None else ''}; {os.cpu_count()} CPUs ({cpu}); {load()}")
    venv = args.reference_venv
    have_ref = venv is not None and (venv / "bin" / "edf_segment").exists()
    cache = work / "reference_timing.json"
    cached = cache.is_file() and (work / "reference_annotation.xml").is_file() and not args.rerun_reference
    ours_runs, ref_runs = [], []
    out = work / ("exodeep" if args.tiling == "streaming" else "exodeep_reference_tiling")
    for i in range(args.repeats):
        before = load()
        dt, rss, cpu, t = run_exodeep(args, tif, out, work / "timings.json")
        ours_runs.append((dt, rss, cpu, t))
        print(f"run {i + 1}: ExoDeep   {dt:7.2f} s wall {cpu:7.2f} s CPU  peak RSS {rss:6.0f} MB  ({before}) "
              f"[{breakdown(t)}]", flush=True)
        if have_ref and not cached:
            before = load()
            ref_runs.append(run_reference(venv, args.weights, h5, work))
            dt_ref, rss_ref, cpu_ref = ref_runs[-1]
            print(f"run {i + 1}: reference {dt_ref:7.2f} s wall {cpu_ref:7.2f} s CPU  peak RSS {rss_ref:6.0f} MB  "
                  f"({before}); ratio {dt_ref / dt:.2f}× wall, {cpu_ref / cpu:.2f}× CPU", flush=True)
    ours = read_events(out / f"{tif.stem}_events.csv")
    best = min(ours_runs, key=lambda r: r[0])
    times = [r[0] for r in ours_runs]
    print(f"ExoDeep ({args.method}, {args.tiling} tiling, precision {args.precision}): best {best[0]:.2f} s wall, "
          f"median {statistics.median(times):.2f} s of {len(times)}; least CPU {min(r[2] for r in ours_runs):.2f} s; "
          f"{voxels / best[0] / 1e6:.3f} Mvoxel/s; {len(ours)} events"
          + (f"; vs truth: {evaluate_events(truth, ours).summary()}" if truth is not None else ""))
    print(f"  its best run: {breakdown(best[3])}")
    if not have_ref:
        print("reference venv not given or not installed: no ratio")
        return 0
    if ref_runs:
        dt_ref, rss_ref, cpu_ref = (min(r[0] for r in ref_runs), max(r[1] for r in ref_runs),
                                    min(r[2] for r in ref_runs))
        cache.write_text(json.dumps([dt_ref, rss_ref, cpu_ref]))
        print(f"reference: best {dt_ref:.2f} s wall, median {statistics.median(r[0] for r in ref_runs):.2f} s of "
              f"{len(ref_runs)}; least CPU {cpu_ref:.2f} s")
    else:
        dt_ref, rss_ref, cpu_ref = json.loads(cache.read_text())
        print(f"reference: {dt_ref:.2f} s wall, {cpu_ref:.2f} s CPU (from an earlier run in the same work folder)")
    ref = read_events(work / "reference_annotation.xml")
    print(f"reference: {voxels / dt_ref / 1e6:.3f} Mvoxel/s  peak RSS {rss_ref:6.0f} MB  {len(ref)} events"
          + (f"  vs truth: {evaluate_events(truth, ref).summary()}" if truth is not None else ""))
    print(f"speed ratio ExoDeep/reference: {dt_ref / best[0]:.2f}× wall (best of each), "
          f"{cpu_ref / min(r[2] for r in ours_runs):.2f}× CPU time; memory: ExoDeep {best[1]:.0f} MB, "
          f"budget movie {movie.nbytes / 2**20:.0f} MB + 1536 MB")
    for edge in (0, 25):
        m, na, nb, agr = agreement(ours, ref, T, edge)
        label = "all frames" if not edge else f"frames {edge}..{T - edge}"
        print(f"agreement ({label}): {m} matched of {na} ExoDeep / {nb} reference events: {100 * agr:.1f}%")
    print(load())
    return 0


if __name__ == "__main__":
    sys.exit(main())
