"""The main window: wiring only. Panels own their widgets and bind to one ViewerState."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable, Optional

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QListWidget, QMainWindow, QMessageBox, QSplitter)

from exodeep_gui import __version__
from exodeep_gui.core.state import ViewerState
from exodeep_gui.gui import files
from exodeep_gui.gui.detection_panel import DetectionPanel
from exodeep_gui.gui.dialogs import show_error
from exodeep_gui.gui.event_panel import EventPanel
from exodeep_gui.gui.kymograph_view import KymographView
from exodeep_gui.gui.movie_view import MovieView
from exodeep_gui.gui.settings import Settings
from exodeep_gui.io.atomic import OutputError, OutputExists

log = logging.getLogger("exodeep")
MOVIE_FILTER = "Movies (*.tif *.tiff *.ome.tif *.nd2 *.h5 *.hdf5);;All files (*)"


class MainWindow(QMainWindow):
    def __init__(self, settings: Optional[Settings] = None, state: Optional[ViewerState] = None):
        super().__init__()
        self.settings = settings or Settings()
        self.state = state or ViewerState()
        self.setWindowTitle(f"ExoDeep {__version__}")
        self.setAcceptDrops(True)
        self.resize(1400, 860)

        self.movie_view = MovieView(self.state)
        self.kymo_view = KymographView(self.state)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(self.movie_view)
        split.addWidget(self.kymo_view)
        split.setSizes([900, 300])
        self.setCentralWidget(split)

        self.movie_list = QListWidget()
        self.movie_list.setMaximumWidth(260)
        self.movie_list.currentRowChanged.connect(self._pick_movie)
        self.detection = DetectionPanel(self.state)
        self.events = EventPanel(self.state)
        movies = self._dock("Movies", self.movie_list, Qt.LeftDockWidgetArea)
        det = self._dock("Detection", self.detection, Qt.RightDockWidgetArea)
        evs = self._dock("Events", self.events, Qt.RightDockWidgetArea)
        self.resizeDocks([movies, det], [170, 430], Qt.Horizontal)
        self.resizeDocks([det, evs], [230, 600], Qt.Vertical)

        self.detection.error.connect(lambda m, d: show_error(self, m, d))
        self.detection.threshold.setValue(self.settings.threshold)
        self.detection.min_size.setValue(self.settings.min_size)
        if self.settings.model:
            self.detection.set_model(self.settings.model)
        self.movie_view.fps_box.setValue(self.settings.fps)
        self.movie_view.hover.connect(lambda text: self.statusBar().showMessage(text))
        self.events.center_on.connect(self._center_on)
        self.state.movies_changed.connect(self._movies_changed)
        self._build_menus()
        self._restore_layout()
        self.statusBar().showMessage("Drag TIFF movies (or folders of frames) onto the window, or use File > Open.")

    def _dock(self, title, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    # ---- menus and shortcuts
    def _action(self, menu, text, slot, shortcut=None, checkable=False) -> QAction:
        act = QAction(text, self, checkable=checkable)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
        act.triggered.connect(slot)
        menu.addAction(act)
        return act

    def _build_menus(self) -> None:
        bar = self.menuBar()
        f = bar.addMenu("&File")
        self._action(f, "&Open movies…", self.open_dialog, QKeySequence.Open)
        self.recent_menu = f.addMenu("Open &recent")
        self._fill_recent()
        f.addSeparator()
        self._action(f, "&Import annotations (CSV X, Y, Slice)…", self.import_annotations_dialog)
        self._action(f, "&Export results of this movie…", self.export_dialog, "Ctrl+E")
        self._action(f, "Export results of &all movies…", lambda: self.export_dialog(all_movies=True))
        self._action(f, "Export &kymograph…", self.export_kymograph_dialog)
        self._action(f, "Save &snapshot of the view…", self.snapshot_dialog)
        f.addSeparator()
        self._action(f, "&Close movie", self.close_current, QKeySequence.Close)
        self._action(f, "&Quit", self.close, QKeySequence.Quit)
        e = bar.addMenu("&Edit")
        self._action(e, "&Undo", self.state.undo, QKeySequence.Undo)
        self._action(e, "&Delete selected event", self.events.delete_selected, QKeySequence.Delete)
        self.add_action = self._action(e, "&Add events by clicking", self._toggle_add, "A", checkable=True)
        v = bar.addMenu("&View")
        self._action(v, "&Kymograph line", lambda: self.movie_view.start_line(), "K")
        self._action(v, "&Remove kymograph line", self.movie_view.clear_line)
        self._action(v, "&Auto contrast", self.movie_view.auto_contrast, "C")
        self._action(v, "&Play / pause", lambda: self.movie_view.play_button.toggle(), "Space")
        for key, step in ((Qt.Key_Right, 1), (Qt.Key_Left, -1)):
            self._action(v, "Next frame" if step > 0 else "Previous frame",
                         lambda _=False, s=step: self.state.set_frame(self.state.frame + s), key)
        self._action(v, "First frame", lambda: self.state.set_frame(0), Qt.Key_Home)
        self._action(v, "Last frame", lambda: self.state.set_frame(10 ** 9), Qt.Key_End)
        d = bar.addMenu("&Detect")
        self._action(d, "Detect events in &this movie", lambda: self.detection.run(), "Ctrl+D")
        self._action(d, "Detect events in &all movies", lambda: self.detection.run(all_movies=True), "Ctrl+Shift+D")
        self._action(d, "&Cancel detection", self.detection.cancel, "Ctrl+.")
        d.addSeparator()
        self._action(d, "Choose a &model folder…", self.detection.choose_folder)
        h = bar.addMenu("&Help")
        self._action(h, "&About ExoDeep", self._about)

    def _toggle_add(self, on: bool) -> None:
        self.movie_view.add_mode = on
        self.statusBar().showMessage("Click on the movie to add an event at the current frame." if on else "")

    def _about(self) -> None:
        QMessageBox.about(self, "About ExoDeep",
                          f"ExoDeep {__version__}\nFinds exocytosis events in TIRF movies with a 2D+time "
                          "U-Net after ExoDeepFinder (Lachuer et al., PLoS Comput Biol 2025).\nGPL-3.0-or-later.")

    # ---- movies
    def open_paths(self, paths: Iterable) -> int:
        movies, errors = files.open_movies(paths)
        for m in movies:
            self.state.add_movie(m)
            self.settings.add_recent(m.source)
        self._fill_recent()
        if errors:
            show_error(self, "Some files could not be opened:\n" + "\n".join(errors))
        return len(movies)

    def open_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open movies", self.settings.last_open_dir, MOVIE_FILTER)
        if paths:
            self.settings.last_open_dir = str(Path(paths[0]).parent)
            self.open_paths(paths)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.settings.recent:
            act = self.recent_menu.addAction(p)
            act.triggered.connect(lambda _=False, p=p: self.open_paths([p]))
        self.recent_menu.setEnabled(bool(self.settings.recent))

    def _movies_changed(self) -> None:
        self.movie_list.blockSignals(True)
        self.movie_list.clear()
        self.movie_list.addItems([d.name for d in self.state.docs])
        if self.state.current in self.state.docs:
            self.movie_list.setCurrentRow(self.state.docs.index(self.state.current))
        self.movie_list.blockSignals(False)

    def _pick_movie(self, row: int) -> None:
        if 0 <= row < len(self.state.docs):
            self.state.set_current(self.state.docs[row])

    def close_current(self) -> None:
        if self.state.current is not None:
            self.state.close_movie(self.state.current)

    def _center_on(self, x: float, y: float) -> None:
        vb = self.movie_view.view
        (x0, x1), (y0, y1) = vb.viewRange()
        w, h = x1 - x0, y1 - y0
        vb.setRange(xRange=(x - w / 2, x + w / 2), yRange=(y - h / 2, y + h / 2), padding=0)

    # ---- drag and drop
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    # ---- annotations and export
    def import_annotations_dialog(self, path: Optional[str] = None) -> None:
        doc = self.state.current
        if doc is None:
            return
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Import annotations", str(Path(doc.movie.source or ".").parent),
                                                  "Tables (*.csv *.txt *.xml)")
        if path:
            try:
                n = files.import_annotations(doc, path)
            except Exception as exc:
                show_error(self, str(exc))
                return
            self.statusBar().showMessage(f"{n} annotations imported")
            self.state.events_changed.emit()

    def export_dialog(self, all_movies: bool = False, folder: Optional[str] = None) -> list:
        docs = list(self.state.docs) if all_movies else [d for d in [self.state.current] if d]
        if not docs:
            return []
        if folder is None:
            start = self.settings.last_export_dir or str(Path(docs[0].movie.source or ".").parent)
            folder = QFileDialog.getExistingDirectory(self, "Export results into folder", start)
            if not folder:
                return []
        self.settings.last_export_dir = folder
        written = []
        for doc in docs:
            try:
                written += files.export_doc(doc, folder)
            except OutputExists as exc:
                if QMessageBox.question(self, "ExoDeep", f"{exc}\nReplace it?") == QMessageBox.Yes:
                    written += files.export_doc(doc, folder, overwrite=True)
            except OutputError as exc:
                show_error(self, str(exc))
        self.statusBar().showMessage(f"wrote {len(written)} files into {folder}")
        return written

    def export_kymograph_dialog(self, path: Optional[str] = None) -> None:
        data = self.kymo_view.data
        if data is None:
            show_error(self, "Draw a kymograph line first (View > Kymograph line).")
            return
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export kymograph", "kymograph.tif", "TIFF (*.tif);;PNG (*.png)")
        if path:
            try:
                if path.lower().endswith(".png"):
                    self.kymo_view.plot.grab().save(path)
                else:
                    from exodeep_gui.io.movie_io import write_imagej_tiff

                    write_imagej_tiff(path, data[None], overwrite=True)
            except Exception as exc:
                show_error(self, f"Could not write {path}: {exc}")

    def snapshot_dialog(self, path: Optional[str] = None) -> None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save snapshot", "exodeep_view.png", "PNG (*.png)")
        if path and not self.grab().save(path):
            show_error(self, f"Could not write {path}")

    # ---- layout and closing
    def _restore_layout(self) -> None:
        try:
            if self.settings.geometry:
                self.restoreGeometry(QByteArray.fromHex(self.settings.geometry.encode()))
            if self.settings.window_state:
                self.restoreState(QByteArray.fromHex(self.settings.window_state.encode()))
        except Exception:
            log.warning("could not restore the window layout")

    def closeEvent(self, event) -> None:
        self.movie_view.play_button.setChecked(False)
        self.detection.stop_and_wait()
        s = self.settings
        s.threshold, s.min_size = self.detection.threshold.value(), self.detection.min_size.value()
        s.model, s.fps = self.detection.model() or "", self.movie_view.fps_box.value()
        s.geometry = bytes(self.saveGeometry().toHex()).decode()
        s.window_state = bytes(self.saveState().toHex()).decode()
        super().closeEvent(event)
