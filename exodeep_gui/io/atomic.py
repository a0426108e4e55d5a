"""Atomic output: write to a temporary file in the target folder, then rename.

Nothing the user had is overwritten unless asked, and a failed write leaves no
half-written file behind."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


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


@contextmanager
def atomic_path(path, overwrite: bool = False, suffix: str = ".part"):
    """Yield a temporary path next to ``path``; on success it replaces ``path``."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExists(f"{path}: already exists (not overwritten; remove it or ask to overwrite)")
    check_writable_folder(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        if path.exists() and not overwrite:     # appeared meanwhile
            raise OutputExists(f"{path}: already exists (not overwritten)")
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
