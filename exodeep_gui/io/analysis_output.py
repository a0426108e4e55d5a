"""Write a whole analysis into one folder: ``events.csv``, ``movies.csv``, ``conditions.csv``,
``comparisons.csv``, ``figures/*.png|svg`` and ``report.html``. Nothing is replaced unless
``overwrite``; every target is checked before anything is written. A progress generator that
honours a cancel token (figures take most of the time)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Generator, List, Optional, Sequence

from exodeep_gui.core.analysis.pipeline import condition_quantities
from exodeep_gui.core.analysis.stats import compare_conditions, summarize
from exodeep_gui.core.progress import CancelToken, Progress, ProgressClock
from exodeep_gui.io import analysis_tables as tables
from exodeep_gui.io import figures, report
from exodeep_gui.io.atomic import OutputExists, check_writable_folder, write_text_atomic

TABLES = ("events.csv", "movies.csv", "conditions.csv", "comparisons.csv")
REPORT = "report.html"
FIGURES = "figures"


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "movie"


def existing_outputs(out_dir) -> List[Path]:
    out_dir = Path(out_dir)
    found = [out_dir / n for n in TABLES + (REPORT,) if (out_dir / n).exists()]
    fig_dir = out_dir / FIGURES
    if fig_dir.is_dir() and any(fig_dir.iterdir()):
        found.append(fig_dir)
    return found


def check_outputs(out_dir, overwrite: bool) -> None:
    """Refuse (OutputExists naming them) when outputs of an earlier analysis are there."""
    found = existing_outputs(out_dir)
    if found and not overwrite:
        names = ", ".join(p.name + ("/" if p.is_dir() else "") for p in found)
        raise OutputExists(f"{out_dir}: already holds {names} (not overwritten; use --overwrite or another --out)")
    check_writable_folder(Path(out_dir))


def conditions_tables(analyses) -> tuple:
    """(per-condition rows, comparison rows, quantities compared, notes)."""
    rows = [dict(a.summary, condition=a.summary.get("condition") or "all movies") for a in analyses]
    unit_sets = {(a.units.scaled, a.units.timed) for a in analyses}
    kinetics = all(a.has_pixels for a in analyses)
    notes = []
    if not kinetics:
        notes.append("some or all cells were analysed from their events tables alone (no movie): kinetics (ΔF/F0, "
                     "t½, size, spreading) are not measured; conditions are compared on the rate and the spatial "
                     "statistics")
    if len(unit_sets) <= 1:
        quantities = condition_quantities(analyses[0].units, kinetics) if analyses else []
    else:
        all_q = [q for a in analyses for q in condition_quantities(a.units, kinetics)]
        quantities = [q for q in dict.fromkeys(all_q) if all(q in r for r in rows)]
        skipped = [q for q in dict.fromkeys(all_q) if q not in quantities]
        notes.append("the movies differ in calibration (pixel size or frame interval): "
                     f"{', '.join(skipped)} not compared between conditions")
    return summarize(rows, quantities), compare_conditions(rows, quantities), quantities, notes


def quantity_label(q: str) -> str:
    """'rate_per_um2_per_min' → 'rate (events per µm² per min)', 't_half_median_s' → 't½ (median per cell, s)'."""
    def unit(u: str) -> str:
        return {"um": "µm", "um2": "µm²", "px2": "px²"}.get(u, u)

    if q.startswith("rate_per_"):
        area, per = q[len("rate_per_"):].split("_per_")
        return f"rate (events per {unit(area)} per {per})"
    if q == "clark_evans_R":
        return "Clark–Evans ratio (< 1 clustered, 1 random)"
    for base, label in (("dF_F0_median", "ΔF/F0"), ("t_half_median", "t½"), ("fwhm_median", "FWHM"),
                        ("nn_median", "nearest-neighbour distance")):
        if q == base:
            return f"{label} (median per cell)"
        if q.startswith(base + "_"):
            return f"{label} (median per cell, {unit(q[len(base) + 1:])})"
    return q


def write_analysis(out_dir, analyses: Sequence, options, notes: Sequence[str] = (), overwrite: bool = False,
                   cancel: Optional[CancelToken] = None, title: str = "ExoDeep analysis",
                   max_movie_figures: Optional[int] = None) -> Generator[Progress, None, dict]:
    """Write every output; returns {"tables": [...], "figures": [...], "report": path}. Each
    movie's figures are drawn for the first ``max_movie_figures`` movies (all when None; the
    tables hold every movie's numbers either way); condition plots only with two conditions or
    more."""
    out_dir = Path(out_dir)
    check_outputs(out_dir, overwrite)
    cond_rows, comparisons, quantities, cond_notes = conditions_tables(analyses)
    drawn = len(analyses) if max_movie_figures is None else max(0, min(max_movie_figures, len(analyses)))
    if drawn < len(analyses):
        cond_notes.append(f"figures of each movie drawn for the first {drawn} of {len(analyses)} movies (every movie's "
                          "numbers are in the tables)")
    all_notes = list(dict.fromkeys(list(notes) + cond_notes + [n for a in analyses for n in a.units.notes()]))
    written = {"tables": [], "figures": []}
    texts = {"events.csv": tables.events_csv_text(analyses), "movies.csv": tables.movies_csv_text(analyses),
             "conditions.csv": tables.conditions_csv_text(cond_rows),
             "comparisons.csv": tables.comparisons_csv_text(comparisons)}
    for name, text in texts.items():
        written["tables"].append(write_text_atomic(out_dir / name, text, overwrite))
    fig_dir = out_dir / FIGURES
    fig_dir.mkdir(exist_ok=True)
    n_conditions = len({r["condition"] for r in cond_rows})
    compared = quantities if n_conditions > 1 else []          # one condition: nothing to compare
    total = sum(len(figures.movie_figures(a)) for a in analyses[:drawn]) + len(compared) + 1
    clock = ProgressClock("report", total)
    done = 0
    movie_figs: List[list] = []
    stems = unique_stems([slug(a.name) for a in analyses])     # two movies may share a name
    for k, (a, stem) in enumerate(zip(analyses, stems)):
        mine = []
        for fname, make in (figures.movie_figures(a) if k < drawn else ()):
            if cancel is not None:
                cancel.raise_if_cancelled()
            paths, png = figures.save(make(a), fig_dir, f"{stem}_{fname}", overwrite)
            written["figures"] += paths
            mine.append((fname, png))
            done += 1
            yield clock.report(done, f"figure {fname} of {a.name}")
        movie_figs.append(mine)
    cond_figs = []
    summaries = [dict(a.summary, condition=a.summary.get("condition") or "all movies") for a in analyses]
    for q in compared:
        fig = figures.condition_plot(summaries, q, quantity_label(q), comparisons)
        paths, png = figures.save(fig, fig_dir, f"conditions_{slug(q)}", overwrite)
        written["figures"] += paths
        cond_figs.append((q, png))
        done += 1
        yield clock.report(done, f"condition figure {q}")
    html = report.render(analyses, cond_rows, comparisons, movie_figs, cond_figs, all_notes, options, title)
    written["report"] = report.write_report(out_dir / REPORT, html, overwrite)
    yield clock.report(total, "report written")
    return written


def unique_stems(stems: List[str]) -> List[str]:
    """``stems`` with a number added to every repeat (``cell``, ``cell_2``, …), order kept."""
    seen: dict = {}
    out = []
    for st in stems:
        seen[st] = seen.get(st, 0) + 1
        out.append(st if seen[st] == 1 else f"{st}_{seen[st]}")
    return out
