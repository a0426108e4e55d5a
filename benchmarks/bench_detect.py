"""Detection speed, memory and agreement: ExoDeep against the reference ExoDeepFinder.

Both run the published weights on the same simulated movie (default 300 × 256 × 256 uint16),
each in its own process, timed as whole commands (TensorFlow start-up included):
  ExoDeep:   exodeep detect movie.tif --threshold 0 --method meanshift [--tiling reference]
             (no score threshold and the reference's clustering, so that the comparison is of the
             engines; --method components gives ExoDeep's default events; --tiling reference runs
             ExoDeep with the reference's cubes, zero padding and float16 averaging, to show that the
             remaining disagreements are the reference's tiling artefacts, not a different network)
  reference: edf_segment -ps 160, then edf_generate_annotation -cr 5
Prints voxels/s for each and the ratio, peak RSS of each, and the agreement of the two
event lists (one-to-one, within 1.5 px and 1 frame), overall and without the first and
last 25 frames (where the reference's zero padding in time makes false events), plus
each list's F1 against the simulated truth (paper rule).

  python benchmarks/bench_detect.py --reference-venv /path/to/venv [--frames 300 --size 256]
The reference venv comes from ../shared/tools/install-reference-exodeepfinder.sh.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exodeep_gui.core.evaluate import evaluate_events, match_events  # noqa: E402
from exodeep_gui.core.simulate import SimulationParams, simulate_movie  # noqa: E402
from exodeep_gui.io.results import read_events  # noqa: E402
from exodeep_gui.io.movie_io import write_imagej_tiff  # noqa: E402

WEIGHTS = ROOT.parent / "shared" / "reference" / "exodeepfinder_net_weights_FINAL.h5"
MEASURE = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
           "rc = subprocess.run(sys.argv[1:]).returncode; dt = time.perf_counter() - t; "
           "print('MEASURE', rc, dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def measured(cmd, env=None):
    """Run cmd; return (seconds, peak RSS in MB of its process tree's largest process)."""
    out = subprocess.run([sys.executable, "-c", MEASURE] + [str(c) for c in cmd], env=env,
                         capture_output=True, text=True)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("MEASURE")]
    if not line:
        raise RuntimeError(out.stderr[-2000:])
    _, rc, dt, rss = line[-1].split()
    if int(rc) != 0:
        raise RuntimeError(f"{cmd[0]} failed:\n{out.stderr[-3000:]}")
    return float(dt), int(rss) / 1024.0


def agreement(a, b, n_frames, edge=0):
    if edge:
        a = a.select((a.frame >= edge) & (a.frame < n_frames - edge))
        b = b.select((b.frame >= edge) & (b.frame < n_frames - edge))
    ia, _ = match_events(a, b, max_dist=1.5, dt_range=(-1, 1))
    m = len(ia)
    return m, len(a), len(b), (2 * m / (len(a) + len(b)) if len(a) + len(b) else 1.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference-venv", type=Path, help="venv with exodeepfinder 0.3.14 (skip if absent)")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--method", choices=["meanshift", "components"], default="meanshift",
                    help="ExoDeep's clustering (meanshift: the reference's, for the agreement)")
    ap.add_argument("--tiling", choices=["streaming", "reference"], default="streaming",
                    help="ExoDeep's engine (reference: the reference's cubes and zero padding, for equivalence)")
    ap.add_argument("--work", type=Path, default=None, help="work folder (reused: the reference's run is cached)")
    ap.add_argument("--rerun-reference", action="store_true", help="time the reference again")
    args = ap.parse_args()
    if not WEIGHTS.is_file():
        print(f"published weights not found at {WEIGHTS}; nothing to benchmark")
        return 0
    work = args.work or Path(tempfile.mkdtemp(prefix="exodeep-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    sim = simulate_movie(SimulationParams(frames=args.frames, height=args.size, width=args.size), seed=args.seed)
    T, H, W = sim.movie.shape
    voxels = T * H * W
    tif = work / "movie.tif"
    if not tif.exists():
        write_imagej_tiff(tif, sim.movie, 0.16, 0.3)
    print(f"movie {T}×{H}×{W} uint16 ({sim.movie.nbytes / 1e6:.0f} MB), {len(sim.truth)} true events; "
          f"{os.cpu_count()} CPUs, load average before {os.getloadavg()[0]:.2f}")

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    ours_out = work / ("exodeep" if args.tiling == "streaming" else "exodeep_reference_tiling")
    dt_ours, rss_ours = measured([sys.executable, "-m", "exodeep_gui.cli", "detect", tif, "--model", WEIGHTS,
                                  "--out", ours_out, "--threshold", "0", "--formats", "csv,xml", "--overwrite",
                                  "--method", args.method, "--tiling", args.tiling],
                                 env=dict(env, PYTHONPATH=str(ROOT)))
    ours = read_events(ours_out / "movie_events.csv")
    print(f"ExoDeep ({args.method}, {args.tiling} tiling):   {dt_ours:7.1f} s  {voxels / dt_ours / 1e6:.3f} Mvoxel/s  peak RSS {rss_ours:6.0f} MB  "
          f"{len(ours)} events  vs truth: {evaluate_events(sim.truth, ours).summary()}")

    venv = args.reference_venv
    if venv is None or not (venv / "bin" / "edf_segment").exists():
        print("reference venv not given or not installed: no ratio")
        return 0
    import h5py

    h5 = work / "movie.h5"
    if not h5.exists():
        with h5py.File(h5, "w") as f:
            f.create_dataset("dataset", data=sim.movie)
    seg, ann = work / "movie_segmentation.h5", work / "reference_annotation.xml"
    cache = work / "reference_timing.json"
    if cache.is_file() and ann.is_file() and not args.rerun_reference:
        dt_ref, rss_ref = json.loads(cache.read_text())
        print("(reference figures from an earlier run in the same work folder)")
    else:
        dt_seg, rss_seg = measured([venv / "bin" / "edf_segment", "-m", h5, "-mw", WEIGHTS, "-ps", "160",
                                    "-s", seg], env=env)
        dt_cl, rss_cl = measured([venv / "bin" / "edf_generate_annotation", "-s", seg, "-cr", "5", "-a", ann],
                                 env=env)
        dt_ref, rss_ref = dt_seg + dt_cl, max(rss_seg, rss_cl)
        cache.write_text(json.dumps([dt_ref, rss_ref]))
    ref = read_events(ann)
    print(f"reference: {dt_ref:7.1f} s  {voxels / dt_ref / 1e6:.3f} Mvoxel/s  peak RSS {rss_ref:6.0f} MB  "
          f"{len(ref)} events  vs truth: {evaluate_events(sim.truth, ref).summary()}")
    print(f"speed ratio ExoDeep/reference: {dt_ref / dt_ours:.2f}×   "
          f"(memory budget: movie {sim.movie.nbytes / 2**20:.0f} MB + 1536 MB = "
          f"{sim.movie.nbytes / 2**20 + 1536:.0f} MB; ExoDeep used {rss_ours:.0f} MB)")
    for edge in (0, 25):
        m, na, nb, agr = agreement(ours, ref, T, edge)
        label = "all frames" if not edge else f"frames {edge}..{T - edge}"
        print(f"agreement ({label}): {m} matched of {na} ExoDeep / {nb} reference events: {100 * agr:.1f}%")
    print(f"load average after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
