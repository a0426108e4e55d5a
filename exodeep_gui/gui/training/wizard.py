"""The training wizard: data → counter-examples → model and schedule → run → result. A
non-modal window (the viewer stays usable while it trains); the run goes through the window's
job runner in a child process. Opened from Train > Train or fine-tune a model… and the toolbar."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

from exodeep_gui.gui.training.data_page import DataPage
from exodeep_gui.gui.training.model_page import ModelPage
from exodeep_gui.gui.training.plan import TrainingPlan
from exodeep_gui.gui.training.result_page import ResultPage
from exodeep_gui.gui.training.run_page import RunPage
from exodeep_gui.gui.training.spots_page import SpotsPage
from exodeep_gui.gui.widgets.layout import fit_to_screen


class TrainingWizard(QWizard):
    def __init__(self, state, runner, show_in_viewer=None, detect_all=None, resume_folder: Optional[str] = None,
                 earlier=None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Train or fine-tune a model")
        self.setWindowFlag(Qt.Window, True)
        self.setModal(False)
        self.setWizardStyle(QWizard.ClassicStyle)
        self.setOption(QWizard.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.NoCancelButtonOnLastPage, True)
        self.plan = TrainingPlan()
        self.data_page = DataPage(self.plan, state, show_in_viewer, earlier)
        self.spots_page = SpotsPage(self.plan, state, runner)
        self.model_page = ModelPage(self.plan, state, runner)
        self.run_page = RunPage(self.plan, runner, self.model_page)
        self.result_page = ResultPage(self.plan, state, runner, self.run_page, detect_all)
        for page in (self.data_page, self.spots_page, self.model_page, self.run_page, self.result_page):
            self.addPage(page)
        self.setButtonText(QWizard.CancelButton, "Close")
        self.currentIdChanged.connect(self._page_shown)
        fit_to_screen(self, 1000, 720)
        if resume_folder:
            self.offer_resume(resume_folder)

    def offer_resume(self, folder: str) -> None:
        """An unfinished run (e.g. the app was killed while training): go straight to it."""
        self.model_page.folder.setText(str(Path(folder)))
        self.model_page.resume_requested = True
        self.plan.folder = str(Path(folder).resolve())
        self.run_page.reset()                     # an earlier run's result would stop the new one starting
        self.setStartId(self.pageIds()[3])        # skip data, counter-examples and schedule: the run has them
        self.restart()

    def _page_shown(self, _id: int) -> None:
        if self.currentPage() is self.model_page:
            self.model_page.revisit()      # Back after a run: a new run needs a new folder, say so

    def fresh_if_finished(self) -> None:
        """Opened again after a finished run (not a running one): start afresh at the data page
        for the next run, with a new model folder."""
        if self.run_page.job is None and self.run_page.result is not None:
            self.run_page.reset()
            self.model_page.folder.clear()
            self.model_page.resume_requested = False
            self.setStartId(self.pageIds()[0])
            self.restart()

    def reject(self) -> None:
        """Close hides the wizard; a run goes on in the background (status bar) and is shown again
        when the wizard is reopened."""
        self.hide()
