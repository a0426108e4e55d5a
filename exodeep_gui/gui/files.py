"""File actions of the window, without widgets: open movies, import annotations, export
results (ImageJ CSV + RoiSet.zip, per movie or all into a folder), save the reviewed events as
annotations. Errors are exceptions with messages for the user."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, List, Tuple

from exodeep_gui.core.movie import MovieError
from exodeep_gui.core.review import EventFilter
from exodeep_gui.session.record import MovieDoc
from exodeep_gui.io.movie_io import find_movies, frame_files_folder, movie_stem, open_movie
from exodeep_gui.io.results import read_events, write_results, write_results_csv


def is_mask_of_a_movie(path, picked) -> bool:
    """``<movie>_mask.tif`` picked together with its movie ``<movie>.tif``: the movie's cell mask, not a
    movie (picked alone, it is opened: it may be a movie with that name)."""
    p = Path(path)
    if not (p.stem.endswith("_mask") and p.suffix.lower() in (".tif", ".tiff")):
        return False
    movie = p.stem[:-len("_mask")]
    return any(Path(q).parent == p.parent and Path(q).stem == movie and Path(q).suffix.lower() in (".tif", ".tiff")
               for q in picked)


def open_movies(paths: Iterable) -> Tuple[list, List[str], List[str]]:
    """(movies, error messages, masks left out) for dropped paths (files, frame folders, folders of
    movies): one unreadable file never stops the others; a movie's cell mask picked with the movies
    (``*.tif`` in a folder of movies and their masks) is not opened as a movie."""
    movies, errors = [], []
    paths = list(paths)
    folder = frame_files_folder(paths)
    if folder is not None:              # the frames of one movie, picked one by one: open their folder
        paths = [folder]
    masks = [Path(p).name for p in paths if is_mask_of_a_movie(p, paths)]
    paths = [p for p in paths if not is_mask_of_a_movie(p, paths)]
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
    return movies, errors, masks


def has_events_to_export(doc: MovieDoc) -> bool:
    """Whether ``doc`` was ever detected (in this session or a restored review) or has events the
    user added: else an exported table would be empty and read as "0 events"."""
    return bool(doc.model_name) or doc.detection is not None or len(doc.rows) > 0


def export_doc(doc: MovieDoc, flt: EventFilter, folder, overwrite: bool = False) -> List[Path]:
    """``<movie>_events.csv`` (ImageJ Results) and ``<movie>_RoiSet.zip`` of the events shown."""
    m = doc.movie
    return write_results(folder, doc.name, doc.events(flt), m.pixel_size_um, m.frame_interval_s,
                         formats=("csv", "roi"), overwrite=overwrite)


def annotations_path(doc: MovieDoc) -> Path:
    """``<movie>.csv`` beside the movie: the annotations ``exodeep train`` and the training wizard read."""
    src = Path(doc.movie.source)
    return src.parent / (movie_stem(src) + ".csv")


def save_annotations(doc: MovieDoc, flt: EventFilter, path=None, overwrite: bool = False) -> Path:
    """The reviewed events (those shown) as an annotation table: X, Y, Slice (1-based)."""
    if path is None:
        if doc.movie.source is None:
            raise ValueError(f"{doc.name}: the movie has no file, so there is no place for its annotations")
        path = annotations_path(doc)
    m = doc.movie
    return write_results_csv(path, doc.events(flt), m.pixel_size_um, m.frame_interval_s, overwrite=overwrite)


def read_annotations(path):
    return read_events(path)
