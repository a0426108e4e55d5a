"""Does fine-tuning on a new kind of movies make a model forget the old kind, and does a replay set of
simulated movies of the default kind (``TrainRequest.simulated``) prevent it?

The training wizard fine-tunes a base model on the user's reviewed movies. Here the base is the
bundled model (trained on simulated movies of the default kind) and the "reviewed movies" are
simulated movies of a *new kind* (``NEW_KIND``: dimmer, slower, wider puffs among many more
docked vesicles). For each replay count (``--replay``, default 0 and 2) the base model is
fine-tuned through the window's own path (ml.training.job.run_training: same data preparation,
validation, calibration), then both the base and the fine-tuned models detect in held-out movies
of both kinds at each model's recommended filter, with the paper's matching.

  nice -n 10 python benchmarks/bench_forgetting.py --work /tmp/forget \\
      [--schedule 16:16:8:200,32:4:16:100] [--replay 0 2] [--train 4] [--heldout 3] [--seeds 0 1] [--settle 4]
Prints a table; the models stay in --work (a second run re-scores the models it finds).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exodeep_gui.core.simulate import SimulationParams  # noqa: E402

SIZE = dict(frames=120, height=128, width=128, events=20)
DEFAULT_KIND = SimulationParams(**SIZE)                     # the kind the bundled model was trained on
NEW_KIND = SimulationParams(**SIZE, sbr_median=1.8, decay_frames=6.0, spread_px2_per_frame=1.0, psf_sigma_px=1.6,
                            docked=150, visiting=40)
SEEDS = {"default": 200, "new": 400, "train": 300, "settle": 500}


def write_set(folder: Path, params: SimulationParams, n: int, seed: int):
    from exodeep_gui.io.simulated import write_simulated_set

    if not folder.is_dir() or len(list(folder.glob("sim_*_mask.tif"))) < n:
        write_simulated_set(folder, n, params, seed=seed, overwrite=True)
    tifs = sorted(p for p in folder.glob("sim_*.tif") if not p.stem.endswith("_mask"))[:n]
    return [(str(t), str(t.with_suffix(".csv")), str(t.with_name(t.stem + "_mask.tif"))) for t in tifs]


def scores(model: str, items):
    """(Scores at the model's recommended filter, (threshold, min size))."""
    from exodeep_gui.core.detection import DetectOptions
    from exodeep_gui.core.evaluate import Scores, evaluate_events
    from exodeep_gui.core.progress import run_to_end
    from exodeep_gui.io.movie_io import open_movie
    from exodeep_gui.io.results import read_events
    from exodeep_gui.ml.detect import Detector

    det = Detector.load(model)
    total, options = Scores(0, 0, 0), None
    for movie, ann, _ in items:
        d = run_to_end(det.detect(open_movie(movie), DetectOptions(model=model)))
        total, options = total + evaluate_events(read_events(ann), d.events()), d.options
    return total, (options.threshold, options.min_size)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", required=True)
    ap.add_argument("--base", default="exodeep-sim-small")
    ap.add_argument("--schedule", default="16:16:8:200,32:4:16:100")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--replay", type=int, nargs="+", default=[0, 2])
    ap.add_argument("--train", type=int, default=4, help="movies of the new kind to train on (+1 validates)")
    ap.add_argument("--heldout", type=int, default=3, help="held-out movies of each kind")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds (patch sampling, replay movies)")
    ap.add_argument("--settle", type=int, default=0, metavar="N",
                    help="first train the base further on N movies of the default kind (+1 validates), same "
                         "schedule, and fine-tune that: a base that has converged on the default kind, which an "
                         "under-trained base (any training improves it) cannot show forgetting from")
    args = ap.parse_args(argv)
    from exodeep_gui.core.progress import run_to_end
    from exodeep_gui.ml.device import describe_device
    from exodeep_gui.ml.training.job import TrainRequest, run_training
    from exodeep_gui.ml.training.options import TrainOptions
    from exodeep_gui.ml.training.schedule import parse_schedule

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    held = {"default": write_set(work / "heldout_default", DEFAULT_KIND, args.heldout, SEEDS["default"]),
            "new": write_set(work / "heldout_new", NEW_KIND, args.heldout, SEEDS["new"])}
    data = write_set(work / "train_new", NEW_KIND, args.train + 1, SEEDS["train"])
    options = TrainOptions(schedule=parse_schedule(args.schedule), start_from=args.base, learning_rate=args.lr)
    rows = [("base: " + args.base, args.base, None)]
    if args.settle:
        settled = work / "base_settled"
        default_data = write_set(work / "train_default", DEFAULT_KIND, args.settle + 1, SEEDS["settle"])
        seconds = None
        if not (settled / "config.json").is_file():
            t0 = time.perf_counter()
            run_to_end(run_training(TrainRequest(str(settled), train=tuple(default_data[:-1]),
                                                 valid=tuple(default_data[-1:]), options=options, overwrite=True)))
            seconds = time.perf_counter() - t0
        rows.append((f"base trained on {args.settle} default", str(settled), seconds))
        options = replace(options, start_from=str(settled))
    for seed in args.seeds:
        for r in args.replay:
            folder = work / (f"finetuned_replay{r}" + (f"_seed{seed}" if seed else ""))
            seconds = None
            if not (folder / "config.json").is_file():
                request = TrainRequest(str(folder), train=tuple(data[:-1]), valid=tuple(data[-1:]),
                                       options=replace(options, seed=seed), simulated=r, overwrite=True)
                t0 = time.perf_counter()
                run_to_end(run_training(request), lambda p: print(f"  replay {r}: {p.message}", file=sys.stderr,
                                                                      flush=True) if p.stage != "train" else None)
                seconds = time.perf_counter() - t0
            rows.append((f"fine-tuned, replay {r}, seed {seed}", str(folder), seconds))
    print(f"\n{describe_device()}; schedule {args.schedule}, lr {args.lr:g}, from {options.start_from}; "
          f"{args.train} new-kind movies train + 1 validates; held-out {args.heldout} movies per kind "
          f"({SIZE['frames']} frames × {SIZE['height']}² px, {SIZE['events']} events each)")
    print(f"new kind: {', '.join(f'{k}={v}' for k, v in NEW_KIND.to_dict().items() if v != getattr(DEFAULT_KIND, k))}")
    print(f"\n{'model':34s} {'filter':>12s} {'default kind F1 (P, R)':>24s} {'new kind F1 (P, R)':>24s} {'train s':>8s}")
    for label, model, seconds in rows:
        cells = []
        for kind in ("default", "new"):
            s, (t, m) = scores(model, held[kind])
            cells.append(f"{s.f1:.3f} ({s.precision:.2f}, {s.recall:.2f})")
        sec = f"{seconds:.0f}" if seconds else "—"
        print(f"{label:34s} {f'≥{t:.2f}, ≥{m}':>12s} {cells[0]:>24s} {cells[1]:>24s} {sec:>8s}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
