import numpy as np
import pytest

from exodeep_gui.core.events import EventTable
from exodeep_gui.core.evaluate import Scores, evaluate_events, match_events
from exodeep_gui.core.progress import CancelToken, Cancelled, Progress, ProgressClock, run_to_end


def test_run_to_end_returns_value_and_reports():
    def work():
        clock = ProgressClock("x", 3)
        for i in range(3):
            yield clock.report(i + 1)
        return "done"

    seen = []
    assert run_to_end(work(), seen.append) == "done"
    assert [p.done for p in seen] == [1, 2, 3]
    assert seen[-1].fraction == 1.0


def test_progress_eta_and_cancel():
    p = Progress("detect", 25, 100, elapsed_s=5.0)
    assert p.rate == 5.0 and p.eta_s == pytest.approx(15.0)
    token = CancelToken()
    token.raise_if_cancelled()
    token.cancel()
    with pytest.raises(Cancelled):
        token.raise_if_cancelled()


def _t(xyf):
    a = np.asarray(xyf, float).reshape(-1, 3)
    return EventTable.from_arrays(a[:, 0], a[:, 1], a[:, 2])


def test_paper_rule_window():
    truth = _t([[10, 10, 50]])
    assert evaluate_events(truth, _t([[13, 13, 55]])).tp == 1          # 4.24 px, +5 frames
    assert evaluate_events(truth, _t([[10, 10, 56]])).tp == 0          # +6 frames
    assert evaluate_events(truth, _t([[10, 10, 48]])).tp == 1          # −2 frames
    assert evaluate_events(truth, _t([[10, 10, 47]])).tp == 0          # −3 frames
    assert evaluate_events(truth, _t([[14.6, 10, 50]])).tp == 0        # 4.6 px


def test_one_to_one_and_maximum_matching():
    truth = _t([[0, 0, 10], [4, 0, 10]])
    # prediction A is closest to truth 1 but also reaches truth 0; B reaches only truth 1:
    # a greedy nearest match would give 1 TP, the optimal one-to-one gives 2.
    pred = _t([[3, 0, 10], [8, 0, 10]])
    s = evaluate_events(truth, pred)
    assert (s.tp, s.fp, s.fn) == (2, 0, 0)
    # two predictions on one event: one TP, one FP
    s = evaluate_events(_t([[5, 5, 5]]), _t([[5, 5, 5], [6, 5, 6]]))
    assert (s.tp, s.fp, s.fn) == (1, 1, 0)
    assert s.precision == 0.5 and s.recall == 1.0 and s.f1 == pytest.approx(2 / 3)


def test_scores_and_edge_exclusion():
    assert (Scores(1, 1, 2) + Scores(2, 0, 0)).tp == 3
    truth = _t([[5, 5, 1], [20, 20, 50]])
    pred = _t([[20, 20, 51]])
    assert evaluate_events(truth, pred).fn == 1
    assert evaluate_events(truth, pred, exclude_edge_frames=5, n_frames=100).fn == 0
    ti, pi = match_events(truth, pred)
    assert list(ti) == [1] and list(pi) == [0]


def test_filtered_by_score_size_and_mask():
    t = EventTable.from_arrays([1, 5, 9], [1, 5, 9], [0, 1, 2], score=[0.2, 0.9, 0.95], size=[10, 3, 40])
    assert len(t.filtered(threshold=0.5)) == 2
    assert len(t.filtered(threshold=0.5, min_size=5)) == 1
    mask = np.zeros((12, 12), bool)
    mask[:3, :3] = True
    assert list(t.filtered(mask=mask).x) == [1]


def test_prefixed_labels_reports_and_passes_the_result_through():
    from exodeep_gui.core.progress import Progress, prefixed, run_to_end

    def work():
        yield Progress("a", 1, 2, "half")
        yield Progress("a", 2, 2, "all", 1.5)
        return 42

    seen = []
    assert run_to_end(prefixed(work(), "cell (2/3): "), seen.append) == 42
    assert [r.message for r in seen] == ["cell (2/3): half", "cell (2/3): all"]
    assert seen[1].done == 2 and seen[1].elapsed_s == 1.5
