import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _no_thread_left_running(qtbot):
    """Fail any test that leaves a worker QThread running."""
    yield
    from exodeep_gui.gui import workers

    left = workers.running_threads()
    for t in left:
        t.quit()
        t.wait(10000)
    assert not left, f"{len(left)} worker thread(s) left running"


@pytest.fixture
def window(qtbot, tmp_path):
    import pyqtgraph as pg

    from exodeep_gui.gui.main_window import MainWindow
    from exodeep_gui.gui.settings import Settings

    pg.setConfigOptions(imageAxisOrder="row-major")
    w = MainWindow(Settings())
    qtbot.addWidget(w)
    w.show()
    yield w
    w.detection.stop_and_wait()


@pytest.fixture(scope="session")
def sim_movie_file(tmp_path_factory):
    from exodeep_gui.core.simulate import SimulationParams, simulate_movie
    from exodeep_gui.io.simulated import write_simulated

    folder = tmp_path_factory.mktemp("guimovie")
    sim = simulate_movie(SimulationParams(frames=40, height=64, width=64, events=4, docked=6, visiting=2), seed=2)
    return write_simulated(folder, "cells", sim), sim


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    import keras

    from exodeep_gui.ml.models import save_model_folder
    from exodeep_gui.ml.unet import UNetSpec, build_unet

    keras.utils.set_random_seed(1)
    spec = UNetSpec(filters=(4, 6, 8))
    return save_model_folder(build_unet(spec), spec, tmp_path_factory.mktemp("models") / "tiny")
