"""Event tables in and out: ImageJ/Fiji Results CSV, Fiji RoiSet.zip and the reference's
XML object list. ImageJ's Slice is 1-based; our frames (and the reference's z) are 0-based."""

from __future__ import annotations

import codecs
import csv
import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Optional

import numpy as np

from exodeep_gui.core.events import EventTable
from exodeep_gui.io.atomic import (OutputError, atomic_path, check_writable_folder, refuse_existing,
                                   write_text_atomic)

RESULT_FORMATS = ("csv", "roi", "xml")


class AnnotationError(ValueError):
    """An annotation/results file cannot be read; the message names the file."""


# ---------------------------------------------------------------- ImageJ Results CSV
IDENTITY = ("id", "origin", "status")      # a reviewed event's identity (core.review), carried by every table
OPTIONAL_NUMBERS = ("confidence",)          # per-event numbers written when the table has them


def _cell(v, fmt: str) -> str:
    """A number as a cell; blank when unknown (NaN), never a made-up 0 or 1."""
    v = float(v)
    return "" if not np.isfinite(v) else format(v, fmt)


def results_csv_text(events: EventTable, pixel_size_um: Optional[float] = None,
                     frame_interval_s: Optional[float] = None) -> str:
    """Fiji 'File > Import > Results' layout: blank first header cell and row numbers,
    X, Y (pixels), Slice (1-based), then the event's identity in the review (id, origin, status)
    when it has one, score, size (blank when unknown), confidence, time_s, x_um, y_um. ImageJ
    ignores the columns it does not know."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    identity = [k for k in IDENTITY if k in events.extra]
    numbers = [k for k in OPTIONAL_NUMBERS if k in events.extra]
    header = [" ", "X", "Y", "Slice", *identity, "score", "size", *numbers]
    if frame_interval_s:
        header.append("time_s")
    if pixel_size_um:
        header += ["x_um", "y_um"]
    w.writerow(header)
    for i in range(len(events)):
        row = [i + 1, f"{events.x[i]:.3f}", f"{events.y[i]:.3f}", int(events.frame[i]) + 1,
               *(str(events.extra[k][i]) for k in identity), _cell(events.score[i], ".4f"),
               _cell(events.size[i], ".0f"), *(_cell(events.extra[k][i], ".4f") for k in numbers)]
        if frame_interval_s:
            row.append(f"{events.frame[i] * frame_interval_s:.3f}")
        if pixel_size_um:
            row += [f"{events.x[i] * pixel_size_um:.4f}", f"{events.y[i] * pixel_size_um:.4f}"]
        w.writerow(row)
    return out.getvalue()


def write_results_csv(path, events: EventTable, pixel_size_um=None, frame_interval_s=None,
                      overwrite: bool = False) -> Path:
    return write_text_atomic(path, results_csv_text(events, pixel_size_um, frame_interval_s), overwrite)


# column names, compared without case, spaces, punctuation and a trailing unit ("X (px)", "x [pixel]")
_X = ("x", "xpx", "xpixel", "xpixels", "xpos")
_Y = ("y", "ypx", "ypixel", "ypixels", "ypos")
_SLICE = ("slice", "frame")
MAX_TABLE_BYTES = 256 << 20


def _decode_table(path: Path) -> str:
    """The text of a table: UTF-8 (with or without BOM), UTF-16 with a BOM or without one (as ExoJ
    and Excel's "Unicode text" write it), else Windows-1252 / Latin-1 (ImageJ on Windows)."""
    try:
        size = path.stat().st_size
        if size > MAX_TABLE_BYTES:
            raise AnnotationError(f"{path}: {size / 1e6:.0f} MB, too large for an events table")
        raw = path.read_bytes()
    except IsADirectoryError:
        raise AnnotationError(f"{path}: a folder, not a table") from None
    except OSError as exc:
        raise AnnotationError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    encodings = ["utf-8-sig", "cp1252", "latin-1"]
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ["utf-16"]
    elif len(raw) >= 4 and raw.count(b"\0") > len(raw) // 4:         # UTF-16 without a BOM
        zeros_odd = raw[1::2].count(0) > raw[0::2].count(0)
        encodings = ["utf-16-le" if zeros_odd else "utf-16-be"]
    for enc in encodings:
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise AnnotationError(f"{path}: not a text table (unreadable as UTF-8 or UTF-16)")
    controls = sum(1 for c in text[:4096] if ord(c) < 32 and c not in "\t\r\n")
    if "\0" in text or controls > 8:
        raise AnnotationError(f"{path}: not a text table (binary content)")
    return text


def _column_key(name: str) -> str:
    name = name.strip().strip('"\'').strip().lower()
    name = re.sub(r"\s*[\(\[].*?[\)\]]\s*$", "", name)           # a unit: "X (px)", "x [pixel]"
    return re.sub(r"[^a-z0-9]", "", name)


def _shown(cells, limit: int = 8) -> str:
    """Header cells as a short one-line list for a message."""
    shown = [" ".join(str(c).split())[:24] for c in cells[:limit]]
    return "[" + ", ".join(repr(c) for c in shown) + (", …" if len(cells) > limit else "") + "]"


def _number(cell: str, decimal_comma: bool) -> float:
    cell = cell.strip().strip('"').strip()
    try:
        return float(cell)
    except ValueError:
        if decimal_comma and cell.count(",") == 1:
            return float(cell.replace(",", "."))
        raise


def read_events(path) -> EventTable:
    """Read an ImageJ Results table (CSV or tab-separated .txt/.xls: X, Y, Slice 1-based),
    the reference's CSV (tomo_idx, class_label, x, y, z 0-based) or its XML object list.

    Tolerated: a BOM, UTF-16 (ExoJ, Excel), Windows or old Mac line ends, semicolons with decimal
    commas (European Excel), quoted cells, units after the column names, blank lines and ``#``
    comments. Refused, with the file and the line named: a missing column, a cell that is not a
    finite number, a Slice below 1. Whether the rows lie inside the movie is checked against the
    movie (:func:`exodeep_gui.core.events.check_events_in_movie`)."""
    path = Path(path)
    if not path.exists():
        raise AnnotationError(f"{path}: no such file")
    if path.suffix.lower() == ".xml":
        return read_objlist_xml(path)
    text = _decode_table(path)
    lines = [(i + 1, ln) for i, ln in enumerate(text.splitlines())
             if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise AnnotationError(f"{path}: the file is empty")
    head = lines[0][1]
    delim = max(("\t", ",", ";"), key=lambda d: (head.count(d), d == "\t"))
    if head.count(delim) == 0:
        raise AnnotationError(f"{path}: not a table of columns (its first line has no tab, comma or "
                              f"semicolon: {_shown([head])})")
    try:
        rows = list(csv.reader([ln for _, ln in lines], delimiter=delim))
    except csv.Error as exc:
        raise AnnotationError(f"{path}: not a readable table ({exc})") from None
    header = [_column_key(h) for h in rows[0]]
    body = list(zip([n for n, _ in lines[1:]], rows[1:]))

    def col(names):
        for n in names:
            if n in header:
                return header.index(n)
        return None

    ix, iy = col(_X), col(_Y)
    if "z" in header and col(_SLICE) is None and "classlabel" in header:
        iz, zname, one_based = header.index("z"), "z", False          # the reference's CSV
    else:
        iz, zname, one_based = _frame_column(header, body), "Slice", True
        if iz is not None:
            zname = rows[0][iz].strip().strip('"') or "Slice"
    if ix is None or iy is None or iz is None:
        raise AnnotationError(f"{path}: needs columns X, Y and Slice (ImageJ, Slice 1-based) or "
                              f"x, y, z (ExoDeepFinder); found {_shown(rows[0])}")
    decimal_comma = delim != ","
    vals = np.empty((len(body), 3))
    for k, (line_no, row) in enumerate(body):
        for j, (i, name) in enumerate(((ix, "X"), (iy, "Y"), (iz, zname))):
            if i >= len(row) or not row[i].strip():
                raise AnnotationError(f"{path}: line {line_no} has no {name} value")
            try:
                v = _number(row[i], decimal_comma)
            except ValueError:
                raise AnnotationError(f"{path}: line {line_no}: {name} is {_shown([row[i]])[1:-1]}, not a "
                                      "number") from None
            if not np.isfinite(v):
                raise AnnotationError(f"{path}: line {line_no}: {name} is {row[i].strip()}, not a finite number")
            vals[k, j] = v
    frame = vals[:, 2] - (1 if one_based else 0)
    if len(frame) and np.rint(frame).min() < 0:
        k = int(np.argmin(frame))
        first = "Slice values start at 1" if one_based else "z (0-based frame) cannot be negative"
        raise AnnotationError(f"{path}: {first}; line {body[k][0]} has {vals[k, 2]:g}")
    score, size, extra = _optional_columns(path, header, body, decimal_comma)
    return EventTable.from_arrays(vals[:, 0], vals[:, 1], frame, score, size, extra)


def _optional_columns(path: Path, header: list, body: list, decimal_comma: bool) -> tuple:
    """score and size (blank or absent: unknown, NaN), confidence, and the review identity (id,
    origin, status) when the table has them (our own exports), else (NaN, NaN, {})."""
    def numbers(name):
        i = header.index(name)
        out = np.full(len(body), np.nan)
        for k, (line_no, row) in enumerate(body):
            cell = row[i].strip() if i < len(row) else ""
            if cell:
                try:
                    out[k] = _number(cell, decimal_comma)
                except ValueError:
                    raise AnnotationError(f"{path}: line {line_no}: {name} is {_shown([cell])[1:-1]}, not a "
                                          "number") from None
        return out

    n = len(body)
    score = numbers("score") if "score" in header else np.full(n, np.nan)
    size = numbers("size") if "size" in header else np.full(n, np.nan)
    extra = {k: numbers(k) for k in OPTIONAL_NUMBERS if k in header}
    if all(k in header for k in IDENTITY):
        ids = numbers("id")
        if np.isfinite(ids).all():
            extra["id"] = ids.astype(np.int64)
            for k in ("origin", "status"):
                i = header.index(k)
                extra[k] = np.array([(row[i].strip() if i < len(row) else "") for _, row in body], "U9")
    return score, size, extra


def _frame_column(header, body) -> Optional[int]:
    """The column of the 1-based frame: Slice, else Frame; of an ImageJ hyperstack's Slice and
    Frame columns (z and t), the one that varies when the other is all ones."""
    cols = [header.index(n) for n in _SLICE if n in header]
    if len(cols) < 2:
        return cols[0] if cols else None
    def constant_one(i):
        vals = {r[i].strip() for _, r in body if i < len(r)}
        return vals <= {"1", "1.0"}
    s, f = cols
    return f if constant_one(s) and not constant_one(f) else s


def pair_event_tables(truth: Path, pred: Path) -> list:
    """(annotations, predictions) pairs: two files, or two folders matched by name (``NAME.csv`` with
    ``NAME_events.csv``, ``NAME.csv`` or ``NAME_events.xml``)."""
    truth, pred = Path(truth), Path(pred)
    if truth.is_file() and pred.is_file():
        return [(truth, pred)]
    if not (truth.is_dir() and pred.is_dir()):
        raise AnnotationError(f"{truth}, {pred}: give two files or two folders")
    pairs = []
    for t in sorted(truth.glob("*.csv")) + sorted(truth.glob("*.txt")) + sorted(truth.glob("*.xml")):
        for cand in (f"{t.stem}_events.csv", f"{t.stem}.csv", f"{t.stem}_events.xml"):
            if (pred / cand).is_file() and (pred / cand) != t:
                pairs.append((t, pred / cand))
                break
    if not pairs:
        raise AnnotationError(f"{pred}: no predictions match the annotations in {truth} by name")
    return pairs


# ---------------------------------------------------------------- reference XML
def objlist_xml_text(events: EventTable) -> str:
    root = ET.Element("objlist")
    for i in range(len(events)):
        t = events.extra.get("t", events.frame)[i]
        ET.SubElement(root, "object", {"tomo_idx": "0", "class_label": "1",
                                       "x": f"{events.x[i]:.3f}", "y": f"{events.y[i]:.3f}",
                                       "z": f"{float(t):.3f}", "cluster_size": _cell(events.size[i], ".0f")})
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def write_objlist_xml(path, events: EventTable, overwrite: bool = False) -> Path:
    return write_text_atomic(path, objlist_xml_text(events), overwrite)


def read_objlist_xml(path) -> EventTable:
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise AnnotationError(f"{path}: not a valid XML object list ({exc})") from None
    except OSError as exc:
        raise AnnotationError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    objs = [o for o in root.iter("object")]
    vals = np.empty((len(objs), 4))
    for k, o in enumerate(objs):
        for j, key in enumerate(("x", "y", "z", "cluster_size")):
            raw = o.get(key, "0" if key == "cluster_size" else None)
            try:
                v = float(raw)
            except (TypeError, ValueError):
                raise AnnotationError(f"{path}: object {k + 1}: {key} is {raw!r:.40}, not a number "
                                      "(every <object> needs numeric x, y and z)") from None
            if not np.isfinite(v):
                raise AnnotationError(f"{path}: object {k + 1}: {key} is {raw}, not a finite number")
            vals[k, j] = v
    if len(objs) and np.rint(vals[:, 2]).min() < 0:
        k = int(np.argmin(vals[:, 2]))
        raise AnnotationError(f"{path}: object {k + 1}: z (0-based frame) is {vals[k, 2]:g}, below 0")
    return EventTable.from_arrays(vals[:, 0], vals[:, 1], vals[:, 2], size=vals[:, 3],
                                  extra={"t": vals[:, 2].copy()})


# ---------------------------------------------------------------- Fiji ROI set
def write_roiset(path, events: EventTable, overwrite: bool = False) -> Path:
    """A RoiSet.zip of point ROIs, each at its frame (1-based position), for Fiji's ROI Manager."""
    import roifile

    rois = []
    for i in range(len(events)):
        s = int(events.frame[i]) + 1
        roi = roifile.ImagejRoi.frompoints([[events.x[i], events.y[i]]],
                                           name=f"{s:04d}-{int(round(events.y[i])):04d}-{int(round(events.x[i])):04d}-{i + 1}")
        roi.roitype = roifile.ROI_TYPE.POINT
        roi.position = s
        roi.t_position = s
        rois.append(roi)
    with atomic_path(path, overwrite, suffix=".part.zip") as tmp:
        tmp.unlink()
        if rois:
            roifile.roiwrite(tmp, rois)
        else:
            import zipfile
            zipfile.ZipFile(tmp, "w").close()
    return Path(path)


# ---------------------------------------------------------------- one movie's result files
def result_paths(folder, stem: str, formats=RESULT_FORMATS) -> dict:
    """``<stem>_events.csv`` (ImageJ Results), ``<stem>_RoiSet.zip`` (Fiji), ``<stem>_events.xml``."""
    folder = Path(folder)
    names = {"csv": f"{stem}_events.csv", "roi": f"{stem}_RoiSet.zip", "xml": f"{stem}_events.xml"}
    return {k: folder / names[k] for k in RESULT_FORMATS if k in formats}


def write_results(folder, stem: str, events: EventTable, pixel_size_um=None, frame_interval_s=None,
                  formats=RESULT_FORMATS, overwrite: bool = False) -> list:
    """Write a movie's events in ``formats`` into ``folder``; checks every target before writing
    any, so a refused overwrite leaves nothing half-done. Returns the paths written."""
    paths = result_paths(folder, stem, formats)
    check_writable_folder(Path(folder))
    if not overwrite:
        for p in paths.values():
            refuse_existing(p)
    writers = {"csv": lambda p: write_results_csv(p, events, pixel_size_um, frame_interval_s, overwrite),
               "roi": lambda p: write_roiset(p, events, overwrite),
               "xml": lambda p: write_objlist_xml(p, events, overwrite)}
    written = []
    for k, p in paths.items():
        try:
            written.append(writers[k](p))
        except OutputError:
            raise
        except OSError as exc:             # a full disk: the write fails without naming the file
            done = f"; written before it: {', '.join(w.name for w in written)}" if written else ""
            raise OutputError(f"{p}: could not be written ({(exc.strerror or str(exc)).lower()}); the file that "
                              f"was there is unchanged{done}") from None
    return written
