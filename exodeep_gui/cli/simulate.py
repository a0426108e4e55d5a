"""``exodeep simulate`` and ``exodeep spots``: simulated movies with ground truth; the spot detector's preview."""

from __future__ import annotations

import sys
from pathlib import Path

from exodeep_gui.cli.common import ProgressBar, movie_notices


def register(sub) -> None:
    s = sub.add_parser("simulate", help="write simulated TIRF movies with ground truth")
    s.add_argument("out_dir")
    s.add_argument("--movies", type=int, default=1)
    s.add_argument("--frames", type=int, default=300)
    s.add_argument("--size", type=int, nargs=2, default=[256, 256], metavar=("HEIGHT", "WIDTH"))
    s.add_argument("--events", type=int, default=40)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--overwrite", action="store_true")
    s.set_defaults(func=cmd_simulate)


    sp = sub.add_parser("spots", help="preview the built-in spot detector (training counter-examples)")
    sp.add_argument("movie")
    sp.add_argument("--start", type=int, default=0, help="first frame (0-based)")
    sp.add_argument("--stop", type=int, default=None, help="frame after the last (default: the end)")
    sp.add_argument("--window", type=float, default=21.0, help="σ of the local-statistics window, px")
    sp.add_argument("--pfa", type=float, default=1e-3, help="probability of false alarm")
    sp.add_argument("--min-area", type=int, default=3, help="smallest spot kept, px")
    sp.add_argument("--channel", type=int, default=0)
    sp.add_argument("--out", help="mask TIFF (default: <movie>_spots.tif beside the movie)")
    sp.add_argument("--overwrite", action="store_true")
    sp.set_defaults(func=cmd_spots)


def cmd_simulate(args) -> int:
    from exodeep_gui.core.simulate import SimulationParams
    from exodeep_gui.io.simulated import write_simulated_set

    params = SimulationParams(frames=args.frames, height=args.size[0], width=args.size[1],
                              events=args.events)
    paths = write_simulated_set(Path(args.out_dir), args.movies, params, seed=args.seed,
                                overwrite=args.overwrite)
    for p in paths:
        print(p)
    return 0


def cmd_spots(args) -> int:
    """Counter-example preview: the built-in spot detector's mask as a TIFF beside the movie."""
    import numpy as np

    from exodeep_gui.core.progress import run_to_end
    from exodeep_gui.core.spots import SpotParams, detect_spots
    from exodeep_gui.io.movie_io import open_movie
    from exodeep_gui.io.movie_io import write_imagej_tiff

    path = Path(args.movie)
    movie = open_movie(path, channel=args.channel)
    for line in movie_notices(movie):
        print(line, file=sys.stderr)
    stop = movie.n_frames if args.stop is None else args.stop
    params = SpotParams(window_sigma=args.window, pfa=args.pfa, min_area=args.min_area)
    with ProgressBar("spots") as bar:
        mask = run_to_end(detect_spots(movie, args.start, stop, params), bar)
    out = Path(args.out) if args.out else path.parent / f"{path.stem}_spots.tif"
    write_imagej_tiff(out, mask.astype(np.uint8) * 255, movie.pixel_size_um, movie.frame_interval_s,
                      overwrite=args.overwrite)
    print(f"{int(mask.sum())} spot pixels in frames {args.start + 1}–{stop} → {out}")
    return 0


