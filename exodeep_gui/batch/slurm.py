"""SLURM for batch runs (``--cluster slurm``): the options and their file, dask-jobqueue's
SLURMCluster arguments, and what a real scheduler needs around them.

- :func:`check_job`: before anything is queued, ``sbatch --test-only`` with the job script: a
  partition, account, memory or walltime that SLURM refuses ends the run at once, in SLURM's words.
- :func:`job_class`: dask-jobqueue's job that also keeps ``sbatch``'s message when it fails (its
  adaptive scaling would otherwise log a traceback and wait for ever) and whether we cancelled it.
- :class:`SlurmWatch`, called while the run waits for results: it says once why jobs are pending,
  names a job that ended before its worker connected, and when every job submitted has ended that
  way (no worker connected, none queued: a wrong Python, a missing package, a folder the node does
  not see) it ends the run with one line naming the job and the last line of its log.

Worker logs go to one folder (``log_directory``; the command line's default is
``.exodeep/slurm-logs`` beside the run report, on the filesystem the nodes share). Only the
standard library at import: dask-jobqueue is imported when a cluster is made.
"""

from __future__ import annotations

import getpass
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

from exodeep_gui.io.library_messages import one_line

SLURM_COMMAND_TIMEOUT_S = 60


class SlurmError(ValueError):
    """A problem with SLURM, said in one line (the command line prints it as its error)."""


class SubmitError(RuntimeError):
    """``sbatch`` refused a worker job (raised inside dask-jobqueue's scaling; see :class:`SlurmWatch`)."""


@dataclass(frozen=True)
class SlurmOptions:
    """SLURM job options (one job = one SLURM allocation running 1 worker, or 1 per GPU)."""

    queue: Optional[str] = None             # partition (-p)
    account: Optional[str] = None           # -A
    walltime: str = "01:00:00"              # per job; workers retire 5 min before it
    cores: int = 4                          # CPUs per job (--cpus-per-task)
    memory: str = "16GB"                    # per job (--mem)
    gpus_per_job: int = 0                   # --gres=gpu:N; one worker process per GPU
    max_jobs: int = 4                       # adaptive: 0 … max_jobs jobs
    prologue: Tuple[str, ...] = ()          # shell lines before the worker starts (module load …)
    job_extra: Tuple[str, ...] = ()         # more #SBATCH directives (e.g. "--constraint=a100")
    python: Optional[str] = None            # the Python that has exodeep (default: this one)
    interface: Optional[str] = None         # network interface the workers use (e.g. ib0)
    local_directory: Optional[str] = None   # worker scratch (e.g. $TMPDIR)
    log_directory: Optional[str] = None     # where SLURM writes the workers' logs

    @property
    def processes(self) -> int:
        return max(1, self.gpus_per_job)


SLURM_KEYS = tuple(f.name for f in fields(SlurmOptions))


def load_slurm_config(path) -> Dict:
    """The options in a YAML file (keys of :class:`SlurmOptions`, ``-`` or ``_``); unknown keys
    and wrong types are refused with the file's name."""
    import yaml

    path = Path(path).expanduser()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the SLURM configuration ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected `key: value` lines ({', '.join(SLURM_KEYS)})")
    data = {str(k).replace("-", "_"): v for k, v in data.items()}
    unknown = sorted(set(data) - set(SLURM_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                         f"(known: {', '.join(SLURM_KEYS)})")
    return data


def slurm_options(config_file=None, **overrides) -> SlurmOptions:
    """Defaults < the YAML file < ``overrides`` (flags; None means not given)."""
    values = load_slurm_config(config_file) if config_file else {}
    values.update({k: v for k, v in overrides.items() if v is not None})
    for key in ("prologue", "job_extra"):
        if isinstance(values.get(key), str):
            values[key] = (values[key],)
        if key in values:
            values[key] = tuple(str(v) for v in values[key] or ())
    for key in ("cores", "gpus_per_job", "max_jobs"):
        if key in values:
            try:
                values[key] = int(values[key])
            except (TypeError, ValueError):
                raise ValueError(f"SLURM option {key}: expected a whole number, got {values[key]!r}") from None
    opts = SlurmOptions(**values)
    if opts.cores < opts.processes or opts.max_jobs < 1 or opts.gpus_per_job < 0:
        raise ValueError(f"SLURM options: need cores ≥ GPUs per job (got {opts.cores} cores, {opts.gpus_per_job} "
                         f"GPUs) and max_jobs ≥ 1 (got {opts.max_jobs})")
    return opts


def walltime_seconds(walltime: str) -> Optional[int]:
    """SLURM's [D-]HH:MM:SS, HH:MM:SS, MM:SS or MM in seconds; None if it is none of those."""
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", str(walltime).strip())
    if not m:
        return None
    d, a, b, c = m.groups()
    parts = [int(x) for x in (a, b, c) if x is not None]
    if d is None and len(parts) <= 2:                     # MM or MM:SS
        parts = [0] + parts + [0] * (2 - len(parts))
    h, mi, s = (parts + [0, 0])[:3]
    return int(d or 0) * 86400 + h * 3600 + mi * 60 + s


def slurm_cluster_kwargs(opts: SlurmOptions) -> Dict:
    """SLURMCluster's arguments for ``opts``: one thread per worker process (a movie at a time),
    ``cores`` CPUs for the job, workers that retire before the walltime (their movie goes to
    another worker without counting as a failure), logs in ``log_directory`` (absolute: the job's
    working folder is not known)."""
    procs = opts.processes
    directives = ([f"--gres=gpu:{opts.gpus_per_job}"] if opts.gpus_per_job else []) + list(opts.job_extra)
    prologue = ["export TF_CPP_MIN_LOG_LEVEL=2",
                "export DASK_DISTRIBUTED__WORKER__MEMORY__PAUSE=False"] + list(opts.prologue)
    extra_args = []
    wall = walltime_seconds(opts.walltime)
    if wall and wall >= 15 * 60:
        extra_args = ["--lifetime", f"{(wall - 5 * 60) // 60}m", "--lifetime-stagger", "2m"]
    kwargs = dict(queue=opts.queue, account=opts.account, walltime=opts.walltime, cores=procs, processes=procs,
                  job_cpu=opts.cores, memory=opts.memory, job_name="exodeep", job_extra_directives=directives,
                  job_script_prologue=prologue, worker_extra_args=extra_args,
                  python=os.path.expanduser(opts.python) if opts.python else sys.executable)
    for key in ("interface", "local_directory"):
        if getattr(opts, key):
            kwargs[key] = os.path.expanduser(getattr(opts, key))
    kwargs["log_directory"] = log_directory(opts)
    return {k: v for k, v in kwargs.items() if v is not None}


def log_directory(opts: SlurmOptions) -> Optional[str]:
    """Where the worker jobs write their logs, absolute (the job's working folder is not known)."""
    return os.path.abspath(os.path.expanduser(opts.log_directory)) if opts.log_directory else None


# ---------------------------------------------------------------- SLURM's commands
def slurm_command(args, timeout: float = SLURM_COMMAND_TIMEOUT_S) -> subprocess.CompletedProcess:
    """Run a SLURM client command (sbatch, squeue, scontrol); SlurmError when it is not there or hangs."""
    try:
        return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise SlurmError(f"{args[0]} not found: --cluster slurm runs where SLURM's commands are (a login "
                         f"node of the cluster)") from None
    except subprocess.TimeoutExpired:
        raise SlurmError(f"{args[0]} did not answer in {timeout:.0f} s: is SLURM's controller up?") from None


def sbatch_message(text: str) -> str:
    """SLURM's reason in ``sbatch``'s output, one line ("invalid partition specified: x; …")."""
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    said = [re.sub(r"^(sbatch: )?(error: )?", "", ln) for ln in lines
            if ln.startswith(("sbatch:", "allocation failure")) or "error" in ln.lower()]
    return one_line("; ".join(dict.fromkeys(said or lines[-1:]))) or "no message"


def check_job(script: str) -> None:
    """``sbatch --test-only`` on the worker job: SlurmError with SLURM's reason if it would be refused
    (nothing is queued either way)."""
    fd, path = tempfile.mkstemp(prefix="exodeep-job-", suffix=".sh")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(script)
        out = slurm_command(["sbatch", "--test-only", path])
    finally:
        os.unlink(path)
    if out.returncode != 0:
        raise SlurmError(f"SLURM refuses the worker job: {sbatch_message(out.stderr + out.stdout)} "
                         f"(see the job script: add --dry-run)")


@lru_cache(maxsize=None)
def job_class():
    """dask-jobqueue's SLURMJob that keeps sbatch's message when it fails and knows when we cancelled it."""
    from dask_jobqueue.slurm import SLURMJob
    from distributed.deploy.spec import ProcessInterface

    class ExoDeepSLURMJob(SLURMJob):
        submit_error: Optional[str] = None
        cancelled_here = False

        async def _submit_job(self, script_filename):
            try:
                return await super()._submit_job(script_filename)
            except RuntimeError as exc:
                self.submit_error = sbatch_message(str(exc).split("stderr:", 1)[-1])
                raise SubmitError(self.submit_error) from None

        async def close(self):
            self.cancelled_here = True
            await super().close()                   # scancel
            await ProcessInterface.close(self)      # closed (dask-jobqueue leaves it "running")

    return ExoDeepSLURMJob


class _DropSubmitErrors(logging.Filter):
    """Tornado logs the failed scaling step with a traceback; :class:`SlurmWatch` says it in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, SubmitError)


_FILTER = _DropSubmitErrors()


def quiet_submit_errors() -> None:
    logger = logging.getLogger("tornado.application")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)


# ---------------------------------------------------------------- watching the jobs
def job_details(job_id: str) -> Dict[str, str]:
    """``scontrol show job``'s fields of a job ({} once SLURM has forgotten it)."""
    out = slurm_command(["scontrol", "show", "job", "-o", job_id])
    if out.returncode != 0:
        return {}
    return dict(m.groups() for m in re.finditer(r"(\w+)=(\S*)", out.stdout))


def expand_log_name(path: str, job_id: str, job_name: str = "", user: str = "") -> str:
    """A job's log path as scontrol shows it (``%j``, ``%J``, ``%x``, ``%u`` left as given) made real."""
    values = {"j": job_id, "J": job_id, "A": job_id, "x": job_name, "u": user.split("(")[0], "%": "%"}
    return re.sub(r"%(\w|%)", lambda m: values.get(m.group(1), m.group(0)), path)


def last_log_line(path) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, os.fstat(fh.fileno()).st_size - 8192))
            lines = [ln.strip() for ln in fh.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return one_line(lines[-1]) if lines else ""


class SlurmWatch:
    """Called while a run waits (about every ``every_s`` s): see the module's docstring. ``say``
    prints a line for the user; :meth:`where` names a worker's SLURM job and log (for a movie whose
    worker died)."""

    def __init__(self, cluster, client, say: Callable[[str], None], log_directory: Optional[str] = None,
                 every_s: float = 2.0):
        self.cluster, self.client, self.say = cluster, client, say
        self.log_directory = log_directory
        self.every_s = every_s
        self._last = 0.0
        self.started: set = set()           # jobs whose worker connected
        self.said: set = set()              # jobs said to have ended without a worker
        self.workers: Dict[str, str] = {}   # worker address → job id
        self._logs: Dict[str, Optional[str]] = {}   # job id → its log (scontrol asked once)
        self._pending_said = ""

    def _job_of(self, worker_name: str, jobs_by_name: Dict[str, object]) -> Optional[str]:
        job = jobs_by_name.get(worker_name) or jobs_by_name.get(re.sub(r"-\d+$", "", worker_name))
        return str(job.job_id) if job is not None and job.job_id else None

    def log_of(self, job_id: str, details: Optional[Dict[str, str]] = None) -> Optional[str]:
        details = job_details(job_id) if details is None else details
        for key in ("StdErr", "StdOut"):
            if details.get(key):
                return expand_log_name(details[key], job_id, details.get("JobName", ""), details.get("UserId", ""))
        if self.log_directory:
            return str(Path(self.log_directory) / f"exodeep-{job_id}.err")
        return None

    def where(self, address: str) -> str:
        """"SLURM job N, log PATH" of the worker at ``address`` (asked of scontrol once a job; if SLURM
        cannot say, the job alone: a movie's failure is reported either way)."""
        job = self.workers.get(address)
        if not job:
            return ""
        if job not in self._logs:
            try:
                self._logs[job] = self.log_of(job)
            except SlurmError:
                return f"SLURM job {job}"
        log = self._logs[job]
        return f"SLURM job {job}" + (f", log {log}" if log else "")

    def _queue(self, ids) -> Dict[str, Tuple[str, str]]:
        out = slurm_command(["squeue", "--noheader", "--format=%i|%T|%r", f"--user={getpass.getuser()}"])
        if out.returncode != 0:
            raise SlurmError(f"squeue failed: {sbatch_message(out.stderr)}")
        rows = (ln.split("|", 2) for ln in out.stdout.splitlines() if ln.count("|") == 2)
        return {i: (s, r) for i, s, r in rows if i in ids}

    def describe_end(self, job_id: str) -> str:
        d = job_details(job_id)
        state = d.get("JobState", "")
        what = f"SLURM job {job_id} ended" + (f" ({state}, exit code {d.get('ExitCode', '?')})" if state else "")
        log = self.log_of(job_id, d)
        if not log:
            return f"{what} before its worker connected"
        if not Path(log).exists():
            return (f"{what} before its worker connected; its log {log} was not written (is that folder on "
                    f"a filesystem the nodes share?)")
        last = last_log_line(log)
        return f"{what} before its worker connected; its log {log} ends: {last!r}"

    def __call__(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every_s:
            return
        self._last = now
        by_name = dict(self.cluster.workers)
        jobs = {str(j.job_id): j for j in by_name.values() if getattr(j, "job_id", None)}
        refused = [j for j in by_name.values() if getattr(j, "submit_error", None)]
        if refused:
            raise SlurmError(f"SLURM refused a worker job (sbatch): {refused[0].submit_error}")
        connected = self.client.scheduler_info(n_workers=-1).get("workers", {})
        for address, w in connected.items():
            job = self._job_of(str(w.get("name", "")), by_name)
            if job:
                self.started.add(job)
                self.workers[address] = job
        if connected:
            self._pending_said = ""
            return
        queued = self._queue(set(jobs))
        never = [i for i, j in jobs.items() if i not in queued and i not in self.started
                 and not getattr(j, "cancelled_here", False)]
        for i in never:
            if i not in self.said:
                self.said.add(i)
                if queued:
                    self.say(f"warning: {self.describe_end(i)}")
        if never and not queued:
            raise SlurmError(f"no ExoDeep worker could start: {self.describe_end(never[-1])}")
        pending = ", ".join(f"job {i} {s.lower()}" + (f" ({r})" if r and r != "None" else "")
                            for i, (s, r) in sorted(queued.items()))
        if pending and pending != self._pending_said:
            self._pending_said = pending
            self.say(f"waiting for SLURM: {pending}")
