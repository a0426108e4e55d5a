"""Start-up to a drawn window (offscreen), for this checkout and optionally others, alternating the
runs so that the machine's load hits each alike:

    python benchmarks/bench_startup.py [--repeats 7] [--other PATH_TO_ANOTHER_CHECKOUT ...]

Each run is a fresh Python process importing the window, creating it and drawing it once; prints the
median and the range of the process's wall time per checkout, and whether TensorFlow was imported.
Prints figures; asserts nothing."""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CODE = ("import time; t0 = time.perf_counter(); from PySide6.QtWidgets import QApplication; "
        "app = QApplication([]); from exodeep_gui.gui.app import make_window; w = make_window([]); w.show(); "
        "app.processEvents(); import sys; print('READY', time.perf_counter() - t0, 'tensorflow' in sys.modules); "
        "w.deleteLater(); app.processEvents()")


def one_run(root: Path, data: str) -> tuple:
    env = dict(os.environ, PYTHONPATH=str(root), QT_QPA_PLATFORM="offscreen", EXODEEP_DATA_DIR=data)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=env, cwd=root)
    wall = time.perf_counter() - t0
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("READY")]
    if not line:
        raise SystemExit(f"{root}: no window\n{out.stderr[-2000:]}")
    return wall, line[0].split()[2] == "True"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--other", nargs="*", default=[], help="other checkouts to compare with")
    args = ap.parse_args()
    roots = [Path(__file__).resolve().parent.parent] + [Path(p).resolve() for p in args.other]
    times = {r: [] for r in roots}
    tf = {}
    with tempfile.TemporaryDirectory() as data:
        for r in roots:
            one_run(r, data)                       # warm the file cache once each
        for _ in range(args.repeats):
            for r in roots:
                wall, tf[r] = one_run(r, data)
                times[r].append(wall)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for r in roots:
        t = times[r]
        print(f"{r}: start-up to window {statistics.median(t):.2f} s median ({min(t):.2f}–{max(t):.2f}, "
              f"{len(t)} runs); TensorFlow imported: {tf[r]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
