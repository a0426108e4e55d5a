"""``ExoDeep --self-test [--model M]``: a headless check of an installed (frozen) app. Opens the
demo movie, detects with a bundled or given model on the CPU, writes the CSV to a temporary
folder, reads it back, runs the same detection the way the window does (in an engine process:
the check that the frozen app can start one), analyses the movie's events the way ``exodeep analyze``
does (tables, figures drawn by matplotlib, the HTML report: the check that the bundle kept what the
analysis needs) and exits 0 (1 on any failure, with the reason)."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional


def default_model() -> str:
    from exodeep_gui.ml.models import PUBLISHED, find_local
    from exodeep_gui.paths import bundled_models

    bundled = bundled_models()
    if bundled:
        return str(bundled[0])
    if find_local(PUBLISHED):
        return PUBLISHED.name
    raise RuntimeError("no bundled model and no local ExoDeepFinder weights; pass --model")


def analyse(sim, folder: Path) -> int:
    """``exodeep analyze`` on the simulated movie and its true events: the number of figure files."""
    import contextlib
    import io

    from exodeep_gui.cli import main as cli_main
    from exodeep_gui.io.simulated import write_simulated

    (folder / "movie").mkdir()
    movie = write_simulated(folder / "movie", "selftest", sim)
    events = movie.with_suffix(".csv")                      # the ground truth, beside the movie
    report = folder / "analysis"
    said = io.StringIO()
    with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
        code = cli_main(["analyze", str(movie), "--events", str(events), "--out", str(report),
                         "--simulations", "9", "--no-resume"])
    assert code == 0, f"exodeep analyze failed ({code}): {said.getvalue()[-1000:]}"
    assert (report / "report.html").stat().st_size > 0, "the analysis wrote no report"
    figures = list((report / "figures").glob("*"))
    assert figures, "the analysis drew no figure"
    return len(figures)


def run(model: Optional[str] = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    t0 = time.perf_counter()
    try:
        from exodeep_gui import __version__
        from exodeep_gui.core.progress import run_to_end
        from exodeep_gui.core.simulate import SimulationParams, simulate_movie
        from exodeep_gui.core.movie import Movie
        from exodeep_gui.io.results import read_events, write_results_csv
        from exodeep_gui.core.detection import DetectOptions
        from exodeep_gui.ml.detect import Detector, detect_in_subprocess
        from exodeep_gui.ml.device import describe_device
        from exodeep_gui.paths import is_frozen

        model = model or default_model()
        sim = simulate_movie(SimulationParams(frames=48, height=64, width=64, events=5, docked=6, visiting=2), seed=3)
        movie = Movie(sim.movie, pixel_size_um=0.16, frame_interval_s=0.3)
        detection = run_to_end(Detector.load(model).detect(movie, DetectOptions(model=model)))
        events = detection.events()
        out = Path(tempfile.mkdtemp(prefix="exodeep-selftest-")) / "selftest_events.csv"
        write_results_csv(out, events, 0.16, 0.3)
        back = read_events(out)
        assert len(back) == len(events), "the CSV did not read back"
        [(_, child)] = run_to_end(detect_in_subprocess(model, [(0, movie)], DetectOptions(model=model)))
        assert (child.segmentation.score == detection.segmentation.score).all(), \
            "the engine process gave another result"
        figures = analyse(sim, out.parent)
        print(f"ExoDeep {__version__} self-test OK: frozen={is_frozen()} model={model} "
              f"{describe_device()}; {len(events)} events on a {sim.movie.shape} demo movie → {out}; "
              f"engine process agrees; analysis: report.html and {figures} figure files "
              f"({time.perf_counter() - t0:.1f} s)")
        return 0
    except Exception as exc:
        print(f"ExoDeep self-test FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
