"""Training benchmark: train (or fine-tune) on simulated movies, then event F1 (paper rule) on
held-out simulated movies, with the wall time and hardware. Prints figures; asserts nothing.

    python benchmarks/bench_train.py --work DIR [--schedule 16:16:8:600,32:4:16:300] [--filters 16 24 32]
                                     [--lr 1e-3] [--from exodeepfinder] [--background-share 0.3]

Data: 6 training movies (120 × 128 × 128, 20 events each, seeds 100–105; 2 of them validate) and
3 held-out movies (seeds 200–202) from ``exodeep simulate``, written once into DIR."""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def held_out_scores(model: str, folder: Path, threshold=None, min_size=None) -> dict:
    """Scores on the held-out movies; threshold/min_size None → the model's recommendation
    (config.json "recommended"), else 0.5 and 0."""
    from exodeep_gui.core.evaluate import Scores, evaluate_events
    from exodeep_gui.core.progress import run_to_end
    from exodeep_gui.io.movie_io import open_movie
    from exodeep_gui.io.results import read_events
    from exodeep_gui.core.detection import DetectOptions
    from exodeep_gui.ml.detect import Detector

    det = Detector.load(model)
    total = Scores(0, 0, 0)
    for tif in sorted(folder.glob("sim_*.tif")):
        if tif.stem.endswith("_mask"):
            continue
        result = run_to_end(det.detect(open_movie(tif), DetectOptions(model=model, threshold=threshold, min_size=min_size)))
        total = total + evaluate_events(read_events(tif.with_suffix(".csv")), result.events())
    return {"threshold": threshold, "min_size": min_size, "precision": total.precision, "recall": total.recall, "f1": total.f1,
            "tp": total.tp, "fp": total.fp, "fn": total.fn}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--schedule", default="16:16:8:600,32:4:16:300")
    ap.add_argument("--filters", type=int, nargs=3, default=[16, 24, 32])
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--validate-every", type=int, default=100)
    ap.add_argument("--background-share", type=float, default=0.3)
    ap.add_argument("--from", dest="start_from")
    ap.add_argument("--name", default="model")
    args = ap.parse_args()

    from exodeep_gui.core.progress import run_to_end
    from exodeep_gui.ml.training.schedule import parse_schedule
    from exodeep_gui.core.simulate import SimulationParams
    from exodeep_gui.io.simulated import write_simulated_set
    from exodeep_gui.ml.training.dataset import find_training_items, split_items
    from exodeep_gui.ml.training.train import TrainOptions, _hardware, train

    work = Path(args.work)
    params = SimulationParams(frames=120, height=128, width=128, events=20)
    if not (work / "data" / "simulation.json").is_file():
        write_simulated_set(work / "data", 6, params, seed=100, overwrite=True)
    if not (work / "heldout" / "simulation.json").is_file():
        write_simulated_set(work / "heldout", 3, params, seed=200, overwrite=True)
    tr, va = split_items(find_training_items([work / "data"]), 0.3, seed=0)
    if args.start_from:
        before = held_out_scores(args.start_from, work / "heldout")
        print(f"held-out before fine-tuning ({args.start_from}): " + json.dumps(before))
        # the same filter calibration on the validation movies that training ends with, so that
        # "before" and "after" are compared alike
        from exodeep_gui.ml.training.dataset import prepare_items
        from exodeep_gui.ml.models import load_keras_model, resolve_model
        from exodeep_gui.ml.training.validation import calibrate

        info = resolve_model(args.start_from)
        rec = calibrate(load_keras_model(info), info.spec, run_to_end(prepare_items(va)))
        cal = held_out_scores(args.start_from, work / "heldout", rec["threshold"], rec["min_size"])
        print(f"held-out before fine-tuning, calibrated on the validation movies {json.dumps(rec)}: "
              + json.dumps(cal))
    options = TrainOptions(schedule=parse_schedule(args.schedule), start_from=args.start_from,
                           filters=tuple(args.filters), learning_rate=args.lr,
                           background_share=args.background_share, checkpoint_every=100,
                           validate_every=args.validate_every)
    out = work / args.name
    t0 = time.perf_counter()
    last = [0.0]

    def show(p):
        if getattr(p, "validation", None) or time.perf_counter() - last[0] > 60:
            last[0] = time.perf_counter()
            print(f"  {p.message} ({p.elapsed_s:.0f} s)", flush=True)

    result = run_to_end(train(tr, va, out, options, overwrite=True), show)
    wall = time.perf_counter() - t0
    plain = held_out_scores(str(out), work / "heldout", threshold=0.5, min_size=0)
    after = held_out_scores(str(out), work / "heldout")
    steps_per_s = result.steps / wall
    print(f"trained {result.steps} steps in {wall:.0f} s ({steps_per_s:.2f} steps/s) on {_hardware()}")
    print(f"best validation: {json.dumps(result.best)}")
    print("held-out (3 movies, 60 events), threshold 0.5, no minimum size: " + json.dumps(plain))
    rec = json.loads((out / "config.json").read_text()).get("recommended")
    print(f"held-out with the calibrated recommendation {json.dumps(rec)}: " + json.dumps(after))
    return 0


if __name__ == "__main__":
    sys.exit(main())
