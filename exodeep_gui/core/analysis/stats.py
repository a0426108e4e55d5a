"""Comparing conditions, with the cell (movie) as the unit, as in the paper ("each cell was
considered as independent, setting the sample size"):

* unpaired: Mann–Whitney U (two-sided) and Cohen's d with the pooled standard deviation;
  with more than two conditions every pair is compared and the p-values are Holm-adjusted;
* paired (the same cells before and after, matched by a ``pair`` key): Wilcoxon signed-rank
  (two-sided) and the paper's paired Cohen's d = mean(Δx) / sd(Δx), Δx_i = x_after,i − x_before,i.

Signs: d > 0 when the second condition is higher."""

from __future__ import annotations

import itertools
import warnings
from typing import Dict, List, Optional, Sequence

import numpy as np

MANN_WHITNEY, WILCOXON = "Mann–Whitney U", "Wilcoxon signed-rank"


def _clean(a) -> np.ndarray:
    a = np.asarray(a, float)
    return a[np.isfinite(a)]


def cohens_d(a, b) -> float:
    """(mean(b) − mean(a)) / pooled SD (ddof 1)."""
    a, b = _clean(a), _clean(b)
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    pooled = np.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2))
    return float((b.mean() - a.mean()) / pooled) if pooled > 0 else float("nan")


def paired_cohens_d(before, after) -> float:
    """The paper's paired d: mean of the differences after − before over their SD (ddof 1)."""
    before, after = np.asarray(before, float), np.asarray(after, float)
    keep = np.isfinite(before) & np.isfinite(after)
    delta = after[keep] - before[keep]
    if len(delta) < 2:
        return float("nan")
    sd = delta.std(ddof=1)
    return float(delta.mean() / sd) if sd > 0 else float("nan")


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (NaN stays NaN)."""
    p = np.asarray(pvalues, float)
    out = np.full(len(p), np.nan)
    ok = np.nonzero(np.isfinite(p))[0]
    if not len(ok):
        return out
    order = ok[np.argsort(p[ok])]
    m = len(order)
    adj = np.maximum.accumulate([(m - k) * p[i] for k, i in enumerate(order)])
    out[order] = np.minimum(adj, 1.0)
    return out


def compare_unpaired(a, b) -> dict:
    from scipy.stats import mannwhitneyu

    a, b = _clean(a), _clean(b)
    p = float("nan")
    if len(a) >= 1 and len(b) >= 1 and len(a) + len(b) >= 3:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p = float(mannwhitneyu(a, b, alternative="two-sided").pvalue)
    return {"test": MANN_WHITNEY, "n_a": len(a), "n_b": len(b), "p": p, "cohens_d": cohens_d(a, b),
            "median_a": float(np.median(a)) if len(a) else np.nan,
            "median_b": float(np.median(b)) if len(b) else np.nan}


def compare_paired(before, after) -> dict:
    from scipy.stats import wilcoxon

    before, after = np.asarray(before, float), np.asarray(after, float)
    keep = np.isfinite(before) & np.isfinite(after)
    p = float("nan")
    delta = after[keep] - before[keep]
    if len(delta) >= 2 and np.any(delta != 0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p = float(wilcoxon(before[keep], after[keep]).pvalue)
    return {"test": WILCOXON, "n_a": int(keep.sum()), "n_b": int(keep.sum()), "p": p,
            "cohens_d": paired_cohens_d(before, after),
            "median_a": float(np.median(before[keep])) if keep.any() else np.nan,
            "median_b": float(np.median(after[keep])) if keep.any() else np.nan}


def condition_order(conditions: Sequence[str]) -> List[str]:
    """Conditions in order of first appearance."""
    return list(dict.fromkeys(conditions))


def summarize(rows: List[dict], quantities: Sequence[str], condition_key: str = "condition") -> List[dict]:
    """Per condition: n cells and mean, SD, median of each per-cell quantity."""
    out = []
    for cond in condition_order([r[condition_key] for r in rows]):
        mine = [r for r in rows if r[condition_key] == cond]
        row = {"condition": cond, "n_cells": len(mine), "n_events": int(sum(r.get("events_kept", 0) for r in mine))}
        for q in quantities:
            v = _clean([r.get(q, np.nan) for r in mine])
            row[f"{q}_mean"] = float(v.mean()) if len(v) else np.nan
            row[f"{q}_sd"] = float(v.std(ddof=1)) if len(v) > 1 else np.nan
            row[f"{q}_median"] = float(np.median(v)) if len(v) else np.nan
        out.append(row)
    return out


def compare_conditions(rows: List[dict], quantities: Sequence[str], pair_key: Optional[str] = "pair",
                       condition_key: str = "condition") -> List[dict]:
    """Every pair of conditions for every quantity: unpaired, and paired where movies carry a
    ``pair`` key present in both conditions (one row per comparison, Holm-adjusted per quantity)."""
    conds = condition_order([r[condition_key] for r in rows])
    out: List[dict] = []
    for q in quantities:
        mine: List[dict] = []
        for a, b in itertools.combinations(conds, 2):
            va = [r.get(q, np.nan) for r in rows if r[condition_key] == a]
            vb = [r.get(q, np.nan) for r in rows if r[condition_key] == b]
            mine.append({"quantity": q, "condition_a": a, "condition_b": b, **compare_unpaired(va, vb)})
            pairs = _pairs(rows, a, b, q, pair_key, condition_key)
            if pairs is not None:
                mine.append({"quantity": q, "condition_a": a, "condition_b": b, **compare_paired(*pairs)})
        for test in (MANN_WHITNEY, WILCOXON):
            sel = [m for m in mine if m["test"] == test]
            for m, adj in zip(sel, holm([m["p"] for m in sel])):
                m["p_holm"] = adj if len(sel) > 1 else m["p"]
        out.extend(mine)
    return out


def _pairs(rows, a, b, q, pair_key, condition_key):
    if not pair_key:
        return None
    ka: Dict[str, float] = {str(r[pair_key]): r.get(q, np.nan) for r in rows
                            if r[condition_key] == a and r.get(pair_key) not in (None, "")}
    kb: Dict[str, float] = {str(r[pair_key]): r.get(q, np.nan) for r in rows
                            if r[condition_key] == b and r.get(pair_key) not in (None, "")}
    common = [k for k in ka if k in kb]
    if not common:
        return None
    return np.array([ka[k] for k in common], float), np.array([kb[k] for k in common], float)


def p_text(p: float) -> str:
    if not np.isfinite(p):
        return "p = n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def comparison_label(c: dict) -> str:
    """One line naming the test, n and the result, for plots and tables."""
    n = f"n = {c['n_a']} pairs" if c["test"] == WILCOXON else f"n = {c['n_a']} vs {c['n_b']} cells"
    d = "n/a" if not np.isfinite(c["cohens_d"]) else f"{c['cohens_d']:+.2f}"
    kind = "paired d" if c["test"] == WILCOXON else "d"
    return f"{c['test']}, {n}, {p_text(c.get('p_holm', c['p']))}, {kind} = {d}"
