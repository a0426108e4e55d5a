"""Outputs follow the user's umask (issue 12: they were 0600, unreadable by colleagues on a shared
drive, because the atomic writer's temporary file comes from mkstemp)."""

import os
import stat

import pytest

from exodeep_gui.core.events import EventTable
from exodeep_gui.core.simulate import SimulationParams
from exodeep_gui.io import atomic
from exodeep_gui.io.results import write_results
from exodeep_gui.io.simulated import write_simulated_set


@pytest.fixture(params=[(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)], ids=["022", "077", "002"])
def umask(request):
    """Sets the process umask for one test and restores it; yields the mode new files must get."""
    old = os.umask(request.param[0])
    try:
        yield request.param[1]
    finally:
        os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_umask_is_read_without_changing_it(umask):
    assert atomic.default_file_mode() == umask
    assert atomic.default_file_mode() == umask        # reading it twice leaves it as it was


def test_detection_results_follow_the_umask(tmp_path, umask):
    events = EventTable.from_arrays([10.0, 20.5], [5.0, 7.25], [3, 9], score=[0.9, 0.8], size=[30, 40])
    written = write_results(tmp_path, "cell", events, 0.16, 0.3)
    assert sorted(p.name for p in written) == ["cell_RoiSet.zip", "cell_events.csv", "cell_events.xml"]
    assert {p.name: mode(p) for p in written} == {p.name: umask for p in written}
    # replacing a file gives the new one the same mode, and leaves no temporary file behind
    written = write_results(tmp_path, "cell", events, overwrite=True)
    assert all(mode(p) == umask for p in written)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)


def test_simulated_movies_and_truth_follow_the_umask(tmp_path, umask):
    params = SimulationParams(frames=8, height=24, width=24, events=1, docked=1, visiting=0)
    write_simulated_set(tmp_path, 1, params, seed=4)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["sim_004.csv", "sim_004.tif", "sim_004_mask.tif", "simulation.json"]
    assert {n: mode(tmp_path / n) for n in names} == {n: umask for n in names}


def test_a_failed_write_leaves_nothing_and_the_umask_unchanged(tmp_path, umask):
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("writer failed")
    assert list(tmp_path.iterdir()) == []
    assert atomic.default_file_mode() == umask


def test_without_proc_the_umask_read_at_import_is_used(monkeypatch, tmp_path):
    monkeypatch.setattr(atomic, "_umask_from_proc", lambda: None)
    monkeypatch.setattr(atomic, "_UMASK_AT_IMPORT", 0o027)
    path = atomic.write_text_atomic(tmp_path / "a.txt", "x")
    assert mode(path) == 0o640
    # the fallback reads the umask by setting it (to the usual 0o022) and restoring it at once
    old = os.umask(0o037)
    try:
        assert atomic._umask_at_import() == 0o037
        assert os.umask(0o037) == 0o037
    finally:
        os.umask(old)
