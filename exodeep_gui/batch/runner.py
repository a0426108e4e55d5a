"""Run a :class:`MovieCommand` over movies: plan (skip finished movies, refuse clashing ones),
then run the rest in this process or on a Dask client, and keep a report CSV up to date.

Lost workers are retried by the Dask scheduler itself (``distributed.scheduler.allowed-failures``,
set by :mod:`.cluster` for the clusters it starts); a movie whose workers kept dying is reported as
failed with that reason, and the other movies finish.
"""

from __future__ import annotations

import csv
import io
import uuid
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from exodeep_gui.batch.tasks import (MovieCommand, MovieResult, MovieTask, describe_error, result_from_marker,
                                     resumable, run_task)
from exodeep_gui.io.atomic import write_text_atomic

REPORT_COLUMNS = ("movie", "status", "events", "frames", "seconds", "worker", "reason")


@dataclass
class Plan:
    """``todo``: tasks to run (index in the input order, task); ``results``: movies settled before
    any work (finished earlier, or refused: a clashing name, an output that is there)."""

    todo: List[tuple] = field(default_factory=list)
    results: Dict[int, MovieResult] = field(default_factory=dict)
    total: int = 0
    resume: bool = True

    @property
    def skipped(self) -> int:
        return sum(1 for r in self.results.values() if r.status == "skipped")


def plan_batch(command: MovieCommand, tasks: Sequence[MovieTask], fingerprint, resume: bool = True) -> Plan:
    plan = Plan(total=len(tasks), resume=resume)
    seen: Dict[tuple, str] = {}
    for i, task in enumerate(tasks):
        key = (str(Path(task.out_dir).resolve()), task.name)
        if key in seen:
            plan.results[i] = MovieResult(task.movie, task.name, "failed", reason=(
                f"{task.movie}: its outputs would have the same name as those of {seen[key]} "
                f"({task.name}); give them different names or output folders"))
            continue
        seen[key] = task.movie
        record = None
        if resume:
            record, task = resumable(command, task, fingerprint)
        if record is not None:
            plan.results[i] = result_from_marker(task, record, "skipped", "finished by an earlier run")
            continue
        try:
            command.check(task)
        except Exception as exc:
            plan.results[i] = MovieResult(task.movie, task.name, "failed", reason=describe_error(exc))
            continue
        plan.todo.append((i, task))
    return plan


# ---------------------------------------------------------------- the report
def report_text(results: Sequence[Optional[MovieResult]], tasks: Sequence[MovieTask]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(REPORT_COLUMNS)
    for task, r in zip(tasks, results):
        if r is None:
            w.writerow([task.movie, "pending", "", "", "", "", ""])
        else:
            w.writerow([r.movie, r.status, r.events, r.frames, f"{r.seconds:.1f}", r.worker, r.reason])
    return out.getvalue()


def read_report(path) -> List[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


class Report:
    """The run report CSV (movie, status, events, frames, seconds, worker, reason), rewritten
    atomically after every movie, so it is current even if the run is killed."""

    def __init__(self, path, tasks: Sequence[MovieTask]):
        self.path = Path(path) if path else None
        self.tasks = list(tasks)
        self.results: List[Optional[MovieResult]] = [None] * len(self.tasks)

    def set(self, index: int, result: MovieResult) -> None:
        self.results[index] = result
        self.write()

    def write(self) -> None:
        if self.path is not None:
            write_text_atomic(self.path, report_text(self.results, self.tasks), overwrite=True)


# ---------------------------------------------------------------- running
def run_sequential(command: MovieCommand, todo, fingerprint, on_result: Callable[[int, MovieResult], None],
                   progress_for: Optional[Callable] = None, resume: bool = True) -> None:
    """In this process, one movie after the other; ``progress_for(task)`` may give a context
    manager yielding a progress callback (the CLI's per-movie bar)."""
    for i, task in todo:
        with (progress_for(task) if progress_for else nullcontext(None)) as progress:
            result = run_task(command, task, fingerprint, progress, resume)
        on_result(i, result)


def lost_worker_reason(exc, where: Callable[[str], str] = lambda address: "") -> str:
    """Why a movie failed whose workers kept dying; ``where(address)`` may name the worker's SLURM
    job and its log."""
    tries = getattr(exc, "allowed_failures", 0) + 1
    last = getattr(getattr(exc, "last_worker", None), "address", "?")
    job = where(last) if last != "?" else ""
    return (f"its worker died {tries} time{'s' if tries > 1 else ''} while working on it (last {last}"
            f"{f', {job}' if job else ''}): out of memory, a crash, a lost node or a cancelled job; "
            f"see the worker's log")


POLL_S = 0.25


def run_on_client(client, command: MovieCommand, todo, fingerprint,
                  on_result: Callable[[int, MovieResult], None], resume: bool = True,
                  watch: Optional[Callable[[], None]] = None,
                  where: Callable[[str], str] = lambda address: "") -> None:
    """One Dask task per movie on ``client``'s cluster; results are handed to ``on_result`` as
    they come. A task carries the command (by reference), the task and the fingerprint. While
    nothing comes, ``watch()`` is called (it may raise to end the run: e.g. no worker can start);
    the movies not finished then stay pending in the report."""
    import time

    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    run_id = uuid.uuid4().hex[:8]
    futures = {}
    for i, task in todo:
        fut = client.submit(run_task, command, task, fingerprint, None, resume, pure=False,
                            key=f"{command.name}-{run_id}-{i:05d}")
        futures[fut] = (i, task)
    try:
        done = as_completed(futures)
        while not done.is_empty():
            if not done.has_ready():
                if watch is not None:
                    watch()
                time.sleep(POLL_S)
                continue
            fut = next(done)
            i, task = futures[fut]
            try:
                result = fut.result()
            except KilledWorker as exc:
                result = MovieResult(task.movie, task.name, "failed", reason=lost_worker_reason(exc, where))
            except Exception as exc:          # e.g. the task could not be unpickled on the worker
                result = MovieResult(task.movie, task.name, "failed", reason=describe_error(exc))
            fut.release()
            on_result(i, result)
    finally:
        client.cancel([f for f in futures if not f.done()])


def run_batch(command: MovieCommand, tasks: Sequence[MovieTask], fingerprint, *, client=None,
              resume: bool = True, report=None, on_result: Optional[Callable[[MovieResult], None]] = None,
              progress_for: Optional[Callable] = None, plan: Optional[Plan] = None,
              watch: Optional[Callable[[], None]] = None,
              where: Callable[[str], str] = lambda address: "") -> List[MovieResult]:
    """Run ``command`` on ``tasks`` (on ``client``'s Dask cluster, else here), skipping movies an
    earlier run finished (unless ``resume`` is False; a ``plan`` given says it); writes the report
    CSV to ``report`` (if given) after every movie and returns the results in the order of ``tasks``;
    ``watch`` and ``where``: see :func:`run_on_client`."""
    plan = plan or plan_batch(command, tasks, fingerprint, resume)
    rep = Report(report, tasks)
    for i, r in sorted(plan.results.items()):
        rep.results[i] = r
        if on_result:
            on_result(r)
    rep.write()

    def done(i: int, result: MovieResult) -> None:
        rep.set(i, result)
        if on_result:
            on_result(result)

    if client is None:
        run_sequential(command, plan.todo, fingerprint, done, progress_for, plan.resume)
    elif plan.todo:
        run_on_client(client, command, plan.todo, fingerprint, done, plan.resume, watch, where)
    return [r for r in rep.results if r is not None]
