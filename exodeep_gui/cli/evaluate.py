"""``exodeep evaluate``: precision, recall and F1 of predictions against annotations (the paper's rule).

When the movie of a pair of tables is known (``--movie``, or a movie beside the annotations or the
predictions with the same name), both tables are checked against it first: a row outside the
movie is refused with the rows named, and ``--exclude-edges`` counts from the movie's last frame."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

from exodeep_gui.cli.common import UserError

MOVIE_SUFFIXES = (".tif", ".tiff", ".ome.tif", ".ome.tiff", ".h5", ".hdf5", ".nd2")


def register(sub) -> None:
    e = sub.add_parser("evaluate", help="precision, recall, F1 of predictions against annotations")
    e.add_argument("truth", help="annotation table (X, Y, Slice) or folder of them")
    e.add_argument("pred", help="predicted events table or folder of them")
    e.add_argument("--movie", action="append", default=[], metavar="MOVIE",
                   help="the movie of the tables (repeat for folders; default: a movie with the same name "
                        "beside the annotations or the predictions): rows outside it are refused")
    e.add_argument("--max-dist", type=float, default=4.5)
    e.add_argument("--dt-min", type=int, default=-2)
    e.add_argument("--dt-max", type=int, default=5)
    e.add_argument("--exclude-edges", type=int, default=0, help="ignore the first and last N frames")
    e.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args) -> int:
    from exodeep_gui.core.evaluate import Scores, evaluate_events
    from exodeep_gui.io.results import pair_event_tables, read_events

    given = {_movie_stem(Path(m)): Path(m) for m in args.movie}
    for m in given.values():
        if not m.exists():
            raise UserError(f"{m}: no such movie")
    total = Scores(0, 0, 0)
    pairs = pair_event_tables(Path(args.truth), Path(args.pred))
    if len(pairs) == 1 and len(given) == 1:
        given = {pairs[0][0].stem: next(iter(given.values()))}
    for t, p in pairs:
        truth, pred = read_events(t), read_events(p)
        shape = movie_shape_for(t, p, given)
        if shape is not None:
            check_tables_in_movie(shape, (truth, t), (pred, p))
        s = evaluate_events(truth, pred, max_dist=args.max_dist, dt_range=(args.dt_min, args.dt_max),
                            exclude_edge_frames=args.exclude_edges,
                            n_frames=None if shape is None else shape[0])
        total = total + s
        if len(pairs) > 1:
            print(f"{t.stem:30s} {s.summary()}")
    print(("all: " if len(pairs) > 1 else "") + total.summary())
    return 0


def _movie_stem(path: Path) -> str:
    name = path.name
    for suffix in sorted(MOVIE_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[:-len(suffix)]
    return name


def find_movie_beside(truth: Path, pred: Path) -> Optional[Path]:
    """A movie named like the annotations (beside them) or like the predictions (``NAME_events.csv``
    → ``NAME.tif`` beside them): a movie file or a folder of frames."""
    candidates = [truth.parent / truth.stem]
    stem = pred.stem[:-len("_events")] if pred.stem.endswith("_events") else pred.stem
    candidates.append(pred.parent / stem)
    for base in candidates:
        for suffix in MOVIE_SUFFIXES:
            f = base.with_name(base.name + suffix)
            if f.is_file():
                return f
        if base.is_dir():
            return base
    return None


def movie_shape_for(truth: Path, pred: Path, given: dict):
    """(t, y, x) of the movie of this pair: one given with ``--movie`` (matched by name), else one
    found beside the tables, else None (then nothing can be checked)."""
    from exodeep_gui.io.movie_io import open_movie

    movie = given.get(truth.stem) or given.get(_movie_stem(pred).removesuffix("_events"))
    explicit = movie is not None
    movie = movie or find_movie_beside(truth, pred)
    if movie is None:
        return None
    try:
        return open_movie(movie).shape
    except ValueError as exc:            # MovieError
        if explicit:
            raise
        print(f"note: rows not checked against the movie: {exc}", file=sys.stderr)
        return None


def check_tables_in_movie(shape, *tables) -> None:
    """Refuse a table (``(events, path)`` pairs) with rows outside a movie of ``shape``."""
    from exodeep_gui.core.events import check_events_in_movie

    for events, path in tables:
        check_events_in_movie(events, shape, str(path))
