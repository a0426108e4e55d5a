"""``exodeep models`` and ``exodeep demo``."""

from __future__ import annotations

from pathlib import Path

from exodeep_gui.cli.common import ProgressBar, quiet_tensorflow


def register(sub) -> None:
    m = sub.add_parser("models", help="list available models")
    m.set_defaults(func=cmd_models)

    demo = sub.add_parser("demo", help="simulate, detect and evaluate (a self-check)")
    demo.add_argument("--model", default="exodeepfinder")
    demo.add_argument("--frames", type=int, default=120)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--out")
    demo.set_defaults(func=cmd_demo)


def cmd_models(args) -> int:
    from exodeep_gui.ml.models import list_models

    for name, title, where in list_models():
        print(f"{name:18s} {title}\n{'':18s} {where}")
    return 0


def cmd_demo(args) -> int:
    """Simulate a movie, detect its events with the published model, evaluate, print scores."""
    import tempfile

    quiet_tensorflow()
    from exodeep_gui.core.evaluate import evaluate_events
    from exodeep_gui.core.progress import run_to_end
    from exodeep_gui.core.simulate import SimulationParams, simulate_movie
    from exodeep_gui.core.movie import Movie
    from exodeep_gui.io.results import write_results_csv
    from exodeep_gui.core.detection import DetectOptions
    from exodeep_gui.ml.detect import Detector

    sim = simulate_movie(SimulationParams(frames=args.frames, height=128, width=128, events=15,
                                          docked=25, visiting=10), seed=args.seed)
    movie = Movie(sim.movie, pixel_size_um=sim.params.pixel_size_um,
                  frame_interval_s=sim.params.frame_interval_s)
    print(f"simulated movie {sim.movie.shape} with {len(sim.truth)} exocytosis events")
    detector = Detector.load(args.model)
    with ProgressBar("detecting") as bar:
        detection = run_to_end(detector.detect(movie, DetectOptions(model=args.model)), bar)
    events = detection.events()
    out = Path(args.out or tempfile.mkdtemp(prefix="exodeep-demo-")) / "demo_events.csv"
    write_results_csv(out, events, movie.pixel_size_um, movie.frame_interval_s, overwrite=True)
    scores = evaluate_events(sim.truth, events)
    print(f"{len(events)} events detected → {out}")
    print(f"paper rule (≤4.5 px, −2…+5 frames): {scores.summary()}")
    return 0


