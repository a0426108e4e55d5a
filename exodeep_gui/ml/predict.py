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
"""

from __future__ import annotations

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


class _Ops:
    """The few keras.ops the engine needs, bound once."""

    def __init__(self):
        from keras import ops

        self.ops = ops

    def conv(self, box: list, kernel, bias, k, activation):
        ops = self.ops
        x = box.pop()
        if k > 1:
            lo, hi = (k - 1) // 2, k // 2
            x = ops.pad(x, ((0, 0), (0, 0), (lo, hi), (lo, hi), (0, 0)))
        y = ops.conv(x, kernel, strides=1, padding="valid", data_format="channels_last")
        del x
        y = ops.add(y, bias)
        return ops.softmax(y, axis=-1) if activation == "softmax" else ops.relu(y)

    def pool(self, x):
        return self.ops.max_pool(x, pool_size=(1, 2, 2), strides=(1, 2, 2), padding="valid",
                                 data_format="channels_last")

    def upsample(self, x):
        return self.ops.repeat(self.ops.repeat(x, 2, axis=2), 2, axis=3)

    def cat(self, a, b, axis):
        return self.ops.concatenate([a, b], axis=axis)


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
        if self.cache is not None:
            x, t0 = self.o.cat(self.cache, x, axis=1), self.cache_t0
        n = int(x.shape[1])
        keep = self.k - 1
        if n < self.k:
            self.cache, self.cache_t0 = x, t0
            return None, None
        if keep:
            self.cache, self.cache_t0 = x[:, n - keep:], t0 + n - keep
        box.append(x)
        del x
        return self.o.conv(box, self.kernel, self.bias, self.k, self.activation), t0 + (self.k - 1) // 2


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
            self.buf = self.o.cat(self.buf, x, axis=1)

    def take(self, t0, n):
        a = t0 - self.t0
        out = self.buf[:, a:a + n]
        self.buf, self.t0 = self.buf[:, a + n:], t0 + n
        return out


class StreamingUNet:
    """Runs a built Keras U-Net frame-chunk by frame-chunk (see module docstring)."""

    def __init__(self, model, spec: UNetSpec):
        from keras import ops

        self.o = _Ops()
        self.spec = spec
        layers = conv_layers(model)
        convs = spec.convs()
        if len(layers) != len(convs):
            raise ValueError("model and architecture spec disagree")
        self._weights = [(ops.convert_to_tensor(layer.kernel), ops.convert_to_tensor(layer.bias), c)
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

    def push(self, x, t0: int) -> Tuple[Optional[np.ndarray], Optional[int]]:
        """Feed frames ``x`` (B, n, y, x, 1) that start at padded index ``t0``.

        Returns the class probabilities of the frames that became computable
        (B, m, y, x, classes) as numpy and the padded index of their first frame
        shifted back by the left reach, i.e. in the caller's output frame numbering.
        """
        o = self.o
        high, th = self._run("enc1", [o.ops.convert_to_tensor(x)], t0)
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
        n = int(u.shape[1])
        box = [o.cat(u, self.skip_mid.take(tu, n), axis=-1)]
        del u
        u, tu = self._run("dec2", box, tu)
        if u is None:
            return None, None
        box = [o.upsample(u)]
        del u
        u, tu = self._run("up1", box, tu)
        if u is None:
            return None, None
        box = [o.cat(u, self.skip_high.take(tu, int(u.shape[1])), axis=-1)]
        del u
        u, tu = self._run("dec1", box, tu)
        y, ty = self._run("head", [u], tu)
        del u
        if y is None:
            return None, None
        return o.ops.convert_to_numpy(y), ty


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
    if nbytes > free_memory_bytes() // 4:
        return temporary_memmap(shape, np.uint8, prefix=f"exodeep-{name}-")
    return np.zeros(shape, np.uint8)


def _round_up(n: int, m: int = ALIGN) -> int:
    return -(-n // m) * m


def segment_movie(model, spec: UNetSpec, movie: Movie, *, max_tile: int = 512,
                  voxels_per_chunk: int = 500_000, cancel: Optional[CancelToken] = None,
                  ) -> Generator[Progress, None, SegmentationResult]:
    """Generator: yields progress per chunk and returns a :class:`SegmentationResult`."""
    T, H, W = movie.shape
    H4, W4 = _round_up(H), _round_up(W)
    tile_y = min(_round_up(max_tile), H4)
    tile_x = min(_round_up(max_tile), W4)
    ys, xs = tile_starts(H4, tile_y), tile_starts(W4, tile_x)
    tiles = [(y, x) for y in ys for x in xs]
    B = len(tiles)
    chunk = max(1, voxels_per_chunk // (B * tile_y * tile_x))
    before, after = spec.time_reach
    order = np.pad(np.arange(T), (before, after), mode="reflect" if T > 1 else "edge")

    labels = _allocate((T, H, W), "labels")
    score = _allocate((T, H, W), "score")
    engine = StreamingUNet(model, spec)
    engine.cancel = cancel
    clock = ProgressClock("detect", T)
    done = 0
    yield clock.report(0, "starting")
    for a in range(0, len(order), chunk):
        if cancel is not None:
            cancel.raise_if_cancelled()
        idx = order[a:a + chunk]
        lo, hi = int(idx.min()), int(idx.max()) + 1
        frames = normalize_frames(movie.frames(lo, hi), source=str(movie.source or movie.name),
                                  first_frame=lo)[idx - lo]
        padded = np.zeros((len(idx), H4, W4), np.float32)
        padded[:, :H, :W] = frames
        batch = np.stack([padded[:, y0:y0 + tile_y, x0:x0 + tile_x]
                          for (y0, _, _), (x0, _, _) in tiles])[..., None]
        probs, t_out = engine.push(batch, a)
        if probs is None:
            continue
        t_out -= before                           # padded numbering → movie frame numbers
        m = probs.shape[1]
        lab = np.argmax(probs, axis=-1).astype(np.uint8)
        sc = np.rint(probs[..., 2] * 255.0).astype(np.uint8)
        for b, ((y0, cy0, cy1), (x0, cx0, cx1)) in enumerate(tiles):
            ty = slice(cy0 - y0, min(cy1, H) - y0)
            tx = slice(cx0 - x0, min(cx1, W) - x0)
            dst = (slice(t_out, t_out + m), slice(cy0, min(cy1, H)), slice(cx0, min(cx1, W)))
            labels[dst] = lab[b, :, ty, tx]
            score[dst] = sc[b, :, ty, tx]
        done = t_out + m
        yield clock.report(done, f"frame {done}/{T}")
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
