"""ml.training.job: the wizard's trial (time per step, memory pre-flight) and its request."""

import pytest

from exodeep_gui.core.progress import run_to_end
from exodeep_gui.ml.training.schedule import Stage
from exodeep_gui.ml.training.train import TrainOptions
from exodeep_gui.ml.training.job import _is_out_of_memory, lowered, trial


def test_trial_measures_every_stage_and_estimates_the_run(tiny_model_dir):
    options = TrainOptions(schedule=(Stage(8, 4, 2, 100), Stage(16, 2, 4, 50)), start_from=str(tiny_model_dir))
    result = run_to_end(trial(options, steps=2, validation_frames=16, validation_voxels=40 * 64 * 64))
    assert [s["patch"] for s in result["stages"]] == [8, 16]
    assert all(s["s_per_step"] > 0 and s["batch"] == b for s, b in zip(result["stages"], (4, 2)))
    steps_s = 100 * result["stages"][0]["s_per_step"] + 50 * result["stages"][1]["s_per_step"]
    assert result["total_s"] == pytest.approx(steps_s + result["validation_s"]) and result["validation_s"] > 0
    assert result["messages"] == [] and ("CPU" in result["device"] or "GPU" in result["device"])


def test_a_batch_that_does_not_fit_is_halved_with_a_message(tiny_model_dir, monkeypatch):
    import keras

    real = keras.Model.train_on_batch

    def small_memory(self, x, y, *a, **k):
        if len(x) > 3:
            raise RuntimeError("ResourceExhaustedError: OOM when allocating tensor")
        return real(self, x, y, *a, **k)

    monkeypatch.setattr(keras.Model, "train_on_batch", small_memory)
    options = TrainOptions(schedule=(Stage(8, 16, 2, 10),), start_from=str(tiny_model_dir))
    result = run_to_end(trial(options, steps=1, validation_frames=16))
    assert result["stages"][0]["batch"] == 2
    assert "lowered from 16 to 2" in result["messages"][0]
    assert lowered(options, result).schedule == (Stage(8, 2, 2, 10),)
    assert _is_out_of_memory(MemoryError()) and not _is_out_of_memory(ValueError("shapes differ"))
