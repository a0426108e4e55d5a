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
from exodeep_gui.io.memory import free_memory_bytes, temporary_memmap
from exodeep_gui.core.progress import CancelToken, Progress, ProgressClock
from exodeep_gui.ml.streaming import StreamingUNet
from exodeep_gui.ml.unet import UNetSpec

XY_HALO = 36       # ≥ the 33 px spatial reach, multiple of 4 (two 2× poolings)
ALIGN = 4


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

    def lap(self, stage: str, sync: bool = False, value=None):
        """``value``: what the stage computed (JAX waits for it; see ml.device.synchronize)."""
        if self.stats is None:
            return
        if sync:
            self.sync(value)
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
        timer.lap("network", sync=True, value=out)
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
