"""``exodeep detect`` and ``exodeep analyze`` with ``--cluster slurm`` in REAL SLURM jobs: a throwaway
single-node SLURM (slurmctld, slurmd and munged started here, on this machine only, in a temporary
folder, stopped after) runs the workers. One job is cancelled with scancel while its movie runs (the
movie is retried and finished), a second run skips what is done, the report names the SLURM jobs,
and runs whose workers cannot start end with one line.

Needs root and Debian's slurmctld, slurmd, slurm-client and munge (``.ci/run`` installs them);
skipped otherwise."""

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from exodeep_gui.io.results import read_events

ROOT = Path(__file__).resolve().parent.parent
DAEMONS = ("munged", "slurmctld", "slurmd")
COMMANDS = DAEMONS + ("sbatch", "squeue", "scancel", "scontrol", "sinfo")

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_line(host: str) -> str:
    """This machine as SLURM sees it (``slurmd -C``: CPUs, sockets, cores, memory), reachable on 127.0.0.1."""
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, timeout=30).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("NodeName="))
    fields = [f for f in line.split()[1:] if not f.startswith("UpTime")]
    return f"NodeName={host} NodeAddr=127.0.0.1 {' '.join(fields)} State=UNKNOWN"


class Slurm:
    """A single-node SLURM in ``folder`` (configuration, munge key and socket, state, spool, logs)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.conf = folder / "slurm.conf"
        self.socket = folder / "sock" / "munge.socket"
        self.env = dict(os.environ, SLURM_CONF=str(self.conf), PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")

    def pid(self, daemon: str):
        try:
            return int((self.folder / f"{daemon}.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def run(self, *args, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        out = subprocess.run([str(a) for a in args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and out.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, args))}: {out.stderr.strip()}")
        return out

    def jobs(self) -> list:
        return self.run("squeue", "--noheader", "--format=%i").stdout.split()

    def logs(self) -> str:
        text = []
        for name in ("munged.log", "slurmctld.log", "slurmd.log"):
            p = self.folder / "log" / name
            if p.exists():
                text.append(f"--- {name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-15:]))
        return "\n".join(text)

    def start(self) -> None:
        f = self.folder
        for d in ("munge", "state", "spool", "log"):
            (f / d).mkdir(mode=0o700)
        (f / "sock").mkdir(mode=0o755)             # munged wants its socket's folder open to all
        key = f / "munge" / "munge.key"
        if shutil.which("mungekey"):
            subprocess.run(["mungekey", "--create", f"--keyfile={key}"], check=True, capture_output=True)
        else:
            key.write_bytes(os.urandom(1024))
            key.chmod(0o600)
        subprocess.run(["munged", f"--key-file={key}", f"--socket={self.socket}", f"--pid-file={f}/munged.pid",
                        f"--log-file={f}/log/munged.log", f"--seed-file={f}/munge/munged.seed"],
                       check=True, capture_output=True, timeout=30)
        host = socket.gethostname().split(".")[0]
        self.conf.write_text("\n".join([
            "ClusterName=exodeeptest", f"SlurmctldHost={host}(127.0.0.1)",
            f"SlurmctldPort={_free_port()}", f"SlurmdPort={_free_port()}",
            "SlurmUser=root", "SlurmdUser=root",
            "AuthType=auth/munge", "CredType=cred/munge", f"AuthInfo=socket={self.socket}",
            f"StateSaveLocation={f}/state", f"SlurmdSpoolDir={f}/spool",
            f"SlurmctldPidFile={f}/slurmctld.pid", f"SlurmdPidFile={f}/slurmd.pid",
            f"SlurmctldLogFile={f}/log/slurmctld.log", f"SlurmdLogFile={f}/log/slurmd.log",
            # no cgroups, no accounting: what runs anywhere, containers included
            "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none", "JobCompType=jobcomp/none",
            "MpiDefault=none", "SwitchType=switch/none",
            "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core_Memory", "SchedulerType=sched/builtin",
            "ReturnToService=2", "KillWait=5", "MinJobAge=300", "InactiveLimit=0",
            _node_line(host), f"PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP", ""]))
        for daemon in ("slurmctld", "slurmd"):
            subprocess.run([daemon, "-f", str(self.conf)], env=self.env, check=True, capture_output=True,
                           timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            out = self.run("sinfo", "--noheader", "--Node", "--format=%T", check=False)
            if out.returncode == 0 and out.stdout.strip() == "idle":
                return
            time.sleep(0.3)
        raise RuntimeError(f"the SLURM node did not become idle in 30 s\n{self.logs()}")

    def stop(self) -> None:
        """Cancel every job, stop the daemons (scontrol shutdown, then SIGTERM, then SIGKILL) and wait
        until they are gone."""
        pids = [p for p in (self.pid(d) for d in DAEMONS) if p]
        if _alive(self.pid("slurmctld")):
            self.run("scancel", f"--user={os.getuid()}", check=False)
            deadline = time.monotonic() + 20
            while self.run("squeue", "--noheader", check=False).stdout.strip() and time.monotonic() < deadline:
                time.sleep(0.3)
            self.run("scontrol", "shutdown", check=False)
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            for p in pids:
                if sig is not None and _alive(p):
                    os.kill(p, sig)
            deadline = time.monotonic() + 10
            while any(_alive(p) for p in pids) and time.monotonic() < deadline:
                time.sleep(0.2)


def _alive(pid) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:                                      # a zombie of ours is gone for good
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return True


@pytest.fixture(scope="module")
def slurm():
    missing = [c for c in COMMANDS if shutil.which(c) is None]
    if missing:
        pytest.skip(f"SLURM is not installed ({', '.join(missing)} missing): .ci/run installs it as root "
                    f"(apt-get install slurmctld slurmd slurm-client munge)")
    if os.geteuid() != 0:
        pytest.skip("a throwaway SLURM needs root (slurmd starts the jobs)")
    folder = Path(tempfile.mkdtemp(prefix="exodeep-slurm-"))
    folder.chmod(0o755)
    cluster = Slurm(folder)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        left = [d for d in DAEMONS if _alive(cluster.pid(d))]
        shutil.rmtree(folder, ignore_errors=True)
        assert not left, f"{left} still running"


@pytest.fixture(scope="module")
def sim_movies(tmp_path_factory):
    from exodeep_gui.core.simulate import SimulationParams
    from exodeep_gui.io.simulated import write_simulated_set

    folder = tmp_path_factory.mktemp("slurm_movies")
    write_simulated_set(folder, 4, SimulationParams(frames=24, height=32, width=32, events=2, docked=3,
                                                    visiting=1), seed=0)
    return folder


def _exodeep(slurm, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "exodeep_gui.cli", *map(str, args)], env=slurm.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc, timeout: float = 300):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"the command did not end in {timeout} s:\n{err[-3000:]}")
    return proc.returncode, out, err


JOB_OPTIONS = ("--cluster", "slurm", "--workers", "2", "--cores", "1", "--memory", "1GB", "--walltime", "00:10:00")


def _job_of(worker: str) -> str:
    assert "(SLURM job " in worker, worker
    return worker.split("(SLURM job ")[1].rstrip(")")


def test_detect_and_analyze_in_slurm_jobs_with_a_cancelled_job_and_resume(slurm, sim_movies, tiny_model_dir,
                                                                          tmp_path):
    from exodeep_gui.cli import main

    out = tmp_path / "out"
    args = ("detect", sim_movies, "--model", tiny_model_dir, "--threshold", "0", "--out", out) + JOB_OPTIONS
    proc = _exodeep(slurm, *args)
    # the first movie a worker takes: cancel its job while it runs (its worker is still importing
    # TensorFlow and building the model: several seconds)
    deadline, marker = time.monotonic() + 120, None
    while marker is None and time.monotonic() < deadline and proc.poll() is None:
        for p in sorted((out / ".exodeep").glob("*.detect.json")) if (out / ".exodeep").is_dir() else []:
            record = json.loads(p.read_text())
            if record["state"] == "started":
                marker = (p, record)
                break
        time.sleep(0.05)
    assert marker is not None, "no movie started in 120 s"
    cancelled = _job_of(marker[1]["worker"])
    slurm.run("scancel", cancelled)
    rc, _, err = _finish(proc)
    assert rc == 0, err
    assert "SLURM: 0…2 jobs of 1 cores, 1GB" in err and "4 movies to do, 0 finished earlier" in err
    rows = list(csv.DictReader(open(out / "exodeep_detect_report.csv", newline="")))
    assert [r["status"] for r in rows] == ["ok"] * 4
    jobs = {r["movie"]: _job_of(r["worker"]) for r in rows}       # the report names the SLURM jobs
    done = json.loads(marker[0].read_text())
    assert done["state"] == "done" and _job_of(done["worker"]) != cancelled   # retried on another job, finished
    assert cancelled not in jobs.values()
    logs = out / ".exodeep" / "slurm-logs"
    assert "CANCELLED" in (logs / f"exodeep-{cancelled}.err").read_text()       # its worker's log, beside the run
    assert slurm.jobs() == []                                   # the run's jobs are gone with it

    # the same events as the plain command in this process
    here = tmp_path / "here"
    assert main(["detect", str(sim_movies), "--model", str(tiny_model_dir), "--threshold", "0", "--out", str(here),
                 "--formats", "csv"]) == 0
    for name in ("sim_000", "sim_001", "sim_002", "sim_003"):
        a, b = read_events(out / f"{name}_events.csv"), read_events(here / f"{name}_events.csv")
        assert len(a) == len(b) > 0
        for col in ("x", "y", "frame", "score", "size"):
            assert getattr(a, col) == pytest.approx(getattr(b, col), abs=1e-6), (name, col)

    # a second run skips everything: no cluster, no job
    n_logs = len(list(logs.iterdir()))
    rc, out_text, err = _finish(_exodeep(slurm, *args))
    assert rc == 0, err
    assert "4 of 4 movies done (4 by an earlier run)" in out_text and "SLURM:" not in err
    assert len(list(logs.iterdir())) == n_logs

    # the analysis of those events, in SLURM jobs too, gives what it gives here
    aout = tmp_path / "analysis"
    rc, _, err = _finish(_exodeep(slurm, "analyze", sim_movies, "--events", out, "--out", aout, "--simulations", "9",
                                  *JOB_OPTIONS))
    assert rc == 0, err
    rows = list(csv.DictReader(open(aout / "exodeep_analyze_report.csv", newline="")))
    assert [r["status"] for r in rows] == ["ok"] * 4 and all(_job_of(r["worker"]) for r in rows)
    assert main(["analyze", str(sim_movies), "--events", str(out), "--out", str(tmp_path / "a_here"),
                 "--simulations", "9"]) == 0
    assert (aout / "movies.csv").read_text() == (tmp_path / "a_here" / "movies.csv").read_text()
    assert slurm.jobs() == []


def test_jobs_slurm_refuses_or_whose_worker_cannot_start_end_the_run_with_one_line(slurm, sim_movies, tmp_path):
    base = ("detect", sim_movies, "--model", "exodeep-sim-small", "--out", tmp_path / "o") + JOB_OPTIONS
    # refused at submission: nothing queued, SLURM's reason
    for extra, said in ((("--queue", "nosuch"), "invalid partition specified: nosuch"),
                        (("--memory", "100TB"), "Requested node configuration is not available")):
        t = time.monotonic()
        rc, _, err = _finish(_exodeep(slurm, *base, *extra), timeout=120)
        lines = err.strip().splitlines()
        assert rc == 1 and lines[-1].startswith("exodeep: error: SLURM refuses the worker job: ") and said in lines[-1]
        assert "Traceback" not in err and time.monotonic() - t < 60
    # accepted, but the worker's Python is not there: every job ends before its worker connects
    config = tmp_path / "slurm.yaml"
    config.write_text("python: /nonexistent/bin/python\n")
    rc, _, err = _finish(_exodeep(slurm, *base, "--slurm-config", config), timeout=120)
    last = err.strip().splitlines()[-1]
    assert rc == 1, err
    assert last.startswith("exodeep: error: no ExoDeep worker could start: SLURM job ") and "(FAILED" in last
    assert "/nonexistent/bin/python: No such file or directory" in last and "Traceback" not in err
    assert slurm.jobs() == []
    rows = list(csv.DictReader(open(tmp_path / "o" / "exodeep_detect_report.csv", newline="")))
    assert [r["status"] for r in rows] == ["pending"] * 4
