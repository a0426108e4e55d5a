"""Handing a file to the desktop (the report in the browser, a folder in the file manager).

In the frozen app on Linux, PyInstaller's bootloader puts the bundle's library folder in LD_LIBRARY_PATH;
xdg-open and the browser it starts would load the bundle's libraries (and crash or refuse). The desktop
program is therefore started with the system's environment (``system_check.system_environment``)."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Union

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

from ...system_check import system_environment


@contextmanager
def system_process_environment() -> Iterator[None]:
    """While inside, this process's environment is the one a system program must get; then it is put back."""
    wanted = system_environment()
    saved = dict(os.environ)
    if wanted == saved:               # not the frozen app (or nothing of the bundle's): nothing to swap
        yield
        return
    try:
        for key in set(saved) | set(wanted):
            if key not in wanted:
                os.environ.pop(key, None)
            elif saved.get(key) != wanted[key]:
                os.environ[key] = wanted[key]
        yield
    finally:
        for key in set(os.environ) - set(saved):
            del os.environ[key]
        os.environ.update(saved)


def open_with_system(path: Union[str, Path]) -> bool:
    """Open ``path`` (a file or folder) with the desktop's program for it; False when none could start."""
    with system_process_environment():
        return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))))
