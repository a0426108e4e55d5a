import numpy as np
import pytest

from exodeep_gui.core.progress import CancelToken, Cancelled
from exodeep_gui.core.simulate import SimulationParams, simulate_movie
from exodeep_gui.core.spots import SpotParams, detect_spots, preview_spots, spot_mask


def test_finds_bright_spots_on_an_uneven_background_and_little_else():
    rng = np.random.default_rng(0)
    h = w = 128
    yy, xx = np.mgrid[0:h, 0:w]
    background = 200 + 150 * np.exp(-((yy - 64) ** 2 + (xx - 40) ** 2) / (2 * 40 ** 2))
    centres = [(20, 20), (30, 100), (64, 64), (100, 30), (110, 110)]
    img = background.copy()
    for y, x in centres:
        img += 80 * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * 1.5 ** 2))
    frame = rng.poisson(img).astype(np.float32)
    mask = spot_mask(frame)
    for y, x in centres:
        assert mask[y - 1:y + 2, x - 1:x + 2].any(), (y, x)
    assert mask.mean() < 0.01                       # ~PFA-level false alarms
    stricter = spot_mask(frame, SpotParams(pfa=1e-6))
    assert stricter.sum() <= mask.sum()


def test_small_components_are_dropped_and_frames_are_independent():
    frames = np.zeros((3, 64, 64), np.float32) + 100
    frames[1, 32, 32] += 5000                      # a single hot pixel: a 1-px response blob
    mask = spot_mask(frames, SpotParams(sigmas=(0.5,), min_area=3))
    assert not mask[0].any() and not mask[2].any()


def test_docked_vesicles_of_a_simulated_movie_are_found():
    p = SimulationParams(frames=30, height=96, width=96, events=0, docked=15, visiting=0)
    sim = simulate_movie(p, seed=4)
    mask = preview_spots(sim.movie, 10, 12)
    assert mask.shape == (2, 96, 96)
    hits = [mask[0, int(round(y)) - 1:int(round(y)) + 2, int(round(x)) - 1:int(round(x)) + 2].any()
            for y, x in sim.distractors["docked"]]
    # docked vesicles present at frame 10 are mostly detected (some have left or not yet come)
    assert np.mean(hits) > 0.3


def test_spot_detection_reports_progress_and_cancels():
    movie = np.random.default_rng(1).poisson(100, (20, 32, 32)).astype(np.uint16)
    token = CancelToken()
    gen = detect_spots(movie, params=SpotParams(frames_per_block=5), cancel=token)
    assert next(gen).done == 5
    token.cancel()
    with pytest.raises(Cancelled):
        next(gen)
