"""The training wizard against `exodeep train` on the same data and schedule: wall time of each
(the wizard's run goes through the window's job runner, a QThread and a child process) and the
GUI thread's longest event-loop gap while the wizard trains (a 10 ms timer). Prints figures;
asserts nothing.

    python benchmarks/bench_wizard.py [--movies 3] [--frames 100] [--size 128] [--schedule 8:64:4:40,16:16:8:40]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from event_loop import GapMeter

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--movies", type=int, default=3)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--schedule", default="8:64:4:40,16:16:8:40")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    from exodeep_gui.ml.training.schedule import parse_schedule
    from exodeep_gui.core.simulate import SimulationParams
    from exodeep_gui.io.simulated import write_simulated_set
    from exodeep_gui.ml.training.dataset import split_items, find_training_items
    from exodeep_gui.ml.training.train import TrainOptions
    from exodeep_gui.ml.training.job import TrainRequest

    work = Path(tempfile.mkdtemp(prefix="bench-wizard-"))
    write_simulated_set(work / "data", args.movies, SimulationParams(frames=args.frames, height=args.size,
                                                                   width=args.size, events=20), seed=3)
    schedule = parse_schedule(args.schedule)
    train_items, valid_items = split_items(find_training_items([work / "data"]), 0.3, seed=0)
    print(f"data: {args.movies} simulated movies {args.frames}×{args.size}×{args.size}; schedule {args.schedule}; "
          f"network from scratch (published widths 32/48/64)")
    for r in range(args.repeats):
        t0 = time.perf_counter()
        cli = subprocess.run([sys.executable, "-m", "exodeep_gui.cli", "train", str(work / "data"), "--out",
                              str(work / f"cli-{r}"), "--schedule", args.schedule, "--seed", "0"],
                             capture_output=True, text=True)
        t_cli = time.perf_counter() - t0
        if cli.returncode:
            print(cli.stderr[-2000:])
            return 1
        request = TrainRequest(str(work / f"wizard-{r}"), tuple((str(i.movie), str(i.annotations), str(i.mask or ""))
                                                                for i in train_items),
                               tuple((str(i.movie), str(i.annotations), str(i.mask or "")) for i in valid_items),
                               TrainOptions(schedule=schedule, seed=0))
        t_wiz, gaps = wizard_run(request)
        print(f"run {r + 1}: exodeep train {t_cli:.1f} s; wizard (job runner → QThread → child process) "
              f"{t_wiz:.1f} s: {100 * (t_wiz / t_cli - 1):+.1f} %; GUI thread while training: longest gap "
              f"{1000 * gaps[-1]:.0f} ms, 99th percentile {1000 * gaps[int(0.99 * len(gaps))]:.0f} ms")
    return 0


def wizard_run(request):
    from PySide6.QtWidgets import QApplication

    from exodeep_gui.gui import workers
    from exodeep_gui.gui.jobs import JobRunner

    app = QApplication.instance() or QApplication([])
    runner = JobRunner()
    meter = GapMeter()
    meter.start()
    done = []
    job = runner.job("train", "bench", workers.train_generator, request)
    job.done.connect(lambda: done.append(1))
    failed = []
    job.failed.connect(lambda m, d: failed.append(m))
    t0 = time.perf_counter()
    runner.submit(job)
    while not done:
        app.processEvents()
        time.sleep(0.001)
    wall = time.perf_counter() - t0
    gaps = meter.stop()
    runner.shutdown()
    if failed:
        raise SystemExit("wizard run failed: " + failed[0])
    return wall, gaps


if __name__ == "__main__":
    sys.exit(main())
