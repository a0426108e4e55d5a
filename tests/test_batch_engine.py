"""What makes a batch's per-movie detection fast, checked for what it must not change: the compiled
TensorFlow layers compute what keras.ops compute, Keras is imported without the optional packages it
would drag in (which stay importable), and ``exodeep detect`` reports its stages (EXODEEP_TIMINGS)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from exodeep_gui.ml.unet import UNetSpec

ROOT = Path(__file__).resolve().parent.parent
TINY = UNetSpec(filters=(4, 6, 8))


@pytest.fixture(scope="module")
def tiny_model():
    import keras

    from exodeep_gui.ml.unet import build_unet

    keras.utils.set_random_seed(3)
    return build_unet(TINY)


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_compiled_tensorflow_layers_equal_keras_ops(tiny_model, precision, monkeypatch):
    import keras

    from exodeep_gui.core.movie import Movie
    from exodeep_gui.core.progress import run_to_end
    from exodeep_gui.core.simulate import SimulationParams, simulate_movie
    from exodeep_gui.ml import streaming
    from exodeep_gui.ml.predict import segment_movie

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the compiled layers are TensorFlow's")
    movie = Movie(simulate_movie(SimulationParams(frames=40, height=40, width=48, events=3), seed=2).movie)
    run = dict(voxels_per_chunk=9 * 40 * 48, precision=precision)          # 6 chunks: the caches work
    assert isinstance(streaming.engine_ops(precision), streaming._TFOps)
    compiled = run_to_end(segment_movie(tiny_model, TINY, movie, **run))
    monkeypatch.setattr(streaming, "engine_ops", lambda dtype, fmt="channels_last": streaming._Ops(dtype, fmt))
    plain = run_to_end(segment_movie(tiny_model, TINY, movie, **run))
    if precision == "float32":                # the same arithmetic: the same numbers
        assert np.array_equal(compiled.labels, plain.labels) and np.array_equal(compiled.score, plain.score)
    else:                                     # fused bias and ReLU round once instead of three times
        assert (compiled.labels == plain.labels).mean() > 0.99
        assert np.abs(compiled.score.astype(int) - plain.score).mean() < 1


def test_keras_is_imported_without_optional_packages_that_stay_importable():
    code = ("import sys; from exodeep_gui.ml.detect import import_keras_quickly, OPTIONAL_FOR_KERAS; "
            "import_keras_quickly(); left = [m for m in OPTIONAL_FOR_KERAS if m in sys.modules]; "
            "import sklearn, pandas, matplotlib.pyplot; print('left', left)")
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "left []"


def test_detect_reports_its_stages(tmp_path, tiny_model_dir):
    from exodeep_gui.core.simulate import SimulationParams
    from exodeep_gui.io.simulated import write_simulated_set

    movie = write_simulated_set(tmp_path / "m", 1, SimulationParams(frames=20, height=32, width=32, events=2))[0]
    timings = tmp_path / "timings.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2", EXODEEP_TIMINGS=str(timings))
    out = subprocess.run([sys.executable, "-m", "exodeep_gui.cli", "detect", str(movie), "--model", str(tiny_model_dir),
                          "--out", str(tmp_path / "out"), "--formats", "csv"], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    t = json.loads(timings.read_text())
    stages = ("startup", "imports", "model", "open", "setup", "read", "normalize", "network", "transfer",
              "grouping", "write")
    assert set(stages) <= set(t) and all(t[k] >= 0 for k in stages)
    assert t["imports"] > 0.1 and t["network"] > 0
    assert sum(t[k] for k in stages) <= t["total"]
