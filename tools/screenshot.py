"""Screenshot of the main window on the demo movie with detections, a kymograph line through
an event and the event selected (or the event gallery, ``--gallery``):
``python tools/screenshot.py OUT.png [--model NAME_OR_DIR] [--size 1400 860] [--gallery] [--maximized]``.
Runs offscreen, or under Xvfb with a window manager (QT_QPA_PLATFORM=xcb; ``--maximized`` then takes
the whole screen, as a user would, and the picture is the screen's, title bar included)."""

import argparse
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> int:  # noqa: C901
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--model", default="exodeepfinder")
    ap.add_argument("--size", type=int, nargs=2, default=[1400, 860], metavar=("WIDTH", "HEIGHT"))
    ap.add_argument("--gallery", action="store_true", help="show the event gallery, doubtful first")
    ap.add_argument("--maximized", action="store_true", help="maximise the window (under a window manager)")
    args = ap.parse_args()
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from exodeep_gui.gui.app import make_window

    w = make_window([], demo=True)
    w.resize(*args.size)
    w.show()
    if args.maximized:
        w.showMaximized()
    w.state.set_model(args.model)
    done = []
    w.detection.finished.connect(lambda: done.append(1))
    w.detection.run()
    t0 = time.time()
    while not done and time.time() - t0 < 600:
        app.processEvents()
        time.sleep(0.02)
    ev = w.state.events()
    print(f"{len(ev)} events; {w.detection.status.text()}")
    if len(ev):
        row = len(ev) // 2
        x, y, f = float(ev.x[row]), float(ev.y[row]), int(ev.frame[row])
        w.movie_view.start_line([[max(0, x - 40), y], [x + 40, y]])
        w.events_dock.raise_()
        w.state.select(int(ev.extra["id"][row]))
        w.state.set_frame(f + 1)
    if args.gallery:
        w.state.select(None)
        w.act["gallery"].trigger()
    for _ in range(20):
        app.processEvents()
        time.sleep(0.05)
    if os.environ.get("QT_QPA_PLATFORM") == "xcb":
        import subprocess

        ok = subprocess.run(["import", "-window", "root", args.out]).returncode == 0
    else:
        ok = w.grab().save(args.out)
    w.close()
    w.deleteLater()
    app.processEvents()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
