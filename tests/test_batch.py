"""Batch runs (exodeep_gui.batch): a 2-worker local Dask cluster with a tiny model on simulated
movies, a worker that dies mid-movie, resume, the report, the SLURM job script without SLURM."""

import json
import os
import sys
from pathlib import Path

import pytest

from exodeep_gui.batch.detect import DETECT, DetectCommand, DetectJob
from exodeep_gui.batch.runner import plan_batch, read_report, run_batch
from exodeep_gui.batch.tasks import (MovieCommand, MovieTask, marker_path, movie_tasks, read_marker, run_task,
                                    write_marker)
from exodeep_gui.cli import main
from exodeep_gui.core.detection import DetectOptions


@pytest.fixture(scope="module")
def movies(tmp_path_factory):
    from exodeep_gui.core.simulate import SimulationParams
    from exodeep_gui.io.simulated import write_simulated_set

    folder = tmp_path_factory.mktemp("movies")
    params = SimulationParams(frames=20, height=32, width=32, events=2, docked=3, visiting=1)
    return write_simulated_set(folder, 4, params, seed=0)


def children():
    """Processes this one started, but multiprocessing's resource tracker (one per process, for good)."""
    import psutil

    procs = [" ".join(p.cmdline()) for p in psutil.Process().children(recursive=True) if p.is_running()]
    return [c for c in procs if "resource_tracker" not in c]


class DyingDetect(DetectCommand):
    """Detection whose worker process dies in the middle of the network: once for sim_001 (then it
    works), every time for sim_002. Each attempt is counted in a file beside the outputs."""

    def run(self, task, progress=None):
        attempts = Path(task.out_dir) / f"{task.name}.attempts"
        n = int(attempts.read_text()) + 1 if attempts.exists() else 1
        attempts.write_text(str(n))
        if task.name == "sim_002" or (task.name == "sim_001" and n == 1):
            def die(report):
                if report.stage == "detect":
                    os._exit(1)
            return super().run(task, die)
        return super().run(task, progress)


DYING = DyingDetect()


@pytest.mark.slow
def test_local_cluster_retries_a_lost_worker_reports_a_dead_movie_and_resumes(tmp_path, tiny_model_dir, movies,
                                                                              capsys):
    from exodeep_gui.batch.cluster import ClusterChoice, open_client

    out = tmp_path / "out"
    job = DetectJob(DetectOptions(model=str(tiny_model_dir), threshold=0.0))
    tasks = movie_tasks(movies, str(out), job)
    fingerprint = DETECT.fingerprint(job)
    report = out / "report.csv"
    with open_client(ClusterChoice("local", workers=2, retries=1), len(tasks)) as opened:
        assert "2 worker processes × 1 thread" in opened.description and opened.watch is None
        assert len(opened.client.scheduler_info()["workers"]) == 2
        results = run_batch(DYING, tasks, fingerprint, client=opened.client, report=report)
    assert children() == []                         # the cluster's processes are gone
    status = {r.name: r for r in results}
    assert [status[n].status for n in ("sim_000", "sim_001", "sim_002", "sim_003")] == ["ok", "ok", "failed", "ok"]
    assert (out / "sim_001.attempts").read_text() == "2"                # died once, retried, finished
    assert (out / "sim_002.attempts").read_text() == "2"                # 1 + 1 retry, then reported
    assert "its worker died 2 times while working on it" in status["sim_002"].reason
    for name in ("sim_000", "sim_001", "sim_003"):
        assert status[name].frames == 20 and status[name].worker
        assert all((out / f"{name}{s}").is_file() for s in ("_events.csv", "_RoiSet.zip", "_events.xml"))
        assert read_marker("detect", tasks[int(name[-1])])["state"] == "done"
    assert not (out / "sim_002_events.csv").exists()
    assert read_marker("detect", tasks[2])["state"] == "started"        # begun, never finished
    assert not [p for p in out.iterdir() if ".part" in p.name]           # nothing half-written left
    rows = read_report(report)
    assert [r["status"] for r in rows] == ["ok", "ok", "failed", "ok"]
    assert set(rows[0]) == {"movie", "status", "events", "frames", "seconds", "worker", "reason"}

    # the same command again (plus a broken file): finished movies are skipped, sim_002 runs now,
    # the broken one is reported and the exit status says so
    data = Path(movies[0]).parent
    (data / "broken.tif").write_bytes(b"garbage" * 100)
    try:
        rc = main(["detect", str(data), "--model", str(tiny_model_dir), "--out", str(out), "--threshold", "0",
                   "--workers", "2", "--report", str(report)])
    finally:
        (data / "broken.tif").unlink()
    captured = capsys.readouterr()
    assert rc == 1, captured.err
    assert children() == []
    rows = {Path(r["movie"]).name: r for r in read_report(report)}
    assert {k: r["status"] for k, r in rows.items()} == {
        "broken.tif": "failed", "sim_000.tif": "skipped", "sim_001.tif": "skipped", "sim_002.tif": "ok",
        "sim_003.tif": "skipped"}
    assert "broken.tif: not a TIFF file" in rows["broken.tif"]["reason"]
    assert "2 movies to do, 3 finished earlier" in captured.err      # sim_002 and the broken file
    assert "4 of 5 movies done (3 by an earlier run)" in captured.out
    assert (out / "sim_001.attempts").read_text() == "2"              # not run again
    assert read_marker("detect", tasks[2])["state"] == "done"


def test_the_plain_command_shares_markers_and_report_and_passes_precision(tmp_path, tiny_model_dir, movies, capsys):
    out = tmp_path / "out"
    args = ["detect", str(movies[0]), str(movies[1]), "--model", str(tiny_model_dir), "--out", str(out),
            "--precision", "float32"]
    assert main(args) == 0
    marker = json.loads(marker_path("detect", MovieTask(str(movies[0]), "sim_000", str(out), None)).read_text())
    assert marker["fingerprint"]["options"]["precision"] == "float32"
    assert [r["status"] for r in read_report(out / "exodeep_detect_report.csv")] == ["ok", "ok"]
    capsys.readouterr()
    assert main(args) == 0                                          # finished: skipped, not refused
    captured = capsys.readouterr()
    assert "2 of 2 movies done (2 by an earlier run)" in captured.out and "model:" in captured.err
    # other options: the results are not those asked for, and they are not overwritten silently
    assert main(args[:-1] + ["bfloat16"]) == 1
    assert "--overwrite" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(args[:-1] + ["float64"])


def test_resume_replaces_what_a_killed_run_left_but_never_a_users_file(tmp_path, movies):
    job = DetectJob(DetectOptions(model="exodeep-sim-small"))
    tasks = movie_tasks(movies[:3], str(tmp_path), job)
    fp = DETECT.fingerprint(job)
    write_marker("detect", tasks[0], "started", fp)               # killed while writing its outputs
    (tmp_path / "sim_000_events.csv").write_text("half")
    (tmp_path / "sim_001_events.csv").write_text("my annotations")    # the user's, no marker
    plan = plan_batch(DETECT, tasks, fp)
    assert [(i, t.overwrite) for i, t in plan.todo] == [(0, True), (2, False)]
    assert "sim_001_events.csv already exists (use --overwrite" in plan.results[1].reason
    # a marker of other options does not count
    other = DETECT.fingerprint(DetectJob(DetectOptions(model="exodeep-sim-small", threshold=0.9)))
    assert [i for i, _ in plan_batch(DETECT, tasks, other).todo] == [2]
    # two movies that would write the same files
    twin = movie_tasks([movies[2], movies[2]], str(tmp_path / "o"), job)
    assert "same name" in plan_batch(DETECT, twin, fp).results[1].reason


def test_slurm_job_script_from_a_config_file_and_flags_without_slurm(tmp_path, movies, capsys):
    config = tmp_path / "slurm.yaml"
    config.write_text("queue: gpu\naccount: lab42\nwalltime: '01:00:00'\ncores: 8\nmemory: 32GB\n"
                      "gpus_per_job: 2\nmax_jobs: 10\nprologue:\n  - module load cuda/12.4\n"
                      "job_extra: ['--constraint=h100']\nlog_directory: " + str(tmp_path / "logs") + "\n")
    rc = main(["detect", str(Path(movies[0]).parent), "--model", "exodeep-sim-small", "--out", str(tmp_path / "o"),
               "--cluster", "slurm", "--slurm-config", str(config), "--walltime", "04:00:00", "--dry-run"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    script = captured.out
    for line in ("#SBATCH -J exodeep", "#SBATCH -p gpu", "#SBATCH -A lab42", "#SBATCH --cpus-per-task=8",
                 "#SBATCH --mem=30G", "#SBATCH -t 04:00:00", "#SBATCH --gres=gpu:2", "#SBATCH --constraint=h100",
                 "module load cuda/12.4", "export DASK_DISTRIBUTED__WORKER__MEMORY__PAUSE=False"):
        assert line in script, line
    worker = script.strip().splitlines()[-1]
    assert worker.startswith(f"{sys.executable} -m distributed.cli.dask_worker tcp://")
    for arg in ("--nthreads 1", "--nworkers 2", "--lifetime 235m", "--nanny"):
        assert arg in worker, arg
    assert "4 movies: 4 to do, 0 finished earlier" in captured.err
    assert children() == []
    assert not (tmp_path / "o" / "sim_000_events.csv").exists()        # nothing ran
    # a typo in the file is named
    config.write_text("queue: gpu\nwallclock: 1:00:00\n")
    assert main(["detect", str(movies[0]), "--model", "exodeep-sim-small", "--cluster", "slurm",
                 "--slurm-config", str(config), "--dry-run"]) == 1
    assert "unknown key wallclock" in capsys.readouterr().err


def test_cluster_options_and_worker_setup():
    from exodeep_gui.batch.cluster import WorkerSetup, parse_cluster
    from exodeep_gui.batch.slurm import slurm_options, walltime_seconds

    assert parse_cluster("local") == ("local", "")
    assert parse_cluster("tcp://10.0.0.5:8786") == ("address", "tcp://10.0.0.5:8786")
    assert parse_cluster("node12:8786") == ("address", "node12:8786")
    with pytest.raises(ValueError, match="expected local, slurm or a scheduler address"):
        parse_cluster("pbs")
    assert [walltime_seconds(w) for w in ("02:00:00", "1-00:00:00", "30", "90:00", "soon")] == [
        7200, 86400, 1800, 5400, None]
    opts = slurm_options(None, queue="q", cores=None)
    assert opts.queue == "q" and opts.cores == 4 and opts.processes == 1
    with pytest.raises(ValueError, match="cores ≥ GPUs per job"):
        slurm_options(None, cores=2, gpus_per_job=4)
    env = WorkerSetup(threads=3, gpus_per_job=2).environment("exodeep-7-1", {"CUDA_VISIBLE_DEVICES": "2,3"})
    assert env["CUDA_VISIBLE_DEVICES"] == "3" and env["TF_NUM_INTRAOP_THREADS"] == "3"
    assert "CUDA_VISIBLE_DEVICES" not in WorkerSetup(gpus_per_job=1).environment("exodeep-7", {})


def test_local_workers_two_per_four_cores_on_tensorflow_one_on_jax():
    from exodeep_gui.batch.cluster import default_local_workers

    assert [default_local_workers(c, "tensorflow") for c in (1, 2, 8, 16)] == [1, 1, 4, 8]
    assert [default_local_workers(c, "jax") for c in (1, 8, 16)] == [1, 1, 1]   # XLA takes every core
    from exodeep_gui.ml import choose_backend                           # unsaid: the backend this process runs
    assert default_local_workers(8) == (1 if choose_backend() == "jax" else 4)


class CountCommand(MovieCommand):
    """A per-movie command without a network: writes the movie's size; counts its runs."""

    name = "count"
    runs = 0

    def outputs(self, task):
        return [Path(task.out_dir) / f"{task.name}_size.txt"]

    def fingerprint(self, params):
        return {"params": params}

    def run(self, task, progress=None):
        CountCommand.runs += 1
        out = self.outputs(task)[0]
        out.write_text(str(Path(task.movie).stat().st_size))
        return {"events": 1, "frames": 0, "outputs": [out]}


def test_a_task_run_again_on_a_finished_movie_returns_its_marker_and_does_not_work_again(tmp_path, movies):
    command = CountCommand()
    tasks = movie_tasks(movies[:2], str(tmp_path), "v1")
    first = run_batch(command, tasks, command.fingerprint("v1"), report=tmp_path / "r.csv")
    assert [r.status for r in first] == ["ok", "ok"] and CountCommand.runs == 2
    # Dask recomputes a task whose result died with its worker: the movie is not done twice
    again = run_task(command, tasks[0], command.fingerprint("v1"))
    assert again.status == "ok" and again.outputs == first[0].outputs and CountCommand.runs == 2
    # a new run skips both; other parameters are refused (outputs there); --no-resume redoes them
    assert [r.status for r in run_batch(command, tasks, command.fingerprint("v1"))] == ["skipped", "skipped"]
    assert [r.status for r in run_batch(command, tasks, command.fingerprint("v2"))] == ["failed", "failed"]
    tasks = movie_tasks(movies[:2], str(tmp_path), "v1", overwrite=True)
    assert [r.status for r in run_batch(command, tasks, command.fingerprint("v1"), resume=False)] == ["ok", "ok"]
    assert CountCommand.runs == 4
