"""What a detection run takes and gives, without the network: the frozen options, the per-voxel
output and the result of one movie. ``ml.detect`` fills them in; the window, the CLI and the
review read them without importing the deep-learning layer."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

import numpy as np

from exodeep_gui.core.events import EventTable

PRECISIONS = ("auto", "float32", "bfloat16", "float16")
TTA_CHOICES = (1, 4, 8)  # test-time augmentation: views of the movie (see ml.tta)
CONSENSUS = 0.5         # with test-time augmentation: an event voxel has a mean class-2 probability ≥ this


@dataclass(frozen=True)
class DetectOptions:
    """Everything a detection run needs, frozen before the run starts."""

    model: str = "exodeepfinder"
    threshold: Optional[float] = None   # minimum peak class-2 probability; None: the model's recommendation (else 0.5)
    min_size: Optional[int] = None      # minimum event size in voxels; None: the model's recommendation (else 0)
    method: str = "components"      # or "meanshift" (the reference's clustering)
    bandwidth: float = 5.0          # mean-shift bandwidth (voxels)
    max_tile: int = 512             # frames wider than this are tiled (px)
    tiling: str = "streaming"       # or "reference": the reference's cubes, artefacts included (equivalence)
    cube: int = 160                 # cube side for tiling="reference" (edf_segment --patch_size)
    voxels_per_chunk: Optional[int] = None   # frames × tile pixels per network call; None: sized for the device
    precision: str = "auto"         # auto | float32 | bfloat16 | float16 (see ml.device.resolve_precision)
    tta: int = 1                    # test-time augmentation: 1, 4 or 8 rotated/mirrored views (see ml.tta)
    confidence: bool = True         # each event's confidence (core.confidence: a read of the movie and a fit
                                    # an event); off where only the filtered events count (the wizard's scores)

    def with_(self, **changes) -> "DetectOptions":
        return replace(self, **changes)


@dataclass
class SegmentationResult:
    """Per-voxel outputs kept for re-filtering without re-running the network."""

    labels: Optional[np.ndarray]   # uint8 (t, y, x): argmax class (0 background, 1 spot, 2 exocytosis);
                                   # None where only the scores were kept (the window)
    score: np.ndarray       # uint8 (t, y, x): class-2 probability × 255


@dataclass
class Detection:
    """The result of one run on one movie."""

    movie_name: str
    segmentation: Optional[SegmentationResult]
    candidates: EventTable          # every event before threshold/min-size filtering, with the columns
                                    # confidence and candidate (see core.confidence)
    options: DetectOptions
    model_name: str
    note: str = ""                  # why this model ran, when it is not the one asked for (offline)

    def events(self, threshold: Optional[float] = None, min_size: Optional[int] = None) -> EventTable:
        """The events that pass the filter (the run's unless given). With test-time augmentation
        the threshold is at least :data:`CONSENSUS`: below it lie the events only a minority of the
        views saw, which stay candidates for a reviewer to accept (see ml.tta)."""
        t = self.options.threshold if threshold is None else threshold
        s = self.options.min_size if min_size is None else min_size
        t = 0.0 if t is None else t
        if self.options.tta > 1:
            t = max(t, CONSENSUS)
        return self.candidates.filtered(threshold=t, min_size=0 if s is None else s)
