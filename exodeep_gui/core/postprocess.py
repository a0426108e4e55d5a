"""From the per-voxel segmentation to a list of events.

Default: 3D (t, y, x) connected components (26-connectivity) of the voxels whose most
likely class is exocytosis; one event per component at its centroid (x, y sub-pixel,
frame = rounded mean frame), score = peak class-2 probability, size = voxel count.
Option ``method="meanshift"``: the reference's clustering (scikit-learn MeanShift, flat
kernel, bandwidth 5 voxels, bin seeding, centre = the mode), for equivalence.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from exodeep_gui.core.events import EventTable

STRUCTURE = np.ones((3, 3, 3), bool)


def events_from_segmentation(labels: np.ndarray, score: np.ndarray, method: str = "components",
                             bandwidth: float = 5.0, event_class: int = 2) -> EventTable:
    """``labels`` (t, y, x) argmax classes; ``score`` uint8 class-2 probability × 255."""
    mask = labels == event_class
    if not mask.any():
        return EventTable.empty()
    if method == "components":
        return _components(mask, score)
    if method == "meanshift":
        return _meanshift(mask, score, bandwidth)
    raise ValueError(f"unknown clustering method {method!r} (components or meanshift)")


def _components(mask: np.ndarray, score: np.ndarray) -> EventTable:
    lab, n = ndimage.label(mask, structure=STRUCTURE)
    index = np.arange(1, n + 1)
    sizes = ndimage.sum_labels(mask, lab, index)
    centres = np.array(ndimage.center_of_mass(mask, lab, index), float).reshape(-1, 3)
    peaks = ndimage.maximum(score, lab, index).astype(float) / 255.0
    return EventTable.from_arrays(x=centres[:, 2], y=centres[:, 1], frame=centres[:, 0],
                                  score=peaks, size=sizes, extra={"t": centres[:, 0]}).sorted()


def _meanshift(mask: np.ndarray, score: np.ndarray, bandwidth: float) -> EventTable:
    from sklearn.cluster import MeanShift

    coords = np.argwhere(mask)                               # (t, y, x)
    ms = MeanShift(bandwidth=bandwidth, bin_seeding=True).fit(coords)
    centres, labels = ms.cluster_centers_, ms.labels_
    k = len(centres)
    sizes = np.bincount(labels, minlength=k)
    vals = score[tuple(coords.T)].astype(float) / 255.0
    peaks = np.zeros(k)
    np.maximum.at(peaks, labels, vals)
    return EventTable.from_arrays(x=centres[:, 2], y=centres[:, 1], frame=centres[:, 0],
                                  score=peaks, size=sizes, extra={"t": centres[:, 0]}).sorted()
