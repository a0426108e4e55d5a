"""Where a batch runs: a local Dask cluster, SLURM through dask-jobqueue, or an existing scheduler.

- ``local``: a LocalCluster of N worker processes with one thread each (one movie at a time per
  process); each worker's numerical libraries get ``cores // N`` threads.
- ``slurm``: SLURMCluster, scaled adaptively from 0 to ``max_jobs`` jobs; a job has one worker
  process per GPU (one without GPUs), each pinned to its own GPU, and ``cores`` CPUs in all.
  Options come from a small YAML file (:data:`SLURM_KEYS`) and flags, flags winning; the job is
  checked with ``sbatch --test-only`` before anything is queued and watched while the run waits
  (see :mod:`.slurm`).
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
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, Iterator, Optional, Tuple

from distributed.diagnostics.plugin import WorkerPlugin

from exodeep_gui.batch.slurm import (SlurmOptions, SlurmWatch, check_job, job_class, log_directory, quiet_submit_errors,
                                     slurm_cluster_kwargs)

__all__ = ["ClusterChoice", "Opened", "WorkerSetup", "job_script", "open_client", "parse_cluster"]

DEFAULT_RETRIES = 2


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


def default_local_workers(cpus: Optional[int] = None, backend: Optional[str] = None) -> int:
    """Two worker processes per 4 cores (at least 1): TensorFlow uses several cores per movie well. On
    JAX (the Intel Mac build) one: XLA's CPU thread pool takes every core whatever the worker's thread
    settings (OMP_NUM_THREADS and the like do not reach it, nor does --xla_cpu_multi_thread_eigen=false:
    a layer still kept 1.9 of 2 cores busy, benchmarks/bench_jax_layer.py), so more workers would only
    compete for the cores."""
    if backend is None:
        from exodeep_gui.ml import choose_backend

        backend = choose_backend()
    if backend == "jax":
        return 1
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

    return SLURMCluster(job_cls=job_class(), **slurm_cluster_kwargs(choice.slurm))


def job_script(choice: ClusterChoice) -> str:
    """The SLURM job script a run would submit (starts and stops a scheduler here, submits nothing)."""
    import dask

    with dask.config.set(scheduler_config(choice.retries)):
        cluster = slurm_cluster(choice)
        try:
            return cluster.job_script()
        finally:
            cluster.close()


@dataclass
class Opened:
    """An open cluster: the Dask client, a line describing it, and ``watch`` (None, or a function to
    call while waiting for results: it raises SlurmError when no worker can start) with ``where``
    (a worker's address → its SLURM job and log, for the reason of a movie whose worker died)."""

    client: object
    description: str
    watch: Optional[Callable[[], None]] = None
    where: Callable[[str], str] = lambda address: ""


@contextmanager
def open_client(choice: ClusterChoice, n_tasks: int, say: Callable[[str], None] = print) -> Iterator[Opened]:
    """A Dask client on the chosen cluster, closed (with the cluster we started, its SLURM jobs
    cancelled) on the way out; ``say`` prints the watch's lines (SLURM jobs pending, ended)."""
    import dask
    from distributed import Client, LocalCluster

    if choice.kind == "address":
        with Client(choice.address, timeout="60s") as client:
            n = len(client.scheduler_info(n_workers=-1).get("workers", {}))
            yield Opened(client, f"scheduler {choice.address} ({n} workers now)")
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
            quiet_submit_errors()
            cluster = slurm_cluster(replace(choice, slurm=opts))
            try:
                check_job(cluster.job_script())          # a job SLURM refuses: one line, nothing queued
            except BaseException:
                cluster.close()
                raise
            jobs = max(1, min(opts.max_jobs, math.ceil(max(1, n_tasks) / opts.processes)))
            cluster.adapt(minimum_jobs=0, maximum_jobs=jobs)
            setup = WorkerSetup(threads=max(1, opts.cores // opts.processes), gpus_per_job=opts.gpus_per_job)
            logs = log_directory(opts)
            what = (f"SLURM: 0…{jobs} jobs of {opts.cores} cores, {opts.memory}"
                    f"{f', {opts.gpus_per_job} GPUs' if opts.gpus_per_job else ''}, {opts.walltime} "
                    f"(queue {opts.queue or 'default'}); scheduler {cluster.scheduler_address}"
                    + (f"; worker logs in {logs}" if logs else ""))
        else:
            raise ValueError(f"unknown cluster kind {choice.kind!r}")
        try:
            with Client(cluster) as client:
                client.register_plugin(setup)
                opened = Opened(client, what)
                if choice.kind == "slurm":
                    watch = SlurmWatch(cluster, client, say, logs)
                    opened.watch, opened.where = watch, watch.where
                yield opened
        finally:
            cluster.close()
