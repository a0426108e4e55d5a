"""The analysis figures (matplotlib, object API on the Agg canvas: no pyplot, no global backend,
safe in a worker thread), each saved as PNG and SVG. matplotlib is imported only here, when a
figure is made."""

from __future__ import annotations

import io
from pathlib import Path
from typing import List, Tuple

import numpy as np

from exodeep_gui.io.atomic import atomic_path

DPI = 110


def new_figure(w: float = 6.4, h: float = 4.0):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def save(fig, folder, stem: str, overwrite: bool = False) -> Tuple[List[Path], bytes]:
    """Write ``stem``.png and ``stem``.svg into ``folder`` (atomically); returns (paths, PNG bytes)."""
    folder = Path(folder)
    data = png_bytes(fig)
    png, svg = folder / f"{stem}.png", folder / f"{stem}.svg"
    with atomic_path(png, overwrite, suffix=".part.png") as tmp:
        tmp.write_bytes(data)
    with atomic_path(svg, overwrite, suffix=".part.svg") as tmp:
        fig.savefig(tmp, format="svg")
    return [png, svg], data


def _finite(v) -> np.ndarray:
    v = np.asarray(v, float)
    return v[np.isfinite(v)]


def movie_map(a):
    """Events on the temporal mean, with the cell outline and the kernel density."""
    fig = new_figure(6.4, 5.2)
    ax = fig.add_subplot()
    img = a.mean_image
    if img is None:                       # no movie: the cell mask as the background
        ax.imshow(a.mask.astype(float), cmap="gray", vmin=-0.6, vmax=1.6, interpolation="nearest")
    else:
        lo, hi = np.percentile(img, [0.5, 99.8])
        ax.imshow(img, cmap="gray", vmin=lo, vmax=max(hi, lo + 1e-6), interpolation="nearest")
    if np.isfinite(a.density).any():
        im = ax.imshow(np.ma.masked_invalid(a.density), cmap="magma", alpha=0.45, interpolation="bilinear")
        u = a.units
        cb = fig.colorbar(im, ax=ax, shrink=0.8)
        cb.set_label(f"events per {u.length_label}² per {'min' if u.timed else 'frame'}")
    if a.mask.any():
        ax.contour(a.mask.astype(float), levels=[0.5], colors="#4dd0e1", linewidths=1.0)
    ev, kept = a.events, a.kept
    ax.scatter(ev.x[kept], ev.y[kept], s=28, facecolors="none", edgecolors="#ffeb3b", linewidths=1.0,
               label=f"counted ({int(kept.sum())})")
    if (~kept).any():
        ax.scatter(ev.x[~kept], ev.y[~kept], s=22, marker="x", color="#ff7043", linewidths=1.0,
                   label=f"not counted ({int((~kept).sum())}: outside the cell or filtered)")
    ax.legend(loc="lower right", fontsize=7, framealpha=0.7)
    on = "the mean image" if img is not None else "the cell mask (no movie)"
    src = a.mask_source if "mask" in a.mask_source else f"{a.mask_source} mask"
    ax.set_title(f"{a.name}: events on {on}\n({src})", fontsize=9)
    ax.set_xlabel("x (px)")
    ax.set_ylabel("y (px)")
    return fig


def time_course(a):
    u = a.units
    fig = new_figure(6.4, 3.0)
    ax = fig.add_subplot()
    e, c = a.time_edges, a.time_counts
    ax.bar(e[:-1], c, width=np.diff(e), align="edge", color="#5c6bc0", edgecolor="white")
    ax.set_xlabel(f"time ({u.time_unit})")
    ax.set_ylabel(f"events per {e[1] - e[0]:g} {u.time_unit}" if len(e) > 1 else "events")
    ax.set_title(f"{a.name}: events over time (n = {int(c.sum())} counted)", fontsize=9)
    return fig


def spatial_stats(a):
    """Ripley's L(r) − r with its CSR envelope, and the nearest-neighbour distances."""
    from exodeep_gui.core.analysis.stats import p_text

    u, rp = a.units, a.ripley
    fig = new_figure(8.0, 3.4)
    ax, bx = fig.subplots(1, 2)
    r = u.length(rp.r)
    if np.isfinite(rp.L_minus_r).any():
        ax.fill_between(r, u.length(rp.low), u.length(rp.high), color="#bbb", alpha=0.6,
                        label=f"CSR envelope ({rp.simulations} simulations)")
        ax.plot(r, u.length(rp.mean_csr), color="#777", lw=1, ls="--", label="CSR mean")
        ax.plot(r, u.length(rp.L_minus_r), color="#d81b60", lw=1.5, label="events")
        ax.legend(fontsize=7)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel(f"r ({u.length_label})")
    ax.set_ylabel(f"L(r) − r ({u.length_label})")
    ax.set_title(f"Ripley, n = {rp.n} events; MAD test {p_text(rp.p_value)}\n{rp.verdict}", fontsize=8)
    nn = _finite(u.length(a.nn_px))
    if len(nn):
        bx.hist(nn, bins=min(30, max(5, len(nn) // 3)), color="#26a69a", edgecolor="white")
    bx.set_xlabel(f"nearest-neighbour distance ({u.length_label})")
    bx.set_ylabel("events")
    bx.set_title(f"nearest neighbours, n = {len(nn)}", fontsize=8)
    return fig


def kinetics_histograms(a):
    u = a.units
    fig = new_figure(9.0, 3.0)
    cols = ["dF_F0", u.t("t_half"), u.l("fwhm")]
    labels = ["ΔF/F0 at the peak", f"t½ ({u.time_unit})", f"FWHM ({u.length_label})"]
    for ax, col, label in zip(fig.subplots(1, 3), cols, labels):
        v = _finite(a.columns[col][a.kept])
        if len(v):
            ax.hist(v, bins=min(30, max(5, len(v) // 3)), color="#8d6e63", edgecolor="white")
            ax.axvline(np.median(v), color="k", lw=1, ls="--")
        ax.set_xlabel(label)
        ax.set_title(f"n = {len(v)}" + (f", median {np.median(v):.3g}" if len(v) else ""), fontsize=8)
    fig.suptitle(f"{a.name}: per-event measurements (counted events)", fontsize=9)
    return fig


def mean_trace(a):
    """The mean normalised trace around the peak, with its exponential fit (the paper's lifetime)."""
    u, m = a.units, a.mean_trace
    fig = new_figure(5.0, 3.2)
    ax = fig.add_subplot()
    ax.plot(u.time(m["t"]), m["y"], "o-", ms=3, color="#1e88e5", label=f"mean of {m['n']} events")
    A, tau, B, r2 = m["fit"]
    if np.isfinite(tau):
        tt = np.linspace(0, m["t"][-1], 200)
        ax.plot(u.time(tt), A * np.exp(-tt / tau) + B, color="#e53935",
                label=f"A·e^(−t/τ)+B: t½ = {float(u.time(tau * np.log(2))):.3g} {u.time_unit}, R² = {r2:.2f}")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel(f"time from the peak ({u.time_unit})")
    ax.set_ylabel("ΔF / ΔF(peak)")
    ax.legend(fontsize=7)
    ax.set_title(f"{a.name}: mean trace", fontsize=9)
    return fig


def gallery(a, max_events: int = 16):
    """Crops of the first counted events from 3 frames before to 10 after their frame (one montage:
    a row per event, each row scaled to its own 1–99.5 percentiles)."""
    idx = np.nonzero(a.kept)[0][:max_events]
    fig = new_figure(7.5, 0.42 * max(len(idx), 1) + 0.9)
    ax = fig.add_subplot()
    if not len(idx) or not a.gallery.shape[1]:
        ax.text(0.5, 0.5, "no counted events", ha="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    n_f, s = a.gallery.shape[1], a.gallery.shape[2]
    mont = np.full((len(idx) * (s + 1), n_f * (s + 1)), np.nan, np.float32)
    for r, i in enumerate(idx):
        crops = a.gallery[i]
        lo, hi = np.nanpercentile(crops, [1, 99.5]) if np.isfinite(crops).any() else (0.0, 1.0)
        norm = (crops - lo) / max(hi - lo, 1e-6)
        for c in range(n_f):
            mont[r * (s + 1):r * (s + 1) + s, c * (s + 1):c * (s + 1) + s] = norm[c]
    ax.imshow(np.clip(mont, 0, 1), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    off = -a.options.gallery_before
    ax.set_xticks([c * (s + 1) + s / 2 for c in range(n_f)], [f"{off + c:+d}" for c in range(n_f)], fontsize=6)
    ax.set_yticks([r * (s + 1) + s / 2 for r in range(len(idx))], [f"#{int(a.ids()[i])}" for i in idx], fontsize=6)
    ax.set_xlabel("frames from the event's frame", fontsize=7)
    ax.set_title(f"{a.name}: {len(idx)} of {int(a.kept.sum())} counted events", fontsize=8)
    return fig


MOVIE_FIGURES = (("map", movie_map), ("kinetics", kinetics_histograms), ("mean_trace", mean_trace),
                 ("time", time_course), ("spatial", spatial_stats), ("gallery", gallery))
EVENTS_ONLY_FIGURES = (("map", movie_map), ("time", time_course), ("spatial", spatial_stats))


def movie_figures(a):
    """The figures of one movie: all of them, or without its pixels those that need none."""
    return MOVIE_FIGURES if a.has_pixels else EVENTS_ONLY_FIGURES


def condition_plot(rows, quantity: str, label: str, comparisons) -> object:
    """One per-cell quantity per condition: every cell a point (paired cells joined), a box, and
    the tests with their n under the plot."""
    from exodeep_gui.core.analysis.stats import comparison_label, condition_order

    conds = condition_order([r["condition"] for r in rows])
    mine = [c for c in comparisons if c["quantity"] == quantity]
    lines = [f"{c['condition_a']} vs {c['condition_b']}: {comparison_label(c)}" for c in mine]
    width = max(3.5, 1.4 * len(conds) + 1.5, 0.062 * max((len(t) for t in lines), default=0) + 0.6)
    fig = new_figure(width, 3.6 + 0.22 * len(mine))
    ax = fig.add_subplot()
    values = [np.asarray([r.get(quantity, np.nan) for r in rows if r["condition"] == c], float) for c in conds]
    ax.boxplot([_finite(v) for v in values], positions=range(len(conds)), widths=0.5, showfliers=False)
    rng = np.random.default_rng(0)
    pos = {}
    for k, (c, v) in enumerate(zip(conds, values)):
        xs = k + rng.uniform(-0.12, 0.12, len(v))
        ax.scatter(xs, v, s=16, color="#3949ab", zorder=3)
        for r, xv, yv in zip([r for r in rows if r["condition"] == c], xs, v):
            if r.get("pair"):
                pos.setdefault(r["pair"], []).append((xv, yv))
    for pts in pos.values():
        if len(pts) == 2:
            ax.plot([pts[0][0], pts[1][0]], [pts[0][1], pts[1][1]], color="#9fa8da", lw=0.8, zorder=2)
    ax.set_xticks(range(len(conds)), [f"{c}\n(n = {len(_finite(v))} cells)" for c, v in zip(conds, values)],
                  fontsize=8)
    ax.set_ylabel(label)
    text = "\n".join(lines)
    ax.set_title(label + ("" if text else "\n(one condition: no comparison)"), fontsize=9)
    if text:
        ax.set_xlabel(text, fontsize=7)
    return fig
