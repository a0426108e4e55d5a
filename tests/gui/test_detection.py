"""Detection from the window, offscreen, with a tiny model in the warm engine process: progress in
the status area, cancel, the engine kept warm between runs and restarted for another model, every
movie, a missing model, and offline the bundled model offered instead of a download error."""

import shutil
import time

import pytest
from PySide6.QtWidgets import QMessageBox, QPushButton

from tests.gui.helpers import menu_action


def test_detection_runs_in_the_warm_engine_and_can_be_cancelled(window, qtbot, sim_movie_file, tiny_model_dir):
    path, _ = sim_movie_file
    window.open_paths([path])
    window.state.set_model(str(tiny_model_dir))
    seen = []
    window.runner.progress.connect(lambda job, p: seen.append((time.monotonic(), p.stage)))
    t0 = time.monotonic()
    with qtbot.waitSignal(window.detection.finished, timeout=120_000):
        menu_action(window, "Detect", "Detect events in this movie").trigger()
        assert window.job_status.isVisible() and window.detection.cancel_button.isEnabled()
    first_start = next(t for t, stage in seen if stage == "detect") - t0
    doc = window.state.current
    assert doc.detection.segmentation.score.shape == (40, 64, 64)
    assert doc.detection.segmentation.labels is None        # the window keeps the scores only
    assert "Done" in window.detection.status.text() and window.detection.run_button.isEnabled()
    assert "CPU" in window.detection.device_label.text() or "GPU" in window.detection.device_label.text()
    assert not window.job_status.isVisible()
    pid = window.runner.engine.pid
    assert pid is not None                                       # still alive, model loaded

    # the second run reuses the engine: no new process, no new import, no new model load
    seen.clear()
    t0 = time.monotonic()
    with qtbot.waitSignal(window.detection.finished, timeout=120_000):
        window.detection.run_button.click()
    second_start = next(t for t, stage in seen if stage == "detect") - t0
    assert window.runner.engine.pid == pid and window.runner.engine.starts == 1
    assert second_start < first_start

    # cancel: the run stops, the buttons come back, the review is unchanged
    rows = doc.rows
    with qtbot.waitSignal(window.detection.finished, timeout=60_000):
        window.detection.run_button.click()
        window.detection.cancel_button.click()
    assert window.detection.run_button.isEnabled() and not window.detection.cancel_button.isEnabled()
    assert doc.rows is rows and "Cancelled" in window.detection.status.text()

    # another model: a fresh engine process
    other = tiny_model_dir.parent / "tiny-copy"
    if not other.exists():
        shutil.copytree(tiny_model_dir, other)
    window.state.set_model(str(other))
    with qtbot.waitSignal(window.detection.finished, timeout=120_000):
        window.detection.run_button.click()
    assert window.runner.engine.pid != pid and window.runner.engine.starts >= 2


def test_detect_in_all_movies_keeps_results_per_movie(window, qtbot, sim_movie_file, tiny_model_dir, tmp_path):
    from PySide6.QtGui import QKeySequence

    from exodeep_gui.core.simulate import SimulationParams, simulate_movie
    from exodeep_gui.io.simulated import write_simulated

    path, _ = sim_movie_file
    other = write_simulated(tmp_path, "other", simulate_movie(
        SimulationParams(frames=32, height=48, width=56, events=2, docked=3, visiting=1), seed=4))
    window.open_paths([path, other])
    window.state.set_model(str(tiny_model_dir))
    item = menu_action(window, "Detect", "Detect events in all movies")
    assert item.shortcut() == QKeySequence("Ctrl+Shift+D")
    with qtbot.waitSignal(window.detection.finished, timeout=120_000):
        item.trigger()
    assert [d.detection.segmentation.score.shape for d in window.state.docs] == [(40, 64, 64), (32, 48, 56)]


def test_missing_model_reports_an_error(window, qtbot, sim_movie_file, tmp_path):
    path, _ = sim_movie_file
    window.open_paths([path])
    window.state.set_model(str(tmp_path / "no-such-model"))
    with qtbot.waitSignal(window.detection.error, timeout=60_000) as sig:
        window.detection.run_button.click()
    assert "no such model" in sig.args[0]
    qtbot.waitUntil(lambda: window.detection.run_button.isEnabled(), timeout=10_000)


def test_offline_the_first_detect_detects_with_the_bundled_model(window, qtbot, sim_movie_file, monkeypatch,
                                                                  tmp_path):
    """No network and no model installed (an empty user folder): the first Detect detects, with
    the bundled model, and says which model ran and why, naming no command-line flag and no
    folder; one click tries to get the published model (and says why it cannot, offline)."""
    from exodeep_gui.paths import bundled_models

    if not bundled_models():
        pytest.skip("no bundled model in resources/models")
    user = tmp_path / "empty-user-folder"
    monkeypatch.setenv("EXODEEP_MODEL_PATH", "")            # the published weights are nowhere here
    monkeypatch.setenv("EXODEEP_OFFLINE", "1")               # and cannot be downloaded (no network in tests)
    monkeypatch.setenv("EXODEEP_DATA_DIR", str(user))
    path, _ = sim_movie_file
    window.open_paths([path])
    window.state.set_model("exodeepfinder")
    window.detection._update_published_button()
    assert window.detection.get_published.isVisibleTo(window.detection)
    with qtbot.waitSignal(window.detection.finished, timeout=120_000):
        window.detection.run_button.click()
    doc = window.state.current
    assert doc.detection is not None and doc.detection.model_name == "exodeep-sim-small"
    text = window.detection.status.text()
    assert "Done" in text and "exodeep-sim-small" in text and "not on this computer" in text, text
    assert "--" not in text and str(user) not in text and ".local" not in text
    assert not [b for b in window.findChildren(QMessageBox) if b.isVisible()]      # no dialog to answer
    assert window.state.model == "exodeep-sim-small"                 # the list shows what ran, by name
    assert "bundled" in window.detection.model_box.currentText()
    # one click for the published model: offline it says why, in words
    window.detection.get_published.click()
    assert window.detection.download_job is not None
    qtbot.waitUntil(lambda: window.detection.download_job is None, timeout=30_000)
    text = window.detection.status.text()
    assert "could not be downloaded" in text and "--" not in text and str(user) not in text, text
    assert window.state.model == "exodeep-sim-small"


def test_the_precision_setting_reaches_the_engine_and_is_kept(window, qtbot, sim_movie_file, tiny_model_dir):
    path, _ = sim_movie_file
    window.open_paths([path])
    window.state.set_model(str(tiny_model_dir))
    window.detection.precision_box.setCurrentIndex(window.detection.precision_box.findData("float32"))
    with qtbot.waitSignal(window.detection.finished, timeout=120_000):
        window.detection.run_button.click()
    assert window.state.current.detection.options.precision == "float32"        # what ran
    # four views of the movie: the run says so, and each event has a confidence
    window.detection.views_box.setCurrentIndex(window.detection.views_box.findData(4))
    with qtbot.waitSignal(window.detection.finished, timeout=120_000):
        window.detection.run_button.click()
    det = window.state.current.detection
    assert det.options.tta == 4 and "confidence" in det.candidates.extra and "candidate" in det.candidates.extra
    window.close()
    assert window.settings.precision == "float32" and window.settings.views == 4


def test_a_models_recommended_filter_applies_when_the_user_picks_it_not_at_start(qtbot, tiny_model_dir, tmp_path,
                                                                                  monkeypatch):
    """The filter saved in the settings is the one the window starts with, even when the saved
    model's folder recommends another; picking a model folder that recommends one sets it; a folder
    without a recommendation leaves the filter alone."""
    import json

    from PySide6.QtWidgets import QFileDialog

    from exodeep_gui.core.review import EventFilter
    from exodeep_gui.gui.main_window import MainWindow
    from exodeep_gui.gui.settings import Settings

    recommending = tmp_path / "recommending"
    shutil.copytree(tiny_model_dir, recommending)
    cfg = json.loads((recommending / "config.json").read_text())
    cfg["recommended"] = {"threshold": 0.3, "min_size": 5}
    (recommending / "config.json").write_text(json.dumps(cfg))
    plain = tmp_path / "plain"
    shutil.copytree(tiny_model_dir, plain)

    w = MainWindow(Settings(model=str(recommending), threshold=0.8, min_size=20))
    qtbot.addWidget(w)
    panel = w.detection
    assert w.state.filter == EventFilter(0.8, 20)
    assert (panel.threshold.value(), panel.min_size.value()) == (0.8, 20)
    assert panel.model_box.currentData() == str(recommending.resolve())
    for folder, expected in ((plain, EventFilter(0.8, 20)), (recommending, EventFilter(0.3, 5))):
        monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, f=folder, **k: str(f))
        panel.findChild(QPushButton, "choose-model-folder").click()
        assert w.state.model == str(folder.resolve())
        assert w.state.filter == expected
    assert (panel.threshold.value(), panel.min_size.value()) == (0.3, 5)
    # the published model, picked in the list, brings the paper's filter (not the last model's size)
    panel.model_box.setCurrentIndex(panel.model_box.findData("exodeepfinder"))
    assert w.state.model == "exodeepfinder" and w.state.filter == EventFilter(0.5, 0)
    assert (panel.threshold.value(), panel.min_size.value()) == (0.5, 0)
    w.close()


def test_a_moved_or_upgraded_app_keeps_the_bundled_model_in_use(qtbot, sim_movie_file, tmp_path, monkeypatch):
    """Settings written by an app that has since been moved (or replaced by a new version in
    another folder) named its bundled model by a path that no longer exists: the window still
    detects with it, and saves it by name from then on."""
    from exodeep_gui.gui.main_window import MainWindow
    from exodeep_gui.gui.settings import Settings
    from exodeep_gui.paths import bundled_models

    if not bundled_models():
        pytest.skip("no bundled model in resources/models")
    monkeypatch.setenv("EXODEEP_DATA_DIR", str(tmp_path / "user"))
    old = tmp_path / "Apps" / "ExoDeep-0.0.9" / "_internal" / "resources" / "models" / "exodeep-sim-small"
    Settings(model=str(old)).save()
    w = MainWindow(Settings.load())
    qtbot.addWidget(w)
    assert w.state.model == "exodeep-sim-small"
    assert "bundled" in w.detection.model_box.currentText()
    path, _ = sim_movie_file
    w.open_paths([path])
    with qtbot.waitSignal(w.detection.finished, timeout=120_000):
        w.detection.run_button.click()
    assert w.state.current.detection is not None, w.detection.status.text()
    assert w.state.current.detection.model_name == "exodeep-sim-small"
    w.close()
    assert Settings.load().model == "exodeep-sim-small"


def test_the_command_line_finds_a_bundled_model_by_an_old_app_path(tmp_path):
    from exodeep_gui.ml.models import resolve_model
    from exodeep_gui.paths import bundled_models

    if not bundled_models():
        pytest.skip("no bundled model in resources/models")
    old = tmp_path / "gone" / "resources" / "models" / "exodeep-sim-small"
    assert resolve_model(str(old)).weights.is_file()


def test_the_next_movie_is_detected_in_the_background_and_gives_way(window, qtbot, sim_movie_file, tiny_model_dir,
                                                                    tmp_path):
    """While the user reviews one movie, the warm engine detects the next open movie (lowest
    priority); a job the user starts cancels it, and it is tried again afterwards; a movie reviewed by
    hand is never detected behind the user's back, and one that fails is not tried again."""
    from exodeep_gui.core.simulate import SimulationParams, simulate_movie
    from exodeep_gui.io.simulated import write_simulated

    path, _ = sim_movie_file
    params = SimulationParams(frames=32, height=48, width=48, events=2, docked=3, visiting=1)
    others = [write_simulated(tmp_path, f"next{i}", simulate_movie(params, seed=40 + i)) for i in range(3)]
    short = write_simulated(tmp_path, "short", simulate_movie(
        SimulationParams(frames=8, height=48, width=48, events=1, docked=1, visiting=0), seed=9))
    window.open_paths([path, *others, short])
    first, second, third, annotated, too_short = window.state.docs
    window.state.set_current(annotated)              # added by hand and fully reviewed: left alone
    window.state.add_event(10.0, 10.0, 5)
    window.state.set_fully_reviewed(annotated, True)
    window.state.set_current(first)
    window.state.set_model(str(tiny_model_dir))
    panel = window.detection
    with qtbot.waitSignal(panel.finished, timeout=120_000):
        panel.run_button.click()
    assert first.detection is not None
    # the next movie is being detected without anyone asking
    qtbot.waitUntil(lambda: panel.bg_job is not None, timeout=5000)
    assert window.runner.current is panel.bg_job and window.runner.current.background
    window.state.set_current(second)
    assert "Being detected in the background" in panel.status.text() or second.detection is not None
    qtbot.waitUntil(lambda: second.detection is not None, timeout=120_000)
    qtbot.waitUntil(lambda: "in the background" in panel.status.text(), timeout=5000)
    assert "Detected in the background" in second.detection_message and "new" in second.detection_message
    # the chain goes on to the third; the user's own detection cancels it and runs at once
    qtbot.waitUntil(lambda: panel.bg_job is not None or third.detection is not None, timeout=10_000)
    background = panel.bg_job
    with qtbot.waitSignal(panel.finished, timeout=120_000):
        panel.run_button.click()                      # (Detect in the movie shown: the second)
    if background is not None:
        assert background.token.cancelled            # it gave way to the user
    qtbot.waitUntil(lambda: third.detection is not None, timeout=120_000)       # tried again afterwards
    # the short movie fails (too few frames) once, and is not tried again; the annotated one is never taken
    qtbot.waitUntil(lambda: too_short.uid in panel._bg_failed, timeout=120_000)
    qtbot.wait(500)
    assert panel.bg_job is None and annotated.detection is None and annotated.fully_reviewed
    panel.background.setChecked(False)
