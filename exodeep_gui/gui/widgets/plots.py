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


def skip_matplotlib_colormap_scan() -> None:
    """pyqtgraph's colour-map menu (the histogram's right-click menu) imports matplotlib.pyplot just
    to list matplotlib's colour maps under "Others" when matplotlib is installed (it is: the analysis
    report draws with it): 0.31 s more at every start-up, measured, and pyplot picks a Qt backend in
    the window's process. The window does not need that submenu; the named matplotlib maps stay."""
    from pyqtgraph.widgets import ColorMapMenu

    ColorMapMenu.find_mpl_leftovers = lambda: []
