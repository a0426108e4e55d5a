"""pyqtgraph plots set up the same way everywhere: readable axis labels, no SI prefixes on
frames and pixels, a dark background that matches the movie view."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt

def plot_widget(bottom: str, left: str, bottom_units: str = None, title: str = None,
                min_height: int = 120) -> pg.PlotWidget:
    plot = pg.PlotWidget()
    plot.setMinimumHeight(min_height)
    plot.setLabel("bottom", bottom, units=bottom_units)     # (a CSS style here hides the label in pyqtgraph 0.14)
    plot.setLabel("left", left)
    if title:
        plot.setTitle(title, size="10pt")
    for side in ("left", "bottom"):
        plot.getAxis(side).enableAutoSIPrefix(False)
    plot.getPlotItem().setContentsMargins(4, 4, 8, 4)
    return plot


def dashed_line(pos: float, angle: int = 90) -> pg.InfiniteLine:
    return pg.InfiniteLine(pos, angle=angle, pen=pg.mkPen("#888", style=Qt.DashLine))
