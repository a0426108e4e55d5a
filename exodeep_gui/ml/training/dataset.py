"""Training data: find (movie, annotations, optional cell mask) triples, check them all up
front, and prepare each movie for sampling (normalised image, spot detector counter-examples,
the merged target). No Keras here.

Folder convention: a movie ``NAME.tif`` (or any format ExoDeep opens) with its expert
annotations beside it as ``NAME.csv`` (ImageJ Results: X, Y, Slice) or ``NAME.xml`` (the
reference's object list), and optionally a cell mask ``NAME_mask.tif`` (non-zero inside the
cell). ``exodeep simulate`` writes exactly this.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Generator, List, Optional, Sequence, Tuple

import numpy as np

from exodeep_gui.core.movie import MovieError
from exodeep_gui.core.normalize import normalize_frames
from exodeep_gui.ml.training.patches import TrainingMovie
from exodeep_gui.core.progress import CancelToken, Progress, ProgressClock
from exodeep_gui.core.spots import SpotParams, detect_spots
from exodeep_gui.ml.training.targets import DEFAULT_CONE, build_target, check_annotations
from exodeep_gui.io.masks import MaskError, mask_for, read_mask
from exodeep_gui.io.movie_io import find_movies, open_movie
from exodeep_gui.io.results import AnnotationError, read_events

ANNOTATION_SUFFIXES = (".csv", ".xml", ".txt")


class TrainingDataError(ValueError):
    """Training data that cannot be used; the message lists every problem found."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class TrainingItem:
    movie: Path
    annotations: Optional[Path]
    mask: Optional[Path] = None

    @property
    def name(self) -> str:
        return self.movie.stem if self.movie.is_file() else self.movie.name


def _annotation_for(movie: Path) -> Optional[Path]:
    stem = movie.stem if movie.is_file() else movie.name
    for suffix in ANNOTATION_SUFFIXES:
        for name in (stem + suffix, stem + "_annotations" + suffix):
            p = movie.parent / name
            if p.is_file():
                return p
    return None


def find_training_items(paths: Sequence) -> List[TrainingItem]:
    """Movies (files or folders of movies) with their same-stem annotations and masks.

    A movie without annotations is listed with ``annotations=None`` so that
    :func:`check_training_items` reports it."""
    items: List[TrainingItem] = []
    for raw in paths:
        try:
            movies = find_movies([raw])
        except MovieError as exc:
            raise TrainingDataError([str(exc)]) from None
        items.extend(TrainingItem(m, _annotation_for(m), mask_for(m)) for m in movies)
    if not items:
        raise TrainingDataError([f"no movies found in {', '.join(str(p) for p in paths)}"])
    return items


def check_training_items(items: Sequence[TrainingItem], min_side: int = 16) -> None:
    """Open every movie header and annotation file; raise one error listing every problem."""
    problems: List[str] = []
    for it in items:
        try:
            movie = open_movie(it.movie)
        except MovieError as exc:
            problems.append(str(exc))
            continue
        if min(movie.shape) < min_side:
            problems.append(f"{it.movie}: {movie.shape[0]} frames of {movie.shape[2]}×{movie.shape[1]} px; "
                            f"training needs at least {min_side} in each")
        if it.annotations is None:
            problems.append(f"{it.movie}: no annotations (expected {it.name}.csv with X, Y, Slice, "
                            f"or {it.name}.xml, beside the movie)")
            continue
        try:
            events = read_events(it.annotations)
        except AnnotationError as exc:
            problems.append(str(exc))
            continue
        problems.extend(check_annotations(events, movie.shape, str(it.annotations)))
        if it.mask is not None:
            try:
                read_mask(it.mask, movie.shape[1:])
            except MaskError as exc:
                problems.append(str(exc))
    if problems:
        raise TrainingDataError(problems)


def split_items(items: Sequence[TrainingItem], valid_fraction: float = 0.3,
                seed: int = 0) -> Tuple[List[TrainingItem], List[TrainingItem]]:
    """Split by movie (seeded). At least one training movie; one validation movie when ≥ 2."""
    items = list(items)
    if len(items) < 2 or valid_fraction <= 0:
        return items, []
    order = np.random.default_rng(seed).permutation(len(items))
    n_valid = min(len(items) - 1, max(1, int(round(valid_fraction * len(items)))))
    valid = [items[i] for i in sorted(order[:n_valid])]
    train = [items[i] for i in sorted(order[n_valid:])]
    return train, valid


def training_split(data: Sequence, valid: Optional[Sequence] = None, valid_fraction: float = 0.3,
                   seed: int = 0) -> Tuple[List[TrainingItem], List[TrainingItem]]:
    """Training and validation items from ``data`` (and ``valid`` when given, else a seeded split of
    ``data`` by movie), all checked up front (:class:`TrainingDataError` lists every problem)."""
    items = find_training_items(data)
    if valid:
        train, valid_items = items, find_training_items(valid)
    else:
        train, valid_items = split_items(items, valid_fraction, seed=seed)
    check_training_items(list(train) + list(valid_items))
    return train, valid_items


def prepare_movie(item: TrainingItem, spot_params: SpotParams = SpotParams(), cone=DEFAULT_CONE,
                  seed: int = 0, cancel: Optional[CancelToken] = None
                  ) -> Generator[Progress, None, TrainingMovie]:
    """Normalise, find counter-example spots and build the target of one movie."""
    movie = open_movie(item.movie)
    events = read_events(item.annotations)
    spots = yield from detect_spots(movie, params=spot_params, cancel=cancel)
    target = build_target(movie.shape, events, spots, cone=cone, seed=seed)
    image = np.empty(movie.shape, np.float16)
    for a in range(0, movie.n_frames, 64):
        b = min(movie.n_frames, a + 64)
        image[a:b] = normalize_frames(movie.frames(a, b), source=str(item.movie), first_frame=a)
    positions = {1: np.column_stack([target.spots.frame, np.rint(target.spots.y), np.rint(target.spots.x)]).astype(int),
                 2: np.column_stack([events.frame, events.y.astype(int), events.x.astype(int)]).astype(int)}
    mask = read_mask(item.mask, movie.shape[1:]) if item.mask is not None else None
    return TrainingMovie(item.name, image, target.labels, positions, mask, len(events), len(target.spots),
                         str(item.movie), events)


def prepare_items(items: Sequence[TrainingItem], spot_params: SpotParams = SpotParams(), cone=DEFAULT_CONE,
                  seed: int = 0, cancel: Optional[CancelToken] = None
                  ) -> Generator[Progress, None, List[TrainingMovie]]:
    clock = ProgressClock("prepare", len(items))
    out = []
    for i, it in enumerate(items):
        yield clock.report(i, f"preparing {it.name} (spots, targets)")
        prepared = yield from prepare_movie(it, spot_params, cone, seed + i, cancel)
        out.append(prepared)
    yield clock.report(len(items), "data ready")
    return out


def summary(movies: Sequence[TrainingMovie]) -> dict:
    return {"movies": [m.name for m in movies], "events": int(sum(m.n_events for m in movies)),
            "spot_objects": int(sum(m.n_spots for m in movies)),
            "frames": int(sum(m.shape[0] for m in movies))}
