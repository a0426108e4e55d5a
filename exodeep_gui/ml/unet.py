"""The ExoDeepFinder 2D+time U-Net in Keras 3 (keras API only, any backend).

Layer for layer as the published network (see ../shared/design/exodeepfinder-reference.md
section 3): axes (t, y, x, channel), 'same' 3×3×3 convolutions with ReLU, pooling
and up-sampling by (1, 2, 2) (time is never pooled), a 2×2×2 convolution after each
up-sampling, skip connections concatenated as [up-path, skip], and a 1×1×1 softmax.
The filter counts are parameters so tests can build tiny models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

PUBLISHED_FILTERS = (32, 48, 64)


class ModelError(ValueError):
    """A model cannot be built or loaded; the message says why."""


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
        if d.get("name", "exodeepfinder-unet") != "exodeepfinder-unet":
            raise ModelError(f"unknown architecture {d.get('name')!r}")
        filters = tuple(int(f) for f in d.get("filters", PUBLISHED_FILTERS))
        if len(filters) != 3 or min(filters) < 1:
            raise ModelError(f"architecture filters must be three positive numbers, got {filters}")
        return cls(filters=filters, n_classes=int(d.get("n_classes", 3)))


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
        raise ModelError(f"{path}: not a readable HDF5 weights file ({exc})") from None
    with h5:
        group = h5["model_weights"] if "model_weights" in h5 else h5
        names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs.get("layer_names", [])]
        if not names:
            raise ModelError(f"{path}: no Keras layer weights in this HDF5 file")
        arrays = []
        for name in names:
            g = group[name]
            wnames = [w.decode() if isinstance(w, bytes) else w for w in g.attrs.get("weight_names", [])]
            if wnames:
                arrays.append([np.asarray(g[w]) for w in wnames])
    convs = conv_layers(model)
    if len(arrays) != len(convs):
        raise ModelError(f"{path}: {len(arrays)} weighted layers in the file, the network has "
                         f"{len(convs)}; this is not an ExoDeepFinder model of this architecture")
    for layer, weights in zip(convs, arrays):
        expected = [tuple(w.shape) for w in layer.get_weights()]
        got = [tuple(w.shape) for w in weights]
        if expected != got:
            raise ModelError(f"{path}: layer {layer.name} expects weights {expected}, the file has {got}")
        layer.set_weights(weights)
