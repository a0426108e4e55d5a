"""Batch detection: the same movies detected by ``exodeep detect`` in one process (sequential) and
on a local Dask cluster (``--workers N``), each run a fresh ``exodeep`` process timed end to end
(TensorFlow import, model loading, cluster start and stop included), as a user would run it.

  python benchmarks/bench_batch.py [--movies 4 --frames 100 --size 128 --workers 2 --model PATH_OR_NAME]

The movies are simulated first (not timed). The model defaults to the published weights in
../shared/reference when present, else the bundled exodeep-sim-small. Prints each command, its
wall time, the per-movie times from the run report and the speed-up over the sequential run; a
second run of the cluster command shows the resume (every movie skipped)."""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT.parent / "shared" / "reference" / "exodeepfinder_net_weights_FINAL.h5"


def exodeep() -> list:
    return [sys.executable, "-m", "exodeep_gui.cli"]


def timed(cmd: list) -> float:
    print("$ " + " ".join(["exodeep"] + cmd[len(exodeep()):]), flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stdout + proc.stderr)
        raise SystemExit(f"failed: {' '.join(cmd)}")
    tail = [ln for ln in proc.stdout.splitlines() if "movies done" in ln]
    print(f"  {dt:6.1f} s   {tail[-1] if tail else ''}", flush=True)
    return dt


def per_movie(report: Path) -> str:
    with open(report, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return ", ".join(f"{Path(r['movie']).stem} {float(r['seconds'] or 0):.1f} s on {r['worker']}" for r in rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--movies", type=int, default=4)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--events", type=int, default=10)
    ap.add_argument("--workers", type=int, nargs="+", default=[2])
    ap.add_argument("--model", default=str(PUBLISHED) if PUBLISHED.is_file() else "exodeep-sim-small")
    ap.add_argument("--precision", default="auto")
    a = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="exodeep-bench-batch-"))
    try:
        data = work / "data"
        subprocess.run(exodeep() + ["simulate", str(data), "--movies", str(a.movies), "--frames", str(a.frames),
                                    "--size", str(a.size), str(a.size), "--events", str(a.events)],
                       check=True, capture_output=True, cwd=ROOT)
        print(f"{a.movies} movies of {a.frames} × {a.size} × {a.size}, model {a.model}, {os.cpu_count()} cores, "
              f"precision {a.precision}")
        common = ["--model", a.model, "--precision", a.precision]
        seq = timed(exodeep() + ["detect", str(data), "--out", str(work / "seq")] + common)
        print(f"  per movie: {per_movie(work / 'seq' / 'exodeep_detect_report.csv')}")
        for n in a.workers:
            out = work / f"local{n}"
            cmd = exodeep() + ["detect", str(data), "--out", str(out), "--workers", str(n)] + common
            dt = timed(cmd)
            print(f"  per movie: {per_movie(out / 'exodeep_detect_report.csv')}")
            print(f"  speed-up over sequential: {seq / dt:.2f}×")
            print("  again (resume: every movie finished):")
            timed(cmd)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
