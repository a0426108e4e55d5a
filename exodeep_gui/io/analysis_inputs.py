"""What ``exodeep analyze`` reads besides the movies: each movie's events (a table beside it or
given, else its saved review), its cell mask, and the conditions (a CSV of movie → condition,
pair and, for events-only analyses, the movie's frames, frame interval and pixel size, or the
movies' folders)."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from exodeep_gui.core.events import EventTable
from exodeep_gui.io.movie_io import movie_stem
from exodeep_gui.io.results import AnnotationError, read_events

EVENT_NAMES = ("{stem}_events.csv", "{stem}.csv", "{stem}_events.txt", "{stem}.txt", "{stem}_events.xml",
               "{stem}.xml")


def find_event_table(movie_path, events_arg=None, several: bool = False) -> Optional[Path]:
    """The events table of a movie: ``events_arg`` when it is a file (one movie only), a table
    named after the movie in the folder ``events_arg``, else ``<movie>_events.csv`` beside it."""
    movie_path, stem = Path(movie_path), movie_stem(movie_path)
    if events_arg is not None:
        ev = Path(events_arg)
        if ev.is_file():
            if several:
                raise AnnotationError(f"{ev}: one events table for several movies; give a folder of "
                                      "<movie>_events.csv tables instead")
            return ev
        if not ev.is_dir():
            raise AnnotationError(f"{ev}: no such file or folder")
        for pattern in EVENT_NAMES:
            p = ev / pattern.format(stem=stem)
            if p.is_file() and p.resolve() != movie_path.resolve():
                return p
        return None
    p = movie_path.parent / f"{stem}_events.csv"
    return p if p.is_file() else None


def load_movie_events(movie, movie_path, events_arg=None, several: bool = False) -> Tuple[EventTable, str]:
    """(events, where they came from): the table (see :func:`find_event_table`), else the reviewed
    events of the movie's saved review (``<movie>.exodeep-review.json``, under its saved filter)."""
    table = find_event_table(movie_path, events_arg, several)
    if table is not None:
        return read_event_table(table), str(table)
    if events_arg is None:
        from exodeep_gui.core.review import EventFilter, visible
        from exodeep_gui.io.review_file import find_review, load_review

        saved = load_review(movie_path, movie.shape)
        if saved is not None:
            return visible(saved.rows, saved.filter or EventFilter()), f"{find_review(movie_path)} (reviewed events)"
    where = f"in {events_arg}" if events_arg is not None else "beside it"
    raise AnnotationError(f"{movie_path}: no events table {where} (<name>_events.csv) and no saved review; "
                          "run `exodeep detect` first or give --events")


# ---------------------------------------------------------------- events tables with their other columns
# what a table may carry besides X, Y, Slice; the analysis's own columns of the same name win
SCORE_NAMES, SIZE_NAMES = ("score", "confidence", "probability"), ("size", "clustersize")
_RESERVED = {"", "x", "y", "slice", "frame", "z", "tomoidx", "classlabel", "movie", "condition", "pair",
             "kept", "inmask", "times", "xum", "yum"}


def _key(name: str) -> str:
    return "".join(c for c in name.strip().strip('"').lower() if c.isalnum())


def read_event_table(path) -> EventTable:
    """An events table (see :func:`exodeep_gui.io.results.read_events`: X, Y, Slice 1-based, or the
    reference's x, y, z) with what else it holds: ``score`` (or confidence) and ``size`` where the
    table has them, NaN (unknown) where it has not or a cell is blank, never a made-up 1 or 0; an
    integer ``id`` column; and every other named column carried as text (``origin``, ``status``…)
    into ``events.extra``."""
    path = Path(path)
    events = read_events(path)
    n = len(events)
    events.score, events.size = np.full(n, np.nan), np.full(n, np.nan)
    if path.suffix.lower() == ".xml" or not n:
        return events
    header, rows = _table_rows(path)
    if len(rows) != n:               # not the rows read_events read: keep X, Y, Slice only
        return events
    for j, name in enumerate(header):
        key = _key(name)
        if key in _RESERVED or key.startswith("unnamed"):
            continue
        cells = [r[j].strip().strip('"') if j < len(r) else "" for r in rows]
        if not any(cells):
            continue
        numbers = _numbers(cells)
        if key in SCORE_NAMES and numbers is not None and np.isnan(events.score).all():
            events.score = numbers
        elif key in SIZE_NAMES and numbers is not None and np.isnan(events.size).all():
            events.size = numbers
        elif key == "id" and numbers is not None and np.isfinite(numbers).all() and \
                (numbers == np.rint(numbers)).all() and len(set(numbers.tolist())) == n:
            events.extra["id"] = numbers.astype(np.int64)
        elif name.strip() and key != "id":
            events.extra[name.strip()] = numbers if numbers is not None else np.array(cells, dtype=object)
    return events


def _numbers(cells: Sequence[str]) -> Optional[np.ndarray]:
    """The cells as floats (blank: NaN), or None when one is not a number."""
    out = np.full(len(cells), np.nan)
    for i, c in enumerate(cells):
        if not c:
            continue
        try:
            out[i] = float(c.replace(",", ".") if c.count(",") == 1 and "." not in c else c)
        except ValueError:
            return None
    return out


def _table_rows(path: Path):
    """(header, data rows) of a delimited table, by the same rules as read_events (blank lines and
    ``#`` comments skipped)."""
    from exodeep_gui.io.results import _decode_table

    lines = [ln for ln in _decode_table(path).splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return [], []
    delim = max(("\t", ",", ";"), key=lambda d: (lines[0].count(d), d == "\t"))
    rows = list(csv.reader(lines, delimiter=delim))
    return rows[0], rows[1:]


# ---------------------------------------------------------------- the conditions table
@dataclass(frozen=True)
class ConditionRow:
    """One movie's line of the conditions table."""

    condition: str
    pair: str = ""
    frames: Optional[int] = None                 # movie length, for events-only analyses
    frame_interval_s: Optional[float] = None
    pixel_size_um: Optional[float] = None
    line: int = 0

    def __iter__(self):                          # (condition, pair), as read_conditions gave
        return iter((self.condition, self.pair))

    def __getitem__(self, i):
        return (self.condition, self.pair)[i]

    def __len__(self) -> int:
        return 2

    def __eq__(self, other) -> bool:
        if isinstance(other, tuple):
            return (self.condition, self.pair) == other
        return isinstance(other, ConditionRow) and (self.condition, self.pair, self.frames, self.frame_interval_s,
                                                    self.pixel_size_um) == (other.condition, other.pair, other.frames,
                                                                            other.frame_interval_s, other.pixel_size_um)

    __hash__ = None


TIMING_COLUMNS = {"frames": ("frames", "nframes", "nframe", "numberofframes"),
                  "frame_interval_s": ("frameintervals", "frameinterval", "intervals", "dts"),
                  "pixel_size_um": ("pixelsizeum", "pixelsize", "pixelum")}


def read_conditions(path) -> Dict[str, ConditionRow]:
    """A CSV (or tab-separated) table with columns ``movie`` and ``condition`` and optionally
    ``pair`` (the same cell before/after, for paired comparisons) and, for analyses without the
    movies, ``frames``, ``frame_interval_s`` and ``pixel_size_um``: movie name (file name, with or
    without extension, or path) → its :class:`ConditionRow` (which unpacks as (condition, pair))."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise AnnotationError(f"{path}: cannot read the conditions table ({exc})") from None
    numbered = [(k, ln) for k, ln in enumerate(text.splitlines(), start=1) if ln.strip()]
    if not numbered:
        raise AnnotationError(f"{path}: the conditions table is empty")
    first = numbered[0][1]
    delim = "\t" if "\t" in first else ("," if "," in first else ";")
    rows = list(csv.reader([ln for _, ln in numbered], delimiter=delim))
    header = [h.strip().lower() for h in rows[0]]
    if "movie" not in header or "condition" not in header:
        raise AnnotationError(f"{path}: needs columns movie and condition (and optionally pair); found {rows[0]}")
    im, ic = header.index("movie"), header.index("condition")
    ip = header.index("pair") if "pair" in header else (header.index("cell") if "cell" in header else None)
    keys = [_key(h) for h in header]
    timing = {f: next((keys.index(a) for a in names if a in keys), None) for f, names in TIMING_COLUMNS.items()}
    out: Dict[str, ConditionRow] = {}
    for (line, _), r in zip(numbered[1:], rows[1:]):
        if len(r) <= max(im, ic):
            raise AnnotationError(f"{path}: line {line} is incomplete")
        name = Path(r[im].strip()).name
        pair = r[ip].strip() if ip is not None and ip < len(r) else ""
        values = {f: _positive(path, line, f, r[i] if i is not None and i < len(r) else "")
                  for f, i in timing.items()}
        frames = values["frames"]
        if frames is not None and frames != int(frames):
            raise AnnotationError(f"{path}: line {line}: frames is {frames:g}, not a whole number")
        out[name] = ConditionRow(r[ic].strip(), pair, int(frames) if frames is not None else None,
                                 values["frame_interval_s"], values["pixel_size_um"], line)
    return out


def _positive(path, line: int, name: str, cell: str) -> Optional[float]:
    cell = cell.strip()
    if not cell or cell.lower() in ("na", "nan", "none"):
        return None
    try:
        v = float(cell.replace(",", ".") if "." not in cell else cell)
    except ValueError:
        raise AnnotationError(f"{path}: line {line}: {name} is {cell!r}, not a number") from None
    if not math.isfinite(v) or v <= 0:
        raise AnnotationError(f"{path}: line {line}: {name} is {cell}, it must be above 0")
    return v


def table_key(name) -> str:
    """How a movie is named in the conditions table, whatever was written: ``cell1``,
    ``cell1.tif``, ``cell1_events.csv`` or a path → ``cell1``."""
    stem = movie_stem(Path(str(name)).name) if Path(str(name)).suffix else Path(str(name)).name
    for suffix in ("_events", "_mask"):
        if stem.endswith(suffix):
            stem = stem[:-len(suffix)]
    return stem


def condition_of(movie_path, table: Optional[Dict[str, ConditionRow]]):
    """(condition, pair) of a movie from a conditions table (by file name, then stem; a
    :class:`ConditionRow`); by folder (the movie's folder name, no pair) when there is no table;
    None when the table lacks it."""
    movie_path = Path(movie_path)
    if table is None:
        return movie_path.parent.name or "all", ""
    for key in (movie_path.name, movie_stem(movie_path)):
        if key in table:
            return table[key]
    wanted = table_key(movie_path)
    for key, row in table.items():
        if table_key(key) == wanted:
            return row
    return None


def missing_conditions(paths: Sequence[Path], table) -> list:
    return [Path(p).name for p in paths if condition_of(p, table) is None]


# ---------------------------------------------------------------- events-only: tables and their masks
EVENT_TABLE_SUFFIXES = ("_events.csv", "_events.txt", "_events.xml")


def find_event_tables(folder) -> List[Tuple[str, Path]]:
    """(movie name, table) of every ``<movie>_events.csv`` (or .txt, .xml) in ``folder``, sorted by
    name; AnnotationError for a missing folder or one without such tables."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AnnotationError(f"{folder}: no such folder (give the folder of <movie>_events.csv tables)")
    found: Dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        low = p.name.lower()
        suffix = next((s for s in EVENT_TABLE_SUFFIXES if low.endswith(s)), None)
        if suffix and p.is_file() and not p.name.startswith("."):
            found.setdefault(p.name[:-len(suffix)], p)
    if not found:
        raise AnnotationError(f"{folder}: no <movie>_events.csv tables")
    return sorted(found.items())


def mask_beside(name: str, table: Path, mask_folder=None) -> Optional[Path]:
    """``<name>_mask.tif`` (or .tiff) in ``mask_folder``, else beside the table; None if absent."""
    folder = Path(mask_folder) if mask_folder is not None else Path(table).parent
    for suffix in (".tif", ".tiff"):
        p = folder / f"{name}_mask{suffix}"
        if p.is_file():
            return p
    return None
