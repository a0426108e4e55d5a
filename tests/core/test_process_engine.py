"""process.engine: a progress generator run in a spawned child process behaves as if it ran here."""

import os
import signal
import time

import pytest

from exodeep_gui.process.engine import JobFailed, run_in_subprocess
from exodeep_gui.core.movie import MovieError
from exodeep_gui.core.progress import Cancelled, CancelToken, Progress, run_to_end



# ---- targets run in the child
def count(n, cancel=None):
    for i in range(n):
        yield Progress("count", i + 1, n, f"pid {os.getpid()}")
    return {"sum": sum(range(n)), "pid": os.getpid()}


def fail_on(k, cancel=None):
    yield Progress("x", 0, 1)
    raise MovieError(f"movie.tif: broken at {k}")


def endless(cancel=None):
    i = 0
    while True:
        cancel.raise_if_cancelled()
        i += 1
        yield Progress("loop", i, 0)
        time.sleep(0.01)


def stubborn(cancel=None):
    yield Progress("stubborn", 0, 1)
    time.sleep(60)                      # never looks at the cancel token
    return "never"


def die(cancel=None):
    yield Progress("die", 0, 1)
    os.kill(os.getpid(), signal.SIGKILL)


# ---- tests
def test_progress_and_result_come_from_the_child():
    reports = []
    result = run_to_end(run_in_subprocess(count, 5), reports.append)
    assert result["sum"] == 10
    assert result["pid"] != os.getpid()
    assert [r.done for r in reports] == [1, 2, 3, 4, 5]
    assert all(r.message == f"pid {result['pid']}" for r in reports)


def test_child_exception_is_raised_here_with_its_type_and_traceback():
    with pytest.raises(MovieError, match="broken at 7") as info:
        run_to_end(run_in_subprocess(fail_on, 7))
    assert any("fail_on" in note for note in getattr(info.value, "__notes__", [""]))


def test_cancel_stops_a_cooperative_child_quickly():
    token = CancelToken()
    gen = run_in_subprocess(endless, cancel=token)
    with pytest.raises(Cancelled):
        for p in gen:
            if p.done >= 3:
                token.cancel()
                t0 = time.monotonic()
    assert time.monotonic() - t0 < 2.0


def test_cancel_terminates_a_child_that_ignores_it():
    token = CancelToken()
    gen = run_in_subprocess(stubborn, cancel=token, grace_s=0.5)
    with pytest.raises(Cancelled):
        for _ in gen:
            token.cancel()
            t0 = time.monotonic()
    assert time.monotonic() - t0 < 3.0


@pytest.mark.skipif(os.name == "nt", reason="SIGKILL is POSIX")
def test_a_killed_child_is_reported_not_waited_for():
    with pytest.raises(JobFailed, match="out of memory"):
        run_to_end(run_in_subprocess(die))


def test_the_engine_process_stays_warm_between_jobs_and_restarts_when_needed():
    from exodeep_gui.process.engine import EngineProcess

    engine = EngineProcess()
    try:
        first = run_to_end(engine.run(count, 3, key="model-a"))
        second = run_to_end(engine.run(count, 4, key="model-a"))
        assert first["pid"] == second["pid"] != os.getpid() and engine.starts == 1
        # an error in a job leaves the engine warm
        with pytest.raises(MovieError):
            run_to_end(engine.run(fail_on, 1, key="model-a"))
        assert run_to_end(engine.run(count, 2, key="model-a"))["pid"] == first["pid"]
        # a cooperative cancel too
        token = CancelToken()
        with pytest.raises(Cancelled):
            for p in engine.run(endless, cancel=token, key="model-a"):
                token.cancel()
        assert engine.alive and engine.pid == first["pid"]
        # another key (another model): a fresh process
        third = run_to_end(engine.run(count, 2, key="model-b"))
        assert third["pid"] != first["pid"] and engine.starts == 2
        # a job that ignores cancel is stopped, and the next job gets a new process
        token = CancelToken()
        with pytest.raises(Cancelled):
            for _ in engine.run(stubborn, cancel=token, grace_s=0.3, key="model-b"):
                token.cancel()
        assert not engine.alive
        # a killed engine is reported, and the next job starts a new one
        with pytest.raises(JobFailed):
            run_to_end(engine.run(die, key="model-b"))
        assert run_to_end(engine.run(count, 1, key="model-b"))["pid"] not in (first["pid"], third["pid"])
        assert engine.starts == 4
    finally:
        engine.stop()
    assert not engine.alive
