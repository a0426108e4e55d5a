"""The training wizard, driven end to end offscreen on simulated movies with a tiny model and a
few steps per stage: the data page refuses a movie without annotations, the preview shows
spots, the run page shows curves, Cancel leaves a checkpoint and Resume continues from it, the
result page compares before and after, and the new model becomes the detection model."""

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog, QWizard

from exodeep_gui.ml.model_folder import ModelFolder
from exodeep_gui.ml.training.schedule import Stage
from tests.gui.helpers import fake_detection, menu_action


@pytest.fixture
def three_movies(tmp_path, _cells):
    from exodeep_gui.core.simulate import SimulationParams, simulate_movie
    from exodeep_gui.io.simulated import write_simulated

    params = SimulationParams(frames=40, height=64, width=64, events=6, docked=8, visiting=2)
    paths = [write_simulated(tmp_path / "movies", f"cell{i}", simulate_movie(params, seed=20 + i)) for i in range(2)]
    bare = write_simulated(tmp_path / "bare", "unannotated", simulate_movie(params, seed=30))
    bare.with_suffix(".csv").unlink()                       # a movie without annotations
    return paths, bare


def test_the_wizard_trains_cancels_resumes_compares_and_the_new_model_detects(
        window, qtbot, three_movies, tiny_model_dir, tmp_path, monkeypatch):
    from exodeep_gui.io.results import read_events

    paths, bare = three_movies
    window.open_paths(paths)
    for doc, path in zip(window.state.docs, paths):           # reviewed: the truth, marked fully reviewed
        truth = read_events(path.with_suffix(".csv"))
        window.state.set_detection(doc, fake_detection(truth, np.full(len(truth), 0.9), name=doc.name))
        window.state.set_fully_reviewed(doc, True)
    menu_action(window, "Train", "Train or fine-tune a model…").trigger()
    wizard = window.wizard
    assert wizard.isVisible() and wizard.currentPage() is wizard.data_page

    # 1. data: a movie without annotations is refused with a message that names it
    data = wizard.data_page
    data.add_paths([bare])
    assert "unannotated" in data.problems.text() and "no annotations" in data.problems.text()
    assert not wizard.button(QWizard.NextButton).isEnabled()
    data.table.selectRow(2)
    data.remove_button.click()
    assert data.problems.text() == "" and wizard.button(QWizard.NextButton).isEnabled()
    roles = sorted(r.role for r in wizard.plan.rows)
    assert roles == ["train", "validation"]

    # 2. counter-examples: the preview outlines spots on the current frame
    wizard.button(QWizard.NextButton).click()
    spots = wizard.spots_page
    qtbot.waitUntil(lambda: spots.last_preview is not None, timeout=20_000)
    assert spots.last_preview[0].any() and spots.overlay.image is not None
    spots.count_button.click()
    qtbot.waitUntil(lambda: spots.counts.rowCount() == 2, timeout=60_000)

    # 3. model and schedule: start from the tiny model, two short stages, a new folder
    wizard.button(QWizard.NextButton).click()
    page = wizard.model_page
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tiny_model_dir)))
    page.start.setCurrentIndex(page.start.findData("folder"))
    page.set_schedule([type(s)(8, 4, 2, 30) for s in page.schedule()] + [type(page.schedule()[0])(16, 2, 4, 10)])
    page.folder.setText(str(tmp_path / "my-model"))
    page._folder_changed()
    page.name.setText("test model")
    assert wizard.button(QWizard.NextButton).isEnabled()

    # 4. run: curves, then Cancel → a checkpoint; Resume continues from it
    wizard.button(QWizard.NextButton).click()
    run = wizard.run_page
    assert run.job is not None and window.job_status.isVisible()
    qtbot.waitUntil(lambda: len(run.steps) >= 3, timeout=120_000)
    run.cancel_button.click()
    qtbot.waitUntil(lambda: run.job is None, timeout=120_000)
    folder = ModelFolder(tmp_path / "my-model")
    assert folder.is_unfinished() and run.resume_button.isEnabled()
    stopped_at = folder.read_checkpoint().state["global_step"]
    assert stopped_at >= 3 and run.result is None
    from exodeep_gui.gui.settings import Settings

    assert Settings.load().last_training == str(folder.path)       # on disk already: a kill would not lose it
    run.resume_button.click()
    qtbot.waitUntil(lambda: run.result is not None, timeout=240_000)
    assert run.result.steps == 40 and not folder.is_unfinished()
    assert run.steps[-1] == 40 and stopped_at + 1 in run.steps              # no step lost, none twice
    assert run.loss_curve.getData()[0] is not None and len(run.curves["F1"].getData()[0]) >= 1
    cfg = folder.read_config()
    assert cfg["name"] == "test model" and cfg["training"]["status"] == "finished"
    # the default replay set: 2 simulated movies the size of the user's, mixed into the training data
    assert page.simulated.value() == 2
    assert sorted(p.name for p in (folder.path / "data").glob("simulated_??.tif")) == ["simulated_00.tif",
                                                                                      "simulated_01.tif"]

    # 5. result: before and after on the validation movie; use the model; detect with it
    wizard.button(QWizard.NextButton).click()
    result = wizard.result_page
    qtbot.waitUntil(lambda: result.rows is not None, timeout=120_000)
    assert result.table.rowCount() == 1 and "→" in result.table.item(0, 3).text()      # F1 before → after
    before, after = result.rows[0]["before"]["f1"], result.rows[0]["after"]["f1"]
    worse = after < before - 0.005
    assert ("is worse" in result.verdict.text()) == worse and f"{after:.3f}" in result.verdict.text()
    assert result.use_button.text() == ("Use it anyway" if worse else "Use this model for detection")
    result.use_button.click()
    assert window.state.model == str(folder.path)
    assert "Detection now uses test model" in result.used.text()
    assert window.detection.model_box.currentText() == "test model (folder my-model)"
    with qtbot.waitSignal(window.detection.finished, timeout=120_000):
        window.detection.run_button.click()
    assert window.state.current.detection.model_name == folder.path.name

    # 6. a second run without restarting the app: Back to the model page proposes a new folder
    # (the old one holds the model), Next starts the new run, which finishes
    wizard.back()
    wizard.back()
    assert wizard.currentPage() is page
    assert page.folder.text() != str(folder.path) and "a new run goes into a new folder" in page.resume_label.text()
    page.folder.setText(str(tmp_path / "second-model"))
    page._folder_changed()
    page.set_schedule([type(page.schedule()[0])(8, 4, 2, 6)])
    assert page.preset.currentData() == "__custom__"              # the box says the stages were edited
    assert wizard.button(QWizard.NextButton).isEnabled()
    wizard.button(QWizard.NextButton).click()
    assert run.job is not None and run.result is None
    # nothing of the first run is left up: its step, best F1, curves and log
    assert run.labels["step"].text() == "—" and run.labels["best"].text() == "—" and str(folder.path) not in run.log.toPlainText()
    qtbot.waitUntil(lambda: run.result is not None, timeout=240_000)
    assert run.result.folder == str((tmp_path / "second-model").resolve()) and run.result.steps == 6
    # the stages of the last run are offered again by the next session's wizard
    from exodeep_gui.gui.main_window import MainWindow

    assert Settings.load().training_stages == "8:4:2:6"
    later = MainWindow(Settings.load())
    qtbot.addWidget(later)
    menu_action(later, "Train", "Train or fine-tune a model…").trigger()
    assert later.wizard.model_page.schedule() == (Stage(8, 4, 2, 6),)
    later.wizard.hide()
    later.close()
    # 7. after Finish, the Train menu opens a fresh wizard at the data page
    wizard.button(QWizard.NextButton).click()
    qtbot.waitUntil(lambda: result.rows is not None and result.job is None, timeout=120_000)
    wizard.button(QWizard.FinishButton).click()
    assert not wizard.isVisible()
    menu_action(window, "Train", "Train or fine-tune a model…").trigger()
    assert window.wizard.currentPage() is wizard.data_page and run.result is None
    wizard.hide()


def test_an_unfinished_run_is_offered_for_resuming(window, qtbot, tmp_path, monkeypatch):
    """After the app was killed while training, the window says so and Train > Resume goes to the run."""
    folder = tmp_path / "killed-run"
    (folder / "checkpoint").mkdir(parents=True)
    (folder / "checkpoint" / "state.json").write_text('{"global_step": 12, "options": {"schedule": '
                                                      '[{"patch": 8, "batch": 2, "shift": 1, "steps": 50}]}}')
    (folder / "checkpoint" / "model.weights.h5").write_bytes(b"stand-in")   # a checkpoint holds its weights
    from exodeep_gui.gui.main_window import MainWindow

    # what a kill leaves: the settings file written when the run started (not the exit's save)
    from exodeep_gui.gui.settings import Settings

    window.settings.last_training = str(folder)
    window.settings.save()
    again = MainWindow(Settings.load())
    qtbot.addWidget(again)
    assert "unfinished training run" in again.statusBar().currentMessage()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(folder)))
    started = []
    monkeypatch.setattr("exodeep_gui.gui.training.run_page.RunPage.start",
                        lambda self, resume=False: started.append(resume))
    menu_action(again, "Train", "Resume an unfinished training run…").trigger()
    assert again.wizard.currentPage() is again.wizard.run_page and started == [True]
    again.close()


def test_start_from_offers_only_models_on_this_computer(window, tiny_model_dir, monkeypatch, tmp_path):
    """Offline with no published weights installed, the wizard does not start from a model it
    cannot have: the bundled model comes first; the folder in use for detection is offered; once
    the published weights are here, they come first."""
    import shutil

    from exodeep_gui.ml.models import PUBLISHED
    from exodeep_gui.paths import bundled_models

    if not bundled_models():
        pytest.skip("no bundled model in resources/models")
    monkeypatch.setenv("EXODEEP_MODEL_PATH", "")
    monkeypatch.setenv("EXODEEP_DATA_DIR", str(tmp_path / "user"))
    window.state.set_model(str(tiny_model_dir))
    menu_action(window, "Train", "Train or fine-tune a model…").trigger()
    page = window.wizard.model_page
    page.initializePage()
    offered = [page.start.itemData(i) for i in range(page.start.count())]
    assert PUBLISHED.name not in offered
    assert offered[0] == "exodeep-sim-small" and page.start_from() == "exodeep-sim-small"
    assert str(tiny_model_dir) in offered and offered[-2:] == ["folder", "__scratch__"]
    reference = Path(__file__).resolve().parents[3] / "shared" / "reference"
    weights = reference / PUBLISHED.filename
    if not weights.is_file():
        return                                           # the rest needs the published weights
    models = tmp_path / "user" / "models"
    models.mkdir(parents=True)
    shutil.copy(weights, models / PUBLISHED.filename)
    page.start.setCurrentIndex(-1)
    page.initializePage()
    assert page.start.itemData(0) == PUBLISHED.name and page.start_from() == PUBLISHED.name
    window.wizard.hide()


def test_the_result_says_when_the_new_model_is_worse():
    from exodeep_gui.gui.training.result_page import verdict

    def row(b, a):
        return {"movie": "m", "before": {"f1": b}, "after": {"f1": a}}

    assert "is worse" in verdict([row(0.650, 0.552)]) and "0.650 → 0.552" in verdict([row(0.650, 0.552)])
    assert "is better" in verdict([row(0.5, 0.7), row(0.5, 0.6)]) and "0.500 → 0.650" in verdict([row(0.5, 0.7),
                                                                                               row(0.5, 0.6)])
    assert "about as good" in verdict([row(0.6, 0.602)])
    assert "from scratch" in verdict([{"movie": "m", "before": None, "after": {"f1": 0.4}}])
