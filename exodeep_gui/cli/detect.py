"""``exodeep detect``: detect events in movies, folders of movies or frame folders; in this process,
or one task per movie on a Dask cluster (``--cluster local|slurm|ADDRESS``, see exodeep_gui.batch).
Both keep a marker per finished movie (a second run skips them) and a report CSV."""

from __future__ import annotations

import sys
from pathlib import Path

from exodeep_gui.cli.common import (UserError, cluster_choice, dry_run, movie_lines, print_batch_summary,
                                    quiet_tensorflow, register_cluster_options, run_movies)

REPORT_NAME = "exodeep_detect_report.csv"

movie_line = movie_lines(
    lambda r, at: f"{r.name}: {r.events} events in {r.frames} frames ({r.seconds:.1f} s{at}) → "
                  f"{', '.join(r.outputs)}",
    lambda r: f"{r.name}: finished by an earlier run ({r.events} events), skipped")


def register(sub) -> None:
    from exodeep_gui.core.detection import PRECISIONS, TTA_CHOICES

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
    d.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="arithmetic of the network: auto (default: bfloat16 on CPUs with AVX512_BF16 or AMX, "
                        "float16 on GPUs, else float32), float32, bfloat16 or float16 (GPUs only)")
    d.add_argument("--tta", type=int, choices=TTA_CHOICES, default=1,
                   help="test-time augmentation: run the network on 1 (default), 4 or 8 rotated/mirrored views of "
                        "the movie and average them (about 4 or 8 times the time); events only some views saw are "
                        "kept as candidates for review, never exported")
    d.add_argument("--formats", type=lambda s: s.split(","), default=["csv", "roi", "xml"],
                   help="comma-separated outputs among csv,roi,xml (default all)")
    d.add_argument("--overwrite", action="store_true", help="replace existing result files")
    d.add_argument("--report", metavar="CSV",
                   help=f"run report (movie, status, events, frames, seconds, worker, reason); default "
                        f"{REPORT_NAME} in --out, else beside the first movie")
    d.add_argument("--no-resume", action="store_true",
                   help="run movies an earlier run of the same command finished too (their markers in "
                        ".exodeep/ are otherwise used to skip them; needs --overwrite)")
    register_cluster_options(d)
    d.set_defaults(func=cmd_detect)


def report_path(args, tasks) -> Path:
    if args.report:
        return Path(args.report)
    return (Path(args.out) if args.out else Path(tasks[0].out_dir)) / REPORT_NAME


def cmd_detect(args) -> int:
    started = _since_process_start()
    quiet_tensorflow()
    from exodeep_gui.batch.detect import DETECT, DetectJob
    from exodeep_gui.batch.runner import plan_batch
    from exodeep_gui.batch.tasks import movie_tasks
    from exodeep_gui.core.detection import DetectOptions
    from exodeep_gui.io.atomic import check_writable_folder
    from exodeep_gui.io.movie_io import find_movies
    from exodeep_gui.ml.models import resolve_model

    movies = find_movies(args.inputs)
    options = DetectOptions(model=args.model, threshold=args.threshold, min_size=args.min_size,
                            method=args.method, tiling=args.tiling, cube=args.cube, precision=args.precision,
                            tta=args.tta)
    if args.tta != 1 and args.tiling == "reference":
        raise UserError("--tta runs with the streaming engine: leave out --tiling reference")
    if args.no_resume and not args.overwrite:
        raise UserError("--no-resume replaces results of an earlier run: add --overwrite")
    cluster = cluster_choice(args)
    if args.out:
        check_writable_folder(Path(args.out))
    job = DetectJob(options, args.channel, tuple(args.formats))
    tasks = movie_tasks(movies, args.out, job, overwrite=args.overwrite, absolute=cluster is not None)
    info = resolve_model(args.model)            # a missing model is reported before any movie
    fingerprint = DETECT.fingerprint(job)
    plan = plan_batch(DETECT, tasks, fingerprint, resume=not args.no_resume)
    report = report_path(args, tasks)
    if args.dry_run:
        print(f"model: {info.name} ({info.weights})", file=sys.stderr)
        return dry_run(cluster, plan, report)
    if cluster is None and plan.todo:           # here: the model is loaded once, before the movies
        _load_here(args)
    else:
        print(f"model: {info.name} ({info.weights})", file=sys.stderr)
    results = run_movies(args, cluster, DETECT, tasks, fingerprint, plan, report, movie_line,
                         label=lambda task: f"{task.name[:24]:24s}")
    print_batch_summary(results)
    print(f"report: {report}", file=sys.stderr)
    _write_timings(started)
    return 0 if all(r.status != "failed" for r in results) else 1


def _since_process_start() -> float:
    """Seconds since this process started (the interpreter's start-up and imports until the command runs)."""
    import time

    import psutil

    return max(0.0, time.time() - psutil.Process().create_time())


def _write_timings(started: float) -> None:
    """With ``EXODEEP_TIMINGS=FILE`` (benchmarks), the seconds of each stage of this run as JSON: start-up
    (process start to the command), imports (TensorFlow/Keras), model (build and weights), open, setup,
    read, normalize, network, transfer, grouping, write, and total (process start to now)."""
    import json
    import os

    path = os.environ.get("EXODEEP_TIMINGS")
    if not path:
        return
    from exodeep_gui.ml.detect import TIMINGS

    record = {"startup": started, **TIMINGS, "total": _since_process_start()}
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({k: round(v, 4) if isinstance(v, float) else v for k, v in record.items()}, fh, indent=1)


def _load_here(args) -> None:
    from exodeep_gui.ml.detect import cached_detector
    from exodeep_gui.ml.device import describe_device, resolve_precision

    if args.precision == "float16":             # refused on a CPU once, not once per movie
        try:
            resolve_precision(args.precision)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    detector = cached_detector(args.model)
    print(f"model: {detector.name} ({detector.info.weights}); {describe_device()}", file=sys.stderr)
