"""``exodeep``: the headless command line (detect, evaluate, simulate, models, demo)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import List, Optional

from exodeep_gui import __version__


class UserError(Exception):
    """An error whose message is for the user (no traceback)."""


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# ---------------------------------------------------------------- progress bar
class ProgressBar:
    """A rich progress bar on stderr: label, bar, percent, frames/s (detection) and time left, or the
    name of a short stage (prepare, events, calibrate…). Drawn only on a terminal; :meth:`print` lines
    (validation scores) are written either way."""

    def __init__(self, label: str):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

        self.console = Console(stderr=True, highlight=False)
        self._bar = Progress(TextColumn("{task.description}", markup=False), BarColumn(), TaskProgressColumn(),
                             TextColumn("{task.fields[rate]}{task.fields[eta]}", markup=False),
                             console=self.console, disable=not self.console.is_terminal)
        self._task = self._bar.add_task(label, total=1.0, rate="", eta="")

    def __enter__(self) -> "ProgressBar":
        self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self._bar.stop()

    def __call__(self, p) -> None:
        eta = "" if p.eta_s is None else f" {int(p.eta_s) // 60}:{int(p.eta_s) % 60:02d} left"
        rate = f" {p.rate:.1f} frames/s" if p.stage == "detect" and p.rate else ""
        if p.stage not in ("detect", "train", "spots"):
            rate, eta = f" {p.stage}", ""
        self._bar.update(self._task, completed=p.fraction, rate=rate, eta=eta)

    def print(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)


# ---------------------------------------------------------------- commands
def cmd_detect(args) -> int:
    _quiet_tensorflow()
    from exodeep_gui.core.detection import DetectOptions
    from exodeep_gui.core.progress import run_to_end
    from exodeep_gui.io.atomic import check_writable_folder
    from exodeep_gui.io.movie_io import find_movies, open_movie
    from exodeep_gui.io.results import result_paths, write_results
    from exodeep_gui.ml.detect import Detector
    from exodeep_gui.ml.device import describe_device

    movies = find_movies(args.inputs)
    options = DetectOptions(model=args.model, threshold=args.threshold, min_size=args.min_size,
                            method=args.method, tiling=args.tiling, cube=args.cube)
    if args.out:
        check_writable_folder(Path(args.out))
    detector = Detector.load(args.model)
    print(f"model: {detector.name} ({detector.info.weights}); {describe_device()}", file=sys.stderr)
    summary = []
    for path in movies:
        t0 = time.perf_counter()
        try:
            movie = open_movie(path, channel=args.channel)
            out_dir = Path(args.out) if args.out else path.parent
            stem = path.stem if path.is_file() else path.name
            existing = [p for p in result_paths(out_dir, stem, args.formats).values() if p.exists()]
            if existing and not args.overwrite:        # before the network runs, not after
                raise UserError(f"{existing[0]} already exists (use --overwrite to replace it)")
            check_writable_folder(out_dir)
            with ProgressBar(f"{stem[:24]:24s}") as bar:
                detection = run_to_end(detector.detect(movie, options), bar)
            events = detection.events()
            written = write_results(out_dir, stem, events, movie.pixel_size_um, movie.frame_interval_s,
                                    args.formats, overwrite=args.overwrite)
            dt = time.perf_counter() - t0
            summary.append((stem, movie.n_frames, len(events), dt, "ok"))
            print(f"{stem}: {len(events)} events in {movie.n_frames} frames ({dt:.1f} s) → "
                  f"{', '.join(str(v) for v in written)}", file=sys.stderr)
        except (UserError, ValueError, OSError) as exc:
            summary.append((path.name, 0, 0, time.perf_counter() - t0, f"FAILED: {exc}"))
            print(f"error: {exc}", file=sys.stderr)
    _print_summary(summary)
    return 0 if all(s[4] == "ok" for s in summary) else 1


def _print_summary(rows) -> None:
    if len(rows) < 1:
        return
    print(f"{'movie':30s} {'frames':>7s} {'events':>7s} {'time s':>8s}  status")
    for name, frames, n, dt, status in rows:
        print(f"{name[:30]:30s} {frames:7d} {n:7d} {dt:8.1f}  {status}")
    ok = sum(1 for r in rows if r[4] == "ok")
    print(f"{ok} of {len(rows)} movies done, {sum(r[2] for r in rows)} events")


def cmd_evaluate(args) -> int:
    from exodeep_gui.core.evaluate import Scores, evaluate_events
    from exodeep_gui.io.results import pair_event_tables, read_events

    total = Scores(0, 0, 0)
    pairs = pair_event_tables(Path(args.truth), Path(args.pred))
    for t, p in pairs:
        s = evaluate_events(read_events(t), read_events(p), max_dist=args.max_dist,
                            dt_range=(args.dt_min, args.dt_max), exclude_edge_frames=args.exclude_edges)
        total = total + s
        if len(pairs) > 1:
            print(f"{t.stem:30s} {s.summary()}")
    print(("all: " if len(pairs) > 1 else "") + total.summary())
    return 0


def cmd_simulate(args) -> int:
    from exodeep_gui.core.simulate import SimulationParams
    from exodeep_gui.io.simulated import write_simulated_set

    params = SimulationParams(frames=args.frames, height=args.size[0], width=args.size[1],
                              events=args.events)
    paths = write_simulated_set(Path(args.out_dir), args.movies, params, seed=args.seed,
                                overwrite=args.overwrite)
    for p in paths:
        print(p)
    return 0


def cmd_spots(args) -> int:
    """Counter-example preview: the built-in spot detector's mask as a TIFF beside the movie."""
    import numpy as np

    from exodeep_gui.core.progress import run_to_end
    from exodeep_gui.core.spots import SpotParams, detect_spots
    from exodeep_gui.io.movie_io import open_movie
    from exodeep_gui.io.movie_io import write_imagej_tiff

    path = Path(args.movie)
    movie = open_movie(path, channel=args.channel)
    stop = movie.n_frames if args.stop is None else args.stop
    params = SpotParams(window_sigma=args.window, pfa=args.pfa, min_area=args.min_area)
    with ProgressBar("spots") as bar:
        mask = run_to_end(detect_spots(movie, args.start, stop, params), bar)
    out = Path(args.out) if args.out else path.parent / f"{path.stem}_spots.tif"
    write_imagej_tiff(out, mask.astype(np.uint8) * 255, movie.pixel_size_um, movie.frame_interval_s,
                      overwrite=args.overwrite)
    print(f"{int(mask.sum())} spot pixels in frames {args.start + 1}–{stop} → {out}")
    return 0


def cmd_train(args) -> int:
    """Train or fine-tune a model on annotated movies into a model folder, or continue a run."""
    _quiet_tensorflow()
    from exodeep_gui.core.progress import run_to_end
    from exodeep_gui.ml.train import resume, train

    out = Path(args.out)
    if args.resume:
        given = _run_options_given(args)
        if given:
            raise UserError(f"--resume continues the run in {out} with the data and options it started with; "
                            f"drop {', '.join(given)}")
        print(f"resuming the run in {out}")
        work = resume(out)
    else:
        work = train(*_training_data(args), out, _train_options(args), overwrite=args.overwrite)

    def show(p):
        v = getattr(p, "validation", None)
        if v:
            bar.print(f"step {p.global_step}: validation precision {v['precision']:.3f} recall {v['recall']:.3f} "
                      f"F1 {v['f1']:.3f} (TP {v['tp']}, FP {v['fp']}, FN {v['fn']})")
        bar(p)

    try:
        with ProgressBar("training") as bar:
            result = run_to_end(work, show)
    except KeyboardInterrupt:
        print(f"stopped; continue with: exodeep train --resume --out {out}", file=sys.stderr)
        return 130
    best = result.best
    print(f"{result.steps} steps → model folder {result.folder}")
    if best:
        print(f"best validation (step {best['step']}): precision {best['precision']:.3f} recall "
              f"{best['recall']:.3f} F1 {best['f1']:.3f}")
    print(f"detect with: exodeep detect MOVIE --model {result.folder}")
    return 0


def _run_options_given(args) -> list:
    """The data and run options given on a ``train`` command line (``--resume`` takes none)."""
    defaults = vars(build_parser().parse_args(["train", "--out", str(args.out)]))
    flags = {"data": "DATA", "start_from": "--from"}
    return [flags.get(k, "--" + k.replace("_", "-")) for k, v in vars(args).items()
            if k not in ("out", "resume", "debug") and k in defaults and v != defaults[k]]


def _training_data(args) -> tuple:
    from exodeep_gui.ml.dataset import training_split

    if not args.data:
        raise UserError("give the training data (movies with same-name .csv annotations, or folders of them)")
    train_items, valid_items = training_split(args.data, args.valid, args.valid_fraction, args.seed)
    print(f"training on {len(train_items)} movies, validating on {len(valid_items)}")
    if not valid_items:
        print("note: no validation movies, so the best model is the last one")
    return train_items, valid_items


def _train_options(args):
    from exodeep_gui.core.schedule import parse_schedule, preset, scaled
    from exodeep_gui.ml.train import TrainOptions

    schedule = parse_schedule(args.schedule) if args.schedule else preset(args.preset)
    if args.steps_scale != 1.0:
        schedule = scaled(schedule, args.steps_scale)
    start_from = args.start_from
    if start_from is None and args.preset == "finetune":
        start_from = "exodeepfinder"
    print(f"preset {args.preset if not args.schedule else 'custom'}: "
          + ", ".join(f"{s.patch}³×{s.batch}×{s.steps}" for s in schedule)
          + (f"; from {start_from}" if start_from else "; from scratch"))
    return TrainOptions(schedule=schedule, start_from=start_from, filters=tuple(args.filters), learning_rate=args.lr,
                        augment_intensity=args.augment_intensity, validate_every=args.validate_every,
                        background_share=args.background_share, checkpoint_every=args.checkpoint_every,
                        snapshot_every=args.snapshot_every, seed=args.seed)


def cmd_models(args) -> int:
    from exodeep_gui.ml.models import list_models

    for name, title, where in list_models():
        print(f"{name:18s} {title}\n{'':18s} {where}")
    return 0


def cmd_demo(args) -> int:
    """Simulate a movie, detect its events with the published model, evaluate, print scores."""
    import tempfile

    _quiet_tensorflow()
    from exodeep_gui.core.evaluate import evaluate_events
    from exodeep_gui.core.progress import run_to_end
    from exodeep_gui.core.simulate import SimulationParams, simulate_movie
    from exodeep_gui.core.movie import Movie
    from exodeep_gui.io.results import write_results_csv
    from exodeep_gui.core.detection import DetectOptions
    from exodeep_gui.ml.detect import Detector

    sim = simulate_movie(SimulationParams(frames=args.frames, height=128, width=128, events=15,
                                          docked=25, visiting=10), seed=args.seed)
    movie = Movie(sim.movie, pixel_size_um=sim.params.pixel_size_um,
                  frame_interval_s=sim.params.frame_interval_s)
    print(f"simulated movie {sim.movie.shape} with {len(sim.truth)} exocytosis events")
    detector = Detector.load(args.model)
    with ProgressBar("detecting") as bar:
        detection = run_to_end(detector.detect(movie, DetectOptions(model=args.model)), bar)
    events = detection.events()
    out = Path(args.out or tempfile.mkdtemp(prefix="exodeep-demo-")) / "demo_events.csv"
    write_results_csv(out, events, movie.pixel_size_um, movie.frame_interval_s, overwrite=True)
    scores = evaluate_events(sim.truth, events)
    print(f"{len(events)} events detected → {out}")
    print(f"paper rule (≤4.5 px, −2…+5 frames): {scores.summary()}")
    return 0


# ---------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="exodeep", description="Find exocytosis events in TIRF movies.")
    ap.add_argument("--version", action="version", version=f"exodeep {__version__}")
    ap.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = ap.add_subparsers(dest="command", required=True)

    d = sub.add_parser("detect", help="detect events in movies (files, frame folders or folders of movies)")
    d.add_argument("inputs", nargs="+", metavar="MOVIE_OR_FOLDER")
    d.add_argument("--model", default="exodeepfinder",
                   help="a name from `exodeep models` (e.g. exodeep-sim-small: bundled, offline), .h5 weights "
                        "or a model folder")
    d.add_argument("--out", help="output folder (default: beside each movie)")
    d.add_argument("--threshold", type=float, default=None,
                   help="minimum event score, 0-1 (default: the model's recommendation, else 0.5)")
    d.add_argument("--min-size", type=int, default=None,
                   help="minimum event size in voxels (default: the model's recommendation, else 0)")
    d.add_argument("--channel", type=int, default=0, help="channel of multi-channel files (default 0)")
    d.add_argument("--method", choices=["components", "meanshift"], default="components",
                   help="grouping of event voxels: connected components (default) or the reference's mean shift")
    d.add_argument("--tiling", choices=["streaming", "reference"], default="streaming",
                   help="streaming (default: exact, fast) or reference: ExoDeepFinder's cubes and zero padding, "
                        "artefacts included, to reproduce its results (slow; loads the movie into memory)")
    d.add_argument("--cube", type=int, default=160, help="cube side for --tiling reference (default 160)")
    d.add_argument("--formats", type=lambda s: s.split(","), default=["csv", "roi", "xml"],
                   help="comma-separated outputs among csv,roi,xml (default all)")
    d.add_argument("--overwrite", action="store_true", help="replace existing result files")
    d.set_defaults(func=cmd_detect)

    e = sub.add_parser("evaluate", help="precision, recall, F1 of predictions against annotations")
    e.add_argument("truth", help="annotation table (X, Y, Slice) or folder of them")
    e.add_argument("pred", help="predicted events table or folder of them")
    e.add_argument("--max-dist", type=float, default=4.5)
    e.add_argument("--dt-min", type=int, default=-2)
    e.add_argument("--dt-max", type=int, default=5)
    e.add_argument("--exclude-edges", type=int, default=0, help="ignore the first and last N frames")
    e.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("simulate", help="write simulated TIRF movies with ground truth")
    s.add_argument("out_dir")
    s.add_argument("--movies", type=int, default=1)
    s.add_argument("--frames", type=int, default=300)
    s.add_argument("--size", type=int, nargs=2, default=[256, 256], metavar=("HEIGHT", "WIDTH"))
    s.add_argument("--events", type=int, default=40)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--overwrite", action="store_true")
    s.set_defaults(func=cmd_simulate)

    sp = sub.add_parser("spots", help="preview the built-in spot detector (training counter-examples)")
    sp.add_argument("movie")
    sp.add_argument("--start", type=int, default=0, help="first frame (0-based)")
    sp.add_argument("--stop", type=int, default=None, help="frame after the last (default: the end)")
    sp.add_argument("--window", type=float, default=21.0, help="σ of the local-statistics window, px")
    sp.add_argument("--pfa", type=float, default=1e-3, help="probability of false alarm")
    sp.add_argument("--min-area", type=int, default=3, help="smallest spot kept, px")
    sp.add_argument("--channel", type=int, default=0)
    sp.add_argument("--out", help="mask TIFF (default: <movie>_spots.tif beside the movie)")
    sp.add_argument("--overwrite", action="store_true")
    sp.set_defaults(func=cmd_spots)

    from exodeep_gui.core.schedule import PRESET_HELP

    t = sub.add_parser("train", help="train or fine-tune a model on annotated movies",
                       description="Movies with their annotations beside them (NAME.tif + NAME.csv with "
                                   "X, Y, Slice, optional NAME_mask.tif), or folders of them.")
    t.add_argument("data", nargs="*", metavar="DATA", help="annotated movies or folders of them")
    t.add_argument("--out", required=True, help="the new model folder")
    t.add_argument("--preset", choices=sorted(PRESET_HELP), default="quick",
                   help="; ".join(f"{k}: {v}" for k, v in PRESET_HELP.items()) + " (default quick)")
    t.add_argument("--schedule", help="custom stages patch:batch:shift:steps,… (replaces the preset)")
    t.add_argument("--steps-scale", type=float, default=1.0, help="multiply every stage's steps")
    t.add_argument("--from", dest="start_from", help="fine-tune this model (name or folder); "
                   "the finetune preset starts from exodeepfinder by default")
    t.add_argument("--filters", type=int, nargs=3, default=[32, 48, 64], help="U-Net widths from scratch")
    t.add_argument("--valid", nargs="+", help="validation movies (default: a split of DATA by movie)")
    t.add_argument("--valid-fraction", type=float, default=0.3)
    t.add_argument("--validate-every", type=int, default=0, help="steps between validations (0: per stage)")
    t.add_argument("--checkpoint-every", type=int, default=50, help="steps between checkpoints")
    t.add_argument("--snapshot-every", type=int, default=0,
                   help="keep the weights every N steps in OUT/snapshots/ (default 0: none); detect "
                        "with one: --model OUT/snapshots/step_000450.weights.h5")
    t.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate")
    t.add_argument("--augment-intensity", action="store_true", help="random gain, offset and noise")
    t.add_argument("--background-share", type=float, default=0.1,
                   help="share of patches centred anywhere in the cell, not on an object (default 0.1)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--resume", action="store_true",
                   help="continue the unfinished run in --out with its own data and options (give no others)")
    t.add_argument("--overwrite", action="store_true", help="replace a model already in --out")
    t.set_defaults(func=cmd_train)

    m = sub.add_parser("models", help="list available models")
    m.set_defaults(func=cmd_models)

    demo = sub.add_parser("demo", help="simulate, detect and evaluate (a self-check)")
    demo.add_argument("--model", default="exodeepfinder")
    demo.add_argument("--frames", type=int, default=120)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--out")
    demo.set_defaults(func=cmd_demo)
    return ap


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except (UserError, ValueError, OSError) as exc:
        if args.debug:
            raise
        print(f"exodeep: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
