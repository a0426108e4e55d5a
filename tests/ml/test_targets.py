import numpy as np

from exodeep_gui.core.events import EventTable
from exodeep_gui.ml.training.targets import build_target, check_annotations


def _ev(rows):
    a = np.asarray(rows, float).reshape(-1, 3)
    return EventTable.from_arrays(a[:, 0], a[:, 1], a[:, 2])


def test_cone_is_the_reference_shape():
    t = build_target((10, 32, 32), _ev([[15.7, 16.2, 3]]))        # coordinates truncated: (15, 16)
    lab = t.labels
    assert (lab == 2).sum() == 63                                 # 49 + 13 + 1 voxels
    assert [(lab[f] == 2).sum() for f in range(10)] == [0, 0, 0, 49, 13, 1, 0, 0, 0, 0]
    assert lab[5, 16, 15] == 2 and lab[3, 16, 19] == 2 and lab[3, 16, 20] == 0
    assert lab.dtype == np.int8


def test_cones_are_clipped_at_the_movie_edges():
    t = build_target((4, 16, 16), _ev([[0, 0, 3]]))
    assert (t.labels[3] == 2).sum() == 17                          # a quarter disk of radius 4: 5+4+4+3+1
    assert t.labels.shape == (4, 16, 16)


def test_spots_matched_by_exactly_one_event_are_removed_others_stay_class_1():
    mask = np.zeros((10, 40, 40), bool)
    mask[3:6, 10:13, 10:13] = True           # the expert's own event, seen by the detector
    mask[2:9, 30:33, 30:33] = True           # a docked vesicle far away
    mask[5, 20:22, 2:4] = True               # a spot near two events: kept
    events = _ev([[11, 11, 4], [3, 20, 5], [2, 21, 6]])
    t = build_target(mask.shape, events, mask)
    assert t.removed_components == 1
    assert not (t.labels[3:6, 10:13, 10:13] == 1).any()
    assert (t.labels[2:9, 30:33, 30:33] == 1).all()
    # the spot near two events is kept: its class-1 position is listed (its voxels lie under a cone)
    near_two = (t.spots.frame == 5) & (abs(t.spots.x - 2.5) < 0.1) & (abs(t.spots.y - 20.5) < 0.1)
    assert near_two.sum() == 1
    # one class-1 object per frame of each remaining spot component
    assert len(t.spots) == 7 + 1
    assert len(t.events) == 3


def test_annotation_problems_are_reported():
    assert check_annotations(_ev([[5, 5, 1]]), (10, 20, 20)) == []
    problems = check_annotations(_ev([[5, 5, 1], [25, 5, 1], [5, 5, 12], [5, 5, 1]]), (10, 20, 20), "a.csv")
    text = "\n".join(problems)
    assert "outside the movie" in text and "Slice 13" in text and "more than once" in text
    assert "no annotated events" in check_annotations(EventTable.empty(), (10, 20, 20))[0]
