"""Reading movies that are not one TIFF file: a folder of numbered single-frame TIFFs, the
reference's HDF5 and Nikon ND2."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np

from exodeep_gui.core.movie import Movie, MovieError
from exodeep_gui.io.library_messages import library_messages, short_error
from exodeep_gui.io.memory import free_memory_bytes
from exodeep_gui.io.tiff_reader import _to_tyx

TIFF_SUFFIXES = (".tif", ".tiff")


# ---------------------------------------------------------------- folder of frames
class FrameFolder:
    """Lazy (t, y, x) array over a folder of single-frame TIFFs.

    Not tifffile's TiffSequence: it reads frames lazily only through zarr (``aszarr``, another
    dependency), ``asarray`` reads every file at once, a missing number becomes a frame of
    uninitialised memory, and a broken file's error does not name it."""

    def __init__(self, files: Sequence[Path]):
        self.files = list(files)
        first = self._imread(0)
        if first.ndim != 2:
            raise MovieError(f"{self.files[0]}: each file of a frame folder must hold one 2D frame "
                             f"(got shape {first.shape})")
        if first.dtype.kind not in "uif":
            raise MovieError(f"{self.files[0]}: unsupported pixel type {first.dtype}")
        self.dtype = first.dtype
        self.shape = (len(self.files),) + first.shape
        self.ndim = 3

    def _imread(self, i: int) -> np.ndarray:
        import tifffile

        path = self.files[i]
        with library_messages():
            try:
                return tifffile.imread(path)
            except MemoryError:
                raise MovieError(f"{path}: not enough memory to read this frame") from None
            except Exception as exc:           # truncated, not a TIFF, unknown compression…
                raise MovieError(f"{path}: frame {i + 1} of the folder cannot be read ({short_error(exc)})") from None

    def _read(self, i: int) -> np.ndarray:
        frame = self._imread(i)
        if frame.shape != self.shape[1:]:
            raise MovieError(f"{self.files[i]}: frame {i + 1} is {_dims(frame.shape)} px, the first frame "
                             f"{_dims(self.shape[1:])} px")
        if frame.dtype.kind not in "uif" or not np.can_cast(frame.dtype, self.dtype, "safe"):
            raise MovieError(f"{self.files[i]}: frame {i + 1} has pixels of type {frame.dtype}, the first "
                             f"frame {self.dtype}")
        return frame.astype(self.dtype, copy=False)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key):
        if isinstance(key, tuple):
            first, rest = key[0], key[1:]
        else:
            first, rest = key, ()
        if isinstance(first, (int, np.integer)):
            return self._read(int(first) % len(self))[rest] if rest else self._read(int(first) % len(self))
        idx = range(len(self))[first]
        out = np.stack([self._read(i) for i in idx]) if len(idx) else np.empty((0,) + self.shape[1:], self.dtype)
        return out[(slice(None),) + rest] if rest else out

    def __array__(self, dtype=None, copy=None):
        arr = self[:]
        return arr.astype(dtype) if dtype is not None else arr


def _dims(shape) -> str:
    return "×".join(str(int(n)) for n in shape)


_LAST_INT = re.compile(r"(\d+)(?!.*\d)")


def _open_frame_folder(path: Path) -> Movie:
    files = [p for p in path.iterdir() if p.is_file() and p.suffix.lower() in TIFF_SUFFIXES]
    if not files:
        raise MovieError(f"{path}: the folder holds no TIFF frames")
    numbered = []
    for f in files:
        m = _LAST_INT.search(f.stem)
        if m is None:
            raise MovieError(f"{f}: no frame number in the file name (expected e.g. frame_0001.tif)")
        numbered.append((int(m.group(1)), f))
    numbered.sort()
    numbers = [n for n, _ in numbered]
    if len(set(numbers)) != len(numbers):
        raise MovieError(f"{path}: two files carry the same frame number")
    expected = list(range(numbers[0], numbers[0] + len(numbers)))
    if numbers != expected:
        missing = sorted(set(expected) - set(numbers))[:5]
        raise MovieError(f"{path}: frame numbers are not consecutive (missing {missing})")
    data = FrameFolder([f for _, f in numbered])
    return Movie(data, source=path, metadata={"format": "tiff-folder", "first_number": numbers[0]})


# ---------------------------------------------------------------- HDF5 and ND2
def _open_h5(path: Path) -> Movie:
    import h5py

    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        text = str(exc)
        if "file signature not found" in text:
            raise MovieError(f"{path}: not an HDF5 file") from None
        what = "truncated" if "truncated file" in text else "damaged"
        raise MovieError(f"{path}: the HDF5 file is {what} and cannot be opened ({short_error(exc)})") from None
    try:
        if "dataset" not in h5:
            keys = list(h5.keys())[:5]
            raise MovieError(f"{path}: no dataset named 'dataset' (found {keys}); ExoDeepFinder movies "
                             "store frames as dataset 'dataset' with axes (t, y, x)")
        data = h5["dataset"]
        if not isinstance(data, h5py.Dataset):
            raise MovieError(f"{path}: 'dataset' is a group, not an array of frames")
    except MovieError:
        h5.close()
        raise
    except Exception as exc:                  # a damaged object header
        h5.close()
        raise MovieError(f"{path}: the HDF5 file is damaged ({short_error(exc)})") from None
    return Movie(data, source=path, metadata={"format": "h5", "file": h5})


def _open_nd2(path: Path, channel: int) -> Movie:
    import nd2

    try:
        f = nd2.ND2File(path)
    except Exception as exc:
        if "not recognized as ND2" in str(exc):
            raise MovieError(f"{path}: not an ND2 file") from None
        raise MovieError(f"{path}: a damaged ND2 file that cannot be read ({short_error(exc)})") from None
    sizes = dict(f.sizes)
    arr = f.to_dask() if f.nbytes > free_memory_bytes() // 2 else f.asarray()
    axes = "".join(sizes.keys())
    arr = _to_tyx(arr, axes.replace("P", "I"), channel, path)
    pixel = None
    try:
        pixel = float(f.voxel_size().x)
    except Exception:
        pass
    interval = None
    try:
        for loop in f.experiment:
            if loop.type == "TimeLoop":
                interval = float(loop.parameters.periodMs) / 1000.0
    except Exception:
        pass
    return Movie(arr, source=path, pixel_size_um=pixel, frame_interval_s=interval, channel=channel,
                 metadata={"format": "nd2", "sizes": sizes})
