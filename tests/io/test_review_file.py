"""The review file beside a movie: a full round trip, the user-folder fallback when the movie's
folder cannot be written, and files that cannot be used set aside (never overwritten)."""

import json

import numpy as np
import pytest

from exodeep_gui.core.events import EventTable
from exodeep_gui.core.movie import Movie
from exodeep_gui.core.review import EventFilter
from exodeep_gui.session.state import ViewerState
from exodeep_gui.core.detection import Detection, DetectOptions
from exodeep_gui.io import review_file
from exodeep_gui.io.review_file import ReviewFileError, beside_path, fallback_path, load_review, open_doc, save_doc


def _doc(tmp_path):
    movie = Movie(np.zeros((20, 16, 16), np.uint16), source=tmp_path / "cell.ome.tif")
    state = ViewerState(EventFilter(0.6, 3))
    doc = state.add_movie(movie)
    cands = EventTable.from_arrays([3, 8, 12], [4, 9, 13], [2, 7, 15], [0.9, 0.7, 0.2], [10, 2, 30])
    state.set_detection(doc, Detection("cell", None, cands, DetectOptions(), "exodeepfinder"))
    state.delete_event(1)
    state.add_event(14.5, 2.5, 9)                        # far from every detection: no score, no size
    state.confirm_event(2)
    state.set_line([[1, 2], [10, 12]])
    state.set_cell([[1, 1], [14, 1], [14, 14], [1, 14]])
    state.set_condition(doc, "before")
    state.set_fully_reviewed(doc, True)
    state.set_annotations(doc, EventTable.from_arrays([1.0], [2.0], [3]), "truth.csv")
    return state, doc, movie


def test_round_trip(tmp_path):
    state, doc, movie = _doc(tmp_path)
    path = save_doc(doc)
    assert path == tmp_path / "cell.ome.tif.exodeep-review.json" == beside_path(movie.source)
    back = open_doc(movie)
    flt = back.filter
    assert flt == EventFilter(0.6, 3) and back.fully_reviewed and back.model_name == "exodeepfinder"
    for name in ("id", "origin", "status"):
        assert back.rows.extra[name].tolist() == doc.rows.extra[name].tolist()
    assert np.allclose(back.rows.x, doc.rows.x) and back.rows.frame.tolist() == doc.rows.frame.tolist()
    added = back.rows.extra["origin"] == "added"
    assert np.isnan(back.rows.score[added]).all()              # unknown stays unknown, not 0 or 1
    assert back.next_id == doc.next_id and np.allclose(back.line, doc.line)
    assert np.allclose(back.cell, doc.cell) and back.condition == "before"
    assert len(back.annotations) == 1 and back.annotations_source == "truth.csv"
    assert back.events(flt).extra["id"].tolist() == doc.events(flt).extra["id"].tolist()


def test_a_read_only_movie_folder_keeps_the_review_in_the_user_folder(tmp_path, monkeypatch):
    state, doc, movie = _doc(tmp_path)
    real = review_file.write_text_atomic

    def refuse_beside(path, text, overwrite=False):
        if path.parent == tmp_path:
            raise PermissionError(f"{path.parent}: read-only")
        return real(path, text, overwrite)

    monkeypatch.setattr(review_file, "write_text_atomic", refuse_beside)
    path = save_doc(doc)
    assert path == fallback_path(movie.source) and not beside_path(movie.source).exists()
    back = open_doc(movie)
    assert back.rows.extra["id"].tolist() == doc.rows.extra["id"].tolist()


def test_every_saved_field_round_trips(tmp_path):
    """The review file is generated from the record's declaration: every field declared saved comes
    back equal (a new field needs no second edit in the file format)."""
    from exodeep_gui.session.record import SAVED_FIELDS

    state, doc, movie = _doc(tmp_path)
    state.set_levels((10.0, 900.0))
    assert {f.name for f in SAVED_FIELDS} >= {"rows", "next_id", "model_name", "annotations", "levels", "line",
                                               "fully_reviewed", "filter", "condition", "cell"}
    save_doc(doc)
    back = open_doc(movie)
    for f in SAVED_FIELDS:
        a, b = getattr(doc, f.name), getattr(back, f.name)
        if isinstance(a, EventTable):
            assert len(a) == len(b) and np.allclose(a.x, b.x) and a.frame.tolist() == b.frame.tolist(), f.name
            assert np.array_equal(a.score, b.score, equal_nan=True) and np.array_equal(a.size, b.size, equal_nan=True)
            assert all(a.extra[k].tolist() == b.extra[k].tolist() for k in b.extra), f.name
        elif isinstance(a, np.ndarray):
            assert np.allclose(a, b), f.name
        else:
            assert a == b, f.name
    assert back.uid != doc.uid                          # a new record, a new session id


@pytest.mark.parametrize("content, why", [("{ broken", "unreadable"), ('{"format": "other"}', "unreadable"),
                                          (None, "shape")])
def test_unusable_files_are_set_aside_not_overwritten(tmp_path, content, why):
    state, doc, movie = _doc(tmp_path)
    path = save_doc(doc)
    if content is None:             # made for another movie of the same name
        data = json.loads(path.read_text())
        data["movie"]["shape"] = [5, 5, 5]
        content = json.dumps(data)
    path.write_text(content)
    # only listing the reviews (the training wizard's recent movies) reports it and moves nothing
    with pytest.raises(ReviewFileError, match=why):
        load_review(movie.source, movie.shape, set_aside=False)
    assert path.read_text() == content and not list(tmp_path.glob("*.unusable-*.json"))
    with pytest.raises(ReviewFileError, match=why):
        open_doc(movie)
    aside = list(tmp_path.glob("cell.ome.tif.unusable-*.json"))
    assert len(aside) == 1 and aside[0].read_text() == content and not path.exists()


def test_a_review_from_a_newer_version_is_left_alone(tmp_path):
    state, doc, movie = _doc(tmp_path)
    path = save_doc(doc)
    data = json.loads(path.read_text())
    data["version"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(ReviewFileError, match="newer ExoDeep"):
        open_doc(movie)
    assert json.loads(path.read_text())["version"] == 99


def test_a_fully_reviewed_movie_saved_before_format_2_keeps_the_set_it_showed(tmp_path):
    """Format 1 kept a fully reviewed movie's undecided detections, and training read the events
    shown under the saved filter: loaded now, that same set is the reviewed set."""
    from exodeep_gui.core.review import reviewed

    state, doc, movie = _doc(tmp_path)
    path = save_doc(doc)
    data = json.loads(path.read_text())
    data["version"] = 1
    data["events"]["status"] = ["" if s in ("seen", "filtered") else s for s in data["events"]["status"]]
    path.write_text(json.dumps(data))
    back = open_doc(movie)
    assert back.fully_reviewed
    shown = sorted(back.events(EventFilter(0.6, 3)).extra["id"].tolist())
    assert sorted(reviewed(back.rows).extra["id"].tolist()) == shown == [2, 4]
    assert sorted(back.events(EventFilter(0.0, 0)).extra["id"].tolist()) == shown     # frozen


def test_the_detections_confidence_is_kept_with_the_review(tmp_path):
    movie = Movie(np.zeros((20, 16, 16), np.uint16), source=tmp_path / "cell.tif")
    state = ViewerState(EventFilter(0.5, 0))
    doc = state.add_movie(movie)
    cands = EventTable.from_arrays([3, 8, 12], [4, 9, 13], [2, 7, 15], [0.9, 0.7, 0.3], [10, 20, 30],
                                   {"confidence": np.array([0.8, np.nan, 0.1]), "candidate": np.array([0., 0., 1.])})
    state.set_detection(doc, Detection("cell", None, cands, DetectOptions(), "exodeepfinder"))
    save_doc(doc)
    back = open_doc(movie)
    assert np.array_equal(back.rows.extra["confidence"], doc.rows.extra["confidence"], equal_nan=True)
    assert back.rows.extra["candidate"].tolist() == [0.0, 0.0, 1.0]
    assert len(back.reviewable(EventFilter(0.5, 0), "frame")) == 3 and len(back.events(EventFilter(0.5, 0))) == 2
