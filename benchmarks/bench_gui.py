"""GUI speed: frames drawn per second while scrubbing a 512×512×1000 uint16 movie, kymograph
update time over 1000 frames, and start-up to window (TensorFlow not imported).

    python benchmarks/bench_gui.py [--frames 1000] [--size 512]

Offscreen by default (QT_QPA_PLATFORM=offscreen); set QT_QPA_PLATFORM=xcb under Xvfb to include
X11 drawing. Prints figures; asserts nothing."""

import argparse
import os
import subprocess
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


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
    w.deleteLater()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
