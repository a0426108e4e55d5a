"""``exodeep detect``: detect events in movies, folders of movies or frame folders."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from exodeep_gui.cli.common import ProgressBar, UserError, print_summary, quiet_tensorflow

def register(sub) -> None:
    d = sub.add_parser("detect", help="detect events in movies (files, frame folders or folders of movies)")
    d.add_argument("inputs", nargs="+", metavar="MOVIE_OR_FOLDER")
    d.add_argument("--model", default="exodeepfinder",
                   help="a name from `exodeep models` (e.g. exodeep-sim-small: bundled, offline), .h5 weights "
                        "or a model folder")
    d.add_argument("--out", help="output folder (default: beside each movie)")
    d.add_argument("--threshold", type=float, default=None,
                   help="minimum event score, 0-1 (default: the model's recommendation, else 0.5)")
    d.add_argument("--min-size", type=int, default=None,
                   help="minimum event size in voxels (default: the model's recommendation, else 0)")
    d.add_argument("--channel", type=int, default=0, help="channel of multi-channel files (default 0)")
    d.add_argument("--method", choices=["components", "meanshift"], default="components",
                   help="grouping of event voxels: connected components (default) or the reference's mean shift")
    d.add_argument("--tiling", choices=["streaming", "reference"], default="streaming",
                   help="streaming (default: exact, fast) or reference: ExoDeepFinder's cubes and zero padding, "
                        "artefacts included, to reproduce its results (slow; loads the movie into memory)")
    d.add_argument("--cube", type=int, default=160, help="cube side for --tiling reference (default 160)")
    d.add_argument("--formats", type=lambda s: s.split(","), default=["csv", "roi", "xml"],
                   help="comma-separated outputs among csv,roi,xml (default all)")
    d.add_argument("--overwrite", action="store_true", help="replace existing result files")
    d.set_defaults(func=cmd_detect)


def cmd_detect(args) -> int:
    quiet_tensorflow()
    from exodeep_gui.core.detection import DetectOptions
    from exodeep_gui.core.progress import run_to_end
    from exodeep_gui.io.atomic import check_writable_folder
    from exodeep_gui.io.movie_io import find_movies, open_movie
    from exodeep_gui.io.results import result_paths, write_results
    from exodeep_gui.ml.detect import Detector
    from exodeep_gui.ml.device import describe_device

    movies = find_movies(args.inputs)
    options = DetectOptions(model=args.model, threshold=args.threshold, min_size=args.min_size,
                            method=args.method, tiling=args.tiling, cube=args.cube)
    if args.out:
        check_writable_folder(Path(args.out))
    detector = Detector.load(args.model)
    print(f"model: {detector.name} ({detector.info.weights}); {describe_device()}", file=sys.stderr)
    summary = []
    for path in movies:
        t0 = time.perf_counter()
        try:
            movie = open_movie(path, channel=args.channel)
            out_dir = Path(args.out) if args.out else path.parent
            stem = path.stem if path.is_file() else path.name
            existing = [p for p in result_paths(out_dir, stem, args.formats).values() if p.exists()]
            if existing and not args.overwrite:        # before the network runs, not after
                raise UserError(f"{existing[0]} already exists (use --overwrite to replace it)")
            check_writable_folder(out_dir)
            with ProgressBar(f"{stem[:24]:24s}") as bar:
                detection = run_to_end(detector.detect(movie, options), bar)
            events = detection.events()
            written = write_results(out_dir, stem, events, movie.pixel_size_um, movie.frame_interval_s,
                                    args.formats, overwrite=args.overwrite)
            dt = time.perf_counter() - t0
            summary.append((stem, movie.n_frames, len(events), dt, "ok"))
            print(f"{stem}: {len(events)} events in {movie.n_frames} frames ({dt:.1f} s) → "
                  f"{', '.join(str(v) for v in written)}", file=sys.stderr)
        except (UserError, ValueError, OSError) as exc:
            summary.append((path.name, 0, 0, time.perf_counter() - t0, f"FAILED: {exc}"))
            print(f"error: {exc}", file=sys.stderr)
    print_summary(summary)
    return 0 if all(s[4] == "ok" for s in summary) else 1


