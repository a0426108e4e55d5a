"""``exodeep detect``: detect events in movies, folders of movies or frame folders; in this process,
or one task per movie on a Dask cluster (``--cluster local|slurm|ADDRESS``, see exodeep_gui.batch).
Both keep a marker per finished movie (a second run skips them) and a report CSV."""

from __future__ import annotations

import sys
from pathlib import Path

from exodeep_gui.cli.common import MovieBar, ProgressBar, UserError, print_batch_summary, quiet_tensorflow

REPORT_NAME = "exodeep_detect_report.csv"


def register(sub) -> None:
    from exodeep_gui.core.detection import PRECISIONS

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


def register_cluster_options(d) -> None:
    """--cluster, --workers, --retries, --dry-run and the SLURM options (exodeep analyze can share them)."""
    b = d.add_argument_group("batch on a Dask cluster (one task per movie)")
    b.add_argument("--cluster", metavar="local|slurm|tcp://HOST:PORT",
                   help="local: worker processes on this computer (the default with --workers); slurm: SLURM jobs "
                        "(dask-jobqueue); an address: an existing Dask scheduler")
    b.add_argument("--workers", type=int, metavar="N",
                   help="local: N worker processes (default: cores / 2); slurm: at most N jobs (adaptive 0…N)")
    b.add_argument("--retries", type=int, default=2, metavar="N",
                   help="retries of a movie whose worker died (default 2; clusters started here)")
    b.add_argument("--dry-run", action="store_true",
                   help="say what would run (movies to do, finished earlier) and, with slurm, print the job "
                        "script; submit nothing")
    s = d.add_argument_group("SLURM (--cluster slurm; flags override the file)")
    s.add_argument("--slurm-config", metavar="YAML",
                   help="queue, account, walltime, cores, memory, gpus_per_job, max_jobs, prologue, job_extra, "
                        "python, interface, local_directory, log_directory")
    s.add_argument("--queue", help="partition")
    s.add_argument("--account")
    s.add_argument("--walltime", help="per job, e.g. 02:00:00 (default 01:00:00)")
    s.add_argument("--cores", type=int, help="CPUs per job (default 4)")
    s.add_argument("--memory", help="memory per job, e.g. 32GB (default 16GB)")
    s.add_argument("--gpus-per-job", type=int, metavar="N", help="GPUs per job, one worker each (default 0)")


def cluster_choice(args):
    """The cluster ``args`` ask for, or None (this process)."""
    from exodeep_gui.batch.cluster import ClusterChoice, parse_cluster, slurm_options

    if args.cluster is None and args.workers is None:
        return None
    kind, address = parse_cluster(args.cluster or "local")
    if args.workers is not None and args.workers < 1:
        raise UserError("--workers: give at least 1")
    if args.retries < 0:
        raise UserError("--retries: give 0 or more")
    if kind == "address" and args.workers is not None:
        raise UserError("--workers: an existing scheduler has the workers it has (start more there)")
    slurm = slurm_options(args.slurm_config, queue=args.queue, account=args.account, walltime=args.walltime,
                          cores=args.cores, memory=args.memory, gpus_per_job=args.gpus_per_job)
    return ClusterChoice(kind, address, args.workers, args.retries, slurm)


def report_path(args, tasks) -> Path:
    if args.report:
        return Path(args.report)
    return (Path(args.out) if args.out else Path(tasks[0].out_dir)) / REPORT_NAME


def cmd_detect(args) -> int:
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
                            method=args.method, tiling=args.tiling, cube=args.cube, precision=args.precision)
    if cluster_choice(args) is None:            # here: refuse float16 on a CPU once, not once per movie
        from exodeep_gui.ml.device import resolve_precision

        try:
            resolve_precision(args.precision)
        except ValueError as exc:
            raise UserError(str(exc)) from None
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
    if cluster is None or not plan.todo:         # in this process (no cluster to start for nothing)
        results = _run_here(args, info, tasks, fingerprint, plan, report)
    else:
        print(f"model: {info.name} ({info.weights})", file=sys.stderr)
        results = run_on_cluster(args, cluster, DETECT, tasks, fingerprint, plan, report)
    print_batch_summary(results)
    print(f"report: {report}", file=sys.stderr)
    return 0 if all(r.status != "failed" for r in results) else 1


def movie_line(r, debug: bool = False, where: bool = False) -> str:
    """The line about one finished movie, as the command always printed it (after its notes)."""
    if r.status == "ok":
        at = f", {r.worker}" if where else ""
        notes = "".join(f"note: {n}\n" for n in r.notes)
        return (f"{notes}{r.name}: {r.events} events in {r.frames} frames ({r.seconds:.1f} s{at}) → "
                f"{', '.join(r.outputs)}")
    if r.status == "skipped":
        return f"{r.name}: finished by an earlier run ({r.events} events), skipped"
    return f"error: {r.reason}" + (f"\n{r.detail}" if r.detail and debug else "")


def _run_here(args, info, tasks, fingerprint, plan, report):
    """One movie after the other in this process, with a progress bar per movie."""
    from exodeep_gui.batch.detect import DETECT
    from exodeep_gui.batch.runner import run_batch

    if plan.todo:                               # the model is loaded once, before the movies
        from exodeep_gui.ml.detect import cached_detector
        from exodeep_gui.ml.device import describe_device

        detector = cached_detector(args.model)
        print(f"model: {detector.name} ({detector.info.weights}); {describe_device()}", file=sys.stderr)
    else:
        print(f"model: {info.name} ({info.weights})", file=sys.stderr)
    return run_batch(DETECT, tasks, fingerprint, plan=plan, report=report,
                     progress_for=lambda task: ProgressBar(f"{task.name[:24]:24s}"),
                     on_result=lambda r: print(movie_line(r, args.debug), file=sys.stderr))


def run_on_cluster(args, cluster, command, tasks, fingerprint, plan, report):
    """One Dask task per movie, with a progress bar over the movies (any batch.MovieCommand)."""
    from exodeep_gui.batch.cluster import open_client
    from exodeep_gui.batch.runner import run_batch

    with open_client(cluster, len(plan.todo)) as (client, what):
        print(f"{what}; {len(plan.todo)} movies to do, {plan.skipped} finished earlier", file=sys.stderr)
        with MovieBar(len(tasks)) as bar:
            def on_result(r):
                bar.print(movie_line(r, args.debug, where=True))
                bar.advance(failed=r.status == "failed")

            return run_batch(command, tasks, fingerprint, client=client, plan=plan, report=report,
                             on_result=on_result)


def dry_run(cluster, plan, report) -> int:
    from exodeep_gui.batch.cluster import job_script

    refused = [r for r in plan.results.values() if r.status == "failed"]
    print(f"{plan.total} movies: {len(plan.todo)} to do, {plan.skipped} finished earlier, {len(refused)} refused; "
          f"report would go to {report}", file=sys.stderr)
    for r in refused:
        print(f"refused: {r.reason}", file=sys.stderr)
    if cluster is not None and cluster.kind == "slurm":
        print(job_script(cluster))
    return 0 if not refused else 1
