"""The evented viewer state: one object owns the open movies, the current movie, frame,
contrast, kymograph line and selected event; views subscribe to its signals and write back
only through it. Qt-free (a tiny callback signal), so it is tested without a display.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple

import numpy as np

from exodeep_gui.core.events import EventTable
from exodeep_gui.core.movie import Movie


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


@dataclass(eq=False)        # identity, not field-by-field (fields hold whole movies)
class MovieDoc:
    """An open movie with everything that belongs to it: detections, edits, annotations."""

    movie: Movie
    detection: object = None                        # ml.detect.Detection, kept for re-filtering
    threshold: float = 0.5
    min_size: int = 0
    added: EventTable = field(default_factory=EventTable.empty)   # events the user added
    deleted: set = field(default_factory=set)       # keys (x, y, frame) of events the user deleted
    annotations: Optional[EventTable] = None
    levels: Optional[Tuple[float, float]] = None
    undo: list = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.movie.name

    def events(self) -> EventTable:
        """Detections above threshold and size, minus deleted ones, plus added ones, by frame."""
        base = (self.detection.events(self.threshold, self.min_size) if self.detection is not None
                else EventTable.empty())
        if self.deleted and len(base):
            keep = [event_key(base, i) not in self.deleted for i in range(len(base))]
            base = base.select(np.array(keep, bool))
        return base.concat(self.added).sorted()


def event_key(table: EventTable, i: int) -> tuple:
    return (round(float(table.x[i]), 2), round(float(table.y[i]), 2), int(table.frame[i]))


def auto_levels(frame: np.ndarray, low: float = 0.5, high: float = 99.8) -> Tuple[float, float]:
    lo, hi = np.percentile(np.asarray(frame, np.float32), [low, high])
    return float(lo), float(max(hi, lo + 1e-6))


class ViewerState:
    """What the window shows. Signals carry no Qt types."""

    def __init__(self) -> None:
        self.docs: List[MovieDoc] = []
        self.current: Optional[MovieDoc] = None
        self.frame = 0
        self.line: Optional[np.ndarray] = None        # (n, 2) kymograph polyline, (x, y) pixels
        self.selected: Optional[int] = None           # row in current events
        self.movies_changed = Signal()                # ()
        self.movie_changed = Signal()                 # (doc or None)
        self.frame_changed = Signal()                 # (frame)
        self.levels_changed = Signal()                # ((lo, hi))
        self.line_changed = Signal()                  # (line or None)
        self.events_changed = Signal()                # ()
        self.selection_changed = Signal()             # (row or None)

    # movies
    def add_movie(self, movie: Movie) -> MovieDoc:
        doc = MovieDoc(movie)
        mid = movie.n_frames // 2
        doc.levels = auto_levels(movie.frame(mid))
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
        self.events_changed.emit()

    # frame and contrast
    def set_frame(self, frame: int) -> None:
        if self.current is None:
            return
        frame = int(np.clip(frame, 0, self.current.movie.n_frames - 1))
        if frame != self.frame:
            self.frame = frame
            self.frame_changed.emit(frame)

    def set_levels(self, levels: Tuple[float, float]) -> None:
        if self.current is not None:
            self.current.levels = (float(levels[0]), float(levels[1]))
            self.levels_changed.emit(self.current.levels)

    def set_line(self, line) -> None:
        self.line = None if line is None else np.asarray(line, float).reshape(-1, 2)
        self.line_changed.emit(self.line)

    # events
    def events(self) -> EventTable:
        return self.current.events() if self.current is not None else EventTable.empty()

    def set_detection(self, doc: MovieDoc, detection) -> None:
        doc.detection = detection
        doc.deleted, doc.added, doc.undo = set(), EventTable.empty(), []
        if doc is self.current:
            self.selected = None
            self.events_changed.emit()

    def set_filter(self, threshold: float, min_size: int) -> None:
        for doc in self.docs:
            doc.threshold, doc.min_size = float(threshold), int(min_size)
        self.selected = None
        self.events_changed.emit()

    def select(self, row: Optional[int]) -> None:
        self.selected = row
        self.selection_changed.emit(row)
        if row is not None:
            ev = self.events()
            if 0 <= row < len(ev):
                self.set_frame(int(ev.frame[row]))

    def delete_event(self, row: int) -> None:
        doc = self.current
        ev = self.events()
        if doc is None or not 0 <= row < len(ev):
            return
        key = event_key(ev, row)
        added_keys = [event_key(doc.added, i) for i in range(len(doc.added))]
        if key in added_keys:
            i = added_keys.index(key)
            doc.undo.append(("unadd", doc.added.select(np.array([i]))))
            doc.added = doc.added.select(np.arange(len(doc.added)) != i)
        else:
            doc.deleted.add(key)
            doc.undo.append(("undelete", key))
        self.selected = None
        self.events_changed.emit()

    def add_event(self, x: float, y: float, frame: int) -> None:
        doc = self.current
        if doc is None:
            return
        doc.added = doc.added.concat(EventTable.from_arrays([x], [y], [frame], [1.0], [0]))
        doc.undo.append(("unadd_last", None))
        self.events_changed.emit()

    def undo(self) -> bool:
        doc = self.current
        if doc is None or not doc.undo:
            return False
        kind, payload = doc.undo.pop()
        if kind == "undelete":
            doc.deleted.discard(payload)
        elif kind == "unadd_last":
            doc.added = doc.added.select(np.arange(len(doc.added)) < len(doc.added) - 1)
        elif kind == "unadd":
            doc.added = doc.added.concat(payload)
        self.selected = None
        self.events_changed.emit()
        return True
