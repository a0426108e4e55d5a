"""The U-Net run chunk of frames by chunk of frames (the engine behind ml.predict.segment_movie).

Time is never pooled in this network, so every convolution is run 'valid' in time and 'same'
(zero-padded) in y and x, and each layer keeps the last k−1 frames of its input between chunks:
frames pass through the network once and the result cannot depend on the chunk length. The
convolutions run in the chosen precision (weights cast once, each chunk's input cast on the
device); the softmax head, the argmax label and the uint8 score are computed in float32 on the
device. keras.ops (the same code runs on TensorFlow, PyTorch and JAX), with each layer compiled on
TensorFlow and JAX (_TFOps, _JaxOps).
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from exodeep_gui.core.progress import CancelToken
from exodeep_gui.ml.unet import UNetSpec, conv_layers

EVENT_CLASS = 2    # the class whose probability is the score


class _Ops:
    """The few keras.ops the engine needs, bound once, for one compute dtype and tensor layout
    (channels_last: (B, t, y, x, c); channels_first: (B, c, t, y, x))."""

    def __init__(self, dtype: str = "float32", data_format: str = "channels_last"):
        from keras import ops

        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"unknown data format {data_format!r}")
        self.ops = ops
        self.dtype = dtype
        self.fmt = data_format
        last = data_format == "channels_last"
        self.t_axis, self.c_axis = (1, 4) if last else (2, 1)
        self.y_axis, self.x_axis = (2, 3) if last else (3, 4)

    def tslice(self, x, a, b=None):
        """Frames a:b of ``x`` (a copy when it is kept, so that it does not hold the whole tensor)."""
        return x[:, a:b] if self.t_axis == 1 else x[:, :, a:b]

    def keep(self, x, a, b=None):
        return self.ops.copy(self.tslice(x, a, b))

    def conv(self, box: list, kernel, bias, k, activation):
        ops = self.ops
        x = box.pop()
        if activation == "softmax":
            x = ops.cast(x, "float32")                  # the head runs in float32
        if k > 1:
            lo, hi = (k - 1) // 2, k // 2
            pad = [(0, 0)] * 5
            pad[self.y_axis] = pad[self.x_axis] = (lo, hi)
            x = ops.pad(x, pad)
        y = ops.conv(x, kernel, strides=1, padding="valid", data_format=self.fmt)
        del x
        y = ops.add(y, bias)
        return ops.softmax(y, axis=self.c_axis) if activation == "softmax" else ops.relu(y)

    def pool(self, x):
        return self.ops.max_pool(x, pool_size=(1, 2, 2), strides=(1, 2, 2), padding="valid",
                                 data_format=self.fmt)

    def upsample(self, x):
        return self.ops.repeat(self.ops.repeat(x, 2, axis=self.y_axis), 2, axis=self.x_axis)

    def cat(self, a, b, axis):
        return self.ops.concatenate([a, b], axis=axis)

    def weights(self, kernel, bias, head: bool):
        """A layer's kernel and bias as device tensors in the compute dtype (the head: float32).
        The kernel is laid out in memory as (out, k, k, k, in) and handed to ops.conv as a
        transposed view in Keras' (k, k, k, in, out) order: PyTorch then sees a channels-last
        kernel and copies nothing per call (TensorFlow copies once, here)."""
        ops = self.ops
        dtype = "float32" if head else self.dtype
        kern = np.ascontiguousarray(np.moveaxis(np.asarray(kernel, np.float32), 4, 0))
        kern = ops.transpose(ops.cast(ops.convert_to_tensor(kern), dtype), (1, 2, 3, 4, 0))
        b = ops.cast(ops.convert_to_tensor(np.asarray(bias, np.float32)), dtype)
        if self.fmt == "channels_first":
            b = ops.reshape(b, (-1, 1, 1, 1))
        return kern, b

    def labels_and_score(self, probs):
        """uint8 argmax class and uint8 round(255 × P(event)) of float32 probabilities, on the device,
        as (B, t, y, x) tensors."""
        ops = self.ops
        lab = ops.cast(ops.argmax(probs, axis=self.c_axis), "uint8")
        p = probs[..., EVENT_CLASS] if self.c_axis == 4 else probs[:, EVENT_CLASS]
        return lab, ops.cast(ops.round(ops.multiply(p, 255.0)), "uint8")


class _TFOps(_Ops):
    """TensorFlow (channels_last): the same operations, each layer one ``tf.function`` traced once
    per kind (kernel size, activation) for any shape. TensorFlow's graph optimiser then runs the
    convolution, its bias and its ReLU as one oneDNN convolution with post-ops, and the head's
    softmax, argmax and score in one graph, where eager execution ran each as its own kernel over
    the whole tensor (in bfloat16 the bias and the ReLU cost as much as the convolution)."""

    def __init__(self, dtype: str = "float32"):
        import tensorflow as tf

        super().__init__(dtype, "channels_last")
        self.tf = tf
        self._fns: dict = {}

    def _fn(self, key, build, signature):
        """The compiled function ``key``, traced once for any shape (``signature``: the dtype and
        rank of each argument)."""
        if key not in self._fns:
            tf = self.tf
            specs = [tf.TensorSpec([None] * rank, getattr(tf, dtype)) for dtype, rank in signature]
            self._fns[key] = tf.function(build(), input_signature=specs)
        return self._fns[key]

    def _layer(self, k: int, activation: str):
        tf = self.tf
        lo, hi = (k - 1) // 2, k // 2
        head = activation == "softmax"

        def build():
            def layer(x, kernel, bias):
                if head:
                    x = tf.cast(x, tf.float32)
                if k > 1:
                    x = tf.pad(x, [(0, 0), (0, 0), (lo, hi), (lo, hi), (0, 0)])
                y = tf.nn.bias_add(tf.nn.conv3d(x, kernel, [1] * 5, "VALID"), bias)
                return tf.nn.softmax(y, axis=-1) if head else tf.nn.relu(y)
            return layer

        w = "float32" if head else self.dtype
        return self._fn(("layer", k, activation), build, [(self.dtype, 5), (w, 5), (w, 1)])

    def conv(self, box: list, kernel, bias, k, activation):
        return self._layer(k, activation)(box.pop(), kernel, bias)

    def upsample(self, x):
        tf = self.tf

        def build():
            def up(x):
                s = tf.shape(x)
                y = tf.broadcast_to(x[:, :, :, None, :, None, :], [s[0], s[1], s[2], 2, s[3], 2, s[4]])
                return tf.reshape(y, [s[0], s[1], 2 * s[2], 2 * s[3], s[4]])
            return up

        return self._fn("upsample", build, [(self.dtype, 5)])(x)

    def labels_and_score(self, probs):
        tf = self.tf

        def build():
            def labels_and_score(probs):
                lab = tf.cast(tf.argmax(probs, axis=-1), tf.uint8)
                return lab, tf.cast(tf.round(probs[..., EVENT_CLASS] * 255.0), tf.uint8)
            return labels_and_score

        return self._fn("labels", build, [("float32", 5)])(probs)


class _JaxOps(_Ops):
    """JAX (channels_last), as _TFOps: each layer kind one ``jax.jit`` function (padding, convolution,
    bias and ReLU, or the float32 softmax head, fused by XLA), compiled once per input shape (the shapes
    differ while the first chunks fill the network and at the end, and repeat in between: an 80-frame
    128 × 128 movie made 149 compilations, 2.6 s of 7 s). Fused, one 3×3×3 layer on 20×128×128×32 took
    0.071 s instead of 0.127 s as separate keras.ops (XLA's classic CPU runtime, see exodeep_gui.ml;
    benchmarks/bench_jax_layer.py)."""

    # The compiled functions, shared by every engine of the process: jax.jit keeps its compilations per
    # function object, so a new engine (each movie, each TTA view, each detection of the warm engine
    # process) would compile every layer again (a second run of an 80-frame movie: 45 compilations, 0.9 s).
    _fns: dict = {}

    def __init__(self, dtype: str = "float32"):
        import jax

        super().__init__(dtype, "channels_last")
        self.jax = jax

    def _jit(self, key, build):
        if key not in self._fns:
            self._fns[key] = self.jax.jit(build())
        return self._fns[key]

    def conv(self, box: list, kernel, bias, k, activation):
        jax = self.jax
        lo, hi = (k - 1) // 2, k // 2
        head = activation == "softmax"

        def build():
            def layer(x, kernel, bias):
                if head:
                    x = x.astype("float32")
                if k > 1:
                    x = jax.numpy.pad(x, ((0, 0), (0, 0), (lo, hi), (lo, hi), (0, 0)))
                y = jax.lax.conv_general_dilated(x, kernel, (1, 1, 1), "VALID",
                                                 dimension_numbers=("NDHWC", "DHWIO", "NDHWC")) + bias
                return jax.nn.softmax(y, axis=-1) if head else jax.nn.relu(y)
            return layer

        return self._jit(("layer", k, activation), build)(box.pop(), kernel, bias)

    def upsample(self, x):
        jnp = self.jax.numpy
        return self._jit("upsample", lambda: lambda x: jnp.repeat(jnp.repeat(x, 2, axis=2), 2, axis=3))(x)

    def labels_and_score(self, probs):
        jnp = self.jax.numpy

        def build():
            def labels_and_score(probs):
                return (jnp.argmax(probs, axis=-1).astype(jnp.uint8),
                        jnp.round(probs[..., EVENT_CLASS] * 255.0).astype(jnp.uint8))
            return labels_and_score

        return self._jit("labels", build)(probs)


def engine_ops(dtype: str = "float32", data_format: str = "channels_last") -> _Ops:
    """The engine's operations: compiled layers on TensorFlow and JAX (channels_last), keras.ops elsewhere."""
    from keras import backend

    if data_format == "channels_last" and backend.backend() in ("tensorflow", "jax"):
        return _TFOps(dtype) if backend.backend() == "tensorflow" else _JaxOps(dtype)
    return _Ops(dtype, data_format)


class _TimeConv:
    """A convolution, 'valid' in time, that carries its last k−1 input frames over."""

    def __init__(self, ops: _Ops, kernel, bias, k: int, activation: str):
        self.o, self.kernel, self.bias, self.k, self.activation = ops, kernel, bias, k, activation
        self.cache = None
        self.cache_t0 = 0

    def __call__(self, box: list, t0):
        """``box`` holds the input tensor and is emptied, so the input can be freed early."""
        x = box.pop()
        if x is None:
            return None, None
        o = self.o
        if self.cache is not None:
            x, t0 = o.cat(self.cache, x, axis=o.t_axis), self.cache_t0
        n = int(x.shape[o.t_axis])
        keep = self.k - 1
        if n < self.k:
            self.cache, self.cache_t0 = x, t0
            return None, None
        if keep:
            self.cache, self.cache_t0 = o.keep(x, n - keep), t0 + n - keep
        box.append(x)
        del x
        return o.conv(box, self.kernel, self.bias, self.k, self.activation), t0 + (self.k - 1) // 2


class _SkipQueue:
    """Frames of a skip connection waiting for the (delayed) up-path."""

    def __init__(self, ops: _Ops):
        self.o = ops
        self.buf = None
        self.t0 = 0

    def put(self, x, t0):
        if x is None:
            return
        if self.buf is None:
            self.buf, self.t0 = x, t0
        else:
            self.buf = self.o.cat(self.buf, x, axis=self.o.t_axis)

    def take(self, t0, n):
        a = t0 - self.t0
        out = self.o.tslice(self.buf, a, a + n)
        self.buf, self.t0 = self.o.keep(self.buf, a + n), t0 + n
        return out


class StreamingUNet:
    """Runs a built Keras U-Net frame-chunk by frame-chunk (see module docstring).

    ``precision``: the convolutions' dtype (float32, bfloat16, float16); ``data_format``: the
    layout of the tensors inside (channels_last, or channels_first for PyTorch experiments)."""

    def __init__(self, model, spec: UNetSpec, precision: str = "float32",
                 data_format: str = "channels_last"):
        from keras import ops

        if precision not in ("float32", "bfloat16", "float16"):
            raise ValueError(f"unknown precision {precision!r} (float32, bfloat16 or float16)")
        self.o = engine_ops(precision, data_format)
        self.spec = spec
        self.precision = precision
        layers = conv_layers(model)
        convs = spec.convs()
        if len(layers) != len(convs):
            raise ValueError("model and architecture spec disagree")
        self._weights = [self.o.weights(ops.convert_to_numpy(layer.kernel), ops.convert_to_numpy(layer.bias),
                                        c.activation == "softmax") + (c,)
                         for layer, c in zip(layers, convs)]
        self.reset()

    def reset(self):
        it = iter(self._weights)
        self.blocks = {name: [_TimeConv(self.o, kern, bias, c.k, c.activation)
                              for _, (kern, bias, c) in zip(range(len(specs)), it)]
                       for name, specs in self.spec.blocks().items()}
        self.cancel: Optional[CancelToken] = None   # set by the caller for fine-grained cancel
        self.skip_high = _SkipQueue(self.o)
        self.skip_mid = _SkipQueue(self.o)

    def _run(self, name, box: list, t0):
        """Run a block; ``box`` holds its input and is emptied (inputs are freed early).
        The cancel token is checked before every layer, so a cancel never waits for a whole chunk."""
        x = None
        for i, layer in enumerate(self.blocks[name]):
            if self.cancel is not None:
                self.cancel.raise_if_cancelled()
            if i:
                box, x = [x], None
            x, t0 = layer(box, t0)
        return x, t0

    def _input(self, x: np.ndarray):
        """(B, n, y, x, 1) float32 numpy → a device tensor in the engine's layout and dtype."""
        o = self.o
        if o.fmt == "channels_first":
            x = x.reshape((x.shape[0], 1) + x.shape[1:4])      # one channel: the same memory
        t = o.ops.convert_to_tensor(np.ascontiguousarray(x, np.float32))
        return t if o.dtype == "float32" else o.ops.cast(t, o.dtype)

    def push_tensor(self, x, t0: int):
        """Feed frames ``x`` ((B, n, y, x, 1) float32 numpy) that start at padded index ``t0``.

        Returns the class probabilities (float32 device tensor in the engine's layout) of the
        frames that became computable and the padded index of their first frame shifted back by
        the left reach, i.e. in the caller's output frame numbering; (None, None) when none did.
        On PyTorch with CUDA this returns as soon as the work is queued."""
        o = self.o
        high, th = self._run("enc1", [self._input(x)], t0)
        self.skip_high.put(high, th)
        pooled = None if high is None else o.pool(high)
        del high
        mid, tm = self._run("enc2", [pooled], th)
        self.skip_mid.put(mid, tm)
        pooled = None if mid is None else o.pool(mid)
        del mid
        b, tb = self._run("bottom", [pooled], tm)
        u, tu = self._run("up2", [None if b is None else o.upsample(b)], tb)
        del b
        if u is None:
            return None, None
        n = int(u.shape[o.t_axis])
        box = [o.cat(u, self.skip_mid.take(tu, n), axis=o.c_axis)]
        del u
        u, tu = self._run("dec2", box, tu)
        if u is None:
            return None, None
        box = [o.upsample(u)]
        del u
        u, tu = self._run("up1", box, tu)
        if u is None:
            return None, None
        box = [o.cat(u, self.skip_high.take(tu, int(u.shape[o.t_axis])), axis=o.c_axis)]
        del u
        u, tu = self._run("dec1", box, tu)
        y, ty = self._run("head", [u], tu)
        del u
        if y is None:
            return None, None
        return y, ty

    def push(self, x, t0: int) -> Tuple[Optional[np.ndarray], Optional[int]]:
        """As :meth:`push_tensor`, with the probabilities as numpy (B, m, y, x, classes)."""
        y, ty = self.push_tensor(x, t0)
        if y is None:
            return None, None
        if self.o.fmt == "channels_first":
            y = self.o.ops.transpose(y, (0, 2, 3, 4, 1))
        return self.o.ops.convert_to_numpy(y), ty

    def push_labels(self, x, t0: int):
        """As :meth:`push_tensor`, with the uint8 (label, score) device tensors (B, m, y, x)."""
        y, ty = self.push_tensor(x, t0)
        if y is None:
            return None, None
        return self.o.labels_and_score(y), ty
