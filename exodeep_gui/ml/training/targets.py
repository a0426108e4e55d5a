"""Training targets from expert events and spot-detector counter-examples, as the reference
builds them (see ../shared/design/exodeepfinder-reference.md §6), plus annotation checks.

* Each expert event (x, y, frame), truncated to integers, becomes a "cone" of class 2: a disk of
  radius 4 at the event frame, radius 2 one frame later and the centre pixel two frames later
  (63 voxels; configurable).
* Spot-detector components (3D, full connectivity) whose centroid lies within 5 voxels (x, y, t)
  of exactly one expert event are removed (they are that event); the remaining spot voxels are
  class 1, and their per-frame 2D components give class-1 sampling positions (at most 9,800).
* Expert cones overwrite spot voxels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np
from scipy import ndimage

from exodeep_gui.core.events import EventTable

DEFAULT_CONE: Tuple[Tuple[int, float], ...] = ((0, 4.0), (1, 2.0), (2, 0.0))   # (frame offset, radius)
MERGE_RADIUS = 5.0
MAX_SPOT_OBJECTS = 9800
_FULL = np.ones((3, 3, 3), bool)
_IN_FRAME = np.array([np.zeros((3, 3)), np.ones((3, 3)), np.zeros((3, 3))], bool)


class AnnotationProblem(ValueError):
    """Annotations that cannot be used as they are; the message lists what is wrong."""


def check_annotations(events: EventTable, shape: Sequence[int], source: str = "annotations") -> List[str]:
    """Problems with ``events`` for a movie of ``shape`` (t, y, x); an empty list when fine."""
    T, H, W = shape
    problems = []
    if len(events) == 0:
        problems.append(f"{source}: no annotated events (a movie without annotations cannot teach the model)")
        return problems
    outside = ((events.x < 0) | (events.x > W - 1) | (events.y < 0) | (events.y > H - 1)
               | (events.frame < 0) | (events.frame > T - 1))
    for i in np.nonzero(outside)[0][:5]:
        problems.append(f"{source}: event {i + 1} (X {events.x[i]:.1f}, Y {events.y[i]:.1f}, Slice "
                        f"{events.frame[i] + 1}) lies outside the movie ({W}×{H} px, {T} frames)")
    if outside.sum() > 5:
        problems.append(f"{source}: {outside.sum() - 5} more events outside the movie")
    key = np.stack([np.rint(events.x), np.rint(events.y), events.frame], 1)
    _, first, counts = np.unique(key, axis=0, return_index=True, return_counts=True)
    for i in first[counts > 1][:5]:
        problems.append(f"{source}: event at X {events.x[i]:.1f}, Y {events.y[i]:.1f}, Slice "
                        f"{events.frame[i] + 1} is annotated more than once")
    return problems


def _disk(radius: float) -> Tuple[np.ndarray, np.ndarray]:
    r = int(np.floor(radius))
    dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
    keep = dy ** 2 + dx ** 2 <= radius ** 2
    return dy[keep], dx[keep]


def paint_cones(target: np.ndarray, events: EventTable, value: int = 2,
                cone: Sequence[Tuple[int, float]] = DEFAULT_CONE) -> None:
    """Write the event cones into ``target`` (t, y, x) in place, clipped to the movie."""
    T, H, W = target.shape
    for dt, radius in cone:
        dy, dx = _disk(radius)
        for x, y, t in zip(events.x.astype(int), events.y.astype(int), events.frame.astype(int)):
            f = t + dt
            if not 0 <= f < T:
                continue
            yy, xx = y + dy, x + dx
            ok = (yy >= 0) & (yy < H) & (xx >= 0) & (xx < W)
            target[f, yy[ok], xx[ok]] = value


@dataclass
class TrainingTarget:
    labels: np.ndarray            # int8 (t, y, x): 0 background, 1 bright spot, 2 exocytosis
    spots: EventTable             # class-1 sampling positions
    events: EventTable            # class-2 sampling positions (the expert events)
    removed_components: int       # spot components taken as the experts' own events


def build_target(shape: Sequence[int], events: EventTable, spot_mask: Optional[np.ndarray] = None,
                 cone: Sequence[Tuple[int, float]] = DEFAULT_CONE, merge_radius: float = MERGE_RADIUS,
                 max_spots: int = MAX_SPOT_OBJECTS, seed: int = 0) -> TrainingTarget:
    labels = np.zeros(tuple(shape), np.int8)
    removed = 0
    spots = EventTable.empty()
    if spot_mask is not None and spot_mask.any():
        mask = spot_mask.astype(bool).copy()
        lab, n = ndimage.label(mask, structure=_FULL)
        centres = np.array(ndimage.center_of_mass(mask, lab, np.arange(1, n + 1)), float).reshape(-1, 3)
        if len(events):
            ev = np.stack([events.frame.astype(float), events.y, events.x], 1)        # (t, y, x)
            d = np.linalg.norm(centres[:, None, :] - ev[None], axis=2)
            matched_once = (d <= merge_radius).sum(axis=1) == 1
            drop = np.zeros(n + 1, bool)
            drop[1:] = matched_once
            mask[drop[lab]] = False
            removed = int(matched_once.sum())
        labels[mask] = 1
        lab2, n2 = ndimage.label(mask, structure=_IN_FRAME)
        if n2:
            c2 = np.array(ndimage.center_of_mass(mask, lab2, np.arange(1, n2 + 1)), float).reshape(-1, 3)
            if len(c2) > max_spots:
                c2 = c2[np.sort(np.random.default_rng(seed).choice(len(c2), max_spots, replace=False))]
            spots = EventTable.from_arrays(c2[:, 2], c2[:, 1], np.floor(c2[:, 0]))
    paint_cones(labels, events, 2, cone)
    return TrainingTarget(labels, spots, events, removed)


def counter_examples_in_frame(frame: np.ndarray, index: int, events: EventTable, params,
                              merge_radius: float = MERGE_RADIUS) -> Tuple[np.ndarray, np.ndarray]:
    """(kept, left out): the spot detector's spots in one frame (number ``index`` of its movie),
    split into the counter-examples training would use and the spots it leaves out because an
    annotated event lies within ``merge_radius`` (in t, y, x), as :func:`build_target` does."""
    from exodeep_gui.core.spots import spot_mask

    mask = spot_mask(np.asarray(frame), params)
    left = np.zeros_like(mask)
    lab, n = ndimage.label(mask, structure=_IN_FRAME[1])          # 8-connected in the frame
    if n and len(events):
        c = np.array(ndimage.center_of_mass(mask, lab, np.arange(1, n + 1)), float).reshape(-1, 2)
        d = np.sqrt((c[:, None, 0] - events.y[None]) ** 2 + (c[:, None, 1] - events.x[None]) ** 2
                    + (index - events.frame[None].astype(float)) ** 2)
        drop = np.zeros(n + 1, bool)
        drop[1:] = (d <= merge_radius).any(axis=1)
        left = drop[lab]
    return mask & ~left, left
