"""Detection of exocytosis events in a movie: normalise → streaming U-Net → events.

``detect_events`` is a generator (progress reports, cancel token) returning a
:class:`Detection` that keeps the per-voxel output, so changing the score threshold or the
minimum size re-filters events instantly without running the network again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Generator, Optional

from exodeep_gui.core.events import EventTable
from exodeep_gui.core.movie import Movie, MovieError
from exodeep_gui.core.postprocess import events_from_segmentation
from exodeep_gui.core.progress import CancelToken, Progress, run_to_end
from exodeep_gui.ml.models import ModelInfo, load_keras_model, recommended_filter, resolve_model
from exodeep_gui.ml.predict import SegmentationResult, segment_movie

MIN_FRAMES = 16


@dataclass(frozen=True)
class DetectOptions:
    """Everything a detection run needs, frozen before the run starts."""

    model: str = "exodeepfinder"
    threshold: Optional[float] = None   # minimum peak class-2 probability; None: the model's recommendation (else 0.5)
    min_size: Optional[int] = None      # minimum event size in voxels; None: the model's recommendation (else 0)
    method: str = "components"      # or "meanshift" (the reference's clustering)
    bandwidth: float = 5.0          # mean-shift bandwidth (voxels)
    max_tile: int = 512             # frames wider than this are tiled (px)
    voxels_per_chunk: int = 500_000

    def with_(self, **changes) -> "DetectOptions":
        return replace(self, **changes)


@dataclass
class Detection:
    """The result of one run on one movie."""

    movie_name: str
    segmentation: SegmentationResult
    candidates: EventTable          # every event before threshold/min-size filtering
    options: DetectOptions
    model_name: str

    def events(self, threshold: Optional[float] = None, min_size: Optional[int] = None) -> EventTable:
        t = self.options.threshold if threshold is None else threshold
        s = self.options.min_size if min_size is None else min_size
        return self.candidates.filtered(threshold=t, min_size=s)


class Detector:
    """A loaded model, ready to run on movies (Keras imported on construction)."""

    def __init__(self, info: ModelInfo):
        self.info = info
        self.model = load_keras_model(info)

    @classmethod
    def load(cls, name_or_path: str) -> "Detector":
        return cls(resolve_model(name_or_path))

    @property
    def name(self) -> str:
        return self.info.name

    def detect(self, movie: Movie, options: DetectOptions = DetectOptions(),
               cancel: Optional[CancelToken] = None) -> Generator[Progress, None, Detection]:
        if movie.n_frames < MIN_FRAMES:
            raise MovieError(f"{movie.source or movie.name}: {movie.n_frames} frames; the model needs "
                             f"at least {MIN_FRAMES}")
        rec_t, rec_s = recommended_filter(self.info.config)
        options = options.with_(threshold=rec_t if options.threshold is None else options.threshold,
                                min_size=rec_s if options.min_size is None else options.min_size)
        seg = yield from segment_movie(self.model, self.info.spec, movie, max_tile=options.max_tile,
                                       voxels_per_chunk=options.voxels_per_chunk, cancel=cancel)
        yield Progress("events", 0, 1, "grouping voxels into events")
        cands = events_from_segmentation(seg.labels, seg.score, method=options.method,
                                         bandwidth=options.bandwidth)
        return Detection(movie.name, seg, cands, options, self.name)

    def detect_blocking(self, movie: Movie, options: DetectOptions = DetectOptions(),
                        callback=None) -> Detection:
        return run_to_end(self.detect(movie, options), callback)
