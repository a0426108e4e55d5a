"""One movie's analysis: columns and units, events outside the movie refused, filters, progress
and cancel, the selected event's trace with its fit."""

import numpy as np
import pytest

from exodeep_gui.core.analysis import AnalysisOptions, analyze_movie, analyze_movies, parse_rule
from exodeep_gui.core.events import EventTable
from exodeep_gui.core.movie import Movie
from exodeep_gui.core.progress import Cancelled, CancelToken, Progress, run_to_end
from tests.core.test_analysis_helpers import make_movie

EVENTS = [(20.0, 22.0, 20, 2500.0, 3.0), (40.0, 30.0, 40, 1500.0, 5.0), (30.0, 44.0, 60, 3000.0, 2.0),
          (33.0, 20.0, 30, 1200.0, 4.0)]


@pytest.fixture(scope="module")
def movie_and_events():
    movie, mask = make_movie(EVENTS, T=100, noise=8.0, seed=4)
    ev = EventTable.from_arrays([e[0] for e in EVENTS], [e[1] for e in EVENTS], [e[2] for e in EVENTS],
                                extra={"id": np.array([7, 3, 9, 12])})
    return movie, mask, ev


FAST = AnalysisOptions(ripley_simulations=19)


def test_calibrated_movie_gives_seconds_and_micrometres(movie_and_events):
    movie, mask, ev = movie_and_events
    a = run_to_end(analyze_movie(Movie(movie, pixel_size_um=0.1, frame_interval_s=0.5), ev, FAST))
    assert list(a.columns)[:12] == ["dF_F0", "F0", "onset_frame", "peak_frame", "rise_s", "tau_s", "t_half_s",
                                    "decay_r2", "fwhm_um", "diffusion_um2_s", "fusion_mode", "nn_dist_um"]
    np.testing.assert_allclose(a.columns["tau_s"], [1.5, 2.5, 1.0, 2.0], rtol=0.15)
    np.testing.assert_array_equal(a.columns["peak_frame"], [21, 41, 61, 31])         # 1-based, as Slice
    assert a.summary["area_um2"] == pytest.approx(mask.sum() * 0.01, rel=0.03)
    assert a.summary["rate_per_um2_per_min"] == pytest.approx(4 / (mask.sum() * 0.01 * (100 * 0.5 / 60)), rel=0.03)
    assert a.summary["events_kept"] == 4 and a.notes == []
    assert list(a.ids()) == [7, 3, 9, 12] and a.index_of(9) == 2


def test_uncalibrated_movie_gives_frames_and_pixels_with_a_visible_note(movie_and_events):
    movie, _, ev = movie_and_events
    a = run_to_end(analyze_movie(movie, ev, FAST))
    assert "t_half_frames" in a.columns and "fwhm_px" in a.columns and "t_half_s" not in a.columns
    assert "rate_per_px2_per_frame" in a.summary and "area_px2" in a.summary
    assert any("frame interval" in n for n in a.notes) and any("pixel size" in n for n in a.notes)
    assert any("frames" in n for n in a.summary["notes"].split("; "))


def test_events_outside_the_movie_are_refused_naming_the_rows(movie_and_events):
    movie, _, _ = movie_and_events
    bad = EventTable.from_arrays([10.0, 70.0, 20.0, 5.0], [10.0, 10.0, 10.0, -3.0], [5, 5, 120, 5])
    with pytest.raises(ValueError) as err:
        run_to_end(analyze_movie(movie, bad, FAST, name="cell7"))
    msg = str(err.value)
    assert "cell7" in msg and "3 event(s)" in msg and "row 2 (X 70" in msg and "row 3" in msg and "Slice 121" in msg
    assert "row 1 " not in msg


def test_filters_remove_events_from_the_cell_numbers(movie_and_events):
    movie, _, ev = movie_and_events
    opts = AnalysisOptions(ripley_simulations=9, filters=(parse_rule("dF_F0>=0.5"),))
    a = run_to_end(analyze_movie(movie, ev, opts))
    keep = a.columns["dF_F0"] >= 0.5
    assert 0 < keep.sum() < 4
    np.testing.assert_array_equal(a.kept, keep)
    assert a.summary["events_kept"] == keep.sum() and a.summary["events"] == 4
    with pytest.raises(ValueError, match="no column 't_half_s'"):
        run_to_end(analyze_movie(movie, ev, AnalysisOptions(filters=(parse_rule("t_half_s>=1"),))))
    with pytest.raises(ValueError, match="COLUMN>=VALUE"):
        parse_rule("r2 is high")


def test_a_given_mask_is_used_and_checked(movie_and_events):
    movie, mask, ev = movie_and_events
    small = np.zeros_like(mask)
    small[:32] = True
    a = run_to_end(analyze_movie(movie, ev, FAST, mask=small, mask_source="polygon"))
    assert a.mask_source == "polygon" and list(a.in_mask) == [True, True, False, True]
    assert a.summary["events_in_mask"] == 3 and np.isnan(a.columns["nn_dist_px"][2])
    with pytest.raises(ValueError, match="mask is 10×10"):
        run_to_end(analyze_movie(movie, ev, FAST, mask=np.ones((10, 10), bool)))


def test_progress_and_cancel(movie_and_events):
    movie, _, ev = movie_and_events
    reports = []
    run_to_end(analyze_movie(movie, ev, FAST), reports.append)
    assert all(isinstance(p, Progress) for p in reports) and reports[-1].fraction == 1.0
    token = CancelToken()
    gen = analyze_movie(movie, ev, FAST, cancel=token)
    next(gen)
    token.cancel()
    with pytest.raises(Cancelled):
        run_to_end(gen)


def test_selected_event_trace_with_its_fit_and_several_movies(movie_and_events):
    movie, _, ev = movie_and_events
    items = [{"movie": Movie(movie, frame_interval_s=0.5), "events": ev, "name": "a", "condition": "ctrl"},
             {"movie": movie, "events": ev.select([0, 1]), "name": "b", "condition": "drug", "pair": "c1"}]
    msgs = []
    res = run_to_end(analyze_movies(items, FAST), lambda p: msgs.append(p.message))
    assert [r.name for r in res] == ["a", "b"] and res[1].summary["condition"] == "drug"
    assert res[1].summary["pair"] == "c1" and any(m.startswith("movie 2/2 (b)") for m in msgs)
    t, y, tf, yf = res[0].trace(0)
    assert t[0] == pytest.approx(-5.0) and len(y) == 41               # −10 frames × 0.5 s
    assert np.nanmax(y) == pytest.approx(res[0].columns["dF_F0"][0])
    assert tf[0] == pytest.approx(0.0) and yf[0] == pytest.approx(np.nanmax(y), rel=0.1)
    assert res[0].gallery.shape == (4, 14, 15, 15)
