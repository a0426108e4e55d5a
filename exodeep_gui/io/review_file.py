"""A movie's review, kept beside it: ``<movie>.exodeep-review.json``.

It holds what the user did to a movie (events with id, origin and status; imported
annotations; "fully reviewed"; contrast; kymograph line; the filter and model in use) so that
opening the movie again restores it. It is written atomically (a temporary file renamed over
the old one), so a crash or a kill leaves the previous version or the new one, never half a
file. When the movie's folder is not writable the file goes to the user data folder
(``reviews/``), keyed by the movie's absolute path. A file that cannot be used (corrupt, from
a newer ExoDeep, for a movie of another size) is never overwritten: it is moved aside and
the user is told. Stdlib + numpy.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from exodeep_gui.core.events import EventTable
from exodeep_gui.core.review import REVIEW_COLUMNS, EventFilter, next_free_id
from exodeep_gui.io.atomic import write_text_atomic
from exodeep_gui.paths import user_data_dir

FORMAT = "exodeep-review"
VERSION = 1
SUFFIX = ".exodeep-review.json"


class ReviewFileError(ValueError):
    """A review file cannot be used; the message names it and says what was done with it.
    ``left_in_place``: the file is still where it was (from a newer ExoDeep, or it could not be
    moved aside), so this movie's review must be saved elsewhere, never over it."""

    def __init__(self, message: str, left_in_place: bool = False):
        super().__init__(message)
        self.left_in_place = left_in_place


@dataclass
class SavedReview:
    """What a review file holds (everything but the movie itself)."""

    rows: EventTable
    next_id: int
    model_name: str = ""
    annotations: Optional[EventTable] = None
    annotations_source: str = ""
    levels: Optional[tuple] = None
    line: Optional[np.ndarray] = None
    fully_reviewed: bool = False
    filter: Optional[EventFilter] = None
    condition: str = ""
    cell: Optional[np.ndarray] = None


def _movie_key(source: Path) -> Path:
    return Path(os.path.abspath(source))


def beside_path(source) -> Path:
    """``cell1.tif`` → ``cell1.tif.exodeep-review.json`` in the same folder (the whole file name, so that
    ``cell1.tif`` and ``cell1.nd2`` keep their own reviews); a frame folder → beside it."""
    src = _movie_key(Path(source))
    return src.parent / (src.name + SUFFIX)


def fallback_path(source) -> Path:
    src = _movie_key(Path(source))
    digest = hashlib.sha1(str(src).encode("utf-8")).hexdigest()[:12]
    return user_data_dir() / "reviews" / f"{beside_path(src).name[:-len(SUFFIX)]}-{digest}{SUFFIX}"


def find_review(source) -> Optional[Path]:
    """The review file of the movie at ``source``: beside it or in the user folder (the newer of the
    two when both exist, e.g. a folder that became read-only), or None."""
    found = [p for p in (beside_path(source), fallback_path(source)) if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime_ns) if found else None


def _table_to_json(t: EventTable, with_review: bool) -> dict:
    def clean(a):
        a = np.asarray(a)
        if a.dtype.kind == "f":
            return [None if not np.isfinite(v) else round(float(v), 4) for v in a]
        return a.tolist()

    out = {"x": clean(t.x), "y": clean(t.y), "frame": t.frame.tolist(), "score": clean(t.score),
           "size": clean(t.size)}
    if with_review:
        out.update({k: clean(t.extra[k]) for k in REVIEW_COLUMNS})
    return out


def _table_from_json(d: dict, with_review: bool) -> EventTable:
    def num(key):
        return np.array([np.nan if v is None else v for v in d[key]], float)

    extra = {}
    if with_review:
        extra = {"id": np.asarray(d["id"], np.int64), "origin": np.asarray(d["origin"], "U9"),
                 "status": np.asarray(d["status"], "U9")}
    table = EventTable.from_arrays(num("x"), num("y"), np.asarray(d["frame"], np.int64), num("score"),
                                   num("size"), extra)
    for k, v in table.extra.items():
        if len(v) != len(table):
            raise ValueError(f"column {k} has {len(v)} values, x has {len(table)}")
    return table


def review_json(review: SavedReview, movie_source, movie_shape) -> str:
    f = review.filter
    data = {
        "format": FORMAT, "version": VERSION, "saved": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "movie": {"path": str(movie_source), "shape": list(movie_shape)},
        "model": review.model_name, "fully_reviewed": bool(review.fully_reviewed), "condition": review.condition,
        "filter": None if f is None else {"threshold": f.threshold, "min_size": f.min_size},
        "next_id": int(review.next_id), "events": _table_to_json(review.rows, True),
        "annotations": None if review.annotations is None else _table_to_json(review.annotations, False),
        "annotations_source": review.annotations_source,
        "levels": None if review.levels is None else [float(v) for v in review.levels],
        "line": None if review.line is None else np.asarray(review.line, float).round(3).tolist(),
        "cell": None if review.cell is None else np.asarray(review.cell, float).round(3).tolist(),
    }
    return json.dumps(data, separators=(",", ":"))


def save_review(review: SavedReview, movie_source, movie_shape, path=None) -> Path:
    """Write the review atomically beside the movie, else in the user folder (or at ``path``);
    returns the path. Raises OSError (with the paths tried) when neither can be written."""
    text = review_json(review, movie_source, movie_shape)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return write_text_atomic(path, text, overwrite=True)
    first = beside_path(movie_source)
    try:
        return write_text_atomic(first, text, overwrite=True)
    except OSError as exc:
        second = fallback_path(movie_source)
        try:
            second.parent.mkdir(parents=True, exist_ok=True)
            return write_text_atomic(second, text, overwrite=True)
        except OSError as exc2:
            raise OSError(f"could not save the review of {movie_source}: {first} ({exc}); "
                          f"{second} ({exc2})") from None


def _set_aside(path: Path, why: str) -> ReviewFileError:
    aside = path.with_name(path.name[:-len(SUFFIX)] + f".unusable-{time.strftime('%Y%m%d-%H%M%S')}.json")
    try:
        os.replace(path, aside)
        return ReviewFileError(f"{path}: {why}; the review was not restored (kept as {aside.name})")
    except OSError:
        return ReviewFileError(f"{path}: {why}; the review was not restored (the file is left as it is)",
                               left_in_place=True)


def load_review(movie_source, movie_shape) -> Optional[SavedReview]:
    """The saved review of the movie at ``movie_source`` (None if there is none). A file that
    cannot be used is moved aside and reported by :class:`ReviewFileError`."""
    path = find_review(movie_source)
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not an ExoDeep review file")
        version = int(data.get("version", 0))
        shape = list(dict(data.get("movie") or {}).get("shape") or [])
    except (OSError, ValueError, TypeError) as exc:
        raise _set_aside(path, f"unreadable ({str(exc)[:120]})") from None
    if version > VERSION:
        raise ReviewFileError(f"{path}: written by a newer ExoDeep (format {version}); not restored and not "
                              "changed: update ExoDeep to open this review", left_in_place=True)
    if shape != list(movie_shape):
        raise _set_aside(path, f"made for a movie of shape {shape}, this one is {list(movie_shape)}")
    try:
        rows = _table_from_json(data["events"], True)
        ann = data.get("annotations")
        f = data.get("filter")
        return SavedReview(
            rows=rows, next_id=max(int(data.get("next_id", 1)), next_free_id(rows)),
            model_name=str(data.get("model") or ""),
            annotations=None if ann is None else _table_from_json(ann, False),
            annotations_source=str(data.get("annotations_source") or ""),
            levels=None if data.get("levels") is None else tuple(float(v) for v in data["levels"]),
            line=None if data.get("line") is None else np.asarray(data["line"], float).reshape(-1, 2),
            cell=None if data.get("cell") is None else np.asarray(data["cell"], float).reshape(-1, 2),
            fully_reviewed=bool(data.get("fully_reviewed", False)), condition=str(data.get("condition") or ""),
            filter=None if f is None else EventFilter(float(f["threshold"]), int(f["min_size"])))
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise _set_aside(path, f"damaged ({type(exc).__name__}: {' '.join(str(exc).split())[:120]})") from None


# ---------------------------------------------------------------- an open movie's review
def save_doc(doc, flt: Optional[EventFilter] = None, path=None) -> Path:
    """Save the review of an open movie (a core.state.MovieDoc) beside its file (or at ``path``)."""
    saved = SavedReview(doc.rows, doc.next_id, doc.model_name, doc.annotations, doc.annotations_source,
                        doc.levels, doc.line, doc.fully_reviewed, flt, doc.condition, doc.cell)
    return save_review(saved, doc.movie.source, doc.movie.shape, path)


def open_doc(movie):
    """(MovieDoc with the movie's saved review or a fresh one, saved filter or None)."""
    from exodeep_gui.core.state import MovieDoc

    saved = load_review(movie.source, movie.shape) if movie.source is not None else None
    if saved is None:
        return MovieDoc(movie), None
    doc = MovieDoc(movie, rows=saved.rows, next_id=saved.next_id, model_name=saved.model_name,
                   annotations=saved.annotations, annotations_source=saved.annotations_source,
                   levels=saved.levels, line=saved.line, fully_reviewed=saved.fully_reviewed,
                   condition=saved.condition, cell=saved.cell)
    return doc, saved.filter
