"""The CPU's events in the movie of benchmarks/gpu_detect.py, to compare with the GPU's.

Simulates the same 1000 × 300 × 300 movie (same code, same seed: the sha256 printed must equal the
one gpu_detect.py printed), detects in it with TensorFlow on this CPU (float32 by default) as
`exodeep detect` does (opened from its TIFF, memory-mapped), writes cpu_events_<precision>.csv into
--out, and with --compare GPU_OUT compares them with the GPU's events_<precision>.csv: identical
rows (X, Y, Slice, size as written) and the paper's matching rule (the CPU's as the truth).

    PYTHONPATH=. .venv/bin/python benchmarks/cpu_reference_events.py --out /tmp/cpu_ref
    PYTHONPATH=. .venv/bin/python benchmarks/cpu_reference_events.py --out /tmp/cpu_ref --compare GPU_OUT
    (--compare only: with --no-detect, the CSVs already in --out are compared)

Run time on the 2-core VM (TensorFlow 2.21, float32, quiet machine): about 2 minutes for the network
(92 Mvoxels at ~0.9 Mvoxel/s) plus 20 s to simulate and write the movie; ~1 minute more with bfloat16.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from gpu_detect import SEED, make_movie  # noqa: E402

WEIGHTS = HERE.parent.parent / "shared" / "reference" / "exodeepfinder_net_weights_FINAL.h5"


def _rows(path: Path) -> list:
    with open(path, newline="") as f:
        return [(r["X"], r["Y"], r["Slice"], r["size"]) for r in csv.DictReader(f)]


def compare_folders(cpu_dir: Path, gpu_dir: Path) -> None:
    from exodeep_gui.core.evaluate import evaluate_events
    from exodeep_gui.io.results import read_events

    timings = gpu_dir / "timings.json"
    if timings.is_file():
        gpu_sha = json.loads(timings.read_text())["movie"]["sha256"]
        mine = cpu_dir / "movie_sha256.txt"
        if mine.is_file():
            same = mine.read_text().strip() == gpu_sha
            print(f"movie sha256: {'the same' if same else 'DIFFERENT'} (GPU {gpu_sha[:16]}…)")
    for cpu_csv in sorted(cpu_dir.glob("cpu_events_*.csv")):
        for gpu_csv in sorted(gpu_dir.glob("events_*.csv")):
            a, b = _rows(cpu_csv), _rows(gpu_csv)
            s = evaluate_events(read_events(cpu_csv), read_events(gpu_csv))
            print(f"{cpu_csv.name} vs GPU {gpu_csv.name}: {'IDENTICAL' if a == b else 'different'} rows "
                  f"({len(a)} / {len(b)} events, {len(set(a) & set(b))} rows in common); paper rule: {s.summary()}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--weights", type=Path, default=WEIGHTS)
    ap.add_argument("--precisions", default="float32")
    ap.add_argument("--work", type=Path, default=Path("/tmp/exodeep-cpu-reference"))
    ap.add_argument("--small", action="store_true", help="gpu_detect.py --small's movie")
    ap.add_argument("--compare", type=Path, default=None, help="gpu_detect.py's --out folder")
    ap.add_argument("--no-detect", action="store_true", help="only compare (the CSVs are in --out)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.no_detect:
        from exodeep_gui.core.detection import DetectOptions
        from exodeep_gui.core.progress import run_to_end
        from exodeep_gui.io.movie_io import open_movie
        from exodeep_gui.io.results import write_results_csv
        from exodeep_gui.ml.detect import Detector
        from exodeep_gui.ml.device import describe_device

        path, sha, truth, t_sim = make_movie(args.small, args.work)
        (args.out / "movie_sha256.txt").write_text(sha + "\n")
        movie = open_movie(path)
        print(f"{describe_device()}; movie {' × '.join(map(str, movie.shape))}, seed {SEED}, sha256 {sha} "
              f"(simulated in {t_sim:.1f} s)", flush=True)
        det = Detector.load(str(args.weights))
        for p in args.precisions.split(","):
            t0 = time.perf_counter()
            d = run_to_end(det.detect(movie, DetectOptions(precision=p)))
            dt = time.perf_counter() - t0
            out = write_results_csv(args.out / f"cpu_events_{p}.csv", d.events(), 0.16, 0.3, overwrite=True)
            print(f"{p}: {len(d.events())} events in {dt:.1f} s ({movie.n_frames / dt:.1f} frames/s; chunks of "
                  f"{d.options.voxels_per_chunk} voxels) → {out}", flush=True)
    if args.compare is not None:
        compare_folders(args.out, args.compare)
    return 0


if __name__ == "__main__":
    sys.exit(main())
