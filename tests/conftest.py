import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# the app's own choice of the Keras backend (KERAS_BACKEND, else TensorFlow, else JAX: the suite also runs
# where TensorFlow is absent, as on an Intel Mac), before any test imports Keras
import exodeep_gui.ml  # noqa: E402,F401

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT.parent / "shared" / "reference"


@pytest.fixture(autouse=True, scope="session")
def _isolated_user_data(tmp_path_factory):
    """Tests never touch the real user folder nor download anything (session-wide, so that
    module-scoped fixtures see it too)."""
    saved = {k: os.environ.get(k) for k in ("EXODEEP_DATA_DIR", "EXODEEP_MODEL_PATH")}
    os.environ["EXODEEP_DATA_DIR"] = str(tmp_path_factory.getbasetemp() / "userdata")
    os.environ["EXODEEP_MODEL_PATH"] = str(REFERENCE) if REFERENCE.is_dir() else ""
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not (REFERENCE / "exodeepfinder_net_weights_FINAL.h5").is_file():
        pytest.skip("../shared/reference (published weights) not available")
    return REFERENCE


@pytest.fixture(scope="session")
def small_movie() -> np.ndarray:
    from exodeep_gui.core.simulate import SimulationParams, simulate_movie

    return simulate_movie(SimulationParams(frames=40, height=64, width=64, events=4, docked=6,
                                           visiting=2), seed=5).movie


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny model folder (U-Net widths 4/6/8, random weights, seed 1): the model of the
    detection, batch, training and GUI tests. Tests copy it before changing it."""
    import keras

    from exodeep_gui.ml.models import save_model_folder
    from exodeep_gui.ml.unet import UNetSpec, build_unet

    keras.utils.set_random_seed(1)
    spec = UNetSpec(filters=(4, 6, 8))
    return save_model_folder(build_unet(spec), spec, tmp_path_factory.mktemp("models") / "tiny")
