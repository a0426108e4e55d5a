"""Screenshots of the training wizard's run and result pages after a short fine-tune on
simulated movies: ``python tools/wizard_screenshot.py OUTDIR [--model exodeep-sim-small]
[--schedule 16:16:8:60,32:4:16:30]``. Offscreen; writes OUTDIR/wizard_run.png and
OUTDIR/wizard_result.png, and prints the before/after table."""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def wait(app, condition, timeout_s=3600):
    t_end = time.time() + timeout_s
    while not condition() and time.time() < t_end:
        app.processEvents()
        time.sleep(0.02)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--model", default="exodeep-sim-small")
    ap.add_argument("--schedule", default="16:16:8:60,32:4:16:30")
    args = ap.parse_args()
    from PySide6.QtWidgets import QApplication, QWizard

    app = QApplication([])
    import pyqtgraph as pg

    from exodeep_gui.ml.training.schedule import parse_schedule
    from exodeep_gui.core.simulate import SimulationParams, simulate_movie
    from exodeep_gui.gui.main_window import MainWindow
    from exodeep_gui.gui.settings import Settings
    from exodeep_gui.io.results import read_events
    from exodeep_gui.io.simulated import write_simulated
    from tests.gui.helpers import fake_detection

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    work = Path(tempfile.mkdtemp(prefix="wizard-shot-"))
    params = SimulationParams(frames=120, height=128, width=128, events=15)
    paths = [write_simulated(work, f"cell{i}", simulate_movie(params, seed=40 + i)) for i in range(3)]
    w = MainWindow(Settings())
    w.resize(1400, 860)
    w.show()
    w.open_paths(paths)
    for doc, path in zip(w.state.docs, paths):          # reviewed events: the ground truth
        truth = read_events(path.with_suffix(".csv"))
        w.state.set_detection(doc, fake_detection(truth, name=doc.name))
        w.state.set_fully_reviewed(doc, True)
    wz = w.open_training()
    wz.resize(1100, 760)
    for _ in range(2):
        wz.button(QWizard.NextButton).click()
    page = wz.model_page
    from exodeep_gui.paths import bundled_models

    page.start_path = str(next(p for p in bundled_models() if p.name == args.model))
    page.start.blockSignals(True)
    page.start.setCurrentIndex(page.start.findData("folder"))
    page.start.blockSignals(False)
    page.set_schedule(parse_schedule(args.schedule))
    page.folder.setText(str(work / "fine-tuned"))
    page.name.setText("fine-tuned on 2 simulated movies")
    wz.button(QWizard.NextButton).click()
    wait(app, lambda: wz.run_page.result is not None)
    wz.grab().save(str(Path(args.out) / "wizard_run.png"))
    wz.button(QWizard.NextButton).click()
    wait(app, lambda: wz.result_page.rows is not None)
    for _ in range(10):
        app.processEvents()
    wz.grab().save(str(Path(args.out) / "wizard_result.png"))
    print(wz.result_page.rows)
    w.close()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
