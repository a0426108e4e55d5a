"""What a training run takes, reports, keeps and returns, without the framework: the frozen
:class:`TrainOptions`, the :class:`TrainProgress` reports, the typed checkpoint :class:`RunState`
(what ``checkpoint/state.json`` holds, so that ``resume`` needs only the folder) and the
:class:`TrainResult`."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from exodeep_gui.core.progress import Progress
from exodeep_gui.core.spots import SpotParams
from exodeep_gui.ml.training.dataset import TrainingItem
from exodeep_gui.ml.training.schedule import PRESETS, Schedule, from_list, to_list
from exodeep_gui.ml.unet import PUBLISHED_FILTERS


@dataclass(frozen=True)
class TrainOptions:
    """Everything a training run needs, frozen before it starts."""

    schedule: Schedule = PRESETS["quick"]
    start_from: Optional[str] = None          # a model name or folder to fine-tune; None: from scratch
    filters: Tuple[int, int, int] = PUBLISHED_FILTERS   # architecture when training from scratch
    alpha: float = 0.5                        # Tversky weights of false positives / negatives
    beta: float = 0.5
    learning_rate: float = 1e-4
    background_share: float = 0.1             # share of patches centred anywhere in the cell
    augment_intensity: bool = False
    validate_every: int = 0                   # steps; 0: at the end of each stage only
    checkpoint_every: int = 50                # steps
    snapshot_every: int = 0                   # steps between kept copies of the weights; 0: none
    threshold: float = 0.5                    # event score threshold used for validation
    seed: int = 0
    spot_window: float = 21.0                 # the spot detector (counter-examples): window σ, px
    spot_pfa: float = 1e-3                    # … probability of false alarm
    spot_min_area: int = 3                    # … smallest spot, px
    mixed_precision: str = "auto"             # "auto" (on a GPU), "on", "off"
    jit_compile: str = "auto"                 # "auto" (on a GPU), "on", "off"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["schedule"] = to_list(self.schedule)
        d["filters"] = list(self.filters)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainOptions":
        d = dict(d)
        d["schedule"] = from_list(d["schedule"])
        d["filters"] = tuple(d["filters"])
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def spot_params(self) -> SpotParams:
        return SpotParams(window_sigma=self.spot_window, pfa=self.spot_pfa, min_area=self.spot_min_area)

    @property
    def total_steps(self) -> int:
        return sum(s.steps for s in self.schedule)


@dataclass(frozen=True)
class TrainProgress(Progress):
    """A training report: ``done``/``total`` are optimiser steps over the whole schedule."""

    stage_index: int = 0
    n_stages: int = 0
    stage_step: int = 0
    patch: int = 0
    loss: float = math.nan
    validation: Optional[dict] = None        # set on reports that follow a validation
    best_f1: Optional[float] = None
    global_step: int = 0
    work_done: float = 0.0                   # voxels trained on this session (stages differ in cost)
    work_total: float = 0.0

    @property
    def eta_s(self) -> Optional[float]:
        """Time left from the voxel throughput, since a 48³ step costs far more than an 8³ one."""
        if self.work_done <= 0 or self.elapsed_s <= 0:
            return super().eta_s
        return max(0.0, (self.work_total - self.work_done) * self.elapsed_s / self.work_done)


@dataclass
class TrainResult:
    folder: Path
    steps: int
    best: Optional[dict]
    last: Optional[dict]
    history: List[dict] = field(default_factory=list)


def items_from_rows(rows: Sequence[Sequence[str]]) -> List[TrainingItem]:
    """Training items from (movie, annotations, mask) rows of paths, mask "" when none (a checkpoint's
    state, a training request from the window)."""
    return [TrainingItem(Path(a), Path(b), Path(c) if c else None) for a, b, c in rows]


def rows_of(items: Sequence[TrainingItem]) -> List[List[str]]:
    return [[str(i.movie), str(i.annotations), str(i.mask) if i.mask else ""] for i in items]


@dataclass
class RunState:
    """Where a run is: what its checkpoint keeps (``checkpoint/state.json``, same keys as before)
    and the training loop updates as it goes."""

    options: TrainOptions
    train: List[List[str]]                   # (movie, annotations, mask) rows of the training movies
    valid: List[List[str]]                   # … of the validation movies
    stage: int = 0                           # the stage to go on with
    stage_step: int = 0                      # steps already done in that stage
    global_step: int = 0                     # steps done over the whole schedule
    history: List[dict] = field(default_factory=list)       # one row per step (loss, validation)
    validations: List[dict] = field(default_factory=list)   # the validation reports
    best: Optional[dict] = None              # the best validation so far
    rng: Optional[dict] = None               # the patch sampler's random state
    elapsed_s: float = 0.0

    def to_dict(self) -> dict:
        return {"options": self.options.to_dict(), "stage": self.stage, "stage_step": self.stage_step,
                "global_step": self.global_step, "history": self.history, "validations": self.validations,
                "best": self.best, "rng": self.rng, "elapsed_s": self.elapsed_s, "train": self.train,
                "valid": self.valid}

    @classmethod
    def from_dict(cls, d: dict) -> "RunState":
        return cls(TrainOptions.from_dict(d["options"]), list(d["train"]), list(d["valid"]),
                   int(d.get("stage", 0)), int(d.get("stage_step", 0)), int(d.get("global_step", 0)),
                   list(d.get("history", [])), list(d.get("validations", [])), d.get("best"), d.get("rng"),
                   float(d.get("elapsed_s", 0.0)))
