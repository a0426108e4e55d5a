"""``python -m exodeep_gui --help`` (the frozen ``ExoDeep --help`` runs the same code): everything the app
can do, one line each, without importing Qt or TensorFlow."""

import os
import subprocess
import sys

import pytest

from exodeep_gui import __main__ as entry
from exodeep_gui import __version__
from exodeep_gui.cli import build_parser


def run_module(*args, **kwargs):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-m", "exodeep_gui", *args], capture_output=True, text=True,
                          timeout=120, env=env, **kwargs)


def cli_commands():
    return set(build_parser()._subparsers._group_actions[0].choices)


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_lists_the_window_every_command_and_the_checks(flag):
    done = run_module(flag)
    assert done.returncode == 0 and done.stderr == ""
    lines = done.stdout.splitlines()
    prog = "python -m exodeep_gui"
    assert lines[0].startswith(f"ExoDeep {__version__}")
    assert f"  {prog} [MOVIE...] [--demo]" in lines
    for command in cli_commands():                   # a command added to the CLI shows up here too
        [line] = [ln for ln in lines if ln.startswith(f"  {prog} {command} ")]
        assert len(line.split(command, 1)[1].strip()) > 10, line      # with its one-line description
    for check in ("--self-test [--model M]", "--version", "--help"):
        assert any(ln.startswith(f"  {prog} {check}") for ln in lines), check
    assert set(entry.CLI_COMMANDS) == cli_commands()   # what run() sends to the CLI is what --help lists


def test_help_and_version_import_neither_qt_nor_tensorflow():
    code = ("import sys; from exodeep_gui.__main__ import run; run(['--help']); run(['--version']); "
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'tensorflow', 'keras', 'pyqtgraph')]; "
            "assert not heavy, heavy")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"ExoDeep {__version__}\n" in done.stdout


def test_a_command_help_is_still_the_command_s_own():
    done = run_module("detect", "--help")
    assert done.returncode == 0
    assert done.stdout.startswith("usage: exodeep detect")


def test_frozen_program_name_is_the_executable_s(monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/ExoDeep-0.1.0-linux-x86_64/ExoDeep")
    assert entry.program_name() == "ExoDeep"
    assert "  ExoDeep detect " in entry.help_text()
    monkeypatch.setattr(sys, "executable", r"C:\Program Files\ExoDeep\exodeep-cli.exe")
    monkeypatch.setattr(os.path, "basename", lambda p: p.replace("\\", "/").rsplit("/", 1)[-1])
    assert entry.program_name() == "exodeep-cli"


def test_help_survives_a_console_that_cannot_encode_it(monkeypatch):
    """A Windows console in cp1252 (or a pipe in ASCII): characters it lacks become '?', no crash."""
    import io

    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="ascii"))
    assert entry.run(["--help"]) == 0
    sys.stdout.flush()
    assert b"detect" in raw.getvalue()
    monkeypatch.setattr(sys, "stdout", None)            # a windowed executable: nowhere to print
    assert entry.run(["--help"]) == 0


def test_the_app_runs_a_dask_worker_the_way_a_slurm_job_starts_it(tmp_path):
    """dask-jobqueue's job script starts ``<sys.executable> -m distributed.cli.dask_worker SCHEDULER``;
    in the frozen app sys.executable is ExoDeep, so ``ExoDeep -m distributed.cli.dask_worker`` must be a
    worker that joins the scheduler and runs work (the same code path, through python -m exodeep_gui)."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=None) as cluster, Client(cluster) as client:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        worker = subprocess.Popen([sys.executable, "-m", "exodeep_gui", "-m", "distributed.cli.dask_worker",
                                   cluster.scheduler_address, "--nthreads", "1", "--no-nanny",
                                   "--local-directory", str(tmp_path)],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        try:
            client.wait_for_workers(1, timeout=90)
            assert client.submit(sum, [1, 2, 3]).result(timeout=30) == 6
        finally:
            worker.terminate()
            worker.communicate(timeout=30)


def test_only_the_dask_worker_module_runs_through_the_app():
    done = run_module("-m", "os")
    assert done.returncode == 2 and "Traceback" not in done.stderr and "unrecognized arguments" in done.stderr
