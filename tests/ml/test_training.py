"""The training engine: data checks, patch sampling, loss, a short run, cancel and resume."""

import csv
import json

import numpy as np
import pytest

from exodeep_gui.ml.training.patches import Augment, PatchSampler, TrainingMovie
from exodeep_gui.core.progress import CancelToken, Cancelled, run_to_end
from exodeep_gui.ml.training.schedule import PRESETS, ScheduleError, Stage, parse_schedule
from exodeep_gui.core.simulate import SimulationParams
from exodeep_gui.io.atomic import OutputError
from exodeep_gui.io.simulated import write_simulated_set
from exodeep_gui.ml.training.dataset import TrainingDataError, check_training_items, find_training_items, split_items

TINY_SCHEDULE = (Stage(8, 4, 2, 4), Stage(16, 2, 4, 3))
PARAMS = SimulationParams(frames=40, height=48, width=48, events=5, docked=5, visiting=2)


@pytest.fixture(scope="module")
def sim_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sims")
    write_simulated_set(folder, 3, PARAMS, seed=11)
    return folder


def tiny_options(**kw):
    from exodeep_gui.ml.training.train import TrainOptions

    base = dict(schedule=TINY_SCHEDULE, filters=(4, 6, 8), checkpoint_every=2, seed=3)
    base.update(kw)
    return TrainOptions(**base)


def test_schedule_presets_and_parsing():
    paper = PRESETS["paper"]
    assert [(s.patch, s.batch, s.shift) for s in paper] == [(8, 256, 4), (16, 128, 8), (32, 32, 16), (48, 10, 32)]
    assert sum(s.steps for s in paper) == 40_000
    assert parse_schedule("8:16:4:10, 16:8:8:5") == (Stage(8, 16, 4, 10), Stage(16, 8, 8, 5))
    with pytest.raises(ScheduleError, match="multiple of 4"):
        parse_schedule("10:16:4:10")
    with pytest.raises(ScheduleError, match="patch:batch:shift:steps"):
        parse_schedule("8:16")


def test_find_and_check_training_data(sim_folder, tmp_path):
    items = find_training_items([sim_folder])
    assert [i.name for i in items] == ["sim_011", "sim_012", "sim_013"]
    assert all(i.annotations.suffix == ".csv" and i.mask is not None for i in items)
    check_training_items(items)
    train, valid = split_items(items, 0.3, seed=0)
    assert len(train) == 2 and len(valid) == 1 and not set(train) & set(valid)

    # every problem at once: an event outside the movie, a duplicate, a movie without annotations
    bad = tmp_path / "bad"
    bad.mkdir()
    for suffix in (".tif", "_mask.tif"):
        (bad / f"a{suffix}").write_bytes((sim_folder / f"sim_011{suffix}").read_bytes())
    (bad / "b.tif").write_bytes((sim_folder / "sim_012.tif").read_bytes())
    (bad / "a.csv").write_text(" ,X,Y,Slice\n1,10,10,5\n2,10,10,5\n3,500,10,5\n")
    with pytest.raises(TrainingDataError) as err:
        check_training_items(find_training_items([bad]))
    text = str(err.value)
    assert "outside the movie" in text and "more than once" in text and "b.tif: no annotations" in text


def test_sampler_balances_classes_and_keeps_time_order():
    rng = np.random.default_rng(0)
    T, H, W = 40, 32, 32
    image = np.broadcast_to(np.arange(T, dtype=np.float16)[:, None, None], (T, H, W)).copy()
    labels = np.zeros((T, H, W), np.int8)
    labels[20, 16, 16] = 2
    labels[10, 5, 5] = 1
    movie = TrainingMovie("m", image, labels, {1: np.array([[10, 5, 5]]), 2: np.array([[20, 16, 16]])})
    sampler = PatchSampler([movie], background_share=0.0, augment=Augment(dihedral=True))
    x, y = sampler.sample(8, 200, 0, rng)
    assert x.shape == (200, 8, 8, 8, 1) and y.shape == (200, 8, 8, 8, 3)
    assert np.allclose(y.sum(-1), 1)
    # time is never flipped: image values rise along the patch's time axis
    assert (np.diff(x[..., 0], axis=1) > 0).all()
    has2 = y[..., 2].any(axis=(1, 2, 3))
    has1 = y[..., 1].any(axis=(1, 2, 3))
    assert 0.35 < has2.mean() < 0.65 and 0.35 < has1.mean() < 0.65
    # with shift 0, every event patch holds its event voxel at the same time index (centre)
    t_idx = np.nonzero(y[has2][..., 2].any(axis=(2, 3)))[1]
    assert (t_idx == 4).all()


def test_tversky_loss_values():
    from keras import ops

    from exodeep_gui.ml.training.train import tversky_loss

    y = np.eye(3, dtype=np.float32)[np.random.default_rng(0).integers(0, 3, (2, 4, 4, 4))]
    loss = tversky_loss()
    assert float(ops.convert_to_numpy(loss(y, y))) == pytest.approx(0.0, abs=1e-5)
    uniform = np.full_like(y, 1 / 3)
    n = y.sum(axis=(0, 1, 2, 3))
    N = y.shape[0] * 64
    tp, fp, fn = n / 3, (N - n) / 3, 2 * n / 3
    expected = 3 - np.sum(tp / (tp + 0.5 * fp + 0.5 * fn))
    assert float(ops.convert_to_numpy(loss(y, uniform))) == pytest.approx(expected, rel=1e-5)


def test_train_writes_a_model_folder_that_detects(sim_folder, tmp_path):
    from exodeep_gui.core.detection import DetectOptions
    from exodeep_gui.ml.detect import Detector
    from exodeep_gui.ml.training.train import train

    items = find_training_items([sim_folder])
    tr, va = split_items(items, 0.3, seed=0)
    out = tmp_path / "model"
    reports = []
    result = run_to_end(train(tr, va, out, tiny_options()), reports.append)
    assert result.steps == 7
    steps = [r for r in reports if r.stage == "train" and r.done > 0]
    assert [r.global_step for r in steps] == list(range(1, 8))
    assert all(np.isfinite(r.loss) for r in steps)
    assert sum(r.validation is not None for r in steps) == 2          # end of each stage
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["architecture"]["filters"] == [4, 6, 8]
    assert cfg["schedule"][1] == {"patch": 16, "batch": 2, "shift": 4, "steps": 3}
    assert cfg["training"]["status"] == "finished" and cfg["training"]["data"]["valid"]["movies"] == [va[0].name]
    # the filters are calibrated on the validation movies and used by detection by default
    rec = cfg["recommended"]
    assert rec["chosen_on"] == "validation movies" and 0 <= rec["f1"] <= 1
    assert rec["threshold"] in (0.5, 0.6, 0.7, 0.8, 0.9, 0.95) and rec["min_size"] % 10 == 0
    rows = list(csv.DictReader((out / "history.csv").open()))
    assert len(rows) == 7 and rows[-1]["f1"] != ""
    assert not (out / "checkpoint").exists()
    assert (out / "weights_best.weights.h5").is_file() and (out / "weights_last.weights.h5").is_file()
    # the folder is a model: detection runs with it
    from exodeep_gui.io.movie_io import open_movie

    det = Detector.load(str(out)).detect_blocking(open_movie(va[0].movie), DetectOptions(model=str(out)))
    assert det.segmentation.labels.shape == (40, 48, 48)
    assert (det.options.threshold, det.options.min_size) == (rec["threshold"], rec["min_size"])
    # a finished folder is not overwritten by a new run
    with pytest.raises(OutputError, match="not empty"):
        run_to_end(train(tr, va, out, tiny_options()))


def test_cancel_then_resume_continues_without_lost_steps(sim_folder, tmp_path):
    import shutil

    from exodeep_gui.ml.model_folder import ModelFolder
    from exodeep_gui.ml.models import load_keras_model, resolve_model
    from exodeep_gui.ml.training.train import resume, train
    from exodeep_gui.ml.unet import ModelError

    items = find_training_items([sim_folder])
    tr, va = split_items(items, 0.3, seed=0)
    out = tmp_path / "model"
    token = CancelToken()
    seen = []

    def on_report(r):
        seen.append(r)
        if getattr(r, "global_step", 0) == 5:
            token.cancel()

    with pytest.raises(Cancelled):
        run_to_end(train(tr, va, out, tiny_options(snapshot_every=2), cancel=token), on_report)
    folder = ModelFolder(out)
    assert folder.is_unfinished() and folder.is_model()       # cancelled: outputs written, checkpoint kept
    state = folder.read_checkpoint().state
    assert state["global_step"] == 5 and state["stage"] == 1 and state["stage_step"] == 1
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["training"]["status"] == "cancelled"

    reports = []
    result = run_to_end(resume(out), reports.append)
    assert result.steps == 7 and not folder.is_unfinished()
    assert [r.global_step for r in reports if r.stage == "train" and r.done > 0] == [6, 7]
    assert [int(r["step"]) for r in csv.DictReader((out / "history.csv").open())] == list(range(1, 8))
    # snapshots every 2 steps, across the cancel and the resume; each is a model (the folder's
    # architecture, not the folder's filters calibrated for its best weights) with that step's weights
    kept = folder.snapshots()
    assert [step for step, _ in kept] == [2, 4, 6]
    infos = [resolve_model(str(path)) for _, path in kept]
    assert infos[0].name == "model (step_000002)" and infos[0].weights == kept[0][1]
    assert "recommended" in json.loads((out / "config.json").read_text()) and "recommended" not in infos[0].config
    weights = [load_keras_model(info).get_weights() for info in infos]
    assert any(not np.allclose(a, b) for a, b in zip(weights[0], weights[1]))
    assert any(not np.allclose(a, b) for a, b in zip(weights[1], weights[2]))
    loose = tmp_path / "loose.weights.h5"
    shutil.copy(kept[0][1], loose)
    with pytest.raises(ModelError, match="without their model folder"):
        resolve_model(str(loose))
    # a new run over the folder starts without the old run's snapshots
    run_to_end(train(tr, va, out, tiny_options(schedule=(Stage(8, 4, 2, 1),), snapshot_every=2), overwrite=True))
    assert folder.snapshots() == []
    # a finished run has nothing to resume
    with pytest.raises(OutputError, match="no unfinished training run"):
        run_to_end(resume(out))


def test_fine_tune_starts_from_a_model_folder(sim_folder, tmp_path):
    from exodeep_gui.ml.models import load_keras_model, read_model_folder
    from exodeep_gui.ml.training.train import train

    items = find_training_items([sim_folder])
    base = tmp_path / "base"
    run_to_end(train(items[:1], [], base, tiny_options(schedule=(Stage(8, 2, 2, 1),))))
    before = [w.copy() for w in load_keras_model(read_model_folder(base)).get_weights()]
    tuned = tmp_path / "tuned"
    run_to_end(train(items[:1], [], tuned, tiny_options(schedule=(Stage(8, 2, 2, 2),), start_from=str(base),
                                                         filters=(32, 48, 64))))
    cfg = json.loads((tuned / "config.json").read_text())
    assert cfg["architecture"]["filters"] == [4, 6, 8]          # the base model's architecture wins
    assert cfg["training"]["started_from"] == "base"
    after = load_keras_model(read_model_folder(tuned)).get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(before, after))


# ---------------------------------------------------------------- killed runs (SIGKILL) resume
_CHILD = r'''
import json, os, signal, sys
from pathlib import Path
out, rows, kill = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
from exodeep_gui.core.progress import run_to_end
from exodeep_gui.ml.training.schedule import Stage
from exodeep_gui.ml import model_folder
from exodeep_gui.ml.training import train as train_mod
from exodeep_gui.ml.training.dataset import TrainingItem

def die():
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)

writes = {"n": 0}
if kill == "checkpoint-weights":          # the 2nd checkpoint: its weights written, not its optimizer
    real = model_folder.np.savez
    def savez(*a, **k):
        writes["n"] += 1
        if writes["n"] == 2:
            die()
        return real(*a, **k)
    model_folder.np.savez = savez
elif kill == "checkpoint-swap":           # the 2nd checkpoint: whole, the old one renamed away, not swapped in
    real_rename = Path.rename
    def rename(self, target):
        if self.name == "checkpoint.new":
            writes["n"] += 1
            if writes["n"] == 2:
                die()
        return real_rename(self, target)
    Path.rename = rename
elif kill == "last-weights":              # half of weights_last written after the 2nd checkpoint
    real_save = train_mod.save_weights
    def save(model, path):
        if Path(path).name == model_folder.LAST:
            writes["n"] += 1
            if writes["n"] == 2:
                Path(path).with_name("weights_last.part.weights.h5").write_bytes(b"half a file")
                die()
        return real_save(model, path)
    train_mod.save_weights = save

items = [TrainingItem(Path(a), Path(b), Path(c) if c else None) for a, b, c in rows]
opts = train_mod.TrainOptions(schedule=(Stage(8, 4, 2, 4), Stage(16, 2, 4, 3)), filters=(4, 6, 8),
                              checkpoint_every=2, snapshot_every=3, seed=3, mixed_precision="off", jit_compile="off")
def report(p):
    if p.stage == "train" and p.done > 0:
        print("step", p.global_step, flush=True)
run_to_end(train_mod.train(items, [], out, opts), report)
print("finished", flush=True)
'''


def _run_killed(out, items, kill, after_step=None, timeout=240):
    """Train in a child process and SIGKILL it: after ``after_step`` reports (from here), or from
    inside at the kill point ``kill``. Returns the last step reported."""
    import signal
    import subprocess
    import sys

    rows = [[str(i.movie), str(i.annotations), str(i.mask) if i.mask else ""] for i in items]
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(out), json.dumps(rows), kill],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    last = 0
    try:
        for line in proc.stdout:
            if line.startswith("step"):
                last = int(line.split()[1])
                if after_step is not None and last >= after_step:
                    proc.send_signal(signal.SIGKILL)
                    break
        proc.wait(timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read()
    assert proc.returncode == -signal.SIGKILL, f"child ended with {proc.returncode}: {err[-2000:]}"
    return last


@pytest.mark.slow
@pytest.mark.faults
@pytest.mark.parametrize("kill, after_step, checkpoint_step", [
    ("between-checkpoints", 3, 2),          # killed by the parent after 3 steps: checkpoint at step 2
    ("checkpoint-weights", None, 2),        # inside the 2nd checkpoint (step 4): the 1st is kept
    ("checkpoint-swap", None, 4),           # between the renames of the 2nd: the whole new one is used
    ("last-weights", None, 4),              # writing weights_last after the 2nd checkpoint
])
def test_a_run_killed_at_any_moment_resumes_without_lost_steps(sim_folder, tmp_path, kill, after_step,
                                                               checkpoint_step):
    """SIGKILL at several moments (between checkpoints, inside a checkpoint write, between the two
    renames of its swap, while weights_last is written): the folder is a model (config.json
    written at the start, snapshots usable), the furthest whole checkpoint is found, and resume
    goes on from it to the end with every step once in the history and nothing half-written left."""
    from exodeep_gui.ml.model_folder import ModelFolder
    from exodeep_gui.ml.models import load_keras_model, resolve_model
    from exodeep_gui.ml.training.train import resume

    items = find_training_items([sim_folder])[:2]
    out = tmp_path / "model"
    last = _run_killed(out, items, kill, after_step)
    assert last >= checkpoint_step
    folder = ModelFolder(out)
    cfg = folder.read_config()                           # written at the start: a model folder
    assert cfg["training"]["status"] == "running" and cfg["architecture"]["filters"] == [4, 6, 8]
    assert folder.is_unfinished()
    assert folder.read_checkpoint().state["global_step"] == checkpoint_step
    snaps = folder.snapshots()
    if snaps:                                            # a snapshot detects meanwhile
        load_keras_model(resolve_model(str(snaps[-1][1])))
    if folder.last.is_file():                            # so do the last weights (never half-written)
        load_keras_model(resolve_model(str(folder.last)))
    with pytest.raises(Exception, match="did not finish"):
        resolve_model(str(out))                          # no best weights yet: says how to go on

    reports = []
    result = run_to_end(resume(out), reports.append)
    assert result.steps == 7
    assert [r.global_step for r in reports if r.stage == "train" and r.done > 0] == list(
        range(checkpoint_step + 1, 8))
    assert [int(r["step"]) for r in csv.DictReader((out / "history.csv").open())] == list(range(1, 8))
    left = sorted(p.name for p in out.iterdir())
    assert not [n for n in left if ".part" in n or n.startswith("checkpoint")], left
    assert folder.read_config()["training"]["status"] == "finished"
    load_keras_model(resolve_model(str(out)))


@pytest.mark.faults
def test_a_full_disk_during_a_checkpoint_keeps_the_previous_one(sim_folder, tmp_path):
    """The disk fills up while a run goes on: the next checkpoint fails with one line naming it, the
    checkpoint before is whole, and once space is freed the run resumes from it."""
    from exodeep_gui.ml.model_folder import ModelFolder
    from exodeep_gui.ml.training.train import resume, train
    from tests.io.full_disk import fill, small_disk

    items = find_training_items([sim_folder])[:2]
    with small_disk(tmp_path / "disk", size="8m") as disk:
        out = disk / "model"
        filler = []

        def fill_after_first_checkpoint(p):
            if getattr(p, "global_step", 0) == 2 and not filler:
                filler.append(fill(disk))

        with pytest.raises(OutputError) as err:
            run_to_end(train(items, [], out, tiny_options()), fill_after_first_checkpoint)
        text = str(err.value)
        assert "\n" not in text and str(out) in text and "space" in text.lower(), text
        folder = ModelFolder(out)
        assert folder.read_checkpoint().state["global_step"] == 2
        assert folder.read_config()["training"]["status"] == "running"
        filler[0].unlink()
        result = run_to_end(resume(out))
        assert result.steps == 7 and folder.read_config()["training"]["status"] == "finished"
        assert [int(r["step"]) for r in csv.DictReader((out / "history.csv").open())] == list(range(1, 8))
