"""``exodeep analyze``: measure the events of movies (kinetics, size, per-cell rate and spatial
statistics), compare conditions, and write the tables, figures and a self-contained report."""

from __future__ import annotations

import sys
from pathlib import Path

from exodeep_gui.cli.common import ProgressBar, UserError


def register(sub) -> None:
    a = sub.add_parser("analyze", help="measure events (ΔF/F0, t½, size), cells (rate, spatial statistics) and "
                                       "conditions; writes CSV tables, figures and report.html")
    a.add_argument("inputs", nargs="+", metavar="MOVIES_OR_FOLDER")
    a.add_argument("--events", metavar="EVENTS_CSV_OR_FOLDER",
                   help="events table (one movie) or folder of <movie>_events.csv (default: <movie>_events.csv "
                        "beside each movie, else the reviewed events of its saved review)")
    a.add_argument("--conditions", metavar="FILE",
                   help="CSV with columns movie, condition and optionally pair (same cell before/after), "
                        "conditions in the order to compare (d > 0: the later one is higher); "
                        "default: each movie's folder name is its condition")
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
    a.set_defaults(func=cmd_analyze)


def _parse_polygon(text: str):
    try:
        return [tuple(float(v) for v in p.split(",")) for p in text.split()]
    except ValueError:
        raise UserError(f"--polygon {text!r}: give vertices as X,Y X,Y X,Y (pixels)") from None


def _mask_for(args, path: Path, movie, several: bool):
    from exodeep_gui.core.analysis import cell
    from exodeep_gui.io.masks import mask_for, read_mask

    shape = movie.shape[1:]
    if args.polygon:
        return cell.polygon_mask(_parse_polygon(args.polygon), shape), cell.MASK_POLYGON
    if args.mask == "auto":
        return None, ""
    if args.mask == "default":
        beside = mask_for(path)
        return (read_mask(beside, shape), f"{cell.MASK_FILE} {beside.name}") if beside else (None, "")
    m = Path(args.mask)
    if m.is_dir():
        stem = path.name if path.is_dir() else path.stem
        found = next((m / f"{stem}_mask{s}" for s in (".tif", ".tiff") if (m / f"{stem}_mask{s}").is_file()), None)
        if found is None:
            raise UserError(f"{m}: no {stem}_mask.tif for {path.name}")
        return read_mask(found, shape), f"{cell.MASK_FILE} {found.name}"
    if several:
        raise UserError(f"--mask {m}: one mask for several movies; give a folder of <movie>_mask.tif")
    return read_mask(m, shape), f"{cell.MASK_FILE} {m.name}"


def _unique_names(paths):
    stems = [p.stem if p.is_file() else p.name for p in paths]
    dup = {s for s in stems if stems.count(s) > 1}
    return [f"{p.parent.name}/{s}" if s in dup else s for p, s in zip(paths, stems)]


def _prepare(args, movies):
    """Open every movie and find its events, mask and condition; every problem is listed at once."""
    from exodeep_gui.core.analysis import validate_events
    from exodeep_gui.io.analysis_inputs import condition_of, load_movie_events, read_conditions
    from exodeep_gui.io.movie_io import open_movie

    table = read_conditions(args.conditions) if args.conditions else None
    several = len(movies) > 1
    if several and args.polygon:
        raise UserError("--polygon applies to one movie; give one movie or a folder of masks with --mask")
    items, problems = [], []
    for path, name in zip(movies, _unique_names(movies)):
        try:
            movie = open_movie(path, channel=args.channel)
            if args.pixel_size and not movie.pixel_size_um:
                movie.pixel_size_um = args.pixel_size
            if args.frame_interval and not movie.frame_interval_s:
                movie.frame_interval_s = args.frame_interval
            events, source = load_movie_events(movie, path, args.events, several)
            validate_events(events, movie.shape, source)
            cond = condition_of(path, table)
            if cond is None:
                raise UserError(f"{path.name}: not in the conditions table {args.conditions}")
            mask, mask_source = _mask_for(args, path, movie, several)
            items.append({"movie": movie, "events": events, "mask": mask, "mask_source": mask_source,
                          "name": name, "condition": cond[0], "pair": cond[1], "source": source})
        except (UserError, ValueError, OSError) as exc:
            problems.append(str(exc))
    if problems:
        raise UserError(f"{len(problems)} problem(s), nothing analysed:\n  " + "\n  ".join(problems))
    if table is not None:         # conditions in the table's order: paired d = later − earlier condition
        order = list(dict.fromkeys(c for c, _ in table.values()))
        items.sort(key=lambda it: order.index(it["condition"]))
    return items


def cmd_analyze(args) -> int:
    from exodeep_gui.core.analysis import AnalysisOptions, analyze_movies, parse_rule
    from exodeep_gui.core.progress import run_to_end
    from exodeep_gui.io.analysis_output import check_outputs, write_analysis
    from exodeep_gui.io.movie_io import find_movies

    options = AnalysisOptions(radius_px=args.radius, onset_k=args.onset_k, ripley_simulations=args.simulations,
                              filters=tuple(parse_rule(f) for f in args.filter))
    if not args.radius > 0 or args.radius >= options.annulus_px[0]:
        raise UserError(f"--radius {args.radius:g}: must be > 0 and below the background annulus "
                        f"({options.annulus_px[0]:g} px)")
    out = Path(args.out)
    check_outputs(out, args.overwrite)                 # before any work
    movies = find_movies(args.inputs)
    items = _prepare(args, movies)
    for it in items:
        print(f"{it['name']}: {len(it['events'])} events from {it['source']}; condition {it['condition']!r}",
              file=sys.stderr)
    with ProgressBar("analyze") as bar:
        analyses = run_to_end(analyze_movies(items, options), bar)
        written = run_to_end(write_analysis(out, analyses, options, overwrite=args.overwrite), bar)
    for a in analyses:
        s, u = a.summary, a.units
        rate = s[u.rate_col()]
        per = f"/{u.length_label}²/{'min' if u.timed else 'frame'}"
        print(f"{a.name:30s} {s['events_kept']:5d}/{s['events']:<5d} counted  rate {rate:.4g}{per}"
              f"  ΔF/F0 {s['dF_F0_median']:.3g}  t½ {s[u.t('t_half_median')]:.3g} {u.time_unit}"
              + (f"  [{'; '.join(u.notes())}]" if u.notes() else ""))
    print(f"report: {written['report']}")
    print(f"tables: {', '.join(p.name for p in written['tables'])}; {len(written['figures'])} figure files in "
          f"{out / 'figures'}")
    return 0
