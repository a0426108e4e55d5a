"""The cost of one review decision in the window with many events: a simulated 200 × 256 × 256 movie
with N fake detections (default 1500), the event gallery shown; each step confirms the selected event
and moves to the next undecided one, as Y does; prints the median time per key (offscreen). Measured
2026-12-05 on the 2-core VM: 364 ms a key before the event table updated only the rows an edit changed
(337 ms with the gallery's words-only update alone), 19–20 ms after.

    python benchmarks/bench_review_keys.py [--events 1500] [--keys 10]
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["EXODEEP_DATA_DIR"] = tempfile.mkdtemp(prefix="exodeep-bench-")     # not the user's settings
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1500)
    ap.add_argument("--keys", type=int, default=10)
    args = ap.parse_args()
    import numpy as np
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from exodeep_gui.core.detection import Detection, DetectOptions
    from exodeep_gui.core.events import EventTable
    from exodeep_gui.core.simulate import SimulationParams, simulate_movie
    from exodeep_gui.gui.main_window import MainWindow
    from exodeep_gui.gui.settings import Settings
    from exodeep_gui.io.simulated import write_simulated

    folder = tempfile.mkdtemp()
    path = write_simulated(folder, "big", simulate_movie(SimulationParams(frames=200, height=256, width=256,
                                                                          events=20), seed=1))
    window = MainWindow(Settings())
    window.show()
    window.open_paths([path])
    n, rng = args.events, np.random.default_rng(0)
    table = EventTable.from_arrays(rng.uniform(10, 246, n), rng.uniform(10, 246, n), rng.integers(5, 190, n),
                                   np.full(n, 0.9), np.full(n, 60.0),
                                   {"confidence": rng.uniform(0, 1, n), "candidate": np.zeros(n)})
    window.state.set_detection(window.state.current, Detection("big", None, table, DetectOptions(), "fake"))
    t0 = time.perf_counter()
    window.show_gallery()
    app.processEvents()
    print(f"gallery shown: {time.perf_counter() - t0:.2f} s for {window.gallery.list.count()} strips")
    times = []
    for _ in range(args.keys):
        t0 = time.perf_counter()
        window.state.confirm_event(window.state.selected)
        window.state.select_next(1, unconfirmed=True)
        app.processEvents()
        times.append(time.perf_counter() - t0)
    print(f"confirm and next, per key: median {1000 * np.median(times):.0f} ms, max {1000 * max(times):.0f} ms "
          f"({n} events)")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
