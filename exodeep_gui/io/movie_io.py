"""Open movies as :class:`~exodeep_gui.core.movie.Movie` objects, axes (t, y, x).

Formats: multi-page TIFF, ImageJ hyperstacks, OME-TIFF, a folder of
single-frame TIFFs (frame number = last integer in the file name), the
reference's HDF5 (dataset ``dataset``, axes t, y, x) and Nikon ND2.
Uncompressed TIFFs and HDF5 files are memory-mapped (frames are read on
demand), so movies larger than RAM open; compressed TIFFs larger than half
the free memory are decompressed once into a temporary memory-mapped file.
Every failure is a :class:`MovieError` whose one-line message names the file.
"""

from __future__ import annotations

import os
import re
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import psutil

from exodeep_gui.io.atomic import atomic_path
from exodeep_gui.core.movie import Movie, MovieError, check_finite, validate_movie_array

TIFF_SUFFIXES = (".tif", ".tiff")
MOVIE_SUFFIXES = TIFF_SUFFIXES + (".h5", ".hdf5", ".nd2")
# axes tifffile may use for a stack of planes that, with a single time point, is a time series
_STACK_AXES = "TZIQ"
# float movies up to this size are checked for NaN when opened; larger ones during detection
NAN_CHECK_BYTES = 1 << 30


def is_movie_path(path: Path) -> bool:
    path = Path(path)
    return path.is_dir() or path.suffix.lower() in MOVIE_SUFFIXES


def find_movies(paths) -> list:
    """Movie files, frame folders, and folders of movies (each movie file or frame folder inside;
    ``*_mask`` images and hidden files are skipped). Raises :class:`MovieError` for a missing path
    or a folder without movies."""
    out = []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise MovieError(f"{p}: no such file or folder")
        if p.is_file():
            out.append(p)
            continue
        tiffs = sorted(f for f in p.iterdir() if f.suffix.lower() in TIFF_SUFFIXES and not f.stem.endswith("_mask"))
        if tiffs and _is_single_frame(tiffs[0]):
            out.append(p)                         # a folder of frames is one movie
            continue
        found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in MOVIE_SUFFIXES
                       and not f.name.startswith("."))
        found += sorted(d for d in p.iterdir() if d.is_dir() and any(
            _is_single_frame(f) for f in list(d.glob("*.tif"))[:1] + list(d.glob("*.tiff"))[:1]))
        found = [f for f in found if not f.stem.endswith("_mask")]
        if not found:
            raise MovieError(f"{p}: no movies in this folder")
        out.extend(found)
    return out


def frame_files_folder(paths) -> Optional[Path]:
    """The folder, when ``paths`` are several single-frame TIFFs of one folder (the frames of one
    movie, picked one by one in a file dialog), else None."""
    paths = [Path(p) for p in paths]
    if len(paths) < 2 or len({p.parent for p in paths}) != 1:
        return None
    if not all(p.is_file() and p.suffix.lower() in TIFF_SUFFIXES for p in paths):
        return None
    return paths[0].parent if _is_single_frame(paths[0]) else None


def _is_single_frame(path: Path) -> bool:
    try:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            return len(tif.pages) == 1 and tif.series[0].ndim == 2
    except Exception:
        return False


def open_movie(path, channel: int = 0, memory_limit_bytes: Optional[int] = None) -> Movie:
    """Open ``path`` (file or folder of frames) and return a (t, y, x) movie."""
    path = Path(path)
    if not path.exists():
        raise MovieError(f"{path}: no such file or folder")
    try:
        if path.is_dir():
            movie = _open_frame_folder(path)
        else:
            suffix = path.suffix.lower()
            if suffix in (".h5", ".hdf5"):
                movie = _open_h5(path)
            elif suffix == ".nd2":
                movie = _open_nd2(path, channel)
            else:
                movie = _open_tiff(path, channel, memory_limit_bytes)
    except MovieError:
        raise
    except MemoryError:
        raise MovieError(f"{path}: not enough memory to open this movie") from None
    except Exception as exc:  # any reader failure becomes one clear line
        raise MovieError(f"{path}: cannot be read as a movie ({_short(exc)})") from exc
    validate_movie_array(movie.data, str(path))
    if movie.dtype.kind == "f" and movie.nbytes <= NAN_CHECK_BYTES:
        for a in range(0, movie.n_frames, 64):           # blocks: memory maps stay small in RAM
            check_finite(movie.frames(a, a + 64), str(path), first_frame=a)
    return movie


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


# ---------------------------------------------------------------- TIFF
def _open_tiff(path: Path, channel: int, memory_limit_bytes: Optional[int]) -> Movie:
    import tifffile

    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:2] not in (b"II", b"MM"):
        raise MovieError(f"{path}: not a TIFF file")
    with tifffile.TiffFile(path) as tif:
        if not tif.series:
            raise MovieError(f"{path}: the TIFF holds no image")
        series = tif.series[0]
        axes = series.axes
        shape = tuple(series.shape)
        pixel_size, interval = _tiff_calibration(tif)
        contiguous = series.dataoffset is not None
        nbytes = int(np.prod(shape)) * np.dtype(series.dtype).itemsize
        _check_tiff_complete(path, tif, series)
        if "S" in axes and shape[axes.index("S")] > 1:
            raise MovieError(f"{path}: an RGB colour image; ExoDeep needs a single-channel "
                             "fluorescence movie (split the channels in Fiji first)")
        if contiguous:
            data = tifffile.memmap(path, series=0, mode="r")
        elif nbytes > (memory_limit_bytes or free_memory_bytes() // 2):
            tmp = tempfile.NamedTemporaryFile(prefix="exodeep-", suffix=".raw", delete=False)
            tmp.close()
            data = series.asarray(out=tmp.name)
            remove_when_unused(tmp.name)
        else:
            data = series.asarray()
    data = _to_tyx(data, axes, channel, path)
    return Movie(data, source=path, pixel_size_um=pixel_size, frame_interval_s=interval,
                 channel=channel, metadata={"axes": axes, "shape": shape, "format": "tiff"})


def _check_tiff_complete(path: Path, tif, series) -> None:
    """A truncated file: the last page's data runs past the end of the file."""
    size = path.stat().st_size
    pages = series.pages if hasattr(series, "pages") else tif.pages
    last = pages[-1] if len(pages) else None
    if last is None:
        return
    offsets = getattr(last, "dataoffsets", ()) or ()
    counts = getattr(last, "databytecounts", ()) or ()
    if offsets and counts and max(o + c for o, c in zip(offsets, counts)) > size:
        raise MovieError(f"{path}: the file is truncated (its last frame is incomplete)")
    if series.dataoffset is not None:
        need = series.dataoffset + int(np.prod(series.shape)) * np.dtype(series.dtype).itemsize
        if need > size:
            raise MovieError(f"{path}: the file is truncated ({size} of {need} bytes)")


def _to_tyx(data, axes: str, channel: int, path: Path):
    """Reduce a tifffile array with ``axes`` to (t, y, x), picking ``channel``."""
    axes = list(axes)
    index = []
    for ax, n in zip(axes, data.shape):
        if ax == "C":
            if not 0 <= channel < n:
                raise MovieError(f"{path}: channel {channel} asked, the file has {n} (0–{n - 1})")
            index.append(channel)
        elif ax == "S" or (n == 1 and ax not in "YX"):
            index.append(0)
        else:
            index.append(slice(None))
    kept = [ax for ax, i in zip(axes, index) if isinstance(i, slice)]
    data = data[tuple(index)]
    stack = [ax for ax in kept if ax not in "YX"]
    if len(stack) == 0:
        raise MovieError(f"{path}: a single 2D image, not a movie; save the time series as a "
                         "multi-page TIFF")
    if len(stack) > 1:
        sizes = ", ".join(f"{a}={data.shape[kept.index(a)]}" for a in stack)
        raise MovieError(f"{path}: a {len(stack) + 2}D stack ({sizes}); ExoDeep needs one time "
                         "series of 2D frames")
    if stack[0] not in _STACK_AXES:
        raise MovieError(f"{path}: unexpected axes {''.join(kept)}")
    order = [kept.index(stack[0]), kept.index("Y"), kept.index("X")]
    return data.transpose(order) if order != [0, 1, 2] else data


def _tiff_calibration(tif) -> tuple:
    """Pixel size (µm) and frame interval (s) from ImageJ or OME metadata."""
    pixel_size = interval = None
    if tif.is_ome and tif.ome_metadata:
        try:
            root = ET.fromstring(tif.ome_metadata)
            for el in root.iter():
                if el.tag.endswith("Pixels"):
                    if el.get("PhysicalSizeX"):
                        pixel_size = float(el.get("PhysicalSizeX"))
                        unit = el.get("PhysicalSizeXUnit", "µm")
                        pixel_size *= {"nm": 1e-3, "mm": 1e3}.get(unit, 1.0)
                    if el.get("TimeIncrement"):
                        interval = float(el.get("TimeIncrement"))
                        unit = el.get("TimeIncrementUnit", "s")
                        interval *= {"ms": 1e-3, "min": 60.0}.get(unit, 1.0)
                    break
        except ET.ParseError:
            pass
    ij = tif.imagej_metadata or {}
    if interval is None and ij.get("finterval"):
        interval = float(ij["finterval"])
    if pixel_size is None:
        try:
            tag = tif.pages[0].tags.get("XResolution")
            unit = str(ij.get("unit", "")).lower()
            if tag is not None and unit in ("micron", "µm", "um", "\\u00b5m", "microns"):
                num, den = tag.value
                if num > 0:
                    pixel_size = den / num
        except Exception:
            pixel_size = None
    return pixel_size, interval


def remove_when_unused(path: str) -> None:
    """Delete a temporary file that backs a memory map: at once where the OS allows it (the
    mapping keeps the data), else when the program exits."""
    try:
        os.unlink(path)
    except OSError:
        import atexit

        atexit.register(lambda: os.path.exists(path) and os.unlink(path))


def temporary_memmap(shape, dtype, prefix: str = "exodeep-") -> np.memmap:
    tmp = tempfile.NamedTemporaryFile(prefix=prefix, suffix=".raw", delete=False)
    tmp.close()
    arr = np.memmap(tmp.name, dtype=dtype, mode="w+", shape=tuple(shape))
    remove_when_unused(tmp.name)
    return arr


def free_memory_bytes() -> int:
    """Memory available to new allocations without swapping (psutil: MemAvailable on Linux)."""
    return int(psutil.virtual_memory().available)


def write_imagej_tiff(path, movie: np.ndarray, pixel_size_um=None, frame_interval_s=None,
                      overwrite: bool = False) -> Path:
    """Write a (t, y, x) stack, or a 2D image, as an ImageJ TIFF with its calibration, atomically."""
    import tifffile

    meta = {"axes": "TYX" if movie.ndim == 3 else "YX"}
    kwargs = {}
    if frame_interval_s:
        meta["finterval"] = frame_interval_s
    if pixel_size_um:
        meta["unit"] = "micron"
        kwargs["resolution"] = (1.0 / pixel_size_um, 1.0 / pixel_size_um)
    with atomic_path(path, overwrite, suffix=".part.tif") as tmp:
        tifffile.imwrite(tmp, movie, imagej=True, metadata=meta, **kwargs)
    return Path(path)


# ---------------------------------------------------------------- folder of frames
class FrameFolder:
    """Lazy (t, y, x) array over a folder of single-frame TIFFs.

    Not tifffile's TiffSequence: it reads frames lazily only through zarr (``aszarr``, another
    dependency), ``asarray`` reads every file at once, a missing number becomes a frame of
    uninitialised memory, and a broken file's error does not name it."""

    def __init__(self, files: Sequence[Path]):
        import tifffile

        self.files = list(files)
        first = tifffile.imread(self.files[0])
        if first.ndim != 2:
            raise MovieError(f"{self.files[0]}: each file of a frame folder must hold one 2D frame "
                             f"(got shape {first.shape})")
        self.dtype = first.dtype
        self.shape = (len(self.files),) + first.shape
        self.ndim = 3

    def _read(self, i: int) -> np.ndarray:
        import tifffile

        frame = tifffile.imread(self.files[i])
        if frame.shape != self.shape[1:]:
            raise MovieError(f"{self.files[i]}: frame of shape {frame.shape}, the others are "
                             f"{self.shape[1:]}")
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
        raise MovieError(f"{path}: not a readable HDF5 file ({_short(exc)})") from None
    if "dataset" not in h5:
        keys = list(h5.keys())[:5]
        h5.close()
        raise MovieError(f"{path}: no dataset named 'dataset' (found {keys}); ExoDeepFinder movies "
                         "store frames as dataset 'dataset' with axes (t, y, x)")
    return Movie(h5["dataset"], source=path, metadata={"format": "h5", "file": h5})


def _open_nd2(path: Path, channel: int) -> Movie:
    import nd2

    f = nd2.ND2File(path)
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
