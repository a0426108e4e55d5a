"""The per-event measurements of one movie as a sortable table model (id first, then the
analysis columns in the movie's units); a row knows its event id."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt

from exodeep_gui.gui.widgets.tables import sort_key

HIDDEN = ("F0",)


class MeasurementModel(QAbstractTableModel):
    def __init__(self):
        super().__init__()
        self.analysis = None
        self.names: list = []

    def set_analysis(self, analysis) -> None:
        self.beginResetModel()
        self.analysis = analysis
        self.names = [] if analysis is None else ["id", "Slice"] + [c for c in analysis.columns if c not in HIDDEN]
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() or self.analysis is None else len(self.analysis)

    def columnCount(self, parent=QModelIndex()) -> int:
        return len(self.names)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if role == Qt.DisplayRole and orientation == Qt.Horizontal:
            return self.names[section]
        return None

    def event_id(self, row: int) -> int:
        return int(self.analysis.ids()[row])

    def row_of(self, event_id) -> int:
        i = self.analysis.index_of(event_id) if self.analysis is not None else None
        return -1 if i is None else i

    def value(self, row: int, col: int):
        a, name = self.analysis, self.names[col]
        if name == "id":
            return int(a.ids()[row])
        if name == "Slice":
            return int(a.events.frame[row]) + 1
        v = a.columns[name][row]
        return str(v) if isinstance(v, (str, np.str_)) else float(v)

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        v = self.value(index.row(), index.column())
        if role == Qt.DisplayRole:
            if isinstance(v, float):
                if math.isnan(v):
                    return ""
                return f"{v:.0f}" if v.is_integer() and abs(v) > 1 else f"{v:.3g}"
            return v
        if role == Qt.UserRole:                    # sort key: numbers as numbers, NaN last
            return sort_key(v)
        if role == Qt.ToolTipRole and self.names[index.column()] == "fit_note" and v:
            return v
        return None
