"""Long work off the GUI thread: a worker runs a progress generator in a QThread.

The worker gets everything as arguments (a frozen options object, a movie), never reads
widgets, checks a CancelToken between steps, reports progress/result/error by signals and
always emits ``done`` (so buttons are never left disabled). This module is the only bridge
from the GUI to ``exodeep_gui.ml`` compute.
"""

from __future__ import annotations

import logging
import traceback
from typing import Callable, Optional

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal

from exodeep_gui.core.progress import Cancelled, CancelToken, run_to_end

log = logging.getLogger(__name__)

# How long a job's engine is given to stop by itself after Cancel, by kind of job (then it is
# stopped): detection writes nothing the user keeps; training must finish writing its checkpoint.
GRACE_S = {"detect": 1.0, "train": 120.0, "analyze": 5.0, "compare": 1.0, "trial": 1.0}


class GeneratorWorker(QObject):
    progress = Signal(object)        # a core.progress.Progress
    result = Signal(object)
    failed = Signal(str, str)        # message, details
    cancelled = Signal()
    done = Signal()
    ended = Signal(object)           # this worker's key (a plain int: no Qt object crosses threads), after done

    def __init__(self, make_generator: Callable, *args, _kind: str = "job", _title: str = "",
                 _grace_s: Optional[float] = None, **kwargs):
        """``make_generator(*args, cancel=token, **kwargs)`` is the work; ``_kind`` (detect, train,
        analyze, …), ``_title`` (the status area's words) and ``_grace_s`` (how long it may take
        to stop after Cancel; default by kind, :data:`GRACE_S`) describe the job."""
        super().__init__()
        self._make = make_generator
        self._args, self._kwargs = args, kwargs
        self.kind, self.title = _kind, _title
        self.background = False                    # lowest priority: what the user starts cancels it
        self.grace_s = GRACE_S.get(_kind, 3.0) if _grace_s is None else float(_grace_s)
        self.started_at: Optional[float] = None
        self.thread: Optional[QThread] = None
        self.token = CancelToken()
        self.key = id(self)
        self.exception: Optional[BaseException] = None     # what failed, for callers that offer a way out

    def cancel(self) -> None:
        self.token.cancel()

    def run(self) -> None:
        try:
            self.result.emit(run_to_end(self._make(*self._args, cancel=self.token, **self._kwargs), self.progress.emit))
        except Cancelled:
            self.cancelled.emit()
        except MemoryError as exc:
            self.exception = exc
            self.failed.emit("Not enough memory for this movie. Close other movies or programs, or "
                             "crop the movie, and try again.", traceback.format_exc())
        except Exception as exc:           # reported to the user, never fatal
            self.exception = exc
            log.exception("worker failed")
            self.failed.emit(str(exc) or type(exc).__name__, traceback.format_exc())
        finally:
            # back to the GUI thread before anyone hears of the end: Python owns this object and
            # lets go of it there (deleting it in the worker thread, as deleteLater did, crashed
            # shiboken now and then while Python still held it)
            app = QCoreApplication.instance()
            if app is not None:
                self.moveToThread(app.thread())
            self.done.emit()
            self.ended.emit(self.key)


_THREADS: list = []


def running_threads() -> list:
    """Worker threads still running (tests fail when one is left behind)."""
    _THREADS[:] = [t for t in _THREADS if _alive(t)]
    return list(_THREADS)


def _alive(thread: QThread) -> bool:
    try:
        return thread.isRunning()
    except RuntimeError:             # the C++ object is gone
        return False


def start(worker: GeneratorWorker, parent: Optional[QObject] = None) -> QThread:
    """Run ``worker`` in a new QThread that quits and is cleaned up when the work is done."""
    thread = QThread(parent)
    _THREADS.append(thread)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    # quit from the worker's own thread at once: a queued quit would wait for the GUI thread, which
    # may itself be waiting for this thread to finish (that deadlocked for wait()'s 5 s timeout)
    worker.done.connect(thread.quit, Qt.DirectConnection)
    thread.start()
    return thread


def detect_generator(model_name: str, movies, options, engine=None, fallback: bool = False,
                     cancel: CancelToken = None):
    """Detect in ``movies`` ([(key, Movie)]) with the model ``model_name``; yields progress,
    returns [(key, Detection)]. The network runs in a child process (``engine``: the job
    runner's warm one): importing TensorFlow holds Python's lock for a second or more, which
    would freeze this window (measured 0.5–1 s). With ``fallback`` the bundled model runs when the
    published one can be neither found nor downloaded (each Detection's ``note`` says so)."""
    from exodeep_gui.ml.detect import detect_in_subprocess

    return (yield from detect_in_subprocess(model_name, movies, options, cancel=cancel, engine=engine,
                                            keep_labels=False, grace_s=GRACE_S["detect"], fallback=fallback))


def download_generator(name: str, cancel: CancelToken = None):
    """Download the registry model ``name`` once (checked against its sha256); returns its path.
    No framework is imported: it runs in a worker thread of the window."""
    from exodeep_gui.core.progress import Progress
    from exodeep_gui.ml.models import REGISTRY, fetch

    yield Progress("download", 0, 1, f"downloading {name}")
    return str(fetch(REGISTRY[name]))


def in_child(target, *args, grace_s: float = GRACE_S["trial"], cancel: CancelToken = None):
    """Run ``target`` (a module-level progress generator function) in a child process of its own
    (training, its trial and the before/after comparison: the framework never loads here)."""
    from exodeep_gui.process.engine import run_in_subprocess

    return (yield from run_in_subprocess(target, *args, cancel=cancel, grace_s=grace_s))


def train_generator(request, cancel: CancelToken = None):
    """Train or resume as ``request`` (ml.training.job.TrainRequest) says, in a child process; on
    Cancel the child gets two minutes to write its checkpoint before it is stopped."""
    from exodeep_gui.ml.training import job as training_job

    return (yield from in_child(training_job.run_training, request, grace_s=GRACE_S["train"],
                                cancel=cancel))
