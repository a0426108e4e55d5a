"""Fine-tuning on a GPU through the training wizard's own API (ml.training_job.run_training and
compare), and whether mixing simulated movies into the data keeps what the model knew.

    KERAS_BACKEND=torch PYTHONPATH=. python benchmarks/gpu_finetune.py --weights W.h5 --out "$OUT"
    KERAS_BACKEND=torch PYTHONPATH=. python benchmarks/gpu_finetune.py --weights W.h5 --out /tmp/o --small

The published model is fine-tuned (the "finetune" preset: 48³ patches, batch 10, 300 steps) on two
simulated movies of a *new kind* (events that decay and spread faster, at a lower brightness than
the simulator's defaults), validated on a third. Run A uses those two movies only; run B mixes in
two simulated movies of the default kind (the wizard's "mix in simulated movies"). Before and
after, every model is scored (paper rule, at its recommended filter) on a held-out movie of the
new kind and on two movies of the default kind (what it knew). Prints a table; writes
finetune.json into --out. Step time per stage comes from the runs' history.csv.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NEW_KIND = dict(decay_frames=1.5, spread_px2_per_frame=1.2, sbr_median=1.6)


def simulate(folder: Path, small: bool):
    from exodeep_gui.core.simulate import SimulationParams, simulate_movie
    from exodeep_gui.io.simulated import write_simulated

    size = dict(frames=40, height=64, width=64, events=6, docked=6, visiting=2) if small else \
        dict(frames=150, height=160, width=160, events=25, docked=30, visiting=10)
    new, old = SimulationParams(**size, **NEW_KIND), SimulationParams(**size)

    def item(name, params, seed):
        p = write_simulated(folder, name, simulate_movie(params, seed=seed), overwrite=True)
        return (str(p), str(p.with_suffix(".csv")), str(p.with_name(p.stem + "_mask.tif")))

    return {"train": [item(f"new_train_{i}", new, 100 + i) for i in range(2)],
            "valid": [item("new_valid", new, 200)],
            "new_test": [item("new_test", new, 300)],
            "old_test": [item(f"old_test_{i}", old, 400 + i) for i in range(2)]}


def scores(model, items):
    from exodeep_gui.core.progress import run_to_end
    from exodeep_gui.ml.training.job import compare

    rows = run_to_end(compare(None, model, items))
    out = []
    for (movie, ann, _), r in zip(items, rows):
        out.append({"movie": r["movie"], **{k: round(v, 3) for k, v in r["after"].items() if k != "min_size"}})
    f1s = [o["f1"] for o in out]
    return {"movies": out, "mean_f1": round(sum(f1s) / len(f1s), 3)}


def step_times(folder: Path):
    rows = list(csv.DictReader(open(folder / "history.csv")))
    by_stage = {}
    for prev, row in zip(rows, rows[1:]):
        if row["stage"] == prev["stage"]:
            by_stage.setdefault(row["patch"], []).append(float(row["elapsed_s"]) - float(prev["elapsed_s"]))
    return {patch: round(sorted(v)[len(v) // 2], 4) for patch, v in by_stage.items()}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--work", default="/tmp/gpu-finetune")
    args = ap.parse_args()
    from exodeep_gui.core.progress import run_to_end
    from exodeep_gui.ml.training.schedule import PRESETS, Stage
    from exodeep_gui.ml.device import describe_device
    from exodeep_gui.ml.training.train import TrainOptions
    from exodeep_gui.ml.training.job import TrainRequest, run_training

    work, out = Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("EXODEEP_DATA_DIR", str(work / "userdata"))
    t0 = time.perf_counter()
    data = simulate(work / "data", args.small)
    report = {"device": describe_device(), "simulate_s": round(time.perf_counter() - t0, 1), "runs": {}}
    print(report["device"], flush=True)
    schedule = (Stage(16, 2, 8, 3),) if args.small else PRESETS["finetune"]
    report["before"] = {k: scores(args.weights, data[k]) for k in ("new_test", "old_test")}
    print("before", json.dumps(report["before"]), flush=True)
    for name, mix in (("A_no_mix", 0), ("B_mix_2_simulated", 2)):
        folder = work / name
        options = TrainOptions(schedule=schedule, start_from=args.weights, seed=0, jit_compile="off")   # no torch.compile wait
        t0 = time.perf_counter()
        summary = run_to_end(run_training(TrainRequest(str(folder), tuple(data["train"]), tuple(data["valid"]),
                                                       options, simulated=mix, overwrite=True)))
        wall = time.perf_counter() - t0
        run = {"wall_s": round(wall, 1), "steps": summary["steps"], "best": summary["best"],
               "recommended": summary["recommended"], "s_per_step_by_patch": step_times(folder),
               "mixed_precision": summary["training"].get("mixed_precision")}
        run.update({k: scores(str(folder), data[k]) for k in ("new_test", "old_test")})
        report["runs"][name] = run
        print(name, json.dumps(run), flush=True)
    (out / "finetune.json").write_text(json.dumps(report, indent=2))
    print(f"\n{'model':22s} {'new kind F1':>12s} {'default kind F1':>16s} {'wall s':>8s} {'s/step':>10s}")
    print(f"{'published (before)':22s} {report['before']['new_test']['mean_f1']:12.3f} "
          f"{report['before']['old_test']['mean_f1']:16.3f}")
    for name, r in report["runs"].items():
        print(f"{name:22s} {r['new_test']['mean_f1']:12.3f} {r['old_test']['mean_f1']:16.3f} {r['wall_s']:8.1f} "
              f"{json.dumps(r['s_per_step_by_patch']):>10s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
