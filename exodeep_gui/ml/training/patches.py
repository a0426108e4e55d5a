"""Training patches: sampling centred on objects with the classes balanced, plus plain
background, with the per-stage random shift, xy dihedral augmentation (time is never
flipped) and optional intensity augmentation. Numpy only.

As the reference: a patch centre is an object of a class chosen uniformly among the classes
present (class 1 = detector spots, class 2 = expert events), then an object of that class
uniformly, shifted by an independent integer in [−shift, +shift] on each of t, y, x, the cube
clamped inside the movie. Unlike the reference, a share of patches (``background_share``) is
centred anywhere in the cell (the mask when given), so the model also sees plain background.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import numpy as np


@dataclass
class TrainingMovie:
    """One annotated movie, ready for sampling."""

    name: str
    image: np.ndarray                       # float16 (t, y, x), normalised per frame
    labels: np.ndarray                      # int8 (t, y, x): 0, 1, 2
    positions: Dict[int, np.ndarray]        # class → (n, 3) int (t, y, x) object centres
    cell_mask: Optional[np.ndarray] = None  # bool (y, x), where background patches may be centred
    n_events: int = 0
    n_spots: int = 0
    source: str = ""
    annotations: object = None              # the expert EventTable (for event-level validation)

    @property
    def shape(self) -> Tuple[int, int, int]:
        return tuple(self.image.shape)


@dataclass(frozen=True)
class Augment:
    dihedral: bool = True
    intensity: bool = False
    gain: Tuple[float, float] = (0.8, 1.25)
    offset: float = 0.1
    noise: float = 0.05


class PatchSampler:
    """Draws batches of (image, one-hot target) cubes from a list of :class:`TrainingMovie`."""

    def __init__(self, movies: Sequence[TrainingMovie], n_classes: int = 3, background_share: float = 0.1,
                 augment: Augment = Augment()):
        if not movies:
            raise ValueError("no training movies")
        self.movies = list(movies)
        self.n_classes = n_classes
        self.background_share = float(background_share)
        self.augment = augment
        # all objects per class: rows of (movie index, t, y, x)
        self.objects: Dict[int, np.ndarray] = {}
        for cls in range(1, n_classes):
            rows = [np.column_stack([np.full(len(m.positions.get(cls, ())), i), m.positions[cls]])
                    for i, m in enumerate(self.movies) if len(m.positions.get(cls, ()))]
            if rows:
                self.objects[cls] = np.concatenate(rows).astype(np.int64)
        self._cells = [np.argwhere(m.cell_mask) if m.cell_mask is not None and m.cell_mask.any() else None
                       for m in self.movies]

    def check_fits(self, patch: int) -> None:
        for m in self.movies:
            if min(m.shape) < patch:
                raise ValueError(f"{m.name}: {m.shape[0]} frames of {m.shape[2]}×{m.shape[1]} px is smaller "
                                 f"than the {patch}-voxel training patches; use smaller patches or longer movies")

    def _centre(self, rng: np.random.Generator) -> Tuple[int, np.ndarray]:
        if not self.objects or rng.random() < self.background_share:
            i = int(rng.integers(len(self.movies)))
            T, H, W = self.movies[i].shape
            cells = self._cells[i]
            yx = cells[rng.integers(len(cells))] if cells is not None else np.array([rng.integers(H), rng.integers(W)])
            return i, np.array([rng.integers(T), yx[0], yx[1]])
        classes = sorted(self.objects)
        rows = self.objects[classes[int(rng.integers(len(classes)))]]
        row = rows[int(rng.integers(len(rows)))]
        return int(row[0]), row[1:].copy()

    def sample(self, patch: int, batch: int, shift: int, rng: np.random.Generator):
        """(x float32 (B, P, P, P, 1), y float32 one-hot (B, P, P, P, n_classes))."""
        x = np.empty((batch, patch, patch, patch), np.float32)
        lab = np.empty((batch, patch, patch, patch), np.int8)
        half = patch // 2
        for b in range(batch):
            i, c = self._centre(rng)
            m = self.movies[i]
            c = c + rng.integers(-shift, shift + 1, size=3)
            start = np.clip(c - half, 0, np.array(m.shape) - patch)
            sl = tuple(slice(int(s), int(s) + patch) for s in start)
            img, tgt = m.image[sl], m.labels[sl]
            if self.augment.dihedral:
                if rng.random() < 0.5:
                    img, tgt = img.transpose(0, 2, 1), tgt.transpose(0, 2, 1)
                if rng.random() < 0.5:
                    img, tgt = img[:, ::-1], tgt[:, ::-1]
                if rng.random() < 0.5:
                    img, tgt = img[:, :, ::-1], tgt[:, :, ::-1]
            x[b] = img
            lab[b] = tgt
        if self.augment.intensity:
            a = self.augment
            gain = rng.uniform(*a.gain, size=(batch, 1, 1, 1)).astype(np.float32)
            off = rng.uniform(-a.offset, a.offset, size=(batch, 1, 1, 1)).astype(np.float32)
            sigma = rng.uniform(0, a.noise, size=(batch, 1, 1, 1)).astype(np.float32)
            x = x * gain + off + sigma * rng.standard_normal(x.shape, dtype=np.float32)
        onehot = np.eye(self.n_classes, dtype=np.float32)[lab]
        return x[..., None], onehot
