"""The movie viewer: current frame with fixed contrast (histogram/LUT), zoom/pan, frame bar
with play/pause, event overlay, kymograph polyline, and the value under the cursor.
Bound to :class:`~exodeep_gui.session.state.ViewerState`."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QPushButton, QSlider, QSpinBox, QToolButton, QVBoxLayout,
                               QWidget)

from exodeep_gui.session.state import ViewerState, auto_levels
from exodeep_gui.gui.widgets.plots import skip_matplotlib_colormap_scan

MARKER_FRAMES = 3          # an event is drawn from 3 frames before to 3 after its frame


class MovieView(QWidget):
    hover = Signal(str)
    add_mode_changed = Signal(bool)       # adding by clicking turned on or off (off after each addition)

    def __init__(self, state: ViewerState, parent=None):
        super().__init__(parent)
        self.state = state
        self.add_mode = False
        self._updating_levels = False

        self.canvas = pg.GraphicsLayoutWidget()
        self.view = self.canvas.addViewBox(lockAspect=True, invertY=True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.events_item = pg.ScatterPlotItem(symbol="o", size=16, brush=None, pen=pg.mkPen("#ffd000", width=2))
        self.selected_item = pg.ScatterPlotItem(symbol="o", size=24, brush=None, pen=pg.mkPen("#ff3030", width=3))
        self.truth_item = pg.ScatterPlotItem(symbol="+", size=14, pen=pg.mkPen("#30ff60", width=2))
        # candidates (the model is unsure): faint dashed circles until the reviewer accepts or rejects them
        self.candidates_item = pg.ScatterPlotItem(symbol="o", size=16, brush=None,
                                                  pen=pg.mkPen((200, 200, 200, 150), width=1, style=Qt.DashLine))
        self.mask_item = pg.ImageItem(axisOrder="row-major")       # the cell mask's outline (analysis)
        for item in (self.mask_item, self.candidates_item, self.events_item, self.truth_item, self.selected_item):
            self.view.addItem(item)
        skip_matplotlib_colormap_scan()
        self.histogram = pg.HistogramLUTItem(image=self.image)
        # the histogram is computed once per movie (middle frame), not at every frame drawn
        self.image.sigImageChanged.disconnect(self.histogram.imageChanged)
        self.canvas.addItem(self.histogram)
        self.histogram.sigLevelsChanged.connect(self._levels_from_histogram)
        self.canvas.scene().sigMouseMoved.connect(self._mouse_moved)
        self.canvas.scene().sigMouseClicked.connect(self._mouse_clicked)

        self.play_button = QToolButton(text="▶")
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self._toggle_play)
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setToolTip("Frame (←/→, Home/End)")
        self.slider.valueChanged.connect(state.set_frame)
        self.frame_box = QSpinBox()
        self.frame_box.setToolTip("Frame (1-based, as Fiji's Slice)")
        self.frame_box.setPrefix("frame ")
        self.frame_box.valueChanged.connect(lambda v: state.set_frame(v - 1))
        self.time_label = QLabel()
        self.time_label.setMinimumWidth(90)
        self.fps_box = QSpinBox(minimum=1, maximum=200, value=20, suffix=" fps")
        self.fps_box.setToolTip("Playing speed")
        self.fps_box.valueChanged.connect(self._set_fps)
        self.auto_button = QPushButton("Auto contrast")
        self.auto_button.setToolTip("Contrast from the 0.5–99.8 percentiles of this frame (C)")
        self.auto_button.clicked.connect(self.auto_contrast)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._advance)
        self._set_fps(self.fps_box.value())

        controls = QHBoxLayout()
        controls.setContentsMargins(4, 0, 4, 2)
        for w in (self.play_button, self.frame_box, self.time_label):
            controls.addWidget(w)
        controls.addStretch(1)
        controls.addWidget(self.fps_box)
        controls.addWidget(self.auto_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.slider)                 # the whole width of the movie view
        layout.addLayout(controls)

        state.movie_changed.connect(self._movie_changed)
        state.frame_changed.connect(self._frame_changed)
        state.levels_changed.connect(self._levels_changed)
        # the kymograph line follows every drag (its kymograph updates live); the cell outline is
        # written when a drag ends
        self.line_shape = _ShapeOnMovie(self.view, state.set_line, closed=False, live=True)
        self.cell_shape = _ShapeOnMovie(self.view, state.set_cell, closed=True, live=False)
        state.line_changed.connect(self.line_shape.show)
        state.cell_changed.connect(self.cell_shape.show)
        state.events_changed.connect(self._overlay)
        state.selection_changed.connect(lambda _: self._overlay())
        self._movie_changed(state.current)

    # ---- what the window asks of the viewer
    def take_keys(self) -> None:
        """The movie takes the keyboard focus (after a value was typed in a box), so that the window's
        one-key shortcuts reach their actions instead of the box's text field."""
        self.canvas.setFocus(Qt.OtherFocusReason)

    def fps(self) -> int:
        return self.fps_box.value()

    def set_fps(self, fps: int) -> None:
        self.fps_box.setValue(int(fps))

    def toggle_play(self) -> None:
        self.play_button.toggle()

    def set_mask_outline(self, mask) -> None:
        """Outline ``mask`` (bool, frame-shaped) on the movie, or remove the outline (None)."""
        if mask is None:
            self.mask_item.clear()
            return
        from scipy import ndimage

        edge = np.asarray(mask, bool) & ~ndimage.binary_erosion(np.asarray(mask, bool))
        rgba = np.zeros(edge.shape + (4,), np.uint8)
        rgba[edge] = (0, 230, 255, 200)
        self.mask_item.setImage(rgba, autoLevels=False, levels=(0, 255))

    def set_add_mode(self, on: bool) -> None:
        """While on, a click on the movie adds an event there at the current frame (once: the mode
        ends with the addition, or with Esc); the cursor is a cross meanwhile."""
        if self.add_mode == bool(on):
            return
        self.add_mode = bool(on)
        if on:
            self.canvas.viewport().setCursor(Qt.CrossCursor)
        else:
            self.canvas.viewport().unsetCursor()
        self.add_mode_changed.emit(self.add_mode)

    def stop_playing(self) -> None:
        self.play_button.setChecked(False)

    def center_on(self, x: float, y: float) -> None:
        (x0, x1), (y0, y1) = self.view.viewRange()
        w, h = x1 - x0, y1 - y0
        if not (x0 + 0.1 * w <= x <= x1 - 0.1 * w and y0 + 0.1 * h <= y <= y1 - 0.1 * h):
            self.view.setRange(xRange=(x - w / 2, x + w / 2), yRange=(y - h / 2, y + h / 2), padding=0)

    # ---- state → view
    def _movie_changed(self, doc) -> None:
        self.play_button.setChecked(False)
        enabled = doc is not None
        for w in (self.slider, self.frame_box, self.play_button, self.auto_button):
            w.setEnabled(enabled)
        if doc is None:
            self.image.clear()
            self.time_label.setText("")
            return
        n = doc.movie.n_frames
        self.slider.blockSignals(True)
        self.slider.setRange(0, n - 1)
        self.slider.blockSignals(False)
        self.frame_box.blockSignals(True)
        self.frame_box.setRange(1, n)
        self.frame_box.blockSignals(False)
        self._show_frame(self.state.frame)
        self.histogram.imageChanged(autoLevel=False)
        self._levels_changed(doc.levels)
        h, w = doc.movie.shape[1:]
        self.view.setRange(xRange=(0, w), yRange=(0, h), padding=0.02)

    def _show_frame(self, frame: int) -> None:
        doc = self.state.current
        if doc is None:
            return
        self.image.setImage(doc.movie.frame(frame), autoLevels=False, levels=doc.levels)

    def _frame_changed(self, frame: int) -> None:
        doc = self.state.current
        if doc is None:
            return
        self._show_frame(frame)
        for w, v in ((self.slider, frame), (self.frame_box, frame + 1)):
            if w.value() != v:
                w.blockSignals(True)
                w.setValue(v)
                w.blockSignals(False)
        dt = doc.movie.frame_interval_s
        self.time_label.setText(f"{frame * dt:8.2f} s" if dt else f"frame {frame + 1}/{doc.movie.n_frames}")
        self._overlay()

    def _levels_changed(self, levels) -> None:
        if levels is None:
            return
        self._updating_levels = True
        self.image.setLevels(levels)
        self.histogram.setLevels(*levels)
        self._updating_levels = False

    def _levels_from_histogram(self) -> None:
        if not self._updating_levels and self.state.current is not None:
            self.state.set_levels(self.histogram.getLevels())

    def auto_contrast(self) -> None:
        doc = self.state.current
        if doc is not None:
            self.state.set_levels(auto_levels(doc.movie.frame(self.state.frame)))

    def _overlay(self) -> None:
        ev = self.state.reviewable()
        f = self.state.frame
        near = np.abs(ev.frame - f) <= MARKER_FRAMES if len(ev) else np.zeros(0, bool)
        shown = ev.extra["shown"] if len(ev) else np.zeros(0, bool)
        self.events_item.setData(ev.x[near & shown], ev.y[near & shown])
        self.candidates_item.setData(ev.x[near & ~shown], ev.y[near & ~shown])
        doc = self.state.current
        truth = doc.annotations if doc is not None else None
        if truth is not None and len(truth):
            tn = np.abs(truth.frame - f) <= MARKER_FRAMES
            self.truth_item.setData(truth.x[tn], truth.y[tn])
        else:
            self.truth_item.setData([], [])
        row = self.state.selected_index()
        if row is not None:
            self.selected_item.setData([ev.x[row]], [ev.y[row]])
        else:
            self.selected_item.setData([], [])

    # ---- playing
    def _set_fps(self, fps: int) -> None:
        self.timer.setInterval(max(1, int(1000 / fps)))

    def _toggle_play(self, on: bool) -> None:
        self.play_button.setText("⏸" if on else "▶")
        if on:
            self.timer.start()
        else:
            self.timer.stop()

    def _advance(self) -> None:
        doc = self.state.current
        if doc is None:
            self.play_button.setChecked(False)
            return
        self.state.set_frame((self.state.frame + 1) % doc.movie.n_frames)

    @property
    def roi(self) -> Optional[pg.PolyLineROI]:
        return self.line_shape.roi

    @property
    def cell_roi(self) -> Optional[pg.PolyLineROI]:
        return self.cell_shape.roi

    # ---- kymograph line (each movie keeps its own, in the state)
    def start_line(self, points=None) -> None:
        doc = self.state.current
        if doc is None:
            return
        h, w = doc.movie.shape[1:]
        if points is None:
            points = [[w * 0.2, h * 0.5], [w * 0.8, h * 0.5]]
        self.state.set_line(points)

    def clear_line(self) -> None:
        self.state.set_line(None)

    # ---- the cell outline (a closed polygon; each movie keeps its own, in the state)
    def start_cell(self, points=None) -> None:
        """An editable outline of the cell: drag its handles, click an edge to add a vertex."""
        doc = self.state.current
        if doc is None:
            return
        if points is None:                        # an ellipse inset from the frame's edges
            h, w = doc.movie.shape[1:]
            a = np.linspace(0, 2 * np.pi, 12, endpoint=False)
            points = np.column_stack([w / 2 + 0.38 * w * np.cos(a), h / 2 + 0.38 * h * np.sin(a)])
        self.state.set_cell(points)

    def clear_cell(self) -> None:
        self.state.set_cell(None)

    # ---- mouse
    def _image_pos(self, scene_pos):
        p = self.view.mapSceneToView(scene_pos)
        return p.x(), p.y()

    def _mouse_moved(self, scene_pos) -> None:
        doc = self.state.current
        if doc is None:
            return
        x, y = self._image_pos(scene_pos)
        h, w = doc.movie.shape[1:]
        xi, yi = int(np.floor(x)), int(np.floor(y))
        shown = self.image.image                # the frame on screen: no re-read of the movie
        if shown is not None and 0 <= xi < w and 0 <= yi < h:
            value = shown[yi, xi]
            self.hover.emit(f"x {xi}  y {yi}  frame {self.state.frame + 1}  value {value}")

    def _mouse_clicked(self, event) -> None:
        if not self.add_mode or self.state.current is None or event.button() != Qt.LeftButton:
            return
        x, y = self._image_pos(event.scenePos())
        h, w = self.state.current.movie.shape[1:]
        if 0 <= x < w and 0 <= y < h:
            self.state.add_event(x, y, self.state.frame)
            event.accept()
            self.set_add_mode(False)


class _ShapeOnMovie:
    """A polyline drawn on the movie that belongs to the state (the kymograph line, the cell
    outline): shown when the state says so, written back through ``write`` when dragged."""

    def __init__(self, view, write, closed: bool, live: bool):
        self.view, self.write, self.closed, self.live = view, write, closed, live
        self.roi: Optional[pg.PolyLineROI] = None
        self._dragging = False

    def show(self, points) -> None:
        if self._dragging:
            return                          # the state echoes what the handles just did
        if self.roi is not None:
            self.view.removeItem(self.roi)
            self.roi = None
        if points is not None and len(points) >= (3 if self.closed else 2):
            pen = pg.mkPen("#00e0ff", width=2, style=Qt.DashLine if self.closed else Qt.SolidLine)
            self.roi = pg.PolyLineROI([list(p) for p in points], closed=self.closed, pen=pen)
            (self.roi.sigRegionChanged if self.live else self.roi.sigRegionChangeFinished).connect(self._moved)
            self.view.addItem(self.roi)

    def _moved(self) -> None:
        if self.roi is None:
            return
        pts = [self.roi.mapToParent(h.pos()) for h in self.roi.getHandles()]
        self._dragging = True
        try:
            self.write([[p.x(), p.y()] for p in pts])
        finally:
            self._dragging = False
