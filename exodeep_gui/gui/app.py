"""Composition root: ``exodeep-gui [MOVIE…] [--demo]`` / ``python -m exodeep_gui gui``.

Sets up logging (a file in the user log folder), pyqtgraph (row-major images), an exception
hook that shows errors in a dialog instead of dying, the settings, and the main window."""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import sys
import traceback
from pathlib import Path
from typing import List, Optional

from exodeep_gui import __version__
from exodeep_gui.paths import user_log_dir

log = logging.getLogger("exodeep")


def setup_logging() -> Path:
    folder = user_log_dir()
    path = folder / "exodeep.log"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        logging.getLogger().setLevel(logging.INFO)
    except OSError:
        pass
    return path


def set_app_icon(app) -> bool:
    """The app's icon on every window (title bar, task bar, Dock), from resources/icons."""
    from PySide6.QtGui import QIcon

    from exodeep_gui.paths import resources_dir

    folder = resources_dir() / "icons"
    icon = QIcon()
    for size in (16, 32, 48, 64, 128, 256, 512):
        png = folder / f"exodeep-{size}.png"
        if png.is_file():
            icon.addFile(str(png))
    if icon.isNull():
        return False
    app.setWindowIcon(icon)
    return True


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="exodeep-gui", description="ExoDeep: find exocytosis events in TIRF movies.")
    ap.add_argument("movies", nargs="*", help="movies to open")
    ap.add_argument("--demo", action="store_true", help="open the demo movie (simulated, with its ground truth)")
    ap.add_argument("--version", action="version", version=f"ExoDeep {__version__}")
    ap.add_argument("--startup-probe", action="store_true", help=argparse.SUPPRESS)  # quit once shown
    return ap


def make_window(movies: List[str], demo: bool = False):
    """Create the main window (QApplication must exist) and open ``movies``."""
    import pyqtgraph as pg

    from exodeep_gui.gui.main_window import MainWindow
    from exodeep_gui.gui.settings import Settings

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    window = MainWindow(Settings.load())
    if demo:
        window.open_demo()
    if movies:
        window.open_paths(movies)
    return window


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    log_path = setup_logging()
    from exodeep_gui.system_check import qt_platform_problem, tell_user

    problem = qt_platform_problem()
    if problem:                       # Qt would abort with a misleading "xcb-cursor0 is needed" message
        log.error(problem)
        tell_user(problem)
        return 1
    from PySide6.QtWidgets import QApplication

    from exodeep_gui.gui.dialogs import show_error

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("ExoDeep")
    app.setDesktopFileName("exodeep")        # install.sh's exodeep.desktop: the dock shows its name and icon
    set_app_icon(app)
    # Python's garbage collector runs in whichever thread allocates; when that is a worker thread
    # it may delete Qt objects there, and Qt crashes (seen: a segfault while a worker drew the
    # analysis figures). pyqtgraph's collector disables it and collects on a timer in this thread.
    from pyqtgraph.util.garbage_collector import GarbageCollector

    collector = GarbageCollector(interval=1.0)
    window = make_window(args.movies, args.demo)

    def excepthook(kind, value, tb):
        details = "".join(traceback.format_exception(kind, value, tb))
        show_error(window, f"Something went wrong: {value}\n(The details are also in {log_path}.)", details)

    sys.excepthook = excepthook
    window.show()
    log.info("ExoDeep %s started", __version__)
    if args.startup_probe:               # benchmarks: time from launch to a drawn window
        from PySide6.QtCore import QTimer

        def shown():
            print("WINDOW_SHOWN", flush=True)
            window.close()

        QTimer.singleShot(0, shown)
    code = app.exec()
    collector.timer.stop()
    window.settings.save()
    # delete the window while Qt is alive (else PySide6 may crash while collecting at exit)
    window.deleteLater()
    app.processEvents()
    return code


if __name__ == "__main__":
    sys.exit(main())
