"""Analysis as a batch command (``exodeep analyze``, in this process or on a Dask worker): one movie
in, its :class:`~exodeep_gui.core.analysis.MovieAnalysis` out, pickled (atomically) as
``<out>/per_movie/<name>.analysis.pkl``. The client then reads the finished movies' files back and
writes the tables, figures and report of the whole run (:func:`exodeep_gui.io.analysis_output.write_analysis`).

A task holds the movie path and an :class:`AnalyzeJob` (the run's frozen :class:`AnalyzeSettings`,
the movie's name in the tables, its condition and pair). The worker finds the movie's events and
mask by the same rules as ever (an ``--events`` table or folder, else ``<movie>_events.csv`` beside
it, else its saved review; ``--mask``/``--polygon``, else the cell outline drawn in the window,
else ``<movie>_mask.tif``, else automatic); the
marker's fingerprint holds the options, the identity of the events and mask files it used and
ExoDeep's version, so a movie is analysed again when any of them changed.

Without movies (``exodeep analyze --events DIR``), :class:`AnalyzeEventsCommand` does the same per
events table (``task.movie`` is the table, so its marker follows the table; the mask, the timing
and the calibration are in the fingerprint), analysing it with io.event_tables.analyze_event_table.

The per-movie files are this command's own intermediate files (a pickle: read back only from an
output folder this command wrote, never from elsewhere); they are replaced whenever their marker
does not match, with or without ``--overwrite`` (which is about the run's final outputs).
"""

from __future__ import annotations

import pickle
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from exodeep_gui.batch.tasks import MovieCommand, MovieResult, MovieTask, movie_identity
from exodeep_gui.core.analysis import AnalysisOptions
from exodeep_gui.io.movie_io import movie_stem

PER_MOVIE = "per_movie"
SUFFIX = ".analysis.pkl"
FILE_VERSION = 2                    # of the per-movie file (in the fingerprint: a new layout redoes the movies)


@dataclass(frozen=True)
class AnalyzeSettings:
    """What every movie of a run shares (the fingerprint of the command is made of it)."""

    options: AnalysisOptions = AnalysisOptions()
    channel: int = 0
    pixel_size: Optional[float] = None          # µm per px for movies without calibration
    frame_interval: Optional[float] = None      # s per frame for movies without calibration
    events: Optional[str] = None                # --events: a table (one movie) or a folder of tables
    several: bool = False                       # more than one movie in the run
    mask: str = "default"                       # default | auto | a mask file (one movie) | a folder of masks
    polygon: Optional[Tuple[Tuple[float, float], ...]] = None     # the cell as a polygon (one movie), px


@dataclass(frozen=True)
class AnalyzeJob:
    """One movie's part of a task (small and picklable: no pixels, no events)."""

    settings: AnalyzeSettings
    label: str                      # the movie's name in the tables and the report
    condition: str = ""
    pair: str = ""
    problem: str = ""               # found before any work (e.g. not in the conditions table): the movie fails


def movie_labels(paths: Sequence[Path]) -> List[str]:
    """The movies' names in the tables: their stems, ``folder/stem`` where two share a stem."""
    stems = [movie_stem(p) for p in paths]
    dup = {s for s in stems if stems.count(s) > 1}
    return [f"{Path(p).parent.name}/{s}" if s in dup else s for p, s in zip(paths, stems)]


# ---------------------------------------------------------------- a movie's inputs
def events_input(movie_path, settings: AnalyzeSettings) -> Optional[Path]:
    """The file a movie's events come from (the table, else its saved review), or None; never
    raises (the worker reports the problem when it loads them)."""
    from exodeep_gui.io.analysis_inputs import find_event_table
    from exodeep_gui.io.review_file import find_review

    try:
        table = find_event_table(movie_path, settings.events, settings.several)
        if table is None and settings.events is None:
            return find_review(movie_path)
        return table
    except (ValueError, OSError):
        return None


def mask_input(movie_path, settings: AnalyzeSettings):
    """``"polygon"``, ``"auto"`` or the mask file of a movie (ValueError: a folder without it)."""
    from exodeep_gui.io.masks import mask_for

    if settings.polygon:
        return "polygon"
    if settings.mask == "auto":
        return "auto"
    if settings.mask == "default":           # as the window: an outline drawn on the movie, else its mask file
        return "review" if _drawn_cell(movie_path) is not None else (mask_for(movie_path) or "auto")
    m, path = Path(settings.mask), Path(movie_path)
    if m.is_dir():
        stem = movie_stem(path)
        found = next((m / f"{stem}_mask{s}" for s in (".tif", ".tiff") if (m / f"{stem}_mask{s}").is_file()), None)
        if found is None:
            raise ValueError(f"{m}: no {stem}_mask.tif for {path.name}")
        return found
    return m


def movie_mask(movie_path, frame_shape, settings: AnalyzeSettings):
    """(mask or None for automatic, where it came from) for the analysis."""
    from exodeep_gui.core.analysis import cell
    from exodeep_gui.io.masks import read_mask

    found = mask_input(movie_path, settings)
    if found == "polygon":
        return cell.polygon_mask(list(settings.polygon), frame_shape), cell.MASK_POLYGON
    if found == "review":
        return cell.polygon_mask(_drawn_cell(movie_path), frame_shape), "outline drawn on the movie"
    if found == "auto":
        return None, ""
    return read_mask(found, frame_shape), f"{cell.MASK_FILE} {Path(found).name}"


def _drawn_cell(movie_path):
    """The cell outline drawn in the window and kept with the movie's review (None if none)."""
    import json

    from exodeep_gui.io.review_file import find_review

    path = find_review(movie_path)
    try:
        outline = json.loads(path.read_text(encoding="utf-8")).get("cell") if path is not None else None
        return [tuple(map(float, v)) for v in outline] if outline and len(outline) >= 3 else None
    except (OSError, ValueError, TypeError, AttributeError):
        return None                  # a damaged review: the window says so when the movie is opened


def _identity(path) -> Optional[dict]:
    return movie_identity(path) if path is not None else None


# ---------------------------------------------------------------- the command
class AnalyzeCommand(MovieCommand):
    name = "analyze"

    def outputs(self, task: MovieTask) -> List[Path]:
        return [Path(task.out_dir) / PER_MOVIE / f"{task.name}{SUFFIX}"]

    def fingerprint(self, settings: AnalyzeSettings) -> Dict[str, Any]:
        """The analysis options, calibration given, channel, polygon, ExoDeep's version and the
        per-movie file's layout."""
        from exodeep_gui import __version__

        return {"exodeep": __version__, "file": FILE_VERSION, "options": asdict(settings.options),
                "channel": settings.channel, "pixel_size": settings.pixel_size,
                "frame_interval": settings.frame_interval,
                "polygon": [list(p) for p in settings.polygon] if settings.polygon else None}

    def task_fingerprint(self, task: MovieTask, fingerprint: Dict[str, Any]) -> Dict[str, Any]:
        """Plus the movie's name in the tables and the identity (path, size, time) of its events
        file (table or saved review) and of its mask file."""
        job: AnalyzeJob = task.params
        try:
            found = mask_input(task.movie, job.settings)
            mask = (found if found != "review" else {"outline": _drawn_cell(task.movie)}) if isinstance(found, str) \
                else _identity(found)
        except (ValueError, OSError) as exc:
            mask = {"error": str(exc)}
        return dict(fingerprint, label=job.label, events=_identity(events_input(task.movie, job.settings)),
                    mask=mask)

    def check(self, task: MovieTask) -> None:
        super().check(task)
        if task.params.problem:
            raise ValueError(task.params.problem)

    def run(self, task: MovieTask, progress: Optional[Callable] = None) -> Dict[str, Any]:
        from exodeep_gui.core.analysis import analyze_movie, validate_events
        from exodeep_gui.core.progress import run_to_end
        from exodeep_gui.io.analysis_inputs import load_movie_events
        from exodeep_gui.io.movie_io import open_movie

        job: AnalyzeJob = task.params
        s = job.settings
        path = Path(task.movie)
        movie = open_movie(path, channel=s.channel)
        if s.pixel_size and not movie.pixel_size_um:
            movie.pixel_size_um = s.pixel_size
        if s.frame_interval and not movie.frame_interval_s:
            movie.frame_interval_s = s.frame_interval
        events, source = load_movie_events(movie, path, s.events, s.several)
        validate_events(events, movie.shape, source)
        mask, mask_source = movie_mask(path, movie.shape[1:], s)
        analysis = run_to_end(analyze_movie(movie, events, s.options, mask, mask_source, job.label), progress)
        out = self.outputs(task)[0]
        _save(analysis, out)
        notices = (getattr(movie, "metadata", None) or {}).get("notices", [])
        return {"events": len(events), "frames": movie.n_frames, "outputs": [str(out.absolute())],
                "notes": [f"{path.name}: {n}" for n in notices],
                "summary": f"{job.label}: {len(events)} events from {source}"}


ANALYZE = AnalyzeCommand()


# ---------------------------------------------------------------- the client's side
def analyze_tasks(movies: Sequence[Path], out, settings: AnalyzeSettings, conditions: Sequence[Optional[tuple]],
                  missing: Callable[[Path], str] = lambda p: f"{p.name}: no condition",
                  absolute: bool = False) -> List[MovieTask]:
    """One task per movie, its files named after its label (made safe for a file name and unique);
    ``conditions[i]``: (condition, pair), or None: the movie fails with ``missing(path)``."""
    from exodeep_gui.io.analysis_output import slug, unique_stems

    labels = movie_labels(movies)
    names = unique_stems([slug(label) for label in labels])
    out_dir = Path(out).absolute() if absolute else Path(out)
    tasks = []
    for path, label, name, cond in zip(map(Path, movies), labels, names, conditions):
        job = AnalyzeJob(settings, label, *(cond or ("", "")), problem="" if cond else missing(path))
        tasks.append(MovieTask(str(path.absolute() if absolute else path), name, str(out_dir), job, overwrite=True))
    return tasks


def read_analysis(path):
    """A movie's analysis back from its per-movie file (ValueError naming it if it cannot be read)."""
    from exodeep_gui.core.analysis import MovieAnalysis

    try:
        with open(path, "rb") as fh:
            analysis = pickle.load(fh)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError) as exc:
        raise ValueError(f"{path}: cannot read this movie's analysis ({exc}); run again to redo it") from None
    if not isinstance(analysis, MovieAnalysis):
        raise ValueError(f"{path}: not a movie analysis; run again to redo it")
    return analysis


def collect(tasks: Sequence[MovieTask], results: Sequence[MovieResult]) -> Tuple[list, List[MovieResult]]:
    """(the finished movies' analyses in the tasks' order, with this run's condition and pair;
    the results, where a per-movie file that cannot be read back is now a failure, and removed so
    that the next run analyses that movie again)."""
    analyses, out = [], []
    for task, r in zip(tasks, results):
        if r.status in ("ok", "skipped"):
            path = ANALYZE.outputs(task)[0]
            try:
                a = read_analysis(path)
            except ValueError as exc:          # gone: the next run analyses the movie again
                path.unlink(missing_ok=True)
                r = replace(r, status="failed", reason=str(exc))
            else:
                job: AnalyzeJob = task.params
                a.condition, a.pair = job.condition, job.pair
                a.summary.update(condition=job.condition, pair=job.pair)
                analyses.append(a)
        out.append(r)
    return analyses, out


# ---------------------------------------------------------------- events tables without their movies
class AnalyzeEventsCommand(MovieCommand):
    """``exodeep analyze --events DIR`` without movies: one task per events table (``task.movie`` is
    the table, so the marker follows the table's identity); ``task.params`` is an
    :class:`AnalyzeEventsJob`. The per-movie file is the same pickled MovieAnalysis."""

    name = "analyze-events"

    def outputs(self, task: MovieTask) -> List[Path]:
        return [Path(task.out_dir) / PER_MOVIE / f"{task.name}{SUFFIX}"]

    def fingerprint(self, options: AnalysisOptions) -> Dict[str, Any]:
        from exodeep_gui import __version__

        return {"exodeep": __version__, "file": FILE_VERSION, "options": asdict(options), "events_only": True}

    def task_fingerprint(self, task: MovieTask, fingerprint: Dict[str, Any]) -> Dict[str, Any]:
        """Plus the movie's name, its timing and calibration and the identity of its mask."""
        item = task.params.item
        return dict(fingerprint, label=item.name, frames=item.frames, frame_interval_s=item.frame_interval_s,
                    pixel_size_um=item.pixel_size_um, mask=_identity(item.mask))

    def check(self, task: MovieTask) -> None:
        super().check(task)
        if task.params.item.problem:
            raise ValueError(task.params.item.problem)

    def run(self, task: MovieTask, progress: Optional[Callable] = None) -> Dict[str, Any]:
        from exodeep_gui.core.progress import run_to_end
        from exodeep_gui.io.event_tables import analyze_event_table

        job: AnalyzeEventsJob = task.params
        analysis = run_to_end(analyze_event_table(job.item, job.options), progress)
        out = self.outputs(task)[0]
        _save(analysis, out)
        kept = int(analysis.kept.sum())
        return {"events": len(analysis), "frames": analysis.shape[0], "outputs": [str(out.absolute())],
                "summary": f"{job.item.name}: {len(analysis)} events from {Path(job.item.table).name}, "
                           f"{kept} in the cell"}


@dataclass(frozen=True)
class AnalyzeEventsJob:
    options: AnalysisOptions
    item: Any                       # io.event_tables.EventTableItem (paths and numbers)


ANALYZE_EVENTS = AnalyzeEventsCommand()


def _save(analysis, out: Path) -> None:
    from exodeep_gui.io.atomic import atomic_path

    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out, overwrite=True) as tmp:
        with open(tmp, "wb") as fh:
            pickle.dump(analysis, fh, protocol=pickle.HIGHEST_PROTOCOL)


def event_table_tasks(items: Sequence, out, options: AnalysisOptions, absolute: bool = False) -> List[MovieTask]:
    """One task per events table (io.event_tables.EventTableItem), its files named after the movie."""
    from exodeep_gui.io.analysis_output import slug, unique_stems

    names = unique_stems([slug(it.name) for it in items])
    out_dir = Path(out).absolute() if absolute else Path(out)
    tasks = []
    for item, name in zip(items, names):
        if absolute:
            item = replace(item, table=str(Path(item.table).absolute()),
                           mask=str(Path(item.mask).absolute()) if item.mask else None)
        tasks.append(MovieTask(item.table, name, str(out_dir), AnalyzeEventsJob(options, item), overwrite=True))
    return tasks


def collect_events(tasks: Sequence[MovieTask], results: Sequence[MovieResult]) -> Tuple[list, List[MovieResult]]:
    """:func:`collect` for events-only tasks (condition and pair from each task's item)."""
    wrapped = [replace(t, params=AnalyzeJob(AnalyzeSettings(), t.params.item.name, t.params.item.condition,
                                            t.params.item.pair)) for t in tasks]
    return collect(wrapped, results)
