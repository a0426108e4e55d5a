"""The open movies: name, condition, events shown, fully reviewed (a check the user sets). A
click makes a movie current; the check marks its review complete (training needs to know that
every event in it is annotated); the condition (double-click to type it) groups movies in the
analysis."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from exodeep_gui.session.state import ViewerState

HEADERS = ("movie", "cond.", "n", "✓")
NAME, CONDITION, EVENTS, REVIEWED = range(4)


class MovieList(QTableWidget):
    def __init__(self, state: ViewerState, parent=None):
        super().__init__(0, len(HEADERS), parent)
        self.state = state
        self.setHorizontalHeaderLabels(HEADERS)
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setEditTriggers(QAbstractItemView.DoubleClicked | QAbstractItemView.EditKeyPressed)
        self.verticalHeader().hide()
        self.setTextElideMode(Qt.ElideMiddle)        # "cell_2026-11…_03.tif": both ends stay readable
        self.setWordWrap(False)
        header = self.horizontalHeader()
        header.setMinimumSectionSize(18)
        header.setSectionResizeMode(NAME, QHeaderView.Stretch)
        for c in (CONDITION, EVENTS, REVIEWED):
            header.setSectionResizeMode(c, QHeaderView.ResizeToContents)
        self.horizontalHeaderItem(REVIEWED).setToolTip("Every event in this movie is reviewed (needed to train on it)")
        self.horizontalHeaderItem(EVENTS).setToolTip("Events shown (detected and kept, added, confirmed)")
        self.horizontalHeaderItem(CONDITION).setToolTip("The experimental condition (double-click to type it); "
                                                        "the analysis compares conditions")
        self._filling = False
        self.currentCellChanged.connect(lambda row, *_: self._pick(row))
        self.itemChanged.connect(self._item_changed)
        state.movies_changed.connect(self.fill)
        state.movie_changed.connect(lambda _: self._show_current())
        state.review_changed.connect(lambda _: self.fill())
        state.filter_changed.connect(lambda _: self.fill())
        self._shown = None
        self.fill()

    def _signature(self) -> tuple:
        return tuple((id(d), d.name, d.condition, len(self.state.events(d)), d.fully_reviewed)
                     for d in self.state.docs)

    def fill(self) -> None:
        """Rebuild the rows when what they show changed (not at every contrast or line drag), and never
        under an open condition editor."""
        signature = self._signature()
        if signature == self._shown or QAbstractItemView.state(self) == QAbstractItemView.EditingState:
            self._show_current()
            return
        self._shown = signature
        self._filling = True
        try:
            docs = self.state.docs
            self.setRowCount(len(docs))
            for row, doc in enumerate(docs):
                name = QTableWidgetItem(doc.name)
                name.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable)
                name.setToolTip(f"{doc.movie.source or doc.name}\n{doc.movie.n_frames} frames, "
                                f"{doc.movie.shape[2]}×{doc.movie.shape[1]} px")
                condition = QTableWidgetItem(doc.condition)
                condition.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable | Qt.ItemIsEditable)
                count = QTableWidgetItem(str(len(self.state.events(doc))))
                count.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable)
                count.setTextAlignment(int(Qt.AlignRight | Qt.AlignVCenter))
                check = QTableWidgetItem("")
                check.setFlags(Qt.ItemIsUserCheckable | Qt.ItemIsEnabled | Qt.ItemIsSelectable)
                check.setCheckState(Qt.Checked if doc.fully_reviewed else Qt.Unchecked)
                for col, item in zip((NAME, CONDITION, EVENTS, REVIEWED), (name, condition, count, check)):
                    self.setItem(row, col, item)
            self._show_current()
        finally:
            self._filling = False

    def _show_current(self) -> None:
        if self.state.current in self.state.docs:
            row = self.state.docs.index(self.state.current)
            if self.currentRow() != row:
                self.blockSignals(True)
                self.setCurrentCell(row, 0)
                self.blockSignals(False)

    def _pick(self, row: int) -> None:
        if not self._filling and 0 <= row < len(self.state.docs):
            self.state.set_current(self.state.docs[row])

    def _item_changed(self, item) -> None:
        if self._filling or not 0 <= item.row() < len(self.state.docs):
            return
        doc = self.state.docs[item.row()]
        if item.column() == REVIEWED:
            self.state.set_fully_reviewed(doc, item.checkState() == Qt.Checked)
        elif item.column() == CONDITION:
            self.state.set_condition(doc, item.text())
