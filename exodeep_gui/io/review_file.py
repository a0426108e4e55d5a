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
from pathlib import Path
from typing import Optional

import numpy as np

from exodeep_gui.core.events import EventTable
from exodeep_gui.core.review import (DEFAULT_FILTER, DETECTION_COLUMNS, REVIEW_COLUMNS, EventFilter, empty_rows, freeze,
                                     next_free_id)
from exodeep_gui.io.atomic import write_text_atomic
from exodeep_gui.paths import user_data_dir
from exodeep_gui.session.record import SAVED_FIELDS, MovieDoc, SavedReview, doc_from_saved, saved_values

FORMAT = "exodeep-review"
VERSION = 2     # 2: statuses "seen"/"filtered" (a fully reviewed movie's frozen set), detection columns
SUFFIX = ".exodeep-review.json"


class ReviewFileError(ValueError):
    """A review file cannot be used; the message names it and says what was done with it.
    ``left_in_place``: the file is still where it was (from a newer ExoDeep, or it could not be
    moved aside), so this movie's review must be saved elsewhere, never over it."""

    def __init__(self, message: str, left_in_place: bool = False):
        super().__init__(message)
        self.left_in_place = left_in_place


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
        out.update({k: clean(np.asarray(t.extra[k], float)) for k in DETECTION_COLUMNS if k in t.extra})
    return out


def _table_from_json(d: dict, with_review: bool) -> EventTable:
    def num(key):
        return np.array([np.nan if v is None else v for v in d[key]], float)

    extra = {}
    if with_review:
        extra = {"id": np.asarray(d["id"], np.int64), "origin": np.asarray(d["origin"], "U9"),
                 "status": np.asarray(d["status"], "U9")}
        extra.update({k: num(k) for k in DETECTION_COLUMNS if k in d})
    table = EventTable.from_arrays(num("x"), num("y"), np.asarray(d["frame"], np.int64), num("score"),
                                   num("size"), extra)
    for k, v in table.extra.items():
        if len(v) != len(table):
            raise ValueError(f"column {k} has {len(v)} values, x has {len(table)}")
    return table


def _points(v):
    return None if v is None else np.asarray(v, float).reshape(-1, 2)


# how each kind of saved field (session.record's ``saved(codec)``) is written and read back
CODECS = {
    "review_rows": (lambda t: _table_to_json(t, True), lambda d: _table_from_json(d, True)),
    "table": (lambda t: None if t is None else _table_to_json(t, False),
              lambda d: None if d is None else _table_from_json(d, False)),
    "int": (int, int),
    "str": (str, lambda v: str(v or "")),
    "bool": (bool, bool),
    "pair": (lambda v: None if v is None else [float(x) for x in v],
             lambda v: None if v is None else tuple(float(x) for x in v)),
    "points": (lambda v: None if v is None else np.asarray(v, float).round(3).tolist(), _points),
    "filter": (lambda f: None if f is None else {"threshold": f.threshold, "min_size": f.min_size,
                                                 "min_confidence": f.min_confidence},
               lambda d: None if d is None else EventFilter(float(d["threshold"]), int(d["min_size"]),
                                                            float(d.get("min_confidence", 0.0)))),
}


def review_json(review, movie_source, movie_shape) -> str:
    """The review file's text for ``review`` (a MovieDoc or a SavedReview): its saved fields, as
    session.record declares them."""
    data = {"format": FORMAT, "version": VERSION, "saved": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "movie": {"path": str(movie_source), "shape": list(movie_shape)}}
    for f in SAVED_FIELDS:
        data[f.metadata["key"] or f.name] = CODECS[f.metadata["saved"]][0](getattr(review, f.name))
    return json.dumps(data, separators=(",", ":"))


def _read_fields(data: dict) -> dict:
    """The saved fields in a review file's ``data`` (missing keys keep their defaults)."""
    values = {}
    for f in SAVED_FIELDS:
        key = f.metadata["key"] or f.name
        if key in data:
            values[f.name] = CODECS[f.metadata["saved"]][1](data[key])
    values["next_id"] = max(int(values.get("next_id", 1)), next_free_id(values.get("rows", empty_rows())))
    return values


def save_review(review, movie_source, movie_shape, path=None) -> Path:
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


def _left_in_place(path: Path, why: str) -> ReviewFileError:
    return ReviewFileError(f"{path}: {why}; left as it is", left_in_place=True)


def load_review(movie_source, movie_shape, set_aside: bool = True) -> Optional[SavedReview]:
    """The saved review of the movie at ``movie_source`` (None if there is none). A file that
    cannot be used is moved aside (when ``set_aside``: the movie is being opened; a listing of the
    reviews leaves every file where it is) and reported by :class:`ReviewFileError`."""
    path = find_review(movie_source)
    if path is None:
        return None
    unusable = _set_aside if set_aside else _left_in_place
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not an ExoDeep review file")
        version = int(data.get("version", 0))
        shape = list(dict(data.get("movie") or {}).get("shape") or [])
    except (OSError, ValueError, TypeError) as exc:
        raise unusable(path, f"unreadable ({str(exc)[:120]})") from None
    if version > VERSION:
        raise ReviewFileError(f"{path}: written by a newer ExoDeep (format {version}); not restored and not "
                              "changed: update ExoDeep to open this review", left_in_place=True)
    if shape != list(movie_shape):
        raise unusable(path, f"made for a movie of shape {shape}, this one is {list(movie_shape)}")
    try:
        if "events" not in data:
            raise KeyError("events")
        saved = SavedReview(**_read_fields(data))
        if version < 2 and saved.fully_reviewed:
            # before format 2 a fully reviewed movie kept its undecided detections, and training read
            # the events shown: the same set, frozen now as a new mark would freeze it
            saved.rows = freeze(saved.rows, saved.filter or DEFAULT_FILTER)[0]
        return saved
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise unusable(path, f"damaged ({type(exc).__name__}: {' '.join(str(exc).split())[:120]})") from None


# ---------------------------------------------------------------- an open movie's review
def save_doc(doc, path=None) -> Path:
    """Save the review of an open movie (a session.record.MovieDoc) beside its file, else where
    the record says (``doc.save_to``), or at ``path``."""
    return save_review(doc, doc.movie.source, doc.movie.shape, path or doc.save_to)


def open_doc(movie) -> MovieDoc:
    """The record of ``movie`` with its saved review, or a fresh one. A review file that cannot be
    used raises :class:`ReviewFileError` (see :func:`load_review`)."""
    saved = load_review(movie.source, movie.shape) if movie.source is not None else None
    return doc_from_saved(movie, None if saved is None else saved_values(saved))
