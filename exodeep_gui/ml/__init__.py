"""Models: the only layer that imports Keras (lazily). No Qt.

Which Keras backend runs: ``KERAS_BACKEND`` where it is set; else TensorFlow where it is installed
(Keras' own default, and ExoDeep's pin on Linux, Windows and Apple Silicon Macs); else JAX, else
PyTorch. Intel Macs have no TensorFlow (none is published for them after 2.16, which needs numpy < 2),
so their build installs JAX instead (pyproject.toml) and runs on it with no setting anywhere. Chosen
here, when the package is imported, so that it holds before any ``import keras`` of this process and of
the child processes it starts (they inherit the environment)."""

import importlib.util
import os
import sys

# In order of preference, by their module names (= Keras' names for them).
BACKENDS = ("tensorflow", "jax", "torch")
# XLA's CPU "thunk" runtime (jaxlib's default since 0.4.32) runs ExoDeep's 3D convolutions 6× slower than
# XLA's classic one: one 3×3×3 layer on 20×128×128×32 took 0.46 s against 0.076 s (TensorFlow: 0.064 s),
# measured on this machine's 2 cores. So JAX runs on the classic runtime, unless XLA_FLAGS says otherwise.
JAX_XLA_FLAGS = "--xla_cpu_use_thunk_runtime=false"


def installed(module: str) -> bool:
    """True where ``module`` can be imported (without importing it); a module blocked in
    :data:`sys.modules` (set to None) counts as absent."""
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def choose_backend(environ=os.environ, is_installed=installed) -> str:
    """Sets ``KERAS_BACKEND`` in ``environ`` when it is unset and TensorFlow is not installed (to the
    first installed of :data:`BACKENDS`), and for JAX :data:`JAX_XLA_FLAGS` in ``XLA_FLAGS``; returns the
    backend Keras will use ("" when none is installed: importing Keras then fails with its own message)."""
    chosen = environ.get("KERAS_BACKEND") or next((name for name in BACKENDS if is_installed(name)), "")
    if chosen in ("jax", "torch") and not environ.get("KERAS_BACKEND"):
        environ["KERAS_BACKEND"] = chosen
    if chosen == "jax" and "xla_cpu_use_thunk_runtime" not in environ.get("XLA_FLAGS", ""):
        environ["XLA_FLAGS"] = f"{environ.get('XLA_FLAGS', '')} {JAX_XLA_FLAGS}".strip()
    return chosen


choose_backend()
