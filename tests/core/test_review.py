"""core.review: ids and provenance, the filter, and merging a new detection into a review."""

import numpy as np

from exodeep_gui.core import review
from exodeep_gui.core.events import EventTable
from exodeep_gui.core.review import EventFilter, merge_detection

F = EventFilter(0.5, 10)


def table(xyf, score=0.9, size=20):
    xyf = np.asarray(xyf, float).reshape(-1, 3)
    n = len(xyf)
    return EventTable.from_arrays(xyf[:, 0], xyf[:, 1], xyf[:, 2], np.broadcast_to(score, n), np.broadcast_to(size, n))


def test_first_detection_numbers_every_candidate_and_the_filter_shows_some():
    cands = table([[1, 1, 1], [20, 20, 5], [40, 40, 9]], score=[0.9, 0.3, 0.8], size=[20, 20, 5])
    rows, next_id, s = merge_detection(review.empty_rows(), cands, 1, F)
    assert rows.extra["id"].tolist() == [1, 2, 3] and next_id == 4
    assert review.visible(rows, F).extra["id"].tolist() == [1]
    assert s.new == 1 and s.gone == 0


def test_confirmed_and_added_events_are_shown_whatever_the_filter():
    rows, nid, _ = merge_detection(review.empty_rows(), table([[1, 1, 1], [20, 20, 5]], score=[0.9, 0.3]), 1, F)
    rows = review.set_status(rows, 2, review.CONFIRMED)
    rows = review.add(rows, nid, 30, 30, 7)
    shown = review.visible(rows, EventFilter(0.99, 1000))
    assert sorted(shown.extra["id"].tolist()) == [2, 3]


def test_merge_matches_by_the_paper_rule_and_keeps_the_review():
    first = table([[10, 10, 10], [30, 30, 20], [50, 50, 30], [70, 70, 40]])
    rows, nid, _ = merge_detection(review.empty_rows(), first, 1, F)
    rows = review.delete(rows, 1)                        # false
    rows = review.set_status(rows, 2, review.CONFIRMED)  # real
    rows = review.add(rows, nid, 90, 90, 50)             # missed
    nid += 1
    # again: #1 moved 3 px and 2 frames later (matches), #2 moved 5 px (does not: 4.5 px), #3 gone,
    # #4 one frame *earlier*... 3 frames earlier does not match (−2…+5), a new one, and one at the addition
    second = table([[13, 10, 12], [35, 30, 20], [70, 70, 37], [5, 90, 3], [91, 90, 51]], score=0.8, size=15)
    merged, nid2, s = merge_detection(rows, second, nid, F)
    by_id = {int(i): k for k, i in enumerate(merged.extra["id"])}
    assert merged.extra["status"][by_id[1]] == review.DELETED and merged.x[by_id[1]] == 13   # tombstone follows
    assert merged.extra["status"][by_id[2]] == review.CONFIRMED and merged.x[by_id[2]] == 30  # kept, unmatched
    assert 3 not in by_id and 4 not in by_id                                                 # no longer detected
    added = by_id[5]
    assert merged.extra["origin"][added] == review.ADDED and merged.x[added] == 90
    assert merged.score[added] == 0.8 and merged.size[added] == 15   # takes the detection's score and size
    new_ids = sorted(set(by_id) - {1, 2, 5})
    assert new_ids == [6, 7, 8] and nid2 == 9                        # (35,30), (70,70,37), (5,90)
    assert s.gone == 2 and s.new == 3 and s.kept_deleted == 1 and s.kept_added == 1


def test_probe_takes_the_nearest_candidate_else_the_score_map_else_nothing():
    cands = table([[10, 10, 5]], score=0.7, size=33)
    assert review.probe(cands, None, 12, 11, 6) == (0.7, 33)
    score_map = np.zeros((10, 20, 20), np.uint8)
    score_map[6, 15, 15] = 204
    s, size = review.probe(cands, score_map, 16, 16, 7)
    assert s == 0.8 and np.isnan(size)
    s, size = review.probe(None, None, 1, 1, 1)
    assert np.isnan(s) and np.isnan(size)


def test_marking_fully_reviewed_freezes_what_was_seen_and_clearing_it_gives_back_the_rest():
    rows, _, _ = merge_detection(review.empty_rows(), table([[10, 10, 5], [30, 30, 8], [50, 50, 9]],
                                                             score=[0.9, 0.4, 0.8], size=[50, 50, 5]), 1,
                                 EventFilter(0.5, 10))
    frozen, counts = review.freeze(rows, EventFilter(0.5, 10))
    assert counts == {"confirmed": 1, "set_aside": 2}
    for flt in (EventFilter(0.0, 0), EventFilter(0.95, 100)):      # any later filter: the same set
        assert review.visible(frozen, flt).extra["id"].tolist() == [1]
    assert review.reviewed(frozen).extra["id"].tolist() == [1]
    back, counts = review.unfreeze(frozen)
    assert counts == {"back": 2, "undecided": 1}
    assert review.visible(back, EventFilter(0.0, 0)).extra["id"].tolist() == [1, 2, 3]
    assert back.extra["status"].tolist() == ["", "", ""]              # freezing's decisions taken back
    # the user's own confirmation survives marking and unmarking
    mine = review.set_status(rows, 2, review.CONFIRMED)
    back, _ = review.unfreeze(review.freeze(mine, EventFilter(0.5, 10))[0])
    assert back.extra["status"].tolist() == ["", "confirmed", ""]


def test_candidates_are_offered_not_shown_and_the_filter_can_act_on_confidence():
    t = table([[10, 10, 5], [30, 30, 8], [50, 50, 9]], score=[0.9, 0.3, 0.9], size=40)
    t.extra["confidence"] = np.array([0.9, 0.2, 0.4])
    t.extra["candidate"] = np.array([0.0, 1.0, 0.0])
    rows, _, _ = merge_detection(review.empty_rows(), t, 1, EventFilter())
    assert review.candidate_mask(rows, EventFilter()).tolist() == [False, True, False]
    assert review.visible(rows, EventFilter()).extra["id"].tolist() == [1, 3]           # the candidate is not
    order = review.reviewable(rows, EventFilter(), review.DOUBT_ORDER)
    assert order.extra["id"].tolist() == [2, 3, 1] and order.extra["shown"].tolist() == [False, True, True]
    # confidence ≥ 0.5 hides #3; an event added by the user (no confidence) is kept; unknown passes
    rows = review.add(rows, 4, 70, 70, 12)
    assert np.isnan(rows.extra["confidence"][-1])                # the added event's confidence is unknown
    assert review.visible(rows, EventFilter(0.5, 0, 0.5)).extra["id"].tolist() == [1, 4]
    # accepting the candidate makes it an event, shown whatever the filter
    accepted = review.set_status(rows, 2, review.CONFIRMED)
    assert 2 in review.visible(accepted, EventFilter(0.5, 0, 0.5)).extra["id"]
