"""Run a progress generator in a child process, as if it ran here.

Why: importing TensorFlow (or torch) holds Python's global lock for a second or more, and a
crash or an out-of-memory kill inside a native library takes the whole process with it. The
window therefore runs network work in a child process: its event loop never waits for the
engine, a killed engine is reported as an error, and cancel can always stop the work (the
child gets the cancel flag; if it has not stopped ``grace_s`` later it is terminated).

``run_in_subprocess("package.module:function", *args, cancel=token)`` is itself a generator:
it yields the child's :class:`~exodeep_gui.core.progress.Progress` reports and returns the
child's result. The target is named by its import path (the "spawn" start method imports it
afresh in the child, which is what works with CUDA, on Windows and macOS, and in the frozen
app) and must be a generator function taking ``cancel=`` like every long function here.
Arguments, reports, results and exceptions travel by pickle, so keep them small: large
arrays go through files (see ``exodeep_gui.ml.detect.detect_in_subprocess``). Stdlib only.
"""

from __future__ import annotations

import importlib
import multiprocessing
import pickle
import time
import traceback
from typing import Generator, Optional

from exodeep_gui.core.progress import Cancelled, CancelToken


class JobFailed(RuntimeError):
    """The child process failed in a way that cannot be re-raised as its own exception
    (it was killed, or its exception could not be sent back). ``details`` holds what is known."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


def _resolve(target: str):
    module, _, name = target.partition(":")
    fn = importlib.import_module(module)
    for part in name.split("."):
        fn = getattr(fn, part)
    return fn


def _child(conn, event, target: str, args: tuple, kwargs: dict) -> None:
    token = CancelToken(event)
    try:
        gen = _resolve(target)(*args, cancel=token, **kwargs)
        while True:
            try:
                report = next(gen)
            except StopIteration as stop:
                conn.send(("result", stop.value))
                break
            conn.send(("progress", report))
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


def run_in_subprocess(target: str, *args, cancel: Optional[CancelToken] = None,
                      grace_s: float = 3.0, poll_s: float = 0.05, **kwargs) -> Generator:
    """Run the generator function ``target`` ("module:function") in a spawned child process,
    yielding its progress reports here and returning its result (see the module docstring).

    Raises the child's exception (with the child's traceback as ``__notes__``), ``Cancelled``
    when ``cancel`` was set, or :class:`JobFailed` when the child died.
    """
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    event = ctx.Event()
    proc = ctx.Process(target=_child, args=(send, event, target, args, kwargs),
                       name=f"exodeep-{target.rpartition(':')[2]}", daemon=True)
    proc.start()
    send.close()                            # the child holds the only writing end now
    cancelled_at = None
    try:
        while True:
            if cancel is not None and cancel.cancelled and cancelled_at is None:
                event.set()
                cancelled_at = time.monotonic()
            if cancelled_at is not None and time.monotonic() - cancelled_at > grace_s:
                raise Cancelled("cancelled by the user (the engine was stopped)")
            if receive.poll(poll_s):
                try:
                    kind, payload = receive.recv()
                except EOFError:            # the child closed the pipe without a word: it died
                    proc.join(5)
                    raise _died(proc.exitcode) from None
                if kind == "progress":
                    yield payload
                elif kind == "result":
                    return payload
                elif kind == "cancelled":
                    raise Cancelled("cancelled by the user")
                else:                       # "error"
                    pickled, text, details = payload
                    exc = pickle.loads(pickled) if pickled is not None else JobFailed(text, details)
                    if hasattr(exc, "add_note"):
                        exc.add_note("in the engine process:\n" + details)
                    raise exc
            elif not proc.is_alive() and not receive.poll(0):
                proc.join(1)
                raise _died(proc.exitcode)
    finally:
        receive.close()
        proc.join(0.3)        # the result is in (or the work cancelled): no need to wait for teardown
        if proc.is_alive():
            proc.terminate()
            proc.join(2)
            if proc.is_alive():
                proc.kill()
                proc.join(2)
