"""Analysing a folder of events tables without their movies (``exodeep analyze --events DIR``,
and the window's File > Analyze event tables…): every ``<movie>_events.csv`` with its mask
``<movie>_mask.tif`` (beside it or in a mask folder) and its movie's frames, frame interval and
pixel size from the conditions table.

:func:`plan_event_tables` pairs each table with its mask and its line of the conditions table and
says, in one line per movie, what is missing; :func:`analyze_event_table` analyses one (a
progress generator); :func:`analyze_event_tables` does the whole folder in this process and
writes the tables, figures and report (the command line runs the same per-table function as a
batch, with resume markers and a run report)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Generator, List, Optional

from exodeep_gui.core.analysis import AnalysisOptions, MovieAnalysis, Units
from exodeep_gui.core.progress import CancelToken, Progress, prefixed, run_to_end
from exodeep_gui.io.analysis_inputs import (ConditionRow, condition_of, find_event_tables, mask_beside,
                                            read_conditions, read_event_table)


@dataclass(frozen=True)
class EventTableItem:
    """One movie of an events-only analysis (small and picklable: paths and numbers)."""

    name: str                               # the movie's name (the table's name without _events.csv)
    table: str                              # its events table
    mask: Optional[str] = None              # its cell mask, None when missing
    condition: str = ""
    pair: str = ""
    frames: Optional[int] = None
    frame_interval_s: Optional[float] = None
    pixel_size_um: Optional[float] = None
    problem: str = ""                       # what is missing, one line naming the movie ("" when ready)

    @property
    def units(self) -> Units:
        return Units(self.pixel_size_um, self.frame_interval_s)


def plan_event_tables(folder, conditions, mask_folder=None, require_calibration: bool = True
                      ) -> List[EventTableItem]:
    """Every table of ``folder`` with its mask and its line of ``conditions`` (a path to the
    conditions table, or the dict :func:`read_conditions` gives). A movie that lacks its mask, its
    line, its number of frames or (with ``require_calibration``) its frame interval or pixel size
    gets a ``problem`` naming it and what is missing; the others are ready."""
    table = read_conditions(conditions) if isinstance(conditions, (str, Path)) else conditions
    where = f" in {conditions}" if isinstance(conditions, (str, Path)) else ""
    items = []
    for name, path in find_event_tables(folder):
        mask = mask_beside(name, path, mask_folder)
        row: Optional[ConditionRow] = condition_of(path, table) if table is not None else None
        if table is not None and row is None:
            row = condition_of(Path(name), table)
        missing = []
        if row is None:
            missing.append(f"no line in the conditions table{where}")
        else:
            if row.frames is None:
                missing.append("no frames (the movie's number of frames)")
            if require_calibration and row.frame_interval_s is None:
                missing.append("no frame_interval_s")
            if require_calibration and row.pixel_size_um is None:
                missing.append("no pixel_size_um")
        if mask is None:
            folder_text = mask_folder if mask_folder is not None else path.parent
            missing.append(f"no mask {name}_mask.tif in {folder_text}")
        problem = f"{name}: {'; '.join(missing)}" if missing else ""
        r = row or ConditionRow("")
        items.append(EventTableItem(name, str(path), str(mask) if mask else None, r.condition, r.pair, r.frames,
                                    r.frame_interval_s, r.pixel_size_um, problem))
    return items


def analyze_event_table(item: EventTableItem, options: AnalysisOptions = AnalysisOptions(),
                        cancel: Optional[CancelToken] = None) -> Generator[Progress, None, MovieAnalysis]:
    """One movie's analysis from its events table and mask (ValueError naming it when a file
    cannot be used or something is missing)."""
    from exodeep_gui.core.analysis import cell
    from exodeep_gui.core.analysis.events_only import analyze_events
    from exodeep_gui.io.masks import read_mask

    if item.problem:
        raise ValueError(item.problem)
    events = read_event_table(item.table)
    mask = read_mask(item.mask)
    result = yield from analyze_events(events, mask, item.frames, item.units, options, item.name,
                                       f"{cell.MASK_FILE} {Path(item.mask).name}", cancel)
    result.condition, result.pair = item.condition, item.pair
    result.summary.update(condition=item.condition, pair=item.pair)
    return result


def condition_order(conditions, items) -> List[str]:
    """The conditions in the order of the conditions table (the paired d is later − earlier)."""
    table = read_conditions(conditions) if isinstance(conditions, (str, Path)) else (conditions or {})
    return list(dict.fromkeys([r.condition for r in table.values()] + [it.condition for it in items]))


@dataclass
class EventTablesResult:
    analyses: List[MovieAnalysis]           # the movies analysed, conditions in the table's order
    problems: List[str]                     # one line per movie that could not be analysed
    written: Optional[dict] = None          # what write_analysis wrote (None without ``out``)


def event_tables_job(folder, conditions, out=None, options: AnalysisOptions = AnalysisOptions(),
                     cancel: Optional[CancelToken] = None, mask_folder=None, overwrite: bool = False,
                     max_movie_figures: Optional[int] = None) -> Generator[Progress, None, EventTablesResult]:
    """:func:`analyze_event_tables` as a progress generator (the window's worker runs it)."""
    from exodeep_gui.io.analysis_output import check_outputs, write_analysis

    if out is not None:
        check_outputs(out, overwrite)                   # before any work
    items = plan_event_tables(folder, conditions, mask_folder)
    analyses, problems = [], []
    for i, item in enumerate(items):
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            a = yield from prefixed(analyze_event_table(item, options, cancel), f"cell {i + 1}/{len(items)} "
                                                                                f"({item.name}): ")
        except ValueError as exc:
            problems.append(str(exc))
            continue
        analyses.append(a)
    order = condition_order(conditions, items)
    analyses.sort(key=lambda a: order.index(a.condition))
    written = None
    if out is not None and analyses:
        written = yield from write_analysis(out, analyses, options, overwrite=overwrite, cancel=cancel,
                                            max_movie_figures=max_movie_figures)
    return EventTablesResult(analyses, problems, written)


def analyze_event_tables(folder, conditions, out=None, options: AnalysisOptions = AnalysisOptions(),
                         progress: Optional[Callable[[Progress], None]] = None,
                         cancel: Optional[CancelToken] = None, mask_folder=None, overwrite: bool = False,
                         max_movie_figures: Optional[int] = None) -> EventTablesResult:
    """Analyse every ``<movie>_events.csv`` of ``folder`` without its movie (see the module) and,
    with ``out``, write ``events.csv``, ``movies.csv``, ``conditions.csv``, ``comparisons.csv``,
    ``figures/`` and ``report.html`` there (refused if an earlier analysis is there, unless
    ``overwrite``). ``progress`` gets core.progress.Progress reports; ``cancel`` (a CancelToken)
    stops it between steps (Cancelled). Movies that cannot be analysed are skipped, each named
    with what it lacks in ``problems``; the result's ``analyses`` are the report's objects
    (core.analysis.MovieAnalysis, with ``has_pixels`` False)."""
    return run_to_end(event_tables_job(folder, conditions, out, options, cancel, mask_folder, overwrite,
                                       max_movie_figures), progress)
