"""Models: the only layer that imports Keras (lazily). No Qt.

Which Keras backend runs: ``KERAS_BACKEND`` where it is set; else TensorFlow where it is installed
(ExoDeep's pin on Linux, Windows and Apple Silicon Macs); else JAX, else PyTorch. Intel Macs have no
TensorFlow (none is published for them after 2.16, which needs numpy < 2), so their build installs JAX
instead (pyproject.toml) and runs on it with no setting anywhere. Chosen here, when the package is
imported, so that it holds before any ``import keras`` of this process and of the child processes it
starts (they inherit the environment), and written to ``KERAS_BACKEND`` so that a ``~/.keras/keras.json``
naming another backend cannot select one the app does not carry."""

import importlib.util
import os
import sys

# In order of preference, by their module names (= Keras' names for them).
BACKENDS = ("tensorflow", "jax", "torch")
# XLA's CPU "thunk" runtime (jaxlib's default from 0.4.32) runs ExoDeep's 3D convolutions 6× slower than
# XLA's classic one: one 3×3×3 layer on 20×128×128×32 took 0.466 s against 0.071 s (TensorFlow: 0.070 s;
# benchmarks/bench_jax_layer.py on a 2-core VM). So JAX runs on the classic runtime where jaxlib still has it (before
# 0.7, which removed it: the flag then fails every computation), unless XLA_FLAGS says otherwise.
JAX_XLA_FLAGS = "--xla_cpu_use_thunk_runtime=false"
JAXLIB_WITHOUT_CLASSIC_RUNTIME = (0, 7)


def installed(module: str) -> bool:
    """True where ``module`` can be imported (without importing it); a module blocked in
    :data:`sys.modules` (set to None) and an empty folder of that name (a namespace package: what an
    uninstall can leave behind) count as absent."""
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin is not None


def jaxlib_version() -> tuple:
    """The installed jaxlib's (major, minor) version; (0, 0) where it cannot be read."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return tuple(int(p) for p in version("jaxlib").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return (0, 0)


def choose_backend(environ=os.environ, is_installed=installed, jaxlib=jaxlib_version) -> str:
    """Sets ``KERAS_BACKEND`` in ``environ`` to the backend Keras will use (the user's where set, else
    the first installed of :data:`BACKENDS`) and, for JAX with a jaxlib that has it, XLA's classic CPU
    runtime in ``XLA_FLAGS``; returns the backend ("" when none is installed: importing Keras then
    fails with its own message)."""
    chosen = environ.get("KERAS_BACKEND") or next((name for name in BACKENDS if is_installed(name)), "")
    if chosen:
        environ["KERAS_BACKEND"] = chosen
    if chosen == "jax" and "xla_cpu_use_thunk_runtime" not in environ.get("XLA_FLAGS", "") \
            and jaxlib() < JAXLIB_WITHOUT_CLASSIC_RUNTIME:
        environ["XLA_FLAGS"] = f"{environ.get('XLA_FLAGS', '')} {JAX_XLA_FLAGS}".strip()
    return chosen


choose_backend()
