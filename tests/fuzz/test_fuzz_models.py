"""Fuzzing model folders (resolve_model + load_keras_model, and `exodeep detect --model`): missing
or damaged weights, weights of another architecture, a config.json from a future version, of
another architecture, damaged or hand-edited; loose weights files."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import tifffile
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import examples
from tests.fuzz.contract import run_case, run_cli, scratch_dir
from tests.fuzz.damage import cut_bytes, flip_bytes
from tests.fuzz.test_fuzz_window_files import mutate_json

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def model_parts(tmp_path_factory):
    """A tiny model folder, and the weights of a network of another size."""
    import keras

    from exodeep_gui.ml.models import save_model_folder
    from exodeep_gui.ml.unet import UNetSpec, build_unet

    base = tmp_path_factory.mktemp("models")
    keras.utils.set_random_seed(1)
    good = save_model_folder(build_unet(UNetSpec(filters=(4, 6, 8))), UNetSpec(filters=(4, 6, 8)), base / "tiny")
    other = save_model_folder(build_unet(UNetSpec(filters=(4, 6, 10))), UNetSpec(filters=(4, 6, 10)), base / "other")
    movie = base / "movie.tif"
    tifffile.imwrite(movie, np.random.default_rng(0).integers(0, 500, (20, 16, 16)).astype(np.uint16))
    return good, other, movie


def damaged_folder(draw, tmp, good, other):
    """A copy of the tiny model folder, damaged in one or two ways."""
    folder = tmp / "model_fz"             # a name no message contains by chance (names_the_file)
    shutil.copytree(good, folder)
    weights, config = folder / "weights_best.weights.h5", folder / "config.json"
    for how in draw(st.lists(st.sampled_from(["config", "config", "future", "architecture", "weights-missing",
                                              "weights-cut", "weights-flip", "weights-other", "weights-garbage",
                                              "config-missing", "keras2", "none"]), min_size=1, max_size=2)):
        try:
            cfg = json.loads(config.read_text())
            cfg = cfg if isinstance(cfg, dict) else None
        except (OSError, ValueError):             # missing, or damaged by the first step
            cfg = None
        if how == "config" and cfg:
            config.write_bytes(mutate_json(draw, cfg))
        elif how == "future" and cfg:
            cfg["version"] = draw(st.sampled_from([2, 99, "2", 1.5, None]))
            config.write_text(json.dumps(cfg))
        elif how == "architecture" and cfg:
            cfg["architecture"] = draw(st.sampled_from([
                {"name": "stardist-unet", "filters": [4, 6, 8]}, {"name": "exodeepfinder-unet", "filters": [4, 6]},
                {"name": "exodeepfinder-unet", "filters": [8, 12, 16]}, {"filters": [4, 6, 8], "n_classes": 2},
                {"filters": [4, 6, 8], "n_classes": 5}, {"filters": [0, 6, 8]}, {"filters": [10**7, 6, 8]},
                {"filters": ["4", 6, 8]}, [], "exodeepfinder-unet", {"filters": [4.0, 6.0, 8.0]}]))
            config.write_text(json.dumps(cfg))
        elif how == "weights-missing" and weights.exists():
            weights.unlink()
        elif how == "weights-cut" and weights.exists() and weights.stat().st_size:
            weights.write_bytes(cut_bytes(draw, weights.read_bytes()))
        elif how == "weights-flip" and weights.exists() and weights.stat().st_size:
            weights.write_bytes(flip_bytes(draw, weights.read_bytes(), within=4096, most=6))
        elif how == "weights-other":
            shutil.copy(other / "weights_best.weights.h5", weights)
        elif how == "weights-garbage":
            weights.write_bytes(bytes(draw(st.binary(max_size=300))))
        elif how == "config-missing" and config.exists():
            config.unlink()
        elif how == "keras2" and cfg:                # a config naming a file that is not Keras 3 weights
            cfg["weights"] = draw(st.sampled_from(["net.h5", "../tiny/weights_best.weights.h5", "", 7,
                                                   "/etc/passwd", "config.json"]))
            config.write_text(json.dumps(cfg))
            (folder / "net.h5").write_bytes(weights.read_bytes() if weights.exists() else b"")
    return folder


def _load(folder):
    from exodeep_gui.ml.models import load_keras_model, resolve_model

    info = resolve_model(str(folder))
    return load_keras_model(info)


@settings(max_examples=examples(30))
@given(data=st.data())
def test_model_folders_load_or_fail_with_one_line(fuzz_dir, model_parts, data):
    good, other, _ = model_parts
    tmp = scratch_dir(fuzz_dir / "models")
    folder = damaged_folder(data.draw, tmp, good, other)
    files = [folder]
    run_case("models: model folders", lambda: _load(folder), files,
             named=[folder] + list(folder.iterdir()))


@settings(max_examples=examples(10))
@given(data=st.data())
def test_loose_weight_files(fuzz_dir, model_parts, data):
    """A weights file given as the model (a snapshot, weights_last, a .h5 from elsewhere)."""
    good, other, _ = model_parts
    tmp = scratch_dir(fuzz_dir / "loose")
    folder = damaged_folder(data.draw, tmp, good, other)
    name = data.draw(st.sampled_from(["snapshots/step_000004.weights.h5", "weights_last.weights.h5", "net.h5",
                                      "x.weights.h5"]))
    target = folder / name
    target.parent.mkdir(exist_ok=True)
    src = data.draw(st.sampled_from([good / "weights_best.weights.h5", other / "weights_best.weights.h5",
                                     folder / "config.json"]))
    if src.exists():
        shutil.copy(src, target)
    else:
        target.write_bytes(b"")
    run_case("models: loose weights files", lambda: _load(target), [folder], named=[target, folder, folder / "config.json",
                                                                                    folder / "weights_best.weights.h5"])


@settings(max_examples=examples(8))
@given(data=st.data())
def test_cli_detect_with_a_damaged_model(fuzz_dir, model_parts, data):
    good, other, movie = model_parts
    tmp = scratch_dir(fuzz_dir / "cli-models")
    folder = damaged_folder(data.draw, tmp, good, other)
    run_cli("CLI: exodeep detect --model FOLDER", ["detect", movie, "--model", folder, "--out", tmp / "out"],
            [folder, movie], named=[folder] + list(folder.iterdir()))
