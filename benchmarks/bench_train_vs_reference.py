"""Training side by side with the reference (`edf_train`): the same data, the same network, the same
schedule and the same wall-clock budget on this machine; both scored the same way (full-movie
detection on the validation movies, the paper's event rule, threshold 0.5). Prints figures; asserts
nothing.

    python benchmarks/bench_train_vs_reference.py --work DIR --ref-venv VENV [--budget-min 30]
            [--schedule 8:64:4:400,16:16:8:400,32:4:16:200] [--snapshot-every 50]
            [--backend tensorflow|torch|jax] [--skip-reference] [--skip-exodeep]

VENV is the reference's virtual environment (../shared/tools/install-reference-exodeepfinder.sh).
Data: the 6 simulated movies of bench_train.py (120 × 128 × 128, 20 events each, seeds 100–105; the
same seeded split: 4 train, 2 validate). Our prepared targets (expert cones + built-in spot detector
counter-examples) are written in the reference's dataset layout (``train/`` and ``valid/`` folders of
``NAME.h5``, ``NAME_target.h5``, ``NAME_objl.xml``), so both learn from the same labels and objects.

Both run the same way: a process started on the command line (``edf_train``; ``exodeep train`` with
its default validation at the end of each stage) and killed when the budget is spent. Every model
file it saved within the budget is scored afterwards; its time is the file's modification time since
the process started, so start-up and data loading count, and ExoDeep's time also includes preparing
its targets (the spot detector's counter-examples), which the reference reads ready-made. The
reference saves its model every 10 epochs (200 steps here) and at the end of each stage and runs its
own per-epoch validation (10 batches per epoch); ExoDeep keeps its weights every
``--snapshot-every`` steps (``exodeep train --snapshot-every``).
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
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


def run_timed(command, env: dict, out: Path, budget_s: float) -> dict:
    """Run ``command`` as its own process group; kill it when the budget is spent. The start time
    is written to OUT/run.json: every saved model's time is its file's modification time since then."""
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with open(out / "run.log", "w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, **env),
                                start_new_session=True)
        try:
            proc.wait(timeout=budget_s)
            stopped = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            stopped = True
    info = {"start": t0, "wall_s": time.time() - t0, "stopped_at_budget": stopped, "returncode": proc.returncode,
            "command": command, "env": env}
    (out / "run.json").write_text(json.dumps(info, indent=2))
    return info


def reference_command(venv: Path, dataset: Path, out: Path, schedule) -> list:
    return [str(venv / "bin" / "edf_train"), "-d", str(dataset), "-o", str(out / "model"),
            "-ps", json.dumps([s.patch for s in schedule]), "-bs", json.dumps([s.batch for s in schedule]),
            "-rs", json.dumps([s.shift for s in schedule]),
            "-ne", json.dumps([max(1, s.steps // STEPS_PER_EPOCH) for s in schedule]),
            "-ns", str(STEPS_PER_EPOCH)]


def exodeep_command(data: Path, out: Path, schedule_text: str, snapshot_every: int) -> list:
    """ExoDeep as a user runs it (the CLI, default validation: at the end of each stage), keeping its
    weights every ``snapshot_every`` steps; the split is the CLI's default one (30 %, seed 0)."""
    return [sys.executable, "-m", "exodeep_gui.cli", "train", str(data), "--out", str(out / "model"),
            "--schedule", schedule_text, "--snapshot-every", str(snapshot_every), "--overwrite"]


def _start(out: Path) -> float:
    return json.loads((out / "run.json").read_text())["start"]


def reference_checkpoints(out: Path, schedule) -> list:
    """(elapsed_s, global step, path) of every model file the reference saved, in time order."""
    if not (out / "run.json").is_file():
        return []
    start0 = _start(out)
    offsets, acc = {}, 0
    for s in schedule:
        offsets[s.patch] = (acc, max(1, s.steps // STEPS_PER_EPOCH) * STEPS_PER_EPOCH)
        acc += offsets[s.patch][1]
    rows = []
    for p in out.glob("model_weights_patch_size_*_net_weights_*.h5"):
        m = re.match(r"model_weights_patch_size_(\d+)_net_weights_(epoch(\d+)|FINAL)\.h5$", p.name)
        if not m:
            continue
        begin, n = offsets[int(m.group(1))]
        step = begin + (int(m.group(3)) * STEPS_PER_EPOCH if m.group(3) else n)
        rows.append((p.stat().st_mtime - start0, step, p))
    rows.sort()
    # an epoch file and the FINAL file of the same step are the same weights
    seen, unique = set(), []
    for r in rows:
        if r[1] not in seen:
            seen.add(r[1])
            unique.append(r)
    return unique


def exodeep_snapshots(out: Path) -> list:
    """(elapsed_s, global step, ModelInfo) of every snapshot ExoDeep kept within its budget: loaded
    as users load one (``--model MODEL/snapshots/step_….weights.h5``) once the folder has its
    config.json; a run killed at the budget has none yet, and its architecture is in its checkpoint."""
    from exodeep_gui.ml.models import ModelInfo, resolve_model
    from exodeep_gui.ml.model_folder import ModelFolder
    from exodeep_gui.ml.unet import UNetSpec

    model = ModelFolder(out / "model")
    if not (out / "run.json").is_file() or not model.snapshots():
        return []
    kept, start0 = model.snapshots(), _start(out)
    if model.is_model():
        infos = [resolve_model(str(path)) for _, path in kept]
    else:
        spec = UNetSpec(filters=tuple(model.read_checkpoint().state["options"]["filters"]))
        infos = [ModelInfo(path.name, path, "keras3-weights", spec) for _, path in kept]
    return [(path.stat().st_mtime - start0, step, info) for (step, path), info in zip(kept, infos)]


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
    ap.add_argument("--snapshot-every", type=int, default=50, help="ExoDeep keeps its weights every N steps")
    ap.add_argument("--backend", default="tensorflow", help="Keras backend of ExoDeep's run (tensorflow, torch, jax)")
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--skip-exodeep", action="store_true")
    args = ap.parse_args()

    from exodeep_gui.core.progress import run_to_end
    from exodeep_gui.ml.training.schedule import parse_schedule
    from exodeep_gui.core.simulate import SimulationParams
    from exodeep_gui.io.simulated import write_simulated_set
    from exodeep_gui.ml.training.dataset import find_training_items, prepare_items, split_items
    from exodeep_gui.ml.training.train import _hardware

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

    ref_out, our_out = work / "reference", work / f"exodeep_{args.backend}"
    if not args.skip_reference:
        info = run_timed(reference_command(Path(args.ref_venv), dataset, ref_out, schedule), {}, ref_out, budget)
        print(f"reference: {info['wall_s']:.0f} s, stopped at the budget: {info['stopped_at_budget']}")
    if not args.skip_exodeep:
        command = exodeep_command(work / "data", our_out, args.schedule, args.snapshot_every)
        info = run_timed(command, {"KERAS_BACKEND": args.backend}, our_out, budget)
        print(f"ExoDeep ({args.backend}): {info['wall_s']:.0f} s, stopped at the budget: {info['stopped_at_budget']}")

    # every model scored the same way, ExoDeep's own validation's way; scores cached in WORK
    from exodeep_gui.ml.models import load_keras_model, resolve_model
    from exodeep_gui.ml.training.validation import validate

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
    ours = [(elapsed, step, *score(f"{our_out.name}_{step}", info))
            for elapsed, step, info in exodeep_snapshots(our_out)]

    print("\n| engine | step | time | steps/s so far | validation F1 (P, R) |\n|---|---|---|---|---|")
    for name, curve in (("reference edf_train", ref_curve), (f"ExoDeep ({args.backend})", ours)):
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
