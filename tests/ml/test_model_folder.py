"""The model folder layout (ml.model_folder): paths, state, config checks, checkpoints, snapshots,
and the modes of what is written (the user's umask)."""

import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

from exodeep_gui.io.atomic import OutputError
from exodeep_gui.ml.model_folder import ModelFolder, model_config
from exodeep_gui.ml.unet import ModelError, UNetSpec


class FakeModel:
    """Stands in for a Keras model: ``save_weights`` writes a small file."""

    def save_weights(self, path):
        with open(path, "wb") as fh:
            fh.write(b"weights")


def test_module_imports_no_keras():
    code = "import sys, exodeep_gui.ml.model_folder; print('keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_layout_and_state(tmp_path):
    f = ModelFolder(tmp_path / "m")
    assert (f.config.name, f.best.name, f.last.name) == ("config.json", "weights_best.weights.h5",
                                                         "weights_last.weights.h5")
    assert (f.history.name, f.validation.name, f.checkpoint.name, f.snapshots_dir.name) == (
        "history.csv", "validation.json", "checkpoint", "snapshots")
    assert not f.is_model() and not f.is_unfinished() and f.snapshots() == []
    f.check_new_run(overwrite=False)                       # creates the folder
    f.write_config(model_config(UNetSpec(filters=(4, 6, 8)), "weights_best.weights.h5", note="x"))
    assert f.is_model() and f.read_config()["note"] == "x"
    for step in (12, 3):
        f.save_snapshot(FakeModel(), step)
    (f.snapshots_dir / "step_abc.weights.h5").write_bytes(b"")
    assert f.snapshots() == [(3, f.snapshot(3)), (12, f.snapshot(12))]
    assert f.snapshot(3).name == "step_000003.weights.h5"
    assert ModelFolder.of_weights(f.snapshot(3)).path == f.path == ModelFolder.of_weights(f.last).path
    with pytest.raises(OutputError, match="not empty"):
        f.check_new_run(overwrite=False)
    f.check_new_run(overwrite=True)


def test_config_checks_name_the_file(tmp_path):
    f = ModelFolder(tmp_path)
    with pytest.raises(ModelError, match="not a model folder"):
        f.read_config()
    f.config.write_text("{ broken")
    with pytest.raises(ModelError, match="config.json: broken configuration"):
        f.read_config()
    f.config.write_text(json.dumps({"format": "exodeep-model", "version": 99}))
    with pytest.raises(ModelError, match="newer ExoDeep"):
        f.read_config()
    f.config.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ModelError, match="not an ExoDeep model"):
        f.read_config()


def test_checkpoint_swap_history_and_clearing(tmp_path):
    f = ModelFolder(tmp_path)
    with pytest.raises(OutputError, match="no unfinished training run"):
        f.read_checkpoint()
    f.write_checkpoint(FakeModel().save_weights, [np.arange(3.0)], {"global_step": 4})
    f.write_checkpoint(FakeModel().save_weights, [np.arange(4.0)], {"global_step": 8})
    assert f.is_unfinished()
    ckpt = f.read_checkpoint()
    assert ckpt.state == {"global_step": 8} and ckpt.weights.is_file()
    with np.load(ckpt.optimizer) as npz:
        assert npz["arr_0"].tolist() == [0, 1, 2, 3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]    # no .new/.old left
    # a kill between the two renames leaves only checkpoint.old: still resumable
    (tmp_path / "checkpoint").rename(tmp_path / "checkpoint.old")
    assert f.read_checkpoint().state["global_step"] == 8
    f.write_history([{"step": 1, "loss": 0.5, "f1": None}])
    assert f.history.read_text().splitlines() == [
        "step,stage,patch,loss,val_loss,precision,recall,f1,elapsed_s", "1,,,0.5,,,,,"]
    f.save_snapshot(FakeModel(), 2)
    f.clear_run()
    assert not f.is_unfinished() and f.snapshots() == [] and f.history.is_file()


@pytest.mark.parametrize("umask, expected", [(0o022, 0o644), (0o077, 0o600)])
def test_a_model_folder_follows_the_umask(tmp_path, umask, expected):
    import keras

    from exodeep_gui.ml.models import save_model_folder
    from exodeep_gui.ml.unet import build_unet

    spec = UNetSpec(filters=(2, 2, 2))
    model = build_unet(spec)
    old = os.umask(umask)
    try:
        folder = ModelFolder(save_model_folder(model, spec, tmp_path / "m", training={"note": "t"}))
        folder.write_history([{"step": 1}])
        folder.write_validation([])
        folder.save_snapshot(model, 1)
        folder.write_checkpoint(model.save_weights, [], {"global_step": 1})
    finally:
        os.umask(old)
    keras.backend.clear_session()
    files = [p for p in folder.path.rglob("*") if p.is_file()]
    assert {p.relative_to(folder.path).as_posix() for p in files} == {
        "config.json", "weights_best.weights.h5", "history.csv", "validation.json",
        "snapshots/step_000001.weights.h5", "checkpoint/model.weights.h5", "checkpoint/optimizer.npz",
        "checkpoint/state.json"}
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in files} == {p.name: expected for p in files}
    folders = [folder.path, folder.snapshots_dir, folder.checkpoint]
    assert [stat.S_IMODE(p.stat().st_mode) for p in folders] == [0o777 & ~umask] * 3


def test_a_downloaded_model_follows_the_umask(monkeypatch, tmp_path):
    import pooch

    from exodeep_gui.ml import models

    def fake_retrieve(url, known_hash, fname, path, progressbar):
        fd = os.open(os.path.join(path, fname), os.O_WRONLY | os.O_CREAT, 0o600)   # as pooch's temp file
        os.close(fd)
        return os.path.join(path, fname)

    monkeypatch.setenv("EXODEEP_MODEL_PATH", str(tmp_path / "none"))
    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    entry = models.RegistryEntry("dl", "t", "dl_umask.h5", "http://127.0.0.1:9/x", "0" * 64, "none", "t")
    old = os.umask(0o022)
    try:
        path = models.fetch(entry)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_the_furthest_whole_checkpoint_is_found_after_a_kill_anywhere(tmp_path):
    """A kill in a checkpoint swap: after the first rename (only .old and a whole .new: the new one
    is used and settled), while .new is being written (no state.json: ignored and cleared), and
    half-written weights (.part) are removed before a run goes on."""
    f = ModelFolder(tmp_path)
    f.write_checkpoint(FakeModel().save_weights, [np.arange(3.0)], {"global_step": 4})
    f.write_checkpoint(FakeModel().save_weights, [np.arange(3.0)], {"global_step": 8})
    # the swap of step 12 killed between its two renames
    (tmp_path / "checkpoint").rename(tmp_path / "checkpoint.old")
    new = tmp_path / "checkpoint.new"
    new.mkdir()
    FakeModel().save_weights(new / "model.weights.h5")
    np.savez(new / "optimizer.npz", np.arange(3.0))
    (new / "state.json").write_text(json.dumps({"global_step": 12}))
    assert f.read_checkpoint().state["global_step"] == 12
    f.settle_checkpoint()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]
    assert f.read_checkpoint().state["global_step"] == 12
    # killed while writing the next one: its folder has no state.json yet
    new.mkdir()
    (new / "model.weights.h5").write_bytes(b"half")
    (tmp_path / "weights_last.part.weights.h5").write_bytes(b"half")
    (tmp_path / ".config.json.abc123.part").write_text("{")
    assert f.read_checkpoint().state["global_step"] == 12
    f.clear_partial()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]


def test_a_failed_checkpoint_write_keeps_the_previous_one(tmp_path):
    import errno

    f = ModelFolder(tmp_path)
    f.write_checkpoint(FakeModel().save_weights, [], {"global_step": 4})

    def disk_full(path):
        with open(path, "wb") as fh:
            fh.write(b"part")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputError, match="checkpoint: the checkpoint could not be written .no space left on the "
                                          "disk.; the previous checkpoint is kept"):
        f.write_checkpoint(disk_full, [], {"global_step": 8})
    assert f.read_checkpoint().state["global_step"] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]


@pytest.mark.parametrize("change, message", [
    ({"version": "2"}, "format version '2' is not a whole number"),
    ({"normalisation": "minmax"}, "unsupported normalisation 'minmax'"),
    ({"architecture": {"name": "stardist"}}, "another architecture, 'stardist'"),
    ({"architecture": {"filters": [4, 6]}}, "filters must be three whole numbers"),
    ({"architecture": {"filters": [4, 6, 10**6]}}, "filters must be three whole numbers from 1 to 1024"),
    ({"architecture": {"n_classes": 2}}, "n_classes must be a whole number from 3"),
    ({"weights": "../other/weights.h5"}, "'weights' must name a file in the model folder"),
    ({"recommended": {"threshold": "high"}}, "'recommended' needs a threshold between 0 and 1"),
])
def test_a_config_of_the_wrong_shape_names_the_file_and_the_field(tmp_path, change, message):
    f = ModelFolder(tmp_path)
    cfg = model_config(UNetSpec(filters=(4, 6, 8)), "weights_best.weights.h5")
    cfg.update(change)
    f.config.write_text(json.dumps(cfg))
    with pytest.raises(ModelError) as err:
        f.read_config()
    assert str(f.config) in str(err.value) and message in str(err.value), str(err.value)
