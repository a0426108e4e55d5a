import multiprocessing
import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True, scope="session")
def _garbage_collected_in_the_gui_thread(qapp):
    """As the app does (gui.app.main): Python's collector never runs in a worker thread, where it
    could delete Qt objects (a segfault seen while a worker drew matplotlib figures)."""
    import gc

    from pyqtgraph.util.garbage_collector import GarbageCollector

    collector = GarbageCollector(interval=0.5)
    yield collector
    collector.timer.stop()
    gc.enable()


@pytest.fixture(autouse=True)
def _no_thread_or_process_left_running(qtbot):
    """Fail any test that leaves a worker QThread or an engine process running."""
    yield
    from exodeep_gui.gui import workers

    left = workers.running_threads()
    for t in left:
        t.quit()
        t.wait(10000)
    children = multiprocessing.active_children()
    for p in children:
        p.kill()
        p.join(5)
    assert not left, f"{len(left)} worker thread(s) left running"
    assert not children, f"{len(children)} engine process(es) left running"


@pytest.fixture
def window(qtbot, tmp_path):
    import pyqtgraph as pg

    from exodeep_gui.gui.main_window import MainWindow
    from exodeep_gui.gui.settings import Settings

    pg.setConfigOptions(imageAxisOrder="row-major")
    w = MainWindow(Settings())
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()                      # what the user does: the runner and engine shut down, reviews saved


@pytest.fixture(scope="session")
def _cells(tmp_path_factory):
    from exodeep_gui.core.simulate import SimulationParams, simulate_movie

    return simulate_movie(SimulationParams(frames=40, height=64, width=64, events=4, docked=6, visiting=2), seed=2)


@pytest.fixture
def sim_movie_file(tmp_path, _cells):
    """A simulated movie (and its truth, cells.csv) in a folder of its own: each test starts
    with no saved review beside it."""
    from exodeep_gui.io.simulated import write_simulated

    return write_simulated(tmp_path / "movies", "cells", _cells), _cells
