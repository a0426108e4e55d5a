"""Temporary memory maps (large movies and output maps live on disk) and the free memory."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import psutil


def remove_when_unused(path: str) -> None:
    """Delete a temporary file that backs a memory map: at once where the OS allows it (the
    mapping keeps the data), else when the program exits."""
    try:
        os.unlink(path)
    except OSError:
        import atexit

        atexit.register(lambda: os.path.exists(path) and os.unlink(path))


def temporary_memmap(shape, dtype, prefix: str = "exodeep-") -> np.memmap:
    tmp = tempfile.NamedTemporaryFile(prefix=prefix, suffix=".raw", delete=False)
    tmp.close()
    arr = np.memmap(tmp.name, dtype=dtype, mode="w+", shape=tuple(shape))
    remove_when_unused(tmp.name)
    return arr


def free_memory_bytes() -> int:
    """Memory available to new allocations without swapping (psutil: MemAvailable on Linux)."""
    return int(psutil.virtual_memory().available)
