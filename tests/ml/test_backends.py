"""The engine uses keras.ops only: the same weights give the same output on the PyTorch
backend (run in a subprocess, since the Keras backend is fixed at import). Skipped where
torch is not installed (``pip install torch==2.13.0``)."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import json, sys, numpy as np
from exodeep_gui.core.movie import Movie
from exodeep_gui.core.progress import run_to_end
from exodeep_gui.ml.models import resolve_model, load_keras_model
from exodeep_gui.ml.predict import segment_movie
info = resolve_model(sys.argv[1])
model = load_keras_model(info)
movie = Movie(np.random.default_rng(0).poisson(80, (20, 48, 40)).astype(np.uint16))
seg = run_to_end(segment_movie(model, info.spec, movie, voxels_per_chunk=3 * 48 * 40))
print("RESULT " + json.dumps({"labels": seg.labels.tolist(), "score": seg.score.tolist()}))
"""


def _run(backend: str, model_dir: Path) -> dict:
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(model_dir)], capture_output=True, text=True,
                         env=env, timeout=600)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    assert line, out.stderr[-3000:]
    return json.loads(line[0][7:])


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch not installed")
def test_torch_backend_gives_the_tensorflow_result(tmp_path):
    import keras

    from exodeep_gui.ml.models import save_model_folder
    from exodeep_gui.ml.unet import UNetSpec, build_unet

    keras.utils.set_random_seed(3)
    spec = UNetSpec(filters=(4, 6, 8))
    folder = save_model_folder(build_unet(spec), spec, tmp_path / "m")
    tf_out, torch_out = _run("tensorflow", folder), _run("torch", folder)
    assert (np.array(tf_out["labels"]) == np.array(torch_out["labels"])).mean() > 0.999
    assert np.abs(np.array(tf_out["score"]) - np.array(torch_out["score"])).max() <= 1


TRAIN_SCRIPT = """
import json, sys
import numpy as np
from pathlib import Path
from exodeep_gui.core.progress import run_to_end
from exodeep_gui.ml.training.schedule import Stage
from exodeep_gui.core.simulate import SimulationParams
from exodeep_gui.io.simulated import write_simulated_set
from exodeep_gui.ml.training.dataset import find_training_items
from exodeep_gui.ml.training.train import TrainOptions, train
root = Path(sys.argv[1])
write_simulated_set(root / "data", 2, SimulationParams(frames=32, height=32, width=32, events=3, docked=3, visiting=1))
items = find_training_items([root / "data"])
opts = TrainOptions(schedule=(Stage(8, 4, 2, 3), Stage(16, 2, 4, 2)), filters=(4, 6, 8), checkpoint_every=0)
res = run_to_end(train(items[:1], items[1:], root / "model", opts))
print("RESULT " + json.dumps({"steps": res.steps, "losses": [h["loss"] for h in res.history],
                               "f1": res.last["f1"]}))
"""


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch not installed")
def test_a_tiny_model_trains_on_the_torch_backend(tmp_path):
    env = dict(os.environ, KERAS_BACKEND="torch", PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    out = subprocess.run([sys.executable, "-c", TRAIN_SCRIPT, str(tmp_path)], capture_output=True, text=True,
                         env=env, timeout=600)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    assert line, out.stderr[-3000:]
    res = json.loads(line[0][7:])
    assert res["steps"] == 5 and len(res["losses"]) == 5
    assert all(0.0 <= loss <= 3.0 for loss in res["losses"])
    assert (tmp_path / "model" / "config.json").is_file()
