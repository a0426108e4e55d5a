"""What the training wizard's pages fill in, without widgets: the movies and their roles, the
split, the checks, and the frozen request the run gets. Movies come from the window (their
reviewed events) or from files (a movie with its annotation table beside it)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

import numpy as np

from exodeep_gui.core.events import EventTable
from exodeep_gui.ml.training.targets import check_annotations
from exodeep_gui.io.movie_io import movie_stem
from exodeep_gui.ml.model_folder import DATA, ModelFolder
from exodeep_gui.ml.training.train import TrainOptions
from exodeep_gui.ml.training.job import TrainRequest

TRAIN, VALID, UNUSED = "train", "validation", "not used"
MIN_EVENTS = 50          # fewer annotated training events than this: warn (the model will learn little)


@dataclass
class DataRow:
    name: str
    movie_path: Optional[Path]
    shape: tuple
    n_events: int
    reviewed: bool
    mask: Optional[Path] = None
    annotations: Optional[Path] = None     # a file (rows added from files)
    events: Optional[EventTable] = None    # in memory (rows of the window's movies)
    role: str = UNUSED
    problem: str = ""

    @property
    def usable(self) -> bool:
        return self.reviewed and not self.problem


@dataclass
class TrainingPlan:
    rows: List[DataRow] = field(default_factory=list)
    seed: int = 0
    options: TrainOptions = TrainOptions()
    simulated: int = 0
    folder: str = ""
    name: str = ""
    notes: str = ""
    start_label: str = ""

    # ---- movies
    def refresh_docs(self, docs, events_of, earlier=()) -> None:
        """The rows of the window's movies as they are now (reviewed events, fully reviewed, movies
        opened since), then the movies reviewed in earlier sessions (``earlier``: recent files whose
        saved review says fully reviewed, not open now); rows added from files stay; roles chosen for
        movies still there are kept."""
        roles = {(str(r.movie_path), r.name): r.role for r in self.rows}
        files = [r for r in self.rows if r.events is None]
        self.rows = []
        for doc in docs:
            self.add_doc(doc, events_of(doc))
        open_paths = {str(r.movie_path) for r in self.rows} | {str(r.movie_path) for r in files}
        for path in earlier:
            if str(path) not in open_paths:
                self.add_reviewed_file(path)
        self.rows += files
        self.split()
        for r in self.rows:
            kept = roles.get((str(r.movie_path), r.name))
            if kept is not None and r.usable:
                r.role = kept

    def add_doc(self, doc, events: EventTable) -> DataRow:
        from exodeep_gui.io.masks import mask_for

        src = doc.movie.source
        problem = "" if src is not None and Path(src).exists() else "the movie has no file (save it as a TIFF first)"
        if not problem:
            problem = "; ".join(check_annotations(events, doc.movie.shape, doc.name))
        row = DataRow(doc.name, Path(src) if src else None, doc.movie.shape, len(events), doc.fully_reviewed,
                      mask_for(Path(src)) if src else None, events=events, problem=problem)
        self.rows.append(row)
        return row

    def add_reviewed_file(self, movie_path) -> Optional[DataRow]:
        """A movie not open now whose saved review (beside it or in the user folder) says it is fully
        reviewed: its reviewed set (what the user confirmed or added) is the training truth."""
        from exodeep_gui.core.review import reviewed
        from exodeep_gui.io.masks import mask_for
        from exodeep_gui.io.movie_io import open_movie
        from exodeep_gui.io.review_file import find_review, load_review

        path = Path(movie_path)
        if find_review(path) is None:
            return None
        try:
            shape = open_movie(path).shape
            saved = load_review(path, shape, set_aside=False)     # listing it never moves the user's file
        except Exception:                    # unreadable now: it is simply not offered
            return None
        if saved is None or not saved.fully_reviewed:
            return None
        events = reviewed(saved.rows)
        problem = "; ".join(check_annotations(events, shape, movie_stem(path)))
        row = DataRow(movie_stem(path), path, shape, len(events), True, mask_for(path), events=events,
                      problem=problem)
        self.rows.append(row)
        return row

    def add_file(self, movie_path) -> DataRow:
        """A movie file with its annotations beside it (``NAME.csv``/``.xml``); problems are kept on the row."""
        from exodeep_gui.ml.training.dataset import TrainingDataError, TrainingItem, _annotation_for, check_training_items
        from exodeep_gui.io.masks import mask_for
        from exodeep_gui.io.movie_io import open_movie
        from exodeep_gui.io.results import read_events

        path = Path(movie_path)
        ann, mask = _annotation_for(path), mask_for(path)
        name = movie_stem(path)
        try:
            check_training_items([TrainingItem(path, ann, mask)])
            shape, n = open_movie(path).shape, len(read_events(ann))
            problem = ""
        except TrainingDataError as exc:
            shape, n, problem = (0, 0, 0), 0, "; ".join(exc.problems)
        row = DataRow(name, path, shape, n, True, mask, annotations=ann, problem=problem)
        self.rows.append(row)
        return row

    def remove(self, index: int) -> None:
        del self.rows[index]
        self.split()

    def split(self, valid_fraction: float = 0.3) -> None:
        """Usable movies to training and validation, by movie (seeded); at least one of each when two."""
        usable = [r for r in self.rows if r.usable]
        for r in self.rows:
            r.role = UNUSED
        if not usable:
            return
        order = np.random.default_rng(self.seed).permutation(len(usable))
        n_valid = min(len(usable) - 1, max(1, int(round(valid_fraction * len(usable))))) if len(usable) > 1 else 0
        for k, i in enumerate(order):
            usable[i].role = VALID if k < n_valid else TRAIN

    # ---- checks (all at once, before Next)
    def problems(self) -> List[str]:
        # a movie meant for training (fully reviewed, or added with its table) that cannot be used
        out = [f"{r.name}: {r.problem}" for r in self.rows if r.problem and r.reviewed]
        if not any(r.role == TRAIN for r in self.rows):
            out.append("No training movie: mark at least one movie fully reviewed (Review menu), or add "
                       "movies with their annotation tables.")
        if not any(r.role == VALID for r in self.rows):
            out.append("No validation movie: at least one fully reviewed movie must be kept for validation "
                       "(two usable movies at least).")
        for r in self.rows:
            if r.role != UNUSED and not r.reviewed:
                out.append(f"{r.name}: not fully reviewed; its unreviewed events would be learnt as background.")
        return out

    def warnings(self) -> List[str]:
        n = sum(r.n_events for r in self.rows if r.role == TRAIN)
        out = []
        if 0 < n < MIN_EVENTS:
            out.append(f"Only {n} annotated events to train on: fine-tuning may change little (aim for "
                       f"{MIN_EVENTS} or more, or mix in simulated movies on the next pages).")
        skipped = [r.name for r in self.rows if r.role == UNUSED and not r.reviewed]
        if skipped:
            out.append("Not used (not fully reviewed): " + ", ".join(skipped))
        return out

    # ---- the run
    def default_folder(self) -> str:
        """A new folder in the user models folder, named by the time; never one that holds something."""
        from exodeep_gui.paths import user_models_dir

        base = user_models_dir() / f"exodeep-{time.strftime('%Y%m%d-%H%M')}"
        path, n = base, 2
        while path.exists() and any(path.iterdir()):
            path, n = base.with_name(f"{base.name}-{n}"), n + 1
        return str(path)

    def request(self, overwrite: bool = False) -> TrainRequest:
        """Writes the reviewed events of the window's movies into the model folder's ``data/`` (the
        folder must be new, empty or ``overwrite``) and returns the frozen request."""
        from exodeep_gui.io.results import write_results_csv

        folder = ModelFolder(self.folder)
        data = folder.path / DATA
        # a folder that holds only the data of an attempt that never trained is not a model: reuse it
        only_data = folder.path.is_dir() and {p.name for p in folder.path.iterdir()} <= {DATA}
        folder.check_new_run(overwrite or only_data)
        items = {TRAIN: [], VALID: []}
        for i, r in enumerate(self.rows):
            if r.role == UNUSED:
                continue
            ann = r.annotations
            if r.events is not None:              # numbered: two movies may share a name
                data.mkdir(parents=True, exist_ok=True)
                ann = write_results_csv(data / f"{i:02d}_{r.name}.csv", r.events, overwrite=True)
            items[r.role].append((str(r.movie_path), str(ann), str(r.mask) if r.mask else ""))
        return TrainRequest(str(folder.path), tuple(items[TRAIN]), tuple(items[VALID]), self.options,
                            self.simulated, self.name, self.notes, overwrite=True)

    def resume_request(self) -> TrainRequest:
        return TrainRequest(str(ModelFolder(self.folder).path), name=self.name, notes=self.notes, resume=True)


def row_movie_and_events(row: DataRow, docs=()):
    """The movie (the window's, else opened from its file) and annotated events of a row."""
    from exodeep_gui.io.movie_io import open_movie
    from exodeep_gui.io.results import read_events

    movie = next((d.movie for d in docs if d.movie.source is not None and row.movie_path is not None
                  and Path(d.movie.source) == Path(row.movie_path)), None)
    movie = movie if movie is not None else open_movie(row.movie_path)
    events = row.events if row.events is not None else read_events(row.annotations)
    return movie, events


def count_counter_examples(rows: List[DataRow], params, docs=(), cancel=None):
    """Generator: for each row, the spot objects training would take as counter-examples and the
    spots it leaves out as annotated events (as ml.dataset.prepare_movie builds them); returns
    {name: (kept, left out)}. Runs the spot detector over whole movies: a worker's job."""
    from exodeep_gui.core.progress import Progress
    from exodeep_gui.core.spots import detect_spots
    from exodeep_gui.ml.training.targets import build_target

    out = {}
    for i, row in enumerate(rows):
        yield Progress("spots", i, len(rows), f"counting spots in {row.name}")
        movie, events = row_movie_and_events(row, docs)
        mask = yield from detect_spots(movie, params=params, cancel=cancel)
        target = build_target(movie.shape, events, mask)
        out[row.name] = (len(target.spots), target.removed_components)
    return out
