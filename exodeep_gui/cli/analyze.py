"""``exodeep analyze``: measure the events of movies (kinetics, size, per-cell rate and spatial
statistics), compare conditions, and write the tables, figures and a self-contained report.

Each movie is one task of the batch machinery (exodeep_gui.batch.analyze), in this process or on a
Dask cluster (``--workers``, ``--cluster``): its analysis is kept in ``<out>/per_movie/`` with a
marker (a second run skips finished movies), a report CSV follows the run, and a movie that fails
is reported while the others go on; the finished movies are then combined into the outputs.

Without movies (``exodeep analyze --events DIR --conditions FILE --out OUT``) each events table is
the task: analysed from its events, its mask (``<movie>_mask.tif`` beside it or in ``--mask
FOLDER``) and its movie's frames, frame interval and pixel size (columns of the conditions table);
the kinetics columns stay blank."""

from __future__ import annotations

import sys
from pathlib import Path

from dataclasses import replace

from exodeep_gui.cli.common import (ProgressBar, UserError, cluster_choice, dry_run, movie_lines,
                                    register_cluster_options, run_movies)

REPORT_NAME = "exodeep_analyze_report.csv"
MOVIE_FIGURES = 10                # movies whose own figures are drawn by default


def register(sub) -> None:
    a = sub.add_parser("analyze", help="measure events (ΔF/F0, t½, size, spreading), cells (rate, spatial "
                                       "statistics) and conditions; writes CSV tables, figures and report.html")
    a.add_argument("inputs", nargs="*", metavar="MOVIES_OR_FOLDER",
                   help="movies or folders of movies; none: analyse the events tables of --events alone (no movie)")
    a.add_argument("--events", metavar="EVENTS_CSV_OR_FOLDER",
                   help="events table (one movie) or folder of <movie>_events.csv (default: <movie>_events.csv "
                        "beside each movie, else the reviewed events of its saved review); without movies, the "
                        "folder of tables to analyse from their events, masks and the conditions table alone")
    a.add_argument("--conditions", metavar="FILE",
                   help="CSV with columns movie, condition and optionally pair (same cell before/after), "
                        "conditions in the order to compare (d > 0: the later one is higher); "
                        "default: each movie's folder name is its condition. Without movies also frames, "
                        "frame_interval_s and pixel_size_um of each movie")
    a.add_argument("--out", required=True, help="output folder")
    a.add_argument("--overwrite", action="store_true", help="replace the outputs of an earlier analysis")
    a.add_argument("--mask", default="default", metavar="auto|FILE_OR_FOLDER",
                   help="cell mask: default <movie>_mask.tif beside the movie when there is one, else automatic; "
                        "'auto' always automatic; a mask TIFF (one movie) or a folder of <movie>_mask.tif")
    a.add_argument("--polygon", metavar="X,Y X,Y ...", help="the cell as a polygon (one movie), vertices in px")
    a.add_argument("--filter", action="append", default=[], metavar="COLUMN>=VALUE",
                   help="count only events passing it, e.g. decay_r2>=0.8 or dF_F0>=0.2 (repeatable)")
    a.add_argument("--radius", type=float, default=3.0, help="trace disc radius in px (default 3)")
    a.add_argument("--onset-k", type=float, default=3.0, help="onset: first frame above F0 + k·σ (default 3)")
    a.add_argument("--simulations", type=int, default=99, help="CSR simulations for Ripley's envelope (default 99)")
    a.add_argument("--pixel-size", type=float, help="µm per pixel, for movies without calibration")
    a.add_argument("--frame-interval", type=float, help="seconds per frame, for movies without calibration")
    a.add_argument("--channel", type=int, default=0, help="channel of multi-channel files (default 0)")
    a.add_argument("--movie-figures", type=int, metavar="N", default=MOVIE_FIGURES,
                   help=f"draw each movie's figures for the first N movies (default {MOVIE_FIGURES}; figures take "
                        "about a second a movie; the tables and the condition plots hold every movie)")
    a.add_argument("--report", metavar="CSV",
                   help=f"run report (movie, status, events, frames, seconds, worker, reason); default {REPORT_NAME} "
                        "in --out")
    a.add_argument("--no-resume", action="store_true",
                   help="analyse again the movies an earlier run finished (their analyses in --out/per_movie/ "
                        "are otherwise reused when the movie, its events, its mask and the options are the same)")
    register_cluster_options(a)
    a.set_defaults(func=cmd_analyze)


def _parse_polygon(text: str):
    try:
        return tuple(tuple(float(v) for v in p.split(",")) for p in text.split())
    except ValueError:
        raise UserError(f"--polygon {text!r}: give vertices as X,Y X,Y X,Y (pixels)") from None


def _settings(args, options, several: bool, absolute: bool):
    """The run's settings; what can only be wrong for the whole run is refused here, before any work."""
    from exodeep_gui.batch.analyze import AnalyzeSettings

    if several and args.polygon:
        raise UserError("--polygon applies to one movie; give one movie or a folder of masks with --mask")
    events = Path(args.events) if args.events else None
    if events is not None and not events.exists():
        raise UserError(f"{events}: no such file or folder")
    if events is not None and events.is_file() and several:
        raise UserError(f"{events}: one events table for several movies; give a folder of <movie>_events.csv "
                        "tables instead")
    mask = args.mask
    if mask not in ("default", "auto"):
        if not Path(mask).exists():
            raise UserError(f"--mask {mask}: no such file or folder")
        if several and not Path(mask).is_dir():
            raise UserError(f"--mask {mask}: one mask for several movies; give a folder of <movie>_mask.tif")
        mask = str(Path(mask).absolute()) if absolute else mask
    if events is not None and absolute:
        events = events.absolute()
    return AnalyzeSettings(options, args.channel, args.pixel_size, args.frame_interval,
                           str(events) if events is not None else None, several, mask,
                           _parse_polygon(args.polygon) if args.polygon else None)


def _tasks(args, movies, settings, absolute: bool):
    """One task per movie, with its condition (and pair) from the table or its folder."""
    from exodeep_gui.batch.analyze import analyze_tasks
    from exodeep_gui.io.analysis_inputs import condition_of, read_conditions

    table = read_conditions(args.conditions) if args.conditions else None
    conditions = [condition_of(p, table) for p in movies]
    return analyze_tasks(movies, args.out, settings, conditions, absolute=absolute,
                         missing=lambda p: f"{p.name}: not in the conditions table {args.conditions}"), table


def line_for(tasks):
    """The line about one finished movie: its events, where they came from, its condition in this run."""
    conditions = {t.name: t.params.condition for t in tasks}

    def what(r) -> str:
        return f"{r.summary or r.name}; condition {conditions.get(r.name, '')!r}"

    return movie_lines(lambda r, at: f"{what(r)} ({r.frames} frames, {r.seconds:.1f} s{at})",
                       lambda r: f"{what(r)} (analysed by an earlier run)")


def cmd_analyze(args) -> int:
    from exodeep_gui.batch.analyze import ANALYZE, collect
    from exodeep_gui.batch.runner import plan_batch
    from exodeep_gui.core.analysis import AnalysisOptions, parse_rule
    from exodeep_gui.core.progress import run_to_end
    from exodeep_gui.io.analysis_output import check_outputs, write_analysis
    from exodeep_gui.io.movie_io import find_movies

    options = AnalysisOptions(radius_px=args.radius, onset_k=args.onset_k, ripley_simulations=args.simulations,
                              filters=tuple(parse_rule(f) for f in args.filter))
    if args.movie_figures is not None and args.movie_figures < 0:
        raise UserError("--movie-figures: give 0 or more")
    if not args.inputs:
        return cmd_analyze_events(args, options)
    if not args.radius > 0 or args.radius >= options.annulus_px[0]:
        raise UserError(f"--radius {args.radius:g}: must be > 0 and below the background annulus "
                        f"({options.annulus_px[0]:g} px)")
    out = Path(args.out)
    check_outputs(out, args.overwrite)                 # before any work
    cluster = cluster_choice(args)
    movies = find_movies(args.inputs)
    absolute = cluster is not None
    settings = _settings(args, options, len(movies) > 1, absolute)
    tasks, table = _tasks(args, movies, settings, absolute)
    fingerprint = ANALYZE.fingerprint(settings)
    plan = plan_batch(ANALYZE, tasks, fingerprint, resume=not args.no_resume)
    report = Path(args.report) if args.report else out / REPORT_NAME
    if args.dry_run:
        return dry_run(cluster, plan, report)
    analyses, failed = _run_and_collect(args, cluster, ANALYZE, tasks, fingerprint, plan, report, line_for(tasks),
                                        collect, "", out)
    if table is not None:         # conditions in the table's order: paired d = later − earlier condition
        order = list(dict.fromkeys(c for c, _ in table.values()))
        analyses.sort(key=lambda a: order.index(a.condition))
    with ProgressBar("report") as bar:
        written = run_to_end(write_analysis(out, analyses, options, overwrite=args.overwrite,
                                            max_movie_figures=args.movie_figures), bar)
    print_outcome(analyses, written, out)
    return 0 if not failed else 1


def print_outcome(analyses, written, out) -> None:
    """One line per movie (its counted events, rate and, with its pixels, ΔF/F0 and t½), then where
    the report and tables are."""
    for a in analyses:
        s, u = a.summary, a.units
        rate = s[u.rate_col()]
        per = f"/{u.length_label}²/{'min' if u.timed else 'frame'}"
        what = (f"  ΔF/F0 {s['dF_F0_median']:.3g}  t½ {s[u.t('t_half_median')]:.3g} {u.time_unit}" if a.has_pixels
                else f"  NN {s[u.l('nn_median')]:.3g} {u.length_label}  Ripley: {s['ripley_verdict']}")
        print(f"{a.name:30s} {s['events_kept']:5d}/{s['events']:<5d} counted  rate {rate:.4g}{per}{what}"
              + (f"  [{'; '.join(u.notes())}]" if u.notes() else ""))
    print(f"report: {written['report']}")
    print(f"tables: {', '.join(p.name for p in written['tables'])}; {len(written['figures'])} figure files in "
          f"{out / 'figures'}")


# ---------------------------------------------------------------- without movies
def _event_items(args):
    """The tables with their masks and lines of the conditions table (calibration missing there
    taken from --pixel-size / --frame-interval)."""
    from exodeep_gui.io.event_tables import plan_event_tables

    if args.events is None or not Path(args.events).is_dir():
        raise UserError("give movies, or --events FOLDER of <movie>_events.csv tables to analyse without the movies")
    if args.conditions is None:
        raise UserError("without movies, --conditions FILE must give each movie's condition, frames, "
                        "frame_interval_s and pixel_size_um")
    if args.polygon:
        raise UserError("--polygon needs the movie; without movies give masks (<movie>_mask.tif)")
    mask_folder = None
    if args.mask not in ("default",):
        if args.mask == "auto":
            raise UserError("--mask auto finds the cell in the movie; without movies give <movie>_mask.tif masks")
        if not Path(args.mask).is_dir():
            raise UserError(f"--mask {args.mask}: give the folder of <movie>_mask.tif masks")
        mask_folder = Path(args.mask)
    items = plan_event_tables(args.events, args.conditions, mask_folder, require_calibration=False)
    out = []
    for it in items:
        px = it.pixel_size_um or args.pixel_size
        dt = it.frame_interval_s or args.frame_interval
        missing = [m for m, v in (("frame_interval_s", dt), ("pixel_size_um", px)) if not v]
        problem = it.problem
        if missing and it.frames is not None and "no line" not in problem:
            extra = "; ".join(f"no {m}" for m in missing) + " (a column of the conditions table, or --frame-interval " \
                                                           "/ --pixel-size for all)"
            problem = f"{problem}; {extra}" if problem else f"{it.name}: {extra}"
        out.append(replace(it, pixel_size_um=px, frame_interval_s=dt, problem=problem))
    return out


def cmd_analyze_events(args, options) -> int:
    """Without movies: every events table of ``--events`` from its events, mask and timing."""
    from exodeep_gui.batch.analyze import ANALYZE_EVENTS, collect_events, event_table_tasks
    from exodeep_gui.batch.runner import plan_batch
    from exodeep_gui.core.progress import run_to_end
    from exodeep_gui.io.analysis_output import check_outputs, write_analysis
    from exodeep_gui.io.event_tables import condition_order

    out = Path(args.out)
    check_outputs(out, args.overwrite)                 # before any work
    cluster = cluster_choice(args)
    items = _event_items(args)
    tasks = event_table_tasks(items, out, options, absolute=cluster is not None)
    fingerprint = ANALYZE_EVENTS.fingerprint(options)
    plan = plan_batch(ANALYZE_EVENTS, tasks, fingerprint, resume=not args.no_resume)
    report = Path(args.report) if args.report else out / REPORT_NAME
    if args.dry_run:
        return dry_run(cluster, plan, report)
    line = movie_lines(lambda r, at: f"{r.summary or r.name}; condition {conditions.get(r.name, '')!r} "
                                     f"({r.seconds:.2f} s{at})",
                       lambda r: f"{r.summary or r.name} (analysed by an earlier run)")
    conditions = {t.name: t.params.item.condition for t in tasks}
    analyses, failed = _run_and_collect(args, cluster, ANALYZE_EVENTS, tasks, fingerprint, plan, report, line,
                                        collect_events, " from their events tables", out)
    order = condition_order(args.conditions, items)
    analyses.sort(key=lambda a: order.index(a.condition))
    with ProgressBar("report") as bar:
        written = run_to_end(write_analysis(out, analyses, options, overwrite=args.overwrite,
                                            max_movie_figures=args.movie_figures), bar)
    print_outcome(analyses if len(analyses) <= 20 else [], written, out)
    return 0 if not failed else 1


def _run_and_collect(args, cluster, command, tasks, fingerprint, plan, report, line, collect_fn, how: str,
                     out) -> tuple:
    """Run the movies' tasks (here or on the cluster), read their analyses back, say how many and
    what failed; a per-movie file not read back is an error in the run report. Returns (analyses,
    the failed movies' results)."""
    from exodeep_gui.batch.runner import report_text
    from exodeep_gui.io.atomic import write_text_atomic

    number = {t.name: k for k, t in enumerate(tasks, start=1)}
    ran = run_movies(args, cluster, command, tasks, fingerprint, plan, report, line,
                     label=lambda t: f"{number[t.name]}/{len(tasks)} {t.name[:20]:20s}")
    analyses, results = collect_fn(tasks, ran)
    unread = [r for r, before in zip(results, ran) if r != before]
    for r in unread:
        print(f"error: {r.reason}", file=sys.stderr)
    if unread:
        write_text_atomic(report, report_text(results, tasks), overwrite=True)
    failed = [r for r in results if r.status == "failed"]
    earlier = sum(1 for r in results if r.status == "skipped")
    print(f"{len(analyses)} of {len(results)} movies analysed{how}{f' ({earlier} by an earlier run)' if earlier else ''}"
          f"{f', {len(failed)} failed (reasons above)' if failed else ''}; run report: {report}", file=sys.stderr)
    if not analyses:
        raise UserError(f"no movie analysed: no tables, figures or report written to {out}")
    return analyses, failed
