"""Handing a file to the desktop (the report in the browser, a folder in the file manager).

In the frozen app on Linux, PyInstaller's bootloader puts the bundle's library folder in LD_LIBRARY_PATH;
xdg-open and the browser it starts would load the bundle's libraries (and crash or refuse). The desktop
program is then started with the system's environment (``system_check.system_environment``), given to
that one process: this process's environment is never changed (worker threads may be starting children)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Union

from PySide6.QtCore import QProcess, QProcessEnvironment, QUrl
from PySide6.QtGui import QDesktopServices

from ...system_check import system_environment


def start_detached(program: str, args: List[str], env: Dict[str, str]) -> bool:
    """Start ``program`` on its own with exactly ``env``; False when it could not start."""
    process = QProcess()
    process.setProgram(program)
    process.setArguments(args)
    environment = QProcessEnvironment()
    for key, value in env.items():
        environment.insert(key, value)
    process.setProcessEnvironment(environment)
    return bool(process.startDetached())


def open_with_system(path: Union[str, Path]) -> bool:
    """Open ``path`` (a file or folder) with the desktop's program for it; False when none could start."""
    env = system_environment()
    if env == dict(os.environ):               # not the frozen app's libraries: Qt's own way
        return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))))
    return start_detached("xdg-open", [str(path)], env)


def open_report(path: Union[str, Path], status) -> bool:
    """Open a report in the user's browser; when none could start, ``status`` (a QLabel) says where the
    report is instead."""
    opened = open_with_system(path)
    if not opened:
        import html

        status.setText(f"No browser could be started; the report is {html.escape(str(path))}")
    return opened
