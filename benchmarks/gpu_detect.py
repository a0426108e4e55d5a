"""Detection of a 1000 × 300 × 300 movie on a GPU with the PyTorch backend: where the time goes,
in float32, bfloat16 and float16. Self-contained; run once on a lent GPU machine.

    KERAS_BACKEND=torch PYTHONPATH=. python benchmarks/gpu_detect.py --weights W.h5 --out "$OUT"
    KERAS_BACKEND=torch PYTHONPATH=. python benchmarks/gpu_detect.py --weights W.h5 --out /tmp/o --small

1. Simulates the movie (core.simulate, fixed seed; its sha256 is printed so that the CPU reference,
   benchmarks/cpu_reference_events.py, can check it detects in the same movie), writes it as an
   ImageJ TIFF and opens it as users do (io.movie_io.open_movie: memory-mapped).
2. Detects in it with the streaming engine in each precision, chunks sized for the GPU's free memory
   (ml.device.voxels_per_chunk_for), float32 without TF32 (torch.backends.cudnn.allow_tf32 and
   torch.backends.cuda.matmul.allow_tf32 off), with torch.backends.cudnn.benchmark off, then on.
   Per precision and setting: a first (cold) run, a run timed stage by stage (reading, normalisation,
   network, transfer back, grouping into events; the device synchronised before each clock reading,
   which stops the overlap of reading and compute) and an end-to-end run as `exodeep detect` does it
   (no synchronisation: the next chunk is read while the GPU computes).
3. Then, while the time budget lasts (--budget-s): float32 with TF32, the fastest 16-bit precision with
   the engine's tensors channels-first, and with chunks 4 × smaller.
4. Prints a table, writes into --out: events_<precision>.csv (the cudnn.benchmark-off runs; ImageJ
   Results, io.results.write_results_csv), timings.json (every run, the movie's sha256, the GPU,
   versions, peak GPU memory per run) and summary.txt (the table).

Needs: torch with CUDA, keras 3, numpy, scipy, tifffile, h5py (no TensorFlow). psutil, if absent, is
replaced by a stand-in reading /proc/meminfo (io.movie_io asks it for the free memory only).
Runs here too, on a CPU, with --small (float16 then runs in PyTorch's CPU kernels, slowly).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
import types
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED = 2025
MOVIE = dict(frames=1000, height=300, width=300, events=120, docked=80, visiting=60)
SMALL = dict(frames=60, height=96, width=96, events=8, docked=8, visiting=4)
PRECISIONS = ("float32", "bfloat16", "float16")
STAGES = ("read", "normalize", "network", "transfer", "grouping")


def _psutil_standin() -> None:
    """io.movie_io imports psutil for virtual_memory().available; the GPU machine may lack it."""
    try:
        import psutil  # noqa: F401
    except ImportError:
        mod = types.ModuleType("psutil")

        def virtual_memory():
            kb = 0
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemAvailable:"):
                    kb = int(line.split()[1])
            return types.SimpleNamespace(available=kb * 1024)

        mod.virtual_memory = virtual_memory
        sys.modules["psutil"] = mod


def make_movie(small: bool, work: Path):
    """Simulate the benchmark movie (fixed seed), write it as an ImageJ TIFF in ``work``;
    returns (path, sha256 of the uint16 C-order bytes, truth EventTable, seconds to simulate)."""
    from exodeep_gui.core.simulate import SimulationParams, simulate_movie
    from exodeep_gui.io.movie_io import write_imagej_tiff

    params = SMALL if small else MOVIE
    t0 = time.perf_counter()
    sim = simulate_movie(SimulationParams(**params), seed=SEED)
    dt = time.perf_counter() - t0
    data = sim.movie.astype("<u2", copy=False)
    sha = hashlib.sha256(data.tobytes()).hexdigest()
    work.mkdir(parents=True, exist_ok=True)
    path = work / ("gpu_bench_small.tif" if small else "gpu_bench_1000x300x300.tif")
    write_imagej_tiff(path, sim.movie, 0.16, 0.3, overwrite=True)
    return path, sha, sim.truth, dt


def run_detection(det, movie, precision: str, *, timed: bool, chunk=None, data_format=None) -> dict:
    """One detection as Detector.detect does it (streaming engine, then events); ``timed``: stage by
    stage with the device synchronised. Returns seconds per stage, the total and the results."""
    from exodeep_gui.core.detection import Detection, DetectOptions
    from exodeep_gui.core.postprocess import events_from_segmentation
    from exodeep_gui.core.progress import run_to_end
    from exodeep_gui.ml.device import synchronize
    from exodeep_gui.ml.models import recommended_filter
    from exodeep_gui.ml.predict import segment_movie

    stats = {} if timed else None
    synchronize()
    t0 = time.perf_counter()
    seg = run_to_end(segment_movie(det.model, det.info.spec, movie, precision=precision, voxels_per_chunk=chunk,
                                   data_format=data_format, stats=stats))
    t1 = time.perf_counter()
    cands = events_from_segmentation(seg.labels, seg.score)
    t2 = time.perf_counter()
    threshold, min_size = recommended_filter(det.info.config)
    detection = Detection(movie.name, seg, cands, DetectOptions(threshold=threshold, min_size=min_size,
                                                                precision=precision), det.name)
    out = {"total_s": t2 - t0, "segment_s": t1 - t0, "grouping": t2 - t1, "detection": detection}
    if stats is not None:
        out.update({k: v for k, v in stats.items()})
    return out


def compare(a, b) -> dict:
    """Events of b against a (a as the truth, paper rule) and whether they are identical."""
    import numpy as np

    from exodeep_gui.core.evaluate import evaluate_events

    ea, eb = a.events(), b.events()
    s = evaluate_events(ea, eb)
    same = len(ea) == len(eb) and all(np.allclose(getattr(ea, k), getattr(eb, k), atol=1e-6)
                                      for k in ("x", "y", "frame", "size"))
    la, lb = a.segmentation.labels, b.segmentation.labels
    return {"identical": bool(same), "f1": s.f1, "tp": s.tp, "fp": s.fp, "fn": s.fn,
            "voxel_labels_equal": float((la == lb).mean()),
            "score_max_diff": int(np.abs(a.segmentation.score.astype(np.int16) - b.segmentation.score).max())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, required=True, help="exodeepfinder_net_weights_FINAL.h5")
    ap.add_argument("--out", type=Path, required=True, help="folder for the CSVs and timings.json")
    ap.add_argument("--work", type=Path, default=None, help="folder for the movie (default: --out/../work or /tmp)")
    ap.add_argument("--small", action="store_true", help=f"a {SMALL['frames']} × {SMALL['height']} × "
                    f"{SMALL['width']} movie (checks the script on a CPU)")
    ap.add_argument("--precisions", default=None,
                    help=f"default {','.join(PRECISIONS)} on a GPU, float32,bfloat16 on a CPU (float16 is 60× "
                         "slower than float32 in PyTorch's CPU kernels)")
    ap.add_argument("--budget-s", type=float, default=180.0,
                    help="start no optional group of runs (cudnn.benchmark on, TF32, channels-first, small "
                         "chunks) after this many seconds")
    args = ap.parse_args()
    t_start = time.perf_counter()
    _psutil_standin()
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.work or Path(os.environ.get("TMPDIR", "/tmp")) / "exodeep-gpu-bench"

    import keras
    import torch

    from exodeep_gui.io.movie_io import open_movie
    from exodeep_gui.io.results import write_results_csv
    from exodeep_gui.ml.detect import Detector
    from exodeep_gui.ml.device import (activation_bytes_per_voxel, describe_device, network_flops_per_voxel,
                                       voxels_per_chunk_for)

    if keras.backend.backend() != "torch":
        print(f"KERAS_BACKEND is {keras.backend.backend()!r}; this script measures the PyTorch backend")
        return 2
    cuda = torch.cuda.is_available()
    torch.backends.cudnn.allow_tf32 = False                 # float32 is float32
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = False
    gpu = torch.cuda.get_device_name(0) if cuda else None
    print(f"{describe_device()}; torch {torch.__version__} (CUDA {torch.version.cuda}, cuDNN "
          f"{torch.backends.cudnn.version() if cuda else None}); {os.cpu_count()} CPUs; Python {platform.python_version()}",
          flush=True)

    path, sha, truth, t_sim = make_movie(args.small, work)
    movie = open_movie(path)
    T, H, W = movie.shape
    print(f"movie {T} × {H} × {W} uint16, seed {SEED}, sha256 {sha}; simulated in {t_sim:.1f} s; "
          f"{len(truth)} true events; {path} ({type(movie.data).__name__})", flush=True)

    det = Detector.load(str(args.weights))
    spec = det.info.spec
    flops = network_flops_per_voxel(spec)
    before, after = spec.time_reach
    net_voxels = (T + before + after) * (-(-H // 4) * 4) * (-(-W // 4) * 4)
    precisions = [p for p in (args.precisions or ",".join(PRECISIONS if cuda else PRECISIONS[:2])).split(",") if p]
    report = {"movie": {"shape": [T, H, W], "seed": SEED, "sha256": sha, "params": SMALL if args.small else MOVIE,
                        "simulate_s": t_sim},
              "gpu": gpu, "torch": torch.__version__, "cuda": torch.version.cuda, "keras": keras.__version__,
              "cpus": os.cpu_count(), "flops_per_voxel": flops, "network_voxels": net_voxels,
              "chunk_voxels": {p: voxels_per_chunk_for(spec, p) for p in precisions},
              "activation_bytes_per_voxel_estimate": {p: activation_bytes_per_voxel(spec, p) for p in precisions},
              "runs": []}
    print("chunks sized for the device: " + ", ".join(f"{p} {v} voxels ({v // (H * W)} frames)"
                                                       for p, v in report["chunk_voxels"].items()), flush=True)

    shrunk = {}                                   # precision → chunk that fitted after running out of memory

    def one(label, precision, timed, **kw):
        oom = 0
        given = "chunk" in kw
        if not given and precision in shrunk:
            kw["chunk"] = shrunk[precision]
        while True:
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            try:
                r = run_detection(det, movie, precision, timed=timed, **kw)
                break
            except (torch.OutOfMemoryError, RuntimeError) as exc:   # keep the only run going: smaller chunks
                if "out of memory" not in str(exc).lower() or oom == 3:
                    raise
                oom += 1
                kw["chunk"] = (kw.get("chunk") or voxels_per_chunk_for(spec, precision)) // 2
                if not given:
                    shrunk[precision] = kw["chunk"]
                print(f"  {label}: out of GPU memory ({str(exc).splitlines()[0][:120]}); again with "
                      f"{kw['chunk']} voxels per chunk", flush=True)
                torch.cuda.empty_cache()
        rec = {k: v for k, v in r.items() if k != "detection"}
        rec["oom_retries"] = oom
        rec.update(label=label, precision=precision, timed=timed, cudnn_benchmark=torch.backends.cudnn.benchmark,
                   tf32=torch.backends.cudnn.allow_tf32, events=len(r["detection"].events()),
                   data_format=kw.get("data_format") or "channels_last",
                   peak_gpu_bytes=int(torch.cuda.max_memory_allocated()) if cuda else None)
        if timed and rec.get("network"):
            rec["network_tflops"] = flops * net_voxels / rec["network"] / 1e12
        if rec["peak_gpu_bytes"] and timed:
            rec["peak_gpu_bytes_per_chunk_voxel"] = rec["peak_gpu_bytes"] / (rec["chunk_frames"] * H * W)
        report["runs"].append(rec)
        # written after every run, so that a run cut short by a time limit still reports
        (args.out / "timings.json").write_text(json.dumps(report, indent=1, default=float))
        stages = "  ".join(f"{k} {rec[k]:.2f}" for k in ("setup",) + STAGES if k in rec)
        print(f"  {label:44s} {r['total_s']:7.2f} s  events {rec['events']:4d}  {stages}", flush=True)
        return r

    def over_budget(what):
        if time.perf_counter() - t_start <= args.budget_s:
            return False
        print(f"  {what}: skipped (time budget of {args.budget_s:.0f} s spent)", flush=True)
        return True

    main_runs = {}
    for bench in (False, True):
        torch.backends.cudnn.benchmark = bench
        for p in precisions:
            tag = f"{p} cudnn.benchmark={'on' if bench else 'off'}"
            if bench and over_budget(tag):
                continue
            one(f"{tag} (cold)", p, False)
            timed = one(f"{tag} (stages)", p, True)
            e2e = one(f"{tag} (end to end)", p, False)
            main_runs[(p, bench)] = (timed, e2e)

    def fastest16():
        cands = [(main_runs.get((p, True), main_runs.get((p, False)))[0]["network"], p)
                 for p in precisions if p != "float32" and (p, False) in main_runs]
        return min(cands)[1] if cands else "float32"

    extras = [("float32 TF32", "float32", {}, True)]
    best16 = fastest16()
    extras += [(f"{best16} channels-first", best16, {"data_format": "channels_first"}, False),
               (f"{best16} chunks / 4", best16, {"chunk": max(H * W, voxels_per_chunk_for(spec, best16) // 4)}, False)]
    torch.backends.cudnn.benchmark = True
    for label, p, kw, tf32 in extras:
        if p not in precisions or over_budget(label):
            continue
        torch.backends.cudnn.allow_tf32 = tf32
        one(f"{label} (cold)", p, False, **kw)
        one(f"{label} (stages)", p, True, **kw)
        torch.backends.cudnn.allow_tf32 = False

    # events: the cudnn.benchmark-off runs, written as users get them, compared with float32
    ref = main_runs[(precisions[0], False)][1]["detection"]
    comparisons = {}
    for p in precisions:
        d = main_runs[(p, False)][1]["detection"]
        write_results_csv(args.out / f"events_{p}.csv", d.events(), 0.16, 0.3, overwrite=True)
        comparisons[p] = compare(ref, d)
        if (p, True) in main_runs:
            comparisons[p]["benchmark_on_identical"] = compare(d, main_runs[(p, True)][1]["detection"])["identical"]
    report["events_vs_" + precisions[0]] = comparisons

    lines = [f"GPU {gpu or 'none (CPU)'}; movie {T}×{H}×{W}, sha256 {sha[:16]}…; network {flops / 1e3:.1f} kFLOP/voxel "
             f"× {net_voxels / 1e6:.1f} Mvoxels",
             f"{'precision':9s} {'cudnn.bm':8s} {'read':>6s} {'norm':>6s} {'network':>8s} {'TFLOP/s':>8s} "
             f"{'transfer':>8s} {'grouping':>8s} {'stages':>7s} {'end-to-end':>10s} {'events':>6s} {'GPU GB':>6s}"]
    for (p, bench), (timed, e2e) in main_runs.items():
        rec = next(r for r in report["runs"] if r["precision"] == p and r["cudnn_benchmark"] == bench and r["timed"]
                   and r["label"].endswith("(stages)") and r["data_format"] == "channels_last" and not r["tf32"])
        gb = rec["peak_gpu_bytes"] / 1e9 if rec["peak_gpu_bytes"] else float("nan")
        lines.append(f"{p:9s} {'on' if bench else 'off':8s} {timed['read']:6.2f} {timed['normalize']:6.2f} "
                     f"{timed['network']:8.2f} {rec.get('network_tflops', 0):8.1f} {timed['transfer']:8.2f} "
                     f"{timed['grouping']:8.2f} {timed['total_s']:7.2f} {e2e['total_s']:10.2f} "
                     f"{len(e2e['detection'].events()):6d} {gb:6.1f}")
    for r in report["runs"]:
        if r["timed"] and (r["tf32"] or r["data_format"] != "channels_last" or r["label"].find("chunks /") >= 0):
            lines.append(f"{r['label']:30s} network {r['network']:.2f} s ({r.get('network_tflops', 0):.1f} TFLOP/s), "
                         f"{r['chunks']} chunks of {r['chunk_frames']} frames, stages {r['total_s']:.2f} s")
    for p, c in comparisons.items():
        lines.append(f"events {p} vs {precisions[0]}: {'identical' if c['identical'] else 'NOT identical'}, "
                     f"F1 {c['f1']:.4f} (TP {c['tp']}, FP {c['fp']}, FN {c['fn']}), voxel labels equal "
                     f"{c['voxel_labels_equal']:.6f}, score max diff {c['score_max_diff']}; cudnn.benchmark on: "
                     + {True: "identical", False: "NOT identical", None: "not run"}[c.get("benchmark_on_identical")])
    lines.append(f"total script time {time.perf_counter() - t_start:.0f} s")
    text = "\n".join(lines)
    print("\n" + text)
    (args.out / "summary.txt").write_text(text + "\n")
    (args.out / "timings.json").write_text(json.dumps(report, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
