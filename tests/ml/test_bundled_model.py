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
