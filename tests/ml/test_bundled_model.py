"""The small model shipped in resources/models works offline: a valid model folder under 5 MB
that recommends its filters and detects on a simulated movie."""

import json

import numpy as np

from exodeep_gui.paths import bundled_models


def test_bundled_model_folder_is_small_valid_and_detects():
    from exodeep_gui.core.movie import Movie
    from exodeep_gui.core.simulate import SimulationParams, simulate_movie
    from exodeep_gui.core.detection import DetectOptions
    from exodeep_gui.ml.detect import Detector
    from exodeep_gui.ml.models import read_model_folder, recommended_filter

    folders = bundled_models()
    assert folders, "no model in resources/models"
    folder = folders[0]
    size = sum(p.stat().st_size for p in folder.iterdir())
    assert size <= 5 * 1024 * 1024
    info = read_model_folder(folder)
    assert recommended_filter(info.config)[1] > 0
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["training"]["status"] == "finished" and cfg["schedule"]
    sim = simulate_movie(SimulationParams(frames=48, height=64, width=64, events=6, docked=6, visiting=2), seed=9)
    det = Detector(info).detect_blocking(Movie(sim.movie), DetectOptions(model=str(folder)))
    assert det.segmentation.labels.shape == sim.movie.shape
    assert det.options.min_size == recommended_filter(info.config)[1]
    assert np.isin(det.segmentation.labels, [0, 1, 2]).all()
    assert {"confidence", "decay_r2", "candidate"} <= set(det.candidates.extra)
    # without the confidence (the wizard's before/after scores): the same events, no measurement
    bare = Detector(info).detect_blocking(Movie(sim.movie), DetectOptions(model=str(folder), confidence=False))
    assert "confidence" not in bare.candidates.extra and "decay_r2" not in bare.candidates.extra
    a, b = det.events(), bare.events()
    assert len(a) == len(b) and np.array_equal(a.frame, b.frame) and np.allclose(a.x, b.x)


def _offline(monkeypatch, tmp_path):
    """No local copy of the published weights, and every download fails as it does offline."""
    import pooch

    def no_network(*args, **kwargs):
        raise ConnectionError("Name or service not known")

    monkeypatch.setenv("EXODEEP_MODEL_PATH", str(tmp_path / "no-weights-here"))
    monkeypatch.setattr(pooch, "retrieve", no_network)


def test_offline_the_published_model_points_to_the_bundled_one(monkeypatch, tmp_path):
    import pickle

    import pytest

    from exodeep_gui.ml.models import ModelUnavailable, resolve_model
    from exodeep_gui.ml.unet import ModelError

    _offline(monkeypatch, tmp_path)
    with pytest.raises(ModelUnavailable) as err:
        resolve_model("exodeepfinder")
    text = str(err.value)
    assert "could not download the exodeepfinder model" in text and "\n" not in text
    assert text.endswith("use the bundled model exodeep-sim-small (offline; trained on simulated movies): "
                         "--model exodeep-sim-small")
    assert err.value.alternatives == bundled_models() and isinstance(err.value, ModelError)
    # it crosses the detection engine's process boundary (pickle) with its alternatives
    back = pickle.loads(pickle.dumps(err.value))
    assert str(back) == text and back.alternatives == err.value.alternatives
    with pytest.raises(ModelUnavailable, match="not downloaded yet; use the bundled model exodeep-sim-small"):
        resolve_model("exodeepfinder", download=False)


def test_the_bundled_model_resolves_by_name():
    from exodeep_gui.ml.models import resolve_model

    info = resolve_model("exodeep-sim-small")
    assert info.name == "exodeep-sim-small" and info.weights.parent == bundled_models()[0]
    assert info.spec.filters == (16, 24, 32)


def test_offline_cli_detection_names_the_bundled_model(monkeypatch, tmp_path, capsys):
    from exodeep_gui.cli import main
    from exodeep_gui.io.movie_io import write_imagej_tiff

    _offline(monkeypatch, tmp_path)
    movie = write_imagej_tiff(tmp_path / "cell.tif", np.ones((20, 32, 32), np.uint16))
    assert main(["detect", str(movie)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    assert err[0].startswith("exodeep: error: could not download the exodeepfinder model")
    assert "--model exodeep-sim-small" in err[0]
