"""Ripley's L(r) − r in an irregular mask against CSR in the same mask, and nearest neighbours."""

import numpy as np
import pytest

from exodeep_gui.core.analysis import spatial


def _l_shape():
    m = np.zeros((120, 120), bool)
    m[10:110, 10:50] = True
    m[70:110, 10:110] = True
    return m


def test_translation_corrected_L_is_flat_for_random_points_in_an_irregular_mask():
    mask = _l_shape()
    rng = np.random.default_rng(1)
    lmr = []
    for _ in range(20):
        p = spatial.random_points(mask, 150, rng)
        r = spatial.ripley_l(p[:, 0], p[:, 1], mask, simulations=1, steps=10)
        lmr.append(r.L_minus_r)
    assert np.abs(np.mean(lmr, axis=0)).max() < 0.6            # px; unbiased at the mask's edges


def test_csr_is_not_rejected_and_clusters_are_detected():
    mask = _l_shape()
    rng = np.random.default_rng(2)
    p = spatial.random_points(mask, 120, rng)
    csr = spatial.ripley_l(p[:, 0], p[:, 1], mask, simulations=99, seed=3)
    assert csr.p_value > 0.05 and csr.verdict.startswith("random") and len(csr.r) == 40
    centres = spatial.random_points(mask, 8, rng)
    pts = np.concatenate([c + rng.normal(0, 2.0, (15, 2)) for c in centres])
    pts = pts[mask[np.clip(np.rint(pts[:, 1]).astype(int), 0, 119), np.clip(np.rint(pts[:, 0]).astype(int), 0, 119)]]
    clus = spatial.ripley_l(pts[:, 0], pts[:, 1], mask, simulations=99, seed=3)
    assert clus.p_value <= 0.02 and clus.verdict == "clustered"
    assert (clus.L_minus_r > clus.high).any()
    r_peak, l_peak = clus.peak()
    assert 0 < r_peak and l_peak > 2


def test_regular_points_are_dispersed():
    mask = np.ones((100, 100), bool)
    g = np.arange(5, 100, 10.0)
    xx, yy = np.meshgrid(g, g)
    res = spatial.ripley_l(xx.ravel(), yy.ravel(), mask, simulations=99, seed=0)
    assert res.verdict == "dispersed"


def test_too_few_points_give_nan_not_an_error():
    res = spatial.ripley_l([5.0, 6.0], [5.0, 6.0], np.ones((20, 20), bool))
    assert np.isnan(res.p_value) and res.verdict == "not enough events"


def test_nearest_neighbour_and_clark_evans():
    nn = spatial.nearest_neighbour([0, 3, 10], [0, 4, 0])
    np.testing.assert_allclose(nn, [5, 5, np.hypot(7, 4)])
    assert np.isnan(spatial.nearest_neighbour([1.0], [1.0])).all()
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 200, 400), rng.uniform(0, 200, 400)
    assert spatial.clark_evans(spatial.nearest_neighbour(x, y), 200 * 200) == pytest.approx(1.0, abs=0.1)
