"""Behaviour that only a real X server shows (the offscreen platform delivers keys differently):
run under Xvfb with xdotool, skipped where they are missing (CI installs them)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.mark.skipif(not (shutil.which("xvfb-run") and shutil.which("xdotool")),
                    reason="needs Xvfb (xvfb-run) and xdotool (Debian packages xvfb, xauth, xdotool)")
def test_ctrl_e_exports_while_a_spin_box_has_focus(sim_movie_file, tmp_path):
    """Ctrl+E did nothing while a spin box had the focus: its text field took the shortcut."""
    from exodeep_gui.system_check import qt_platform_problem

    problem = qt_platform_problem()
    if problem:
        pytest.skip(problem)
    path, _ = sim_movie_file
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", EXODEEP_DATA_DIR=str(tmp_path / "ud"),
               PYTHONPATH=str(HERE.parent.parent))
    env.pop("DISPLAY", None)
    run = subprocess.run(["xvfb-run", "-a", sys.executable, str(HERE / "x11_shortcut_probe.py"), str(path)],
                         env=env, capture_output=True, text=True, timeout=120)
    assert "FOCUS QDoubleSpinBox" in run.stdout, run.stdout + run.stderr
    assert "HITS ['export']" in run.stdout, run.stdout + run.stderr
