"""What the commands share: the user-error type, a quiet TensorFlow, the progress bars, the summary, and
the batch options and runs of the per-movie commands (``--cluster``, ``--workers``, ``--dry-run``…)."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path


class UserError(Exception):
    """An error whose message is for the user (no traceback)."""


def quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class ProgressBar:
    """A rich progress bar on stderr: label, bar, percent, frames/s (detection) and time left, or the
    name of a short stage (prepare, events, calibrate…). Drawn only on a terminal; :meth:`print` lines
    (validation scores) are written either way."""

    def __init__(self, label: str):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

        self.console = Console(stderr=True, highlight=False)
        self._bar = Progress(TextColumn("{task.description}", markup=False), BarColumn(), TaskProgressColumn(),
                             TextColumn("{task.fields[rate]}{task.fields[eta]}", markup=False),
                             console=self.console, disable=not self.console.is_terminal)
        self._task = self._bar.add_task(label, total=1.0, rate="", eta="")

    def __enter__(self) -> "ProgressBar":
        self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self._bar.stop()

    def __call__(self, p) -> None:
        eta = "" if p.eta_s is None else f" {int(p.eta_s) // 60}:{int(p.eta_s) % 60:02d} left"
        rate = f" {p.rate:.1f} frames/s" if p.stage == "detect" and p.rate else ""
        if p.stage not in ("detect", "train", "spots"):
            rate, eta = f" {p.stage}", ""
        self._bar.update(self._task, completed=p.fraction, rate=rate, eta=eta)

    def print(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)


class MovieBar:
    """A rich progress bar over the movies of a batch (done/total, failures, time left) on stderr,
    drawn only on a terminal; :meth:`print` writes a line above it either way."""

    def __init__(self, total: int, label: str = "movies"):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.console = Console(stderr=True, highlight=False)
        self._bar = Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                             TextColumn("{task.fields[failed]}", markup=False), TimeRemainingColumn(),
                             console=self.console, disable=not self.console.is_terminal)
        self._task = self._bar.add_task(label, total=total, failed="")
        self.failed = 0

    def __enter__(self) -> "MovieBar":
        self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self._bar.stop()

    def advance(self, failed: bool = False) -> None:
        self.failed += bool(failed)
        self._bar.update(self._task, advance=1, failed=f"{self.failed} failed" if self.failed else "")

    def print(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)


def print_batch_summary(results) -> None:
    """The summary table of a batch (batch.tasks.MovieResult rows), movies an earlier run finished
    counted as done."""
    if len(results) < 1:
        return
    print(f"{'movie':30s} {'frames':>7s} {'events':>7s} {'time s':>8s}  status")
    for r in results:
        status = {"ok": "ok", "skipped": "done earlier"}.get(r.status, f"FAILED: {r.reason}")
        name = r.name if r.status != "failed" else Path(r.movie).name
        print(f"{name[:30]:30s} {r.frames:7d} {r.events:7d} {r.seconds:8.1f}  {status}")
    done = [r for r in results if r.status in ("ok", "skipped")]
    earlier = sum(1 for r in results if r.status == "skipped")
    print(f"{len(done)} of {len(results)} movies done{f' ({earlier} by an earlier run)' if earlier else ''}, "
          f"{sum(r.events for r in done)} events")


def movie_notices(movie) -> list:
    """What the reader had to interpret in ``movie`` (``Movie.metadata["notices"]``: an axis-less stack
    read as time, other images in the file…), as ``note: NAME: …`` lines for stderr."""
    notes = (getattr(movie, "metadata", None) or {}).get("notices") or []
    name = movie.source.name if getattr(movie, "source", None) is not None else movie.name
    return [f"note: {name}: {n}" for n in notes]


# ---------------------------------------------------------------- batch runs (exodeep detect, analyze)
def register_cluster_options(d) -> None:
    """--cluster, --workers, --retries, --dry-run and the SLURM options (exodeep detect and analyze)."""
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
    """The cluster ``args`` ask for, or None (this process: Dask is not imported)."""
    if args.cluster is None and args.workers is None:
        return None
    from exodeep_gui.batch.cluster import ClusterChoice, parse_cluster
    from exodeep_gui.batch.slurm import slurm_options

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


def movie_lines(done, skipped):
    """``line(result, debug, where)``, the line a command prints about one finished movie: its notes
    then ``done(r, at)`` (``at``: ", worker" on a cluster), ``skipped(r)`` for a movie an earlier run
    finished, or why it failed (one line; the details with --debug)."""
    def line(r, debug: bool = False, where: bool = False) -> str:
        if r.status == "ok":
            return "".join(f"note: {n}\n" for n in r.notes) + done(r, f", {r.worker}" if where else "")
        if r.status == "skipped":
            return skipped(r)
        return f"error: {' '.join(r.reason.split())}" + (f"\n{r.detail}" if r.detail and debug else "")

    return line


def slurm_logs_beside(cluster, report):
    """The cluster choice, with SLURM's worker logs (when no folder was given) in ``.exodeep/slurm-logs``
    beside the run report: on the filesystem the nodes share, with the run's other bookkeeping."""
    if cluster is None or cluster.kind != "slurm" or cluster.slurm.log_directory:
        return cluster
    from dataclasses import replace

    logs = Path(report).absolute().parent / ".exodeep" / "slurm-logs"
    return replace(cluster, slurm=replace(cluster.slurm, log_directory=str(logs)))


@contextmanager
def signals_interrupt():
    """SIGTERM and SIGHUP (a closed terminal, a killed session) act as Ctrl+C while a cluster is
    open, so that it is closed: its SLURM jobs cancelled, not left queued."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    names = [n for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    saved = {n: signal.signal(getattr(signal, n), interrupt) for n in names}
    try:
        yield
    finally:
        for n, handler in saved.items():
            signal.signal(getattr(signal, n), handler)


def run_movies(args, cluster, command, tasks, fingerprint, plan, report, line, label):
    """The movies left to do (any batch.MovieCommand): on the cluster, one Dask task each with a bar
    over the movies; else here, one after the other with a bar each (``label(task)``). ``line`` (see
    :func:`movie_lines`) is printed for each finished movie."""
    from exodeep_gui.batch.runner import run_batch

    if cluster is None or not plan.todo:         # no cluster started for nothing
        return run_batch(command, tasks, fingerprint, plan=plan, report=report,
                         progress_for=lambda task: ProgressBar(label(task)),
                         on_result=lambda r: print(line(r, args.debug), file=sys.stderr))
    from exodeep_gui.batch.cluster import open_client

    cluster = slurm_logs_beside(cluster, report)
    with MovieBar(len(tasks)) as bar, signals_interrupt():
        with open_client(cluster, len(plan.todo), say=bar.print) as opened:
            bar.print(f"{opened.description}; {len(plan.todo)} movies to do, {plan.skipped} finished earlier")

            def on_result(r):
                bar.print(line(r, args.debug, where=True))
                bar.advance(failed=r.status == "failed")

            return run_batch(command, tasks, fingerprint, client=opened.client, plan=plan, report=report,
                             on_result=on_result, watch=opened.watch, where=opened.where)


def dry_run(cluster, plan, report) -> int:
    refused = [r for r in plan.results.values() if r.status == "failed"]
    print(f"{plan.total} movies: {len(plan.todo)} to do, {plan.skipped} finished earlier, {len(refused)} refused; "
          f"report would go to {report}", file=sys.stderr)
    for r in refused:
        print(f"refused: {r.reason}", file=sys.stderr)
    if cluster is not None and cluster.kind == "slurm":
        from exodeep_gui.batch.cluster import job_script

        cluster = slurm_logs_beside(cluster, report)
        made = _missing_folders(Path(cluster.slurm.log_directory))
        try:
            print(job_script(cluster))
        finally:                                 # dask-jobqueue makes the logs folder: a dry run leaves nothing
            for folder in made:
                try:
                    folder.rmdir()
                except OSError:
                    break
    return 0 if not refused else 1


def _missing_folders(path: Path) -> list:
    """The folders of ``path`` that do not exist yet, deepest first."""
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing
