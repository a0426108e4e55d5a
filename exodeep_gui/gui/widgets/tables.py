"""The event tables' common ground: a sortable, read-only, one-row-at-a-time table view, and the
sort key of a cell (numbers as numbers, unknown values last)."""

from __future__ import annotations

import math

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QTableView


def sort_key(value):
    """What ``Qt.UserRole`` returns for a cell: the value itself; NaN (unknown) after every number."""
    return math.inf if isinstance(value, float) and math.isnan(value) else value


def sortable_table(model) -> tuple:
    """(proxy, view) over ``model``: sorted by the model's ``Qt.UserRole``, whole rows selected,
    one at a time, never edited in place."""
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.setSortRole(Qt.UserRole)
    view = QTableView()
    view.setModel(proxy)
    view.setSortingEnabled(True)
    view.setSelectionBehavior(QAbstractItemView.SelectRows)
    view.setSelectionMode(QAbstractItemView.SingleSelection)
    view.setEditTriggers(QAbstractItemView.NoEditTriggers)
    return proxy, view
