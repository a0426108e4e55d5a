"""What the libraries that read files say (tifffile, h5py, nd2, Keras): their log records and
warnings are collected while a file is read and never printed; their exceptions, when raised
inside them, are about the file (one line), not bugs of ours."""

from __future__ import annotations

import logging
import threading
import warnings
from contextlib import contextmanager
from typing import Iterator, List, Optional


# The readers (tifffile, h5py, nd2, Keras) report what they find odd as log records and Python
# warnings. They are collected while a file is read (and the one-line error says what matters),
# never printed: outside a capture they go to this logger at DEBUG level (the window's log file).
LIBRARY_LOGGERS = ("tifffile", "h5py", "nd2", "keras", "absl", "roifile")
_library_log = logging.getLogger("exodeep_gui.library")
_capture = threading.local()
_installed = threading.Lock()
_handler: Optional[logging.Handler] = None


class _Collector(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        stack = getattr(_capture, "stack", None)
        try:
            text = record.getMessage()
        except Exception:                      # a malformed record must not break reading
            text = str(record.msg)
        if stack:
            stack[-1].append(text)
        else:
            _library_log.debug("%s: %s", record.name, text)


def quiet_library_loggers() -> None:
    """From now on the readers' log records are collected during :func:`library_messages` and
    logged at DEBUG level otherwise, never printed by Python's last-resort handler."""
    _install_collector()


def _install_collector() -> None:
    global _handler
    with _installed:
        if _handler is not None:
            return
        _handler = _Collector(logging.DEBUG)
        for name in LIBRARY_LOGGERS:
            lg = logging.getLogger(name)
            lg.addHandler(_handler)
            lg.propagate = False


@contextmanager
def library_messages() -> Iterator[List[str]]:
    """Collect the readers' log records and warnings (as one-line texts) instead of printing them::

        with library_messages() as messages:
            ...read a file...
        # messages: what tifffile & co. said
    """
    _install_collector()
    stack = getattr(_capture, "stack", None)
    if stack is None:
        stack = _capture.stack = []
    messages: List[str] = []
    stack.append(messages)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = lambda message, category, *args, **kw: messages.append(
                f"{category.__name__}: {message}")
            yield messages
    finally:
        stack.remove(messages)
        for text in messages:
            _library_log.debug("%s", text)


def one_line(text: str, limit: int = 300) -> str:
    """``text`` as one line of at most ``limit`` characters (library messages may span lines)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"



READERS = ("tifffile", "h5py", "nd2", "imagecodecs", "dask", "zarr", "ome_types")


def raised_in(exc: BaseException, module: str) -> bool:
    """``exc`` was raised inside ``module`` (a library reading a damaged file), not by our code."""
    tb = exc.__traceback__
    while tb is not None:
        if f"/{module}/" in "/" + tb.tb_frame.f_code.co_filename.replace("\\", "/"):
            return True
        tb = tb.tb_next
    return False



def short_error(exc: Exception) -> str:
    """An exception as a short text for the end of a one-line message."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if len(text) < 16 or text.isdigit():           # KeyError(258), AssertionError(): say what it was
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return one_line(text, 200)


# the libraries that read movie files: their exceptions are about the file
