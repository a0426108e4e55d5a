"""Test-time augmentation (TTA): the network run on 4 or 8 rotations and mirror images of the movie.

The task does not change when frames are rotated by 90° or mirrored (the dihedral group of the
(y, x) plane; time is never flipped, and per-frame normalisation does not change either), so each
view is a fair second opinion of the same network. Each view is read lazily through
:func:`view_movie` (frames are rotated as the engine reads them: the movie is never loaded twice)
and runs through the streaming engine (``ml.predict.segment_movie``) with its memory bound; its
label and class-2 maps are brought back to the original orientation block of frames by block of
frames and accumulated into three maps (:class:`TTAAccumulator`): the sum of the class-2
probabilities (→ the mean probability), one bit per view that labelled the voxel exocytosis, and
how many views labelled it a spot. Each view's own maps are dropped before the next view runs.

Events (:meth:`TTAAccumulator.events`): the **consensus** voxels are those whose mean class-2
probability over the views is at least 0.5; their 3D components are the events, with ``score`` =
the peak of the mean probability (k/n for a network whose output is binary: the share of views)
and ``views`` = how many views labelled any of their voxels exocytosis. Components of the voxels
that *some* view labelled exocytosis but that hold no consensus voxel are kept as
**candidates** (``candidate`` = 1): their score, from the same mean map, is below 0.5 by
construction, so they pass no filter at the default threshold unless a reviewer accepts them.
"""

from __future__ import annotations

from typing import Generator, Optional, Sequence, Tuple

import numpy as np

from exodeep_gui.core.detection import CONSENSUS, SegmentationResult
from exodeep_gui.core.events import EventTable
from exodeep_gui.core.movie import Movie
from exodeep_gui.core.postprocess import events_from_segmentation
from exodeep_gui.core.progress import CancelToken, Progress

View = Tuple[int, bool]         # (quarter turns, mirrored in x first)
VIEWS_8: Tuple[View, ...] = tuple((k, f) for f in (False, True) for k in range(4))
VIEWS_4: Tuple[View, ...] = ((0, False), (0, True), (2, False), (2, True))   # keep the frame's shape
EVENT, SPOT = 2, 1
BLOCK_FRAMES = 64
CONSENSUS_SCORE = int(CONSENSUS * 255 + 0.5)    # core.detection's CONSENSUS on the uint8 score scale (128)


def views_for(n: int) -> Tuple[View, ...]:
    """The views of a TTA of ``n`` (1, 4 or 8); the first is always the movie as it is."""
    if n == 1:
        return ((0, False),)
    if n == 4:
        return VIEWS_4
    if n == 8:
        return VIEWS_8
    raise ValueError(f"test-time augmentation takes 1, 4 or 8 views, not {n}")


def to_view(a: np.ndarray, view: View) -> np.ndarray:
    """Frames (…, y, x) as ``view`` sees them: mirrored in x, then turned ``k`` quarter turns."""
    k, flip = view
    if flip:
        a = a[..., ::-1]
    return np.rot90(a, k, axes=(-2, -1))


def from_view(a: np.ndarray, view: View) -> np.ndarray:
    """The inverse of :func:`to_view`: maps of a view back in the movie's orientation."""
    k, flip = view
    a = np.rot90(a, -k, axes=(-2, -1))
    return a[..., ::-1] if flip else a


class _ViewData:
    """A movie's frames as a view sees them, read lazily (array-like: shape, dtype, slicing)."""

    def __init__(self, movie: Movie, view: View):
        self.movie, self.view = movie, view
        T, H, W = movie.shape
        self.shape = (T, W, H) if view[0] % 2 else (T, H, W)
        self.dtype = movie.dtype

    def __getitem__(self, key):
        if isinstance(key, slice):
            start, stop, _ = key.indices(self.shape[0])
            raw = self.movie.frames(start, stop)
        else:
            raw = self.movie.frame(int(key))
        return np.ascontiguousarray(to_view(raw, self.view))


def view_movie(movie: Movie, view: View) -> Movie:
    """``movie`` as ``view`` sees it; frames are turned as they are read (nothing is copied)."""
    if view == (0, False):
        return movie
    return Movie(_ViewData(movie, view), source=movie.source, pixel_size_um=movie.pixel_size_um,
                 frame_interval_s=movie.frame_interval_s, channel=movie.channel)


RESULT_BUDGET = 128 << 20      # bytes of one output map held in memory (as ml.predict's)
ACCUMULATOR_BUDGET = 32 << 20  # … of one of the three accumulators, which live beside a view's maps


def allocate(shape, dtype, name: str, budget: int = RESULT_BUDGET) -> np.ndarray:
    """A zeroed array, on disk (a temporary memory map) where it would crowd memory: above
    ``budget`` bytes or a quarter of the free memory (as the engine's own output maps: ml.predict)."""
    from exodeep_gui.io.memory import free_memory_bytes, temporary_memmap

    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if nbytes > min(free_memory_bytes() // 4, budget):
        return temporary_memmap(shape, dtype, prefix=f"exodeep-tta-{name}-")
    return np.zeros(shape, dtype)


class _Derived:
    """A read-only (t, y, x) map computed block by block from another (nothing stored)."""

    def __init__(self, base, fn):
        self.base, self.fn, self.shape = base, fn, base.shape

    def __getitem__(self, key):
        return self.fn(np.asarray(self.base[key]))


def popcount8(a: np.ndarray) -> np.ndarray:
    """Number of set bits of each uint8 (or smaller non-negative integer) value."""
    return np.unpackbits(np.asarray(a, np.uint8)[..., None], axis=-1).sum(axis=-1)


class TTAAccumulator:
    """The views' outputs of one movie, combined (see the module docstring)."""

    def __init__(self, shape, n_views: int):
        if not 1 <= n_views <= 8:
            raise ValueError(f"1 to 8 views, not {n_views}")
        self.shape, self.n = tuple(int(s) for s in shape), n_views
        b = ACCUMULATOR_BUDGET
        self.psum = allocate(self.shape, np.uint16, "psum", b)   # Σ round(255 · P(event)) over views
        self.seen = allocate(self.shape, np.uint8, "seen", b)    # bit v: view v's label is exocytosis
        self.spot = allocate(self.shape, np.uint8, "spot", b)    # views whose label is a spot
        self.added = 0

    def add(self, seg: SegmentationResult, view: View) -> None:
        """One view's maps (in the view's orientation), brought back and added."""
        if self.added >= self.n:
            raise ValueError(f"all {self.n} views were added already")
        bit = np.uint8(1 << self.added)
        T = self.shape[0]
        for a in range(0, T, BLOCK_FRAMES):
            b = min(T, a + BLOCK_FRAMES)
            lab = from_view(np.asarray(seg.labels[a:b]), view)
            sc = from_view(np.asarray(seg.score[a:b]), view)
            if lab.shape != (b - a,) + self.shape[1:]:
                raise ValueError(f"a view's maps are {lab.shape[1:]}, the movie's {self.shape[1:]}")
            self.psum[a:b] += sc
            self.seen[a:b] |= np.where(lab == EVENT, bit, np.uint8(0))
            self.spot[a:b] += (lab == SPOT)
        self.added += 1

    def consensus(self) -> SegmentationResult:
        """The combined maps: score = the mean class-2 probability (× 255, rounded); label 2 where
        it is at least 0.5, else 1 where most views say spot, else 0."""
        if self.added != self.n:
            raise ValueError(f"{self.added} of {self.n} views added")
        labels = allocate(self.shape, np.uint8, "labels")
        score = allocate(self.shape, np.uint8, "score")
        T, n = self.shape[0], self.n
        for a in range(0, T, BLOCK_FRAMES):               # (uint16 and uint8 arithmetic: no wide copies)
            b = min(T, a + BLOCK_FRAMES)
            sc = ((2 * np.asarray(self.psum[a:b]) + n) // (2 * n)).astype(np.uint8)   # the mean, half up
            score[a:b] = sc
            lab = np.where(np.asarray(self.spot[a:b]) > n // 2, np.uint8(SPOT), np.uint8(0))
            lab[sc >= CONSENSUS_SCORE] = EVENT
            labels[a:b] = lab
        return SegmentationResult(labels=labels, score=score)

    def events(self, seg: Optional[SegmentationResult] = None, method: str = "components",
               bandwidth: float = 5.0) -> EventTable:
        """The consensus events (``candidate`` 0) and the events some views saw that hold no
        consensus voxel (``candidate`` 1), with ``views`` (how many views saw each) and
        ``p_mean`` (mean of the mean class-2 probability over its voxels); ``seg``: the result of
        :meth:`consensus` when already computed."""
        seg = seg or self.consensus()
        stats = {"seen_bits": (self.seen, "or"), "p_mean": (seg.score, "mean")}
        found = events_from_segmentation(seg.labels, seg.score, method=method, bandwidth=bandwidth, stats=stats)
        union = _Derived(self.seen, lambda s: np.where(s > 0, np.uint8(EVENT), np.uint8(0)))
        inside = _Derived(seg.labels, lambda lab: (lab == EVENT).astype(np.uint8))
        if method != "components":                      # mean shift reads whole maps
            union, inside = union[:], inside[:]
        some = events_from_segmentation(union, seg.score, method=method, bandwidth=bandwidth,
                                        stats={**stats, "in_consensus": (inside, "max")})
        extra_only = some.select(some.extra.pop("in_consensus") == 0)
        found.extra["candidate"] = np.zeros(len(found))
        extra_only.extra["candidate"] = np.ones(len(extra_only))
        table = found if len(extra_only) == 0 else extra_only if len(found) == 0 else found.concat(extra_only)
        bits = table.extra.pop("seen_bits")
        table.extra["views"] = popcount8(bits.astype(np.uint8)).astype(float)
        table.extra["p_mean"] = table.extra["p_mean"] / 255.0
        return table.sorted()


def segment_views(model, spec, movie: Movie, n_views: int, *, cancel: Optional[CancelToken] = None,
                  **engine) -> Generator[Progress, None, TTAAccumulator]:
    """Run the streaming engine on each of the ``n_views`` views of ``movie``, one after the
    other (each view's maps freed before the next), accumulating them; yields progress over all
    views; ``engine``: max_tile, voxels_per_chunk, precision (as ml.predict.segment_movie)."""
    from exodeep_gui.ml.predict import segment_movie

    views = views_for(n_views)
    acc = TTAAccumulator(movie.shape, len(views))
    T = movie.n_frames
    for v, view in enumerate(views):
        gen = segment_movie(model, spec, view_movie(movie, view), cancel=cancel, **engine)
        while True:
            try:
                p = next(gen)
            except StopIteration as stop:
                seg = stop.value
                break
            yield Progress(p.stage, v * T + p.done, len(views) * T, f"view {v + 1}/{len(views)}: {p.message}",
                           p.elapsed_s)
        acc.add(seg, view)
        del seg
    return acc


def detect_views(model, spec, movie: Movie, n_views: int, method: str = "components", bandwidth: float = 5.0,
                 cancel: Optional[CancelToken] = None, **engine):
    """Generator: TTA segmentation then events; returns (SegmentationResult, EventTable)."""
    acc = yield from segment_views(model, spec, movie, n_views, cancel=cancel, **engine)
    yield Progress("events", 0, 1, f"grouping voxels into events ({n_views} views)")
    seg = acc.consensus()
    acc.psum = acc.spot = None                        # only the views' bits are needed from here
    table = acc.events(seg, method=method, bandwidth=bandwidth)
    return seg, table


def subset(views: Sequence[View], n: int) -> Tuple[int, ...]:
    """Indices into ``views`` (a run of all 8) of the views of a TTA of ``n`` (for benchmarks
    that run the 8 views once and combine 1, 4 and 8 of them)."""
    return tuple(list(views).index(v) for v in views_for(n))
