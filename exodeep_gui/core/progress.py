"""Progress reports and cooperative cancellation for long work.

Long functions (detection, training, batch runs) are generators that yield
:class:`Progress` objects and check a :class:`CancelToken` between steps.
The GUI runs them in a worker thread; scripts call :func:`run_to_end`.
Stdlib only.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Generator, Optional, TypeVar

T = TypeVar("T")


class Cancelled(Exception):
    """Raised inside long work when its cancel token was set."""


class CancelToken:
    """A thread-safe flag that a caller sets and long work polls.

    ``event`` may be any object with ``set``/``is_set`` (a ``multiprocessing`` event lets a
    parent process cancel work running in a child, see :mod:`exodeep_gui.process.engine`)."""

    def __init__(self, event=None) -> None:
        self._event = threading.Event() if event is None else event

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled by the user")


@dataclass(frozen=True)
class Progress:
    """One progress report: ``done`` of ``total`` units of ``stage``."""

    stage: str
    done: float
    total: float
    message: str = ""
    elapsed_s: float = 0.0

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else min(1.0, self.done / self.total)

    @property
    def rate(self) -> float:
        """Units per second so far (0 when unknown)."""
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> Optional[float]:
        """Seconds left at the current rate, or None when unknown."""
        if self.done <= 0 or self.elapsed_s <= 0:
            return None
        return max(0.0, (self.total - self.done) / self.rate)


class ProgressClock:
    """Builds :class:`Progress` reports that carry the elapsed time."""

    def __init__(self, stage: str, total: float) -> None:
        self.stage = stage
        self.total = total
        self._t0 = time.perf_counter()

    def report(self, done: float, message: str = "") -> Progress:
        return Progress(self.stage, done, self.total, message, time.perf_counter() - self._t0)


def run_to_end(
    gen: Generator[Progress, None, T],
    callback: Optional[Callable[[Progress], None]] = None,
) -> T:
    """Drive a progress generator to its end, handing each report to ``callback``, and return its
    result: the one loop that drives long work (scripts, the window's worker threads, the engine
    process)."""
    while True:
        try:
            report = next(gen)
        except StopIteration as stop:
            return stop.value
        if callback is not None:
            callback(report)


def prefixed(gen: Generator[Progress, None, T], prefix: str) -> Generator[Progress, None, T]:
    """``gen``'s reports with ``prefix`` before each message (e.g. which movie of several);
    returns ``gen``'s result: ``result = yield from prefixed(work(), "cell 2/5: ")``."""
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            return stop.value
        yield Progress(p.stage, p.done, p.total, prefix + p.message, p.elapsed_s)


def clock_text(seconds: Optional[float]) -> str:
    """``75`` → ``"1:15"``, ``3725`` → ``"1:02:05"``; ``""`` when unknown."""
    if seconds is None:
        return ""
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
