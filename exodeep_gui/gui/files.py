"""File actions of the window, without widgets: open movies, import annotations, export
results (ImageJ CSV + RoiSet.zip, per movie or all into a folder). Errors are exceptions with
messages for the user."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, List, Tuple

from exodeep_gui.core.state import MovieDoc
from exodeep_gui.core.movie import MovieError
from exodeep_gui.io.movie_io import find_movies, open_movie
from exodeep_gui.io.results import read_events, write_results


def open_movies(paths: Iterable) -> Tuple[list, List[str]]:
    """(movies, error messages) for dropped paths (files, frame folders, folders of movies): one
    unreadable file never stops the others."""
    movies, errors = [], []
    for raw in paths:
        try:
            found = find_movies([raw])
        except MovieError as exc:
            errors.append(str(exc))
            continue
        for p in found:
            try:
                movies.append(open_movie(p))
            except Exception as exc:
                errors.append(str(exc))
    return movies, errors


def export_doc(doc: MovieDoc, folder, overwrite: bool = False) -> List[Path]:
    """``<movie>_events.csv`` (ImageJ Results) and ``<movie>_RoiSet.zip`` into ``folder``."""
    m = doc.movie
    return write_results(folder, doc.name, doc.events(), m.pixel_size_um, m.frame_interval_s,
                         formats=("csv", "roi"), overwrite=overwrite)


def import_annotations(doc: MovieDoc, path) -> int:
    doc.annotations = read_events(path)
    return len(doc.annotations)
