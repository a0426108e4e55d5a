"""The window's actions as data: (key, text, MainWindow method, shortcut, checkable, tip), and
where they appear (menus, the workflow toolbar). One table, so a menu item, its shortcut and its
toolbar button are one QAction, tested with ``action.trigger()``."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence

ACTIONS = [
    # key, text, the window's method (or its panel's: "files.open_dialog"), shortcut, checkable, tip
    ("open", "&Open movies…", "files.open_dialog", QKeySequence.Open, False, "Open TIFF, OME-TIFF, ND2 or HDF5 movies"),
    ("open_folder", "Open &folder of frames…", "files.open_folder_dialog", "Ctrl+Shift+O", False,
     "Open a folder of numbered single-frame TIFFs as one movie (or a folder of movies)"),
    ("demo", "Open the &demo movie", "open_demo", None, False, "A simulated movie with its ground truth"),
    ("import_annotations", "&Import annotations (ground truth)…", "files.import_annotations_dialog", None, False,
     "Show a table of true events (CSV X, Y, Slice or the reference's XML) as green crosses, with F1"),
    ("save_annotations", "&Save reviewed events as annotations", "files.save_annotations_dialog", QKeySequence.Save,
     False, "Write <movie>.csv (X, Y, Slice) beside the movie: what training reads"),
    ("export", "&Export results of this movie…", "files.export_dialog", "Ctrl+E", False,
     "<movie>_events.csv (Fiji Results) and <movie>_RoiSet.zip"),
    ("export_all", "Export results of &all movies…", "export_all_dialog", "Ctrl+Shift+E", False, ""),
    ("export_kymograph", "Export &kymograph…", "files.export_kymograph_dialog", None, False, "TIFF values or PNG picture"),
    ("snapshot", "Save snapshot of the &window…", "files.snapshot_dialog", None, False, "PNG of the whole window"),
    ("close", "&Close movie", "close_current", QKeySequence.Close, False, "Its review is saved"),
    ("quit", "&Quit", "close", QKeySequence.Quit, False, ""),
    ("undo", "&Undo", "undo", QKeySequence.Undo, False, "Undo the last edit or detection of this movie"),
    ("next", "&Next event to review", "review_next", "N", False, "Select the next event not yet confirmed (N)"),
    ("previous", "&Previous event", "review_previous", "Shift+N", False, ""),
    ("confirm", "&Confirm selected event", "events.confirm_selected", "Y", False, "A real exocytosis (Y); then the next"),
    ("delete", "&Delete selected event", "events.delete_selected", QKeySequence.Delete, False, "A false detection (Del)"),
    ("add", "&Add events by clicking", "set_add_mode", "A", True, "Click on the movie to add a missed event (A)"),
    ("reviewed", "Movie &fully reviewed", "set_reviewed", "Ctrl+R", True,
     "Every event of this movie is reviewed: it can train a model"),
    ("line", "&Kymograph line", "movie_view.start_line", "K", False, "Draw a line on the movie; its kymograph shows beside"),
    ("clear_line", "&Remove kymograph line", "movie_view.clear_line", None, False, ""),
    ("contrast", "&Auto contrast", "movie_view.auto_contrast", "C", False, ""),
    ("play", "&Play / pause", "movie_view.toggle_play", "Space", False, ""),
    ("next_frame", "Next frame", "next_frame", "Right", False, ""),
    ("previous_frame", "Previous frame", "previous_frame", "Left", False, ""),
    ("first_frame", "First frame", "first_frame", "Home", False, ""),
    ("last_frame", "Last frame", "last_frame", "End", False, ""),
    ("detect", "Detect events in &this movie", "detection.run", "Ctrl+D", False, "Run the model on this movie (Ctrl+D)"),
    ("detect_all", "Detect events in &all movies", "detect_all", "Ctrl+Shift+D", False, ""),
    ("cancel", "&Cancel the running job", "runner.cancel", "Ctrl+.", False, ""),
    ("model_folder", "Choose a &model folder…", "detection.choose_folder", None, False, ""),
    ("analyze", "&Analyze this movie", "analyze", "Ctrl+Shift+A", False,
     "Measure every event (ΔF/F0, t½, size), the cell (area, rate, spatial statistics)"),
    ("analyze_all", "Analyze &all movies", "analyze_all", None, False, "And compare the conditions"),
    ("cell", "Draw the &cell outline", "draw_cell", None, False,
     "Outline the cell on the movie; the analysis measures inside it (else a mask file, else automatic)"),
    ("export_analysis", "&Export the analysis report…", "analysis.choose_export_folder", None, False,
     "events.csv, movies.csv, conditions.csv, figures and report.html"),
    ("train", "&Train or fine-tune a model…", "open_training", "Ctrl+T", False,
     "Fine-tune (or train) a model on your fully reviewed movies, then compare before and after"),
    ("resume_training", "&Resume an unfinished training run…", "resume_training_dialog", None, False,
     "Continue a run that was cancelled or stopped (its model folder)"),
    ("about", "&About ExoDeep", "about", None, False, ""),
]

MENUS = [
    ("&File", ["open", "open_folder", "recent", "demo", "-", "import_annotations", "save_annotations", "-",
               "export", "export_all", "export_kymograph", "snapshot", "-", "close", "quit"]),
    ("&Edit", ["undo"]),
    ("&Review", ["next", "previous", "confirm", "delete", "add", "-", "reviewed", "save_annotations"]),
    ("&View", ["line", "clear_line", "contrast", "play", "next_frame", "previous_frame", "first_frame",
               "last_frame"]),
    ("&Detect", ["detect", "detect_all", "cancel", "-", "model_folder"]),
    ("&Analyze", ["analyze", "analyze_all", "-", "cell", "-", "export_analysis"]),
    ("&Train", ["train", "resume_training"]),
    ("&Help", ["about"]),
]

TOOLBAR_TEXT = {"open": "Open", "detect": "Detect", "next": "Review ▶", "confirm": "✓ Confirm",
                "delete": "✗ Delete", "add": "+ Add events", "reviewed": "Fully reviewed",
                "save_annotations": "Save as annotations", "export": "Export", "train": "Train",
                "analyze": "Analyze"}
TOOLBAR = ["open", "-", "detect", "-", "next", "confirm", "delete", "add", "reviewed", "-", "train", "analyze", "-",
           "save_annotations", "export"]
