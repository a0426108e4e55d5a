"""The main window: wiring only. The viewer state owns what is shown; panels own their widgets
and bind to the state; the job runner owns every worker thread and engine process; the review
keeper saves each movie's review. The window talks to panel methods and to the state only."""

from __future__ import annotations

import logging
from typing import Iterable, Optional

from PySide6.QtCore import QByteArray, QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QAbstractSpinBox, QApplication, QDockWidget, QMainWindow, QMessageBox,
                               QStackedWidget, QToolBar)

from exodeep_gui import __version__
from exodeep_gui.core.review import EventFilter
from exodeep_gui.core.state import ViewerState
from exodeep_gui.gui.analysis import AnalysisPanel
from exodeep_gui.gui.detection.panel import DetectionPanel
from exodeep_gui.gui.dialogs import ask_yes_no, show_error
from exodeep_gui.gui.file_actions import FileActions
from exodeep_gui.gui.jobs import JobRunner, JobStatus
from exodeep_gui.gui.review.event_panel import EventPanel
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


def about_text(log_folder: str) -> str:
    """Help > About: the version, what ExoDeep is, the licence and the published model's attribution,
    and where the log is."""
    return (f"<b>ExoDeep {__version__}</b><br>Finds and measures exocytosis events in TIRF movies with a "
            "2D+time U-Net after ExoDeepFinder.<br><br>"
            "Licence: GPL-3.0-or-later (the LICENSE file and the licences of the libraries it ships with are in "
            "the app's folder).<br><br>"
            "The published ExoDeepFinder model: Lachuer H., et al. <i>ExoDeepFinder</i>, PLoS Computational "
            "Biology 2025; weights from https://github.com/deep-finder/tirfm-deepfinder, GPL-3.0.<br>"
            "The bundled model exodeep-sim-small was trained by ExoDeep on simulated movies.<br><br>"
            f"Log files (what you did, and the details of any error): {log_folder}")


class MainWindow(QMainWindow):
    def __init__(self, settings: Optional[Settings] = None):
        super().__init__()
        self.settings = settings or Settings()
        s = self.settings
        # a model shipped with the app is remembered by name: the app may have been moved or upgraded
        self.state = ViewerState(EventFilter(s.threshold, s.min_size), portable_model_spec(s.model) or "exodeepfinder")
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
        self.events = EventPanel(self.state)
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
        self.events.center_on.connect(self.movie_view.center_on)
        for source in (self.keeper, self.files):
            source.message.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.keeper.error.connect(lambda text: show_error(self, text))
        self.files.recent_changed.connect(self._fill_recent)
        self._settings_timer = QTimer(self, singleShot=True, interval=1000)
        self._settings_timer.timeout.connect(self.save_settings)
        for signal in (self.state.filter_changed, self.state.model_changed, self.files.recent_changed,
                       self.detection.precision_changed):
            signal.connect(lambda *_: self._settings_timer.start())
        self.state.movie_changed.connect(self._movie_changed)
        self.state.movies_changed.connect(lambda: self._movie_changed(self.state.current))
        QApplication.instance().installEventFilter(self)
        self._restore_layout()
        self._movie_changed(None)
        self.statusBar().showMessage("Drag TIFF movies (or folders of frames) onto the window, or use File > Open.")
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
        self.kymo_dock = self._dock("Kymograph", self.kymo_view, Qt.RightDockWidgetArea)
        self.analysis_dock = self._dock("Analysis", self.analysis, Qt.RightDockWidgetArea)
        self.tabifyDockWidget(self.events_dock, self.kymo_dock)
        self.tabifyDockWidget(self.kymo_dock, self.analysis_dock)
        self.events_dock.raise_()
        self.state.line_changed.connect(lambda line: line is not None and self.kymo_dock.raise_())

    # ---- actions, menus, toolbar
    def _slot(self, name: str):
        """The method ``name`` names ("close", or "files.open_dialog": a panel's), found when it runs."""
        target = self
        for part in name.split("."):
            target = getattr(target, part)
        return target

    def _new_action(self, key: str, text: str, slot: str, shortcut=None, checkable: bool = False,
                    tip: str = "") -> QAction:
        act = QAction(text, self, checkable=checkable)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
        if tip:
            act.setStatusTip(tip)
            act.setToolTip(tip)
        # a menu item passes `checked` to its slot: only checkable actions take it
        act.triggered.connect((lambda checked: self._slot(slot)(checked)) if checkable
                              else (lambda _=False: self._slot(slot)()))
        self.addAction(act)          # shortcuts work wherever the focus is in this window
        self.act[key] = act
        return act

    def _build_actions(self) -> None:
        from exodeep_gui.gui.actions import ACTIONS

        self.act = {}
        for key, text, method, shortcut, checkable, tip in ACTIONS:
            self._new_action(key, text, method, shortcut, checkable, tip)

    def _build_menus(self) -> None:
        from exodeep_gui.gui.actions import MENUS

        bar = self.menuBar()
        for title, keys in MENUS:
            menu = bar.addMenu(title)
            for key in keys:
                if key == "-":
                    menu.addSeparator()
                elif key == "recent":
                    self.recent_menu = menu.addMenu("Open &recent")
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
        self.stack.setCurrentWidget(self.movie_view if doc is not None else self.welcome)
        self.setWindowTitle(f"{doc.name} — ExoDeep {__version__}" if doc is not None else f"ExoDeep {__version__}")
        self.act["reviewed"].setChecked(bool(doc is not None and doc.fully_reviewed))
        for key in ("reviewed", "save_annotations", "export", "close", "detect", "import_annotations"):
            self.act[key].setEnabled(doc is not None)
        self.act["export_all"].setEnabled(len(self.state.docs) > 1)

    # ---- action slots (each a panel method, the state, or a file action)
    def open_paths(self, paths: Iterable) -> int:
        return self.files.open_paths(paths)

    def open_demo(self) -> None:
        from exodeep_gui.gui.app import demo_movie

        path = demo_movie()
        if self.open_paths([path]) and self.state.current.annotations is None and path.with_suffix(".csv").is_file():
            self.files.import_annotations_dialog(str(path.with_suffix(".csv")))

    def draw_cell(self) -> None:
        doc = self.state.current
        if doc is not None:
            self.analysis_dock.raise_()
            self.movie_view.start_cell(doc.cell)          # the outline drawn before, else a first guess

    def export_all_dialog(self) -> None:
        self.files.export_dialog(all_movies=True)

    def close_current(self) -> None:
        doc = self.state.current
        if doc is not None:
            self.keeper.close(doc)
            self.state.close_movie(doc)

    def undo(self) -> None:
        if not self.state.undo():
            self.statusBar().showMessage("Nothing to undo in this movie.", 4000)

    def set_add_mode(self, on: bool) -> None:
        self.movie_view.set_add_mode(on)
        self.statusBar().showMessage("Click on the movie to add an event at the current frame." if on else "")

    def set_reviewed(self, on: bool) -> None:
        if self.state.current is not None:
            self.state.set_fully_reviewed(self.state.current, on)

    def review_next(self) -> None:
        self.events.step(1)

    def review_previous(self) -> None:
        self.events.step(-1)

    def next_frame(self) -> None:
        self.state.set_frame(self.state.frame + 1)

    def previous_frame(self) -> None:
        self.state.set_frame(self.state.frame - 1)

    def first_frame(self) -> None:
        self.state.set_frame(0)

    def last_frame(self) -> None:
        self.state.set_frame(10 ** 9)

    def detect_all(self) -> None:
        self.detection.run(all_movies=True)



    # ---- analysis
    def analyze(self) -> None:
        self.analysis_dock.raise_()
        self.analysis.analyze()

    def analyze_all(self) -> None:
        self.analysis_dock.raise_()
        self.analysis.analyze(all_movies=True)

    # ---- training
    def open_training(self, resume_folder: Optional[str] = None):
        """The training wizard (one per window: closing hides it, a run goes on)."""
        from exodeep_gui.gui.training.wizard import TrainingWizard

        if getattr(self, "wizard", None) is None:
            self.wizard = TrainingWizard(self.state, self.runner, show_in_viewer=self._show_training_movie,
                                         detect_all=self.detect_all, parent=self)
            self.wizard.run_page.started.connect(self._training_started)
        if resume_folder:
            self.wizard.offer_resume(resume_folder)
        self.wizard.show()
        self.wizard.raise_()
        return self.wizard

    def resume_training_dialog(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        from exodeep_gui.ml.model_folder import ModelFolder

        folder = QFileDialog.getExistingDirectory(self, "The model folder of an unfinished run",
                                                  self.settings.last_training)
        if not folder:
            return
        if not ModelFolder(folder).is_unfinished():
            show_error(self, f"{folder}: no unfinished training run here (no checkpoint).")
            return
        self.open_training(resume_folder=folder)

    def _training_started(self, folder: str) -> None:
        self.settings.last_training = folder
        self.save_settings()                  # a kill during training must not lose where it is

    def _show_training_movie(self, path, annotations) -> None:
        if self.open_paths([path]) and annotations:
            self.files.import_annotations_dialog(str(annotations))

    def about(self) -> None:
        from exodeep_gui.paths import user_log_dir

        box = QMessageBox(QMessageBox.Information, "About ExoDeep", about_text(str(user_log_dir())),
                          QMessageBox.Ok, self)
        box.setObjectName("about")
        box.setTextFormat(Qt.RichText)
        box.setTextInteractionFlags(Qt.TextBrowserInteraction)
        box.open()

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
        if event.type() == QEvent.ShortcutOverride and (isinstance(obj, QAbstractSpinBox)
                                                         or isinstance(obj.parent(), QAbstractSpinBox)):
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
            side = max(380, min(460, int(self.width() * 0.29)))
            movies = max(165, min(260, int(self.width() * 0.11)))
            self.resizeDocks([self.movies_dock, self.detection_dock], [movies, side], Qt.Horizontal)
            # the detection panel as tall as it needs (it never scrolls: Detect is the next step), the events the rest
            self.resizeDocks([self.detection_dock, self.events_dock],
                             [self.detection_dock.minimumSizeHint().height(), self.height()], Qt.Vertical)

    def _capture_settings(self) -> None:
        s, f = self.settings, self.state.filter
        s.threshold, s.min_size, s.fps = f.threshold, f.min_size, self.movie_view.fps()
        s.model = portable_model_spec(self.state.model)
        s.precision = self.detection.precision()
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
        self._capture_settings()
        super().closeEvent(event)
