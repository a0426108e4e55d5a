"""Cell masks: a 2D TIFF beside a movie, ``NAME_mask.tif``, non-zero inside the cell.

A colour mask counts a pixel as inside when any of its channels is non-zero, and a stack of
mask planes is their union (a pixel inside the cell in any plane). Every failure is a
:class:`MaskError` whose one-line message names the file."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from exodeep_gui.io.library_messages import library_messages, one_line
from exodeep_gui.io.movie_io import movie_stem
from exodeep_gui.io.tiff_reader import MAX_COMPRESSION_RATIO

MASK_SUFFIXES = (".tif", ".tiff")
MAX_MASK_BYTES = 1 << 30           # a cell mask is one frame: a larger one is a damaged header


class MaskError(ValueError):
    """A mask that cannot be used; the message names the file and the problem."""


def mask_for(movie) -> Optional[Path]:
    """The cell mask beside ``movie`` (a file or a folder of frames): ``<stem>_mask.tif``, else None."""
    movie = Path(movie)
    stem = movie_stem(movie)
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
    size = path.stat().st_size
    with library_messages() as messages:
        try:
            with tifffile.TiffFile(path) as tif:
                if not tif.series or len(tif.pages) == 0:
                    raise MaskError(f"{path}: the TIFF holds no image")
                series = tif.series[0]
                axes = series.axes
                nbytes = float(np.prod(series.shape, dtype=np.float64)) * np.dtype(series.dtype).itemsize
                if nbytes > MAX_COMPRESSION_RATIO * max(size, 1) or nbytes > MAX_MASK_BYTES:
                    raise MaskError(f"{path}: a damaged mask: its header describes an image of "
                                    f"{' × '.join(map(str, series.shape))} px in a file of {size} bytes")
                ends = [max((int(o) + int(c) for o, c in zip(pg.dataoffsets or (), pg.databytecounts or ())),
                            default=0) for pg in series.pages if pg is not None]
                if any(e > size for e in ends) or any(pg is None for pg in series.pages):
                    raise MaskError(f"{path}: the mask file is truncated or damaged")
                data = series.asarray()
        except MaskError:
            raise
        except MemoryError:
            raise MaskError(f"{path}: not enough memory to read this mask") from None
        except Exception as exc:              # not a TIFF, truncated, unknown compression…
            text = one_line(str(exc), 200) if str(exc).strip() else type(exc).__name__
            raise MaskError(f"{path}: not a readable mask image: not a TIFF, or a damaged one ({text})") from None
    if any("invalid page offset" in m or "corrupted" in m for m in messages):
        raise MaskError(f"{path}: the mask file is truncated or damaged")
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
