"""File actions of the window, without widgets: open movies, import annotations, export
results (ImageJ CSV + RoiSet.zip, per movie or all into a folder). Errors are exceptions with
messages for the user."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, List, Tuple

from exodeep_gui.core.state import MovieDoc
from exodeep_gui.io.atomic import check_writable_folder
from exodeep_gui.io.movie_io import MOVIE_SUFFIXES, open_movie
from exodeep_gui.io.results import read_events, write_results_csv, write_roiset


def movie_paths(paths: Iterable) -> List[Path]:
    """Dropped paths → movies: files, frame folders, and the movies inside plain folders."""
    out: List[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_file():
            out.append(p)
        elif p.is_dir():
            inside = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in MOVIE_SUFFIXES
                            and not f.stem.endswith("_mask") and not f.name.startswith("."))
            multi = [f for f in inside if _n_pages(f) > 1 or f.suffix.lower() not in (".tif", ".tiff")]
            out.extend(multi if multi else [p])           # a folder of single frames is one movie
    return out


def _n_pages(path: Path) -> int:
    try:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            return len(tif.pages)
    except Exception:
        return 0


def open_movies(paths: Iterable) -> Tuple[list, List[str]]:
    """(movies, error messages): one unreadable file never stops the others."""
    movies, errors = [], []
    for p in movie_paths(paths):
        try:
            movies.append(open_movie(p))
        except Exception as exc:
            errors.append(str(exc))
    return movies, errors


def export_doc(doc: MovieDoc, folder, overwrite: bool = False) -> List[Path]:
    """``<movie>_events.csv`` (ImageJ Results) and ``<movie>_RoiSet.zip`` into ``folder``."""
    folder = Path(folder)
    check_writable_folder(folder)
    ev = doc.events()
    m = doc.movie
    csv = write_results_csv(folder / f"{doc.name}_events.csv", ev, m.pixel_size_um, m.frame_interval_s,
                            overwrite=overwrite)
    roi = write_roiset(folder / f"{doc.name}_RoiSet.zip", ev, overwrite=overwrite)
    return [csv, roi]


def import_annotations(doc: MovieDoc, path) -> int:
    doc.annotations = read_events(path)
    return len(doc.annotations)
