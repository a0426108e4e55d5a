"""The cell: automatic mask (smoothing, Otsu, largest component), polygon mask, extracellular level,
area, rate, events over time and the density map."""

import numpy as np
import pytest

from exodeep_gui.core.analysis import Units
from exodeep_gui.core.analysis import cell
from tests.core.test_analysis_helpers import make_movie


def test_auto_mask_finds_the_cell_and_keeps_the_largest_component():
    movie, truth = make_movie([], T=5, noise=80.0)
    img = movie.mean(axis=0)
    img[2:6, 2:6] = 5000                                       # a small bright speck outside the cell
    m = cell.auto_mask(img)
    assert (m == truth).mean() > 0.98 and not m[3, 3]
    assert not cell.auto_mask(np.zeros((32, 32))).any()        # a flat image: no cell


def test_polygon_mask_takes_x_y_vertices():
    m = cell.polygon_mask([(10, 5), (30, 5), (30, 15), (10, 15)], (40, 50))
    ys, xs = np.nonzero(m)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (10, 30, 5, 15)
    with pytest.raises(ValueError, match="3 vertices"):
        cell.polygon_mask([(1, 1), (2, 2)], (10, 10))


def test_extracellular_level_is_the_median_outside_the_cell():
    movie, mask = make_movie([], T=3)
    assert cell.extracellular_level(movie.mean(0), mask) == pytest.approx(100.0)
    assert cell.extracellular_level(movie.mean(0), np.ones_like(mask)) is None      # no outside


def test_rate_units_and_time_histogram():
    u = Units(0.16, 0.3)
    area_px = 10000                                             # 256 µm²
    assert u.rate(64, area_px, 200) == pytest.approx(64 / (256 * 1.0))    # 200 × 0.3 s = 1 min
    assert u.rate_col() == "rate_per_um2_per_min" and u.t("t_half") == "t_half_s" and u.l("fwhm") == "fwhm_um"
    raw = Units()
    assert raw.rate_col() == "rate_per_px2_per_frame" and raw.t("t_half") == "t_half_frames"
    assert raw.rate(10, 100, 50) == pytest.approx(10 / 100 / 50) and len(raw.notes()) == 2
    edges, counts = cell.time_histogram([0, 5, 33, 34, 199], 200, u, 10.0, 30)   # 10 s = 33 frames
    assert edges[1] == pytest.approx(33 * 0.3) and list(counts[:2]) == [2, 2] and counts.sum() == 5


def test_density_map_integrates_to_the_rate_and_is_nan_outside():
    mask = np.zeros((80, 80), bool)
    mask[10:70, 10:70] = True
    rng = np.random.default_rng(0)
    x, y = rng.uniform(10, 69, 400), rng.uniform(10, 69, 400)
    u = Units(0.2, 0.5)
    d = cell.density_map(mask, x, y, u, 120, bandwidth_px=5)
    assert np.isnan(d[0, 0]) and np.isfinite(d[mask]).all()
    total = np.nansum(d) * 0.2 ** 2 * (120 * 0.5 / 60)          # events per µm² per min × µm² × min
    assert total == pytest.approx(400, rel=0.05)
    assert np.nanstd(d) / np.nanmean(d) < 0.5                  # edges corrected: roughly flat
