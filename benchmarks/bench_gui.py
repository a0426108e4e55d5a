"""GUI speed: frames drawn per second while scrubbing a 512×512×1000 uint16 movie, kymograph
update time over 1000 frames, start-up to window (TensorFlow not imported), the event loop
during detection, the warm engine (time from Detect to the network's first frame, first
and second run on the demo movie) and the review autosave delay.

    python benchmarks/bench_gui.py [--frames 1000] [--size 512]

Offscreen by default (QT_QPA_PLATFORM=offscreen); set QT_QPA_PLATFORM=xcb under Xvfb to include
X11 drawing. The window's settings and the demo movie go to a fresh temporary folder
(EXODEEP_DATA_DIR), not the user's. Prints figures; asserts nothing."""

import argparse
import os
import subprocess
import sys
import tempfile
import time

from event_loop import GapMeter, wait_until

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
if "EXODEEP_DATA_DIR" not in os.environ:
    from exodeep_gui.paths import user_models_dir

    # models downloaded into the user's folder are still found (read only), not downloaded again
    os.environ["EXODEEP_MODEL_PATH"] = os.pathsep.join(
        p for p in (os.environ.get("EXODEEP_MODEL_PATH", ""), str(user_models_dir())) if p)
    os.environ["EXODEEP_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-gui-")


def startup_seconds() -> float:
    code = ("import time; t0 = time.perf_counter(); from PySide6.QtWidgets import QApplication; "
            "app = QApplication([]); from exodeep_gui.gui.app import make_window; w = make_window([]); w.show(); "
            "app.processEvents(); import sys; print('READY', time.perf_counter() - t0, 'tensorflow' in sys.modules, "
            "'keras' in sys.modules); w.deleteLater(); app.processEvents()")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    wall = time.perf_counter() - t0
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("READY")][0].split()
    print(f"start-up to window: {wall:.2f} s wall for the process ({float(line[1]):.2f} s in Python); "
          f"TensorFlow imported: {line[2]}, Keras imported: {line[3]}")
    return wall


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--model", default="exodeepfinder", help="model for the responsiveness measurement")
    args = ap.parse_args()
    import numpy as np
    from PySide6.QtWidgets import QApplication

    startup_seconds()
    app = QApplication([])
    from exodeep_gui.core.movie import Movie
    from exodeep_gui.gui.app import make_window

    rng = np.random.default_rng(0)
    data = rng.integers(100, 4000, (args.frames, args.size, args.size), dtype=np.uint16)
    w = make_window([])
    w.resize(1400, 900)
    w.show()
    w.state.add_movie(Movie(data))
    app.processEvents()
    view = w.movie_view.canvas.viewport()
    n = min(300, args.frames)
    t0 = time.perf_counter()
    for f in range(n):
        w.movie_view.slider.setValue(f)
        view.repaint()                     # force the draw of each frame (not just schedule it)
    dt = time.perf_counter() - t0
    print(f"scrubbing {args.size}×{args.size} uint16: {n / dt:.0f} frames/s drawn ({1000 * dt / n:.1f} ms per frame)")
    times = []
    for i in range(5):
        t0 = time.perf_counter()
        w.movie_view.start_line([[20.0 + i, 30.0], [args.size - 30.0, args.size - 40.0 - i], [args.size - 20.0, 40.0]])
        app.processEvents()
        times.append(time.perf_counter() - t0)
    print(f"kymograph update over {args.frames} frames (polyline, ~{int(1.4 * args.size + args.size)} px long): "
          f"median {1000 * sorted(times)[2]:.0f} ms")
    responsiveness(app, w, args.model)
    warm_engine_and_autosave(app, w, args.model)
    w.close()
    w.deleteLater()
    app.processEvents()
    return 0


def responsiveness(app, w, model: str) -> None:
    """Longest gap between 10 ms timer ticks while detection runs in the worker."""
    from exodeep_gui.core.simulate import SimulationParams, simulate_movie
    from exodeep_gui.core.movie import Movie

    sim = simulate_movie(SimulationParams(frames=100, height=128, width=128, events=10), seed=1)
    w.state.add_movie(Movie(sim.movie))
    w.state.set_model(model)
    meter = GapMeter()
    meter.start()
    done = []
    w.detection.finished.connect(lambda: done.append(1))
    t0 = time.perf_counter()
    w.detection.run()
    wait_until(app, lambda: done)
    gaps = meter.stop()
    print(f"event loop during detection ({model}, 100×128×128, {time.perf_counter() - t0:.0f} s): "
          f"longest gap {1000 * gaps[-1]:.0f} ms, 99th percentile {1000 * gaps[int(0.99 * len(gaps))]:.0f} ms "
          f"(timer every 10 ms); {w.detection.status.text()}")


def warm_engine_and_autosave(app, w, model: str) -> None:
    """Detect twice on the demo movie: seconds from Detect to the network's first report (cold:
    a new engine process imports TensorFlow and loads the model; warm: neither). Then the delay
    from a review edit to its file on disk."""
    from exodeep_gui.io.simulated import demo_movie
    from exodeep_gui.paths import user_data_dir
    from exodeep_gui.io.review_file import beside_path

    path = demo_movie(user_data_dir() / "demo")
    w.runner.engine.stop()
    w.open_paths([path])
    w.state.set_model(model)
    for run in ("first (cold engine)", "second (warm engine)"):
        first, done = [], []
        t0 = time.perf_counter()
        on_progress = lambda job, p: p.stage == "detect" and not first and first.append(time.perf_counter())
        w.runner.progress.connect(on_progress)
        w.detection.finished.connect(lambda: done.append(time.perf_counter()))
        w.detection.run()
        wait_until(app, lambda: done, 600)
        w.runner.progress.disconnect(on_progress)
        print(f"{run} detection on the demo movie {w.state.current.movie.shape}: network's first frame after "
              f"{first[0] - t0:.2f} s, done after {done[0] - t0:.1f} s (engine processes started: "
              f"{w.runner.engine.starts})")
    sidecar = beside_path(path)
    delays = []
    for _ in range(5):
        wait_until(app, lambda: not w.keeper.dirty, 5)
        before = sidecar.stat().st_mtime_ns if sidecar.exists() else 0
        t0 = time.perf_counter()
        ids = w.state.events().extra["id"]
        w.state.add_event(10.0, 10.0, 5) if not len(ids) else w.state.delete_event(int(ids[0]))
        wait_until(app, lambda: sidecar.exists() and sidecar.stat().st_mtime_ns != before, 10)
        delays.append(time.perf_counter() - t0)
    print(f"review autosave: edit → file on disk in {min(delays):.2f}–{max(delays):.2f} s "
          f"({len(w.state.current.rows)} events in the review, {sidecar.stat().st_size} bytes)")


if __name__ == "__main__":
    sys.exit(main())
