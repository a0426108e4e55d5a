"""The window's actions as data: what each menu item, shortcut and toolbar button does, and where
it appears (menus, the workflow toolbar). One table, so a menu item, its shortcut and its toolbar
button are one QAction, tested with ``action.trigger()``.

Each action names the method it runs as a function object (``FileActions.open_dialog``,
``WindowCommands.undo``): a misspelt name fails when this module is imported; the window calls it
on whichever of its parts the method belongs to (itself or a panel)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Union

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMainWindow

from exodeep_gui.gui.analysis.panel import AnalysisPanel
from exodeep_gui.gui.commands import WindowCommands as W
from exodeep_gui.gui.detection.panel import DetectionPanel
from exodeep_gui.gui.file_actions import FileActions
from exodeep_gui.gui.jobs import JobRunner
from exodeep_gui.gui.review.event_panel import EventPanel
from exodeep_gui.gui.viewer.movie_view import MovieView


@dataclass(frozen=True)
class Action:
    key: str
    text: str
    slot: Callable                  # an unbound method of the window (WindowCommands, QMainWindow) or a panel
    shortcut: Optional[Union[str, QKeySequence.StandardKey]] = None
    checkable: bool = False         # a checkable action passes `checked` to its slot
    tip: str = ""


A = Action
ACTIONS = [
    A("open", "&Open movies…", FileActions.open_dialog, QKeySequence.Open, tip="Open TIFF, OME-TIFF, ND2 or HDF5 movies"),
    A("open_folder", "Open &folder of frames…", FileActions.open_folder_dialog, "Ctrl+Shift+O",
      tip="Open a folder of numbered single-frame TIFFs as one movie (or a folder of movies)"),
    A("demo", "Open the &demo movie", W.open_demo, tip="A simulated movie with its ground truth"),
    A("import_annotations", "&Import annotations (ground truth)…", FileActions.import_annotations_dialog,
      tip="Show a table of true events (CSV X, Y, Slice or the reference's XML) as green crosses, with F1"),
    A("save_annotations", "&Save reviewed events as annotations", FileActions.save_annotations_dialog,
      QKeySequence.Save, tip="Write <movie>.csv (X, Y, Slice) beside the movie: what training reads"),
    A("export", "&Export results of this movie…", FileActions.export_dialog, "Ctrl+E",
      tip="<movie>_events.csv (Fiji Results) and <movie>_RoiSet.zip"),
    A("export_all", "Export results of &all movies…", W.export_all_dialog, "Ctrl+Shift+E"),
    A("export_kymograph", "Export &kymograph…", FileActions.export_kymograph_dialog, tip="TIFF values or PNG picture"),
    A("snapshot", "Save snapshot of the &window…", FileActions.snapshot_dialog, tip="PNG of the whole window"),
    A("close", "&Close movie", W.close_current, QKeySequence.Close, tip="Its review is saved"),
    A("quit", "&Quit", QMainWindow.close, QKeySequence.Quit),
    A("undo", "&Undo", W.undo, QKeySequence.Undo, tip="Undo the last edit or detection of this movie"),
    A("redo", "&Redo", W.redo, QKeySequence.Redo, tip="Do again what Undo took back"),
    A("gallery", "Event &gallery", W.show_gallery, "G",
      tip="Every event and candidate as a strip of frames around it, doubtful first: Y real, Del false (G)"),
    A("next", "&Next event to review", W.review_next, "N", tip="Select the next event not yet confirmed (N)"),
    A("previous", "&Previous event", W.review_previous, "Shift+N"),
    A("confirm", "&Confirm selected event", EventPanel.confirm_selected, "Y", tip="A real exocytosis (Y); then the next"),
    A("delete", "&Delete selected event", EventPanel.delete_selected, QKeySequence.Delete, tip="A false detection (Del)"),
    A("add", "&Add events by clicking", W.set_add_mode, "A", checkable=True,
      tip="Click on the movie to add a missed event (A; Esc stops)"),
    A("stop_adding", "&Stop adding events", W.stop_adding, "Esc", tip="Leave adding without adding (Esc)"),
    A("reviewed", "Movie &fully reviewed", W.set_reviewed, "Ctrl+R", checkable=True,
      tip="Every event of this movie is reviewed: what is shown now is the reviewed set, and it can train a model"),
    A("line", "&Kymograph line", MovieView.start_line, "K", tip="Put a line across the movie (drag its ends where you want them); its kymograph shows beside"),
    A("clear_line", "&Remove kymograph line", MovieView.clear_line),
    A("contrast", "&Auto contrast", MovieView.auto_contrast, "C"),
    A("play", "&Play / pause", MovieView.toggle_play, "Space"),
    A("next_frame", "Next frame", W.next_frame, "Right"),
    A("previous_frame", "Previous frame", W.previous_frame, "Left"),
    A("first_frame", "First frame", W.first_frame, "Home"),
    A("last_frame", "Last frame", W.last_frame, "End"),
    A("detect", "Detect events in &this movie", DetectionPanel.run, "Ctrl+D", tip="Run the model on this movie (Ctrl+D)"),
    A("detect_all", "Detect events in &all movies", W.detect_all, "Ctrl+Shift+D"),
    A("cancel", "&Cancel the running job", JobRunner.cancel, "Ctrl+."),
    A("model_folder", "Choose a &model folder…", DetectionPanel.choose_folder),
    A("analyze", "&Analyze this movie", W.analyze, "Ctrl+Shift+A",
      tip="Measure every event (ΔF/F0, t½, size), the cell (area, rate, spatial statistics)"),
    A("analyze_all", "Analyze &all movies", W.analyze_all, tip="And compare the conditions"),
    A("analyze_tables", "Analyze event &tables (no movies)…", W.analyze_event_tables,
      tip="Rates, spatial statistics and condition comparisons from earlier event tables and cell masks, "
          "without the movies"),
    A("cell", "Draw the &cell outline", W.draw_cell,
      tip="Outline the cell on the movie; the analysis measures inside it (else a mask file, else automatic)"),
    A("export_analysis", "&Export the analysis report…", AnalysisPanel.choose_export_folder,
      tip="events.csv, movies.csv, conditions.csv, figures and report.html"),
    A("train", "&Train or fine-tune a model…", W.open_training, "Ctrl+T",
      tip="Fine-tune (or train) a model on your fully reviewed movies, then compare before and after"),
    A("resume_training", "&Resume an unfinished training run…", W.resume_training_dialog,
      tip="Continue a run that was cancelled or stopped (its model folder)"),
    A("about", "&About ExoDeep", W.about),
]

MENUS = [
    ("&File", ["open", "open_folder", "recent", "demo", "-", "import_annotations", "save_annotations", "-",
               "export", "export_all", "export_kymograph", "snapshot", "-", "analyze_tables", "-", "close", "quit"]),
    ("&Edit", ["undo", "redo"]),
    ("&Review", ["gallery", "-", "next", "previous", "confirm", "delete", "add", "stop_adding", "-", "reviewed", "save_annotations"]),
    ("&View", ["line", "clear_line", "contrast", "play", "next_frame", "previous_frame", "first_frame",
               "last_frame"]),
    ("&Detect", ["detect", "detect_all", "cancel", "-", "model_folder"]),
    ("&Analyze", ["analyze", "analyze_all", "-", "cell", "-", "export_analysis", "-", "analyze_tables"]),
    ("&Train", ["train", "resume_training"]),
    ("&Help", ["about"]),
]

TOOLBAR_TEXT = {"open": "Open", "detect": "Detect", "gallery": "Gallery", "next": "Review ▶", "confirm": "✓ Confirm",
                "delete": "✗ Delete", "add": "+ Add events", "reviewed": "Fully reviewed",
                "save_annotations": "Save as annotations", "export": "Export", "train": "Train",
                "analyze": "Analyze"}
TOOLBAR = ["open", "-", "detect", "-", "gallery", "next", "confirm", "delete", "add", "reviewed", "-", "train", "analyze", "-",
           "save_annotations", "export"]
