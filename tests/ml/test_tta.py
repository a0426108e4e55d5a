"""Test-time augmentation: the views, their lazy reading, their combination and the detection."""

import numpy as np
import pytest

from exodeep_gui.core.detection import DetectOptions, SegmentationResult
from exodeep_gui.core.movie import Movie
from exodeep_gui.core.progress import run_to_end
from exodeep_gui.ml import tta

from tests.ml.conftest import TINY


def test_the_views_are_the_8_symmetries_of_the_frame_and_come_back():
    a = np.arange(2 * 5 * 7).reshape(2, 5, 7)
    seen = set()
    for view in tta.VIEWS_8:
        v = tta.to_view(a, view)
        assert v.shape == ((2, 7, 5) if view[0] % 2 else (2, 5, 7))
        assert np.array_equal(tta.from_view(v, view), a)
        seen.add(v.tobytes() + bytes(v.shape))
    assert len(seen) == 8
    assert tta.views_for(1) == ((0, False),) and set(tta.views_for(4)) <= set(tta.VIEWS_8)
    assert all(tta.to_view(a, v).shape == a.shape for v in tta.views_for(4))
    assert tta.subset(tta.VIEWS_8, 4) == tuple(tta.VIEWS_8.index(v) for v in tta.VIEWS_4)
    with pytest.raises(ValueError, match="1, 4 or 8"):
        tta.views_for(3)


class _Counting:
    """An array-like movie that records which frames are read."""

    def __init__(self, a):
        self.a, self.shape, self.dtype, self.reads = a, a.shape, a.dtype, []

    def __getitem__(self, key):
        self.reads.append(key)
        return self.a[key]


def test_a_view_reads_the_movie_lazily():
    a = np.random.default_rng(0).integers(0, 900, (30, 12, 16)).astype(np.uint16)
    data = _Counting(a)
    view = tta.view_movie(Movie(data), (1, True))
    assert view.shape == (30, 16, 12) and data.reads == []
    assert np.array_equal(view.frames(3, 9), tta.to_view(a[3:9], (1, True)))
    assert np.array_equal(view.frame(4), tta.to_view(a[4], (1, True)))
    assert data.reads == [slice(3, 9), 4]
    assert tta.view_movie(Movie(a), (0, False)).data is a


def _view_maps(labels, score, view):
    return SegmentationResult(np.ascontiguousarray(tta.to_view(labels, view)),
                              np.ascontiguousarray(tta.to_view(score, view)))


def test_views_are_combined_into_consensus_events_and_candidates():
    """Event A is seen by all 4 views, event B by 3, event C by 1 (a candidate), a spot by 3
    views: the mean class-2 map decides, each event says how many views saw it."""
    shape = (12, 16, 20)
    per_view = []
    for v in range(4):
        lab, sc = np.zeros(shape, np.uint8), np.zeros(shape, np.uint8)
        lab[2:5, 3:6, 3:6], sc[2:5, 3:6, 3:6] = 2, 255                     # A
        if v < 3:
            lab[6:8, 10:13, 10:13], sc[6:8, 10:13, 10:13] = 2, 230             # B
            lab[1, 12, 2] = 1                                                   # a spot
        if v == 3:
            lab[8:10, 2:4, 14:17], sc[8:10, 2:4, 14:17] = 2, 200               # C
        per_view.append((lab, sc))
    acc = tta.TTAAccumulator(shape, 4)
    for (lab, sc), view in zip(per_view, tta.VIEWS_4):
        acc.add(_view_maps(lab, sc, view), view)
    seg = acc.consensus()
    assert seg.score[3, 4, 4] == 255 and seg.score[7, 11, 11] == 173    # 172.5, rounded half up
    assert seg.labels[3, 4, 4] == 2 and seg.labels[7, 11, 11] == 2 and seg.labels[9, 3, 15] == 0
    assert seg.labels[1, 12, 2] == 1
    ev = acc.events(seg)
    assert len(ev) == 3
    by_x = {round(float(x)): i for i, x in enumerate(ev.x)}
    a, b, c = by_x[4], by_x[11], by_x[15]
    assert ev.extra["views"][[a, b, c]].tolist() == [4.0, 3.0, 1.0]
    assert ev.extra["candidate"][[a, b, c]].tolist() == [0.0, 0.0, 1.0]
    assert ev.score[a] == 1.0 and ev.score[c] == pytest.approx(50 / 255) and ev.score[c] < 0.5
    assert ev.size[a] == 27 and ev.size[c] == 12
    assert ev.extra["p_mean"][b] == pytest.approx(173 / 255)
    with pytest.raises(ValueError, match="already"):
        acc.add(_view_maps(*per_view[0], (0, False)), (0, False))


def test_augmented_detection_turns_with_the_movie(tiny_model_dir):
    """The 8 views are a group: detecting in the movie turned a quarter turn gives the same events,
    turned (frame sides multiples of 4, so that the engine pads nothing)."""
    from exodeep_gui.ml.detect import Detector

    det = Detector.load(str(tiny_model_dir))
    a = np.random.default_rng(4).poisson(80, (20, 32, 40)).astype(np.uint16)
    options = DetectOptions(threshold=0.0, tta=8, precision="float32")
    stages = []
    one = run_to_end(det.detect(Movie(a), options), lambda p: stages.append(p))
    turned = det.detect_blocking(Movie(np.ascontiguousarray(np.rot90(a, 1, axes=(1, 2)))), options)
    ev, tv = one.candidates, turned.candidates
    assert len(ev) == len(tv) > 0
    # a point (y, x) of the movie is at (W − 1 − x, y) in the turned one
    mine = sorted(zip(ev.frame, np.round(ev.y, 3), np.round(ev.x, 3), ev.extra["views"]))
    theirs = sorted(zip(tv.frame, np.round(tv.x, 3), np.round(39 - tv.y, 3), tv.extra["views"]))
    assert mine == theirs
    assert one.segmentation.labels.shape == a.shape
    assert {"candidate", "confidence", "views"} <= set(ev.extra)
    network = [p for p in stages if p.stage == "detect"]
    assert network[-1].done == network[-1].total == 8 * 20 and "view 8/8" in network[-1].message


def test_default_detection_is_unchanged_and_augmentation_keeps_what_it_found(tiny_model_dir):
    from exodeep_gui.core.postprocess import events_from_segmentation
    from exodeep_gui.ml.detect import Detector
    from exodeep_gui.ml.predict import segment_movie

    det = Detector.load(str(tiny_model_dir))
    movie = Movie(np.random.default_rng(7).poisson(80, (24, 36, 28)).astype(np.uint16))
    got = det.detect_blocking(movie, DetectOptions(threshold=0.0, precision="float32"))
    seg = run_to_end(segment_movie(det.model, TINY, movie, precision="float32"))
    want = events_from_segmentation(seg.labels, seg.score)
    for k in ("x", "y", "frame", "score", "size"):
        assert np.array_equal(getattr(got.candidates, k), getattr(want, k))
    assert np.array_equal(got.segmentation.labels, seg.labels)
    assert np.all(got.candidates.extra["candidate"] == 0)
    four = det.detect_blocking(movie, DetectOptions(threshold=0.0, precision="float32", tta=4))
    cons = four.candidates.extra["candidate"] == 0
    assert np.all(four.candidates.score[cons] >= 0.5) and np.all(four.candidates.score[~cons] < 0.5)
    assert set(np.unique(four.candidates.extra["views"])) <= {1.0, 2.0, 3.0, 4.0}
    assert len(four.events(threshold=0.0)) == cons.sum()
    shifted = det.detect_blocking(movie, DetectOptions(threshold=0.0, precision="float32", tta=4, method="meanshift"))
    assert len(shifted.candidates) > 0 and {"candidate", "views"} <= set(shifted.candidates.extra)
    with pytest.raises(ValueError, match="streaming"):
        det.detect_blocking(movie, DetectOptions(tta=4, tiling="reference"))
    with pytest.raises(ValueError, match="1, 4 or 8"):
        det.detect_blocking(movie, DetectOptions(tta=2))


def test_the_views_maps_go_to_disk_when_memory_is_short(tiny_model, monkeypatch):
    from exodeep_gui.io import memory
    from exodeep_gui.ml import predict

    movie = Movie(np.random.default_rng(5).poisson(80, (20, 32, 32)).astype(np.uint16))
    in_ram = run_to_end(tta.segment_views(tiny_model, TINY, movie, 4, precision="float32"))
    monkeypatch.setattr(memory, "free_memory_bytes", lambda: 1000)
    monkeypatch.setattr(predict, "free_memory_bytes", lambda: 1000)
    on_disk = run_to_end(tta.segment_views(tiny_model, TINY, movie, 4, precision="float32"))
    assert all(isinstance(getattr(on_disk, k), np.memmap) for k in ("psum", "seen", "spot"))
    for k in ("psum", "seen", "spot"):
        assert np.array_equal(getattr(on_disk, k), getattr(in_ram, k))
    seg = on_disk.consensus()
    assert isinstance(seg.labels, np.memmap) and np.array_equal(seg.score, in_ram.consensus().score)
