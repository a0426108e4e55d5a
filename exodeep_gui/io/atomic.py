"""Atomic output: write to a temporary file in the target folder, then rename.

Nothing the user had is overwritten unless asked, and a failed write leaves no
half-written file behind. Outputs get the mode a plain ``open(path, "w")`` would give them
(0o666 less the user's umask), so colleagues on a shared drive can read them."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Optional


def _umask_from_proc() -> Optional[int]:
    """The umask without changing it (Linux ≥ 4.7: /proc/self/status), else None."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _umask_at_import() -> int:
    # elsewhere the only way to read the umask is to set it: done once, while this module is
    # imported (before any thread of ours writes a file), and to the common 0o022, not to 0
    old = os.umask(0o022)
    os.umask(old)
    return old


_UMASK_AT_IMPORT = _umask_from_proc()
if _UMASK_AT_IMPORT is None:
    _UMASK_AT_IMPORT = _umask_at_import()


def current_umask() -> int:
    """The process umask now (read from /proc where it can be, so a later ``os.umask`` counts)."""
    now = _umask_from_proc()
    return _UMASK_AT_IMPORT if now is None else now


def default_file_mode() -> int:
    """The mode ``open(path, "w")`` gives a new file: 0o666 less the umask."""
    return 0o666 & ~current_umask()


def follow_umask(path) -> None:
    """Give ``path`` (a file we created, e.g. through ``tempfile``, which makes it 0600) the mode
    of a file created normally."""
    os.chmod(path, default_file_mode())


class OutputError(OSError):
    """An output cannot be written; the message says where and why."""


class OutputExists(OutputError):
    """The output file is already there and overwriting was not asked for."""


def check_writable_folder(folder: Path) -> None:
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot create the output folder ({exc.strerror or exc})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{folder}: the output folder is read-only; choose another folder")


def refuse_existing(path) -> None:
    """:class:`OutputExists` if ``path`` exists (an output is never overwritten without asking)."""
    if Path(path).exists():
        raise OutputExists(f"{path}: already exists (not overwritten; remove it or ask to overwrite)")


@contextmanager
def atomic_path(path, overwrite: bool = False, suffix: str = ".part"):
    """Yield a temporary path next to ``path``; on success it replaces ``path``, with the mode
    the user's umask gives new files (the writer may also delete and re-create the temporary
    file: the mode is set after it is written)."""
    path = Path(path)
    if not overwrite:
        refuse_existing(path)
    check_writable_folder(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        if path.exists() and not overwrite:     # appeared meanwhile
            raise OutputExists(f"{path}: already exists (not overwritten)")
        follow_umask(tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_text_atomic(path, text: str, overwrite: bool = False) -> Path:
    with atomic_path(path, overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")
    return Path(path)
