"""The job runner: one job at a time, in order; a queued job can be cancelled; progress in one
status area; shutdown leaves no thread or process behind."""

import time

from exodeep_gui.core.progress import Progress
from exodeep_gui.gui.jobs import JobRunner, JobStatus


def steps(n, delay, log, name, cancel=None):
    log.append(("start", name))
    for i in range(n):
        cancel.raise_if_cancelled()
        time.sleep(delay)
        yield Progress("work", i + 1, n, f"{name} {i + 1}/{n}", elapsed_s=(i + 1) * delay)
    log.append(("end", name))
    return name


def test_jobs_run_one_at_a_time_in_order_and_a_queued_one_can_be_cancelled(qtbot):
    runner = JobRunner()
    status = JobStatus(runner)
    qtbot.addWidget(status)
    log, results = [], []
    jobs = [runner.job("detect", f"job {k}", steps, 5, 0.02, log, k) for k in "abc"]
    for j in jobs:
        j.result.connect(results.append)
    cancelled = []
    jobs[1].cancelled.connect(lambda: cancelled.append("b"))
    for j in jobs:
        runner.submit(j)
    assert runner.running("detect") and len(runner.queue) == 2
    assert "job a" in status.label.text() and "+2 waiting" in status.label.text()
    runner.cancel(jobs[1])                                     # still waiting: dropped at once
    assert cancelled == ["b"] and len(runner.queue) == 1
    qtbot.waitUntil(lambda: not runner.busy, timeout=10_000)
    assert results == ["a", "c"]
    assert log == [("start", "a"), ("end", "a"), ("start", "c"), ("end", "c")]     # never overlapping
    assert jobs[0].grace_s == 1.0
    runner.shutdown()


def test_shutdown_cancels_the_running_job(qtbot):
    runner = JobRunner()
    log = []
    job = runner.job("train", "long", steps, 1000, 0.01, log, "x")
    assert job.grace_s >= 60                                   # training may finish its checkpoint
    done = []
    job.done.connect(lambda: done.append(1))
    runner.submit(job)
    qtbot.waitUntil(lambda: log == [("start", "x")], timeout=5000)
    t0 = time.monotonic()
    runner.shutdown()
    assert time.monotonic() - t0 < 5 and not runner.busy and not runner.thread
    qtbot.waitUntil(lambda: done == [1], timeout=2000)        # its end reaches the GUI thread's listeners


def test_light_jobs_are_released_when_they_end(qtbot):
    runner = JobRunner()
    log = []
    for k in range(5):
        runner.run_now(runner.job("preview", f"p{k}", steps, 2, 0.001, log, k))
    qtbot.waitUntil(lambda: not runner.light, timeout=10_000)
    assert sorted(n for e, n in log if e == "end") == [0, 1, 2, 3, 4]
    runner.shutdown()
