"""Streaming, tiling-independent inference of the U-Net over a whole movie.

Time is never pooled in this network, so every convolution is run 'valid' in time and
'same' (zero-padded) in y and x, and each layer keeps the last k−1 frames of its input
between chunks. Frames therefore pass through the network once: no temporal overlap is
recomputed, and the result cannot depend on the chunk length. The movie is padded in
time by reflection (12 frames before, 14 after: the receptive field), which avoids the
reference's zero-padding artefact (spots present in frame 0 looked like sudden events).

Large frames are cut into spatial tiles that overlap by more than the receptive field
(36 px ≥ 33 px) on pooling-aligned positions; only tile cores are kept, so the result
equals a whole-frame computation. Tiles of one chunk go through the network as one batch.

Precision: the convolutions run in float32, bfloat16 or float16 (weights cast once, each chunk's
input cast on the device); the 1×1×1 softmax head, the argmax label and the score are computed in
float32. The label and the uint8 score are computed on the device, so only 2 bytes per voxel come
back (12 for float32 probabilities). On a GPU the next chunk is read and normalised while the
device computes the current one (PyTorch queues its kernels asynchronously).
"""

from __future__ import annotations

import time
from typing import Generator, List, Optional, Tuple

import numpy as np

from exodeep_gui.core.detection import SegmentationResult
from exodeep_gui.core.movie import Movie, MovieError
from exodeep_gui.core.normalize import normalize_frames
from exodeep_gui.io.movie_io import free_memory_bytes, temporary_memmap
from exodeep_gui.core.progress import CancelToken, Progress, ProgressClock
from exodeep_gui.ml.unet import UNetSpec, conv_layers

XY_HALO = 36       # ≥ the 33 px spatial reach, multiple of 4 (two 2× poolings)
ALIGN = 4
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
        self.o = _Ops(precision, data_format)
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


def tile_starts(size: int, tile: int, halo: int = XY_HALO) -> List[Tuple[int, int, int]]:
    """(tile origin, core start, core stop) along one axis; size and tile are multiples of 4."""
    if tile >= size:
        return [(0, 0, size)]
    out = []
    start = 0
    while start < size:
        origin = min(max(start - halo, 0), size - tile)
        stop = size if origin + tile >= size else origin + tile - halo   # no halo at the movie edge
        out.append((origin, start, stop))
        start = stop
    return out


def _allocate(shape, name: str) -> np.ndarray:
    """A zeroed uint8 array, on disk (temporary memory map) when it would crowd RAM."""
    nbytes = int(np.prod(shape))
    if nbytes > min(free_memory_bytes() // 4, 128 << 20):    # a fixed budget: a long movie's maps go to disk
        return temporary_memmap(shape, np.uint8, prefix=f"exodeep-{name}-")
    return np.zeros(shape, np.uint8)


def _round_up(n: int, m: int = ALIGN) -> int:
    return -(-n // m) * m


_POOL: dict = {}
THREAD_BLOCK = 16           # frames per thread when normalising a large chunk


def _normalize(raw: np.ndarray, source: str, first_frame: int) -> np.ndarray:
    """normalize_frames, frame blocks in threads for large chunks (NumPy's partition releases the
    interpreter lock): a GPU's chunk of hundreds of frames is ready sooner. Same result."""
    import os

    n = len(raw)
    workers = min(8, os.cpu_count() or 1, n // THREAD_BLOCK)
    if workers < 2:
        return normalize_frames(raw, source=source, first_frame=first_frame)
    if "pool" not in _POOL:
        from concurrent.futures import ThreadPoolExecutor

        _POOL["pool"] = ThreadPoolExecutor(min(8, os.cpu_count() or 1), thread_name_prefix="exodeep-norm")
    out = np.empty(raw.shape, np.float32)
    step = -(-n // workers)

    def one(a):
        out[a:a + step] = normalize_frames(raw[a:a + step], source=source, first_frame=first_frame + a)

    for f in [_POOL["pool"].submit(one, a) for a in range(0, n, step)]:
        f.result()
    return out


def chunk_frames(n_frames: int, frame_voxels: int, voxels_per_chunk: int) -> int:
    """Frames per network call: at most ``voxels_per_chunk`` voxels, the ``n_frames`` (padded) frames
    split into chunks of equal length (so the last chunk is not a sliver)."""
    most = max(1, voxels_per_chunk // frame_voxels)
    n_chunks = -(-n_frames // most)
    return -(-n_frames // n_chunks)


class _Timer:
    """Seconds per stage, accumulated into ``stats`` (when given); the network's stage waits for
    the device first (see ml.device.synchronize), which stops the overlap of reading and compute."""

    def __init__(self, stats: Optional[dict]):
        self.stats = stats
        self.t = time.perf_counter()
        if stats is not None:
            from exodeep_gui.ml.device import synchronize

            self.sync = synchronize
            for k in ("setup", "read", "normalize", "network", "transfer"):
                stats.setdefault(k, 0.0)

    def restart(self):
        """Start the next lap now (time spent by the caller of the generator is nobody's)."""
        self.t = time.perf_counter()

    def lap(self, stage: str, sync: bool = False):
        if self.stats is None:
            return
        if sync:
            self.sync()
        now = time.perf_counter()
        self.stats[stage] += now - self.t
        self.t = now


def segment_movie(model, spec: UNetSpec, movie: Movie, *, max_tile: int = 512,
                  voxels_per_chunk: Optional[int] = 500_000, precision: str = "float32",
                  data_format: Optional[str] = None, cancel: Optional[CancelToken] = None,
                  stats: Optional[dict] = None) -> Generator[Progress, None, SegmentationResult]:
    """Generator: yields progress per chunk and returns a :class:`SegmentationResult`.

    ``precision``: float32, bfloat16, float16 or auto (see ml.device.resolve_precision);
    ``voxels_per_chunk``: None for the device's size (ml.device.voxels_per_chunk_for);
    ``stats``: a dict that receives the seconds spent reading, normalising (and tiling), in the
    network (the device synchronised) and bringing the labels back, and the chunking used."""
    from exodeep_gui.ml import device

    if precision == "auto":               # an explicit one is used as given (Detector checks it)
        precision = device.resolve_precision(precision)
    if voxels_per_chunk is None:
        voxels_per_chunk = device.voxels_per_chunk_for(spec, precision)
    T, H, W = movie.shape
    H4, W4 = _round_up(H), _round_up(W)
    tile_y = min(_round_up(max_tile), H4)
    tile_x = min(_round_up(max_tile), W4)
    ys, xs = tile_starts(H4, tile_y), tile_starts(W4, tile_x)
    tiles = [(y, x) for y in ys for x in xs]
    B = len(tiles)
    before, after = spec.time_reach
    order = np.pad(np.arange(T), (before, after), mode="reflect" if T > 1 else "edge")
    chunk = chunk_frames(len(order), B * tile_y * tile_x, voxels_per_chunk)
    if stats is not None:
        stats.update(precision=precision, voxels_per_chunk=int(voxels_per_chunk), chunk_frames=chunk,
                     chunks=-(-len(order) // chunk), tiles=B)
    timer = _Timer(stats)                 # (from here: "setup" is building the engine)
    source = str(movie.source or movie.name)

    def prepare(a):
        idx = order[a:a + chunk]
        lo, hi = int(idx.min()), int(idx.max()) + 1
        raw = np.asarray(movie.frames(lo, hi))
        timer.lap("read")
        frames = _normalize(raw, source, lo)[idx - lo]
        if (H4, W4) == (H, W):
            padded = frames
        else:
            padded = np.zeros((len(idx), H4, W4), np.float32)
            padded[:, :H, :W] = frames
        if B == 1:
            batch = padded[None, ..., None]
        else:
            batch = np.stack([padded[:, y0:y0 + tile_y, x0:x0 + tile_x]
                              for (y0, _, _), (x0, _, _) in tiles])[..., None]
        timer.lap("normalize")
        return batch

    labels = _allocate((T, H, W), "labels")
    score = _allocate((T, H, W), "score")
    engine = StreamingUNet(model, spec, precision, data_format or device.engine_data_format())
    engine.cancel = cancel
    to_numpy = engine.o.ops.convert_to_numpy
    timer.lap("setup", sync=True)
    clock = ProgressClock("detect", T)
    done = 0
    yield clock.report(0, "starting")
    timer.restart()
    starts = list(range(0, len(order), chunk))
    batch = prepare(starts[0])
    for i, a in enumerate(starts):
        if cancel is not None:
            cancel.raise_if_cancelled()
        out, t_out = engine.push_labels(batch, a)
        timer.lap("network", sync=True)
        # read and normalise the next chunk while the device works on this one
        batch = prepare(starts[i + 1]) if i + 1 < len(starts) else None
        if out is None:
            continue
        lab, sc = (to_numpy(v) for v in out)
        del out
        t_out -= before                           # padded numbering → movie frame numbers
        m = lab.shape[1]
        for b, ((y0, cy0, cy1), (x0, cx0, cx1)) in enumerate(tiles):
            ty = slice(cy0 - y0, min(cy1, H) - y0)
            tx = slice(cx0 - x0, min(cx1, W) - x0)
            dst = (slice(t_out, t_out + m), slice(cy0, min(cy1, H)), slice(cx0, min(cx1, W)))
            labels[dst] = lab[b, :, ty, tx]
            score[dst] = sc[b, :, ty, tx]
        timer.lap("transfer")
        done = t_out + m
        yield clock.report(done, f"frame {done}/{T}")
        timer.restart()
    if done != T:
        raise RuntimeError(f"internal error: {done} of {T} frames segmented")
    return SegmentationResult(labels=labels, score=score)


# ---------------------------------------------------------------- the reference's tiling (equivalence)
REFERENCE_CROP = 25        # voxels dropped at each side of a cube (deepfinder/inference.py: pcrop)
REFERENCE_OVERLAP = 55     # 2 × crop + 5 (poverlap)
REFERENCE_PATCH = 160      # edf_segment's default cube side


def reference_centres(size: int, patch: int) -> List[int]:
    """Cube centres, in zero-padded coordinates, along an axis of ``size`` voxels, as the reference
    computes them; ValueError when the axis is too short for one cube."""
    padded, half = size + 2 * REFERENCE_CROP, patch // 2
    if padded <= patch:
        raise ValueError(f"the reference's tiling with cubes of {patch} needs at least "
                         f"{patch - 2 * REFERENCE_CROP + 1}")
    centres = list(range(half, padded - half, patch + 1 - REFERENCE_OVERLAP))
    if centres[-1] < padded - half:
        centres.append(padded - half)
    return centres


def segment_reference_tiling(model, spec: UNetSpec, movie: Movie, *, patch: int = REFERENCE_PATCH,
                             cancel: Optional[CancelToken] = None
                             ) -> Generator[Progress, None, SegmentationResult]:
    """The reference's inference, step for step, for equivalence with ExoDeepFinder's results.

    The whole movie is normalised, zero-padded by 25 voxels on t, y and x, cut into cubes of
    ``patch`` whose central (patch − 50)³ is kept and summed in float16, divided by the number of
    cubes that covered each voxel, and the label is the argmax (deepfinder/inference.py). It keeps
    the reference's artefacts on purpose: seams where the kept cores (25 px from a cube's edge) are
    nearer than the network's 33 px reach, and false events near the first and last frames from the
    zero padding in time. It loads the movie into memory and processes 5–10× its voxels; the
    default engine (:func:`segment_movie`) has neither artefact and is several times faster.
    """
    from keras import ops

    if patch % ALIGN:
        raise ValueError(f"cube side {patch} must be a multiple of {ALIGN}")
    T, H, W = movie.shape
    source = str(movie.source or movie.name)
    centres = []
    for n, axis in ((T, "frames"), (H, "px in y"), (W, "px in x")):
        try:
            centres.append(reference_centres(n, patch))
        except ValueError as exc:
            raise MovieError(f"{source}: {n} {axis}; {exc}") from None
    c = REFERENCE_CROP
    data = np.pad(normalize_frames(movie.frames(0, T), source=source), c)
    dims = data.shape
    n_cubes = int(np.prod([len(cs) for cs in centres]))
    acc = np.zeros(dims + (spec.n_classes,), np.float16)
    count = np.zeros(dims, np.int8)
    half, keep = patch // 2, patch // 2 - c
    clock = ProgressClock("detect", n_cubes)
    yield clock.report(0, f"{n_cubes} cubes of {patch}³ (the reference's tiling)")
    done = 0
    for ct in centres[0]:
        for cy in centres[1]:
            for cx in centres[2]:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                cube = data[ct - half:ct + half, cy - half:cy + half, cx - half:cx + half]
                # compiled: one 160³ cube peaks at ~3 GB; an eager model(x) call needed ~8 GB (measured)
                pred = ops.convert_to_numpy(model.predict_on_batch(cube[None, ..., None]))[0]
                core = (slice(ct - keep, ct + keep), slice(cy - keep, cy + keep), slice(cx - keep, cx + keep))
                inner = slice(half - keep, half + keep)
                acc[core] += pred[inner, inner, inner].astype(np.float16)
                count[core] += 1
                done += 1
                yield clock.report(done, f"cube {done}/{n_cubes}")
    inside = (slice(c, c + T), slice(c, c + H), slice(c, c + W))
    probs = acc[inside] / count[inside][..., None]        # float16, as the reference divides
    labels = np.argmax(probs, axis=-1).astype(np.uint8)
    score = np.rint(probs[..., 2].astype(np.float32) * 255.0).astype(np.uint8)
    return SegmentationResult(labels=labels, score=score)
