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
