"""Which per-event number ranks true detections above false ones, with and without test-time
augmentation (TTA), and what TTA costs and gains.

For each held-out simulated movie (seeds ``--seeds``, ``SimulationParams`` of ``--frames``,
``--size``, ``--events``: by default the kind the bundled model was trained on, other seeds) and
each model, the network runs once on each of the 8 views (rotations and mirror images; ml.tta),
in the streaming engine; TTA 1 (the movie as it is: exactly the default detection), 4 and 8
combine them. Detections = events that pass the model's recommended filter (threshold, minimum
size), matched to the truth with the paper's rule (≤ 4.5 px, −2…+5 frames). Per event:

  score      peak class-2 probability (the score; with TTA the peak of the mean map)
  p_mean     mean class-2 probability over the event's voxels
  size       voxels
  views      share of TTA views that labelled any of its voxels exocytosis (TTA only)
  dF_F0      ΔF/F0 at the peak (core.analysis kinetics, disc 3 px)
  decay_r2   R² of the exponential fit of the decay (core.confidence.decay_r2 = core.analysis's)
  confidence the rule shipped (core.confidence.confidence: ½ R²₊ + ½ (1 − e^(−size/40)))
  + combinations (size term = 1 − e^(−size/40); r2 = R²₊; views = 1 without TTA)
(The margin of class 2 over class 1 is not measured: the engine keeps only the class-2 probability
and the label, 2 bytes a voxel.)

Prints, per model and TTA: counts of true/false detections, distinct values and AUC of each
number; the share of true detections by confidence and the detections kept at confidence ≥ 0.5;
precision/recall/F1 of the detections and of the union of views; the events the detections missed
that a candidate finds (what a reviewer gains by accepting candidates) against the other
candidates; and the time of a whole detection (Detector.detect, the median of --repeats
interleaved runs) with TTA 1, 4 and 8 on the first movie. Per-event rows go to ``--work``/events.csv.

  nice -n 10 python benchmarks/bench_confidence.py --work /tmp/conf \\
      [--models exodeep-sim-small exodeepfinder] [--seeds 200 201 202 203 204 205]
(the published model needs EXODEEP_MODEL_PATH pointing at a folder holding its weights, or the
network to fetch them once). The views' maps are cached in --work, so a second run only re-scores.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exodeep_gui.core import confidence as C  # noqa: E402
from exodeep_gui.core.detection import DetectOptions, SegmentationResult  # noqa: E402
from exodeep_gui.core.evaluate import evaluate_events, match_events  # noqa: E402
from exodeep_gui.core.movie import Movie  # noqa: E402
from exodeep_gui.core.progress import run_to_end  # noqa: E402
from exodeep_gui.core.simulate import SimulationParams, simulate_movie  # noqa: E402

FEATURES = ("score", "p_mean", "size", "views", "dF_F0", "decay_r2", "confidence", "p_mean*size",
            "views*p_mean*size", "(r2+size+views)/3")
BINS = (0.0, 0.5, 0.7, 1.0001)


def view_maps(detector, movie: Movie, cache: Path):
    """The 8 views' (labels, score) maps in the view's orientation, cached as one .npz."""
    from exodeep_gui.ml.device import resolve_precision
    from exodeep_gui.ml.predict import segment_movie
    from exodeep_gui.ml.tta import VIEWS_8, view_movie

    precision = resolve_precision("auto")                  # as Detector.detect by default
    cache = cache.with_name(f"{cache.stem}_{precision}.npz")
    if cache.exists():
        z = np.load(cache)
        return [SegmentationResult(z[f"l{v}"], z[f"s{v}"]) for v in range(8)]
    out = []
    for view in VIEWS_8:
        seg = run_to_end(segment_movie(detector.model, detector.info.spec, view_movie(movie, view),
                                       voxels_per_chunk=500_000, precision=precision))
        out.append(SegmentationResult(np.asarray(seg.labels).copy(), np.asarray(seg.score).copy()))
    np.savez_compressed(cache, **{f"l{v}": s.labels for v, s in enumerate(out)},
                        **{f"s{v}": s.score for v, s in enumerate(out)})
    return out


def tables(maps, shape):
    """{tta: (all events with candidate flags from TTA, union-of-views detections or None)}."""
    from exodeep_gui.ml.tta import VIEWS_8, TTAAccumulator, subset

    out = {1: C.events_with_stats(maps[0].labels, maps[0].score)}      # exactly Detector.detect's
    for n in (4, 8):
        acc = TTAAccumulator(shape, n)
        for i in subset(VIEWS_8, n):
            acc.add(maps[i], VIEWS_8[i])
        out[n] = acc.events()
    return out


def kinetics(movie: np.ndarray, events):
    """ΔF/F0 of each event, as core.analysis measures it (the cell found in the movie)."""
    from exodeep_gui.core.confidence import event_kinetics

    return run_to_end(event_kinetics(movie, events, "dF_F0"))


def feature_columns(ev, n_views, dff):
    """Every candidate scoring of the events ``ev`` (with_confidence's columns included)."""
    r2 = ev.extra["decay_r2"]
    f = {"score": ev.score, "p_mean": ev.extra["p_mean"], "size": ev.size,
         "views": ev.extra["views"] / n_views if "views" in ev.extra else np.full(len(ev), np.nan),
         "dF_F0": dff, "decay_r2": r2, "confidence": ev.extra["confidence"]}
    st = C.size_term(ev.size)
    v = f["views"] if n_views > 1 else np.ones(len(ev))
    r2p = np.clip(np.nan_to_num(r2, nan=0.0), 0, 1)
    f["p_mean*size"] = f["p_mean"] * st
    f["views*p_mean*size"] = v * f["p_mean"] * st
    f["(r2+size+views)/3"] = (r2p + st + v) / 3
    return f


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", required=True)
    ap.add_argument("--models", nargs="+", default=["exodeep-sim-small", "exodeepfinder"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[200, 201, 202, 203, 204, 205])
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--events", type=int, default=20)
    ap.add_argument("--no-timing", action="store_true", help="skip timing whole detections with TTA 1/4/8")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs of each TTA (the median is shown)")
    args = ap.parse_args(argv)
    from exodeep_gui.ml.detect import Detector
    from exodeep_gui.ml.models import recommended_filter

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    params = SimulationParams(frames=args.frames, height=args.size, width=args.size, events=args.events)
    rows, summary, timing = [], {}, {}
    for name in args.models:
        det = Detector.load(name)
        thr, min_size = recommended_filter(det.info.config)
        for seed in args.seeds:
            sim = simulate_movie(params, seed=seed)
            movie = Movie(sim.movie)
            maps = view_maps(det, movie, work / f"{name}_{seed}_{args.frames}x{args.size}.npz")
            for n, table in tables(maps, movie.shape).items():
                table = run_to_end(C.with_confidence(movie, table, thr, min_size))
                detected = table.select(table.extra["candidate"] == 0)
                cand = table.select(table.extra["candidate"] == 1)
                key = (name, n)
                s = summary.setdefault(key, {"scores": None, "union": None, "cand_true": 0, "cand_false": 0,
                                             "thr": thr, "min_size": min_size, "cand_conf": [], "cand_is": []})
                sc = evaluate_events(sim.truth, detected)
                s["scores"] = sc if s["scores"] is None else s["scores"] + sc
                if n > 1:                                      # the union of the views, same filter
                    union = table.filtered(0.0, min_size)
                    su = evaluate_events(sim.truth, union)
                    s["union"] = su if s["union"] is None else s["union"] + su
                # candidates that find an event the detections missed
                ti, _ = match_events(sim.truth, detected)
                missed = sim.truth.select(np.setdiff1d(np.arange(len(sim.truth)), ti))
                _, ci = match_events(missed, cand)
                s["cand_true"] += len(ci)
                s["cand_false"] += len(cand) - len(ci)
                s["cand_conf"] += cand.extra["confidence"].tolist()
                s["cand_is"] += np.isin(np.arange(len(cand)), ci).tolist()
                _, pi = match_events(sim.truth, detected)
                true = np.zeros(len(detected), bool)
                true[pi] = True
                feats = feature_columns(detected, n, kinetics(sim.movie, detected))
                for i in range(len(detected)):
                    rows.append({"model": name, "seed": seed, "tta": n, "true": int(true[i]),
                                 **{k: float(v[i]) for k, v in feats.items()}})
            print(f"{name} seed {seed}: done", file=sys.stderr, flush=True)
        if not args.no_timing:               # interleaved repeats, the median of each (a shared CPU drifts)
            movie = Movie(simulate_movie(params, seed=args.seeds[0]).movie)
            run_to_end(det.detect(movie, DetectOptions(model=name)))            # warm-up
            laps = {n: [] for n in (1, 4, 8)}
            for _ in range(args.repeats):
                for n in laps:
                    t0 = time.perf_counter()
                    run_to_end(det.detect(movie, DetectOptions(model=name, tta=n)))
                    laps[n].append(time.perf_counter() - t0)
            timing.update({(name, n): float(np.median(v)) for n, v in laps.items()})
    with open(work / "events.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    report(rows, summary, timing, args)
    return 0


def report(rows, summary, timing, args) -> None:
    print(f"\nheld-out simulated movies: seeds {args.seeds}, {args.frames} frames × {args.size}² px, "
          f"{args.events} events each; detections at each model's recommended filter; paper's matching")
    print("\nAUC of true vs false detections (distinct values in brackets)")
    head = f"{'model':18s} {'TTA':>3s} {'true':>5s} {'false':>5s} " + " ".join(f"{k:>17s}" for k in FEATURES)
    print(head)
    for (name, n) in summary:
        sel = [r for r in rows if r["model"] == name and r["tta"] == n]
        t = np.array([r["true"] for r in sel], bool)
        cells = []
        for k in FEATURES:
            v = np.array([r[k] for r in sel], float)
            if not np.isfinite(v).any():
                cells.append(f"{'—':>17s}")
                continue
            cells.append(f"{C.auc(v, t):8.3f} [{len(np.unique(v[np.isfinite(v)])):5d}]  ")
        print(f"{name:18s} {n:3d} {int(t.sum()):5d} {int((~t).sum()):5d} " + " ".join(cells))
    print("\nshare of true detections by confidence: " + "   ".join(f"[{a:.1f}, {min(b, 1):.1f}]" for a, b in
                                                                   zip(BINS[:-1], BINS[1:])))
    for (name, n) in summary:
        sel = [r for r in rows if r["model"] == name and r["tta"] == n]
        c = np.array([r["confidence"] for r in sel])
        t = np.array([r["true"] for r in sel], bool)
        cells = [f"{int(t[(c >= a) & (c < b)].sum()):4d}/{int(((c >= a) & (c < b)).sum()):<4d}"
                 for a, b in zip(BINS[:-1], BINS[1:])]
        sc = summary[(name, n)]["scores"]
        tp, fp = int((t & (c >= 0.5)).sum()), int((~t & (c >= 0.5)).sum())
        fn = sc.tp + sc.fn - tp
        print(f"{name:18s} TTA {n}:  " + "   ".join(cells) + f"   → kept at confidence ≥ 0.5: P {tp / max(tp + fp, 1):.3f} "
              f"R {tp / max(tp + fn, 1):.3f} F1 {2 * tp / max(2 * tp + fp + fn, 1):.3f} (was {sc.f1:.3f})")
    print("\ndetections (recommended filter), the union of the views (any view, same minimum size), and the"
          "\ncandidates: events the detections missed that a candidate finds (true) and the other candidates (false)")
    for (name, n), s in summary.items():
        sc, su = s["scores"], s["union"]
        c5, ok = np.array(s["cand_conf"]) >= 0.5, np.array(s["cand_is"], bool)
        print(f"{name:18s} TTA {n}: filter score ≥ {s['thr']:.2f}, size ≥ {s['min_size']}: P {sc.precision:.3f} "
              f"R {sc.recall:.3f} F1 {sc.f1:.3f} (TP {sc.tp} FP {sc.fp} FN {sc.fn})"
              + (f"; union P {su.precision:.3f} R {su.recall:.3f} F1 {su.f1:.3f}" if su else "")
              + f"; candidates: {s['cand_true']} true, {s['cand_false']} false"
              + f" (AUC of their confidence {C.auc(s['cand_conf'], s['cand_is']):.3f}; with confidence ≥ 0.5: "
                f"{int((c5 & ok).sum())} true, {int((c5 & ~ok).sum())} false)")
    if timing:
        print("\nwhole detection (Detector.detect, first movie), seconds and × TTA 1:")
        for (name, n), t in timing.items():
            print(f"{name:18s} TTA {n}: {t:7.1f} s  ×{t / timing[(name, 1)]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
