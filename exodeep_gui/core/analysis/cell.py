"""The cell of a movie: its mask (automatic from the temporal mean, a mask image or a polygon),
the extracellular level, area, event rate, events over time and a kernel density map."""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
from scipy import ndimage

from exodeep_gui.core.analysis.options import Units

MASK_AUTO, MASK_FILE, MASK_POLYGON, MASK_GIVEN = "automatic (Otsu)", "mask file", "polygon", "given"


def auto_mask(mean_image: np.ndarray, smooth_px: float = 2.0) -> np.ndarray:
    """The cell from the temporal mean: Gaussian smoothing, Otsu's threshold, the largest connected
    component, holes filled. All False for a flat image."""
    from skimage.filters import threshold_otsu
    from skimage.measure import label

    img = ndimage.gaussian_filter(np.asarray(mean_image, np.float64), smooth_px)
    if not np.isfinite(img).all() or img.max() - img.min() < 1e-9:
        return np.zeros(img.shape, bool)
    fg = img > threshold_otsu(img)
    lab = label(fg, connectivity=1)
    if lab.max() == 0:
        return fg
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    return ndimage.binary_fill_holes(lab == int(np.argmax(sizes)))


def polygon_mask(vertices, shape: Tuple[int, int]) -> np.ndarray:
    """A mask from polygon vertices given as (x, y) pixels (as drawn on the movie)."""
    from skimage.draw import polygon2mask

    v = np.asarray(vertices, float).reshape(-1, 2)
    if len(v) < 3:
        raise ValueError(f"a cell polygon needs at least 3 vertices, got {len(v)}")
    return polygon2mask(tuple(int(s) for s in shape), v[:, ::-1])


def extracellular_level(mean_image: np.ndarray, mask: np.ndarray, margin_px: int = 5,
                        min_share: float = 0.02) -> Optional[float]:
    """Median of the temporal mean outside the cell (at least ``margin_px`` from it): camera offset
    plus light outside the cell. None when too little of the frame is outside the cell."""
    outside = ~ndimage.binary_dilation(mask, iterations=margin_px) if mask.any() else np.ones(mask.shape, bool)
    if outside.sum() < max(50, min_share * mask.size):
        return None
    return float(np.median(mean_image[outside]))


def inside(mask: np.ndarray, x, y) -> np.ndarray:
    """Which points (x, y px) fall in the mask."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if not len(x):
        return np.zeros(0, bool)
    H, W = mask.shape
    xi, yi = np.clip(np.rint(x).astype(int), 0, W - 1), np.clip(np.rint(y).astype(int), 0, H - 1)
    return mask[yi, xi]


def time_histogram(frame, n_frames: int, units: Units, bin_s: float, bin_frames: int):
    """(bin edges in the movie's time unit, events per bin)."""
    if units.timed:
        width = max(1, int(round(bin_s / units.frame_interval_s)))
    else:
        width = max(1, int(bin_frames))
    edges_f = np.arange(0, n_frames + width, width)
    counts, _ = np.histogram(np.asarray(frame, float), bins=edges_f)
    return units.time(edges_f), counts


def density_map(mask: np.ndarray, x, y, units: Units, n_frames: int, bandwidth_px: float) -> np.ndarray:
    """Kernel density of the events (Gaussian kernel of ``bandwidth_px``), corrected at the cell's
    edge (divided by the smoothed mask), in events per unit area per minute (per frame when
    uncalibrated); NaN outside the cell."""
    H, W = mask.shape
    counts = np.zeros((H, W), np.float64)
    if len(x):
        xi, yi = np.clip(np.rint(x).astype(int), 0, W - 1), np.clip(np.rint(y).astype(int), 0, H - 1)
        np.add.at(counts, (yi, xi), 1.0)
    smooth = ndimage.gaussian_filter(counts, bandwidth_px, mode="constant")
    support = ndimage.gaussian_filter(mask.astype(np.float64), bandwidth_px, mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        per_px = np.where(mask & (support > 1e-6), smooth / support, np.nan)
    duration = n_frames * units.frame_interval_s / 60.0 if units.timed else float(n_frames)
    return per_px / float(units.area(1.0)) / max(duration, 1e-12)


def interval_cv(frames) -> float:
    """Coefficient of variation of the intervals between successive events (frames; events of the
    same frame give an interval of 0): about 1 for events at random times (Poisson), above 1 for
    bursts, below 1 for regular release. NaN with fewer than 3 events."""
    f = np.sort(np.asarray(frames, float))
    if len(f) < 3:
        return float("nan")
    d = np.diff(f)
    m = d.mean()
    return float(d.std(ddof=1) / m) if m > 0 else float("nan")
