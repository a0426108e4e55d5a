"""The one record of an open movie: :class:`MovieDoc`.

It holds everything about a movie that the window shows or keeps: a stable id for the session,
the movie, its review (events with id, origin and status; annotations; "fully reviewed";
condition; contrast; kymograph line; cell outline; the filter and model of its last review), its
last detection (typed), its analysis, where its review is saved and what the detection panel last
said about it. Panels keep no side tables keyed by movie: they read and write the record (through
the :class:`~exodeep_gui.session.state.ViewerState`).

What the review file holds is declared once, here, by the fields made with :func:`saved` (in file
order); :mod:`exodeep_gui.io.review_file` writes and reads exactly those fields, and
:data:`SavedReview` (the review without its movie, for the command line and tests) is generated
from the same declaration.
"""

from __future__ import annotations

import itertools
from dataclasses import MISSING, dataclass, field, fields, make_dataclass
from pathlib import Path
from typing import Any, List, Optional, Tuple

import numpy as np

from exodeep_gui.core import review
from exodeep_gui.core.detection import Detection
from exodeep_gui.core.events import EventTable
from exodeep_gui.core.movie import Movie
from exodeep_gui.core.review import EventFilter

_UIDS = itertools.count(1)


def saved(codec: str, default: Any = MISSING, default_factory: Any = MISSING, key: str = ""):
    """A field that the review file holds: ``codec`` names how it is written (see
    ``io.review_file.CODECS``), ``key`` its name in the file (default: the field's name)."""
    meta = {"saved": codec, "key": key}
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class UndoEntry:
    """What an edit replaced, to put it back (Edit > Undo) or forward again (Edit > Redo)."""

    label: str                      # "detection", "delete", "confirm", "add", "fully reviewed", …
    rows: EventTable
    next_id: int
    detection: Optional[Detection]  # the detection in use then (per-voxel maps let go when old)
    model_name: str
    fully_reviewed: bool
    detected: bool = True           # there was a detection then (its maps may have been let go)


@dataclass(eq=False)        # identity, not field-by-field (fields hold whole movies)
class MovieDoc:
    """An open movie and everything the window keeps about it (see the module docstring)."""

    movie: Movie
    # ---- the review file (in this order; see io.review_file)
    rows: EventTable = saved("review_rows", default_factory=review.empty_rows, key="events")
    next_id: int = saved("int", 1)
    model_name: str = saved("str", "", key="model")
    annotations: Optional[EventTable] = saved("table", None)        # imported ground truth (crosses)
    annotations_source: str = saved("str", "")
    levels: Optional[Tuple[float, float]] = saved("pair", None)
    line: Optional[np.ndarray] = saved("points", None)             # (n, 2) kymograph polyline, (x, y) px
    fully_reviewed: bool = saved("bool", False)
    filter: Optional[EventFilter] = saved("filter", None)           # the filter of its last review edit
    condition: str = saved("str", "")                               # the experimental condition
    cell: Optional[np.ndarray] = saved("points", None)             # (n, 2) cell outline drawn by the user
    # ---- the session's, not saved
    uid: int = field(default_factory=lambda: next(_UIDS))         # never reused in a session
    detection: Optional[Detection] = None           # the last run (its per-voxel scores: added events' score)
    analysis: Any = None                            # core.analysis MovieAnalysis of its last analysis, or None
    save_to: Optional[Path] = None                  # where its review goes when not beside the movie
    detection_message: str = ""                     # what the detection panel last said about it
    undo: List[UndoEntry] = field(default_factory=list)
    redo: List[UndoEntry] = field(default_factory=list)
    _shown: tuple = field(default=(None, None, None), repr=False)             # cache: rows, filter, table
    _reviewable: tuple = field(default=((None, None, None), None), repr=False)  # cache: (rows, filter, order), table

    @property
    def name(self) -> str:
        return self.movie.name

    def events(self, flt: EventFilter) -> EventTable:
        """The events shown and exported under ``flt`` (cached until the rows or filter change)."""
        rows, f, table = self._shown
        if rows is not self.rows or f != flt:
            table = review.visible(self.rows, flt)
            self._shown = (self.rows, flt, table)
        return table

    def reviewable(self, flt: EventFilter, order: str) -> EventTable:
        """The events shown and the candidates under ``flt``, in ``order`` (cached like :meth:`events`)."""
        (rows, f, o), table = self._reviewable
        if rows is not self.rows or f != flt or o != order:
            table = review.reviewable(self.rows, flt, order)
            self._reviewable = ((self.rows, flt, order), table)
        return table

    def entry(self, label: str) -> UndoEntry:
        """The record's review as it is now, for undo or redo."""
        return UndoEntry(label, self.rows, self.next_id, self.detection, self.model_name, self.fully_reviewed,
                         detected=self.detection is not None)

    def restore(self, entry: UndoEntry) -> None:
        self.rows, self.next_id, self.model_name = entry.rows, entry.next_id, entry.model_name
        self.fully_reviewed = entry.fully_reviewed
        if not entry.detected:
            self.detection = None          # undoing the first detection: none again
        elif entry.detection is not None:
            self.detection = entry.detection   # (an old entry's maps were let go: the current ones stay)


SAVED_FIELDS = tuple(f for f in fields(MovieDoc) if "saved" in f.metadata)


def saved_values(doc) -> dict:
    """The values of ``doc``'s saved fields (a MovieDoc or a SavedReview), by field name."""
    return {f.name: getattr(doc, f.name) for f in SAVED_FIELDS}


def _copy_field(f):
    if f.default_factory is not MISSING:
        return f.name, f.type, field(default_factory=f.default_factory)
    return f.name, f.type, field(default=f.default)


# the review without its movie (what a review file holds), generated from MovieDoc's declaration
SavedReview = make_dataclass("SavedReview", [_copy_field(f) for f in SAVED_FIELDS])
SavedReview.__module__ = __name__
SavedReview.__doc__ = "What a review file holds: MovieDoc's saved fields, without the movie."


def doc_from_saved(movie: Movie, values: Optional[dict] = None) -> MovieDoc:
    """A record of ``movie`` with the saved field ``values`` (a fresh review when None)."""
    return MovieDoc(movie, **(values or {}))
