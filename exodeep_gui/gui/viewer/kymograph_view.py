"""The kymograph beside the movie: time × distance along the line, a cursor at the current
frame, detected events near the line marked; a click jumps to that frame; export as TIFF/PNG."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from exodeep_gui.core.kymograph import events_near_line, kymograph
from exodeep_gui.session.state import ViewerState
from exodeep_gui.gui.widgets.plots import plot_widget


class KymographView(QWidget):
    """Frames are counted from 1 on its axis, as in the frame box and Fiji's Slice: the kymograph's
    row ``r`` (frame ``r`` counted from 0) is drawn at ``r + 1``."""

    def __init__(self, state: ViewerState, parent=None):
        super().__init__(parent)
        self.state = state
        self.data: np.ndarray = None
        self.plot = plot_widget("distance along the line", "frame (1-based, as Fiji's Slice)", bottom_units="px",
                                title="Kymograph (K puts a line on the movie; drag its ends)", min_height=200)
        self.plot.invertY(True)
        self.plot.setRange(xRange=(0, 100), yRange=(0, 100))
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.cursor = pg.InfiniteLine(angle=0, pen=pg.mkPen("#ff3030", width=1))
        self.plot.addItem(self.cursor)
        self.marks = pg.ScatterPlotItem(symbol="o", size=10, brush=None, pen=pg.mkPen("#ffd000", width=2))
        self.plot.addItem(self.marks)
        self.plot.scene().sigMouseClicked.connect(self._clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        state.line_changed.connect(lambda _: self.update_kymograph())
        state.levels_changed.connect(lambda _: self.update_kymograph(recompute=False))
        state.frame_changed.connect(lambda f: self.cursor.setValue(f + 1))
        state.events_changed.connect(self._marks)
        state.movie_changed.connect(lambda _: self.update_kymograph())

    def update_kymograph(self, recompute: bool = True) -> None:
        doc, line = self.state.current, self.state.line
        if doc is None or line is None or len(line) < 2:
            self.data = None
            self.image.clear()
            self.marks.setData([], [])
            frames = doc.movie.n_frames if doc is not None else 100
            self.plot.setXRange(0, 100, padding=0)       # this movie's frames, not the last line's
            self.plot.setYRange(0.5, frames + 0.5, padding=0)
            return
        if recompute or self.data is None:
            self.data = kymograph(doc.movie.data, line)
        self.image.setImage(self.data, autoLevels=False, levels=doc.levels)
        self.image.setRect(0, 0.5, self.data.shape[1], self.data.shape[0])
        if recompute:
            self.plot.setXRange(0, self.data.shape[1], padding=0.02)
            self.plot.setYRange(0.5, self.data.shape[0] + 0.5, padding=0)
        self.cursor.setValue(self.state.frame + 1)
        self._marks()

    def frame_range(self) -> tuple:
        """The first and last frame (1-based) the frame axis shows."""
        lo, hi = self.plot.getViewBox().viewRange()[1]
        return int(np.ceil(lo)), int(np.floor(hi))

    def _marks(self) -> None:
        if self.data is None or self.state.line is None:
            self.marks.setData([], [])
            return
        ev = self.state.events()
        idx, dist = events_near_line(ev, self.state.line)
        self.marks.setData(dist + 0.5, ev.frame[idx].astype(float) + 1)

    def save_png(self, path) -> bool:
        return self.plot.grab().save(str(path))

    def _clicked(self, event) -> None:
        if self.data is None or event.button() != Qt.LeftButton:
            return
        p = self.plot.getViewBox().mapSceneToView(event.scenePos())
        if 0 <= p.x() <= self.data.shape[1]:
            self.state.set_frame(int(round(p.y())) - 1)      # the axis counts from 1
