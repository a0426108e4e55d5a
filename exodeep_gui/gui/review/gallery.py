"""The event gallery: review at the speed of a glance.

One row per event — its frames from 2 before to 6 after, a small crop each, and its intensity trace —
sorted doubtful first (lowest confidence) or by frame, the candidates (the model unsure) among them,
greyed. One key decides and moves on: Y a real exocytosis (confirm, or accept a candidate), Del a
false one (delete, or reject a candidate); ↑/↓ move; the movie view follows the selection. The keys
are the window's (Review menu), so they work wherever the focus is."""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np
from PySide6.QtCore import QEvent, QSize, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QListView, QListWidget, QListWidgetItem, QVBoxLayout,
                               QWidget)

from exodeep_gui.core import review
from exodeep_gui.session.state import ViewerState

BEFORE, AFTER = 2, 6            # frames shown around the event
HALF = 10                       # crop half-width, px (21 px crops)
ZOOM = 2                        # each crop pixel drawn 2 × 2
TRACE_H = 22                    # height of the trace drawn under the crops, px
KEYS = "Y: real (confirm, accept)   Del: false (delete, reject)   ↑ ↓: next, previous"


def event_strip(movie, x: float, y: float, frame: int, levels: Tuple[float, float]) -> np.ndarray:
    """An RGB picture (uint8, h × w × 3) of the event: crops of frames ``frame``−2 … +6 side by side
    (the event's frame outlined), and the mean of a 5 × 5 px square over frames −10 … +20 drawn
    below them (the frame of the event marked)."""
    t, h, w = movie.shape
    side = 2 * HALF + 1
    cx, cy = int(round(x)), int(round(y))
    y0, x0 = cy - HALF, cx - HALF
    first, last = max(frame - BEFORE, 0), min(frame + AFTER, t - 1)
    frames = np.asarray(movie.frames(first, last + 1), np.float32)
    crops = np.zeros((BEFORE + AFTER + 1, side, side), np.float32)
    ys, xs = slice(max(y0, 0), min(y0 + side, h)), slice(max(x0, 0), min(x0 + side, w))
    for k in range(first, last + 1):
        crops[k - frame + BEFORE, ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0] = frames[k - first, ys, xs]
    lo, hi = levels
    grey = np.clip((crops - lo) / max(hi - lo, 1e-6) * 255, 0, 255).astype(np.uint8)
    grey = grey.repeat(ZOOM, 1).repeat(ZOOM, 2)
    cell = side * ZOOM
    picture = np.zeros((cell + TRACE_H, (cell + 2) * grey.shape[0], 3), np.uint8)
    for i, crop in enumerate(grey):
        picture[:cell, i * (cell + 2):i * (cell + 2) + cell] = crop[..., None]
    at = BEFORE * (cell + 2)
    picture[0, at:at + cell] = picture[cell - 1, at:at + cell] = (255, 208, 0)         # the event's frame
    picture[:cell, at] = picture[:cell, at + cell - 1] = (255, 208, 0)
    _draw_trace(picture[cell:], movie, cx, cy, frame)
    return picture


def _draw_trace(area: np.ndarray, movie, cx: int, cy: int, frame: int) -> None:
    t, h, w = movie.shape
    a, b = max(frame - 10, 0), min(frame + 21, t)
    box = np.asarray(movie.frames(a, b)[:, max(cy - 2, 0):cy + 3, max(cx - 2, 0):cx + 3], np.float32)
    values = box.reshape(len(box), -1).mean(1) if box.size else np.zeros(0)
    if len(values) < 2:
        return
    height, width = area.shape[:2]
    span = max(float(values.max() - values.min()), 1e-6)
    xs = np.linspace(0, width - 1, len(values)).astype(int)
    ys = (height - 2 - (values - values.min()) / span * (height - 4)).astype(int)
    for (x1, y1), (x2, y2) in zip(zip(xs[:-1], ys[:-1]), zip(xs[1:], ys[1:])):
        n = max(abs(x2 - x1), abs(y2 - y1), 1)
        area[np.linspace(y1, y2, n + 1).astype(int), np.linspace(x1, x2, n + 1).astype(int)] = (255, 208, 0)
    mark = int(round((frame - a) / max(len(values) - 1, 1) * (width - 1)))
    area[:, min(max(mark, 0), width - 1)] = (255, 60, 60)


def _pixmap(rgb: np.ndarray) -> QPixmap:
    rgb = np.ascontiguousarray(rgb)
    image = QImage(rgb.data, rgb.shape[1], rgb.shape[0], rgb.strides[0], QImage.Format_RGB888)
    return QPixmap.fromImage(image.copy())


class EventGallery(QWidget):
    def __init__(self, state: ViewerState, parent=None):
        super().__init__(parent)
        self.state = state
        self.order = QComboBox()
        self.order.addItem("doubtful first", review.DOUBT_ORDER)
        self.order.addItem("by frame", review.FRAME_ORDER)
        self.order.setToolTip("Doubtful first: the events the model is least confident of (and the candidates) "
                              "come first")
        self.order.currentIndexChanged.connect(lambda _: state.set_review_order(self.order.currentData()))
        self.count = QLabel("")
        self.list = QListWidget()
        self.list.setObjectName("gallery")
        self.list.setUniformItemSizes(True)
        self.list.setViewMode(QListView.IconMode)        # the words under each strip, the strips one per row
        self.list.setFlow(QListView.TopToBottom)
        self.list.setWrapping(False)
        self.list.setMovement(QListView.Static)
        self.list.setResizeMode(QListView.Adjust)
        self.list.setSpacing(2)
        cell = (2 * HALF + 1) * ZOOM
        self.list.setIconSize(QSize((cell + 2) * (BEFORE + AFTER + 1), cell + TRACE_H))
        self.list.currentItemChanged.connect(self._picked)
        self.list.installEventFilter(self)
        keys = QLabel(KEYS)
        keys.setWordWrap(True)
        keys.setStyleSheet("color: #666")
        top = QHBoxLayout()
        top.addWidget(QLabel("Order"))
        top.addWidget(self.order)
        top.addWidget(self.count, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(keys)
        layout.addWidget(self.list, 1)
        self._strips: Dict[tuple, QPixmap] = {}   # pictures of the movie shown at its contrast
        self._filling = False
        self._shown_key = None
        self._shown_table = None                   # the table the rows show (kept: compared by identity)
        self._shown_strips: list = []              # the strips' keys, in the rows' order
        self._row_of: Dict[int, int] = {}          # event id → row
        self._later = QTimer(self, singleShot=True, interval=200)   # a contrast drag redraws once it rests
        self._later.timeout.connect(self.refresh)
        state.events_changed.connect(self.refresh)
        state.movie_changed.connect(lambda _: self.refresh())
        state.levels_changed.connect(lambda _: self._later.start())
        state.selection_changed.connect(self._selection_changed)

    def eventFilter(self, obj, event) -> bool:
        if (obj is self.list and event.type() == QEvent.ShortcutOverride
                and event.key() in (Qt.Key_Home, Qt.Key_End)):
            event.accept()             # Home/End go to the first/last strip, not the window's first/last frame
            return True
        return super().eventFilter(obj, event)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.state.set_review_order(self.order.currentData())     # reviewing here: the gallery's order
        self.refresh()

    def refresh(self) -> None:
        """The rows of the current movie's events and candidates (only while the gallery is shown)."""
        if not self.isVisible():
            return
        doc, ev = self.state.current, self.state.reviewable()
        key = (None if doc is None else doc.uid, None if doc is None else doc.levels)
        if key == self._shown_key and ev is self._shown_table:
            return
        other_movie = self._shown_key is None or key[0] != self._shown_key[0]
        self._shown_key, self._shown_table = key, ev
        strips = [self._strip_key(doc, ev, i) for i in range(len(ev))]
        if strips == self._shown_strips:           # the same strips (a decision): only their words change
            for i in range(len(ev)):
                self._describe(self.list.item(i), ev, i)
        else:
            self._shown_strips = strips
            if doc is not None:                    # pictures of another movie or contrast are let go
                self._strips = {k: v for k, v in self._strips.items() if k[0] == doc.uid and k[-1] == doc.levels}
            self._filling = True
            try:
                self.list.clear()
                for i in range(len(ev)):
                    self.list.addItem(self._item(doc, ev, i, strips[i]))
            finally:
                self._filling = False
            self._row_of = {k[1]: i for i, k in enumerate(strips)}
        n_cand = int((~ev.extra["shown"]).sum()) if len(ev) else 0
        decided = int((ev.extra["status"] != "").sum()) if len(ev) else 0
        deleted = int((doc.rows.extra["status"] == review.DELETED).sum()) if doc is not None and len(doc.rows) else 0
        self.count.setText(f"{len(ev) - n_cand} events, {n_cand} candidates; {decided} decided"
                           + (f" (and {deleted} deleted)" if deleted else ""))
        if other_movie:
            self.list.scrollToTop()                # another movie: from its first strip
        self._selection_changed(self.state.selected)

    @staticmethod
    def _strip_key(doc, ev, i: int) -> tuple:
        """What a strip's picture depends on: the movie, the event and where it is, the contrast."""
        return (doc.uid, int(ev.extra["id"][i]), round(float(ev.x[i]), 1), round(float(ev.y[i]), 1),
                int(ev.frame[i]), doc.levels)

    def _item(self, doc, ev, i: int, key: tuple) -> QListWidgetItem:
        pix = self._strips.get(key)
        if pix is None:
            pix = self._strips[key] = _pixmap(event_strip(doc.movie, float(ev.x[i]), float(ev.y[i]), int(ev.frame[i]),
                                                          doc.levels))
        item = QListWidgetItem(QIcon(pix), "")
        item.setData(Qt.UserRole, key[1])
        self._describe(item, ev, i)
        return item

    @staticmethod
    def _describe(item: QListWidgetItem, ev, i: int) -> None:
        """The strip's words (id, frame, confidence, what was decided) and a candidate's faint colour."""
        eid, f = int(ev.extra["id"][i]), int(ev.frame[i])
        candidate = not bool(ev.extra["shown"][i])
        conf = float(ev.extra["confidence"][i]) if "confidence" in ev.extra else float("nan")
        status = {"confirmed": "✓ confirmed", "seen": "✓ seen", "deleted": "✗"}.get(str(ev.extra["status"][i]), "")
        if candidate:
            status = "candidate"
        elif str(ev.extra["origin"][i]) == review.ADDED:
            status = (status + " added").strip()
        text = f"#{eid}  frame {f + 1}" + (f"  confidence {conf:.2f}" if np.isfinite(conf) else "") + \
            (f"  — {status}" if status else "")
        if item.text() != text:
            item.setText(text)
        item.setForeground(QColor("#888888") if candidate else QBrush())

    def _picked(self, item, _previous=None) -> None:
        if self._filling or item is None:
            return
        eid = int(item.data(Qt.UserRole))
        if eid != self.state.selected:
            self.state.select(eid)

    def _selection_changed(self, event_id: Optional[int]) -> None:
        if not self.isVisible():
            return
        row = self._row_of.get(event_id)
        if row is not None and row < self.list.count():
            if self.list.currentRow() != row:
                self._filling = True
                self.list.setCurrentRow(row)
                self._filling = False
            self.list.scrollToItem(self.list.item(row))
