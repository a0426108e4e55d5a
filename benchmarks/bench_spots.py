"""Speed of the built-in ATLAS-like spot detector (counter-examples for training).

  python benchmarks/bench_spots.py [--frames 1000 --size 300]
Prints the wall time, frames/s and peak RSS for a simulated movie (target: 1000×300×300 well
under a minute on a 2-core CPU), and how many docked vesicles present mid-movie it finds.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exodeep_gui.core.progress import run_to_end  # noqa: E402
from exodeep_gui.core.simulate import SimulationParams, simulate_movie  # noqa: E402
from exodeep_gui.core.spots import detect_spots  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--size", type=int, default=300)
    args = ap.parse_args()
    sim = simulate_movie(SimulationParams(frames=args.frames, height=args.size, width=args.size), seed=11)
    t = time.perf_counter()
    mask = run_to_end(detect_spots(sim.movie))
    dt = time.perf_counter() - t
    T, H, W = sim.movie.shape
    mid = T // 2
    hits = [mask[mid, int(y) - 1:int(y) + 2, int(x) - 1:int(x) + 2].any() for y, x in sim.distractors["docked"]]
    print(f"spots on {T}×{H}×{W}: {dt:.1f} s ({T / dt:.0f} frames/s), "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB, "
          f"{mask.mean() * 100:.2f} % of pixels marked, docked vesicles hit at frame {mid}: "
          f"{np.mean(hits) * 100:.0f} % (of all {len(hits)}, present or not)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
