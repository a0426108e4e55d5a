"""The training curriculum as data: stages of (patch size, batch size, random shift, steps).

The paper's schedule grows the patch 8 → 16 → 32 → 48 (batches 256/128/32/10, shifts
4/8/16/32, 100 epochs × 100 steps each in the reference's defaults); weights carry over
between stages and each stage starts a fresh Adam, as the reference does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, Sequence, Tuple


class ScheduleError(ValueError):
    """A schedule that cannot be run; the message says why."""


@dataclass(frozen=True)
class Stage:
    patch: int      # cube side (frames and pixels)
    batch: int
    shift: int      # random shift of the patch centre on each axis, ± voxels
    steps: int

    def __post_init__(self):
        if self.patch < 4 or self.patch % 4:
            raise ScheduleError(f"patch size {self.patch}: must be a multiple of 4 (two 2× poolings), at least 4")
        if self.batch < 1 or self.steps < 1 or self.shift < 0:
            raise ScheduleError(f"stage {self}: batch and steps must be ≥ 1 and shift ≥ 0")

    @property
    def voxels_per_step(self) -> int:
        return self.batch * self.patch ** 3


Schedule = Tuple[Stage, ...]

PRESETS: Dict[str, Schedule] = {
    # the paper / reference defaults: 4 × 10,000 steps (a GPU job: days on a laptop CPU)
    "paper": (Stage(8, 256, 4, 10_000), Stage(16, 128, 8, 10_000), Stage(32, 32, 16, 10_000),
              Stage(48, 10, 32, 10_000)),
    # fine-tune an existing model: the largest stage only, a few hundred steps
    "finetune": (Stage(48, 10, 32, 300),),
    # a CPU run of about half an hour on 2 cores for a small model (see README)
    "quick": (Stage(8, 64, 4, 400), Stage(16, 16, 8, 400), Stage(32, 4, 16, 200)),
}

PRESET_HELP = {
    "paper": "the paper's 8→16→32→48 curriculum, 40,000 steps (use a GPU)",
    "finetune": "one stage of 48³ patches, 300 steps, starting from an existing model",
    "quick": "a reduced curriculum for a CPU (about 1,000 small steps)",
}


def preset(name: str) -> Schedule:
    try:
        return PRESETS[name]
    except KeyError:
        raise ScheduleError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})") from None


def parse_schedule(text: str) -> Schedule:
    """``"8:256:4:100,16:128:8:100"`` (patch:batch:shift:steps per stage) → a schedule."""
    stages = []
    for part in text.split(","):
        try:
            p, b, s, n = (int(v) for v in part.strip().split(":"))
        except ValueError:
            raise ScheduleError(f"schedule stage {part!r}: expected patch:batch:shift:steps, e.g. 16:128:8:100") from None
        stages.append(Stage(p, b, s, n))
    if not stages:
        raise ScheduleError("empty schedule")
    return tuple(stages)


def schedule_text(schedule: Sequence[Stage]) -> str:
    """The schedule as :func:`parse_schedule` reads it (``"8:256:4:100,16:128:8:100"``)."""
    return ",".join(f"{s.patch}:{s.batch}:{s.shift}:{s.steps}" for s in schedule)


def scaled(schedule: Sequence[Stage], factor: float) -> Schedule:
    """The same schedule with the step counts multiplied by ``factor`` (at least 1 step each)."""
    return tuple(Stage(s.patch, s.batch, s.shift, max(1, int(round(s.steps * factor)))) for s in schedule)


def to_list(schedule: Sequence[Stage]) -> list:
    return [asdict(s) for s in schedule]


def from_list(rows: Sequence[dict]) -> Schedule:
    return tuple(Stage(**{k: int(r[k]) for k in ("patch", "batch", "shift", "steps")}) for r in rows)
