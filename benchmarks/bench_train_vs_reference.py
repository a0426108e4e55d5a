"""Training side by side with the reference (`edf_train`): the same data, the same network, the same
schedule and the same wall-clock budget on this machine; both scored the same way (full-movie
detection on the validation movies, the paper's event rule, threshold 0.5). Prints figures; asserts
nothing.

    python benchmarks/bench_train_vs_reference.py --work DIR --ref-venv VENV [--budget-min 30]
            [--schedule 8:64:4:400,16:16:8:400,32:4:16:200] [--skip-reference] [--skip-exodeep]

VENV is the reference's virtual environment (../shared/tools/install-reference-exodeepfinder.sh).
Data: the 6 simulated movies of bench_train.py (120 × 128 × 128, 20 events each, seeds 100–105; the
same seeded split: 4 train, 2 validate). Our prepared targets (expert cones + built-in spot detector
counter-examples) are written in the reference's dataset layout (``train/`` and ``valid/`` folders of
``NAME.h5``, ``NAME_target.h5``, ``NAME_objl.xml``), so both learn from the same labels and objects.

The reference saves its model every 10 epochs and at the end of each stage; every file it saved within
the budget is scored afterwards (its time is the file's modification time since the start). ExoDeep
validates every ``--validate-every`` steps inside its budget (history.csv). The reference runs its
own per-epoch validation (10 batches per epoch), which is part of its wall time, as ours is of ours.
"""

import argparse
import csv
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

STEPS_PER_EPOCH = 20     # the reference saves every 10 epochs: every 200 steps here


def write_reference_dataset(movies, folder: Path) -> None:
    """Our prepared training movies in the reference's layout (exodeepfinder-reference.md §5)."""
    import h5py
    import numpy as np

    from exodeep_gui.io.movie_io import open_movie

    folder.mkdir(parents=True, exist_ok=True)
    for m in movies:
        raw = np.asarray(open_movie(m.source).frames(0, m.shape[0]))
        with h5py.File(folder / f"{m.name}.h5", "w") as f:
            f.create_dataset("dataset", data=raw)
        with h5py.File(folder / f"{m.name}_target.h5", "w") as f:
            f.create_dataset("dataset", data=m.labels.astype(np.int8))
        root = ET.Element("objlist")
        for cls in (1, 2):
            for t, y, x in m.positions.get(cls, ()):
                ET.SubElement(root, "object", {"tomo_idx": "0", "class_label": str(cls),
                                               "x": f"{float(x):.3f}", "y": f"{float(y):.3f}",
                                               "z": f"{float(t):.3f}"})
        ET.ElementTree(root).write(folder / f"{m.name}_objl.xml")


def run_reference(venv: Path, dataset: Path, out: Path, schedule, budget_s: float) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    args = [str(venv / "bin" / "edf_train"), "-d", str(dataset), "-o", str(out / "model"),
            "-ps", json.dumps([s.patch for s in schedule]), "-bs", json.dumps([s.batch for s in schedule]),
            "-rs", json.dumps([s.shift for s in schedule]),
            "-ne", json.dumps([max(1, s.steps // STEPS_PER_EPOCH) for s in schedule]),
            "-ns", str(STEPS_PER_EPOCH)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    t0 = time.time()
    with open(out / "edf_train.log", "w") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            proc.wait(timeout=budget_s)
            stopped = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            stopped = True
    info = {"start": t0, "wall_s": time.time() - t0, "stopped_at_budget": stopped, "returncode": proc.returncode,
            "command": args}
    (out / "run.json").write_text(json.dumps(info, indent=2))
    return info


def reference_checkpoints(out: Path, schedule) -> list:
    """(elapsed_s, global step, path) of every model file the reference saved, in time order."""
    if not (out / "run.json").is_file():
        return []
    info = json.loads((out / "run.json").read_text())
    offsets, acc = {}, 0
    for s in schedule:
        offsets[s.patch] = (acc, max(1, s.steps // STEPS_PER_EPOCH) * STEPS_PER_EPOCH)
        acc += offsets[s.patch][1]
    rows = []
    for p in out.glob("model_weights_patch_size_*_net_weights_*.h5"):
        m = re.match(r"model_weights_patch_size_(\d+)_net_weights_(epoch(\d+)|FINAL)\.h5$", p.name)
        if not m:
            continue
        start, n = offsets[int(m.group(1))]
        step = start + (int(m.group(3)) * STEPS_PER_EPOCH if m.group(3) else n)
        rows.append((p.stat().st_mtime - info["start"], step, p))
    rows.sort()
    # an epoch file and the FINAL file of the same step are the same weights
    seen, unique = set(), []
    for r in rows:
        if r[1] not in seen:
            seen.add(r[1])
            unique.append(r)
    return unique


def run_exodeep(tr, va, out: Path, schedule, budget_s: float, validate_every: int) -> dict:
    from exodeep_gui.core.progress import CancelToken, Cancelled, run_to_end
    from exodeep_gui.ml.train import TrainOptions, train

    token = CancelToken()
    timer = threading.Timer(budget_s, token.cancel)
    options = TrainOptions(schedule=schedule, validate_every=validate_every, checkpoint_every=100)
    last = [0.0]

    def show(p):
        if getattr(p, "validation", None) or time.perf_counter() - last[0] > 120:
            last[0] = time.perf_counter()
            print(f"  ExoDeep: {p.message} ({p.elapsed_s:.0f} s)", flush=True)

    t0 = time.time()
    timer.start()
    try:
        run_to_end(train(tr, va, out, options, cancel=token, overwrite=True), show)
        stopped = False
    except Cancelled:
        stopped = True
    finally:
        timer.cancel()
    return {"wall_s": time.time() - t0, "stopped_at_budget": stopped}


def exodeep_curve(out: Path) -> list:
    """(elapsed_s, step, f1, precision, recall) of every validation in ExoDeep's history."""
    rows = []
    if not (out / "history.csv").is_file():
        return rows
    with open(out / "history.csv") as f:
        for r in csv.DictReader(f):
            if r.get("f1") not in (None, ""):
                rows.append((float(r["elapsed_s"]), int(r["step"]), float(r["f1"]), float(r["precision"]),
                             float(r["recall"])))
    return rows


def exodeep_last_weights(out: Path):
    """(elapsed_s, step, ModelInfo) of the weights a run stopped by the budget had, or None: scored
    afterwards, like the reference's files."""
    import dataclasses

    from exodeep_gui.ml.models import read_model_folder

    if not (out / "config.json").is_file():
        return None
    if json.loads((out / "config.json").read_text())["training"]["status"] != "cancelled":
        return None
    with open(out / "history.csv") as f:
        last = list(csv.DictReader(f))[-1]
    info = dataclasses.replace(read_model_folder(out), weights=out / "weights_last.weights.h5",
                               weights_format="keras3-weights")
    return float(last["elapsed_s"]), int(last["step"]), info


def first_reaching(curve, f1):
    for elapsed, step, score, *_ in curve:
        if score >= f1 - 1e-9:
            return elapsed, step
    return None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--ref-venv", required=True)
    ap.add_argument("--budget-min", type=float, default=30.0)
    ap.add_argument("--schedule", default="8:64:4:400,16:16:8:400,32:4:16:200")
    ap.add_argument("--validate-every", type=int, default=200)
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--skip-exodeep", action="store_true")
    args = ap.parse_args()

    from exodeep_gui.core.progress import run_to_end
    from exodeep_gui.core.schedule import parse_schedule
    from exodeep_gui.core.simulate import SimulationParams
    from exodeep_gui.io.simulated import write_simulated_set
    from exodeep_gui.ml.dataset import find_training_items, prepare_items, split_items
    from exodeep_gui.ml.train import _hardware

    work = Path(args.work)
    budget = args.budget_min * 60
    schedule = parse_schedule(args.schedule)
    params = SimulationParams(frames=120, height=128, width=128, events=20)
    if not (work / "data" / "simulation.json").is_file():
        write_simulated_set(work / "data", 6, params, seed=100, overwrite=True)
    tr, va = split_items(find_training_items([work / "data"]), 0.3, seed=0)
    print(f"train: {[i.name for i in tr]}  validate: {[i.name for i in va]}")
    print(f"schedule {args.schedule}, budget {args.budget_min:.0f} min each, {_hardware()}")

    valid_movies = run_to_end(prepare_items(va))
    dataset = work / "reference_dataset"
    if not (dataset / "valid").is_dir():
        write_reference_dataset(run_to_end(prepare_items(tr)), dataset / "train")
        write_reference_dataset(valid_movies, dataset / "valid")

    ref_out, our_out = work / "reference", work / "exodeep"
    if not args.skip_reference:
        info = run_reference(Path(args.ref_venv), dataset, ref_out, schedule, budget)
        print(f"reference: {info['wall_s']:.0f} s, stopped at the budget: {info['stopped_at_budget']}")
    if not args.skip_exodeep:
        info = run_exodeep(tr, va, our_out, schedule, budget, args.validate_every)
        print(f"ExoDeep: {info['wall_s']:.0f} s, stopped at the budget: {info['stopped_at_budget']}")

    # every model scored the same way, ExoDeep's own validation's way; scores cached in WORK
    from exodeep_gui.ml.models import load_keras_model, resolve_model
    from exodeep_gui.ml.train import validate

    scored = work / "scores.json"
    cache = json.loads(scored.read_text()) if scored.is_file() else {}

    def score(key: str, info) -> list:
        if key not in cache:
            s = validate(load_keras_model(info), info.spec, valid_movies, threshold=0.5)
            cache[key] = [s["f1"], s["precision"], s["recall"]]
            scored.write_text(json.dumps(cache, indent=1))
        return cache[key]

    ref_curve = [(elapsed, step, *score(path.name, resolve_model(str(path))))
                 for elapsed, step, path in reference_checkpoints(ref_out, schedule)]
    ours = exodeep_curve(our_out)
    last = exodeep_last_weights(our_out)
    if ours and last and last[1] > ours[-1][1]:
        ours.append((last[0], last[1], *score(f"exodeep_last_{last[1]}", last[2])))

    print("\n| engine | step | time | steps/s so far | validation F1 (P, R) |\n|---|---|---|---|---|")
    for name, curve in (("reference edf_train", ref_curve), ("ExoDeep", ours)):
        for elapsed, step, f1, p, r in curve:
            print(f"| {name} | {step} | {elapsed / 60:.1f} min | {step / elapsed:.3f} | {f1:.3f} ({p:.2f}, {r:.2f}) |")
    if ref_curve:
        ref_best = max(ref_curve, key=lambda r: r[2])
        hit = first_reaching(ours, ref_best[2])
        print(f"\nreference best F1 {ref_best[2]:.3f} at {ref_best[0] / 60:.1f} min (step {ref_best[1]})")
        if hit:
            print(f"ExoDeep first reached it at {hit[0] / 60:.1f} min (step {hit[1]}): "
                  f"{hit[0] / ref_best[0]:.2f} × the reference's time")
        else:
            print("ExoDeep did not reach it within the budget")
    if ours:
        best = max(ours, key=lambda r: r[2])
        print(f"ExoDeep best F1 {best[2]:.3f} at {best[0] / 60:.1f} min (step {best[1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
