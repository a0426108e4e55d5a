"""Conditions: Mann–Whitney U and Cohen's d (unpaired), Wilcoxon and the paper's paired Cohen's d."""

import numpy as np
import pytest
from scipy import stats as ss

from exodeep_gui.core.analysis import stats


def test_cohens_d_pooled_and_paired_as_in_the_paper():
    a, b = np.array([1.0, 2, 3, 4]), np.array([3.0, 4, 5, 6, 7])
    pooled = np.sqrt((3 * a.var(ddof=1) + 4 * b.var(ddof=1)) / 7)
    assert stats.cohens_d(a, b) == pytest.approx((b.mean() - a.mean()) / pooled)
    before, after = np.array([10.0, 12, 9, 11, 14]), np.array([6.0, 9, 5, 9, 8])
    delta = after - before
    assert stats.paired_cohens_d(before, after) == pytest.approx(delta.mean() / delta.std(ddof=1))
    assert stats.paired_cohens_d(before, after) < 0                   # a decrease after treatment
    assert np.isnan(stats.cohens_d([1.0], [2.0, 3.0]))


def test_unpaired_and_paired_tests_match_scipy():
    a, b = [0.1, 0.2, 0.15, 0.3, 0.25], [0.4, 0.5, 0.45, 0.35, 0.6, 0.55]
    c = stats.compare_unpaired(a, b)
    assert c["test"] == stats.MANN_WHITNEY and (c["n_a"], c["n_b"]) == (5, 6)
    assert c["p"] == pytest.approx(ss.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    before, after = [10.0, 12, 9, 11, 14, 13], [6.0, 9, 5, 9, 8, 12]
    p = stats.compare_paired(before, after)
    assert p["test"] == stats.WILCOXON and p["n_a"] == 6
    assert p["p"] == pytest.approx(ss.wilcoxon(before, after).pvalue)


def test_holm_adjustment():
    np.testing.assert_allclose(stats.holm([0.01, 0.04, 0.03, np.nan]), [0.03, 0.06, 0.06, np.nan])


def test_compare_conditions_unpaired_and_paired_by_pair_key():
    rows = [{"condition": "before", "pair": f"c{i}", "rate": r} for i, r in enumerate([1.0, 1.2, 0.9, 1.1])]
    rows += [{"condition": "after", "pair": f"c{i}", "rate": r} for i, r in enumerate([0.5, 0.7, 0.6, 0.4])]
    rows += [{"condition": "other", "pair": "", "rate": r} for r in [1.0, 1.5, 1.3]]
    out = stats.compare_conditions(rows, ["rate"])
    tests = [(c["condition_a"], c["condition_b"], c["test"]) for c in out]
    assert ("before", "after", stats.WILCOXON) in tests and ("before", "other", stats.MANN_WHITNEY) in tests
    assert ("before", "other", stats.WILCOXON) not in tests            # no pairs in common
    paired = next(c for c in out if c["test"] == stats.WILCOXON)
    assert paired["cohens_d"] == pytest.approx(stats.paired_cohens_d([1.0, 1.2, 0.9, 1.1], [0.5, 0.7, 0.6, 0.4]))
    mw = [c for c in out if c["test"] == stats.MANN_WHITNEY]
    assert len(mw) == 3 and all(c["p_holm"] >= c["p"] for c in mw)
    label = stats.comparison_label(paired)
    assert "Wilcoxon" in label and "n = 4 pairs" in label and "paired d" in label
    summary = stats.summarize(rows, ["rate"])
    assert [s["condition"] for s in summary] == ["before", "after", "other"] and summary[0]["n_cells"] == 4
