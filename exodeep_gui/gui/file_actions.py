"""What the File menu does: the dialogs around gui.files (open movies or a folder of frames,
import annotations, save the review as annotations, export results, the kymograph and a
snapshot). Never overwrites without asking; every problem is one message naming the file."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable, Optional

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from exodeep_gui.session.state import ViewerState
from exodeep_gui.gui import files
from exodeep_gui.gui.dialogs import ask_yes_no, show_error
from exodeep_gui.gui.review.keeper import ReviewKeeper
from exodeep_gui.gui.settings import Settings
from exodeep_gui.io.atomic import OutputExists

log = logging.getLogger("exodeep")
MOVIE_FILTER = "Movies (*.tif *.tiff *.ome.tif *.nd2 *.h5 *.hdf5);;All files (*)"


class FileActions(QObject):
    message = Signal(str)                 # for the status bar
    recent_changed = Signal()

    def __init__(self, window: QWidget, state: ViewerState, settings: Settings, keeper: ReviewKeeper,
                 kymograph):
        super().__init__(window)
        self.window, self.state, self.settings, self.keeper, self.kymograph = (window, state, settings,
                                                                               keeper, kymograph)

    # ---- opening
    def open_paths(self, paths: Iterable) -> int:
        movies, errors, masks = files.open_movies(paths)
        for m in movies:
            same = self._open_already(m)
            if same is not None:          # one document per file: two would overwrite each other's review
                self.state.set_current(same)
            else:
                self.keeper.open(m)
            if m.source is not None:
                self.settings.add_recent(m.source)
        self.recent_changed.emit()
        notes = [f"{m.name}: {n}" for m in movies for n in (m.metadata or {}).get("notices", [])]
        if masks:                          # picked with their movies (*.tif): masks, not movies
            s = "s" if len(masks) > 1 else ""
            notes.append(f"{', '.join(masks)}: the cell mask{s} of the movie{s} beside {'them' if s else 'it'}, "
                         f"not opened as {'movies' if s else 'a movie'}")
        if notes:                          # how an unusual file was read (e.g. its channels taken as time)
            self.message.emit("; ".join(notes))
        if errors:
            show_error(self.window, "Some files could not be opened:\n" + "\n".join(errors))
        return len(movies)

    def _open_already(self, movie):
        if movie.source is None:
            return None
        key = Path(movie.source).resolve()
        return next((d for d in self.state.docs if d.movie.source is not None
                     and Path(d.movie.source).resolve() == key), None)

    def start_folder(self, last: str = "") -> str:
        """Where a file dialog opens: the folder last used for this kind of file, else the current
        movie's folder, else the last folder movies were opened from, else the home folder (never
        the process's working directory, which means nothing to a user)."""
        doc = self.state.current
        for candidate in (last, doc.movie.source.parent if doc is not None and doc.movie.source else "",
                          self.settings.last_open_dir, Path.home()):
            if candidate and Path(candidate).is_dir():
                return str(candidate)
        return str(Path.home())

    def open_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self.window, "Open movies", self.start_folder(self.settings.last_open_dir),
                                                MOVIE_FILTER)
        if paths:
            self.settings.last_open_dir = str(Path(paths[0]).parent)
            self.open_paths(paths)

    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Open a folder of frames (or of movies)",
                                                  self.start_folder(self.settings.last_open_dir))
        if folder:
            self.settings.last_open_dir = str(Path(folder).parent)
            self.open_paths([folder])

    # ---- annotations
    def import_annotations_dialog(self, path: Optional[str] = None) -> None:
        doc = self.state.current
        if doc is None:
            self.message.emit("Open a movie first.")
            return
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self.window, "Import annotations (ground truth)", self.start_folder(),
                                                  "Tables (*.csv *.txt *.xml)")
        if not path:
            return
        try:
            table = files.read_annotations(path)
        except (OSError, ValueError) as exc:
            show_error(self.window, str(exc))
            return
        self.state.set_annotations(doc, table, path)
        self.message.emit(f"{len(table)} annotations imported from {Path(path).name} (green crosses)")

    def save_annotations_dialog(self) -> Optional[Path]:
        """File > Save as annotations: ``<movie>.csv`` beside the movie (asks before replacing)."""
        doc = self.state.current
        if doc is None:
            self.message.emit("Open a movie first.")
            return None
        try:
            path = files.annotations_path(doc) if doc.movie.source is not None else None
            if path is None:
                raise ValueError(f"{doc.name}: the movie has no file, so there is no place for its annotations")
            overwrite = False
            if path.exists():
                if not ask_yes_no(self.window, f"{path} already exists.\nReplace it with the {len(self.state.events())} "
                                               "reviewed events of this movie?"):
                    return None
                overwrite = True
            written = files.save_annotations(doc, self.state.filter, path, overwrite=overwrite)
        except (OSError, ValueError) as exc:
            show_error(self.window, str(exc))
            return None
        log.info("saved %d events of %s as annotations: %s", len(self.state.events()), doc.name, written)
        note = "" if doc.fully_reviewed else " (mark the movie fully reviewed before training on it)"
        self.message.emit(f"Saved {len(self.state.events())} events as annotations: {written}{note}")
        return written

    # ---- export
    def export_dialog(self, all_movies: bool = False, folder: Optional[str] = None) -> list:
        """Export the events of this movie (or of every movie) into a folder. A movie never detected,
        with no event added either, is skipped and named: an empty table would read as "0 events"."""
        docs = list(self.state.docs) if all_movies else [d for d in [self.state.current] if d]
        if not docs:
            self.message.emit("Open a movie first.")
            return []
        never = [d for d in docs if not files.has_events_to_export(d)]
        docs = [d for d in docs if files.has_events_to_export(d)]
        if not docs:
            show_error(self.window, f"Nothing to export: {', '.join(d.name for d in never)} "
                                    f"{'was' if len(never) == 1 else 'were'} never detected (Detect first).")
            return []
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self.window, "Export results into folder",
                                                      self.start_folder(self.settings.last_export_dir))
            if not folder:
                return []
        self.settings.last_export_dir = folder
        written = []
        for doc in docs:
            written += self._export_one(doc, folder)
        skipped = f"; skipped, never detected: {', '.join(d.name for d in never)}" if never else ""
        self.message.emit(f"Wrote {len(written)} files into {folder}{skipped}")
        return written

    def _export_one(self, doc, folder) -> list:
        """One movie's tables; asks before replacing; every problem is one message naming the file."""
        for overwrite in (False, True):
            try:
                written = files.export_doc(doc, self.state.filter, folder, overwrite=overwrite)
                log.info("exported %d events of %s: %s", len(doc.events(self.state.filter)), doc.name,
                         ", ".join(str(p) for p in written))
                return written
            except OutputExists as exc:
                if overwrite or not ask_yes_no(self.window, f"{exc}\nReplace it?"):
                    return []
            except (OSError, ValueError) as exc:         # OutputError is an OSError
                show_error(self.window, f"{doc.name}: {exc}" if doc.name not in str(exc) else str(exc))
                return []
        return []

    def export_kymograph_dialog(self, path: Optional[str] = None) -> None:
        data = self.kymograph.data
        if data is None:
            show_error(self.window, "Draw a kymograph line first (View > Kymograph line, K).")
            return
        if path is None:
            doc = self.state.current
            name = f"{doc.name}_kymograph.tif" if doc is not None else "kymograph.tif"
            path, _ = QFileDialog.getSaveFileName(self.window, "Export kymograph",
                                                  str(Path(self.start_folder(self.settings.last_export_dir)) / name),
                                                  "TIFF values (*.tif);;PNG picture (*.png)")
        if not path:
            return
        try:
            if path.lower().endswith(".png"):
                if not self.kymograph.save_png(path):
                    raise OSError("the picture could not be written")
            else:
                from exodeep_gui.io.movie_io import write_imagej_tiff

                write_imagej_tiff(path, data[None], overwrite=True)     # the dialog asked already
        except Exception as exc:
            show_error(self.window, f"Could not write {path}: {exc}")
            return
        self.settings.last_export_dir = str(Path(path).parent)
        log.info("kymograph written: %s", path)
        self.message.emit(f"Kymograph written: {path}")

    def snapshot_dialog(self, path: Optional[str] = None) -> None:
        if path is None:
            doc = self.state.current
            name = f"{doc.name}_view.png" if doc is not None else "exodeep_view.png"
            path, _ = QFileDialog.getSaveFileName(self.window, "Save snapshot of the window",
                                                  str(Path(self.start_folder(self.settings.last_export_dir)) / name),
                                                  "PNG (*.png)")
        if not path:
            return
        if not self.window.grab().save(path):
            show_error(self.window, f"Could not write {path}")
            return
        self.settings.last_export_dir = str(Path(path).parent)
        self.message.emit(f"Snapshot written: {path}")

