"""What ``exodeep analyze`` reads besides the movies: each movie's events (a table beside it or
given, else its saved review), its cell mask, and the conditions (a CSV of movie → condition,
or the movies' folders)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

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
        return read_events(table), str(table)
    if events_arg is None:
        from exodeep_gui.core.review import EventFilter, visible
        from exodeep_gui.io.review_file import find_review, load_review

        saved = load_review(movie_path, movie.shape)
        if saved is not None:
            return visible(saved.rows, saved.filter or EventFilter()), f"{find_review(movie_path)} (reviewed events)"
    where = f"in {events_arg}" if events_arg is not None else "beside it"
    raise AnnotationError(f"{movie_path}: no events table {where} (<name>_events.csv) and no saved review; "
                          "run `exodeep detect` first or give --events")


def read_conditions(path) -> Dict[str, Tuple[str, str]]:
    """A CSV (or tab-separated) table with columns ``movie`` and ``condition`` and optionally
    ``pair`` (the same cell before/after, for paired comparisons): movie name (file name, with or
    without extension, or path) → (condition, pair)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise AnnotationError(f"{path}: cannot read the conditions table ({exc})") from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise AnnotationError(f"{path}: the conditions table is empty")
    delim = "\t" if "\t" in lines[0] else ("," if "," in lines[0] else ";")
    rows = list(csv.reader(lines, delimiter=delim))
    header = [h.strip().lower() for h in rows[0]]
    if "movie" not in header or "condition" not in header:
        raise AnnotationError(f"{path}: needs columns movie and condition (and optionally pair); found {rows[0]}")
    im, ic = header.index("movie"), header.index("condition")
    ip = header.index("pair") if "pair" in header else (header.index("cell") if "cell" in header else None)
    out: Dict[str, Tuple[str, str]] = {}
    for k, r in enumerate(rows[1:], start=2):
        if len(r) <= max(im, ic):
            raise AnnotationError(f"{path}: line {k} is incomplete")
        name = Path(r[im].strip()).name
        pair = r[ip].strip() if ip is not None and ip < len(r) else ""
        out[name] = (r[ic].strip(), pair)
    return out


def condition_of(movie_path, table: Optional[Dict[str, Tuple[str, str]]]) -> Optional[Tuple[str, str]]:
    """(condition, pair) of a movie from a conditions table (by file name, then stem); by folder
    (the movie's folder name, no pair) when there is no table; None when the table lacks it."""
    movie_path = Path(movie_path)
    if table is None:
        return movie_path.parent.name or "all", ""
    for key in (movie_path.name, movie_stem(movie_path)):
        if key in table:
            return table[key]
    return None


def missing_conditions(paths: Sequence[Path], table) -> list:
    return [Path(p).name for p in paths if condition_of(p, table) is None]
