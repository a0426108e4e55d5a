"""``report.html``: one self-contained page (figures embedded as PNG data, no external file or
script) that a biologist can send to a colleague. Rendered with jinja2 (autoescaped)."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

from exodeep_gui.io.analysis_tables import fmt
from exodeep_gui.io.atomic import write_text_atomic

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;margin:1.5em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:0.1em} h2{border-bottom:1px solid #ccc;padding-bottom:0.2em;margin-top:1.8em}
h3{margin-bottom:0.3em} .meta{color:#666;font-size:0.9em}
.note{background:#fff8e1;border-left:4px solid #ffb300;padding:0.5em 0.8em;margin:0.6em 0}
table{border-collapse:collapse;font-size:0.85em;margin:0.5em 0}
td,th{border:1px solid #ddd;padding:2px 6px;text-align:right} th{background:#f3f3f3}
td.t,th.t{text-align:left} img{max-width:100%;height:auto;margin:0.3em 0;border:1px solid #eee}
.fig{display:inline-block;vertical-align:top;margin-right:0.6em} .fig.half{max-width:49%}
details{margin:0.5em 0}
.scroll{overflow-x:auto}
</style></head><body>
<h1>{{ title }}</h1>
<p class="meta">{{ n_movies }} movie(s), {{ n_events }} events ({{ n_kept }} counted) · {{ created }} ·
ExoDeep {{ version }}</p>
{% for n in notes %}<div class="note">{{ n }}</div>{% endfor %}

<h2>Conditions</h2>
<div class="scroll"><table><tr>{% for h in cond_header %}<th class="{{ 't' if loop.first }}">{{ h }}</th>{% endfor %}</tr>
{% for r in cond_rows %}<tr>{% for v in r %}<td class="{{ 't' if loop.first }}">{{ v }}</td>{% endfor %}</tr>{% endfor %}
</table></div>
{% if comparisons %}<h3>Comparisons (the cell is the unit)</h3>
<div class="scroll"><table><tr>{% for h in cmp_header %}<th class="t">{{ h }}</th>{% endfor %}</tr>
{% for r in comparisons %}<tr>{% for v in r %}<td class="t">{{ v }}</td>{% endfor %}</tr>{% endfor %}
</table></div>{% endif %}
{% for f in condition_figures %}<div class="fig half"><img alt="{{ f.name }}" src="data:image/png;base64,{{ f.data }}"></div>{% endfor %}

<h2>Movies</h2>
<div class="scroll"><table><tr>{% for h in movie_header %}<th class="{{ 't' if loop.index <= 2 }}">{{ h }}</th>{% endfor %}</tr>
{% for r in movie_rows %}<tr>{% for v in r %}<td class="{{ 't' if loop.index <= 2 }}">{{ v }}</td>{% endfor %}</tr>{% endfor %}
</table></div>
{% for m in movies %}
<h3 id="{{ m.anchor }}">{{ m.name }}{% if m.condition %} <small>({{ m.condition }})</small>{% endif %}</h3>
{% for n in m.notes %}<div class="note">{{ n }}</div>{% endfor %}
{% for f in m.figures %}<div class="fig{{ ' half' if f.name in ('mean_trace', 'time') }}"><img alt="{{ f.name }}" src="data:image/png;base64,{{ f.data }}"></div>{% endfor %}
{% endfor %}

<h2>Methods</h2>
<details open><summary>How each number was measured</summary>
<ul>{% for line in methods %}<li>{{ line }}</li>{% endfor %}</ul></details>
<h2>Files</h2>
<p><code>events.csv</code> (one row per event; opens in Fiji: File › Import › Results),
<code>movies.csv</code>, <code>conditions.csv</code>, <code>comparisons.csv</code> and every figure as PNG and SVG
in <code>figures/</code>.</p>
</body></html>
"""


def methods_text(options) -> List[str]:
    o = options
    rules = ", ".join(f"{c} {op} {v:g}" for c, op, v in o.filters) or "none"
    return [
        f"Trace: mean intensity in a disc of radius {o.radius_px:g} px centred on the event, from {o.before} frames "
        f"before to {o.after} after its frame; local background: mean in an annulus {o.annulus_px[0]:g}–"
        f"{o.annulus_px[1]:g} px. ΔF(t) = (disc − annulus) minus its baseline mean.",
        f"F0: mean of the disc over the {o.baseline_frames} frames before the onset (skipping the "
        f"{o.baseline_gap} just before it) minus the extracellular level (median of the temporal mean at least "
        "5 px outside the cell: camera offset and light outside the cell). ΔF/F0 at the peak (the largest ΔF "
        f"within {o.peak_window[0]:+d}…{o.peak_window[1]:+d} frames of the event's frame).",
        f"Onset: first frame of the run above F0 + {o.onset_k:g}·σ (σ: baseline SD) ending at the peak. Rise time: "
        "10 → 90 % of the peak ΔF, linearly interpolated between frames.",
        f"Decay and spreading: each of the {o.spread_frames} frames from the peak, minus the event's baseline image "
        "(followed for the cell's bleaching), fitted with a 2D Gaussian A·exp(−r²/2σ²) on "
        f"{2 * o.spread_half_px + 1}×{2 * o.spread_half_px + 1} px (centre fitted on the first three frames). Spreading: "
        "σ² = σ0² + 2Dt fitted over the frames where the spot stands out (D, diffusion coefficient; 2D diffusion from a "
        "point source). Decay: the event's total fluorescence 2π·A·σ² (which spreading leaves unchanged) fitted with "
        "S0·e^(−t/τ), weighted by its noise; t½ = τ·ln 2, R² of that fit. A disc trace would mix the two: the puff "
        "spreads out of the disc. A fit that cannot be made leaves the values empty and says why in fit_note.",
        "Fusion mode: full when σ² grows significantly (D − 2·SE > 0 and by at least 30 % over the frames fitted); "
        "kiss-and-run when the spot keeps its width (no significant growth, under 30 %) while its fluorescence falls "
        "to half; blank when the frames do not allow either. Mean trace: the normalised disc traces averaged at their "
        "peaks, fitted over 16 frames (as the paper's lifetime).",
        f"Apparent size: a 2D Gaussian fitted to the peak frame minus the baseline image on "
        f"{2 * o.size_half_px + 1}×{2 * o.size_half_px + 1} px; FWHM = 2.355 σ.",
        "Cell mask: the movie's mask image or polygon when given, else automatic (temporal mean, Gaussian "
        f"smoothing σ = {o.mask_smooth_px:g} px, Otsu's threshold, largest component, holes filled). Rate = "
        "counted events / (area × duration).",
        f"Counted events: inside the cell mask and passing the filters ({rules}).",
        f"Ripley's L(r) − r with the translation edge correction, inside the mask; envelope: "
        f"{o.ripley_simulations} patterns of complete spatial randomness with the same number of events in the "
        "same mask; p: Diggle's maximum-absolute-deviation test. Density map: Gaussian kernel "
        f"({o.kde_bandwidth_um:g} µm, or {o.kde_bandwidth_px:g} px uncalibrated), corrected at the cell edge.",
        "Without the movie (events tables alone) only what needs no pixels is measured: counted events, area, rate, "
        "nearest neighbours, Ripley's L, events over time and the interval CV (SD/mean of the intervals between "
        "successive events: 1 for events at random times); conditions are then compared on the rate, the median "
        "nearest-neighbour distance and the Clark–Evans ratio.",
        "Conditions: one value per cell (movie): the rate and the medians of its counted events. Unpaired: "
        "Mann–Whitney U (two-sided), Cohen's d with the pooled SD; paired (cells matched by the pair column): "
        "Wilcoxon signed-rank and the paper's paired Cohen's d = mean(Δx)/SD(Δx), Δx = after − before. With more "
        "than two conditions p-values are Holm-adjusted. d > 0: the second condition is higher.",
    ]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


MOVIE_TABLE_KEYS = ("movie", "condition", "events", "events_kept")


def _movie_table(analyses) -> tuple:
    keys: Dict[str, None] = dict.fromkeys(MOVIE_TABLE_KEYS)
    for a in analyses:
        u = a.units
        measured = ["dF_F0_median", u.t("t_half_median"), u.l("fwhm_median"), "decay_r2_median"] if a.has_pixels \
            else [u.l("nn_median"), "clark_evans_R", "interval_cv"]
        keys.update(dict.fromkeys([u.area_col(), u.rate_col(), *measured, "ripley_verdict", "mask"]))
    header = list(keys)
    return header, [[fmt(_round(a.summary.get(k))) for k in header] for a in analyses]


def _round(v):
    if isinstance(v, (float, np.floating)) and np.isfinite(v):
        return float(f"{float(v):.4g}")
    return v


def render(analyses: Sequence, condition_rows: Sequence[Dict], comparisons: Sequence[Dict],
           movie_figures: Sequence[List[tuple]], condition_figures: List[tuple], notes: Sequence[str],
           options, title: str = "ExoDeep analysis") -> str:
    """The report's HTML. Figures are (name, PNG bytes); ``movie_figures[i]`` are those of ``analyses[i]``."""
    import jinja2

    from exodeep_gui import __version__

    cond_header = list(condition_rows[0]) if condition_rows else []
    from exodeep_gui.core.analysis.stats import comparison_label

    cmp_header = ["quantity", "condition a", "condition b", "test, n, p (Holm-adjusted when > 2 conditions), d"]
    cmp_rows = [[c["quantity"], c["condition_a"], c["condition_b"], comparison_label(c)] for c in comparisons]
    movie_header, movie_rows = _movie_table(analyses)
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(TEMPLATE).render(
        title=title, created=time.strftime("%Y-%m-%d %H:%M"), version=__version__,
        n_movies=len(analyses), n_events=sum(len(a) for a in analyses),
        n_kept=int(sum(a.kept.sum() for a in analyses)), notes=list(notes),
        cond_header=cond_header, cond_rows=[[fmt(_round(r.get(k))) for k in cond_header] for r in condition_rows],
        cmp_header=cmp_header, comparisons=cmp_rows,
        condition_figures=[{"name": n, "data": _b64(d)} for n, d in condition_figures],
        movie_header=movie_header, movie_rows=movie_rows,
        movies=[{"name": a.name, "anchor": f"movie-{i}", "condition": a.condition, "notes": a.notes,
                 "figures": [{"name": n, "data": _b64(d)} for n, d in movie_figures[i]]}
                for i, a in enumerate(analyses)],
        methods=methods_text(options))


def write_report(path, html: str, overwrite: bool = False) -> Path:
    return write_text_atomic(Path(path), html, overwrite)
