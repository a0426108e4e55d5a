"""The event gallery, driven by keys as a reviewer drives it: a 50-event movie with false detections
and candidates, doubtful first, one key per event (Y real, Del false), the movie following."""

import time

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from exodeep_gui.core.detection import Detection, DetectOptions
from exodeep_gui.core.events import EventTable
from tests.gui.helpers import menu_action


@pytest.fixture(scope="module")
def fifty(tmp_path_factory):
    """A simulated movie with 50 events, and a detection of it: the 50 (confidence 0.6–1.0), 8 false
    ones (confidence 0.05–0.4) and 6 candidates, 4 of them real events the one pass missed."""
    from exodeep_gui.core.simulate import SimulationParams, simulate_movie
    from exodeep_gui.io.simulated import write_simulated

    sim = simulate_movie(SimulationParams(frames=160, height=96, width=96, events=50, docked=10, visiting=2), seed=11)
    path = write_simulated(tmp_path_factory.mktemp("gallery"), "fifty", sim)
    rng = np.random.default_rng(3)
    truth = sim.truth
    n = len(truth)
    false = (rng.uniform(8, 88, 8), rng.uniform(8, 88, 8), rng.integers(5, 150, 8))
    xs = np.r_[truth.x, false[0]]
    ys = np.r_[truth.y, false[1]]
    fs = np.r_[truth.frame, false[2]]
    conf = np.r_[rng.uniform(0.6, 1.0, n), rng.uniform(0.05, 0.4, 8)]
    real = np.r_[np.ones(n, bool), np.zeros(8, bool)]
    # candidates: the last 4 true events (hidden: seen by some views only) and 2 false ones
    cand = np.zeros(n + 8)
    cand[n - 4:n] = 1
    cand[n:n + 2] = 1
    score = np.where(cand > 0, 0.3, 0.9)
    table = EventTable.from_arrays(xs, ys, fs, score, np.full(n + 8, 100.0),
                                   {"confidence": np.where(cand > 0, conf * 0.3, conf), "candidate": cand})
    return path, Detection("fifty", None, table, DetectOptions(), "fake"), real


def test_a_fifty_event_movie_is_reviewed_with_one_key_per_event(window, qtbot, fifty):
    path, detection, real = fifty
    window.open_paths([path])
    state = window.state
    state.set_detection(state.current, detection)
    assert len(state.events()) == len(real) - 6                # the candidates are not shown (nor exported)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    menu_action(window, "Review", "Event gallery").trigger()
    gallery = window.gallery
    assert window.gallery_dock.isVisible() and gallery.list.count() == len(real)
    # doubtful first: the candidates and the false detections (lowest confidence) lead
    first_ten = [int(gallery.list.item(i).data(Qt.UserRole)) for i in range(10)]
    ids = {int(e): i for i, e in enumerate(state.current.rows.extra["id"])}
    assert sum(not real[ids[e]] for e in first_ten) >= 6
    conf = state.current.rows.extra["confidence"]
    shown_conf = [conf[ids[int(gallery.list.item(i).data(Qt.UserRole))]] for i in range(gallery.list.count())]
    assert shown_conf == sorted(shown_conf)                        # doubtful first, all the way down
    assert f"confidence {shown_conf[0]:.2f}" in gallery.list.item(0).text()
    assert state.selected == first_ten[0]                       # the first one is selected, the movie there

    keys, t0 = 0, time.perf_counter()
    while True:
        eid = state.selected
        if eid is None:
            break
        row = int(np.nonzero(state.current.rows.extra["id"] == eid)[0][0])
        if state.current.rows.extra["status"][row] != "":
            break                                               # back at a decided one: all done
        frame = int(state.current.rows.frame[row])
        assert state.frame == frame                             # the movie view follows the gallery
        QTest.keyClick(gallery.list, Qt.Key_Y if real[row] else Qt.Key_Delete)
        keys += 1
        assert keys <= len(real)
    seconds = time.perf_counter() - t0
    rows = state.current.rows
    status = rows.extra["status"]
    assert keys == len(real), (keys, len(real))                 # one key per event, none twice
    assert (status[real] == "confirmed").all() and (status[~real] == "deleted").all()
    shown = state.events()
    assert len(shown) == real.sum()                             # the 4 accepted candidates are events now
    print(f"gallery: {keys} events reviewed with {keys} keys in {seconds:.1f} s of app time "
          f"({1000 * seconds / keys:.0f} ms per key)")
    # all decided: back up to a confirmed one and Del twice: each Del deletes, the next row is selected
    QTest.keyClick(gallery.list, Qt.Key_Up)
    first = state.selected
    assert first is not None
    QTest.keyClick(gallery.list, Qt.Key_Delete)
    second = state.selected
    assert second is not None and second != first
    QTest.keyClick(gallery.list, Qt.Key_Delete)
    after = state.current.rows.extra["status"][np.isin(state.current.rows.extra["id"], [first, second])]
    assert (after == "deleted").all()
    n_deleted = int((state.current.rows.extra["status"] == "deleted").sum())
    assert gallery.count.text().endswith(f"(and {n_deleted} deleted)")
    # Home/End in the gallery: its first and last strip (not the movie's first and last frame)
    QTest.keyClick(gallery.list, Qt.Key_End)
    assert gallery.list.currentRow() == gallery.list.count() - 1
    assert state.selected == int(gallery.list.item(gallery.list.count() - 1).data(Qt.UserRole))
    last, before_last = (int(gallery.list.item(gallery.list.count() - k).data(Qt.UserRole)) for k in (1, 2))
    QTest.keyClick(gallery.list, Qt.Key_Delete)             # Del on the last strip: the one before, not the top
    assert state.selected == before_last and last not in [int(gallery.list.item(i).data(Qt.UserRole))
                                                          for i in range(gallery.list.count())]
    QTest.keyClick(gallery.list, Qt.Key_Home)
    assert gallery.list.currentRow() == 0 and state.selected == int(gallery.list.item(0).data(Qt.UserRole))
    # dragging the contrast redraws once it rests, and keeps only the pictures at the contrast shown
    for k in range(12):
        state.set_levels((100.0 + k, 2000.0 + 10 * k))
    qtbot.waitUntil(lambda: not gallery._later.isActive(), timeout=5000)
    qtbot.wait(50)
    assert len(gallery._strips) <= gallery.list.count()
