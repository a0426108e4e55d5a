"""One movie's analysis, from its events to per-event measurements and per-cell numbers, as a
progress generator that honours a cancel token (:func:`analyze_movie`; several movies:
:func:`analyze_movies`)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Dict, Generator, List, Optional, Sequence

import numpy as np

from exodeep_gui.core.analysis import cell, spatial
from exodeep_gui.core.analysis.filters import passes
from exodeep_gui.core.analysis.kinetics import Kinetics, fit_mean_decay, measure_kinetics, take
from exodeep_gui.core.analysis.options import LN2, AnalysisOptions, Units
from exodeep_gui.core.analysis.traces import sweep, traces_from_boxes
from exodeep_gui.core.events import EventTable
from exodeep_gui.core.progress import CancelToken, Progress, prefixed

MEAN_TRACE_T = np.arange(-5, 21)          # frames around the peak of the mean trace
MEAN_FIT_FRAMES = 16                      # the paper's decay window: 16 frames from the peak


@dataclass
class MovieAnalysis:
    name: str
    shape: tuple                          # (frames, height, width)
    units: Units
    events: EventTable
    columns: Dict[str, np.ndarray]        # per-event measurements, in order, in the movie's units
    kinetics: Optional[Kinetics]          # None: analysed from the events alone (no movie)
    offsets: np.ndarray                   # trace frame offsets around each event's frame
    mask: np.ndarray
    mask_source: str
    mean_image: Optional[np.ndarray]      # None without the movie
    background: Optional[float]
    in_mask: np.ndarray
    kept: np.ndarray
    ripley: spatial.Ripley
    nn_px: np.ndarray
    time_edges: np.ndarray
    time_counts: np.ndarray
    density: np.ndarray
    mean_trace: dict
    gallery: np.ndarray                   # (n, frames, s, s) crops from gallery_before to gallery_after
    summary: dict
    options: AnalysisOptions
    notes: List[str] = field(default_factory=list)
    condition: str = ""
    pair: str = ""

    def __len__(self) -> int:
        return len(self.events)

    @property
    def has_pixels(self) -> bool:
        """Whether the movie was read (kinetics, mean image, gallery), or only its events."""
        return self.kinetics is not None

    def ids(self) -> np.ndarray:
        ids = self.events.extra.get("id")
        return np.asarray(ids, np.int64) if ids is not None else np.arange(1, len(self) + 1)

    def index_of(self, event_id) -> Optional[int]:
        hit = np.nonzero(self.ids() == event_id)[0] if len(self) else []
        return int(hit[0]) if len(hit) else None

    def trace(self, i: int):
        """(time around the event's frame in the movie's unit, ΔF/F0 trace, fit times, fit values
        or None): the selected event's disc trace, and what the fitted decay and spreading of the
        event (kinetics.disc_model) predict in that disc from the peak on."""
        k = self.kinetics
        if k is None:
            return np.zeros(0), np.zeros(0), None, None
        f0 = k.F0[i] if np.isfinite(k.F0[i]) and k.F0[i] > 0 else np.nan
        y = k.dF[i] / f0
        t = self.units.time(self.offsets)
        if k.peak[i] < 0 or not np.isfinite(k.tau[i]):
            return t, y, None, None
        amp = k.dF[i, k.peak[i]] / f0
        tf = np.linspace(0, self.offsets[-1] - self.offsets[k.peak[i]], 200)
        model = k.disc_model(i, tf, self.options.radius_px)
        return t, y, self.units.time(tf + self.offsets[k.peak[i]]), amp * model


def validate_events(events: EventTable, shape, source: str = "events") -> None:
    """Refuse a table whose events fall outside the movie, naming the rows (1-based, as in the
    table) and their X, Y, Slice."""
    T, H, W = shape
    x, y, f = events.x, events.y, events.frame
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(x) & np.isfinite(y) & (x >= -0.5) & (x < W - 0.5) & (y >= -0.5) & (y < H - 0.5)
                & (f >= 0) & (f < T))
    if bad.any():
        rows = np.nonzero(bad)[0]
        shown = ", ".join(f"row {i + 1} (X {x[i]:g}, Y {y[i]:g}, Slice {f[i] + 1})" for i in rows[:8])
        more = f" and {len(rows) - 8} more" if len(rows) > 8 else ""
        raise ValueError(f"{source}: {len(rows)} event(s) outside the movie ({W}×{H} px, {T} frames): "
                         f"{shown}{more}; is this the table of another movie?")


def _median(v) -> float:
    v = np.asarray(v, float)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if len(v) else float("nan")


def event_columns(k: Kinetics, units: Units, frame, offsets, nn_px, in_mask, flags) -> Dict[str, np.ndarray]:
    """The per-event columns, in order; ``onset_frame`` and ``peak_frame`` are 1-based, as Slice."""
    def one_based(idx):
        return np.where(idx >= 0, frame + offsets[np.maximum(idx, 0)] + 1, np.nan)

    return {"dF_F0": k.dF_F0, "F0": k.F0, "onset_frame": one_based(k.onset), "peak_frame": one_based(k.peak),
            units.t("rise"): units.time(k.rise), units.t("tau"): units.time(k.tau),
            units.t("t_half"): units.time(k.tau * LN2), "decay_r2": k.r2,
            units.l("fwhm"): units.length(k.fwhm), units.diffusion_col(): units.diffusion(k.diffusion),
            "fusion_mode": k.fusion_mode, units.l("nn_dist"): units.length(nn_px),
            "in_mask": in_mask.astype(np.int64), "kept": np.ones(len(k.F0), np.int64),
            "flags": flags, "fit_note": k.fit_note()}


def blank_event_columns(units: Units, n: int, nn_px, in_mask, note: str) -> Dict[str, np.ndarray]:
    """The same columns for events analysed without their movie: every measurement that needs
    pixels is blank (NaN) and ``fit_note`` says why."""
    nan = np.full(n, np.nan)
    return {"dF_F0": nan, "F0": nan, "onset_frame": nan, "peak_frame": nan, units.t("rise"): nan,
            units.t("tau"): nan, units.t("t_half"): nan, "decay_r2": nan, units.l("fwhm"): nan,
            units.diffusion_col(): nan, "fusion_mode": np.full(n, "", dtype=object).astype(str),
            units.l("nn_dist"): units.length(nn_px), "in_mask": in_mask.astype(np.int64),
            "kept": np.ones(n, np.int64), "flags": np.full(n, "", dtype=object).astype(str),
            "fit_note": np.full(n, note, dtype=object).astype(str)}


def _mean_trace(k: Kinetics, keep: np.ndarray) -> dict:
    ok = keep & (k.peak >= 0)
    amp = np.where(ok, k.dF[np.arange(len(k.peak)), np.maximum(k.peak, 0)], np.nan)
    ok &= amp > 0
    t = MEAN_TRACE_T
    if not ok.any():
        return {"t": t, "y": np.full(len(t), np.nan), "n": 0, "fit": (np.nan,) * 4}
    norm = k.dF[ok] / amp[ok, None]
    aligned = take(norm, k.peak[ok][:, None] + t[None, :])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        y = np.nanmean(aligned, axis=0)
    zero = int(np.nonzero(t == 0)[0][0])
    return {"t": t, "y": y, "n": int(ok.sum()), "fit": fit_mean_decay(y[zero:zero + MEAN_FIT_FRAMES])}


def analyze_movie(movie, events: EventTable, options: AnalysisOptions = AnalysisOptions(),
                  mask: Optional[np.ndarray] = None, mask_source: str = "", name: Optional[str] = None,
                  cancel: Optional[CancelToken] = None) -> Generator[Progress, None, MovieAnalysis]:
    """Measure every event of ``movie`` (a core.movie.Movie or a (t, y, x) array) and its cell."""
    data = getattr(movie, "data", movie)
    shape = tuple(int(s) for s in data.shape)
    T, H, W = shape
    units = Units.of(movie)
    name = name or getattr(movie, "name", "movie")
    validate_events(events, shape, name)
    notes = list(units.notes())
    frame_means: list = []
    mean_img, boxes = yield from sweep(data, events.x, events.y, events.frame, options, cancel, frame_means)
    if mask is None:
        mask, mask_source = cell.auto_mask(mean_img, options.mask_smooth_px), cell.MASK_AUTO
    mask = np.asarray(mask, bool)
    if mask.shape != (H, W):
        raise ValueError(f"{name}: the cell mask is {mask.shape[1]}×{mask.shape[0]} px, the movie {W}×{H} px")
    if not mask.any():
        notes.append("the cell mask is empty: per-cell numbers are not available")
    background = cell.extracellular_level(mean_img, mask)
    if background is None:
        notes.append("no region outside the cell: F0 includes the camera offset, so ΔF/F0 is underestimated")
    traces = traces_from_boxes(boxes, events.x, events.y, events.frame, shape, options)
    k = measure_kinetics(traces, background or 0.0, options, bleaching(frame_means, background))
    if cancel is not None:
        cancel.raise_if_cancelled()
    yield Progress("analyze", T + 1, T + 2, f"{len(events)} events measured")
    in_mask = cell.inside(mask, events.x, events.y)
    columns = event_columns(k, units, events.frame, traces.offsets, nearest_in_mask(events, in_mask), in_mask,
                            traces.flags)
    g0, g1, gh, h = options.gallery_before, options.gallery_after, options.gallery_half_px, options.box_half
    e = options.before
    gallery = boxes[:, max(e - g0, 0):e + g1 + 1, h - gh:h + gh + 1, h - gh:h + gh + 1].copy()
    result = measure_cell(name, shape, units, events, columns, in_mask, mask, mask_source, options, notes,
                          lambda kept: _mean_trace(k, kept), cancel)
    result.kinetics, result.offsets, result.mean_image = k, traces.offsets, mean_img
    result.background, result.gallery = background, gallery
    result.summary["extracellular_level"] = background
    yield Progress("analyze", T + 2, T + 2, "done")
    return result


def bleaching(frame_means, background: Optional[float]) -> Optional[np.ndarray]:
    """Each frame's fluorescence above the extracellular level relative to the movie's mean (the
    cell's bleaching, from whole frames: the events are a negligible part of it); None when there is
    no region outside the cell to measure that level."""
    f = np.asarray(frame_means, float)
    if background is None or not len(f):
        return None
    above = f - background
    m = above.mean()
    return above / m if m > 0 else None


def nearest_in_mask(events: EventTable, in_mask: np.ndarray) -> np.ndarray:
    """Each event's distance to its nearest neighbour among the events inside the cell (NaN outside)."""
    nn_all = np.full(len(events), np.nan)
    nn_all[in_mask] = spatial.nearest_neighbour(events.x[in_mask], events.y[in_mask])
    return nn_all


def no_mean_trace(kept) -> dict:
    return {"t": MEAN_TRACE_T, "y": np.full(len(MEAN_TRACE_T), np.nan), "n": 0, "fit": (np.nan,) * 4}


def measure_cell(name, shape, units: Units, events: EventTable, columns, in_mask, mask, mask_source,
                 options: AnalysisOptions, notes, mean_trace=no_mean_trace, cancel=None) -> MovieAnalysis:
    """What needs only the events, the cell and the timing: the events counted (in the cell and
    passing the filters), Ripley's L with its CSR envelope, nearest neighbours, events over time,
    density map and the per-cell summary. Pixel-based fields are left empty (no kinetics)."""
    T = shape[0]
    kept = in_mask & passes(columns, options.filters, len(events))
    columns["kept"] = kept.astype(np.int64)
    ripley = spatial.ripley_l(events.x[kept], events.y[kept], mask, options.ripley_simulations,
                              options.ripley_steps, seed=options.seed, cancel=cancel)
    nn = spatial.nearest_neighbour(events.x[kept], events.y[kept])
    edges, counts = cell.time_histogram(events.frame[kept], T, units, options.time_bin_s, options.time_bin_frames)
    bw = options.kde_bandwidth_um / units.pixel_size_um if units.scaled else options.kde_bandwidth_px
    density = cell.density_map(mask, events.x[kept], events.y[kept], units, T, bw)
    mt = mean_trace(kept)
    area = float(mask.sum())
    summary = movie_summary(name, shape, units, mask_source, area, None, len(events), int(in_mask.sum()),
                            columns, kept, mt, nn, ripley, notes, events.frame[kept])
    return MovieAnalysis(name, shape, units, events, columns, None, np.zeros(0, int), mask, mask_source, None,
                         None, in_mask, kept, ripley, nn, edges, counts, density, mt,
                         np.zeros((len(events), 0, 0, 0), np.float32), summary, options, notes)


def movie_summary(name, shape, units: Units, mask_source, area_px2, background, n_events, n_in_mask,
                  columns, kept, mean_trace, nn, ripley: spatial.Ripley, notes, frames=()) -> dict:
    T = shape[0]
    a, tau, b, r2 = mean_trace["fit"]
    r_peak, l_peak = ripley.peak()
    return {
        "movie": name, "condition": "", "pair": "", "frames": T, "width_px": shape[2], "height_px": shape[1],
        "pixel_size_um": units.pixel_size_um, "frame_interval_s": units.frame_interval_s,
        units.t("duration"): float(units.time(T)), "mask": mask_source, units.area_col(): float(units.area(area_px2)),
        "extracellular_level": background, "events": n_events, "events_in_mask": n_in_mask,
        "events_kept": int(kept.sum()), units.rate_col(): units.rate(int(kept.sum()), area_px2, T),
        "dF_F0_median": _median(columns["dF_F0"][kept]),
        units.t("t_half_median"): _median(columns[units.t("t_half")][kept]),
        units.l("fwhm_median"): _median(columns[units.l("fwhm")][kept]),
        units.diffusion_col().replace("diffusion_", "diffusion_median_"): _median(columns[units.diffusion_col()][kept]),
        "decay_r2_median": _median(columns["decay_r2"][kept]),
        units.t("mean_trace_t_half"): float(units.time(tau * LN2)) if np.isfinite(tau) else np.nan,
        "mean_trace_r2": r2, units.l("nn_median"): _median(units.length(nn)),
        "clark_evans_R": spatial.clark_evans(nn, area_px2),
        "ripley_p": ripley.p_value, "ripley_verdict": ripley.verdict,
        units.l("ripley_peak_r"): float(units.length(r_peak)),
        units.l("ripley_peak_L_minus_r"): float(units.length(l_peak)),
        "interval_cv": cell.interval_cv(frames),
        "notes": "; ".join(notes),
    }


def condition_quantities(units: Units, kinetics: bool = True) -> List[str]:
    """The per-cell numbers compared between conditions, in ``units``: the rate and the medians of
    the events' kinetics, or without the movies (``kinetics`` False) the rate and the spatial
    statistics (median nearest-neighbour distance, Clark–Evans ratio)."""
    if not kinetics:
        return [units.rate_col(), units.l("nn_median"), "clark_evans_R"]
    return [units.rate_col(), "dF_F0_median", units.t("t_half_median"), units.l("fwhm_median")]


def analyze_movies(items: Sequence[dict], options: AnalysisOptions = AnalysisOptions(),
                   cancel: Optional[CancelToken] = None) -> Generator[Progress, None, List[MovieAnalysis]]:
    """Analyse several movies one after the other. Each item: ``movie``, ``events`` and optionally
    ``mask``, ``mask_source``, ``name``, ``condition``, ``pair``."""
    out = []
    for i, item in enumerate(items):
        label = item.get("name") or getattr(item["movie"], "name", f"movie {i + 1}")
        result = yield from prefixed(
            analyze_movie(item["movie"], item["events"], options, item.get("mask"), item.get("mask_source", ""),
                          label, cancel), f"movie {i + 1}/{len(items)} ({label}): ")
        result.condition, result.pair = str(item.get("condition", "")), str(item.get("pair", "") or "")
        result.summary.update(condition=result.condition, pair=result.pair)
        out.append(result)
    return out
