"""The unit of a batch run: one movie, its command, its marker.

A finished movie gets a marker, ``<out>/.exodeep/<name>.<command>.json``, written (atomically)
after all its outputs: it records the movie's identity (path, size, modification time), the
command's fingerprint (options, model weights, ExoDeep version) and the outputs. A later run with
the same fingerprint on the same movie skips it while its outputs are all there: running the same
command again resumes an interrupted batch. A ``started`` marker is written before the work, so
outputs a killed run left half-written are known to be its own and are replaced on resume.
Stdlib + io only: the client of a cluster run needs no deep-learning framework.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from exodeep_gui.io.atomic import OutputExists, check_writable_folder, write_text_atomic
from exodeep_gui.io.movie_io import movie_stem

MARKER_DIR = ".exodeep"
MARKER_VERSION = 1
# errors whose message is written for the user (a movie, an output, a model): no type name needed
USER_ERRORS = (ValueError, OSError)


@dataclass(frozen=True)
class MovieTask:
    """What a worker gets for one movie: small and picklable (no model, no pixels)."""

    movie: str              # movie file or frame folder
    name: str               # output stem, unique per output folder
    out_dir: str
    params: Any             # the command's frozen options (e.g. batch.detect.DetectJob)
    overwrite: bool = False


@dataclass(frozen=True)
class MovieResult:
    """One row of the run report."""

    movie: str
    name: str
    status: str                         # "ok", "skipped" (finished by an earlier run) or "failed"
    events: int = 0
    frames: int = 0
    seconds: float = 0.0
    worker: str = ""
    reason: str = ""
    outputs: Tuple[str, ...] = ()
    detail: str = field(default="", compare=False)     # traceback of an unexpected error
    notes: Tuple[str, ...] = ()                         # what the user should know (e.g. how a file was read)
    summary: str = ""                                   # one line on what was done (e.g. where the events came from)


class MovieCommand:
    """A per-movie command. Subclasses set ``name`` and implement :meth:`outputs` and :meth:`run`;
    instances are pickled by reference (define them at module level), so keep them stateless."""

    name = "command"

    def outputs(self, task: MovieTask) -> List[Path]:
        """The files a finished movie has."""
        raise NotImplementedError

    def fingerprint(self, params) -> Dict[str, Any]:
        """What makes two runs' results the same (JSON-able), computed once by the client."""
        return {"params": repr(params)}

    def task_fingerprint(self, task: MovieTask, fingerprint: Dict[str, Any]) -> Dict[str, Any]:
        """One movie's fingerprint: the command's plus what differs per movie (e.g. the identity of an
        input file found beside it); computed by the client to plan and by the worker for the marker,
        so it must not raise. By default, the command's."""
        return fingerprint

    def check(self, task: MovieTask) -> None:
        """Before any work (by the client, and again by the worker): the output folder is writable
        and no output is there unless overwriting was asked for."""
        check_writable_folder(Path(task.out_dir))
        if not task.overwrite:
            existing = [p for p in self.outputs(task) if p.exists()]
            if existing:
                raise OutputExists(f"{existing[0]} already exists (use --overwrite to replace it)")

    def run(self, task: MovieTask, progress: Optional[Callable] = None) -> Dict[str, Any]:
        """Do the work; returns ``{"events": int, "frames": int, "outputs": [paths]}`` and optionally
        ``"notes": [lines]`` (shown to the user, e.g. how an unusual file was read) and ``"summary"``
        (one line on what was done, kept in the marker)."""
        raise NotImplementedError


def movie_tasks(movies: Sequence[Path], out: Optional[str], params, overwrite: bool = False,
                absolute: bool = False) -> List[MovieTask]:
    """One task per movie: outputs in ``out`` or beside each movie, named by its stem (a frame
    folder by its name). ``absolute``: paths that workers elsewhere (another working folder) find."""
    tasks = []
    for path in map(Path, movies):
        out_dir = Path(out) if out else path.parent
        if absolute:
            path, out_dir = path.absolute(), out_dir.absolute()
        tasks.append(MovieTask(str(path), movie_stem(path), str(out_dir), params, overwrite))
    return tasks


# ---------------------------------------------------------------- markers
def marker_path(command: str, task: MovieTask) -> Path:
    return Path(task.out_dir) / MARKER_DIR / f"{task.name}.{command}.json"


def movie_identity(path) -> Dict[str, Any]:
    """Path, size and modification time of a movie file; of a frame folder, the number of its
    files, their total size and the latest modification time."""
    p = Path(path)
    ident: Dict[str, Any] = {"path": str(p.resolve())}
    try:
        if p.is_dir():
            sizes, mtimes = [], []
            with os.scandir(p) as it:
                for e in it:
                    if e.is_file():
                        st = e.stat()
                        sizes.append(st.st_size)
                        mtimes.append(st.st_mtime_ns)
            ident.update(files=len(sizes), size=sum(sizes), mtime_ns=max(mtimes, default=0))
        else:
            st = p.stat()
            ident.update(size=st.st_size, mtime_ns=st.st_mtime_ns)
    except OSError:
        ident.update(size=None)
    return ident


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


def write_marker(command: str, task: MovieTask, state: str, fingerprint: Dict[str, Any], **fields) -> Path:
    record = {"marker": MARKER_VERSION, "command": command, "state": state, "movie": task.movie,
              "identity": movie_identity(task.movie), "fingerprint": fingerprint,
              "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **fields}
    path = marker_path(command, task)
    check_writable_folder(path.parent)
    return write_text_atomic(path, json.dumps(_jsonable(record), indent=1) + "\n", overwrite=True)


def read_marker(command: str, task: MovieTask) -> Optional[dict]:
    try:
        record = json.loads(marker_path(command, task).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _same_run(record: Optional[dict], task: MovieTask, fingerprint: Dict[str, Any]) -> bool:
    return (record is not None and record.get("marker") == MARKER_VERSION
            and record.get("identity") == movie_identity(task.movie)
            and record.get("fingerprint") == _jsonable(fingerprint))


def _resume(command: MovieCommand, task: MovieTask, task_fingerprint: Dict[str, Any]) -> tuple:
    """:func:`resumable`, given the movie's fingerprint (``command.task_fingerprint``), from one
    reading of the marker. It counts only when it is of the same command with the same fingerprint
    on the same movie: "done" with all its outputs still there, the movie is finished; "started", an
    earlier run did not finish it and the outputs it left are its own (the check before it started
    found none, or overwriting was asked), so the task may replace them."""
    record = read_marker(command.name, task)
    if not _same_run(record, task, task_fingerprint):
        return None, task
    if record.get("state") == "done":
        outputs = [Path(p) for p in record.get("outputs", [])] or command.outputs(task)
        return (record if all(p.exists() for p in outputs) else None), task
    if record.get("state") == "started" and not task.overwrite:
        task = replace(task, overwrite=True)
    return None, task


# ---------------------------------------------------------------- the worker's side
def worker_label() -> str:
    """``<dask worker name>@<host>`` on a Dask worker, else ``<host>``; inside a SLURM job, followed
    by `` (SLURM job <id>)`` (the report names the job whose log to read)."""
    host = socket.gethostname().split(".")[0]
    label = host
    if "distributed" in sys.modules:
        try:
            from distributed import get_worker

            label = f"{get_worker().name}@{host}"
        except (ImportError, ValueError):
            pass
    job = os.environ.get("SLURM_JOB_ID")
    return f"{label} (SLURM job {job})" if job else label


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, USER_ERRORS):
        return str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


def result_from_marker(task: MovieTask, record: dict, status: str, reason: str = "") -> MovieResult:
    return MovieResult(task.movie, task.name, status, int(record.get("events", 0)), int(record.get("frames", 0)),
                       float(record.get("seconds", 0.0)), str(record.get("worker", "")), reason,
                       tuple(record.get("outputs", ())), summary=str(record.get("summary", "")))


def resumable(command: MovieCommand, task: MovieTask, fingerprint) -> tuple:
    """(marker of the finished movie or None, the task to run): a task whose outputs an attempt
    of the same command left unfinished may replace them."""
    return _resume(command, task, command.task_fingerprint(task, fingerprint))


def run_task(command: MovieCommand, task: MovieTask, fingerprint: Dict[str, Any],
             progress: Optional[Callable] = None, resume: bool = True) -> MovieResult:
    """Run ``command`` on one movie and mark it finished; never raises for a failure of the
    movie (the result says why), so one bad movie does not stop a batch. This is the function a
    Dask worker runs: it gets the command by reference and the task by value. Run again on a
    finished movie (Dask recomputes a task whose result was lost with its worker), it returns
    the marker's record instead of working again."""
    t0 = time.perf_counter()
    worker = worker_label()
    try:
        fingerprint = command.task_fingerprint(task, fingerprint)
        if resume:
            record, task = _resume(command, task, fingerprint)
            if record is not None:
                return result_from_marker(task, record, "ok")
        command.check(task)
        write_marker(command.name, task, "started", fingerprint, worker=worker)
        info = command.run(task, progress)
        seconds = time.perf_counter() - t0
        outputs = tuple(str(p) for p in info.get("outputs", ()))
        result = MovieResult(task.movie, task.name, "ok", int(info.get("events", 0)), int(info.get("frames", 0)),
                             seconds, worker, outputs=outputs, notes=tuple(map(str, info.get("notes", ()))),
                             summary=str(info.get("summary", "")))
        extra = {"summary": result.summary} if result.summary else {}
        write_marker(command.name, task, "done", fingerprint, worker=worker, events=result.events,
                     frames=result.frames, seconds=round(seconds, 3), outputs=list(outputs), **extra)
        return result
    except Exception as exc:                # reported per movie; the batch goes on
        detail = "" if isinstance(exc, USER_ERRORS) else traceback.format_exc()
        return MovieResult(task.movie, task.name, "failed", seconds=time.perf_counter() - t0, worker=worker,
                           reason=describe_error(exc), detail=detail)
