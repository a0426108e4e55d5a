"""Event tables in and out: ImageJ/Fiji Results CSV, Fiji RoiSet.zip and the reference's
XML object list. ImageJ's Slice is 1-based; our frames (and the reference's z) are 0-based."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Optional

import numpy as np

from exodeep_gui.core.events import EventTable
from exodeep_gui.io.atomic import OutputExists, atomic_path, check_writable_folder, write_text_atomic

RESULT_FORMATS = ("csv", "roi", "xml")


class AnnotationError(ValueError):
    """An annotation/results file cannot be read; the message names the file."""


# ---------------------------------------------------------------- ImageJ Results CSV
def results_csv_text(events: EventTable, pixel_size_um: Optional[float] = None,
                     frame_interval_s: Optional[float] = None) -> str:
    """Fiji 'File > Import > Results' layout: blank first header cell and row numbers,
    X, Y (pixels), Slice (1-based), then score, size, time_s, x_um, y_um."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    header = [" ", "X", "Y", "Slice", "score", "size"]
    if frame_interval_s:
        header.append("time_s")
    if pixel_size_um:
        header += ["x_um", "y_um"]
    w.writerow(header)
    for i in range(len(events)):
        row = [i + 1, f"{events.x[i]:.3f}", f"{events.y[i]:.3f}", int(events.frame[i]) + 1,
               f"{events.score[i]:.4f}", int(events.size[i])]
        if frame_interval_s:
            row.append(f"{events.frame[i] * frame_interval_s:.3f}")
        if pixel_size_um:
            row += [f"{events.x[i] * pixel_size_um:.4f}", f"{events.y[i] * pixel_size_um:.4f}"]
        w.writerow(row)
    return out.getvalue()


def write_results_csv(path, events: EventTable, pixel_size_um=None, frame_interval_s=None,
                      overwrite: bool = False) -> Path:
    return write_text_atomic(path, results_csv_text(events, pixel_size_um, frame_interval_s), overwrite)


_X = ("x",)
_Y = ("y",)
_SLICE = ("slice", "frame")


def read_events(path) -> EventTable:
    """Read an ImageJ Results table (CSV or tab-separated .txt: X, Y, Slice 1-based),
    the reference's CSV (tomo_idx, class_label, x, y, z 0-based) or its XML object list."""
    path = Path(path)
    if not path.exists():
        raise AnnotationError(f"{path}: no such file")
    if path.suffix.lower() == ".xml":
        return read_objlist_xml(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise AnnotationError(f"{path}: not a text table") from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise AnnotationError(f"{path}: the file is empty")
    delim = "\t" if "\t" in lines[0] else ("," if "," in lines[0] else ";")
    rows = list(csv.reader(lines, delimiter=delim))
    header = [h.strip().lower() for h in rows[0]]
    body = rows[1:]

    def col(names):
        for n in names:
            if n in header:
                return header.index(n)
        return None

    ix, iy = col(_X), col(_Y)
    if "z" in header and col(_SLICE) is None and "class_label" in header:
        iz, one_based = header.index("z"), False          # the reference's CSV
    else:
        iz, one_based = col(_SLICE), True
    if ix is None or iy is None or iz is None:
        raise AnnotationError(f"{path}: needs columns X, Y and Slice (ImageJ, Slice 1-based) or "
                              f"x, y, z (ExoDeepFinder); found {rows[0]}")
    try:
        vals = np.array([[float(r[ix]), float(r[iy]), float(r[iz])] for r in body], float).reshape(-1, 3)
    except (ValueError, IndexError) as exc:
        raise AnnotationError(f"{path}: a row is not numeric or is incomplete ({exc})") from None
    frame = vals[:, 2] - (1 if one_based else 0)
    if one_based and len(frame) and frame.min() < 0:
        raise AnnotationError(f"{path}: Slice values start at 1; found {int(vals[:, 2].min())}")
    return EventTable.from_arrays(vals[:, 0], vals[:, 1], frame)


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
                                       "z": f"{float(t):.3f}", "cluster_size": str(int(events.size[i]))})
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def write_objlist_xml(path, events: EventTable, overwrite: bool = False) -> Path:
    return write_text_atomic(path, objlist_xml_text(events), overwrite)


def read_objlist_xml(path) -> EventTable:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise AnnotationError(f"{path}: not a valid XML object list ({exc})") from None
    objs = [o for o in root.iter("object")]
    try:
        x = [float(o.get("x")) for o in objs]
        y = [float(o.get("y")) for o in objs]
        z = [float(o.get("z")) for o in objs]
    except (TypeError, ValueError):
        raise AnnotationError(f"{path}: every <object> needs numeric x, y and z") from None
    size = [float(o.get("cluster_size", 0)) for o in objs]
    return EventTable.from_arrays(x, y, z, size=size, extra={"t": np.asarray(z, float)})


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
        existing = [p for p in paths.values() if p.exists()]
        if existing:
            raise OutputExists(f"{existing[0]}: already exists (not overwritten; remove it or ask to overwrite)")
    writers = {"csv": lambda p: write_results_csv(p, events, pixel_size_um, frame_interval_s, overwrite),
               "roi": lambda p: write_roiset(p, events, overwrite),
               "xml": lambda p: write_objlist_xml(p, events, overwrite)}
    return [writers[k](p) for k, p in paths.items()]
