"""Per-event measurements on movies whose events are known exactly: traces (partial at the
border and the movie's ends, with flags), F0, ΔF/F0, onset, rise, decay (τ, t½, R²), size."""

import numpy as np
import pytest

from exodeep_gui.core.analysis import AnalysisOptions
from exodeep_gui.core.analysis.kinetics import fit_decays, measure_kinetics
from exodeep_gui.core.analysis.traces import FLAG_BORDER, FLAG_END, FLAG_START, sweep, traces_from_boxes
from exodeep_gui.core.progress import run_to_end
from tests.core.test_analysis_helpers import CELL, OUTSIDE, SIGMA, disc_share, make_movie


def measure(movie, xs, ys, fs, options=AnalysisOptions(), background=OUTSIDE):
    xs, ys, fs = np.asarray(xs, float), np.asarray(ys, float), np.asarray(fs, int)
    mean, boxes = run_to_end(sweep(movie, xs, ys, fs, options))
    tr = traces_from_boxes(boxes, xs, ys, fs, movie.shape, options)
    return tr, measure_kinetics(tr, background, options), mean


def test_trace_is_the_disc_mean_with_the_annulus_as_background():
    movie, _ = make_movie([(32.3, 30.6, 40, 2000.0, 4.0)])
    tr, k, mean = measure(movie, [32.3], [30.6], [40])
    assert tr.disc.shape == (1, 41) and list(tr.offsets[[0, -1]]) == [-10, 30]
    assert tr.disc[0, 0] == pytest.approx(CELL) and tr.annulus[0, 0] == pytest.approx(CELL)
    # the peak (offset 0): the disc mean of the spot, pixel-sampled ≈ its continuous value
    assert tr.disc[0, 10] - CELL == pytest.approx(2000 * disc_share(), rel=0.03)
    assert tr.flags[0] == ""
    assert mean.shape == (64, 64) and mean.dtype == np.float32


def test_dF_F0_onset_rise_decay_and_size_are_recovered():
    taus = [2.0, 4.0, 8.0]
    events = [(20.0, 20.0, 20, 1500.0, taus[0]), (42.4, 25.2, 35, 3000.0, taus[1]), (30.0, 42.0, 30, 800.0, taus[2])]
    movie, _ = make_movie(events, T=80, noise=5.0, seed=1)
    tr, k, _ = measure(movie, *zip(*[(x, y, f) for x, y, f, _, _ in events]))
    want = np.array([a for *_, a, _ in events]) * disc_share() / (CELL - OUTSIDE)
    np.testing.assert_allclose(k.dF_F0, want, rtol=0.05)
    np.testing.assert_allclose(k.F0, CELL - OUTSIDE, rtol=0.01)
    np.testing.assert_array_equal(k.peak - 10, 0)
    np.testing.assert_array_equal(k.onset, k.peak)                 # a one-frame jump
    np.testing.assert_allclose(k.rise, 0.8, atol=0.1)              # 10 → 90 % of a one-frame jump
    np.testing.assert_allclose(k.tau, taus, rtol=0.08)
    assert (k.r2 > 0.97).all()
    np.testing.assert_allclose(k.fwhm, 2.3548 * SIGMA, rtol=0.06)
    assert list(k.fit_note()) == ["", "", ""]


def test_onset_and_rise_of_a_gradual_rise():
    movie, _ = make_movie([(32.0, 32.0, 40, 3000.0, 5.0)], rise=4, noise=3.0)
    tr, k, _ = measure(movie, [32.0], [32.0], [40])
    assert k.peak[0] - 10 == 0
    assert k.onset[0] - 10 in (-3, -2)                              # first frame above F0 + 3σ
    assert k.rise[0] == pytest.approx(0.8 * 3, abs=0.4)             # linear ramp over 3 frame steps


def test_events_at_the_border_and_the_movie_ends_get_partial_traces_and_flags():
    movie, _ = make_movie([(2.0, 30.0, 40, 2000.0, 3.0), (32.0, 32.0, 3, 2000.0, 3.0),
                           (40.0, 40.0, 70, 2000.0, 3.0)], T=80, cell_radius=40)
    tr, k, _ = measure(movie, [2.0, 32.0, 40.0], [30.0, 32.0, 40.0], [40, 3, 70])
    assert FLAG_BORDER in tr.flags[0] and np.isfinite(tr.disc[0]).all()    # fewer pixels, full length
    assert tr.flags[1] == FLAG_START and np.isnan(tr.disc[1, :7]).all() and np.isfinite(tr.disc[1, 7:]).all()
    assert tr.flags[2] == FLAG_END and np.isnan(tr.disc[2, 10 + 10:]).all()
    assert np.isfinite(k.dF_F0).all()                                # measured with what there is
    assert np.isfinite(k.tau[2])                                     # 10 frames after the peak are enough


def test_a_failed_fit_gives_nan_and_a_reason_never_an_exception():
    movie, _ = make_movie([(32.0, 32.0, 76, 2000.0, 3.0), (20.0, 20.0, 40, 0.0, 3.0), (32.0, 32.0, 0, 2000.0, 3.0)],
                          T=80, noise=2.0)
    tr, k, _ = measure(movie, [32.0, 20.0, 32.0], [32.0, 20.0, 32.0], [76, 40, 0])
    notes = k.fit_note()
    assert np.isnan(k.tau[0]) and "frames after the peak" in notes[0]        # 3 frames left after it
    assert "peak below" in notes[1]                                          # nothing happens there
    assert np.isnan(k.dF_F0[2]) and "no baseline" in notes[2]               # at frame 0: no F0
    # a flat or rising "decay" and NaN-only rows do not raise either
    p, r2 = fit_decays(np.array([[1.0, 1.1, 1.2, 1.3, 1.4, 1.5], [np.nan] * 6]), np.zeros(2, int),
                       np.ones(2, bool), 5)
    assert np.isnan(p).all()


def test_decay_slower_than_the_trace_is_not_reported_as_a_number():
    movie, _ = make_movie([(32.0, 32.0, 30, 3000.0, 400.0)], noise=2.0)
    _, k, _ = measure(movie, [32.0], [32.0], [30])
    assert np.isnan(k.tau[0]) and "slower than the trace" in k.fit_note()[0]


def test_traces_are_vectorised_and_read_each_frame_once():
    class Counting:
        def __init__(self, a):
            self.a, self.shape, self.dtype, self.reads = a, a.shape, a.dtype, 0

        def __getitem__(self, key):
            self.reads += 1
            return self.a[key]

    movie, _ = make_movie([(20.0 + i % 5 * 5, 20.0 + i // 5 * 5, 15 + 2 * i, 1000.0, 3.0) for i in range(25)], T=130)
    counting = Counting(movie)
    xs = [20.0 + i % 5 * 5 for i in range(25)]
    ys = [20.0 + i // 5 * 5 for i in range(25)]
    fs = [15 + 2 * i for i in range(25)]
    mean, boxes = run_to_end(sweep(counting, xs, ys, fs))
    assert counting.reads == 3                       # 130 frames in blocks of 64, whatever the events
    np.testing.assert_allclose(mean, movie.mean(axis=0), rtol=1e-5)
