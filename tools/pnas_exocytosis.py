"""Bring the published events of Lachuer et al., PNAS 2023 ("Spatial organization of lysosomal
exocytosis relies on membrane tension gradients"; repository
GoudTeam/PNAS---Spatial-organization-of-lysosomal-exocytosis-relies-on-membrane-tension-gradients,
folder "Dataset Exo") into the layout of ``exodeep analyze --events``, and compare what ExoDeep
measures on it with what the study reported. Not part of the application: a check on real data.

  python tools/pnas_exocytosis.py convert "Dataset Exo" build/pnas/converted
  exodeep analyze --events build/pnas/converted/Ctrl --conditions build/pnas/converted/Ctrl/conditions.csv \\
      --out build/pnas/out/Ctrl --movie-figures 12
  python tools/pnas_exocytosis.py compare build/pnas/converted build/pnas/out

The study's R data (read with the ``rdata`` package, ``pip install rdata==1.1.0``): per set, a list of
(x, y, t) matrices (px, 1 px = 0.160 µm; t the frame, 1-based), a list of cell masks (matrices,
row = y, as the events' y: checked below), the acquisition time of each movie (s) and, for the
control cells, the number of frames (1001 or 601; the drug sets: 1001) and the rate the study
reported (events per s per µm²). A drug set's ``Condition`` vector says, cell by cell, before
("Ctrl") or after the drug; the k-th "Ctrl" cell is the k-th treated cell before treatment.

``convert`` writes, per set, ``<set>/<cell>_events.csv`` (ImageJ layout: X, Y, Slice),
``<set>/<cell>_mask.tif`` (uint8, row = y) and ``<set>/conditions.csv`` (movie, condition, pair,
frames, frame_interval_s = acquisition time / (frames − 1), as the study's code converts frames to
seconds, pixel_size_um). A mask that holds fewer than half of its cell's events is not written
(the published masks of a few cells are empty or misplaced): ``exodeep analyze`` then names that
cell as lacking its mask. ``compare`` prints how close the per-cell control rates are to the
reported ones and each drug's paired effect (Wilcoxon p, paired Cohen's d) from ExoDeep's tables."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

PIXEL_SIZE_UM = 0.160
MIN_MASK_SHARE = 0.5
# set name in the repository → (name here, condition before, condition after); None: unpaired
PAIRED = {"Bafilomycin": "Bafilomycin", "Blebbistatin": "Blebbistatin", "Cyclodextrin": "Cyclodextrin",
          "Cytochalasin D": "CytochalasinD", "Golgicide": "Golgicide", "Histamine": "Histamine",
          "Hypo-osmotic shock": "HypoOsmotic", "Nocodazole": "Nocodazole"}
# PF-573228: its two conditions are named "PF-573228" and "FAKi" (the same drug): which cells are
# before the treatment is not said, so it is left out.


def _first(path: Path):
    import rdata

    data = rdata.read_rda(str(path))
    return next(iter(data.values()))


def _events(m) -> np.ndarray:
    a = np.asarray(m, dtype=float)
    return a.reshape(-1, 3) if a.size else np.zeros((0, 3))


def _write_cell(folder: Path, name: str, events: np.ndarray, mask: np.ndarray) -> str:
    """The events table and, when it holds at least half of the events, the mask; returns a note
    ("" when both were written)."""
    import tifffile

    with open(folder / f"{name}_events.csv", "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow([" ", "X", "Y", "Slice"])
        for k, (x, y, t) in enumerate(events, start=1):
            w.writerow([k, f"{x:g}", f"{y:g}", int(round(t))])
    inside = np.asarray(mask) > 0
    if len(events):
        H, W = inside.shape
        xi = np.clip(np.rint(events[:, 0]).astype(int), 0, W - 1)
        yi = np.clip(np.rint(events[:, 1]).astype(int), 0, H - 1)
        share = float(inside[yi, xi].mean())
        if share < MIN_MASK_SHARE:
            return (f"{name}: mask not written: it holds {share:.0%} of the cell's {len(events)} events "
                    f"({int(inside.sum())} px)")
    tifffile.imwrite(folder / f"{name}_mask.tif", inside.astype(np.uint8) * 255)
    return ""


def _conditions(folder: Path, rows) -> None:
    with open(folder / "conditions.csv", "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["movie", "condition", "pair", "frames", "frame_interval_s", "pixel_size_um"])
        w.writerows(rows)


def convert_set(dataset: Path, prefix: str, out: Path, name: str, conditions=None, frames=None,
                first_s=None) -> list:
    """One set of the study: ``<prefix> - Exocytosis coordinates.RData`` etc. → ``out/name``; with
    ``first_s``, only the first ``first_s`` seconds of each movie (its events and its frames)."""
    ex = _first(dataset / f"{prefix} - Exocytosis coordinates.RData")
    masks = _first(dataset / f"{prefix} - Cell masks.RData")
    timer = np.asarray(_first(dataset / f"{prefix} - Acquisition time.RData"), float)
    notes = []
    if timer.max() < 30:                                  # PF-573228: minutes, not seconds
        timer = timer * 60.0
        notes.append(f"{prefix}: acquisition times below 30, read as minutes")
    if conditions is None:
        cond_file = dataset / f"{prefix} - Condition.RData"
        conditions = [str(c) for c in _first(cond_file)] if cond_file.exists() else [name] * len(ex)
    if frames is None:
        frames = np.full(len(ex), 1001)
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    seen, rows = {}, []
    for i, (e, m, t_s, cond, nf) in enumerate(zip(ex, masks, timer, conditions, frames)):
        cell = f"{name}_{i + 1:03d}"
        e = _events(e)
        dt = t_s / (int(nf) - 1)
        if first_s is not None:
            nf = int(first_s // dt) + 1
            e = e[e[:, 2] <= nf]
        note = _write_cell(folder, cell, e, np.asarray(m))
        if note:
            notes.append(note)
        seen[cond] = seen.get(cond, 0) + 1
        pair = f"p{seen[cond]:02d}" if len(set(conditions)) == 2 else ""
        label = "before" if cond == "Ctrl" and pair else ("after" if pair else cond)
        rows.append([cell, label, pair, int(nf), f"{dt:.6g}", PIXEL_SIZE_UM])
    if len(set(conditions)) == 2:                         # before first: d > 0 means the drug raised it
        rows.sort(key=lambda r: r[1] != "before")
    _conditions(folder, rows)
    return notes


def convert(dataset: Path, out: Path) -> int:
    notes = []
    frames = np.asarray(_first(dataset / "Ctrl - Number of frames.RData"), int)
    notes += convert_set(dataset, "Ctrl", out, "Ctrl", frames=frames)
    rate = np.asarray(_first(dataset / "Ctrl - Exocytosis rate.RData"), float)
    with open(out / "Ctrl" / "reported_rates.csv", "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["movie", "rate_per_um2_per_s"])
        w.writerows([f"Ctrl_{i + 1:03d}", f"{r:.8g}"] for i, r in enumerate(rate))
    for prefix, name in PAIRED.items():
        notes += convert_set(dataset, prefix, out, name)
    # histamine acts at once and briefly: the study's later analysis (Lachuer et al. 2025, PLoS Comput
    # Biol, Methods) kept only the first 60 s after its addition; the same window before it
    notes += convert_set(dataset, "Histamine", out, "Histamine60s", first_s=60.0)
    notes += convert_set(dataset, "PLL", out, "PLL")
    for n in notes:
        print(f"note: {n}")
    print(f"converted {len(PAIRED) + 3} sets into {out}")
    return 0


# ---------------------------------------------------------------- compare
def _rows(path: Path) -> list:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def compare(converted: Path, analyses: Path) -> int:
    from scipy.stats import pearsonr, spearmanr

    reported = {r["movie"]: float(r["rate_per_um2_per_s"]) for r in _rows(converted / "Ctrl" / "reported_rates.csv")}
    movies = _rows(analyses / "Ctrl" / "movies.csv")
    ours = {m["movie"]: float(m["rate_per_um2_per_min"]) / 60.0 for m in movies if m["rate_per_um2_per_min"]}
    common = [k for k in reported if k in ours]
    a, b = np.array([ours[k] for k in common]), np.array([reported[k] for k in common])
    rel = np.abs(a - b) / b
    print(f"control cells: {len(common)} of {len(reported)} analysed (the others lack a usable mask)")
    print(f"  rate (events per µm² per s): ExoDeep median {np.median(a):.3g}, mean {a.mean():.3g}; reported median "
          f"{np.median(b):.3g}, mean {b.mean():.3g}")
    print(f"  per cell: median |relative difference| {np.median(rel):.3f} (IQR {np.percentile(rel, 25):.3f}–"
          f"{np.percentile(rel, 75):.3f}), within 10 %: {np.mean(rel <= 0.10):.0%}; Pearson r "
          f"{pearsonr(a, b)[0]:.3f}, Spearman {spearmanr(a, b)[0]:.3f}; median ratio {np.median(a / b):.3f}")
    for name in list(PAIRED.values()) + ["Histamine60s", "PLL"]:
        path = analyses / name / "comparisons.csv"
        if not path.exists():
            continue
        for c in _rows(path):
            if c["quantity"].startswith("rate_per") or c["quantity"] == "clark_evans_R":
                print(f"{name:14s} {c['quantity']:22s} {c['condition_a']} → {c['condition_b']}: {c['test']}, "
                      f"n {c['n_a']}/{c['n_b']}, medians {float(c['median_a']):.4g} → {float(c['median_b']):.4g}, "
                      f"p {float(c['p']):.2g}, d {float(c['cohens_d']):+.2f}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert", help="R data → events tables, masks and conditions tables")
    c.add_argument("dataset", type=Path, help='the repository\'s "Dataset Exo" folder')
    c.add_argument("out", type=Path)
    k = sub.add_parser("compare", help="ExoDeep's tables against the study's rates; the drugs' paired effects")
    k.add_argument("converted", type=Path)
    k.add_argument("analyses", type=Path, help="folder holding one exodeep analyze output folder per set")
    args = ap.parse_args(argv)
    try:
        import rdata  # noqa: F401
    except ImportError:
        if args.cmd == "convert":
            print("error: the R data reader is missing: pip install rdata==1.1.0", file=sys.stderr)
            return 1
    return convert(args.dataset, args.out) if args.cmd == "convert" else compare(args.converted, args.analyses)


if __name__ == "__main__":
    sys.exit(main())
