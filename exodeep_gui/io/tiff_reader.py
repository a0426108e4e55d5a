"""Reading TIFF movies (plain, ImageJ hyperstacks, OME-TIFF): the stack, its axes as (t, y, x),
its calibration, and one clear line for a damaged, truncated or inconsistent file."""

from __future__ import annotations

import re
import struct
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import List, Optional

import numpy as np

from exodeep_gui.core.movie import Movie, MovieError
from exodeep_gui.io.library_messages import one_line, raised_in, short_error
from exodeep_gui.io.memory import free_memory_bytes, remove_when_unused

# axes tifffile may use for a stack of planes that, with a single time point, is a time series
_STACK_AXES = "TZIQ"
# one non-spatial axis of at least this many planes is a time series, whatever the file calls it
# (ImageJ and tifffile label an axis-less stack "channels"); fewer channels are a multi-channel image
MIN_RELABELLED_FRAMES = 8
# a compressed series may not claim more than this many times its file's size (a damaged header)
MAX_COMPRESSION_RATIO = 4096


# what tifffile logs when the chain of pages (IFDs) ends early: a truncated or damaged file
_BROKEN_CHAIN = ("invalid page offset", "invalid offset to page", "corrupted tag list", "circular reference")


def _open_tiff(path: Path, channel: int, memory_limit_bytes: Optional[int], messages: List[str]) -> Movie:
    import tifffile

    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(8)
    if size == 0:
        raise MovieError(f"{path}: the file is empty (0 bytes)")
    if head[:2] not in (b"II", b"MM"):
        raise MovieError(f"{path}: not a TIFF file")
    try:
        tif = tifffile.TiffFile(path)
    except (tifffile.TiffFileError, ValueError, struct.error, IndexError, EOFError) as exc:
        raise MovieError(f"{path}: a damaged or truncated TIFF: its header cannot be read "
                         f"({short_error(exc)})") from None
    with tif:
        try:
            return _read_tiff(path, tif, size, channel, memory_limit_bytes, messages)
        except (MovieError, MemoryError):
            raise
        except Exception as exc:
            if not raised_in(exc, "tifffile"):
                raise
            # tifffile tripping over a damaged page or tag
            raise MovieError(f"{path}: a damaged TIFF that cannot be read ({short_error(exc)})") from None


def _read_tiff(path: Path, tif, size: int, channel: int, memory_limit_bytes: Optional[int],
               messages: List[str]) -> Movie:
    import tifffile

    n_pages = len(tif.pages)                  # walks the chain of pages; a break is logged
    broken = any(k in m for m in messages for k in _BROKEN_CHAIN)
    series_list = tif.series
    if not series_list or n_pages == 0:
        if broken or messages:
            raise MovieError(f"{path}: a damaged TIFF: no readable image in it "
                             f"({_tiff_said(messages[0]) if messages else 'its first page is damaged'})")
        raise MovieError(f"{path}: the TIFF holds no image")
    series = series_list[0]
    notices = _series_notices(series_list)
    recovered = _check_tiff_complete(path, tif, series, size, n_pages, broken, messages)
    if recovered is not None:                 # an ImageJ stack whose page list is cut, data whole
        n, offset, dtype, frame_shape = recovered
        notices.append(f"the file's list of pages is damaged; its {n} frames were read from the "
                       "first page, as ImageJ does")
        data = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(n,) + frame_shape)
        axes, shape = "TYX", data.shape
        pixel_size, interval = _tiff_calibration(tif, notices)
    else:
        axes = series.axes
        shape = tuple(int(n) for n in series.shape)
        if "S" in axes and shape[axes.index("S")] > 1:
            raise MovieError(f"{path}: an RGB colour image; ExoDeep needs a single-channel "
                             "fluorescence movie (split the channels in Fiji first)")
        nbytes = int(np.prod(shape, dtype=np.float64)) * np.dtype(series.dtype).itemsize
        contiguous = series.dataoffset is not None
        if not contiguous and nbytes > MAX_COMPRESSION_RATIO * max(size, 1):
            raise MovieError(f"{path}: a damaged TIFF: its header describes {_gb(nbytes)} of pixels "
                             f"({' × '.join(map(str, shape))}) in a file of {_gb(size)}")
        plan = _tyx_plan(axes, shape, channel, path, notices)        # before reading any pixel
        _note_metadata_mismatch(tif, series, notices)
        pixel_size, interval = _tiff_calibration(tif, notices)
        if contiguous:
            data = tifffile.memmap(path, series=0, mode="r")
        else:
            data = _read_series(path, series, nbytes, memory_limit_bytes)
        data = _apply_plan(data, plan)
    return Movie(data, source=path, pixel_size_um=pixel_size, frame_interval_s=interval,
                 channel=channel, metadata={"axes": axes, "shape": shape, "format": "tiff",
                                            "notices": notices})


def _gb(nbytes: float) -> str:
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= div:
            return f"{nbytes / div:.1f} {unit}"
    return f"{int(nbytes)} bytes"


def _damaged(path: Path, first_bad: int, expected: Optional[int], size: int) -> MovieError:
    """The one-line error for a truncated or damaged file whose frame ``first_bad`` (1-based) is
    the first that cannot be read."""
    of = f" of {expected}" if expected and expected >= first_bad else ""
    return MovieError(f"{path}: the file is truncated or damaged: frame {first_bad}{of} cannot be read "
                      f"({first_bad - 1} complete frames in its {size} bytes)")


def _imagej(tif) -> dict:
    try:
        return dict(tif.imagej_metadata or {})
    except Exception:
        return {}


def _expected_frames(tif) -> Optional[int]:
    """The number of images the file's own metadata announces (ImageJ ``images``, tifffile's
    shaped ``shape``), else None."""
    try:
        if _imagej(tif).get("images"):
            return int(_imagej(tif)["images"])
    except (TypeError, ValueError):
        pass
    try:
        meta = tif.shaped_metadata
        if meta and "shape" in meta[0]:
            shp = [int(n) for n in meta[0]["shape"]]
            return int(np.prod(shp[:-2])) if len(shp) > 2 else 1
    except Exception:
        pass
    return None


def _page_data_end(page) -> int:
    offsets = getattr(page, "dataoffsets", ()) or ()
    counts = getattr(page, "databytecounts", ()) or ()
    return max((int(o) + int(c) for o, c in zip(offsets, counts)), default=0)


def _check_tiff_complete(path: Path, tif, series, size: int, n_pages: int, broken: bool, messages):
    """Refuse a truncated or damaged file, naming the first frame that cannot be read: the chain
    of pages ends early, a frame's data runs past the end of the file, a frame is missing from
    the series, or the OME metadata disagrees with the pages. An ImageJ stack whose list of pages
    is cut but whose pixels are all there is read as ImageJ reads it: returns (frames, data
    offset, dtype, frame shape) then, else None."""
    expected = _expected_frames(tif)
    if tif.is_ome and not broken:
        for m in messages:
            if "OME series" in m and ("expected" in m or "missing" in m):
                raise MovieError(f"{path}: the OME metadata disagrees with the pages ({_tiff_said(m)}); "
                                 "the file or its metadata is damaged")
    if series.dataoffset is not None and not broken:
        frame_bytes = max(1, int(np.prod(series.shape[-2:])) * np.dtype(series.dtype).itemsize)
        need = series.dataoffset + int(np.prod(series.shape)) * np.dtype(series.dtype).itemsize
        if need > size:
            complete = max(0, (size - series.dataoffset) // frame_bytes)
            raise _damaged(path, complete + 1, expected or _frames_in(series), size)
        return None
    if broken:
        page0 = tif.pages.first
        ij = _imagej(tif)
        if (expected and expected > n_pages and page0.is_contiguous and page0.dtype is not None
                and str(ij.get("channels", 1)).strip() in ("1", "None", "")
                and len(page0.shape) == 2 and min(page0.shape) > 0):
            offset = int(page0.dataoffsets[0])
            frame_bytes = int(np.prod(page0.shape)) * np.dtype(page0.dtype).itemsize
            complete = max(0, min(expected, (size - offset) // frame_bytes))
            if complete < expected:
                raise _damaged(path, complete + 1, expected, size)
            return expected, offset, np.dtype(tif.byteorder + page0.dtype.char), tuple(page0.shape)
        complete = 0
        for i in range(n_pages):
            try:
                page = tif.pages[i]
            except Exception:
                break
            if page is None or _page_data_end(page) > size:
                break
            complete = i + 1
        if (n_pages == 1 and complete == 1 and page0.is_contiguous and page0.dtype is not None
                and len(page0.shape) == 2 and min(page0.shape) > 0):
            # the pages after the first are listed at the end of the file (tifffile and ImageJ write
            # their pixels first): count the whole frames the cut file still holds
            frame_bytes = int(np.prod(page0.shape)) * np.dtype(page0.dtype).itemsize
            complete = max(1, (size - int(page0.dataoffsets[0])) // max(1, frame_bytes))
        raise _damaged(path, complete + 1, expected, size)
    pages = getattr(series, "pages", None) or []
    for i, page in enumerate(pages):
        if page is None:
            if tif.is_ome:
                raise MovieError(f"{path}: the OME metadata describes {len(pages)} planes, the file holds "
                                 f"{n_pages} pages (frame {i + 1} is missing); the file or its metadata is "
                                 "damaged")
            raise _damaged(path, i + 1, len(pages), size)
        if _page_data_end(page) > size:
            raise _damaged(path, i + 1, expected or len(pages), size)
    return None


def _note_metadata_mismatch(tif, series, notices: List[str]) -> None:
    expected = _expected_frames(tif)
    n = _frames_in(series)
    n_pages = len(tif.pages)
    if tif.is_imagej and expected == n and n_pages not in (1, n):   # 1: ImageJ's single-IFD stacks
        notices.append(f"the ImageJ metadata announces {expected} images, the file holds {n_pages} pages; "
                       f"read the {n} the metadata describes (as Fiji does)")
    elif expected and expected != n:
        notices.append(f"the file's metadata announces {expected} images, it holds {n}; read {n}")


def _frames_in(series) -> int:
    shape = tuple(series.shape)
    return int(np.prod(shape[:-2])) if len(shape) > 2 else 1


def _tiff_said(message: str) -> str:
    """A tifffile message without its ``<tifffile.TiffFile 'name'>`` prefix."""
    return one_line(re.sub(r"^<tifffile[^>]*>\s*", "", message), 160)


def _series_notices(series_list) -> List[str]:
    others = [s for s in series_list[1:] if s is not None]
    if not others:
        return []
    first = series_list[0]
    desc = "; ".join(f"{s.axes} {tuple(s.shape)} {s.dtype}" for s in others[:3])
    return [f"the file also holds {len(others)} other image series ({desc}); only the first "
            f"({first.axes} {tuple(first.shape)} {first.dtype}) is read"]


def _read_series(path: Path, series, nbytes: int, memory_limit_bytes: Optional[int]):
    """Decode a compressed (or scattered) series, into a temporary memory-mapped file when it would
    crowd memory; a frame that cannot be decoded is named."""
    out = None
    if nbytes > (memory_limit_bytes or free_memory_bytes() // 2):
        tmp = tempfile.NamedTemporaryFile(prefix="exodeep-", suffix=".raw", delete=False)
        tmp.close()
        out = tmp.name
    try:
        return series.asarray(out=out)
    except MemoryError:
        raise
    except Exception as exc:
        bad = _first_undecodable_page(series)
        where = f"frame {bad + 1} cannot be decoded" if bad is not None else "its pixels cannot be decoded"
        raise MovieError(f"{path}: a damaged TIFF: {where} ({short_error(exc)})") from None
    finally:
        if out is not None:
            remove_when_unused(out)


def _first_undecodable_page(series) -> Optional[int]:
    for i, page in enumerate(getattr(series, "pages", None) or []):
        try:
            if page is not None:
                page.asarray()
        except Exception:
            return i
    return None


def _tyx_plan(axes: str, shape: tuple, channel: int, path: Path, notices: List[str]) -> tuple:
    """How to reduce an array with ``axes`` and ``shape`` to (t, y, x): (index, transpose order).

    One non-spatial axis of at least :data:`MIN_RELABELLED_FRAMES` planes is the time axis,
    whatever the file calls it (ImageJ and tifffile label an axis-less stack "channels"; a Z
    stack is a time series with one time point), with a notice when the file called it something
    else than time; a channel axis is reduced to ``channel``."""
    axes = list(axes)
    if "Y" not in axes or "X" not in axes:
        raise MovieError(f"{path}: not an image of rows and columns (axes {''.join(axes)}, shape {shape})")
    planes = [(ax, n) for ax, n in zip(axes, shape) if ax not in "YXS" and n > 1]
    pick_channel = any(ax == "C" for ax, _ in planes)
    if len(planes) == 1 and planes[0][0] == "C":
        n = planes[0][1]
        if n < MIN_RELABELLED_FRAMES:
            raise MovieError(f"{path}: a single 2D image with {n} channels, not a movie; save the time "
                             "series as a multi-page TIFF")
        if channel != 0:
            raise MovieError(f"{path}: channel {channel} asked, but the file's {n} planes (labelled "
                             "channels) are the time series of one channel")
        notices.append(f"the file labels its {n} planes as channels; read as {n} time points "
                       "(a stack along a single axis is a time series)")
        pick_channel = False
    elif channel != 0 and not pick_channel:
        raise MovieError(f"{path}: channel {channel} asked, the file has a single channel")
    index = []
    for ax, n in zip(axes, shape):
        if ax == "C" and pick_channel:
            if not 0 <= channel < n:
                raise MovieError(f"{path}: channel {channel} asked, the file has {n} (0–{n - 1})")
            index.append(channel)
        elif ax == "S" or (n == 1 and ax not in "YX"):
            index.append(0)
        else:
            index.append(slice(None))
    kept = [ax for ax, i in zip(axes, index) if isinstance(i, slice)]
    kept_shape = [n for n, i in zip(shape, index) if isinstance(i, slice)]
    time = [ax for ax in kept if ax not in "YX"]
    if not time:
        h, w = shape[axes.index("Y")], shape[axes.index("X")]
        raise MovieError(f"{path}: a single 2D image ({h}×{w}), not a movie; save the time series as a "
                         "multi-page TIFF")
    if len(time) > 1:
        sizes = [kept_shape[i] for i, ax in enumerate(kept) if ax not in "YX"]
        named = len(set(time)) == len(time) and not set(time) & set("IQ")
        desc = (", ".join(f"{_AXIS_NAMES.get(a, a)} {n}" for a, n in zip(time, sizes)) if named
                else " × ".join(map(str, sizes)) + " planes")
        raise MovieError(f"{path}: a {len(time) + 2}D stack ({desc}); ExoDeep needs one time "
                         "series of 2D frames (keep one channel or slice in Fiji first)")
    t_ax, n = time[0], kept_shape[kept.index(time[0])]
    if t_ax == "Z":
        notices.append(f"the file labels its {n} planes as slices (Z); read as {n} time points")
    elif t_ax not in "TIQC":
        notices.append(f"the file labels its {n} planes as axis {t_ax!r}; read as {n} time points")
    return tuple(index), [kept.index(t_ax), kept.index("Y"), kept.index("X")]


_AXIS_NAMES = {"T": "time points", "Z": "slices", "C": "channels", "P": "positions", "R": "tiles",
               "E": "lambdas", "H": "phases", "A": "angles", "L": "exposures", "V": "views"}


def _apply_plan(data, plan):
    index, order = plan
    data = data[index]
    return data.transpose(order) if order != [0, 1, 2] else data


def _to_tyx(data, axes: str, channel: int, path: Path, notices: Optional[List[str]] = None):
    """Reduce an array with ``axes`` to (t, y, x), picking ``channel``."""
    return _apply_plan(data, _tyx_plan(axes, tuple(data.shape), channel, path,
                                       notices if notices is not None else []))


def _tiff_calibration(tif, notices: Optional[List[str]] = None) -> tuple:
    """Pixel size (µm) and frame interval (s) from ImageJ or OME metadata; a value that is not a
    positive finite number is ignored (with a notice), never fatal."""
    pixel_size = interval = None
    notices = notices if notices is not None else []
    if tif.is_ome and tif.ome_metadata:
        try:
            root = ET.fromstring(tif.ome_metadata)
            for el in root.iter():
                if el.tag.endswith("Pixels"):
                    unit = el.get("PhysicalSizeXUnit", "µm")
                    pixel_size = _calibration(el.get("PhysicalSizeX"), {"nm": 1e-3, "mm": 1e3}.get(unit, 1.0),
                                              "the pixel size (OME PhysicalSizeX)", notices)
                    unit = el.get("TimeIncrementUnit", "s")
                    interval = _calibration(el.get("TimeIncrement"), {"ms": 1e-3, "min": 60.0}.get(unit, 1.0),
                                            "the frame interval (OME TimeIncrement)", notices)
                    break
        except ET.ParseError:
            notices.append("the OME metadata is not valid XML; no calibration read from it")
    ij = _imagej(tif)
    if interval is None and ij.get("finterval") is not None:
        interval = _calibration(ij.get("finterval"), 1.0, "the frame interval (ImageJ finterval)", notices)
    if pixel_size is None:
        try:
            tag = tif.pages.first.tags.get("XResolution")
            unit = str(ij.get("unit", "")).lower()
            if tag is not None and unit in ("micron", "µm", "um", "\\u00b5m", "microns"):
                num, den = tag.value
                if num > 0:
                    pixel_size = _calibration(den / num, 1.0, "the pixel size (XResolution)", notices)
        except Exception:
            pixel_size = None
    return pixel_size, interval


def _calibration(raw, scale: float, what: str, notices: List[str]) -> Optional[float]:
    """``raw`` × ``scale`` when ``raw`` is a positive finite number, else None (with a notice)."""
    if raw is None or raw == "":
        return None
    try:
        value = float(raw) * scale
    except (TypeError, ValueError):
        value = float("nan")
    if not np.isfinite(value) or value <= 0:
        notices.append(f"{what} is {str(raw)[:30]!r}, not a positive number; ignored")
        return None
    return value
