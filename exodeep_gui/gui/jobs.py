"""The job runner: the one owner of the window's worker threads and engine process.

Heavy jobs (detection now; training and analysis next) run one at a time, in order; others
wait in a queue. Each job is a :class:`~exodeep_gui.gui.workers.GeneratorWorker` (a progress
generator run in a QThread, with a frozen options object) with a kind, a title and a cancel
grace: how long the engine is given to stop by itself after Cancel before it is stopped
(detection: 1 s; training must be allowed to finish writing its checkpoint). The runner keeps
one warm engine process (process.engine.EngineProcess) for network work, reports progress and
time left in one status area (:class:`JobStatus`) and shuts everything down when the window
closes.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Deque, Optional

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from exodeep_gui.process.engine import EngineProcess
from exodeep_gui.core.progress import clock_text
from exodeep_gui.gui import workers



class _Relay(QObject):
    """Made in the GUI thread: a job's signals reach its bound slots queued, so the callbacks a
    panel gave :meth:`JobRunner.start` run in the GUI thread (a lambda connected to a worker's
    signal would run in the worker's thread, where no widget may be touched)."""

    def __init__(self, job, on_result, on_failed, on_progress, on_cancelled, on_done):
        super().__init__()
        self.calls = {"result": on_result, "failed": on_failed, "progress": on_progress,
                      "cancelled": on_cancelled, "done": on_done}
        job.result.connect(self.result)
        job.failed.connect(self.failed)
        job.progress.connect(self.progress)
        job.cancelled.connect(self.cancelled)
        job.done.connect(self.done)

    def _call(self, name, *args) -> None:
        if self.calls[name] is not None:
            self.calls[name](*args)

    def result(self, value) -> None:
        self._call("result", value)

    def failed(self, message: str, details: str) -> None:
        self._call("failed", message, details)

    def progress(self, report) -> None:
        self._call("progress", report)

    def cancelled(self) -> None:
        self._call("cancelled")

    def done(self) -> None:
        self._call("done")


class JobRunner(QObject):
    changed = Signal()                    # a job started, finished or was queued
    progress = Signal(object, object)     # (job, core.progress.Progress)

    def __init__(self, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.queue: Deque[workers.GeneratorWorker] = deque()
        self.current: Optional[workers.GeneratorWorker] = None
        self.thread = None
        self.engine = EngineProcess("exodeep-engine")
        self.light: dict = {}                 # light jobs running now (run_now), by key
        self._relays: dict = {}               # job key → its _Relay (callbacks in the GUI thread)
        self._closing = False

    def job(self, kind: str, title: str, make_generator, *args, **kwargs) -> workers.GeneratorWorker:
        """A job (not started: connect its signals, then :meth:`submit` it)."""
        return workers.GeneratorWorker(make_generator, *args, _kind=kind, _title=title, **kwargs)

    def start(self, kind: str, title: str, make_generator, *args, on_result=None, on_failed=None,
              on_progress=None, on_cancelled=None, on_done=None, light: bool = False, background: bool = False,
              **kwargs) -> workers.GeneratorWorker:
        """The one way a panel runs a job: make it, route its signals to the given callbacks (they
        run in the GUI thread, whatever they are), and queue it (a heavy job) or start it beside
        the heavy one (``light``: a preview, a count, a download). A ``background`` job (detecting
        the next movie while the user reviews) has the lowest priority: anything the user starts
        cancels it. Returns the job."""
        job = self.job(kind, title, make_generator, *args, **kwargs)
        job.background = background
        relay = _Relay(job, on_result, on_failed, on_progress, on_cancelled, on_done)
        self._relays[job.key] = relay
        job.ended.connect(self._forget_relay)
        return self.run_now(job) if light else self.submit(job)

    def _forget_relay(self, key) -> None:
        self._relays.pop(key, None)

    def run_now(self, job: workers.GeneratorWorker) -> workers.GeneratorWorker:
        """Start a light job (a preview, a count: no network, seconds at most) at once, beside the
        heavy one; it is still the runner's, and cancelled and waited for at shutdown."""
        if self._closing:
            raise RuntimeError("the window is closing")
        job.started_at = time.monotonic()
        self.light[job.key] = job
        job.ended.connect(self._light_done)       # bound method: queued to this (the GUI) thread
        job.thread = workers.start(job)
        return job

    def _light_done(self, key) -> None:
        self.light.pop(key, None)

    def submit(self, job: workers.GeneratorWorker) -> workers.GeneratorWorker:
        if self._closing:
            raise RuntimeError("the window is closing")
        if not job.background:            # the user's work first: background work gives way
            for waiting in [j for j in self.queue if j.background]:
                self.cancel(waiting)
            if self.current is not None and self.current.background:
                self.cancel(self.current)
        self.queue.append(job)
        self.changed.emit()
        self._next()
        return job

    @property
    def closing(self) -> bool:
        """The window is closing: no job starts any more."""
        return self._closing

    @property
    def busy(self) -> bool:
        return self.current is not None or bool(self.queue)

    def running(self, kind: Optional[str] = None) -> bool:
        return self.current is not None and (kind is None or self.current.kind == kind)

    def _next(self) -> None:
        if self.current is not None or not self.queue:
            return
        job = self.current = self.queue.popleft()
        job.started_at = time.monotonic()
        job.progress.connect(lambda p, job=job: self.progress.emit(job, p))   # re-emitted: queued to its receivers
        job.done.connect(self._finished)
        self.thread = workers.start(job)
        self.changed.emit()

    def _finished(self) -> None:
        if self.current is None:                      # after a shutdown
            return
        thread = self.thread
        self.current, self.thread = None, None
        if thread is not None:
            thread.wait(5000)
        self.changed.emit()
        if not self._closing:
            self._next()

    def cancel(self, job: Optional[workers.GeneratorWorker] = None) -> None:
        """Cancel ``job`` (default: the running one); a queued job is dropped with its signals."""
        job = job or self.current
        if job is None:
            return
        if job is self.current:
            job.cancel()
        elif job in self.queue:
            self.queue.remove(job)
            job.token.cancel()
            job.cancelled.emit()
            job.done.emit()
            job.ended.emit(job.key)             # its relay is let go, as for a job that ran
            self.changed.emit()

    def cancel_all(self) -> None:
        for job in list(self.queue):
            self.cancel(job)
        self.cancel()

    def shutdown(self, timeout_ms: Optional[int] = None) -> None:
        """Cancel everything, wait for the running job (its cancel grace and a margin), stop the
        engine process. Called when the window closes."""
        self._closing = True
        self.cancel_all()
        for job in list(self.light.values()):
            job.cancel()
            job.thread.wait(5000)
        self.light.clear()
        thread = self.thread
        if thread is not None:
            grace = self.current.grace_s if self.current is not None else 3.0
            thread.wait(int(timeout_ms if timeout_ms is not None else 1000 * (grace + 5)))
        self.current, self.thread = None, None        # its queued "finished" will find nothing to do
        self.engine.stop()
        self.changed.emit()


class JobStatus(QWidget):
    """The status area: what runs, how far, the time left, what waits, and Cancel."""

    def __init__(self, runner: JobRunner, parent=None):
        super().__init__(parent)
        self.runner = runner
        self.label = QLabel("")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setMaximumWidth(220)
        self.bar.setTextVisible(True)
        self.cancel_button = QToolButton(text="Cancel")
        self.cancel_button.setToolTip("Cancel the running job (Ctrl+.)")
        self.cancel_button.clicked.connect(lambda: runner.cancel())
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.label, self.bar, self.cancel_button):
            layout.addWidget(w)
        runner.changed.connect(self._changed)
        runner.progress.connect(self._progress)
        self._changed()

    def _changed(self) -> None:
        job = self.runner.current
        waiting = len(self.runner.queue)
        self.setVisible(job is not None)
        if job is not None:
            self.bar.setValue(0)
            self.label.setText(job.title + (f"  (+{waiting} waiting)" if waiting else ""))

    def _progress(self, job, p) -> None:
        if p.stage == "device":
            return
        self.bar.setValue(int(1000 * p.fraction))
        rate = f" — {p.rate:.1f} frames/s" if p.stage == "detect" and p.rate else ""
        left = f", {clock_text(p.eta_s)} left" if p.eta_s is not None and p.fraction < 1 else ""
        waiting = len(self.runner.queue)
        what = f": {p.message}" if p.message else ""
        text = f"{job.title}{what}{rate}{left}"
        self.label.setText(text + (f"  (+{waiting} waiting)" if waiting else ""))
