"""Review in the window: one filter for every movie (also those opened later), events with
stable ids and provenance, re-detection that keeps the review, the review saved beside the
movie within a second and restored (also after kill -9), "fully reviewed", annotations."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from exodeep_gui.core.events import EventTable
from exodeep_gui.io.results import read_events
from exodeep_gui.gui.review.event_panel import COLUMNS
from exodeep_gui.io import review_file
from exodeep_gui.io.review_file import beside_path
from tests.gui.helpers import fake_detection, menu_action

ROOT = Path(__file__).resolve().parents[2]


def test_the_filter_applies_to_movies_opened_later_and_to_the_export(window, qtbot, sim_movie_file, tmp_path):
    path, sim = sim_movie_file
    n = len(sim.truth)
    sizes = np.arange(n) * 30 + 10                       # 10, 40, 70, 100: two below 50 voxels
    window.detection.min_size.setValue(50)               # set before the movie is opened
    window.open_paths([path])
    window.state.set_detection(window.state.current, fake_detection(sim.truth, np.full(n, 0.9), sizes))
    assert window.events.model.rowCount() == int((sizes >= 50).sum()) == 2
    written = window.files.export_dialog(folder=str(tmp_path / "out"))
    assert len(read_events([p for p in written if p.suffix == ".csv"][0])) == 2
    # a second window restores the filter from its settings: still applied to a new movie
    from exodeep_gui.gui.main_window import MainWindow

    window.close()
    assert window.settings.min_size == 50
    second = MainWindow(window.settings)
    qtbot.addWidget(second)
    second.open_paths([path])
    second.state.set_detection(second.state.current, fake_detection(sim.truth, np.full(n, 0.9), sizes))
    assert second.detection.min_size.value() == 50 and second.events.model.rowCount() == 2
    second.close()


def test_events_keep_their_ids_and_added_events_are_not_made_up(window, sim_movie_file):
    path, sim = sim_movie_file
    window.open_paths([path])
    state = window.state
    eid = state.add_event(10.0, 12.0, 5)                 # no detection yet: no score, no size
    row = window.events.model.row_of(eid)
    assert window.events.model.data(window.events.model.index(row, COLUMNS.index("score"))) == ""   # score blank
    assert window.events.model.data(window.events.model.index(row, COLUMNS.index("size"))) == ""   # size blank
    state.undo()
    state.set_detection(state.current, fake_detection(sim.truth))
    ids = list(state.events().extra["id"])
    state.select(ids[1])
    window.events.delete_selected()
    assert list(state.events().extra["id"]) == [ids[0]] + ids[2:]                    # no renumbering
    # an event added on a detection takes that detection's score and size
    x, y, f = sim.truth.x[0] + 1.0, sim.truth.y[0], int(sim.truth.frame[0])
    new = state.add_event(x, y, f)
    i = window.events.model.row_of(new)
    score = window.events.model.value(i, COLUMNS.index("score"))
    assert score == pytest.approx(state.current.detection.candidates.score[0])
    assert window.events.model.value(i, COLUMNS.index("size")) == 40
    assert new == max(ids) + 1
    assert window.events.model.value(i, COLUMNS.index("review")) == "added, always kept"


def test_a_new_detection_keeps_the_review_and_says_what_changed(window, sim_movie_file):
    path, sim = sim_movie_file
    window.open_paths([path])
    state, doc = window.state, None
    doc = state.current
    truth = sim.truth
    state.set_detection(doc, fake_detection(truth, np.full(len(truth), 0.9)))
    ids = state.events().extra["id"].copy()
    state.delete_event(int(ids[0]))                       # a false event
    state.confirm_event(int(ids[1]))                      # a real one
    added = state.add_event(5.0, 5.0, 30)                 # a missed one
    # the next run: every event again (slightly moved), one gone, one new
    moved = EventTable.from_arrays(np.r_[truth.x[:3] + 0.7, 50.0], np.r_[truth.y[:3], 50.0],
                                   np.r_[truth.frame[:3] + 1, 20], np.full(4, 0.8), np.full(4, 30))
    summary = state.set_detection(doc, fake_detection(moved, moved.score, moved.size))
    shown = state.events()
    assert int(ids[0]) not in shown.extra["id"]           # deleted stays deleted
    assert {int(ids[1]), int(ids[2]), added} <= set(shown.extra["id"].tolist())
    assert summary.new == 1 and summary.gone == len(truth) - 3 and summary.kept_deleted == 1
    assert "1 new" in summary.message() and "no longer detected" in summary.message()
    i = window.events.model.row_of(int(ids[1]))
    assert window.events.model.value(i, COLUMNS.index("review")) == "✓ always kept"          # still confirmed
    assert state.undo()                                   # Undo takes the whole re-detection back
    assert sorted(state.events().extra["id"].tolist()) == sorted(
        [int(v) for v in ids[1:]] + [added])


def _wait_for_file(qtbot, path: Path, timeout_ms: int = 3000):
    qtbot.waitUntil(path.is_file, timeout=timeout_ms)
    return json.loads(path.read_text())


def test_the_review_is_saved_beside_the_movie_and_restored(window, qtbot, sim_movie_file, tmp_path):
    path, sim = sim_movie_file
    window.open_paths([path])
    state = window.state
    state.set_detection(state.current, fake_detection(sim.truth))
    state.delete_event(int(state.events().extra["id"][0]))
    t0 = time.monotonic()
    sidecar = beside_path(path)
    qtbot.waitUntil(lambda: sidecar.is_file() and '"deleted"' in sidecar.read_text(), timeout=3000)
    assert time.monotonic() - t0 < 1.5                     # soon: the keeper saves within 0.5 s
    menu_action(window, "Review", "Movie fully reviewed").trigger()
    window.movie_view.start_line([[5.0, 30.0], [55.0, 30.0]])
    window.files.import_annotations_dialog(str(path.with_suffix(".csv")))
    state.set_levels((100.0, 900.0))
    shown = state.events()
    window.close()                                         # saved on quit
    from PySide6.QtCore import Qt

    from exodeep_gui.gui.main_window import MainWindow
    from exodeep_gui.gui.settings import Settings

    again = MainWindow(Settings())
    qtbot.addWidget(again)
    again.open_paths([path])
    doc = again.state.current
    assert doc.fully_reviewed and doc.levels == (100.0, 900.0)
    assert np.allclose(doc.line, [[5.0, 30.0], [55.0, 30.0]])
    assert len(doc.annotations) == len(sim.truth)
    restored = again.state.events()
    assert restored.extra["id"].tolist() == shown.extra["id"].tolist()
    assert np.allclose(restored.x, shown.x) and again.movie_list.item(0, 3).checkState() == Qt.Checked
    # the Detection panel says the events come from an earlier detection, not "Not detected yet"
    said = again.detection.status.text()
    assert said.startswith(f"Detected earlier with {doc.model_name}") and f"({len(shown)} events shown)" in said
    again.close()


def test_a_damaged_review_file_is_set_aside_and_the_user_told(window, sim_movie_file):
    from PySide6.QtWidgets import QMessageBox

    path, _ = sim_movie_file
    sidecar = beside_path(path)
    sidecar.write_text("{ this is not json")
    window.open_paths([path])
    assert len(window.state.docs) == 1                     # the movie opens anyway
    box = [b for b in window.findChildren(QMessageBox) if b.isVisible()][-1]
    assert sidecar.name in box.text() and "not restored" in box.text()
    kept = list(sidecar.parent.glob("cells.tif.unusable-*.json"))
    assert len(kept) == 1 and kept[0].read_text() == "{ this is not json"      # nothing lost


KILL_SCRIPT = r"""
import os, signal, sys, time
sys.path.insert(0, {root!r})
from PySide6.QtWidgets import QApplication
app = QApplication([])
from exodeep_gui.gui.main_window import MainWindow
from exodeep_gui.gui.settings import Settings
from tests.gui.helpers import fake_detection
from exodeep_gui.io.results import read_events
w = MainWindow(Settings())
w.show()
w.open_paths([{movie!r}])
s = w.state
s.set_detection(s.current, fake_detection(read_events({truth!r})))
s.delete_event(int(s.events().extra["id"][0]))
s.add_event(7.0, 9.0, 11)
t0 = time.monotonic()
while time.monotonic() - t0 < {wait}:
    app.processEvents()
    time.sleep(0.01)
print("KILL", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(os.name == "nt", reason="SIGKILL is POSIX")
def test_the_review_survives_kill_9(sim_movie_file, tmp_path):
    """Edits made one second before the app is killed (kill -9: no chance to save on exit) are
    in the review file, which is whole (written atomically)."""
    path, _ = sim_movie_file
    script = KILL_SCRIPT.format(root=str(ROOT), movie=str(path), truth=str(path.with_suffix(".csv")), wait=1.0)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", EXODEEP_DATA_DIR=str(tmp_path / "ud"))
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == -signal.SIGKILL and "KILL" in run.stdout, run.stderr
    data = json.loads(beside_path(path).read_text())
    ev = data["events"]
    assert ev["status"].count("deleted") == 1 and ev["origin"].count("added") == 1
    assert (7.0, 9.0, 11) in list(zip(ev["x"], ev["y"], ev["frame"]))
    assert not list(path.parent.glob(".*.part"))           # no half-written file left


def test_fully_reviewed_movies_are_saved_as_annotations_without_losing_the_truth(window, qtbot, sim_movie_file,
                                                                               monkeypatch):
    from exodeep_gui.gui import file_actions

    path, sim = sim_movie_file
    window.open_paths([path])
    window.state.set_detection(window.state.current, fake_detection(sim.truth))
    window.state.delete_event(int(window.state.events().extra["id"][0]))
    from PySide6.QtCore import Qt

    window.movie_list.item(0, 3).setCheckState(Qt.Checked)          # the "reviewed" check in the movie list
    assert window.state.current.fully_reviewed and window.act["reviewed"].isChecked()
    truth_text = path.with_suffix(".csv").read_text()
    # the real question: a reflex Enter keeps the file (No is the default)
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    asked = []

    def press_enter(tries=[50]):
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            tries[0] -= 1
            if tries[0] > 0:
                QTimer.singleShot(100, press_enter)        # not up yet
            return
        asked.append(box.text())
        qtbot.keyClick(box, Qt.Key_Return)

    QTimer.singleShot(200, press_enter)
    menu_action(window, "File", "Save reviewed events as annotations").trigger()
    assert asked and "already exists" in asked[0]
    assert path.with_suffix(".csv").read_text() == truth_text
    answers = []
    monkeypatch.setattr(file_actions, "ask_yes_no", lambda parent, q: answers.append(q) or False)
    menu_action(window, "File", "Save reviewed events as annotations").trigger()
    assert answers and "already exists" in answers[0]
    assert path.with_suffix(".csv").read_text() == truth_text           # not replaced: the user said no
    monkeypatch.setattr(file_actions, "ask_yes_no", lambda parent, q: True)
    menu_action(window, "File", "Save reviewed events as annotations").trigger()
    saved = read_events(path.with_suffix(".csv"))
    assert len(saved) == len(window.state.events()) == 2      # 3 above the threshold, one deleted
    assert np.array_equal(np.sort(saved.frame), np.sort(window.state.events().frame))


def test_a_review_from_a_newer_exodeep_is_never_overwritten(window, qtbot, sim_movie_file, tmp_path):
    """The window cannot read it, so it saves this movie's review elsewhere (the user folder), and
    the file beside the movie stays exactly as it was, whatever the user changes."""
    from exodeep_gui.core.review import EventFilter
    from exodeep_gui.io.review_file import fallback_path

    path, sim = sim_movie_file
    sidecar = beside_path(path)
    newer = json.dumps({"format": "exodeep-review", "version": 99, "movie": {"shape": [40, 64, 64]},
                        "something": "from the future"})
    sidecar.write_text(newer)
    window.open_paths([path])
    window.state.set_filter(EventFilter(0.7, 3))
    window.state.add_event(10.0, 10.0, 5)
    window.keeper.flush()
    assert sidecar.read_text() == newer
    saved = json.loads(fallback_path(path).read_text())
    assert saved["version"] == review_file.VERSION and saved["events"]["origin"] == ["added"]


def test_the_same_movie_opened_twice_is_one_movie(window, sim_movie_file):
    """Opening a movie that is open already makes it current (two copies would overwrite each
    other's review)."""
    path, sim = sim_movie_file
    window.open_paths([path])
    first = window.state.current
    window.state.add_event(10.0, 10.0, 5)
    window.open_paths([str(path)])
    assert window.state.docs == [first] and window.state.current is first
    window.keeper.flush()
    assert json.loads(beside_path(path).read_text())["events"]["origin"] == ["added"]
