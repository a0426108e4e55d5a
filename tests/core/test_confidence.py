"""Per-event statistics of the grouping, the confidence, candidates and the AUC (no framework)."""

import numpy as np
import pytest
from scipy import ndimage

from exodeep_gui.core import confidence as C
from exodeep_gui.core.detection import Detection, DetectOptions
from exodeep_gui.core.events import EventTable
from exodeep_gui.core.postprocess import STRUCTURE, _components, events_from_segmentation


def _maps(seed=0, shape=(24, 20, 22)):
    rng = np.random.default_rng(seed)
    labels = (ndimage.gaussian_filter(rng.random(shape), 1.2) > 0.53).astype(np.uint8) * 2
    score = rng.integers(0, 256, shape).astype(np.uint8)
    bits = rng.integers(0, 256, shape).astype(np.uint8)
    return labels, score, bits


def test_statistics_per_event_are_those_of_its_voxels_and_change_no_event():
    labels, score, bits = _maps()
    stats = {"mean": (score, "mean"), "max": (bits, "max"), "or": (bits, "or")}
    plain = events_from_segmentation(labels, score)
    got = events_from_segmentation(labels, score, stats=stats)
    for k in ("x", "y", "frame", "score", "size"):
        assert np.array_equal(getattr(plain, k), getattr(got, k))
    lab, n = ndimage.label(labels == 2, structure=STRUCTURE)
    assert n == len(got) > 5
    for i in range(1, n + 1):
        vox = lab == i
        t, y, x = (c.mean() for c in np.nonzero(vox))
        j = int(np.argmin(np.hypot(got.x - x, got.y - y) + np.abs(got.extra["t"] - t)))
        assert got.size[j] == vox.sum()
        assert got.extra["mean"][j] == pytest.approx(score[vox].mean())
        assert got.extra["max"][j] == bits[vox].max()
        assert got.extra["or"][j] == np.bitwise_or.reduce(bits[vox])


def test_statistics_of_events_that_cross_blocks_of_frames_are_joined():
    labels, score, bits = _maps(1)
    stats = {"mean": (score, "mean"), "or": (bits, "or")}
    whole = _components(labels, score, stats=stats)
    blocks = _components(labels, score, block_voxels=3 * 20 * 22, stats=stats)    # 3 frames a block
    assert len(whole) == len(blocks) > 5
    for k in ("mean", "or"):
        np.testing.assert_allclose(whole.extra[k], blocks.extra[k])
    ms = events_from_segmentation(labels, score, method="meanshift", stats=stats)
    assert len(ms.extra["mean"]) == len(ms) and np.all(ms.extra["mean"] <= 255)
    empty = events_from_segmentation(np.zeros((4, 8, 8), np.uint8), np.zeros((4, 8, 8), np.uint8), stats=stats)
    assert len(empty) == 0 and set(stats) <= set(empty.extra)
    with pytest.raises(ValueError, match="unknown statistic"):
        events_from_segmentation(labels, score, stats={"m": (score, "median")})


def test_auc_is_the_share_of_true_false_pairs_ranked_right():
    rng = np.random.default_rng(3)
    v = rng.integers(0, 5, 60).astype(float)           # many ties
    t = rng.random(60) < 0.4
    pairs = [(a > b) + 0.5 * (a == b) for a in v[t] for b in v[~t]]
    assert C.auc(v, t) == pytest.approx(np.mean(pairs))
    assert C.auc([1, 2, 3, 4], [0, 0, 1, 1]) == 1.0 and C.auc([4, 3, 2, 1], [0, 0, 1, 1]) == 0.0
    assert C.auc(np.ones(5), [0, 1, 0, 1, 1]) == 0.5
    assert np.isnan(C.auc([1, 2], [1, 1]))
    assert C.auc([np.nan, 1.0], [1, 0]) == 0.0            # unknown ranks lowest


def test_confidence_is_half_the_decay_fit_and_half_the_size():
    ev = EventTable.from_arrays([1, 2, 3, 4], [1, 2, 3, 4], [5, 6, 7, 8], size=[200, 200, 10, 0],
                                extra={"decay_r2": [0.98, np.nan, 0.98, -0.5]})
    conf = C.confidence(ev)
    assert conf[0] == pytest.approx(0.5 * 0.98 + 0.5 * (1 - np.exp(-200 / C.SIZE_SCALE)))
    assert conf[1] == pytest.approx(0.5 * (1 - np.exp(-5)))             # no decay fit: R² counts 0
    assert conf[0] > conf[2] > conf[3] == 0.0
    assert np.all((conf >= 0) & (conf <= 1)) and len(C.confidence(EventTable.empty())) == 0


def _sim_events():
    from exodeep_gui.core.simulate import SimulationParams, simulate_movie

    sim = simulate_movie(SimulationParams(frames=60, height=64, width=64, events=6, docked=8, visiting=3), seed=2)
    rng = np.random.default_rng(0)
    x, y = rng.uniform(8, 56, 6), rng.uniform(8, 56, 6)
    ev = EventTable.from_arrays(np.r_[sim.truth.x, x], np.r_[sim.truth.y, y], np.r_[sim.truth.frame + 1,
                                rng.integers(0, 60, 6)], score=np.r_[np.ones(6), np.full(6, 0.4)],
                                size=np.full(12, 60.0))
    return sim, ev


def test_the_decay_fit_is_the_analysis_one_whatever_the_batches():
    from exodeep_gui.core.analysis.pipeline import analyze_movie
    from exodeep_gui.core.movie import Movie
    from exodeep_gui.core.progress import run_to_end

    sim, ev = _sim_events()
    movie = Movie(sim.movie)
    whole = run_to_end(C.decay_r2(movie, ev))
    assert np.isfinite(whole[:6]).sum() >= 4
    np.testing.assert_array_equal(run_to_end(C.decay_r2(movie, ev, batch=4)), whole)
    np.testing.assert_array_equal(run_to_end(C.decay_r2(sim.movie, ev)), whole)        # a plain array too
    analysed = run_to_end(analyze_movie(movie, ev)).columns
    np.testing.assert_allclose(whole, analysed["decay_r2"], rtol=1e-9, equal_nan=True)
    # any other field of the kinetics the same way (benchmarks/bench_confidence.py reads ΔF/F0)
    dff = run_to_end(C.event_kinetics(movie, ev, "dF_F0", batch=4))
    np.testing.assert_allclose(dff, analysed["dF_F0"], rtol=1e-9, equal_nan=True)
    assert np.isfinite(dff).sum() >= 4


def test_candidates_are_what_does_not_pass_the_run_filter():
    from exodeep_gui.core.progress import run_to_end

    sim, ev = _sim_events()
    ev.size[0] = 10
    out = run_to_end(C.with_confidence(sim.movie, ev, 0.5, 50))
    assert out.extra["candidate"].tolist() == [1.0] + [0.0] * 5 + [1.0] * 6    # too small; below 0.5
    assert set(out.extra) >= {"confidence", "decay_r2"} and "confidence" not in ev.extra
    # the true puffs rank above the random points
    assert C.auc(out.extra["confidence"], np.r_[np.ones(6), np.zeros(6)]) > 0.8
    # a candidate from test-time augmentation stays one whatever the filter
    ev.extra["candidate"] = np.r_[np.zeros(11), 1.0]
    assert run_to_end(C.with_confidence(sim.movie, ev, 0.0, 0)).extra["candidate"].tolist() == [0.0] * 11 + [1.0]


def test_with_augmentation_the_events_never_include_what_a_minority_of_views_saw():
    ev = EventTable.from_arrays([1, 2], [1, 2], [5, 6], score=[0.75, 0.375], size=[100, 100],
                                extra={"candidate": np.array([0.0, 1.0])})
    one = Detection("m", None, ev, DetectOptions(threshold=0.5, min_size=0), "x")
    assert len(one.events(threshold=0.3)) == 2
    eight = Detection("m", None, ev, DetectOptions(threshold=0.5, min_size=0, tta=8), "x")
    assert eight.events().x.tolist() == [1.0] and eight.events(threshold=0.3).x.tolist() == [1.0]
