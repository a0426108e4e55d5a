"""The window fits a laptop's screen: every control on screen at 1280 × 720 and 1366 × 768 under a
real window manager (the offscreen platform ignores minimum sizes, so that check runs under Xvfb +
openbox, skipped where they are missing; CI installs them), and the size hints that decide it."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from tests.gui.helpers import menu_action

HERE = Path(__file__).parent
TOOLS = ("Xvfb", "openbox")


def _free_display() -> int:
    for n in range(120, 400):
        if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists():
            return n
    raise RuntimeError("no free X display")


def run_under_window_manager(width: int, height: int, argv: list, env: dict, timeout: float = 180):
    """Run ``argv`` on a fresh Xvfb screen of ``width`` × ``height`` managed by openbox."""
    display = f":{_free_display()}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = dict(env, DISPLAY=display, QT_QPA_PLATFORM="xcb")
    wm = None
    try:
        deadline = time.time() + 10
        while not Path(f"/tmp/.X11-unix/X{display[1:]}").exists() and time.time() < deadline:
            time.sleep(0.1)
        wm = subprocess.Popen(["openbox"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    finally:
        for p in (wm, xvfb):
            if p is not None:
                p.terminate()
                p.wait(10)


@pytest.mark.slow
@pytest.mark.skipif(not all(shutil.which(t) for t in TOOLS),
                    reason="needs Xvfb and openbox (Debian packages xvfb, openbox)")
@pytest.mark.parametrize("size", [(1280, 720), (1366, 768)])
def test_every_control_is_on_a_laptop_screen_under_a_window_manager(sim_movie_file, tmp_path, size):
    from exodeep_gui.system_check import qt_platform_problem

    problem = qt_platform_problem()
    if problem:
        pytest.skip(problem)
    path, _ = sim_movie_file
    env = dict(os.environ, EXODEEP_DATA_DIR=str(tmp_path / "ud"), PYTHONPATH=str(HERE.parent.parent))
    run = run_under_window_manager(*size, [sys.executable, str(HERE / "x11_fit_probe.py"), str(path)], env)
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    assert lines, run.stdout + run.stderr
    report = json.loads(lines[-1])
    assert report["screen"][2:] == list(size)
    assert report["checked"] > 60                      # the window's, each panel's and the wizard's controls
    assert report["outside"] == [], report
    assert report["minimum"][0] <= size[0] and report["minimum"][1] <= size[1] - 60


def test_size_hints_fit_1280_by_720_with_a_movie_and_a_long_message(window, sim_movie_file, qtbot):
    """What decides whether the window fits: its minimum size with a movie open, every panel shown
    and a three-line detection message, and the wizard's."""
    path, _ = sim_movie_file
    window.open_paths([path])
    window.detection.status.setText("A long message about the model that ran and why. " * 6)
    for dock in (window.analysis_dock, window.kymo_dock, window.gallery_dock, window.events_dock):
        dock.raise_()
        hint = window.minimumSizeHint()
        assert hint.width() <= 1280 and hint.height() <= 720 - 60, (dock.windowTitle(), hint)
    menu_action(window, "Train", "Train or fine-tune a model…").trigger()
    wizard = window.wizard
    hint = wizard.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 720 - 60, hint
    assert wizard.height() <= 720
    wizard.hide()


def test_a_panel_with_room_for_all_of_it_does_not_scroll(window, sim_movie_file, qtbot):
    """On a tall screen the Events panel shows its table and the selected event's trace without a
    scroll bar (its word-wrapped summary once made it scroll with room to spare); on a short one it
    scrolls rather than squeezing its controls."""
    path, _ = sim_movie_file
    window.open_paths([path])
    window.events.summary.setText("A summary long enough to wrap over two lines in a narrow panel. " * 2)
    window.resize(1500, 1050)
    window.show()
    window.events_dock.raise_()
    scroll = window.events_dock.widget()
    qtbot.waitUntil(lambda: scroll.viewport().height() > 400, timeout=3000)
    qtbot.wait(50)
    assert window.events.height() == scroll.viewport().height() and not scroll.verticalScrollBar().isVisible()
    assert window.events.trace.height() >= window.events.trace.minimumHeight()
    window.resizeDocks([window.detection_dock, window.events_dock], [900, 120], Qt.Vertical)
    qtbot.waitUntil(lambda: scroll.viewport().height() < 200, timeout=3000)
    qtbot.wait(50)
    assert window.events.height() >= window.events.minimumSizeHint().height() > scroll.viewport().height()


def test_the_users_own_dock_sizes_survive_a_resize(window, sim_movie_file, qtbot):
    """The first-run dock sizes follow the window manager's maximise just after the window shows; after
    that a size the user set by dragging a separator stays when the window is resized."""
    path, _ = sim_movie_file
    window.open_paths([path])
    window.resize(1500, 950)
    window.show()
    qtbot.waitUntil(lambda: not window._auto_docks, timeout=5000)
    window.resizeDocks([window.detection_dock], [600], Qt.Horizontal)     # as a drag of the separator
    qtbot.wait(50)
    assert abs(window.detection_dock.width() - 600) <= 10
    window.resize(1560, 950)
    qtbot.wait(100)
    assert abs(window.detection_dock.width() - 600) <= 10, window.detection_dock.width()


def test_the_title_names_the_current_movie(window, sim_movie_file):
    path, _ = sim_movie_file
    assert "cells" not in window.windowTitle()
    window.open_paths([path])
    assert window.windowTitle().startswith("cells — ExoDeep")
    window.act["close"].trigger()
    assert window.windowTitle().startswith("ExoDeep")


def test_a_movie_double_clicked_in_the_finder_opens(window, sim_movie_file):
    """macOS delivers a double-clicked (or dropped-on-the-Dock) file as a QFileOpenEvent."""
    from PySide6.QtGui import QFileOpenEvent
    from PySide6.QtWidgets import QApplication

    path, _ = sim_movie_file
    QApplication.sendEvent(QApplication.instance(), QFileOpenEvent(str(path)))
    assert [d.name for d in window.state.docs] == ["cells"]
    assert window.state.current.movie.shape == (40, 64, 64)
