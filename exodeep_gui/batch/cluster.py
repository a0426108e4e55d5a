"""Where a batch runs: a local Dask cluster, SLURM through dask-jobqueue, or an existing scheduler.

- ``local``: a LocalCluster of N worker processes with one thread each (one movie at a time per
  process); each worker's numerical libraries get ``cores // N`` threads.
- ``slurm``: SLURMCluster, scaled adaptively from 0 to ``max_jobs`` jobs; a job has one worker
  process per GPU (one without GPUs), each pinned to its own GPU, and ``cores`` CPUs in all.
  Options come from a small YAML file (:data:`SLURM_KEYS`) and flags, flags winning.
- an address (``tcp://host:8786``): join that scheduler; its own settings apply.

For the clusters started here, the scheduler retries a movie whose worker died ``retries`` times
(``allowed-failures``), sends each worker one movie at a time (``worker-saturation`` 1.0), and
counts a movie of unknown length as long (so adaptive scaling asks for workers at once); workers
never pause for memory (a detection that keeps its model would stay paused for ever): one that
passes 95 % of its limit is restarted and its movie retried.
"""

from __future__ import annotations

import logging
import math
import os
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple

from distributed.diagnostics.plugin import WorkerPlugin

DEFAULT_RETRIES = 2


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
    another worker without counting as a failure)."""
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
    for key in ("interface", "local_directory", "log_directory"):
        if getattr(opts, key):
            kwargs[key] = os.path.expanduser(getattr(opts, key))
    return {k: v for k, v in kwargs.items() if v is not None}


# ---------------------------------------------------------------- the worker's set-up
class WorkerSetup(WorkerPlugin):
    """Run on every worker when it starts (before its first movie, so before the deep-learning
    framework is imported): quiet TensorFlow, ``threads`` threads for the numerical libraries,
    and with several GPUs per job, one GPU per worker process (by the worker's index in its job)."""

    name = "exodeep-worker-setup"
    idempotent = True

    def __init__(self, threads: Optional[int] = None, gpus_per_job: int = 0):
        self.threads = threads
        self.gpus_per_job = gpus_per_job

    def environment(self, worker_name: str, environ=os.environ) -> Dict[str, str]:
        env = {"TF_CPP_MIN_LOG_LEVEL": environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
        if self.threads:
            n = str(self.threads)
            env.update(OMP_NUM_THREADS=n, MKL_NUM_THREADS=n, OPENBLAS_NUM_THREADS=n,
                       TF_NUM_INTRAOP_THREADS=n, TF_NUM_INTEROP_THREADS="1")
        if self.gpus_per_job > 1:
            m = re.search(r"-(\d+)$", str(worker_name))
            visible = [g for g in environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if g.strip()]
            if m and visible:
                env["CUDA_VISIBLE_DEVICES"] = visible[int(m.group(1)) % len(visible)]
        return env

    def setup(self, worker) -> None:
        os.environ.update(self.environment(worker.name))


# ---------------------------------------------------------------- opening a cluster
@dataclass(frozen=True)
class ClusterChoice:
    kind: str                                   # "local", "slurm" or "address"
    address: str = ""
    workers: Optional[int] = None               # local: processes; slurm: max jobs
    retries: int = DEFAULT_RETRIES              # lost-worker retries per movie
    slurm: SlurmOptions = field(default_factory=SlurmOptions)


def parse_cluster(value: str) -> Tuple[str, str]:
    """``local``, ``slurm`` or a scheduler address (``tcp://host:port``, ``host:port``)."""
    v = (value or "").strip()
    if v.lower() in ("local", "slurm"):
        return v.lower(), ""
    if "://" in v or re.fullmatch(r"[\w.\-]+:\d+", v):
        return "address", v
    raise ValueError(f"--cluster {value!r}: expected local, slurm or a scheduler address (tcp://HOST:PORT)")


def default_local_workers(cpus: Optional[int] = None) -> int:
    """Two worker processes per 4 cores (at least 1): TensorFlow uses several cores per movie well."""
    return max(1, (cpus or os.cpu_count() or 1) // 2)


def scheduler_config(retries: int) -> Dict:
    return {"distributed.scheduler.allowed-failures": int(retries),
            "distributed.scheduler.worker-saturation": 1.0,
            "distributed.scheduler.unknown-task-duration": "1h",
            "distributed.worker.memory.pause": False,
            "distributed.worker.memory.target": False,
            "distributed.worker.memory.spill": False}


def slurm_cluster(choice: ClusterChoice):
    from dask_jobqueue import SLURMCluster

    return SLURMCluster(**slurm_cluster_kwargs(choice.slurm))


def job_script(choice: ClusterChoice) -> str:
    """The SLURM job script a run would submit (starts and stops a scheduler here, submits nothing)."""
    import dask

    with dask.config.set(scheduler_config(choice.retries)):
        cluster = slurm_cluster(choice)
        try:
            return cluster.job_script()
        finally:
            cluster.close()


@contextmanager
def open_client(choice: ClusterChoice, n_tasks: int) -> Iterator[tuple]:
    """A Dask client on the chosen cluster, closed (with the cluster we started) on the way out;
    yields (client, a line describing the cluster)."""
    import dask
    from distributed import Client, LocalCluster

    if choice.kind == "address":
        with Client(choice.address, timeout="60s") as client:
            n = len(client.scheduler_info().get("workers", {}))
            yield client, f"scheduler {choice.address} ({n} workers now)"
        return
    with dask.config.set(scheduler_config(choice.retries)):
        if choice.kind == "local":
            cpus = os.cpu_count() or 1
            n = max(1, min(choice.workers or default_local_workers(cpus), max(1, n_tasks)))
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=logging.ERROR)
            setup = WorkerSetup(threads=max(1, cpus // n))
            what = (f"local cluster: {n} worker process{'es' if n > 1 else ''} × 1 thread, "
                    f"{max(1, cpus // n)} core{'s' if cpus // n > 1 else ''} each")
        elif choice.kind == "slurm":
            opts = choice.slurm if choice.workers is None else replace(choice.slurm, max_jobs=choice.workers)
            cluster = slurm_cluster(replace(choice, slurm=opts))
            jobs = max(1, min(opts.max_jobs, math.ceil(max(1, n_tasks) / opts.processes)))
            cluster.adapt(minimum_jobs=0, maximum_jobs=jobs)
            setup = WorkerSetup(threads=max(1, opts.cores // opts.processes), gpus_per_job=opts.gpus_per_job)
            what = (f"SLURM: 0…{jobs} jobs of {opts.cores} cores, {opts.memory}"
                    f"{f', {opts.gpus_per_job} GPUs' if opts.gpus_per_job else ''}, {opts.walltime} "
                    f"(queue {opts.queue or 'default'}); scheduler {cluster.scheduler_address}")
        else:
            raise ValueError(f"unknown cluster kind {choice.kind!r}")
        try:
            with Client(cluster) as client:
                client.register_plugin(setup)
                yield client, what
        finally:
            cluster.close()
