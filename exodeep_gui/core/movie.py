"""The in-memory (or memory-mapped) movie: a (t, y, x) array plus metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np


class MovieError(ValueError):
    """A movie cannot be used; the message names the file and what is wrong."""


SUPPORTED_DTYPES = (np.uint8, np.uint16, np.int16, np.uint32, np.int32, np.float32, np.float64)


@dataclass(eq=False)        # identity: comparing movies element-wise is never what is meant
class Movie:
    """A time series of 2D frames, axes (t, y, x).

    ``data`` may be a numpy array, a ``numpy.memmap`` or any array-like with
    ``shape``, ``dtype`` and slicing along axis 0 (frames are read lazily).
    """

    data: object
    source: Optional[Path] = None
    pixel_size_um: Optional[float] = None
    frame_interval_s: Optional[float] = None
    channel: int = 0
    metadata: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple:
        return tuple(int(s) for s in self.data.shape)

    @property
    def n_frames(self) -> int:
        return self.shape[0]

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.data.dtype)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * self.dtype.itemsize

    @property
    def name(self) -> str:
        return self.source.stem if self.source is not None else "movie"

    @property
    def is_memory_mapped(self) -> bool:
        return not isinstance(self.data, np.ndarray) or isinstance(self.data, np.memmap)

    def frames(self, start: int, stop: int) -> np.ndarray:
        """Frames [start, stop) as an in-memory array (of the movie's dtype). A lazy reader failing
        (a damaged HDF5 chunk, a frame file gone) raises :class:`MovieError` naming the file."""
        return self._read(slice(start, stop), f"frames {start + 1}–{min(stop, self.n_frames)}")

    def frame(self, index: int) -> np.ndarray:
        return self._read(index, f"frame {index + 1}")

    def _read(self, key, what: str) -> np.ndarray:
        try:
            return np.asarray(self.data[key])
        except (MovieError, MemoryError, IndexError):
            raise
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            text = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise MovieError(f"{self.source or self.name}: {what} cannot be read ({text})") from None

    def __repr__(self) -> str:  # keeps huge arrays out of logs
        return (f"Movie({self.name!r}, shape={self.shape}, dtype={self.dtype}, "
                f"pixel_size_um={self.pixel_size_um}, frame_interval_s={self.frame_interval_s})")


def validate_movie_array(data, source: str, min_frames: int = 1) -> None:
    """Raise :class:`MovieError` if ``data`` cannot be a (t, y, x) movie."""
    shape = tuple(data.shape)
    if len(shape) == 2:
        raise MovieError(f"{source}: a single 2D image ({shape[0]}×{shape[1]}), not a movie; "
                         "save the time series as a multi-page TIFF")
    if len(shape) != 3:
        raise MovieError(f"{source}: expected a time series of 2D frames, got an array of shape {shape}")
    if shape[-1] in (3, 4) and shape[-2] > 4 and data.dtype == np.uint8 and len(shape) == 3 and shape[0] > 4:
        # (y, x, rgb) single RGB image
        raise MovieError(f"{source}: looks like an RGB colour image, not a fluorescence movie")
    if shape[0] < min_frames:
        raise MovieError(f"{source}: {shape[0]} frames; at least {min_frames} are needed")
    if min(shape[1:]) < 8:
        raise MovieError(f"{source}: frames of {shape[1]}×{shape[2]} px are too small (at least 8×8)")
    if np.dtype(data.dtype).kind not in "uif":
        raise MovieError(f"{source}: unsupported pixel type {data.dtype}")


def check_finite(block: np.ndarray, source: str, first_frame: int = 0) -> None:
    """Raise :class:`MovieError` naming the first frame of ``block`` that holds NaN or infinity."""
    if np.dtype(block.dtype).kind != "f":
        return
    bad = ~np.isfinite(block.reshape(block.shape[0], -1)).all(axis=1)
    if bad.any():
        raise MovieError(f"{source}: frame {first_frame + int(np.argmax(bad)) + 1} holds NaN or infinite values")
