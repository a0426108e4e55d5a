"""Wizard page 1, Data: the open movies with their reviewed events and/or movie files with their
annotation tables; which train, which validate (split by movie, seeded); every problem at once."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QHBoxLayout, QHeaderView, QLabel,
                               QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWizardPage)

from exodeep_gui.gui.training.plan import TRAIN, UNUSED, VALID, TrainingPlan

HEADERS = ("movie", "frames", "events", "fully reviewed", "mask", "use")
INTRO = ("Train on movies whose every event is reviewed: the open ones and those you marked fully reviewed in "
         "earlier sessions (recent files), so that each new model learns from all of them. In a movie only partly "
         "reviewed, the events you have not looked at would teach the model that they are background, so only "
         "<b>fully reviewed</b> movies are used (Review ▸ Movie fully reviewed). Movies are split into training "
         "and validation.")


class DataPage(QWizardPage):
    def __init__(self, plan: TrainingPlan, state, show_in_viewer=None, earlier=None, parent=None):
        super().__init__(parent)
        self.plan, self.state, self.show_in_viewer = plan, state, show_in_viewer
        self.earlier = earlier or (lambda: [])     # movies reviewed in earlier sessions (recent files)
        self.setTitle("1. Data: the movies to learn from")
        self.setAcceptDrops(True)
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        self.add_button = QPushButton("Add movies with annotations…")
        self.add_button.setToolTip("Movie files with their annotation table beside them (NAME.csv with X, Y, "
                                   "Slice, or the reference's NAME.xml); a cell mask NAME_mask.tif is used if there")
        self.add_button.clicked.connect(self.add_dialog)
        self.split_button = QPushButton("New split")
        self.split_button.setToolTip("Draw another random split of the movies into training and validation")
        self.split_button.clicked.connect(self.new_split)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Leave the selected movie out of the list")
        self.remove_button.clicked.connect(self._remove_selected)
        self.view_button = QPushButton("Show in viewer")
        self.view_button.setToolTip("Open the selected movie in the window with its annotations")
        self.view_button.clicked.connect(self._show_selected)
        self.problems = QLabel("")
        self.problems.setWordWrap(True)
        self.problems.setObjectName("problems")
        self.problems.setStyleSheet("color: #b00020")
        self.notes = QLabel("")
        self.notes.setWordWrap(True)
        buttons = QHBoxLayout()
        for b in (self.add_button, self.remove_button, self.split_button, self.view_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.problems)
        layout.addWidget(self.notes)

    def initializePage(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        """The window's movies as they are now: each fully reviewed movie with the set that was
        reviewed (never re-filtered), roles kept where they still apply."""
        self.plan.refresh_docs(self.state.docs, self.state.training_events, self.earlier())
        self.fill()

    # ---- rows
    def add_paths(self, paths) -> None:
        for p in paths:
            self.plan.add_file(p)
        self.plan.split()
        self.fill()

    def add_dialog(self) -> None:
        start = next((str(Path(d.movie.source).parent) for d in [self.state.current] if d is not None and
                      d.movie.source is not None), str(Path.home()))
        paths, _ = QFileDialog.getOpenFileNames(self, "Movies with annotations beside them", start,
                                                "Movies (*.tif *.tiff *.ome.tif *.nd2 *.h5);;All files (*)")
        if paths:
            self.add_paths(paths)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        movies = [p for p in paths if not p.lower().endswith((".csv", ".xml", ".txt"))]
        if movies:
            event.acceptProposedAction()
            self.add_paths(movies)

    def new_split(self) -> None:
        self.plan.seed += 1
        self.plan.refresh_docs(self.state.docs, self.state.training_events, self.earlier())
        self.plan.split()
        self.fill()

    def fill(self) -> None:
        self.table.setRowCount(len(self.plan.rows))
        for i, r in enumerate(self.plan.rows):
            cells = (r.name, str(r.shape[0]) if r.shape[0] else "?", str(r.n_events), "yes" if r.reviewed else "no",
                     r.mask.name if r.mask else "—")
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if r.problem:
                    item.setToolTip(r.problem)
                self.table.setItem(i, c, item)
            role = QComboBox()
            role.addItems([TRAIN, VALID, UNUSED])
            role.setCurrentText(r.role)
            role.setEnabled(r.usable)
            role.currentTextChanged.connect(lambda text, r=r: self._set_role(r, text))
            self.table.setCellWidget(i, 5, role)
        self._check()

    def _set_role(self, row, role: str) -> None:
        row.role = role
        self._check()

    def _check(self) -> None:
        problems = self.plan.problems()
        self.problems.setText("\n".join("• " + p for p in problems))
        self.notes.setText("\n".join(self.plan.warnings()))
        n_train = sum(r.n_events for r in self.plan.rows if r.role == TRAIN)
        n_valid = sum(r.n_events for r in self.plan.rows if r.role == VALID)
        m_train, m_valid = (sum(r.role == role for r in self.plan.rows) for role in (TRAIN, VALID))
        self.setSubTitle(f"Training: {n_train} events in {m_train} movie{'' if m_train == 1 else 's'}; "
                         f"validation: {n_valid} events in {m_valid} movie{'' if m_valid == 1 else 's'}.")
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return not self.plan.problems()

    def _remove_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.plan.remove(rows[0].row())
            self.fill()

    def _show_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows and self.show_in_viewer is not None:
            r = self.plan.rows[rows[0].row()]
            if r.movie_path is not None:
                self.show_in_viewer(Path(r.movie_path), r.annotations)

    def unused_count(self) -> int:
        return sum(r.role == UNUSED for r in self.plan.rows)

