"""What the commands share: the user-error type, a quiet TensorFlow, the progress bar, the summary."""

from __future__ import annotations

import os
from pathlib import Path


class UserError(Exception):
    """An error whose message is for the user (no traceback)."""


def quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class ProgressBar:
    """A rich progress bar on stderr: label, bar, percent, frames/s (detection) and time left, or the
    name of a short stage (prepare, events, calibrate…). Drawn only on a terminal; :meth:`print` lines
    (validation scores) are written either way."""

    def __init__(self, label: str):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

        self.console = Console(stderr=True, highlight=False)
        self._bar = Progress(TextColumn("{task.description}", markup=False), BarColumn(), TaskProgressColumn(),
                             TextColumn("{task.fields[rate]}{task.fields[eta]}", markup=False),
                             console=self.console, disable=not self.console.is_terminal)
        self._task = self._bar.add_task(label, total=1.0, rate="", eta="")

    def __enter__(self) -> "ProgressBar":
        self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self._bar.stop()

    def __call__(self, p) -> None:
        eta = "" if p.eta_s is None else f" {int(p.eta_s) // 60}:{int(p.eta_s) % 60:02d} left"
        rate = f" {p.rate:.1f} frames/s" if p.stage == "detect" and p.rate else ""
        if p.stage not in ("detect", "train", "spots"):
            rate, eta = f" {p.stage}", ""
        self._bar.update(self._task, completed=p.fraction, rate=rate, eta=eta)

    def print(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)


class MovieBar:
    """A rich progress bar over the movies of a batch (done/total, failures, time left) on stderr,
    drawn only on a terminal; :meth:`print` writes a line above it either way."""

    def __init__(self, total: int, label: str = "movies"):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.console = Console(stderr=True, highlight=False)
        self._bar = Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                             TextColumn("{task.fields[failed]}", markup=False), TimeRemainingColumn(),
                             console=self.console, disable=not self.console.is_terminal)
        self._task = self._bar.add_task(label, total=total, failed="")
        self.failed = 0

    def __enter__(self) -> "MovieBar":
        self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self._bar.stop()

    def advance(self, failed: bool = False) -> None:
        self.failed += bool(failed)
        self._bar.update(self._task, advance=1, failed=f"{self.failed} failed" if self.failed else "")

    def print(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)


def print_batch_summary(results) -> None:
    """The summary table of a batch (batch.tasks.MovieResult rows), movies an earlier run finished
    counted as done."""
    if len(results) < 1:
        return
    print(f"{'movie':30s} {'frames':>7s} {'events':>7s} {'time s':>8s}  status")
    for r in results:
        status = {"ok": "ok", "skipped": "done earlier"}.get(r.status, f"FAILED: {r.reason}")
        name = r.name if r.status != "failed" else Path(r.movie).name
        print(f"{name[:30]:30s} {r.frames:7d} {r.events:7d} {r.seconds:8.1f}  {status}")
    done = [r for r in results if r.status in ("ok", "skipped")]
    earlier = sum(1 for r in results if r.status == "skipped")
    print(f"{len(done)} of {len(results)} movies done{f' ({earlier} by an earlier run)' if earlier else ''}, "
          f"{sum(r.events for r in done)} events")


def movie_notices(movie) -> list:
    """What the reader had to interpret in ``movie`` (``Movie.metadata["notices"]``: an axis-less stack
    read as time, other images in the file…), as ``note: NAME: …`` lines for stderr."""
    notes = (getattr(movie, "metadata", None) or {}).get("notices") or []
    name = movie.source.name if getattr(movie, "source", None) is not None else movie.name
    return [f"note: {name}: {n}" for n in notes]
