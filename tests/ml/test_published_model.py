"""Equivalence with the published ExoDeepFinder model and the reference's outputs
(../shared/reference; skipped without it)."""

import h5py
import numpy as np
import pytest

from exodeep_gui.core.evaluate import evaluate_events, match_events
from exodeep_gui.core.movie import Movie
from exodeep_gui.io.movie_io import open_movie
from exodeep_gui.io.results import read_events

pytestmark = pytest.mark.reference


@pytest.fixture(scope="module")
def detector(reference_dir):
    from exodeep_gui.ml.detect import Detector

    return Detector.load("exodeepfinder")        # found through EXODEEP_MODEL_PATH, sha256-checked


def test_registry_finds_the_published_weights_by_checksum(reference_dir):
    from exodeep_gui.ml.models import resolve_model

    info = resolve_model("exodeepfinder", download=False)
    assert info.weights.parent == reference_dir and info.weights_format == "keras2-h5"


@pytest.mark.slow
def test_matches_the_reference_on_its_fixture_without_its_artefact(detector, reference_dir):
    from exodeep_gui.core.detection import DetectOptions

    movie = open_movie(reference_dir / "synthetic_movie_200x128x128_uint16.tif")
    det = detector.detect_blocking(movie, DetectOptions(threshold=0))
    with h5py.File(reference_dir / "reference_synthetic_segmentation.h5") as f:
        ref_labels = np.asarray(f["dataset"])
    inner = slice(25, 175)                       # away from the reference's time padding
    assert (det.segmentation.labels[inner] == ref_labels[inner]).mean() > 0.99
    ours = det.events()
    ref = read_events(reference_dir / "reference_synthetic_annotation.xml")
    ref_puffs = ref.select(ref.frame > 5)        # the reference's 13 frame-1 artefacts excluded
    ti, _ = match_events(ref_puffs, ours, max_dist=1.5, dt_range=(-1, 1))
    assert len(ref_puffs) == 12 and len(ti) == 12
    truth = read_events(reference_dir / "synthetic_movie_truth.csv")
    s = evaluate_events(truth, ours)
    assert (s.tp, s.fp, s.fn) == (12, 0, 0)
    assert ours.frame.min() > 5                  # no start-of-movie false events


def test_a_static_spot_present_from_frame_0_is_not_an_event(detector):
    from exodeep_gui.core.detection import DetectOptions

    rng = np.random.default_rng(0)
    T, H, W = 40, 64, 64
    yy, xx = np.mgrid[0:H, 0:W]
    spots = sum(60 * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * 1.5 ** 2))
                for y, x in [(16, 16), (40, 24), (20, 48), (48, 48)])
    movie = (100 + spots[None] + rng.normal(0, 10, (T, H, W))).astype(np.uint16)
    det = detector.detect_blocking(Movie(movie), DetectOptions(threshold=0))
    assert len(det.events()) == 0
    # a puff that appears mid-movie at the same brightness is found
    puff = movie.astype(float)
    for dt in range(6):
        s2 = 1.5 ** 2 + 0.6 * dt
        puff[20 + dt] += 250 * np.exp(-dt / 1.8) * 1.5 ** 2 / s2 * np.exp(-((yy - 32) ** 2 + (xx - 36) ** 2) / (2 * s2))
    det = detector.detect_blocking(Movie(puff.astype(np.uint16)), DetectOptions(threshold=0))
    ev = det.events()
    assert len(ev) == 1 and abs(ev.x[0] - 36) < 1.5 and 19 <= ev.frame[0] <= 23


@pytest.mark.slow
def test_reference_tiling_reproduces_the_reference_artefacts_included(detector, reference_dir):
    """--tiling reference + mean shift is ExoDeepFinder's pipeline: the same label map everywhere
    (time padding and cube seams included) and the same 25 events, its 13 frame-1 artefacts too."""
    from exodeep_gui.core.detection import DetectOptions

    movie = open_movie(reference_dir / "synthetic_movie_200x128x128_uint16.tif")
    det = detector.detect_blocking(movie, DetectOptions(threshold=0, tiling="reference", method="meanshift"))
    with h5py.File(reference_dir / "reference_synthetic_segmentation.h5") as f:
        ref_labels = np.asarray(f["dataset"])
    same = det.segmentation.labels == ref_labels
    assert same.mean() > 0.9999
    assert (det.segmentation.labels == 2).sum() == pytest.approx((ref_labels == 2).sum(), rel=0.01)
    ours, ref = det.events(), read_events(reference_dir / "reference_synthetic_annotation.xml")
    assert len(ref) == 25
    ti, _ = match_events(ref, ours, max_dist=1.5, dt_range=(-1, 1))
    assert len(ti) == len(ref) == len(ours)
