"""The ExoDeepFinder 2D+time U-Net in Keras 3 (keras API only, any backend).

Layer for layer as the published network (see ../shared/design/exodeepfinder-reference.md
section 3): axes (t, y, x, channel), 'same' 3×3×3 convolutions with ReLU, pooling
and up-sampling by (1, 2, 2) (time is never pooled), a 2×2×2 convolution after each
up-sampling, skip connections concatenated as [up-path, skip], and a 1×1×1 softmax.
The filter counts are parameters so tests can build tiny models.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from dataclasses import dataclass
from typing import List, Optional, Tuple

from exodeep_gui.io.library_messages import one_line

PUBLISHED_FILTERS = (32, 48, 64)
MAX_FILTERS = 1024          # far above any trained model; a larger number is a damaged config


def _whole(v) -> bool:
    return (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())


class ModelError(ValueError):
    """A model cannot be built or loaded; the message says why (for the command line: it may name
    a flag); ``window_text``, when given, says the same for the window (menus, not flags)."""

    def __init__(self, message: str = "", window_text: str = ""):
        super().__init__(message)
        self.window_text = window_text or message

    def __reduce__(self):            # both texts cross the engine process's boundary
        return type(self), (str(self), self.window_text)


@dataclass(frozen=True)
class ConvSpec:
    """One convolution: ``k`` is the (cubic) kernel size."""

    k: int
    filters: int
    activation: str = "relu"


@dataclass(frozen=True)
class UNetSpec:
    """The architecture as data, shared by the Keras model and the streaming engine."""

    filters: Tuple[int, int, int] = PUBLISHED_FILTERS
    n_classes: int = 3

    def blocks(self) -> dict:
        f0, f1, f2 = self.filters
        return {
            "enc1": [ConvSpec(3, f0), ConvSpec(3, f0)],
            "enc2": [ConvSpec(3, f1), ConvSpec(3, f1)],
            "bottom": [ConvSpec(3, f2)] * 4,
            "up2": [ConvSpec(2, f2)],
            "dec2": [ConvSpec(3, f1), ConvSpec(3, f1)],
            "up1": [ConvSpec(2, f1)],
            "dec1": [ConvSpec(3, f0), ConvSpec(3, f0)],
            "head": [ConvSpec(1, self.n_classes, "softmax")],
        }

    def convs(self) -> List[ConvSpec]:
        """All convolutions in the order of the published weights file."""
        return [c for block in self.blocks().values() for c in block]

    # receptive field in time of one output frame: 12 frames before, 14 after
    @property
    def time_reach(self) -> Tuple[int, int]:
        before = after = 0
        for c in self.convs():
            before += (c.k - 1) // 2
            after += c.k // 2
        return before, after

    def to_dict(self) -> dict:
        return {"name": "exodeepfinder-unet", "filters": list(self.filters), "n_classes": self.n_classes}

    @classmethod
    def from_dict(cls, d: dict) -> "UNetSpec":
        """The architecture a model folder's ``config.json`` describes (checked: another network,
        or sizes no model of this one has, raise :class:`ModelError`)."""
        if not isinstance(d, dict):
            raise ModelError(f"'architecture' must be an object, not {d!r:.60}")
        name = d.get("name", "exodeepfinder-unet")
        if name != "exodeepfinder-unet":
            raise ModelError(f"another architecture, {name!r:.60}; ExoDeep runs the ExoDeepFinder U-Net "
                             "('exodeepfinder-unet')")
        filters = d.get("filters", PUBLISHED_FILTERS)
        if (not isinstance(filters, (list, tuple)) or len(filters) != 3
                or not all(_whole(f) and 1 <= f <= MAX_FILTERS for f in filters)):
            raise ModelError(f"architecture filters must be three whole numbers from 1 to {MAX_FILTERS}, "
                             f"got {filters!r:.60}")
        n_classes = d.get("n_classes", 3)
        if not _whole(n_classes) or not 3 <= n_classes <= 16:
            raise ModelError(f"architecture n_classes must be a whole number from 3 to 16 (background, "
                             f"bright spot, exocytosis…), got {n_classes!r:.40}")
        return cls(filters=tuple(int(f) for f in filters), n_classes=int(n_classes))


def build_unet(spec: UNetSpec = UNetSpec(), patch=(None, None, None), mixed_precision: bool = False):
    """Build the Keras model; ``patch`` is (t, y, x), None for any size (y, x multiples of 4).

    With ``mixed_precision`` the layers compute in float16 (GPUs) and the softmax head in float32."""
    import keras

    if mixed_precision:
        saved = keras.config.dtype_policy()
        keras.config.set_dtype_policy("mixed_float16")
        try:
            return _build(spec, patch, head_dtype="float32")
        finally:
            keras.config.set_dtype_policy(saved)
    return _build(spec, patch, head_dtype=None)


def _build(spec: UNetSpec, patch, head_dtype):
    import keras
    from keras import layers

    blocks = spec.blocks()
    counter = iter(range(1, 100))

    def conv(x, c: ConvSpec):
        extra = {"dtype": head_dtype} if head_dtype and c.activation == "softmax" else {}
        return layers.Conv3D(c.filters, c.k, padding="same", activation=c.activation,
                             name=f"conv{next(counter):02d}", **extra)(x)

    def run(x, name):
        for c in blocks[name]:
            x = conv(x, c)
        return x

    inp = keras.Input(shape=tuple(patch) + (1,), name="movie")
    high = run(inp, "enc1")
    mid = run(layers.MaxPooling3D((1, 2, 2), name="pool1")(high), "enc2")
    x = run(layers.MaxPooling3D((1, 2, 2), name="pool2")(mid), "bottom")
    x = run(layers.UpSampling3D((1, 2, 2), name="upsample2")(x), "up2")
    x = run(layers.Concatenate(name="skip2")([x, mid]), "dec2")
    x = run(layers.UpSampling3D((1, 2, 2), name="upsample1")(x), "up1")
    x = run(layers.Concatenate(name="skip1")([x, high]), "dec1")
    out = run(x, "head")
    return keras.Model(inp, out, name="exodeepfinder_unet")


def conv_layers(model) -> list:
    return [layer for layer in model.layers if layer.__class__.__name__ == "Conv3D"]


def load_keras2_h5_weights(model, path) -> None:
    """Load a Keras-2 HDF5 model or weights file into ``model`` by layer order.

    The published ExoDeepFinder file is a full Keras 2.6 model; its weights are read
    with h5py (not through Keras' loader, which is not backend-neutral for Keras 2
    files) and assigned to the convolutions in order, after checking every shape.
    """
    import h5py
    import numpy as np

    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise ModelError(f"{path}: {_h5_problem(exc)}") from None
    try:
        with h5:
            group = h5["model_weights"] if "model_weights" in h5 else h5
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs.get("layer_names", [])]
            if not names:
                raise ModelError(f"{path}: no Keras layer weights in this HDF5 file")
            arrays = []
            for name in names:
                g = group[name]
                wnames = [w.decode() if isinstance(w, bytes) else str(w) for w in g.attrs.get("weight_names", [])]
                if wnames:
                    arrays.append([np.asarray(g[w]) for w in wnames])
    except ModelError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:    # a damaged file
        raise ModelError(f"{path}: a damaged weights file ({_one_line(exc)})") from None
    convs = conv_layers(model)
    if len(arrays) != len(convs):
        raise ModelError(f"{path}: {len(arrays)} weighted layers in the file, the network has "
                         f"{len(convs)}; this is not an ExoDeepFinder model of this architecture")
    for layer, weights in zip(convs, arrays):
        expected = [tuple(w.shape) for w in layer.get_weights()]
        got = [tuple(w.shape) for w in weights]
        if expected != got:
            raise ModelError(f"{path}: layer {layer.name} expects weights {expected}, the file has {got}")
        if not all(np.isfinite(w).all() for w in weights if np.asarray(w).dtype.kind == "f"):
            raise ModelError(f"{path}: layer {layer.name} holds NaN or infinite weights (a damaged file)")
        layer.set_weights(weights)


# ---------------------------------------------------------------- Keras without the noise
# What TensorFlow's native code prints while it loads (absl's "before InitializeLog" banner, the
# oneDNN note, CUDA probes): written to file descriptor 2 by C++, beyond Python's reach; it is
# caught while Keras is imported and sent to the log instead of the terminal.
_NATIVE_NOISE = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\)|"
                           r"[IWE]\d{4} [\d:.]+\s+\d+ \S+:\d+\] )")
_log = logging.getLogger("exodeep_gui.library")


class BackendMissing(ValueError):
    """KERAS_BACKEND names a backend that is not installed (one line for the user)."""


def _check_backend(environ=os.environ) -> None:
    from exodeep_gui.ml import BACKENDS, choose_backend, installed

    name = environ.get("KERAS_BACKEND", "")
    if name in BACKENDS and not installed(name):
        usable = choose_backend({})             # what the app would choose with nothing set
        raise BackendMissing(f"KERAS_BACKEND={name}, but {name} is not installed here: "
                             + (f"unset KERAS_BACKEND (ExoDeep then runs on {usable})" if usable
                                else "install ExoDeep's requirements"))


def import_keras():
    """``import keras`` (and its backend) with the native libraries' start-up messages kept off the
    terminal: they go to the log at DEBUG level. Returns the keras module."""
    if "keras" in sys.modules:
        return sys.modules["keras"]
    _check_backend()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, AttributeError, ValueError):
        import keras

        return keras
    import tempfile

    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            import keras
        finally:
            try:
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", errors="replace")
            for line in text.splitlines():
                if line.strip():
                    _log.debug("while importing keras: %s", line)
    return keras


# ---------------------------------------------------------------- what a weights file holds
def keras3_weight_shapes(path) -> dict:
    """``{layer name: [weight shapes]}`` of a Keras 3 ``.weights.h5`` file, read with h5py (no Keras)."""
    import h5py

    shapes = {}
    try:
        with h5py.File(path, "r") as h5:
            layers = h5.get("layers")
            if layers is None:
                raise ModelError(f"{path}: not a Keras 3 weights file (no 'layers' group)")
            for key in layers:
                # by the group's name (conv3d, conv3d_1, … in the order the layers were made), as
                # Keras itself matches them: not by the layer-name attribute, whose damaged heap
                # makes HDF5 loop forever (found by the fuzzing) while Keras never reads it
                m = re.fullmatch(r"conv3d(?:_(\d+))?", key)
                group = layers[key]
                vars_ = group.get("vars") if hasattr(group, "get") else None
                if vars_ is None or not len(vars_):
                    continue
                name = f"conv{int(m.group(1) or 0) + 1:02d}" if m else key
                shapes[name] = [tuple(vars_[str(i)].shape) for i in range(len(vars_))]
    except ModelError:
        raise
    except OSError as exc:
        raise ModelError(f"{path}: {_h5_problem(exc)}") from None
    except Exception as exc:             # a damaged group or attribute
        raise ModelError(f"{path}: a damaged weights file ({_one_line(exc)})") from None
    return shapes


def _h5_problem(exc: Exception) -> str:
    text = _one_line(exc)
    if "file signature not found" in text:
        return "not a readable HDF5 weights file (not an HDF5 file at all)"
    if "truncated file" in text:
        return "not a readable HDF5 weights file: it is truncated (an interrupted copy or download?)"
    return f"not a readable HDF5 weights file: it is damaged ({text})"


def _one_line(exc) -> str:
    """``exc`` as one line (the exception's name when it says nothing)."""
    return one_line(exc, 200) or type(exc).__name__


def spec_of_weights(shapes: dict) -> Optional[UNetSpec]:
    """The architecture whose convolutions have ``shapes`` (``{conv01: [kernel, bias], …}``), or None
    when they are not an ExoDeepFinder U-Net's."""
    try:
        kernels = [shapes[f"conv{i:02d}"][0] for i in range(1, len(UNetSpec().convs()) + 1)]
        spec = UNetSpec(filters=(kernels[0][-1], kernels[2][-1], kernels[4][-1]), n_classes=kernels[-1][-1])
    except (KeyError, IndexError):
        return None
    return spec if spec_shapes(spec) == [tuple(k) for k in kernels] else None


def spec_shapes(spec: UNetSpec) -> List[tuple]:
    """The kernel shapes of ``spec``'s convolutions, in order (no Keras)."""
    out, c_in = [], 1
    blocks = spec.blocks()
    skips = {}
    for name, convs in blocks.items():
        if name == "enc2":
            skips["high"] = c_in
        if name == "bottom":
            skips["mid"] = c_in
        if name == "dec2":
            c_in = c_in + skips["mid"]
        if name == "dec1":
            c_in = c_in + skips["high"]
        for c in convs:
            out.append((c.k, c.k, c.k, c_in, c.filters))
            c_in = c.filters
    return out


def describe_spec(spec: UNetSpec) -> str:
    return f"filters {tuple(spec.filters)} and {spec.n_classes} classes"


def check_weights_fit(path, spec: UNetSpec, described_by: str) -> None:
    """Raise :class:`ModelError` (one line, naming the file and the mismatch) when the Keras 3 weights
    at ``path`` are not those of ``spec`` (which ``described_by``, e.g. the folder's config.json, gives)."""
    shapes = keras3_weight_shapes(path)
    found = spec_of_weights(shapes)
    if found is None:
        convs = sorted(n for n in shapes if n.startswith("conv"))
        raise ModelError(f"{path}: not the weights of an ExoDeepFinder U-Net ({len(shapes)} weighted layers, "
                         f"{len(convs)} of them named conv01…; the network has {len(spec.convs())} convolutions)")
    if found != spec:
        raise ModelError(f"{path}: these weights are a U-Net with {describe_spec(found)}, but {described_by} "
                         f"describes {describe_spec(spec)}; the weights and the configuration do not belong "
                         "together")
