"""From the per-voxel segmentation to a list of events.

Default: 3D (t, y, x) connected components (26-connectivity) of the voxels whose most
likely class is exocytosis; one event per component at its centroid (x, y sub-pixel,
frame = rounded mean frame), score = peak class-2 probability, size = voxel count.
``stats`` adds per-event statistics of other per-voxel maps over the event's voxels as extra
columns (``{name: (map, how)}``, how = ``mean``, ``max`` or ``or``, the bitwise OR of integer
maps); the events themselves do not change.
Option ``method="meanshift"``: the reference's clustering (scikit-learn's MeanShift with a flat
kernel, bandwidth 5 voxels, bin seeding; centre = the mode), for equivalence. It is implemented
here step for step on scipy's k-d tree (a test checks it against scikit-learn where that is
installed), so the app does not depend on scikit-learn (16 MB of the frozen bundle).
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np
from scipy import ndimage

from exodeep_gui.core.events import EventTable

STRUCTURE = np.ones((3, 3, 3), bool)
STAT_KINDS = ("mean", "max", "or")


def events_from_segmentation(labels: np.ndarray, score: np.ndarray, method: str = "components",
                             bandwidth: float = 5.0, event_class: int = 2,
                             stats: Optional[Dict[str, Tuple[np.ndarray, str]]] = None) -> EventTable:
    """``labels`` (t, y, x) argmax classes; ``score`` uint8 class-2 probability × 255; ``stats``:
    per-event statistics of other (t, y, x) maps (see the module docstring)."""
    for name, (_, how) in (stats or {}).items():
        if how not in STAT_KINDS:
            raise ValueError(f"unknown statistic {how!r} for {name} ({', '.join(STAT_KINDS)})")
    if method == "components":
        return _components(labels, score, event_class, stats=stats)
    mask = labels == event_class
    if not mask.any():
        return _with_empty_stats(EventTable.empty(), stats)
    if method == "meanshift":
        return _meanshift(mask, score, bandwidth, stats)
    raise ValueError(f"unknown clustering method {method!r} (components or meanshift)")


# voxels labelled at once: the memory of the grouping is a few bytes per voxel of one block, not of
# the movie (components that cross a block's edge are joined afterwards)
BLOCK_VOXELS = 1 << 25


def _components(labels: np.ndarray, score: np.ndarray, event_class: int = 2,
                block_voxels: int = BLOCK_VOXELS, stats=None) -> EventTable:
    """26-connected components of ``labels == event_class``, labelled block of frames by block of
    frames (memory bounded whatever the movie's length) and joined across the blocks' edges;
    statistics (voxel count, centroid, peak score) are accumulated on the event voxels only."""
    T, H, W = labels.shape
    step = max(1, block_voxels // max(1, H * W))
    stats = stats or {}
    parts = []                                  # per block: (first global id, count, sums, peaks, stats)
    parent = np.zeros(1, np.int64)              # union-find over global ids (0: background)
    joins = []
    prev_last = None                            # global ids of the previous block's last frame
    next_id = 1
    for a in range(0, T, step):
        b = min(T, a + step)
        mask = np.asarray(labels[a:b]) == event_class
        lab, n = ndimage.label(mask, structure=STRUCTURE)
        if n:
            t, y, x = np.nonzero(mask)
            ids = lab[t, y, x].astype(np.int64)
            count = np.bincount(ids, minlength=n + 1)[1:].astype(float)
            sums = np.stack([np.bincount(ids, weights=c.astype(float) + off, minlength=n + 1)[1:]
                             for c, off in ((t, a), (y, 0), (x, 0))], 1)
            peak = np.zeros(n + 1, np.int64)
            np.maximum.at(peak, ids, np.asarray(score[a:b])[t, y, x].astype(np.int64))
            extra = {k: _reduce(np.asarray(m[a:b])[t, y, x], ids, n + 1, how)[1:]
                     for k, (m, how) in stats.items()}
            parts.append((next_id, count, sums, peak[1:], extra))
        first = np.where(lab[0] > 0, lab[0] + next_id - 1, 0) if n else np.zeros((H, W), np.int64)
        if prev_last is not None and n:
            joins.append(_touching(prev_last, first))
        prev_last = np.where(lab[-1] > 0, lab[-1] + next_id - 1, 0) if n else np.zeros((H, W), np.int64)
        next_id += n
    if next_id == 1:
        return _with_empty_stats(EventTable.empty(), stats)
    parent = np.arange(next_id)
    for pairs in joins:
        for u, v in pairs:
            ru, rv = _root(parent, u), _root(parent, v)
            if ru != rv:
                parent[max(ru, rv)] = min(ru, rv)
    roots = np.array([_root(parent, i) for i in range(next_id)])
    count = np.zeros(next_id)
    sums = np.zeros((next_id, 3))
    peak = np.zeros(next_id, np.int64)
    acc = {k: np.zeros(next_id, np.int64 if how == "or" else float) for k, (_, how) in stats.items()}
    for first_id, c, s, p, e in parts:
        r = roots[first_id:first_id + len(c)]
        np.add.at(count, r, c)
        np.add.at(sums, r, s)
        np.maximum.at(peak, r, p)
        for k, (_, how) in stats.items():
            _merge(acc[k], r, e[k], how)
    keep = np.nonzero(count > 0)[0]
    centres = sums[keep] / count[keep, None]
    extra = {"t": centres[:, 0]}
    for k, (_, how) in stats.items():
        extra[k] = acc[k][keep] / count[keep] if how == "mean" else acc[k][keep]
    return EventTable.from_arrays(x=centres[:, 2], y=centres[:, 1], frame=centres[:, 0],
                                  score=peak[keep].astype(float) / 255.0, size=count[keep],
                                  extra=extra).sorted()


def _reduce(values: np.ndarray, ids: np.ndarray, n: int, how: str) -> np.ndarray:
    """Per id (0…n−1): the sum (for a mean), the maximum or the bitwise OR of ``values``."""
    if how == "mean":
        return np.bincount(ids, weights=values.astype(float), minlength=n)
    out = np.zeros(n, np.int64 if how == "or" else float)
    (np.bitwise_or if how == "or" else np.maximum).at(out, ids, values.astype(out.dtype))
    return out


def _merge(acc: np.ndarray, roots: np.ndarray, part: np.ndarray, how: str) -> None:
    {"mean": np.add, "max": np.maximum, "or": np.bitwise_or}[how].at(acc, roots, part)


def _with_empty_stats(table: EventTable, stats) -> EventTable:
    for k, (_, how) in (stats or {}).items():
        table.extra[k] = np.zeros(0, np.int64 if how == "or" else float)
    return table


def _touching(last: np.ndarray, first: np.ndarray) -> np.ndarray:
    """(id in ``last``, id in ``first``) pairs of voxels of two consecutive frames that touch
    (26-connectivity: the same pixel or one of its 8 neighbours)."""
    H, W = last.shape
    pairs = []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            a = last[max(0, dy):H + min(0, dy), max(0, dx):W + min(0, dx)]
            b = first[max(0, -dy):H + min(0, -dy), max(0, -dx):W + min(0, -dx)]
            both = (a > 0) & (b > 0)
            if both.any():
                pairs.append(np.stack([a[both], b[both]], 1))
    return np.unique(np.concatenate(pairs), axis=0) if pairs else np.zeros((0, 2), np.int64)


def _root(parent: np.ndarray, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return int(i)


def _meanshift(mask: np.ndarray, score: np.ndarray, bandwidth: float, stats=None) -> EventTable:
    coords = np.argwhere(mask)                               # (t, y, x)
    centres, labels = mean_shift(coords, bandwidth)
    k = len(centres)
    sizes = np.bincount(labels, minlength=k)
    vals = score[tuple(coords.T)].astype(float) / 255.0
    peaks = np.zeros(k)
    np.maximum.at(peaks, labels, vals)
    extra = {"t": centres[:, 0]}
    for name, (m, how) in (stats or {}).items():
        r = _reduce(np.asarray(m)[tuple(coords.T)], labels, k, how)
        extra[name] = r / np.maximum(sizes, 1) if how == "mean" else r
    return EventTable.from_arrays(x=centres[:, 2], y=centres[:, 1], frame=centres[:, 0],
                                  score=peaks, size=sizes, extra=extra).sorted()


def mean_shift(points: np.ndarray, bandwidth: float, max_iter: int = 300):
    """Flat-kernel mean shift with bin seeding, as ``sklearn.cluster.MeanShift(bandwidth=…,
    bin_seeding=True)`` computes it: seeds on a grid of ``bandwidth`` holding at least one point;
    each seed moves to the mean of the points within ``bandwidth`` (distance ≤ bandwidth) until it
    moves less than 1e-3 × bandwidth; modes are ranked by how many points they hold (then by
    position) and a mode within ``bandwidth`` of a stronger one is dropped; every point belongs to
    its nearest mode. Returns (centres (k, d), labels (n,))."""
    from scipy.spatial import cKDTree

    points = np.asarray(points)
    binned, counts = np.unique(np.round(points / bandwidth), axis=0, return_counts=True)
    seeds = binned[counts >= 1].astype(np.float32) * np.float32(bandwidth)
    if len(seeds) == len(points):
        seeds = points
    tree = cKDTree(points)
    stop = 1e-3 * bandwidth
    modes = {}
    for seed in seeds:
        mean = seed
        for it in range(max_iter + 1):
            within = tree.query_ball_point(mean, bandwidth)
            if not within:
                break
            old, mean = mean, points[within].mean(axis=0)
            if np.linalg.norm(mean - old) <= stop or it == max_iter:
                break
        if within:
            modes[tuple(mean)] = len(within)
    ranked = sorted(modes.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
    centres = np.array([c for c, _ in ranked], float)
    keep = np.ones(len(centres), bool)
    ctree = cKDTree(centres)
    for i, c in enumerate(centres):
        if keep[i]:
            keep[ctree.query_ball_point(c, bandwidth)] = False
            keep[i] = True
    centres = centres[keep]
    _, labels = cKDTree(centres).query(points, k=1)
    return centres, np.asarray(labels, int)
