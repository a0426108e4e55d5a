"""What the window's own menu items do (the others are its panels' methods): each a short method
that asks a panel or the viewer state, so that :mod:`exodeep_gui.gui.actions` can name them
(``WindowCommands.undo``) and a misspelt name fails when the actions are imported, not when the
item is clicked. Mixed into :class:`~exodeep_gui.gui.main_window.MainWindow`."""

from __future__ import annotations

import logging
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from exodeep_gui import __version__
from exodeep_gui.gui.dialogs import show_error

log = logging.getLogger("exodeep")
STATUS_MS = 6000


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


class WindowCommands:
    """The main window's menu commands (needs the window's state, panels and status bar)."""

    def say(self, text: str, ms: int = STATUS_MS) -> None:
        self.statusBar().showMessage(text, ms)

    # ---- movies
    def open_demo(self) -> None:
        from exodeep_gui.io.simulated import demo_movie
        from exodeep_gui.paths import user_data_dir

        path = demo_movie(user_data_dir() / "demo")
        if self.files.open_paths([path]) and self.state.current.annotations is None \
                and path.with_suffix(".csv").is_file():
            self.files.import_annotations_dialog(str(path.with_suffix(".csv")))

    def close_current(self) -> None:
        doc = self.state.current
        if doc is not None:
            self.keeper.close(doc)
            self.state.close_movie(doc)

    def export_all_dialog(self) -> None:
        self.files.export_dialog(all_movies=True)

    # ---- review
    def undo(self) -> None:
        label = self.state.next_undo()
        if self.state.undo():
            self.say(f"Undone: {label} (Edit > Redo does it again).")
        else:
            self.say("Nothing to undo in this movie.")

    def redo(self) -> None:
        doc = self.state.current
        label = doc.redo[-1].label if doc is not None and doc.redo else ""
        if self.state.redo():
            self.say(f"Redone: {label}.")
        else:
            self.say("Nothing to redo in this movie.")

    def set_add_mode(self, on: bool) -> None:
        self.movie_view.set_add_mode(on)

    def stop_adding(self) -> None:
        self.movie_view.set_add_mode(False)

    def _add_mode_changed(self, on: bool) -> None:
        """The movie view says whether clicks add (the toolbar button and Esc follow it)."""
        self.act["add"].setChecked(on)
        self.act["stop_adding"].setEnabled(on)
        self.say("Click on the movie to add a missed event at the current frame (Esc: cancel)." if on else
                 "Adding events: off (A adds another).")

    def set_reviewed(self, on: bool) -> None:
        doc = self.state.current
        if doc is None:
            return
        counts = self.state.set_fully_reviewed(doc, on)
        if on and counts:
            shown = len(self.state.events(doc))
            self.say(f"{doc.name} marked fully reviewed: its {shown} events shown are the reviewed set "
                     f"({counts['confirmed']} not decided one by one are taken as seen), {counts['set_aside']} "
                     "detections hidden by the filter are set aside; filter changes no longer alter it "
                     "(Edit > Undo takes it back).", 12000)
        elif not on and counts:
            self.say(f"{doc.name}: no longer marked fully reviewed; {counts['undecided']} events taken as seen and "
                     f"{counts['back']} set-aside detections are to review again (your own ✓ and ✗ stay).", 12000)
        log.info("%s %s fully reviewed", doc.name, "marked" if on else "unmarked")

    def show_gallery(self) -> None:
        """Review > Event gallery: every event and candidate as a strip of frames, doubtful first."""
        self.gallery_dock.raise_()
        self.gallery_dock.show()
        if self.state.selected is None:
            self.state.select_next(1, unconfirmed=True)
        self.gallery.list.setFocus()

    def review_next(self) -> None:
        self.events.step(1)

    def review_previous(self) -> None:
        self.events.step(-1)

    # ---- frames
    def next_frame(self) -> None:
        self.state.set_frame(self.state.frame + 1)

    def previous_frame(self) -> None:
        self.state.set_frame(self.state.frame - 1)

    def first_frame(self) -> None:
        self.state.set_frame(0)

    def last_frame(self) -> None:
        self.state.set_frame(10 ** 9)

    # ---- detection and analysis
    def detect_all(self) -> None:
        self.detection.run(all_movies=True)

    def draw_cell(self) -> None:
        doc = self.state.current
        if doc is not None:
            self.analysis_dock.raise_()
            self.movie_view.start_cell(doc.cell)          # the outline drawn before, else a first guess

    def analyze(self) -> None:
        self.analysis_dock.raise_()
        self.analysis.analyze()

    def analyze_all(self) -> None:
        self.analysis_dock.raise_()
        self.analysis.analyze(all_movies=True)

    def analyze_event_tables(self) -> None:
        """File > Analyze event tables…: earlier work's tables and masks, without the movies."""
        from exodeep_gui.gui.analysis.event_tables import EventTablesDialog

        if getattr(self, "tables_dialog", None) is None:
            self.tables_dialog = EventTablesDialog(self.runner, self.files.start_folder(), parent=self)
        self.tables_dialog.show()
        self.tables_dialog.raise_()

    # ---- training
    def open_training(self, resume_folder: Optional[str] = None):
        """The training wizard (one per window: closing hides it and a run goes on; opened again
        after a finished run, it starts afresh for the next one)."""
        from exodeep_gui.gui.training.wizard import TrainingWizard

        if getattr(self, "wizard", None) is None:
            self.wizard = TrainingWizard(self.state, self.runner, show_in_viewer=self._show_training_movie,
                                         detect_all=self.detect_all, earlier=lambda: list(self.settings.recent),
                                         parent=self)
            self.wizard.run_page.started.connect(self._training_started)
            self._offer_last_stages(self.wizard.model_page)
        elif not resume_folder:
            self.wizard.fresh_if_finished()
        if resume_folder:
            self.wizard.offer_resume(resume_folder)
        elif self.wizard.currentPage() is self.wizard.data_page:
            self.wizard.data_page.refresh()     # movies marked fully reviewed or opened meanwhile count
        self.wizard.show()
        self.wizard.raise_()
        return self.wizard

    def resume_training_dialog(self) -> None:
        from exodeep_gui.ml.model_folder import ModelFolder

        folder = QFileDialog.getExistingDirectory(self, "The model folder of an unfinished run",
                                                  self.files.start_folder(self.settings.last_training))
        if not folder:
            return
        if not ModelFolder(folder).is_unfinished():
            show_error(self, f"{folder}: no unfinished training run here (no checkpoint).")
            return
        self.open_training(resume_folder=folder)

    def _offer_last_stages(self, page) -> None:
        """The stages of the last run started here (an earlier session's too), if they still parse."""
        from exodeep_gui.ml.training.schedule import ScheduleError, parse_schedule

        if self.settings.training_stages:
            try:
                page.set_schedule(parse_schedule(self.settings.training_stages))
            except ScheduleError:
                log.info("settings: stages %r not offered (not a schedule)", self.settings.training_stages)

    def _training_started(self, folder: str) -> None:
        from exodeep_gui.ml.training.schedule import schedule_text

        self.settings.last_training = folder
        if not self.wizard.run_page.resuming:
            self.settings.training_stages = schedule_text(self.wizard.plan.options.schedule)
        self.save_settings()                  # a kill during training must not lose where it is
        log.info("training started in %s", folder)

    def _show_training_movie(self, path, annotations) -> None:
        if self.files.open_paths([path]) and annotations:
            self.files.import_annotations_dialog(str(annotations))

    # ---- help
    def about(self) -> None:
        from exodeep_gui.paths import user_log_dir

        box = QMessageBox(QMessageBox.Information, "About ExoDeep", about_text(str(user_log_dir())),
                          QMessageBox.Ok, self)
        box.setObjectName("about")
        box.setTextFormat(Qt.RichText)
        box.setTextInteractionFlags(Qt.TextBrowserInteraction)
        box.open()
