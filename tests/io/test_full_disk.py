"""A full disk while results are exported and while the review is autosaved: a clear one-line
message naming the file, and the files that were there before left intact (a small tmpfs; skipped
without root)."""

import hashlib

import numpy as np
import pytest

from exodeep_gui.core.events import EventTable
from exodeep_gui.io.atomic import OutputError
from exodeep_gui.io.results import write_results
from exodeep_gui.io.review_file import SavedReview, beside_path, fallback_path, load_review, save_review
from tests.io.full_disk import fill, small_disk

pytestmark = pytest.mark.faults


def _hashes(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()
            if p.is_file() and p.name != "filler"}


def _events(n):
    rng = np.random.default_rng(n)
    return EventTable.from_arrays(rng.uniform(0, 60, n), rng.uniform(0, 60, n), rng.integers(0, 50, n),
                                  rng.uniform(0.5, 1, n), rng.integers(5, 60, n))


def test_export_to_a_full_disk_keeps_the_previous_results(tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        first = write_results(disk, "cell", _events(3), 0.16, 0.3)
        before = _hashes(disk)
        fill(disk)
        with pytest.raises(OutputError) as err:
            write_results(disk, "cell", _events(5000), 0.16, 0.3, overwrite=True)
        text = str(err.value)
        assert "\n" not in text and str(disk) in text and "space" in text.lower(), text
        assert _hashes(disk) == before                    # the earlier export is whole
        assert sorted(p.name for p in disk.iterdir()) == sorted([p.name for p in first] + ["filler"])


def test_autosave_to_a_full_disk_keeps_the_previous_review(tmp_path, monkeypatch):
    """Both places a review can go (beside the movie, the user folder) on the full disk: an OSError
    naming both, and the review saved before still loads."""
    with small_disk(tmp_path / "disk") as disk:
        monkeypatch.setenv("EXODEEP_DATA_DIR", str(disk / "user"))
        movie = disk / "cell.tif"
        shape = (50, 64, 64)

        def review(n):
            rows = _events(n)
            rows.extra.update(id=np.arange(1, n + 1), origin=np.full(n, "detected", "U9"),
                              status=np.full(n, "shown", "U9"))
            return SavedReview(rows, n + 1)

        path = save_review(review(3), movie, shape)
        assert path == beside_path(movie)
        before = path.read_bytes()
        fill(disk)
        with pytest.raises(OSError) as err:
            save_review(review(20000), movie, shape)
        text = str(err.value)
        assert "\n" not in text and str(beside_path(movie)) in text and str(fallback_path(movie)) in text
        assert "space" in text.lower(), text
        assert path.read_bytes() == before
        assert len(load_review(movie, shape).rows) == 3
