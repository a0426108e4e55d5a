"""``exodeep evaluate``: precision, recall and F1 of predictions against annotations (the paper's rule)."""

from __future__ import annotations

from pathlib import Path

def register(sub) -> None:
    e = sub.add_parser("evaluate", help="precision, recall, F1 of predictions against annotations")
    e.add_argument("truth", help="annotation table (X, Y, Slice) or folder of them")
    e.add_argument("pred", help="predicted events table or folder of them")
    e.add_argument("--max-dist", type=float, default=4.5)
    e.add_argument("--dt-min", type=int, default=-2)
    e.add_argument("--dt-max", type=int, default=5)
    e.add_argument("--exclude-edges", type=int, default=0, help="ignore the first and last N frames")
    e.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args) -> int:
    from exodeep_gui.core.evaluate import Scores, evaluate_events
    from exodeep_gui.io.results import pair_event_tables, read_events

    total = Scores(0, 0, 0)
    pairs = pair_event_tables(Path(args.truth), Path(args.pred))
    for t, p in pairs:
        s = evaluate_events(read_events(t), read_events(p), max_dist=args.max_dist,
                            dt_range=(args.dt_min, args.dt_max), exclude_edge_frames=args.exclude_edges)
        total = total + s
        if len(pairs) > 1:
            print(f"{t.stem:30s} {s.summary()}")
    print(("all: " if len(pairs) > 1 else "") + total.summary())
    return 0


