"""The engine uses keras.ops only: the same weights give the same output on the PyTorch and JAX
backends (run in a subprocess, since the Keras backend is fixed at import), and a tiny model trains on
them. JAX is what the Intel Mac build runs on (no TensorFlow there): where TensorFlow is absent,
exodeep_gui.ml chooses JAX by itself. Skipped where torch (``pip install torch==2.13.0``) or jax (the
test extras) is not installed."""

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


def _needs(module: str):
    return pytest.mark.skipif(importlib.util.find_spec(module) is None, reason=f"{module} not installed")


def _model_with_biases(folder: Path, seed: int) -> Path:
    """A small random U-Net saved as a model folder, its biases non-zero (a fresh model's are all zero:
    an engine that dropped them would go unnoticed)."""
    import keras

    from exodeep_gui.ml.models import save_model_folder
    from exodeep_gui.ml.unet import UNetSpec, build_unet, conv_layers

    keras.utils.set_random_seed(seed)
    spec = UNetSpec(filters=(4, 6, 8))
    model = build_unet(spec)
    rng = np.random.default_rng(seed)
    for layer in conv_layers(model):
        layer.bias.assign(rng.normal(0.0, 0.2, tuple(layer.bias.shape)).astype("float32"))
    return save_model_folder(model, spec, folder)


@_needs("tensorflow")
@pytest.mark.parametrize("backend", [pytest.param("torch", marks=_needs("torch")),
                                     pytest.param("jax", marks=_needs("jax"))])
def test_other_backends_give_the_tensorflow_result(tmp_path, backend):
    folder = _model_with_biases(tmp_path / "m", 3)
    tf_out, other = _run("tensorflow", folder), _run(backend, folder)
    assert (np.array(tf_out["labels"]) == np.array(other["labels"])).mean() > 0.999
    assert np.abs(np.array(tf_out["score"]) - np.array(other["score"])).max() <= 1


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


@pytest.mark.parametrize("backend", [pytest.param("torch", marks=_needs("torch")),
                                     pytest.param("jax", marks=_needs("jax"))])
def test_a_tiny_model_trains_on_the_other_backends(tmp_path, backend):
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    out = subprocess.run([sys.executable, "-c", TRAIN_SCRIPT, str(tmp_path)], capture_output=True, text=True,
                         env=env, timeout=600)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    assert line, out.stderr[-3000:]
    res = json.loads(line[0][7:])
    assert res["steps"] == 5 and len(res["losses"]) == 5
    assert all(0.0 <= loss <= 3.0 for loss in res["losses"])
    assert (tmp_path / "model" / "config.json").is_file()


def test_the_backend_is_tensorflow_where_installed_else_jax_else_torch():
    from exodeep_gui.ml import choose_backend

    def only(*names):
        return lambda module: module in names

    def choose(env, *names, jaxlib=(0, 4)):
        return choose_backend(env, only(*names), lambda: jaxlib)

    classic = "--xla_cpu_use_thunk_runtime=false"         # XLA's classic CPU runtime: 6× faster 3D convolutions
    env = {}                                                # always written: ~/.keras/keras.json cannot override
    assert choose(env, "tensorflow", "jax", "torch") == "tensorflow" and env == {"KERAS_BACKEND": "tensorflow"}
    env = {}
    assert choose(env, "jax", "torch") == "jax" and env == {"KERAS_BACKEND": "jax", "XLA_FLAGS": classic}
    env = {}
    assert choose(env, "torch") == "torch" and env == {"KERAS_BACKEND": "torch"}
    env = {"KERAS_BACKEND": "torch"}                               # the user's setting wins
    assert choose(env, "tensorflow", "jax") == "torch" and env == {"KERAS_BACKEND": "torch"}
    env = {"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    assert choose(env, "tensorflow") == "jax"
    assert env["XLA_FLAGS"] == f"--xla_force_host_platform_device_count=2 {classic}"
    env = {"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_cpu_use_thunk_runtime=true"}   # theirs, kept
    assert choose(env, "jax") == "jax" and env["XLA_FLAGS"] == "--xla_cpu_use_thunk_runtime=true"
    env = {}                                # jaxlib 0.7 removed the classic runtime: the flag would fail there
    assert choose(env, "jax", jaxlib=(0, 7)) == "jax" and env == {"KERAS_BACKEND": "jax"}
    env = {}
    assert choose(env) == "" and env == {}


def test_a_leftover_empty_folder_is_not_an_installed_backend(tmp_path, monkeypatch):
    from exodeep_gui.ml import installed

    (tmp_path / "leftover_backend").mkdir()                  # what an uninstall can leave: a namespace package
    (tmp_path / "real_backend").mkdir()
    (tmp_path / "real_backend" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert not installed("leftover_backend") and installed("real_backend")
    monkeypatch.setitem(sys.modules, "real_backend", None)  # blocked
    assert not installed("real_backend")


# As on an Intel Mac: TensorFlow cannot be imported in any process (a sitecustomize blocks it in this
# one and in the engine process it starts), nothing sets KERAS_BACKEND. The self-test (detection here and
# in an engine process, the CSV, the analysis) must run on JAX with no setting anywhere.
BLOCK_TF = 'import sys\nsys.modules["tensorflow"] = None   # `import tensorflow` raises ImportError\n'
NO_TF_SCRIPT = """
import sys
from exodeep_gui import selftest
code = selftest.run(sys.argv[1])
import keras
print("BACKEND " + keras.backend.backend())
sys.exit(code)
"""


@_needs("jax")
def test_without_tensorflow_the_self_test_runs_on_jax(tmp_path):
    folder = _model_with_biases(tmp_path / "m", 4)
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(BLOCK_TF)
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "XLA_FLAGS")}
    env.update(PYTHONPATH=os.pathsep.join([str(tmp_path / "site"), str(ROOT)]), TF_CPP_MIN_LOG_LEVEL="2")
    out = subprocess.run([sys.executable, "-c", NO_TF_SCRIPT, str(folder)], capture_output=True, text=True,
                         env=env, timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "self-test OK" in out.stdout and " / jax on CPU" in out.stdout, out.stdout
    assert "engine process agrees" in out.stdout and "BACKEND jax" in out.stdout
    # the blocker does block: TensorFlow asked for by name fails in such a process
    env["KERAS_BACKEND"] = "tensorflow"
    out = subprocess.run([sys.executable, "-c", "import keras"], capture_output=True, text=True, env=env,
                         timeout=300, cwd=tmp_path)
    assert out.returncode != 0 and "tensorflow" in out.stderr.lower()


# torch cannot be found (a finder that says so; not sys.modules["torch"] = None, which SciPy's array API
# layer takes for an imported torch)
NO_TORCH = """import sys
class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "torch":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NoTorch())
"""


def test_a_backend_named_but_not_installed_is_one_line_naming_it(tmp_path):
    """KERAS_BACKEND=torch where torch is absent (here: blocked in the process, as for TensorFlow above):
    `exodeep detect` ends with one line saying so and what to do, not Keras' traceback."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(NO_TORCH)
    env = dict(os.environ, KERAS_BACKEND="torch", TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=os.pathsep.join([str(tmp_path / "site"), str(ROOT)]))
    movie = tmp_path / "movie.tif"
    from exodeep_gui.core.simulate import SimulationParams, simulate_movie
    from exodeep_gui.io.movie_io import write_imagej_tiff

    write_imagej_tiff(movie, simulate_movie(SimulationParams(frames=20, height=32, width=32), seed=1).movie, 0.16, 0.3)
    out = subprocess.run([sys.executable, "-m", "exodeep_gui.cli", "detect", str(movie), "--out", str(tmp_path / "out"),
                          "--model", "exodeep-sim-small"], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode != 0
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert lines[-1].startswith("exodeep: error: KERAS_BACKEND=torch, but torch is not installed here"), out.stderr
    assert "Traceback" not in out.stderr and "unset KERAS_BACKEND" in lines[-1]
