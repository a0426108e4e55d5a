"""Shared by the GUI benchmarks: the gaps between the ticks of a 10 ms timer on the GUI thread
(how long the event loop was blocked) while some work runs."""

import time


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
