"""Grouping the per-voxel labels into events (core.postprocess): time and peak memory of the
engine's grouping against the whole-volume scipy way (ndimage.label + center_of_mass + maximum on
the whole movie, as before 2026-11-28), on a synthetic label map with the events of a real run.

    python benchmarks/bench_grouping.py [--frames 1000 --size 300 --events 120]

Prints figures; asserts nothing (it checks that both give the same events)."""

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def whole_volume(labels, score):
    mask = labels == 2
    lab, n = ndimage.label(mask, structure=np.ones((3, 3, 3), bool))
    idx = np.arange(1, n + 1)
    centres = np.array(ndimage.center_of_mass(mask, lab, idx), float).reshape(-1, 3)
    sizes = ndimage.sum_labels(mask, lab, idx)
    peaks = ndimage.maximum(score, lab, idx) / 255.0
    return centres, sizes, peaks


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--size", type=int, default=300)
    ap.add_argument("--events", type=int, default=120)
    args = ap.parse_args()
    from exodeep_gui.core.postprocess import events_from_segmentation

    rng = np.random.default_rng(0)
    T, S = args.frames, args.size
    labels = np.zeros((T, S, S), np.uint8)
    score = np.zeros((T, S, S), np.uint8)
    for _ in range(args.events):                       # puffs of ~64 voxels over 4 frames
        t, y, x = rng.integers(5, T - 5), rng.integers(5, S - 5), rng.integers(5, S - 5)
        labels[t:t + 4, y - 2:y + 2, x - 2:x + 2] = 2
        score[t:t + 4, y - 2:y + 2, x - 2:x + 2] = rng.integers(130, 255)
    labels[(rng.random((T, S, S)) < 0.01) & (labels == 0)] = 1          # bright spots (class 1)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    ev = events_from_segmentation(labels, score)
    t_new = time.perf_counter() - t0
    peak_new = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    centres, sizes, peaks = whole_volume(labels, score)
    t_old = time.perf_counter() - t0
    peak_old = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    same = (len(ev) == len(centres) and np.allclose(np.sort(ev.x), np.sort(centres[:, 2]))
            and np.allclose(np.sort(ev.size), np.sort(sizes)) and np.allclose(np.sort(ev.score), np.sort(peaks)))
    print(f"label map {T} × {S} × {S} ({labels.nbytes / 1e6:.0f} MB), {len(ev)} events; same events: {same}")
    print(f"engine (blocks of frames, event voxels only): {t_new:.2f} s, peak RSS {peak_new:.0f} MB "
          f"(maps {base:.0f} MB before)")
    print(f"whole volume (scipy label + center_of_mass + maximum): {t_old:.2f} s, peak RSS {peak_old:.0f} MB")
    print(f"speed-up {t_old / t_new:.1f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
