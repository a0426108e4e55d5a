import numpy as np
import pytest

from exodeep_gui.core.movie import MovieError
from exodeep_gui.core.normalize import normalize_frames
from exodeep_gui.core.postprocess import events_from_segmentation
from exodeep_gui.core.simulate import SimulationParams, simulate_movie


def test_normalisation_matches_percentiles():
    rng = np.random.default_rng(0)
    frames = rng.integers(100, 4000, (3, 32, 32)).astype(np.uint16)
    frames[1] = 7                                          # a flat frame
    out = normalize_frames(frames)
    p1, p99 = np.percentile(frames[0].astype(np.float32), [1, 99])
    np.testing.assert_allclose(out[0], (frames[0] - p1) / (p99 - p1), rtol=1e-5, atol=1e-5)
    assert out.dtype == np.float32 and not out[1].any()


def test_normalisation_rejects_nan_with_frame_number():
    frames = np.ones((4, 16, 16), np.float32)
    frames[2, 3, 3] = np.nan
    with pytest.raises(MovieError, match="frame 3"):
        normalize_frames(frames, source="m.tif")


def test_simulation_ground_truth_is_where_the_puffs_are():
    p = SimulationParams(frames=80, height=96, width=96, events=12, docked=10, visiting=5)
    sim = simulate_movie(p, seed=2)
    assert sim.movie.shape == (80, 96, 96) and sim.movie.dtype == np.uint16
    again = simulate_movie(p, seed=2)
    assert np.array_equal(sim.movie, again.movie)
    assert not np.array_equal(sim.movie, simulate_movie(p, seed=3).movie)
    m = sim.movie.astype(float)
    rises = []
    for x, y, t in zip(sim.truth.x, sim.truth.y, sim.truth.frame):
        yi, xi = int(round(y)), int(round(x))
        win = lambda f: m[f, yi - 1:yi + 2, xi - 1:xi + 2].mean()
        assert sim.cell_mask[yi, xi]
        rises.append(win(t) - win(t - 1))
    # the rise at the true frame is far above the camera noise for most events
    sigma = m[:, sim.cell_mask].std(axis=0).mean()      # per-pixel temporal noise (incl. spots)
    assert np.median(rises) > 2 * sigma / 3              # 3×3 mean: noise / 3


def test_components_give_one_event_per_blob():
    labels = np.zeros((10, 20, 20), np.uint8)
    score = np.zeros_like(labels)
    labels[2:4, 5:8, 5:8] = 2
    score[2:4, 5:8, 5:8] = 200
    score[3, 6, 6] = 250
    labels[6, 15, 15] = 2
    score[6, 15, 15] = 100
    labels[6, 1, 1] = 1                                    # a bright spot, not an event
    ev = events_from_segmentation(labels, score)
    assert len(ev) == 2
    assert ev.x[0] == pytest.approx(6.0) and ev.y[0] == pytest.approx(6.0) and ev.frame[0] == 2
    assert ev.size[0] == 18 and ev.score[0] == pytest.approx(250 / 255)
    ms = events_from_segmentation(labels, score, method="meanshift")
    assert len(ms) == 2 and ms.x[0] == pytest.approx(6.0, abs=0.6)
    assert len(events_from_segmentation(np.zeros_like(labels), score)) == 0


def test_mean_shift_is_scikit_learns():
    """core.postprocess.mean_shift reproduces sklearn's MeanShift(bin_seeding=True) on clustered
    voxel coordinates like the reference's (scikit-learn is a test dependency only)."""
    sklearn_cluster = pytest.importorskip("sklearn.cluster")
    from exodeep_gui.core.postprocess import mean_shift

    rng = np.random.default_rng(7)
    blobs = [np.argwhere(rng.random((5, 9, 9)) < 0.5) + rng.integers(0, 60, 3) for _ in range(25)]
    pts = np.unique(np.concatenate(blobs), axis=0)
    for bandwidth in (5.0, 3.0):
        ref = sklearn_cluster.MeanShift(bandwidth=bandwidth, bin_seeding=True).fit(pts)
        centres, labels = mean_shift(pts, bandwidth)
        assert centres.shape == ref.cluster_centers_.shape
        np.testing.assert_allclose(centres, ref.cluster_centers_, atol=1e-9)
        assert (labels == ref.labels_).mean() > 0.999
