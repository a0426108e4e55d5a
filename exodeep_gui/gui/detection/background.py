"""The Detection panel's background detection: while the user reviews one movie, the warm engine
detects the next open movie never detected (lowest priority; anything the user starts cancels it).
A mixin of :class:`~exodeep_gui.gui.detection.panel.DetectionPanel`, whose state, runner, options,
message and the "Detect the next movie meanwhile" box it uses."""
from __future__ import annotations

import logging

from PySide6.QtCore import QTimer

from exodeep_gui.gui import workers

log = logging.getLogger("exodeep")


class BackgroundDetection:
    # ---- the next movie, ready when the user gets to it
    def next_undetected(self):
        """The next open movie (after the current one, in the Movies list; not the current one) never
        detected."""
        docs = self.state.docs
        if not docs:
            return None
        start = docs.index(self.state.current) + 1 if self.state.current in docs else 0
        others = [d for d in docs[start:] + docs[:start] if d is not self.state.current]
        # never detected, nothing reviewed or added by hand, and not a movie that failed here already
        return next((d for d in others if d.detection is None and not d.model_name and not len(d.rows)
                     and not d.fully_reviewed and d.uid not in self._bg_failed), None)

    def detect_next_in_background(self) -> None:
        """While the user reviews this movie, the warm engine detects the next one, then the one after
        (lowest priority: anything the user starts cancels it; it is tried again after the user's
        next detection)."""
        if (not self.background.isChecked() or self.runner.busy or self.runner.closing or self.bg_job is not None
                or self.job is not None):
            return
        doc = self.next_undetected()
        if doc is None:
            return
        self._bg_doc = doc
        self.bg_job = self.runner.start("detect", f"Detecting {doc.name} in the background", workers.detect_generator,
                                        self.state.model, [(doc.uid, doc.movie)], self.options(), self.runner.engine,
                                        fallback=True, on_result=self._background_result,
                                        on_done=self._background_done, background=True)

    def _background_result(self, results) -> None:
        for _, detection in results:
            doc = self._bg_doc
            if doc in self.state.docs and doc.detection is None and not doc.model_name:
                self.take_detection(doc, detection, "Detected in the background with")
                if doc is self.state.current:
                    self.show_message(doc)

    def _background_done(self) -> None:
        job, self.bg_job = self.bg_job, None
        if job is not None and job.exception is not None:       # not again for that movie
            self._bg_failed.add(self._bg_doc.uid)
            log.info("background detection of %s failed: %s", self._bg_doc.name, job.exception)
        if job is not None and not job.token.cancelled:  # and the one after (a user's job tries again when done)
            QTimer.singleShot(0, self.detect_next_in_background)
        if self._bg_doc is self.state.current:
            self.show_message(self._bg_doc)

    def cancel_background(self, *_) -> None:
        """The model or the precision changed: the next movie's detection would be the old one's."""
        if self.bg_job is not None:
            self.runner.cancel(self.bg_job)
