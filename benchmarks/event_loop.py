"""Shared by the GUI benchmarks (and tools/): the gaps between the ticks of a 10 ms timer on the
GUI thread (how long the event loop was blocked) while some work runs, and running the event loop
until some work is done."""

import time
from typing import Callable, Optional


def wait_until(app, condition: Callable[[], object], timeout_s: Optional[float] = None) -> bool:
    """Run ``app``'s event loop until ``condition()`` is true or ``timeout_s`` seconds have passed
    (None: as long as it takes); returns whether it came true."""
    t_end = None if timeout_s is None else time.perf_counter() + timeout_s
    while not condition():
        if t_end is not None and time.perf_counter() >= t_end:
            return False
        app.processEvents()
        time.sleep(0.001)
    return True


class GapMeter:
    """``start()``, run the event loop, ``stop()`` → sorted gaps in seconds."""

    def __init__(self, interval_ms: int = 10):
        from PySide6.QtCore import QTimer

        self.gaps, self._last = [], None
        self.timer = QTimer()
        self.timer.timeout.connect(self._tick)
        self.interval_ms = interval_ms

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.gaps.append(now - self._last)
        self._last = now

    def start(self) -> None:
        self._last = time.perf_counter()
        self.timer.start(self.interval_ms)

    def stop(self) -> list:
        self.timer.stop()
        self._tick()                      # the gap up to the end counts too
        return sorted(self.gaps)
