"""pyqtgraph plots of the Analysis panel: the selected event's ΔF/F0 trace with its decay fit,
the events over time, and Ripley's L(r) − r with its CSR envelope."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from exodeep_gui.gui.widgets.plots import dashed_line, plot_widget


class TracePlot:
    def __init__(self):
        self.widget = plot_widget("time from the event", "ΔF/F0", title="Selected event")
        self.curve = self.widget.plot([], [], pen=pg.mkPen("#4fc3f7", width=2), symbol="o", symbolSize=4,
                                      symbolBrush="#4fc3f7", name="trace")
        self.fit = self.widget.plot([], [], pen=pg.mkPen("#ff7043", width=2), name="fit")
        self.widget.addItem(dashed_line(0.0))

    def show(self, analysis, i) -> None:
        if analysis is None or i is None:
            self.curve.setData([], [])
            self.fit.setData([], [])
            self.widget.setTitle("Selected event: none", size="10pt")
            return
        t, y, tf, yf = analysis.trace(i)
        ok = np.isfinite(y)
        self.curve.setData(t[ok], y[ok])
        self.fit.setData([] if tf is None else tf, [] if yf is None else yf)
        u, c = analysis.units, analysis.columns
        th = c[u.t("t_half")][i]
        text = f"event {int(analysis.ids()[i])}: ΔF/F0 {c['dF_F0'][i]:.3g}"
        text += f", t½ {th:.3g} {u.time_unit}, R² {c['decay_r2'][i]:.2f}" if np.isfinite(th) else ""
        note = c["fit_note"][i]
        self.widget.setTitle(text + (f" — {note}" if note else ""), size="9pt")
        self.widget.setLabel("bottom", f"time from the event ({u.time_unit})")


class TimePlot:
    def __init__(self):
        self.widget = plot_widget("time", "events", title="Events over time")
        self.bars = None

    def show(self, analysis) -> None:
        if self.bars is not None:
            self.widget.removeItem(self.bars)
            self.bars = None
        if analysis is None:
            self.widget.setLabel("bottom", "time")
            return
        e, c = analysis.time_edges, analysis.time_counts
        self.bars = pg.BarGraphItem(x0=e[:-1], x1=e[1:], height=c, brush="#7986cb", pen="w")
        self.widget.addItem(self.bars)
        self.widget.setLabel("bottom", f"time ({analysis.units.time_unit})")


class RipleyPlot:
    def __init__(self):
        self.widget = plot_widget("r", "L(r) − r", title="Ripley (CSR envelope)")
        self.low = self.widget.plot([], [], pen=pg.mkPen("#888"))
        self.high = self.widget.plot([], [], pen=pg.mkPen("#888"))
        self.band = pg.FillBetweenItem(self.low, self.high, brush=pg.mkBrush(150, 150, 150, 80))
        self.widget.addItem(self.band)
        self.curve = self.widget.plot([], [], pen=pg.mkPen("#f06292", width=2))

    def show(self, analysis) -> None:
        if analysis is None or not np.isfinite(analysis.ripley.L_minus_r).any():
            for item in (self.low, self.high, self.curve):
                item.setData([], [])
            self.widget.setTitle("Ripley (CSR envelope)" if analysis is None else
                                 f"Ripley, n = {analysis.ripley.n}: too few events", size="9pt")
            return
        u, rp = analysis.units, analysis.ripley
        r = u.length(rp.r)
        self.low.setData(r, u.length(rp.low))
        self.high.setData(r, u.length(rp.high))
        self.curve.setData(r, u.length(rp.L_minus_r))
        self.widget.setLabel("bottom", f"r ({u.length_label})")
        self.widget.setTitle(f"Ripley, n = {rp.n}: {rp.verdict}", size="9pt")
