"""Cell masks: a 2D TIFF beside a movie, ``NAME_mask.tif``, non-zero inside the cell.

A colour mask counts a pixel as inside when any of its channels is non-zero, and a stack of
mask planes is their union (a pixel inside the cell in any plane). Every failure is a
:class:`MaskError` whose one-line message names the file."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

MASK_SUFFIXES = (".tif", ".tiff")


class MaskError(ValueError):
    """A mask that cannot be used; the message names the file and the problem."""


def mask_for(movie) -> Optional[Path]:
    """The cell mask beside ``movie`` (a file or a folder of frames): ``<stem>_mask.tif``, else None."""
    movie = Path(movie)
    stem = movie.stem if movie.is_file() else movie.name
    for suffix in MASK_SUFFIXES:
        p = movie.parent / f"{stem}_mask{suffix}"
        if p.is_file():
            return p
    return None


def read_mask(path, frame_shape: Optional[Sequence[int]] = None) -> np.ndarray:
    """A (y, x) boolean mask, True inside the cell; with ``frame_shape`` (height, width), a mask of
    another size is refused."""
    import tifffile

    path = Path(path)
    if not path.is_file():
        raise MaskError(f"{path}: no such mask file")
    try:
        with tifffile.TiffFile(path) as tif:
            if not tif.series:
                raise MaskError(f"{path}: the TIFF holds no image")
            series = tif.series[0]
            axes, data = series.axes, series.asarray()
    except MaskError:
        raise
    except Exception as exc:              # not a TIFF, truncated, unknown compression…
        text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise MaskError(f"{path}: not a readable mask image ({text})") from None
    if "Y" not in axes or "X" not in axes:
        raise MaskError(f"{path}: not a 2D image (axes {axes})")
    inside = np.asarray(data) != 0
    other = tuple(i for i, ax in enumerate(axes) if ax not in "YX")
    if other:
        inside = inside.any(axis=other)           # colour channels, or a stack of planes: union
    if axes.index("Y") > axes.index("X"):
        inside = inside.T
    if frame_shape is not None and inside.shape != tuple(frame_shape):
        raise MaskError(f"{path}: mask is {inside.shape[1]}×{inside.shape[0]} px, the movie "
                        f"{frame_shape[1]}×{frame_shape[0]} px")
    return inside
