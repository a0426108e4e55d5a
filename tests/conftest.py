import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT.parent / "shared" / "reference"


@pytest.fixture(autouse=True)
def _isolated_user_data(tmp_path_factory, monkeypatch):
    """Tests never touch the real user folder nor download anything."""
    monkeypatch.setenv("EXODEEP_DATA_DIR", str(tmp_path_factory.getbasetemp() / "userdata"))
    monkeypatch.setenv("EXODEEP_MODEL_PATH", str(REFERENCE) if REFERENCE.is_dir() else "")


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
