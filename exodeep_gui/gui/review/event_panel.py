"""Review: the event table (sortable; click a row to jump and centre), delete/add/undo, the
intensity trace of the selected event, and precision/recall/F1 against imported annotations."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableView,
                               QVBoxLayout, QWidget)

from exodeep_gui.core.evaluate import evaluate_events
from exodeep_gui.core.kymograph import event_trace
from exodeep_gui.core.state import ViewerState

COLUMNS = ("id", "x", "y", "frame", "time (s)", "score", "size")


class EventTableModel(QAbstractTableModel):
    def __init__(self, state: ViewerState):
        super().__init__()
        self.state = state
        self.table = state.events()

    def refresh(self) -> None:
        self.beginResetModel()
        self.table = self.state.events()
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.table)

    def columnCount(self, parent=QModelIndex()) -> int:
        return len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if role == Qt.DisplayRole and orientation == Qt.Horizontal:
            return COLUMNS[section]
        return None

    def value(self, row: int, col: int):
        t = self.table
        dt = self.state.current.movie.frame_interval_s if self.state.current else None
        return (row + 1, float(t.x[row]), float(t.y[row]), int(t.frame[row]) + 1,
                float(t.frame[row] * dt) if dt else float("nan"), float(t.score[row]), int(t.size[row]))[col]

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        v = self.value(index.row(), index.column())
        if role == Qt.DisplayRole:
            return f"{v:.1f}" if isinstance(v, float) and index.column() in (1, 2) else (
                f"{v:.2f}" if isinstance(v, float) else str(v))
        if role == Qt.UserRole:
            return v
        if role == Qt.TextAlignmentRole:
            return int(Qt.AlignRight | Qt.AlignVCenter)
        return None


class EventPanel(QWidget):
    center_on = Signal(float, float)

    def __init__(self, state: ViewerState, parent=None):
        super().__init__(parent)
        self.state = state
        self.model = EventTableModel(state)
        self.proxy = QSortFilterProxyModel()
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.UserRole)
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.view.verticalHeader().hide()
        self.view.clicked.connect(self._clicked)
        self.delete_button = QPushButton("Delete event")
        self.delete_button.setToolTip("Delete the selected event (Del)")
        self.delete_button.clicked.connect(self.delete_selected)
        self.undo_button = QPushButton("Undo")
        self.undo_button.clicked.connect(state.undo)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.trace = pg.PlotWidget()
        self.trace.setLabel("bottom", "frames from the event")
        self.trace.setLabel("left", "mean 7×7 intensity")
        self.trace.setMaximumHeight(180)
        self.trace.getAxis("bottom").enableAutoSIPrefix(False)
        self.trace.setXRange(-10, 30)
        self.trace_curve = self.trace.plot([], [], pen=pg.mkPen("#ffd000", width=2))
        self.trace.addItem(pg.InfiniteLine(0, angle=90, pen=pg.mkPen("#888", style=Qt.DashLine)))

        buttons = QHBoxLayout()
        buttons.addWidget(self.delete_button)
        buttons.addWidget(self.undo_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.trace)
        state.events_changed.connect(self.refresh)
        state.selection_changed.connect(self._selection_changed)
        self.refresh()

    def refresh(self) -> None:
        self.model.refresh()
        doc = self.state.current
        ev = self.model.table
        text = f"{len(ev)} events" if doc is not None else "No movie open"
        if doc is not None and doc.annotations is not None:
            s = evaluate_events(doc.annotations, ev)
            text += (f" — against {len(doc.annotations)} annotations: precision {s.precision:.2f}, "
                     f"recall {s.recall:.2f}, F1 {s.f1:.2f}")
        self.summary.setText(text)
        self.trace_curve.setData([], [])

    def _row(self, proxy_index) -> int:
        return self.proxy.mapToSource(proxy_index).row()

    def _clicked(self, proxy_index) -> None:
        row = self._row(proxy_index)
        self.state.select(row)
        ev = self.model.table
        if 0 <= row < len(ev):
            self.center_on.emit(float(ev.x[row]), float(ev.y[row]))

    def _selection_changed(self, row) -> None:
        doc, ev = self.state.current, self.model.table
        if doc is None or row is None or not 0 <= row < len(ev):
            self.trace_curve.setData([], [])
            return
        t, values = event_trace(doc.movie.data, ev.x[row], ev.y[row], int(ev.frame[row]))
        self.trace_curve.setData(t, values)
        src = self.model.index(row, 0)
        self.view.selectRow(self.proxy.mapFromSource(src).row())

    def delete_selected(self) -> None:
        rows = self.view.selectionModel().selectedRows()
        if rows:
            self.state.delete_event(self._row(rows[0]))
        elif self.state.selected is not None:
            self.state.delete_event(self.state.selected)
