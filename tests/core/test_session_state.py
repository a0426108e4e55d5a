"""session.state without a window: re-detecting a fully reviewed movie keeps the reviewed set or
clears the mark and hands everything back to review; undoing the first detection leaves none."""

import numpy as np

from exodeep_gui.core import review
from exodeep_gui.core.detection import Detection, DetectOptions
from exodeep_gui.core.events import EventTable
from exodeep_gui.core.movie import Movie
from exodeep_gui.core.review import EventFilter
from exodeep_gui.session.state import ViewerState


def _detection(xyf, score, size):
    xyf = np.asarray(xyf, float)
    t = EventTable.from_arrays(xyf[:, 0], xyf[:, 1], xyf[:, 2], score, size)
    return Detection("m", None, t, DetectOptions(), "model")


def _frozen():
    state = ViewerState(EventFilter(0.5, 10))
    doc = state.add_movie(Movie(np.zeros((40, 64, 64), np.uint16)))
    state.set_detection(doc, _detection([[10, 10, 5], [30, 30, 8], [50, 50, 12]], [0.9, 0.2, 0.9], [40, 40, 40]))
    state.set_fully_reviewed(doc, True)
    return state, doc


def test_new_events_to_see_clear_the_mark_and_give_everything_back_to_review():
    state, doc = _frozen()
    summary = state.set_detection(doc, _detection([[10, 10, 5], [30, 30, 8], [50, 50, 12], [20, 50, 30]],
                                                  [0.9, 0.2, 0.9, 0.8], [40, 40, 40, 40]))
    assert summary.unmarked and not doc.fully_reviewed
    state.set_filter(EventFilter(0.1, 0))
    assert len(state.events()) == 4                      # the row set aside at marking is back to review
    assert set(doc.rows.extra["status"]) == {""}


def test_new_detections_the_filter_hides_keep_the_mark_and_the_reviewed_set():
    state, doc = _frozen()
    reviewed = sorted(review.reviewed(doc.rows).extra["id"].tolist())
    summary = state.set_detection(doc, _detection([[10, 10, 5], [30, 30, 8], [50, 50, 12], [20, 50, 30]],
                                                  [0.9, 0.2, 0.9, 0.3], [40, 40, 40, 40]))
    assert not summary.unmarked and doc.fully_reviewed
    state.set_filter(EventFilter(0.0, 0))
    assert sorted(state.events().extra["id"].tolist()) == reviewed == sorted(state.training_events(doc).extra["id"])


def test_undoing_the_first_detection_leaves_no_detection():
    state = ViewerState()
    doc = state.add_movie(Movie(np.zeros((40, 64, 64), np.uint16)))
    state.set_detection(doc, _detection([[10, 10, 5]], [0.9], [40]))
    assert doc.detection is not None and doc.model_name == "model"
    assert state.undo()
    assert doc.detection is None and doc.model_name == "" and len(doc.rows) == 0
    assert state.redo() and doc.detection is not None
