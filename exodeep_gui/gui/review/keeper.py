"""Keeps every movie's review: restores it when the movie is opened, saves it soon after each
change (at most ``delay_ms`` later, atomically, beside the movie or in the user folder), and
before a movie is closed or the window quits. A kill loses at most the last ``delay_ms``."""

from __future__ import annotations

import logging
from typing import Dict, Optional

from PySide6.QtCore import QObject, QTimer, Signal

from exodeep_gui.session.state import ViewerState
from exodeep_gui.session.record import MovieDoc
from exodeep_gui.io.review_file import ReviewFileError, fallback_path, open_doc, save_doc

log = logging.getLogger("exodeep")
SAVE_DELAY_MS = 500


class ReviewKeeper(QObject):
    message = Signal(str)                 # for the status bar
    error = Signal(str)                   # a review that could not be restored or saved

    def __init__(self, state: ViewerState, delay_ms: int = SAVE_DELAY_MS, parent=None):
        super().__init__(parent)
        self.state = state
        self.dirty: Dict[int, MovieDoc] = {}          # the records with unsaved changes, by uid
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(delay_ms)
        self.timer.timeout.connect(self.save_now)
        self._failed: set = set()
        state.review_changed.connect(self._changed)

    def open(self, movie) -> MovieDoc:
        """A document for ``movie`` with its saved review restored (if any), added to the state."""
        try:
            doc = open_doc(movie)
        except ReviewFileError as exc:
            self.error.emit(str(exc))
            doc = MovieDoc(movie)
            if exc.left_in_place:             # never save over a file we could not use: the user folder
                doc.save_to = fallback_path(movie.source)
        saved_filter = doc.filter
        restored = len(doc.rows) or doc.annotations is not None or doc.line is not None
        first = not self.state.docs
        self.state.add_movie(movie, doc)
        if saved_filter is not None and saved_filter != self.state.filter:
            if first:             # the only movie: show exactly what was reviewed
                self.state.set_filter(saved_filter)
            else:
                self.message.emit(f"{doc.name}: reviewed with {saved_filter.describe()}; the filter of all movies "
                                  "stays as it is")
        if restored:
            self.message.emit(f"{doc.name}: review restored ({len(self.state.events(doc))} events"
                              + (", fully reviewed" if doc.fully_reviewed else "") + ")")
        return doc

    def _changed(self, doc: MovieDoc) -> None:
        if doc.movie.source is None:
            return                          # nothing to save beside
        self.dirty[doc.uid] = doc
        if not self.timer.isActive():       # at most delay_ms after the first unsaved change
            self.timer.start()

    def save_now(self, doc: Optional[MovieDoc] = None) -> None:
        """Save ``doc`` (default: every movie with unsaved changes) now."""
        docs = [doc] if doc is not None else list(self.dirty.values())
        for d in docs:
            if self.dirty.pop(d.uid, None) is None:
                continue
            try:
                save_doc(d)
                self._failed.discard(d.uid)
            except OSError as exc:
                log.warning("review not saved: %s", exc)
                if d.uid not in self._failed:   # say it once per movie, not at every change
                    self._failed.add(d.uid)
                    self.error.emit(f"The review of {d.name} could not be saved: {exc}")

    def close(self, doc: MovieDoc) -> None:
        self.save_now(doc)
        self.dirty.pop(doc.uid, None)

    def flush(self) -> None:
        self.timer.stop()
        self.save_now()
