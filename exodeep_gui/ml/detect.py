"""Detection of exocytosis events in a movie: normalise → streaming U-Net → events.

``detect_events`` is a generator (progress reports, cancel token) returning a
:class:`Detection` that keeps the per-voxel output, so changing the score threshold or the
minimum size re-filters events instantly without running the network again.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, replace
from typing import Generator, Optional

from exodeep_gui.core.confidence import events_with_stats, with_confidence
from exodeep_gui.core.detection import TTA_CHOICES, Detection, DetectOptions, SegmentationResult
from exodeep_gui.core.movie import Movie, MovieError
from exodeep_gui.core.progress import CancelToken, Progress, prefixed, run_to_end
from exodeep_gui.ml.models import (ModelInfo, load_keras_model, recommended_filter, resolve_for_detection,
                                   resolve_model)
from exodeep_gui.ml.predict import segment_movie, segment_reference_tiling
from exodeep_gui.ml.tta import detect_views

MIN_FRAMES = 16

# Seconds per stage of this process's model load and last detection (for benchmarks/bench_detect.py,
# through ``EXODEEP_TIMINGS``; see exodeep_gui.cli.detect): imports, model, grouping, and with
# EXODEEP_TIMINGS set, the engine's setup, read, normalize, network and transfer (timing those waits
# for the device after each chunk, which a GPU run should not do otherwise).
TIMINGS: dict = {}


# Imported by Keras, where they are installed, only for features ExoDeep never uses (scikit-learn
# wrappers, pandas inputs, plotting); together 1.3 s of the 3.9 s of CPU time of `import keras`
# (measured: 2.5 s without them).
OPTIONAL_FOR_KERAS = ("sklearn", "pandas", "matplotlib")


def import_keras_quickly():
    """``import keras`` (TensorFlow) without :data:`OPTIONAL_FOR_KERAS` where they are not imported yet:
    Keras imports each inside ``try: … except ImportError`` and does without. They are imported
    normally afterwards by whoever needs them. Also freezes the collector at exit (see below)."""
    from exodeep_gui.ml.unet import import_keras

    if "keras" in sys.modules:
        return sys.modules["keras"]
    import atexit
    import gc

    # at exit, the collector's last passes over TensorFlow's hundreds of thousands of objects took
    # 1.2-1.7 s of every command (measured); frozen, they are skipped (files are closed before)
    atexit.register(gc.freeze)
    blocked = [name for name in OPTIONAL_FOR_KERAS if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None                # `import name` raises ImportError meanwhile
    try:
        return import_keras()
    finally:
        for name in blocked:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


class Detector:
    """A loaded model, ready to run on movies (Keras imported on construction)."""

    def __init__(self, info: ModelInfo):
        self.info = info
        t0 = time.perf_counter()
        import_keras_quickly()
        t1 = time.perf_counter()
        self.model = load_keras_model(info)
        TIMINGS.update(imports=t1 - t0, model=time.perf_counter() - t1)

    @classmethod
    def load(cls, name_or_path: str) -> "Detector":
        return cls(resolve_model(name_or_path))

    @property
    def name(self) -> str:
        return self.info.name

    def detect(self, movie: Movie, options: DetectOptions = DetectOptions(),
               cancel: Optional[CancelToken] = None) -> Generator[Progress, None, Detection]:
        from exodeep_gui.ml.device import resolve_precision, voxels_per_chunk_for

        if movie.n_frames < MIN_FRAMES:
            raise MovieError(f"{movie.source or movie.name}: {movie.n_frames} frames; the model needs "
                             f"at least {MIN_FRAMES}")
        rec_t, rec_s = recommended_filter(self.info.config)
        options = options.with_(threshold=rec_t if options.threshold is None else options.threshold,
                                min_size=rec_s if options.min_size is None else options.min_size)
        if options.tta not in TTA_CHOICES:
            raise ValueError(f"test-time augmentation takes 1, 4 or 8 views, not {options.tta}")
        cands = None
        if options.tiling == "reference":
            if options.tta != 1:
                raise ValueError("test-time augmentation runs with the streaming engine, not the reference's tiling")
            seg = yield from segment_reference_tiling(self.model, self.info.spec, movie, patch=options.cube,
                                                      cancel=cancel)
        elif options.tiling == "streaming":
            # "auto" and a device-sized chunk are resolved here, so the Detection says what ran
            precision = resolve_precision(options.precision)
            chunk = options.voxels_per_chunk or voxels_per_chunk_for(self.info.spec, precision)
            options = options.with_(precision=precision, voxels_per_chunk=chunk)
            engine = dict(max_tile=options.max_tile, voxels_per_chunk=chunk, precision=precision)
            if options.tta != 1:
                seg, cands = yield from detect_views(self.model, self.info.spec, movie, options.tta, options.method,
                                                     options.bandwidth, cancel=cancel, **engine)
            else:
                stats = {} if os.environ.get("EXODEEP_TIMINGS") else None
                seg = yield from segment_movie(self.model, self.info.spec, movie, cancel=cancel, stats=stats,
                                               **engine)
                TIMINGS.update({k: v for k, v in (stats or {}).items() if isinstance(v, float)})
        else:
            raise ValueError(f"unknown tiling {options.tiling!r} (streaming or reference)")
        if cands is None:
            yield Progress("events", 0, 1, "grouping voxels into events")
            t0 = time.perf_counter()
            cands = events_with_stats(seg.labels, seg.score, method=options.method, bandwidth=options.bandwidth)
            TIMINGS["grouping"] = time.perf_counter() - t0
        if options.confidence:
            cands = yield from with_confidence(movie, cands, options.threshold, options.min_size, cancel)
        return Detection(movie.name, seg, cands, options, self.name)

    def detect_blocking(self, movie: Movie, options: DetectOptions = DetectOptions(),
                        callback=None) -> Detection:
        return run_to_end(self.detect(movie, options), callback)


# ---------------------------------------------------------------- detection in a child process
@dataclass(frozen=True)
class MovieRef:
    """How a child process gets a movie the parent has open: a ``.npy`` file the parent wrote
    (movies held in memory) or the movie's own file, opened again (memory-mapped or lazy)."""

    path: str
    kind: str                       # "npy" or "open"
    source: Optional[str]
    channel: int
    pixel_size_um: Optional[float]
    frame_interval_s: Optional[float]

    def open(self) -> Movie:
        from pathlib import Path

        import numpy as np

        if self.kind == "npy":
            movie = Movie(np.load(self.path, mmap_mode="r"), channel=self.channel)
        else:
            from exodeep_gui.io.movie_io import open_movie

            movie = open_movie(self.path, channel=self.channel)
        movie.source = Path(self.source) if self.source else None
        movie.pixel_size_um, movie.frame_interval_s = self.pixel_size_um, self.frame_interval_s
        return movie


def movie_ref(movie: Movie, folder, index: int) -> MovieRef:
    """Hand ``movie`` to a child: its file when it can be opened again there (memory-mapped,
    frame folders, HDF5, ND2: nothing is copied), else a ``.npy`` copy in ``folder``."""
    from pathlib import Path

    import numpy as np

    source = str(movie.source) if movie.source is not None else None
    in_memory = isinstance(movie.data, np.ndarray) and not isinstance(movie.data, np.memmap)
    if source and not in_memory and Path(source).exists():
        return MovieRef(source, "open", source, movie.channel, movie.pixel_size_um, movie.frame_interval_s)
    path = Path(folder) / f"movie_{index}.npy"
    out = np.lib.format.open_memmap(path, mode="w+", dtype=movie.dtype, shape=movie.shape)
    for a in range(0, movie.n_frames, 64):
        out[a:a + 64] = movie.frames(a, a + 64)
    out.flush()
    del out
    return MovieRef(str(path), "npy", source, movie.channel, movie.pixel_size_um, movie.frame_interval_s)


_LOADED: dict = {}


def cached_detector(model_name: str) -> Detector:
    """The detector of ``model_name``, loaded once per process (a warm engine process runs many
    jobs) and again only when its weights file changed (a model folder retrained in place)."""
    return cached_detector_of(resolve_model(model_name))


def cached_detector_of(info: ModelInfo) -> Detector:
    """:func:`cached_detector` of a resolved model."""
    stat = info.weights.stat()
    signature = (info.name, str(info.weights), stat.st_mtime_ns, stat.st_size)
    cached = _LOADED.get("detector")
    if cached is None or cached[0] != signature:
        _LOADED.clear()                       # one model at a time: free the old one first
        _LOADED["detector"] = (signature, Detector(info))
    return _LOADED["detector"][1]


@dataclass(frozen=True)
class DetectionRecord:
    """One movie's detection as the child hands it back: the Detection without its per-voxel maps,
    which travel as ``.npy`` files (a pickle of hundreds of MB would hold both processes' memory)."""

    detection: Detection            # segmentation None
    labels: str
    score: str


def detect_job(model_name: str, refs, options: DetectOptions, folder: str, fallback: bool = False,
               cancel: Optional[CancelToken] = None):
    """The child's side of :func:`detect_in_subprocess`: load the model (with ``fallback``, a
    bundled one when the published model cannot be had: see ``resolve_for_detection``), detect in
    each movie, store the per-voxel maps as ``.npy`` files in ``folder``; returns
    [:class:`DetectionRecord`]."""
    from pathlib import Path

    import numpy as np

    from exodeep_gui.ml.device import describe_device

    yield Progress("load", 0, 1, f"loading model {model_name}")
    info, note = resolve_for_detection(model_name, fallback)
    if note:
        yield Progress("model", 0, 1, note)
    detector = cached_detector_of(info)
    yield Progress("device", 1, 1, describe_device())
    records = []
    for i, ref in enumerate(refs):
        if cancel is not None:
            cancel.raise_if_cancelled()
        movie = ref.open()
        det = yield from prefixed(detector.detect(movie, options, cancel=cancel),
                                  f"{movie.name} ({i + 1}/{len(refs)}): ")
        labels, score = Path(folder) / f"labels_{i}.npy", Path(folder) / f"score_{i}.npy"
        np.save(labels, det.segmentation.labels)
        np.save(score, det.segmentation.score)
        records.append(DetectionRecord(replace(det, segmentation=None, note=note), str(labels), str(score)))
    return records


def detect_in_subprocess(model_name: str, movies, options: DetectOptions,
                         cancel: Optional[CancelToken] = None, engine=None, keep_labels: bool = True,
                         grace_s: float = 1.0, fallback: bool = False):
    """Detect in ``movies`` ([(key, Movie)]) with the network running in a child process (so
    the caller's process never imports the deep-learning framework; see process.engine). Yields
    progress; returns [(key, Detection)] exactly as an in-process run would. On cancel the child
    gets one second to stop by itself (it checks before every layer), then it is terminated: it
    writes nothing the user keeps, so stopping it is always safe. With ``engine`` (a
    process.engine.EngineProcess) the child stays alive with the model loaded for the next run. Without
    ``keep_labels`` only the scores come back (the window's review needs nothing else: 1 byte a voxel)."""
    import shutil
    import tempfile

    import numpy as np

    from exodeep_gui.process.engine import run_in_subprocess

    folder = tempfile.mkdtemp(prefix="exodeep-detect-")
    try:
        refs = [movie_ref(movie, folder, i) for i, (_, movie) in enumerate(movies)]
        args = (detect_job, model_name, refs, options, folder, fallback)
        if engine is None:
            records = yield from run_in_subprocess(*args, cancel=cancel, grace_s=grace_s)
        else:                               # the window's warm engine: restarted for another model
            records = yield from engine.run(*args, cancel=cancel, grace_s=grace_s, key=("detect", model_name))
        results = []
        for (key, _), record in zip(movies, records):
            seg = SegmentationResult(np.load(record.labels) if keep_labels else None, np.load(record.score))
            results.append((key, replace(record.detection, segmentation=seg)))
        return results
    finally:
        shutil.rmtree(folder, ignore_errors=True)
