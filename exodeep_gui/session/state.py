"""The evented viewer state: the one owner of what the window shows.

It owns the open movies (each a :class:`~exodeep_gui.session.record.MovieDoc`: the one record of
a movie), the current movie, frame
and selected event, the detection filter (one for every movie, open now or later) and the
model chosen for detection. Views subscribe to its signals and write back only through its
methods; settings are read into it at start and out of it at the end. Qt-free (a tiny
callback signal), so it is tested without a display.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, List, Optional, Tuple

import numpy as np

from exodeep_gui.core import review
from exodeep_gui.core.detection import Detection
from exodeep_gui.core.events import EventTable
from exodeep_gui.core.movie import Movie
from exodeep_gui.core.review import EventFilter, MergeSummary
from exodeep_gui.session.record import MovieDoc

MAX_UNDO = 200
KEEP_DETECTIONS = 2        # undo entries that keep their detection's per-voxel maps (memory)


class Signal:
    """A minimal synchronous signal: ``connect(callback)``, ``emit(*args)``."""

    def __init__(self) -> None:
        self._slots: List[Callable] = []

    def connect(self, slot: Callable) -> None:
        if slot not in self._slots:
            self._slots.append(slot)

    def disconnect(self, slot: Callable) -> None:
        if slot in self._slots:
            self._slots.remove(slot)

    def emit(self, *args) -> None:
        for slot in list(self._slots):
            slot(*args)


def auto_levels(frame: np.ndarray, low: float = 0.5, high: float = 99.8) -> Tuple[float, float]:
    lo, hi = np.percentile(np.asarray(frame, np.float32), [low, high])
    return float(lo), float(max(hi, lo + 1e-6))


class ViewerState:
    """What the window shows. Signals carry no Qt types."""

    def __init__(self, flt: EventFilter = EventFilter(), model: str = "exodeepfinder") -> None:
        self.docs: List[MovieDoc] = []
        self.current: Optional[MovieDoc] = None
        self.frame = 0
        self.selected: Optional[int] = None           # event id in the current movie
        self.filter = flt
        self.model = model
        self.review_order = review.FRAME_ORDER
        self.movies_changed = Signal()                # ()
        self.movie_changed = Signal()                 # (doc or None)
        self.frame_changed = Signal()                 # (frame)
        self.levels_changed = Signal()                # ((lo, hi))
        self.line_changed = Signal()                  # (line or None)
        self.events_changed = Signal()                # (): the current movie's shown events
        self.selection_changed = Signal()             # (event id or None)
        self.filter_changed = Signal()                # (EventFilter)
        self.model_changed = Signal()                 # (model spec)
        self.review_changed = Signal()                # (doc): something saved with it changed
        self.cell_changed = Signal()                  # (outline or None) of the current movie

    # ---- movies
    def add_movie(self, movie: Movie, doc: Optional[MovieDoc] = None) -> MovieDoc:
        """Open ``movie`` (with its restored review ``doc``, if any) and make it current."""
        doc = doc if doc is not None else MovieDoc(movie)
        if doc.levels is None:
            doc.levels = auto_levels(movie.frame(movie.n_frames // 2))
        self.docs.append(doc)
        self.movies_changed.emit()
        self.set_current(doc)
        return doc

    def close_movie(self, doc: MovieDoc) -> None:
        if doc in self.docs:
            self.docs.remove(doc)
            self.movies_changed.emit()
            self.set_current(self.docs[-1] if self.docs else None)

    def set_current(self, doc: Optional[MovieDoc]) -> None:
        if doc is self.current:
            return
        self.current = doc
        self.frame = 0 if doc is None else min(self.frame, doc.movie.n_frames - 1)
        self.selected = None
        self.movie_changed.emit(doc)
        self.frame_changed.emit(self.frame)
        self.line_changed.emit(None if doc is None else doc.line)
        self.cell_changed.emit(None if doc is None else doc.cell)
        self.events_changed.emit()
        self.selection_changed.emit(None)

    def _changed(self, doc: MovieDoc, events: bool = True) -> None:
        if events and doc is self.current:
            self.events_changed.emit()
        self.review_changed.emit(doc)

    # ---- frame, contrast, kymograph line
    def set_frame(self, frame: int) -> None:
        if self.current is None:
            return
        frame = int(np.clip(frame, 0, self.current.movie.n_frames - 1))
        if frame != self.frame:
            self.frame = frame
            self.frame_changed.emit(frame)

    def set_levels(self, levels: Tuple[float, float]) -> None:
        doc = self.current
        if doc is not None:
            new = (float(levels[0]), float(levels[1]))
            if new != doc.levels:
                doc.levels = new
                self.levels_changed.emit(new)
                self.review_changed.emit(doc)

    @property
    def line(self) -> Optional[np.ndarray]:
        return None if self.current is None else self.current.line

    def _set_shape(self, attr: str, signal: Signal, points) -> None:
        """The current movie's kymograph line or cell outline ((n, 2) x, y px, or None)."""
        doc = self.current
        if doc is None:
            return
        setattr(doc, attr, None if points is None else np.asarray(points, float).reshape(-1, 2))
        signal.emit(getattr(doc, attr))
        self.review_changed.emit(doc)

    def set_line(self, line) -> None:
        self._set_shape("line", self.line_changed, line)

    # ---- filter and model (one for all movies)
    def set_filter(self, flt: EventFilter) -> None:
        flt = EventFilter(float(flt.threshold), int(flt.min_size), float(flt.min_confidence))
        if flt == self.filter:
            return
        self.filter = flt
        self.filter_changed.emit(flt)
        if self.selected is not None and self.selected_index() is None:
            self.select(None)
        self.events_changed.emit()          # shown events change; no review does (nothing to save)

    def set_model(self, spec: str) -> None:
        if spec and spec != self.model:
            self.model = spec
            self.model_changed.emit(spec)

    # ---- events
    def events(self, doc: Optional[MovieDoc] = None) -> EventTable:
        doc = doc or self.current
        return doc.events(self.filter) if doc is not None else review.empty_rows()

    def training_events(self, doc: MovieDoc) -> EventTable:
        """What training reads of ``doc``: a fully reviewed movie's reviewed set (what the user
        confirmed or added; no filter applies), else the events shown."""
        return review.reviewed(doc.rows) if doc.fully_reviewed else self.events(doc)

    def reviewable(self, doc: Optional[MovieDoc] = None) -> EventTable:
        """The events shown and the candidates (column ``shown`` False) of ``doc`` (default: the
        current movie), in the review order (frame, or doubtful first)."""
        doc = doc or self.current
        return doc.reviewable(self.filter, self.review_order) if doc is not None else review.empty_rows()

    def set_review_order(self, order: str) -> None:
        """Go through the events in frame order or doubtful first (review.FRAME_ORDER, DOUBT_ORDER)."""
        if order != self.review_order:
            self.review_order = order
            self.events_changed.emit()

    def selected_index(self) -> Optional[int]:
        """Row of the selected event in :meth:`reviewable`, or None."""
        if self.selected is None:
            return None
        ev = self.reviewable()
        hit = np.nonzero(ev.extra["id"] == self.selected)[0] if len(ev) else []
        return int(hit[0]) if len(hit) else None

    def select(self, event_id: Optional[int]) -> None:
        self.selected = None if event_id is None else int(event_id)
        i = self.selected_index()
        if i is None:
            self.selected = None
        self.selection_changed.emit(self.selected)
        if i is not None:
            self.set_frame(int(self.reviewable().frame[i]))

    def select_next(self, step: int = 1, unconfirmed: bool = False) -> Optional[int]:
        """Select the next (``step`` > 0) or previous event in the review order, candidates included
        (only events not yet confirmed when ``unconfirmed``); returns its id."""
        ev = self.reviewable()
        if not len(ev):
            return None
        order = np.arange(len(ev))
        if unconfirmed:
            order = order[~np.isin(ev.extra["status"], review.KEPT)]
            if not len(order):
                return None
        i = self.selected_index()
        if i is None:
            pick = order[0] if step > 0 else order[-1]
        else:
            later = order[order > i] if step > 0 else order[order < i][::-1]
            pick = later[0] if len(later) else (order[0] if step > 0 else order[-1])
        self.select(int(ev.extra["id"][pick]))
        return self.selected

    def _edit(self, doc: MovieDoc, label: str, rows: EventTable, next_id: Optional[int] = None,
              detection: Optional[Detection] = None, fully_reviewed: Optional[bool] = None) -> None:
        """Replace ``doc``'s review (undoable): rows, next id, detection, "fully reviewed"; the
        record remembers the filter of this edit (its review file says what was reviewed under)."""
        doc.undo.append(doc.entry(label))
        del doc.undo[:-MAX_UNDO]
        for k, entry in enumerate(doc.undo[:-KEEP_DETECTIONS]):     # older per-voxel maps are let go
            if entry.detection is not None:
                doc.undo[k] = replace(entry, detection=None)
        doc.redo.clear()
        doc.rows = rows
        if next_id is not None:
            doc.next_id = next_id
        if detection is not None:
            doc.detection = detection
        was = doc.fully_reviewed
        if fully_reviewed is not None:
            doc.fully_reviewed = bool(fully_reviewed)
        doc.filter = self.filter
        self._after_edit(doc, was)

    def _after_edit(self, doc: MovieDoc, was_reviewed: bool) -> None:
        if self.selected is not None and doc is self.current and self.selected_index() is None:
            self.selected = None
            self.selection_changed.emit(None)
        self._changed(doc)
        if doc.fully_reviewed != was_reviewed:
            self.movies_changed.emit()

    def set_detection(self, doc: MovieDoc, detection: Detection) -> MergeSummary:
        """Merge a detection run into ``doc``'s review (see core.review.merge_detection); undoable.
        A fully reviewed movie stays so unless the run brings events to review (then the mark is
        cleared and the summary says so): what was reviewed stays exactly what was reviewed."""
        rows, next_id, summary = review.merge_detection(doc.rows, detection.candidates, doc.next_id,
                                                        self.filter)
        unmark = doc.fully_reviewed and summary.new > 0
        if unmark:                    # to review again: what marking decided is undecided again
            rows = review.unfreeze(rows)[0]
        elif doc.fully_reviewed:      # nothing new to see: the new detections the filter hides are set aside
            rows = review.freeze(rows, self.filter)[0]
        self._edit(doc, "detection", rows, next_id, detection, fully_reviewed=False if unmark else None)
        doc.model_name = detection.model_name
        return replace(summary, unmarked=unmark)

    def delete_event(self, event_id: int) -> None:
        doc = self.current
        if doc is not None and review.index_of(doc.rows, event_id) is not None:
            self._edit(doc, "delete", review.delete(doc.rows, event_id))

    def confirm_event(self, event_id: int, confirmed: bool = True) -> None:
        doc = self.current
        if doc is not None and review.index_of(doc.rows, event_id) is not None:
            status = review.CONFIRMED if confirmed else ""
            self._edit(doc, "confirm", review.set_status(doc.rows, event_id, status))

    def add_event(self, x: float, y: float, frame: int) -> Optional[int]:
        """Add an event at (x, y, frame); its score and size come from the last detection's output
        where there is one, else they stay blank (NaN). Returns its id."""
        doc = self.current
        if doc is None:
            return None
        det = doc.detection
        score, size = review.probe(det.candidates if det else None,
                                   det.segmentation.score if det and det.segmentation else None, x, y, int(frame))
        event_id = doc.next_id
        self._edit(doc, "add", review.add(doc.rows, event_id, x, y, int(frame), score, size), event_id + 1)
        return event_id

    def undo(self) -> bool:
        """Put back what the last edit of the current movie replaced (the edit can be redone)."""
        return self._step_back(self.current, "undo", "redo")

    def redo(self) -> bool:
        """Do again what the last undo took back."""
        return self._step_back(self.current, "redo", "undo")

    def _step_back(self, doc: Optional[MovieDoc], take: str, keep: str) -> bool:
        if doc is None or not getattr(doc, take):
            return False
        entry = getattr(doc, take).pop()
        getattr(doc, keep).append(doc.entry(entry.label))
        was = doc.fully_reviewed
        doc.restore(entry)
        self._after_edit(doc, was)
        return True

    def next_undo(self) -> str:
        """What Undo would take back in the current movie ("" when nothing)."""
        doc = self.current
        return doc.undo[-1].label if doc is not None and doc.undo else ""

    # ---- annotations and review status
    def set_annotations(self, doc: MovieDoc, table: Optional[EventTable], source: str = "") -> None:
        doc.annotations, doc.annotations_source = table, str(source)
        self._changed(doc)

    def set_cell(self, outline) -> None:
        """The current movie's cell outline (a polygon, (x, y) px; None: the automatic mask)."""
        self._set_shape("cell", self.cell_changed, outline)

    def set_condition(self, doc: MovieDoc, condition: str) -> None:
        condition = str(condition).strip()
        if condition != doc.condition:
            doc.condition = condition
            self._changed(doc, events=False)

    def set_fully_reviewed(self, doc: MovieDoc, on: bool) -> dict:
        """Mark ``doc`` fully reviewed (every event in it is decided: training may use it) or not.
        Marking freezes what the user saw: the events shown under the filter become confirmed and
        the detections it hid are set aside, so that no later filter or model change alters the
        reviewed set; clearing the mark gives the set-aside ones back to review. Undoable; returns
        the counts (core.review.freeze)."""
        if doc.fully_reviewed == bool(on):
            return {}
        rows, counts = review.freeze(doc.rows, self.filter) if on else review.unfreeze(doc.rows)
        self._edit(doc, "fully reviewed" if on else "not fully reviewed", rows, fully_reviewed=bool(on))
        return counts
