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

from pathlib import Path
from typing import Optional

import numpy as np

from exodeep_gui.core.movie import Movie, MovieError, check_finite, validate_movie_array
from exodeep_gui.io.atomic import atomic_path
from exodeep_gui.io.library_messages import READERS, library_messages, one_line, raised_in, short_error
from exodeep_gui.io.readers import TIFF_SUFFIXES, _open_frame_folder, _open_h5, _open_nd2
from exodeep_gui.io.tiff_reader import _open_tiff

MOVIE_SUFFIXES = TIFF_SUFFIXES + (".h5", ".hdf5", ".nd2")
# float movies up to this size are checked for NaN when opened; larger ones during detection
NAN_CHECK_BYTES = 1 << 30


def movie_stem(path) -> str:
    """A movie's name without its extension (a folder of frames: the folder's name): the stem of
    its outputs (``<stem>_events.csv``), mask and annotations."""
    path = Path(path)
    return path.name if path.is_dir() else path.stem


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
    with library_messages():
        try:
            import tifffile

            with tifffile.TiffFile(path) as tif:
                return len(tif.pages) == 1 and tif.series[0].ndim == 2
        except Exception:
            return False


def open_movie(path, channel: int = 0, memory_limit_bytes: Optional[int] = None) -> Movie:
    """Open ``path`` (file or folder of frames) and return a (t, y, x) movie.

    What the reader had to interpret (an axis-less stack that tifffile calls channels, other
    images in the file that are not read…) is listed, one line each, in ``movie.metadata["notices"]``.
    The readers' own warnings are never printed (see :func:`library_messages`)."""
    path = Path(path)
    if not path.exists():
        raise MovieError(f"{path}: no such file or folder")
    with library_messages() as messages:
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
                    movie = _open_tiff(path, channel, memory_limit_bytes, messages)
        except MovieError:
            raise
        except MemoryError:
            raise MovieError(f"{path}: not enough memory to open this movie") from None
        except OSError as exc:
            raise MovieError(f"{path}: cannot be read ({exc.strerror or short_error(exc)})") from None
        except Exception as exc:
            if not any(raised_in(exc, lib) for lib in READERS):
                raise                   # not the file's fault: a bug, shown as such
            # a reader library failing on this file becomes one clear line
            raise MovieError(f"{path}: cannot be read as a movie ({short_error(exc)})") from None
        movie.metadata.setdefault("notices", [])
        if messages:
            movie.metadata["library_messages"] = [one_line(m) for m in messages]
        validate_movie_array(movie.data, str(path))
        if movie.dtype.kind == "f" and movie.nbytes <= NAN_CHECK_BYTES:
            try:
                for a in range(0, movie.n_frames, 64):           # blocks: memory maps stay small in RAM
                    check_finite(movie.frames(a, a + 64), str(path), first_frame=a)
            except MovieError:
                raise
            except Exception as exc:        # a lazy reader (HDF5, ND2) failing on a frame
                if not any(raised_in(exc, lib) for lib in READERS):
                    raise
                raise MovieError(f"{path}: cannot be read as a movie ({short_error(exc)})") from None
    return movie


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
