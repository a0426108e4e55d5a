"""Run a progress generator in a child process, as if it ran here.

Why: importing TensorFlow (or torch) holds Python's global lock for a second or more, and a
crash or an out-of-memory kill inside a native library takes the whole process with it. The
window therefore runs network work in a child process: its event loop never waits for the
engine, a killed engine is reported as an error, and cancel can always stop the work (the
child gets the cancel flag; if it has not stopped ``grace_s`` later it is terminated).

``run_in_subprocess(module.function, *args, cancel=token)`` is itself a generator:
it yields the child's :class:`~exodeep_gui.core.progress.Progress` reports and returns the
child's result. The target is a module-level generator function taking ``cancel=`` like every
long function here; it travels by its import path (pickle), and the "spawn" start method
imports it afresh in the child, which is what works with CUDA, on Windows and macOS, and in the
frozen app.
Arguments, reports, results and exceptions travel by pickle, so keep them small: large
arrays go through files (see ``exodeep_gui.ml.detect.detect_in_subprocess``).

:class:`EngineProcess` keeps such a child alive between jobs, so that what a job loads (the
framework, a model) is loaded once: the window's detection engine stays warm. Stdlib only.
"""

from __future__ import annotations

import multiprocessing
import pickle
import time
import traceback
from typing import Callable, Generator, Optional

from exodeep_gui.core.progress import Cancelled, CancelToken, run_to_end


class JobFailed(RuntimeError):
    """The child process failed in a way that cannot be re-raised as its own exception
    (it was killed, or its exception could not be sent back). ``details`` holds what is known."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


def _run_one(conn, token: CancelToken, target: Callable, args: tuple, kwargs: dict) -> None:
    try:
        result = run_to_end(target(*args, cancel=token, **kwargs), lambda report: conn.send(("progress", report)))
        conn.send(("result", result))
    except Cancelled:
        conn.send(("cancelled", None))
    except BaseException as exc:            # everything goes back to the parent
        details = traceback.format_exc()
        try:
            payload = pickle.dumps(exc)
            pickle.loads(payload)
        except Exception:
            payload = None
        conn.send(("error", (payload, f"{type(exc).__name__}: {exc}", details)))


def _serve(conn, event) -> None:
    """The child's loop: run one job after another until told to stop (None) or orphaned."""
    try:
        while True:
            try:
                request = conn.recv()
            except (EOFError, OSError):
                break
            if request is None:
                break
            target, args, kwargs = request
            _run_one(conn, CancelToken(event), target, args, kwargs)
    finally:
        conn.close()


def _died(exitcode: Optional[int]) -> JobFailed:
    if exitcode is not None and exitcode < 0:
        signal_no = -exitcode
        why = (" (killed: usually the computer ran out of memory)" if signal_no == 9 else
               f" (stopped by signal {signal_no})")
    else:
        why = f" (exit code {exitcode})"
    return JobFailed("The engine process stopped unexpectedly" + why + ". Close other programs or "
                     "use a smaller movie, and try again; the log file has details.",
                     f"child exit code {exitcode}")


class EngineProcess:
    """A child process that runs progress generators one after another and stays alive between
    them ("warm"): what a job loads there (a model, TensorFlow itself) is loaded once. It is
    restarted when a job's ``key`` differs from the last one (e.g. another model), after it died,
    and after a cancel it had to be stopped for. Not thread-safe: one job at a time (the window's
    job runner guarantees it)."""

    def __init__(self, name: str = "exodeep-engine") -> None:
        self.name = name
        self.key = None
        self.starts = 0                         # processes started so far (tests, benchmarks)
        self._proc = self._conn = self._event = None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    @property
    def pid(self) -> Optional[int]:
        return self._proc.pid if self.alive else None

    def _start(self, key) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child_end = ctx.Pipe(duplex=True)
        self._event = ctx.Event()
        self._proc = ctx.Process(target=_serve, args=(child_end, self._event), name=self.name, daemon=True)
        self._proc.start()
        child_end.close()                       # the child holds the only other end now
        self.key, self.starts = key, self.starts + 1

    def stop(self, timeout_s: float = 2.0) -> None:
        """Ask the child to exit (it finishes nothing: call between jobs), else terminate it."""
        proc, conn = self._proc, self._conn
        self._proc = self._conn = self._event = None
        self.key = None
        if proc is None:
            return
        try:
            if proc.is_alive():
                conn.send(None)
        except (OSError, ValueError):
            pass
        proc.join(timeout_s)
        if proc.is_alive():
            proc.terminate()
            proc.join(2)
            if proc.is_alive():
                proc.kill()
                proc.join(2)
        conn.close()

    def run(self, target: Callable, *args, cancel: Optional[CancelToken] = None, grace_s: float = 3.0,
            key=None, poll_s: float = 0.05, **kwargs) -> Generator:
        """Run the generator function ``target`` (a module-level function: it travels by its import
        path, so a typo fails where it is named, at import) in the child, yielding its
        progress reports here and returning its result (see the module docstring). Raises the
        child's exception (its traceback as ``__notes__``), ``Cancelled`` when ``cancel`` was set,
        or :class:`JobFailed` when the child died."""
        if key != self.key or not self.alive:
            self.stop()
            self._start(key)
        self._event.clear()
        self._conn.send((target, args, kwargs))
        finished = False
        cancelled_at = None
        try:
            while True:
                if cancel is not None and cancel.cancelled and cancelled_at is None:
                    self._event.set()
                    cancelled_at = time.monotonic()
                if cancelled_at is not None and time.monotonic() - cancelled_at > grace_s:
                    raise Cancelled("cancelled by the user (the engine was stopped)")
                if self._conn.poll(poll_s):
                    try:
                        kind, payload = self._conn.recv()
                    except EOFError:            # the child closed the pipe without a word: it died
                        self._proc.join(5)
                        raise _died(self._proc.exitcode) from None
                    if kind == "progress":
                        yield payload
                        continue
                    finished = True
                    if kind == "result":
                        return payload
                    if kind == "cancelled":
                        raise Cancelled("cancelled by the user")
                    pickled, text, details = payload          # "error"
                    exc = pickle.loads(pickled) if pickled is not None else JobFailed(text, details)
                    if hasattr(exc, "add_note"):
                        exc.add_note("in the engine process:\n" + details)
                    raise exc
                if not self._proc.is_alive() and not self._conn.poll(0):
                    self._proc.join(1)
                    raise _died(self._proc.exitcode)
        finally:
            if not finished:                    # died, stopped past its grace, or abandoned here
                self.stop(timeout_s=0.2)


def run_in_subprocess(target: Callable, *args, cancel: Optional[CancelToken] = None,
                      grace_s: float = 3.0, poll_s: float = 0.05, **kwargs) -> Generator:
    """Run the generator function ``target`` (a module-level function) once in a fresh spawned
    child process (see :class:`EngineProcess` for the semantics); the child exits afterwards."""
    engine = EngineProcess(f"exodeep-{target.__name__}")
    try:
        return (yield from engine.run(target, *args, cancel=cancel, grace_s=grace_s, poll_s=poll_s, **kwargs))
    finally:
        engine.stop(timeout_s=0.3)
