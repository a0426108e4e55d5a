"""Faults the window survives: its engine process killed (SIGKILL) in the middle of a detection,
and the model's weights deleted between two runs. Each gives one clear message in a dialog, the
buttons come back, nothing the user had is changed, and the next run works."""

import os
import shutil
import signal

import pytest
from PySide6.QtWidgets import QMessageBox

pytestmark = pytest.mark.faults


@pytest.fixture
def long_movie_file(tmp_path):
    """A movie long enough (300 frames) that a detection is still running when it is killed."""
    from exodeep_gui.core.simulate import SimulationParams, simulate_movie
    from exodeep_gui.io.simulated import write_simulated

    sim = simulate_movie(SimulationParams(frames=300, height=96, width=96, events=6, docked=8, visiting=2), seed=7)
    return write_simulated(tmp_path / "movies", "long", sim)


def _dialogs(window):
    return [b for b in window.findChildren(QMessageBox) if b.isVisible()]


def _close_dialogs(window):
    for box in _dialogs(window):
        box.close()


def test_the_engine_killed_mid_run_gives_a_dialog_and_the_next_run_works(window, qtbot, long_movie_file,
                                                                        tiny_model_dir):
    window.open_paths([long_movie_file])
    window.state.set_model(str(tiny_model_dir))
    doc = window.state.current
    rows_before = doc.rows
    killed = []

    def kill_when_detecting(job, p):
        if p.stage == "detect" and p.done < p.total and not killed:
            pid = window.runner.engine.pid
            assert pid is not None and pid != os.getpid()
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    window.runner.progress.connect(kill_when_detecting)
    with qtbot.waitSignal(window.detection.error, timeout=180_000) as sig:
        window.detection.run_button.click()
    window.runner.progress.disconnect(kill_when_detecting)
    assert killed, "the detection ended before it could be killed"
    message = sig.args[0]
    assert "engine process stopped unexpectedly" in message and "\n" not in message.strip()
    qtbot.waitUntil(lambda: window.detection.run_button.isEnabled(), timeout=10_000)
    assert not window.detection.cancel_button.isEnabled() and window.detection.model_box.isEnabled()
    assert "failed" in window.detection.status.text().lower()
    boxes = _dialogs(window)
    assert boxes and "engine process stopped unexpectedly" in boxes[-1].text()
    assert doc.rows is rows_before and doc.detection is None        # nothing half-applied
    _close_dialogs(window)

    # the next run starts a fresh engine and works
    with qtbot.waitSignal(window.detection.finished, timeout=180_000):
        window.detection.run_button.click()
    qtbot.waitUntil(lambda: window.detection.run_button.isEnabled(), timeout=10_000)
    assert doc.detection is not None and doc.detection.segmentation.score.shape == (300, 96, 96)
    assert window.runner.engine.pid not in (None, killed[0]) and "Done" in window.detection.status.text()


def test_a_model_deleted_between_runs_gives_one_line_naming_it(window, qtbot, sim_movie_file, tiny_model_dir,
                                                               tmp_path):
    path, _ = sim_movie_file
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    window.open_paths([path])
    window.state.set_model(str(model))
    with qtbot.waitSignal(window.detection.finished, timeout=180_000):
        window.detection.run_button.click()
    doc = window.state.current
    first = doc.detection
    assert first is not None

    weights = model / "weights_best.weights.h5"
    saved = weights.read_bytes()
    weights.unlink()                                     # deleted between the runs
    with qtbot.waitSignal(window.detection.error, timeout=120_000) as sig:
        window.detection.run_button.click()
    message = sig.args[0]
    assert "\n" not in message.strip() and str(weights) in message and "missing" in message, message
    qtbot.waitUntil(lambda: window.detection.run_button.isEnabled(), timeout=10_000)
    assert _dialogs(window) and str(weights) in _dialogs(window)[-1].text()
    assert doc.detection is first                        # the earlier result is kept
    _close_dialogs(window)

    weights.write_bytes(saved)                           # put back: the window goes on
    with qtbot.waitSignal(window.detection.finished, timeout=180_000):
        window.detection.run_button.click()
    assert "Done" in window.detection.status.text()
