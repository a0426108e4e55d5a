"""The main window: wiring only. The viewer state owns what is shown; panels own their widgets
and bind to the state; the job runner owns every worker thread and engine process; the review
keeper saves each movie's review. The window talks to panel methods and to the state only."""

from __future__ import annotations

import logging
from typing import Iterable, Optional

from PySide6.QtCore import QByteArray, QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QDockWidget, QMainWindow, QMenu, QStackedWidget, QToolBar

from exodeep_gui import __version__
from exodeep_gui.core.review import EventFilter
from exodeep_gui.session.state import ViewerState
from exodeep_gui.gui.analysis import AnalysisPanel
from exodeep_gui.gui.commands import WindowCommands
from exodeep_gui.gui.detection.panel import DetectionPanel
from exodeep_gui.gui.dialogs import ask_yes_no, show_error
from exodeep_gui.gui.file_actions import FileActions
from exodeep_gui.gui.jobs import JobRunner, JobStatus
from exodeep_gui.gui.review.event_panel import EventPanel
from exodeep_gui.gui.review.gallery import EventGallery
from exodeep_gui.gui.review.keeper import ReviewKeeper
from exodeep_gui.gui.settings import Settings
from exodeep_gui.gui.viewer.kymograph_view import KymographView
from exodeep_gui.gui.viewer.movie_list import MovieList
from exodeep_gui.gui.viewer.movie_view import MovieView
from exodeep_gui.gui.viewer.welcome import Welcome
from exodeep_gui.gui.widgets.layout import fit_to_screen, scrolling
from exodeep_gui.paths import portable_model_spec

log = logging.getLogger("exodeep")
TEXT_EDIT_KEYS = {QKeySequence(k).toString() for k in ("Ctrl+Z", "Ctrl+Y", "Ctrl+C", "Ctrl+V", "Ctrl+X", "Ctrl+A")}


DROP_HINT = "Drag TIFF movies (or folders of frames) onto the window, or use File > Open."


class MainWindow(QMainWindow, WindowCommands):
    def __init__(self, settings: Optional[Settings] = None):
        super().__init__()
        self._auto_docks = False           # first run only: the docks follow the first maximise (showEvent)
        self.settings = settings or Settings()
        s = self.settings
        # a model shipped with the app is remembered by name: the app may have been moved or upgraded
        self.state = ViewerState(EventFilter(s.threshold, s.min_size, s.min_confidence),
                                 portable_model_spec(s.model) or "exodeepfinder")
        self.setWindowTitle(f"ExoDeep {__version__}")
        self.setAcceptDrops(True)
        fit_to_screen(self, 1400, 860)

        self.runner = JobRunner(self)
        self.keeper = ReviewKeeper(self.state, parent=self)
        self.movie_view = MovieView(self.state)
        self.movie_view.set_fps(s.fps)
        self.kymo_view = KymographView(self.state)
        self.movie_list = MovieList(self.state)
        self.detection = DetectionPanel(self.state, self.runner)
        self.detection.set_precision(s.precision)
        self.detection.set_views(s.views)
        self.events = EventPanel(self.state)
        self.gallery = EventGallery(self.state)
        self.analysis = AnalysisPanel(self.state, self.runner)
        self.files = FileActions(self, self.state, self.settings, self.keeper, self.kymo_view)

        self._build_actions()
        self.welcome = Welcome([self.act["open"], self.act["open_folder"], self.act["demo"]])
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.movie_view)
        self.setCentralWidget(self.stack)
        self._build_docks()
        self._build_menus()
        self._build_toolbar()
        self.job_status = JobStatus(self.runner)
        self.statusBar().addPermanentWidget(self.job_status)

        self.detection.error.connect(lambda m, d: show_error(self, m, d))
        self.analysis.error.connect(lambda m, d: show_error(self, m, d))
        self.analysis.mask_changed.connect(self.movie_view.set_mask_outline)
        self.analysis.analysis_changed.connect(self.events.show_measurements)
        self.analysis.draw_cell.connect(self.draw_cell)
        self.movie_view.hover.connect(lambda text: self.statusBar().showMessage(text, 4000))
        self.movie_view.add_mode_changed.connect(self._add_mode_changed)
        self.act["stop_adding"].setEnabled(False)
        self.events.center_on.connect(self.movie_view.center_on)
        for source in (self.keeper, self.files):
            source.message.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.keeper.error.connect(lambda text: show_error(self, text))
        self.files.recent_changed.connect(self._fill_recent)
        self._settings_timer = QTimer(self, singleShot=True, interval=1000)
        self._settings_timer.timeout.connect(self.save_settings)
        for signal in (self.state.filter_changed, self.state.model_changed, self.files.recent_changed,
                       self.detection.run_options_changed):
            signal.connect(lambda *_: self._settings_timer.start())
        self.state.movie_changed.connect(self._movie_changed)
        self.state.movies_changed.connect(lambda: self._movie_changed(self.state.current))
        QApplication.instance().installEventFilter(self)
        self._restore_layout()
        self._movie_changed(None)
        self.statusBar().showMessage(DROP_HINT)
        self._mention_unfinished_training()

    def _mention_unfinished_training(self) -> None:
        from exodeep_gui.ml.model_folder import ModelFolder

        last = self.settings.last_training
        if last and ModelFolder(last).is_unfinished():
            self.statusBar().showMessage(f"An unfinished training run is in {last}: Train > Resume an unfinished "
                                         "training run continues it.")

    # ---- layout
    def _dock(self, title: str, widget, area, scroll: bool = True) -> QDockWidget:
        """A side panel. Its content scrolls when the dock is smaller than the content wants, so
        that the panels' sizes never add up to a window taller than a laptop's screen."""
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(scrolling(widget) if scroll else widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        self.movies_dock = self._dock("Movies", self.movie_list, Qt.LeftDockWidgetArea, scroll=False)
        self.detection_dock = self._dock("Detection", self.detection, Qt.RightDockWidgetArea, scroll=False)
        self.events_dock = self._dock("Events", self.events, Qt.RightDockWidgetArea)
        self.gallery_dock = self._dock("Gallery", self.gallery, Qt.RightDockWidgetArea, scroll=False)
        self.kymo_dock = self._dock("Kymograph", self.kymo_view, Qt.RightDockWidgetArea)
        self.analysis_dock = self._dock("Analysis", self.analysis, Qt.RightDockWidgetArea)
        self.tabifyDockWidget(self.events_dock, self.gallery_dock)
        self.tabifyDockWidget(self.gallery_dock, self.kymo_dock)
        self.tabifyDockWidget(self.kymo_dock, self.analysis_dock)
        self.events_dock.raise_()
        self.state.line_changed.connect(lambda line: line is not None and self.kymo_dock.raise_())

    # ---- actions, menus, toolbar
    def _owner_of(self, slot):
        """The part of the window whose method ``slot`` is (the window itself or a panel)."""
        for owner in (self, self.files, self.detection, self.events, self.movie_view, self.runner, self.analysis):
            if getattr(type(owner), slot.__name__, None) is slot:
                return owner
        raise TypeError(f"no part of the window has the method {slot.__qualname__}")

    def _build_actions(self) -> None:
        from exodeep_gui.gui.actions import ACTIONS

        self.act = {}
        for a in ACTIONS:
            act = QAction(a.text, self, checkable=a.checkable)
            if a.shortcut:
                act.setShortcut(QKeySequence(a.shortcut))
            if a.tip:
                act.setStatusTip(a.tip)
                act.setToolTip(a.tip)
            owner, name = self._owner_of(a.slot), a.slot.__name__
            # a menu item passes `checked` to its slot: only checkable actions take it
            act.triggered.connect((lambda checked, o=owner, n=name: getattr(o, n)(checked)) if a.checkable
                                  else (lambda _=False, o=owner, n=name: getattr(o, n)()))
            self.addAction(act)          # shortcuts work wherever the focus is in this window
            self.act[a.key] = act

    def _build_menus(self) -> None:
        from exodeep_gui.gui.actions import MENUS

        bar = self.menuBar()
        for title, keys in MENUS:
            menu = bar.addMenu(title)
            for key in keys:
                if key == "-":
                    menu.addSeparator()
                elif key == "recent":
                    # a QMenu the window owns: PySide6 6.9 deletes the one addMenu(str) returns
                    self.recent_menu = QMenu("Open &recent", self)
                    menu.addMenu(self.recent_menu)
                    self._fill_recent()
                else:
                    menu.addAction(self.act[key])

    def _build_toolbar(self) -> None:
        from exodeep_gui.gui.actions import TOOLBAR, TOOLBAR_TEXT

        bar = QToolBar("Workflow")
        bar.setObjectName("workflow")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonTextOnly)
        for key in TOOLBAR:
            if key == "-":
                bar.addSeparator()
            else:
                self.act[key].setIconText(TOOLBAR_TEXT.get(key, self.act[key].text()))
                bar.addAction(self.act[key])
                if key in ("open", "detect", "next"):          # the steps of the workflow
                    bar.widgetForAction(self.act[key]).setStyleSheet("font-weight: bold")
        self.addToolBar(Qt.TopToolBarArea, bar)
        self.toolbar = bar

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.settings.recent:
            act = self.recent_menu.addAction(p)
            act.triggered.connect(lambda _=False, p=p: self.open_paths([p]))
        self.recent_menu.setEnabled(bool(self.settings.recent))

    def _movie_changed(self, doc) -> None:
        if doc is not None and self.statusBar().currentMessage() == DROP_HINT:
            self.statusBar().clearMessage()        # said what to do; done
        self.stack.setCurrentWidget(self.movie_view if doc is not None else self.welcome)
        self.setWindowTitle(f"{doc.name} — ExoDeep {__version__}" if doc is not None else f"ExoDeep {__version__}")
        self.act["reviewed"].setChecked(bool(doc is not None and doc.fully_reviewed))
        for key in ("reviewed", "save_annotations", "export", "close", "detect", "import_annotations"):
            self.act[key].setEnabled(doc is not None)
        self.act["export_all"].setEnabled(len(self.state.docs) > 1)

    # ---- what the window's parts ask of it
    def open_paths(self, paths: Iterable) -> int:
        return self.files.open_paths(paths)

    # ---- keyboard: the window's Ctrl shortcuts win over a focused spin box's text field;
    # a movie double-clicked in macOS's Finder arrives as a QFileOpenEvent to the application
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.FileOpen and obj is QApplication.instance():
            path = event.file() or event.url().toLocalFile()
            if path:
                self.open_paths([path])
                self.raise_()
                self.activateWindow()
            return True
        kind = event.type()
        if kind not in (QEvent.KeyPress, QEvent.ShortcutOverride):
            return super().eventFilter(obj, event)
        in_box = isinstance(obj, QAbstractSpinBox) or isinstance(obj.parent(), QAbstractSpinBox)
        if (in_box and kind == QEvent.KeyPress and event.key() in (Qt.Key_Return, Qt.Key_Enter, Qt.Key_Escape)
                and obj.window() is self):
            # a value typed in and confirmed: the one-key shortcuts (G, Y, Del, →, Space…) work again
            QTimer.singleShot(0, self.movie_view, self.movie_view.take_keys)
        if kind == QEvent.ShortcutOverride and in_box:
            keys = QKeySequence(event.keyCombination()).toString()
            if event.modifiers() & Qt.ControlModifier and keys not in TEXT_EDIT_KEYS and any(
                    a.shortcut().toString() == keys for a in self.act.values()):
                event.ignore()
                return True            # not overridden: the window's shortcut fires
        return super().eventFilter(obj, event)

    # ---- drag and drop
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    # ---- layout and closing
    def _restore_layout(self) -> None:
        self._layout_restored = False
        try:
            if self.settings.geometry:
                self.restoreGeometry(QByteArray.fromHex(self.settings.geometry.encode()))
            if self.settings.window_state:
                self._layout_restored = self.restoreState(QByteArray.fromHex(self.settings.window_state.encode()))
        except Exception:
            log.warning("could not restore the window layout")

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._layout_restored:      # first run: the movie gets the room, the side panels what they need
            self._layout_restored = True
            self._auto_docks = True        # and again when the window manager maximises it, just after
            self._fit_docks()
            QTimer.singleShot(1500, self, self._stop_fitting_docks)   # then the user's sizes are the user's

    def _stop_fitting_docks(self) -> None:
        self._auto_docks = False

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._auto_docks:
            QTimer.singleShot(0, self, self._fit_docks)

    def _fit_docks(self) -> None:
        side = max(380, min(460, int(self.width() * 0.29)))
        movies = max(200, min(280, int(self.width() * 0.14)))     # the movies' names readable
        self.resizeDocks([self.movies_dock, self.detection_dock], [movies, side], Qt.Horizontal)
        # the detection panel as tall as it needs (it never scrolls: Detect is the next step), the events the rest
        self.resizeDocks([self.detection_dock, self.events_dock],
                         [self.detection_dock.minimumSizeHint().height(), self.height()], Qt.Vertical)

    def _capture_settings(self) -> None:
        s, f = self.settings, self.state.filter
        s.threshold, s.min_size, s.min_confidence, s.fps = f.threshold, f.min_size, f.min_confidence, \
            self.movie_view.fps()
        s.model = portable_model_spec(self.state.model)
        s.precision, s.views = self.detection.precision(), self.detection.views()
        s.geometry = bytes(self.saveGeometry().toHex()).decode()
        s.window_state = bytes(self.saveState().toHex()).decode()

    def save_settings(self) -> None:
        """Preferences to disk now (soon after each change, not only at a clean exit)."""
        self._capture_settings()
        self.settings.save()

    def closeEvent(self, event) -> None:
        if self.runner.running("train") and not ask_yes_no(
                self, "A model is training. Closing stops it (its checkpoint is kept: Train > Resume "
                      "continues it). Close ExoDeep?"):
            event.ignore()
            return
        if self.runner.busy:
            self.statusBar().showMessage("Stopping the running job…")
            QApplication.processEvents()
        QApplication.instance().removeEventFilter(self)
        self.movie_view.stop_playing()
        self._settings_timer.stop()
        self.runner.shutdown()
        self.keeper.flush()
        self.save_settings()                  # closing saves them (not only a clean exit of the app)
        super().closeEvent(event)
