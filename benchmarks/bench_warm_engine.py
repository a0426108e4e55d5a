"""The warm engine: the same model segments a simulated movie several times in one process (as the
window's engine process does for each detection), on the backend of ``KERAS_BACKEND`` (default: the
app's choice); prints each run's seconds. On JAX the first run compiles each layer for its shapes and
the next ones reuse them (ml/streaming.py ``_JaxOps``).

  EXODEEP_MODEL_PATH=../shared/reference KERAS_BACKEND=jax python benchmarks/bench_warm_engine.py \\
      [--model exodeepfinder] [--frames 80] [--size 128] [--runs 3]
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="exodeepfinder")
    ap.add_argument("--frames", type=int, default=80)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from exodeep_gui.core.movie import Movie
    from exodeep_gui.core.progress import run_to_end
    from exodeep_gui.core.simulate import SimulationParams, simulate_movie
    from exodeep_gui.ml.device import describe_device
    from exodeep_gui.ml.models import load_keras_model, resolve_model
    from exodeep_gui.ml.predict import segment_movie

    info = resolve_model(args.model)
    model = load_keras_model(info)
    sim = simulate_movie(SimulationParams(frames=args.frames, height=args.size, width=args.size), seed=2)
    print(f"{args.model} on {describe_device()}; movie {args.frames} × {args.size} × {args.size}")
    for i in range(args.runs):
        t = time.perf_counter()
        seg = run_to_end(segment_movie(model, info.spec, Movie(sim.movie)))
        print(f"run {i + 1}: {time.perf_counter() - t:.2f} s, {(seg.labels == 2).sum()} event voxels", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
