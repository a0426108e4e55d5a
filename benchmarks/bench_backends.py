"""Detection on each Keras backend installed: TensorFlow (the Linux, Windows and Apple Silicon builds),
JAX (the Intel Mac build, which has no TensorFlow) and PyTorch: the same command, end to end in its own
process (start-up and imports included), alternately, ``--repeats`` times:
  exodeep detect MOVIE --model WEIGHTS --precision float32 --no-resume --overwrite
(float32: what a Mac runs; ``--precision``). Prints each backend's best wall time, least CPU time, peak
RSS and stage breakdown (``EXODEEP_TIMINGS``), its events against the truth, and their agreement with
TensorFlow's (one-to-one within 1.5 px and 1 frame).

  python benchmarks/bench_backends.py [--movie ../shared/reference/synthetic_movie_200x128x128_uint16.tif
      --truth ../shared/reference/synthetic_movie_truth.csv] [--repeats 3] [--backends tensorflow,jax]
The movie defaults to the reference's fixture where ../shared is beside the checkout, else a simulated one.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_detect import WEIGHTS, agreement, breakdown, load, measured  # noqa: E402

from exodeep_gui.core.evaluate import evaluate_events  # noqa: E402
from exodeep_gui.io.results import read_events  # noqa: E402

FIXTURE = ROOT.parent / "shared" / "reference" / "synthetic_movie_200x128x128_uint16.tif"


def the_movie(args, work: Path):
    """(TIFF, frames, truth EventTable or None)."""
    if args.movie:
        from exodeep_gui.io.movie_io import open_movie

        return args.movie, open_movie(args.movie).n_frames, (read_events(args.truth) if args.truth else None)
    if FIXTURE.is_file():
        return FIXTURE, 200, read_events(FIXTURE.parent / "synthetic_movie_truth.csv")
    from exodeep_gui.core.simulate import SimulationParams, simulate_movie
    from exodeep_gui.io.movie_io import write_imagej_tiff

    sim = simulate_movie(SimulationParams(frames=200, height=128, width=128), seed=7)
    write_imagej_tiff(work / "movie.tif", sim.movie, 0.16, 0.3)
    return work / "movie.tif", 200, sim.truth


def run(backend: str, args, tif: Path, out: Path, timings: Path):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT),
               EXODEEP_TIMINGS=str(timings))
    dt, rss, cpu = measured([sys.executable, "-m", "exodeep_gui.cli", "detect", tif, "--model", args.weights,
                             "--out", out, "--formats", "csv", "--overwrite", "--no-resume",
                             "--precision", args.precision], env=env)
    return dt, rss, cpu, json.loads(timings.read_text())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, default=WEIGHTS, help=f"the published weights (default {WEIGHTS})")
    ap.add_argument("--movie", type=Path, help="a TIFF movie")
    ap.add_argument("--truth", type=Path, help="its true events (CSV/XML)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--precision", default="float32")
    ap.add_argument("--backends", default="tensorflow,jax,torch", help="those installed are run")
    args = ap.parse_args()
    if not args.weights.is_file():
        print(f"published weights not found at {args.weights}; nothing to benchmark")
        return 0
    backends = [b for b in args.backends.split(",") if importlib.util.find_spec(b) is not None]
    work = Path(tempfile.mkdtemp(prefix="exodeep-backends-"))
    tif, frames, truth = the_movie(args, work)
    print(f"movie {tif.name} ({frames} frames); precision {args.precision}; backends {', '.join(backends)}; "
          f"{os.cpu_count()} CPUs; {load()}")
    runs = {b: [] for b in backends}
    for i in range(args.repeats):
        for b in backends:
            before = load()
            runs[b].append(run(b, args, tif, work / b, work / f"{b}.json"))
            dt, rss, cpu, _ = runs[b][-1]
            print(f"run {i + 1} {b:10s} {dt:6.2f} s wall {cpu:6.2f} s CPU  peak RSS {rss:5.0f} MB  ({before})",
                  flush=True)
    events = {b: read_events(work / b / f"{tif.stem}_events.csv") for b in backends}
    first = backends[0]
    for b in backends:
        best = min(runs[b], key=lambda r: r[0])
        line = (f"{b}: best {best[0]:.2f} s wall, least CPU {min(r[2] for r in runs[b]):.2f} s, "
                f"peak RSS {max(r[1] for r in runs[b]):.0f} MB, {len(events[b])} events")
        if truth is not None:
            line += f"; vs truth: {evaluate_events(truth, events[b]).summary()}"
        if b != first:
            m, na, nb, agr = agreement(events[b], events[first], frames)
            line += f"; agreement with {first}: {m} of {na}/{nb} ({100 * agr:.1f}%), " \
                    f"{best[0] / min(r[0] for r in runs[first]):.2f}× its time"
        print(line)
        print(f"  its best run: {breakdown(best[3])}")
    print(load())
    return 0


if __name__ == "__main__":
    sys.exit(main())
