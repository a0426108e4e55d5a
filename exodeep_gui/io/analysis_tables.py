"""The analysis tables as CSV: ``events.csv`` (one row per event; Fiji's Results layout first:
blank header cell and row numbers, X, Y, Slice 1-based, then the measurements), ``movies.csv``
(one row per movie), ``conditions.csv`` (one row per condition) and ``comparisons.csv`` (one row
per test). Numbers keep 6 significant digits; an unknown value is an empty cell."""

from __future__ import annotations

import csv
import io
import math
from typing import Dict, Iterable, List, Sequence

import numpy as np

FIJI_COLUMNS = (" ", "X", "Y", "Slice")


def fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return "" if not math.isfinite(float(v)) else f"{float(v):.6g}"
    return str(v)


def table_text(rows: Sequence[Dict], first: Sequence[str] = ()) -> str:
    """CSV of dict rows: ``first`` columns, then every other key in order of first appearance."""
    keys: Dict[str, None] = dict.fromkeys(first)
    for r in rows:
        keys.update(dict.fromkeys(r))
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(list(keys))
    for r in rows:
        w.writerow([fmt(r.get(k)) for k in keys])
    return out.getvalue()


def event_rows(analyses: Iterable) -> List[Dict]:
    """One dict per event of every analysis (core.analysis.MovieAnalysis), in table order."""
    rows: List[Dict] = []
    for a in analyses:
        ev, units = a.events, a.units
        ids = ev.extra.get("id")
        for i in range(len(ev)):
            r = {" ": len(rows) + 1, "X": round(float(ev.x[i]), 3), "Y": round(float(ev.y[i]), 3),
                 "Slice": int(ev.frame[i]) + 1}
            r.update({k: v[i] for k, v in a.columns.items()})
            r["movie"] = a.name
            r["condition"] = a.condition
            if ids is not None:
                r["id"] = int(ids[i])
            r["score"], r["size"] = float(ev.score[i]), float(ev.size[i])        # NaN (blank): unknown
            for k, v in ev.extra.items():        # carried from the events table (origin, status…)
                if k != "id":
                    r.setdefault(k, v[i])
            if units.timed:
                r["time_s"] = float(ev.frame[i]) * units.frame_interval_s
            if units.scaled:
                r["x_um"], r["y_um"] = float(ev.x[i]) * units.pixel_size_um, float(ev.y[i]) * units.pixel_size_um
            rows.append(r)
    return rows


def events_csv_text(analyses) -> str:
    return table_text(event_rows(analyses), FIJI_COLUMNS)


def movies_csv_text(analyses) -> str:
    return table_text([a.summary for a in analyses], ("movie", "condition", "pair"))


def conditions_csv_text(rows: Sequence[Dict]) -> str:
    return table_text(rows, ("condition", "n_cells", "n_events"))


def comparisons_csv_text(rows: Sequence[Dict]) -> str:
    return table_text(rows, ("quantity", "condition_a", "condition_b", "test", "n_a", "n_b", "p", "p_holm",
                             "cohens_d", "median_a", "median_b"))
