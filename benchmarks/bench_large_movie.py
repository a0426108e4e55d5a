"""Detection of movies larger than memory: peak memory (RSS) against the movie's size.

Writes (once, into --workdir) an uncompressed 2000 × 512 × 512 uint16 TIFF (1 GB, memory-mapped when
opened) filled with simulated TIRF frames, and optionally a sparse 30 GB one (60 000 frames; made in
milliseconds: only its first frames hold pixels, the rest of the file is a hole), then detects in each
in a fresh child process with the bundled small model (or --model), sampling the child's memory every
0.1 s: peak VmRSS, and its parts RssAnon (the process' own memory: what must stay bounded) and RssFile
(pages of the memory-mapped movie and output maps, which the kernel drops when memory is short).
The goal is a peak RssAnon independent of the movie's size, within 1.5 GB.

  python benchmarks/bench_large_movie.py                       # the 1 GB movie, whole
  python benchmarks/bench_large_movie.py --big-gb 30 --big-limit-s 300
                                                               # + the 30 GB movie for 5 minutes
  python benchmarks/bench_large_movie.py --frames 400 --tta 1 4   # memory with test-time augmentation
The 30 GB movie would take hours on a CPU: --big-limit-s cancels its detection after that many seconds
(memory is measured while it streams; frames done are reported), 0 to run it whole.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------- movies
def write_movie(path: Path, frames: int, size: int, filled_frames: int, block: int = 100) -> Path:
    """An uncompressed TIFF of ``frames`` × size × size uint16 whose first ``filled_frames`` hold
    simulated frames (a 100-frame simulated block repeated), the rest a hole in a sparse file."""
    import numpy as np
    import tifffile

    from exodeep_gui.core.simulate import SimulationParams, simulate_movie

    if path.exists() and path.stat().st_size >= frames * size * size * 2:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.tif")
    tifffile.imwrite(tmp, shape=(frames, size, size), dtype="uint16", bigtiff=frames * size * size * 2 > 2**31,
                     metadata={"axes": "TYX"})
    sim = simulate_movie(SimulationParams(frames=block, height=size, width=size, events=30, docked=60,
                                          visiting=20), seed=3).movie.astype(np.uint16)
    mm = tifffile.memmap(tmp, mode="r+")
    for a in range(0, min(filled_frames, frames), block):
        n = min(block, filled_frames - a, frames - a)
        mm[a:a + n] = sim[:n]
        mm.flush()
    del mm
    tmp.replace(path)
    return path


# ---------------------------------------------------------------- the child: detect and measure
def _status() -> dict:
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM"):
                out[key] = int(rest.split()[0]) * 1024
    return out


def child(movie_path: str, model: str, limit_s: float, tta: int = 1) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from exodeep_gui.core.detection import DetectOptions
    from exodeep_gui.core.progress import CancelToken, Cancelled
    from exodeep_gui.io.movie_io import open_movie
    from exodeep_gui.ml.detect import Detector

    peaks = {"VmRSS": 0, "RssAnon": 0, "RssFile": 0}
    stage = {"now": "load", "anon": {}}                   # peak anonymous memory per progress stage
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            s = _status()
            for k in peaks:
                peaks[k] = max(peaks[k], s.get(k, 0))
            st = stage["now"]
            stage["anon"][st] = max(stage["anon"].get(st, 0), s.get("RssAnon", 0))
            time.sleep(0.1)

    threading.Thread(target=sample, daemon=True).start()
    t0 = time.perf_counter()
    detector = Detector.load(model)
    baseline = _status()                                   # TensorFlow and the model loaded
    t_load = time.perf_counter() - t0
    movie = open_movie(movie_path)
    after_open = _status()
    cancel = CancelToken()
    if limit_s > 0:
        threading.Timer(limit_s, cancel.cancel).start()
    done = {"frames": 0}

    def progress(p):
        stage["now"] = p.stage
        if p.stage == "detect":
            done["frames"] = int(round(p.done)) if p.total == movie.n_frames else int(p.fraction * movie.n_frames)
            if tta > 1:                                    # views: how many of the movie's frames, all views together
                done["frames"] = int(round(p.done / tta))

    t1 = time.perf_counter()
    events, finished = None, True
    try:
        gen = detector.detect(movie, DetectOptions(model=model, tta=tta), cancel=cancel)
        while True:
            try:
                progress(next(gen))
            except StopIteration as stop_it:
                stage["now"] = "filter"
                events = len(stop_it.value.events())
                break
    except Cancelled:
        finished = False
    dt = time.perf_counter() - t1
    stop.set()
    time.sleep(0.15)
    final = _status()
    print("RESULT " + json.dumps({
        "movie": movie_path, "shape": list(movie.shape), "movie_bytes": movie.nbytes,
        "memory_mapped": movie.is_memory_mapped, "finished": finished,
        "frames_done": movie.n_frames if finished else done["frames"], "seconds": round(dt, 1),
        "load_s": round(t_load, 1), "events": events, "tta": tta,
        "rss_after_model_MB": round(baseline["VmRSS"] / 2**20),
        "rss_after_open_MB": round(after_open["VmRSS"] / 2**20),
        "peak_rss_MB": round(max(peaks["VmRSS"], final["VmHWM"]) / 2**20),
        "peak_rss_anon_MB": round(peaks["RssAnon"] / 2**20),
        "peak_rss_file_MB": round(peaks["RssFile"] / 2**20),
        "peak_rss_anon_MB_by_stage": {k: round(v / 2**20) for k, v in stage["anon"].items()},
    }), flush=True)


def measure(movie: Path, model: str, limit_s: float, tta: int = 1) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    out = subprocess.run([sys.executable, __file__, "--child", str(movie), "--model", model,
                          "--limit-s", str(limit_s), "--tta", str(tta)], capture_output=True, text=True, env=env)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"detection of {movie} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def show(r: dict) -> None:
    t, h, w = r["shape"]
    what = "whole" if r["finished"] else f"{r['frames_done']} of {t} frames (stopped after the time limit)"
    rate = r["frames_done"] / r["seconds"] if r["seconds"] else 0.0
    print(f"{Path(r['movie']).name}: {t} × {h} × {w} uint16, {r['movie_bytes'] / 1e9:.1f} GB "
          f"({'memory-mapped' if r['memory_mapped'] else 'in memory'}); detected {what} in {r['seconds']} s "
          f"({rate:.1f} frames/s), {r['events']} events, test-time augmentation {r.get('tta', 1)} view(s)")
    print(f"  RSS: {r['rss_after_model_MB']} MB with TensorFlow and the model, {r['rss_after_open_MB']} MB with "
          f"the movie open; peak {r['peak_rss_MB']} MB = anonymous {r['peak_rss_anon_MB']} MB + file-backed "
          f"{r['peak_rss_file_MB']} MB (pages of memory-mapped files and libraries)")
    print("  peak anonymous memory by stage: " + ", ".join(f"{k} {v} MB" for k, v in
                                                        r.get("peak_rss_anon_MB_by_stage", {}).items()))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default=str(Path(os.environ.get("TMPDIR", "/tmp")) / "exodeep-bench-large"))
    ap.add_argument("--model", default="exodeep-sim-small")
    ap.add_argument("--frames", type=int, default=2000)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--limit-s", type=float, default=0, help="cancel the 1 GB movie's detection after this")
    ap.add_argument("--big-gb", type=float, default=0, help="also a sparse movie of this many GB (e.g. 30)")
    ap.add_argument("--big-limit-s", type=float, default=300)
    ap.add_argument("--tta", type=int, nargs="+", default=[1],
                    help="test-time augmentation views (1, 4, 8); several: the movie is detected once with each")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child, args.model, args.limit_s, args.tta[0])
        return 0
    work = Path(args.workdir)
    results = []
    t0 = time.perf_counter()
    movie = write_movie(work / f"movie_{args.frames}x{args.size}.tif", args.frames, args.size, args.frames)
    print(f"wrote {movie} ({movie.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - t0:.0f} s", flush=True)
    for tta in args.tta:
        results.append(measure(movie, args.model, args.limit_s, tta))
        show(results[-1])
    if args.big_gb:
        frames = int(args.big_gb * 1e9 // (args.size * args.size * 2))
        big = write_movie(work / f"sparse_{frames}x{args.size}.tif", frames, args.size, filled_frames=200)
        du = int(subprocess.run(["du", "-k", str(big)], capture_output=True, text=True).stdout.split()[0]) * 1024
        print(f"wrote {big} ({big.stat().st_size / 1e9:.1f} GB, {du / 1e6:.0f} MB on disk: sparse)", flush=True)
        results.append(measure(big, args.model, args.big_limit_s))
        show(results[-1])
    if args.big_gb and len(results) > 1:
        a, b = results[0], results[-1]
        print(f"movie {b['movie_bytes'] / a['movie_bytes']:.0f}× larger: peak anonymous memory "
              f"{a['peak_rss_anon_MB']} → {b['peak_rss_anon_MB']} MB")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
