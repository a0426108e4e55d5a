"""Analysing a cell from its events alone (no movie): an earlier analysis's points (ImageJ
clicks, ExoJ or ExoDeepFinder tables), the cell's mask and the movie's timing are enough for the
rate, the spatial statistics (nearest neighbours, Ripley's L with its CSR envelope in the mask),
the events over time and the condition comparisons. Every measurement that needs pixels
(ΔF/F0, decay, size, spreading) stays blank, and the analysis says why."""

from __future__ import annotations

from typing import Generator, Optional

import numpy as np

from exodeep_gui.core.analysis import cell
from exodeep_gui.core.analysis.options import AnalysisOptions, Units
from exodeep_gui.core.analysis.pipeline import (MovieAnalysis, blank_event_columns, measure_cell, nearest_in_mask,
                                                validate_events)
from exodeep_gui.core.events import EventTable
from exodeep_gui.core.progress import CancelToken, Progress

NO_MOVIE = "no movie: ΔF/F0, decay, size and spreading need the pixels"
NO_MOVIE_NOTE = ("analysed from the events table alone (no movie): the kinetics columns (ΔF/F0, t½, decay R², "
                 "FWHM, diffusion, fusion mode) are blank; rates, spatial and temporal statistics are measured")


def analyze_events(events: EventTable, mask: np.ndarray, n_frames: int, units: Units,
                   options: AnalysisOptions = AnalysisOptions(), name: str = "cell",
                   mask_source: str = cell.MASK_FILE, cancel: Optional[CancelToken] = None
                   ) -> Generator[Progress, None, MovieAnalysis]:
    """The analysis of one cell from its events (X, Y px, 0-based frames), its mask (row = y) and
    its movie's length in frames and calibration. Refuses (ValueError naming ``name``) events
    outside the mask's frame or the movie's frames, and filters on columns that need pixels."""
    mask = np.asarray(mask, bool)
    if mask.ndim != 2:
        raise ValueError(f"{name}: the cell mask is not a 2D image")
    if not n_frames or n_frames < 1:
        raise ValueError(f"{name}: the movie's number of frames is needed")
    H, W = mask.shape
    shape = (int(n_frames), H, W)
    validate_events(events, shape, name)
    kinetic = {"dF_F0", "F0", "onset_frame", "peak_frame", "decay_r2", "fusion_mode", units.t("rise"),
               units.t("tau"), units.t("t_half"), units.l("fwhm"), units.diffusion_col()}
    needs_pixels = [f"{c} {op} {v:g}" for c, op, v in options.filters if c in kinetic]
    if needs_pixels:
        raise ValueError(f"{name}: filter {', '.join(needs_pixels)}: measured from the movie's pixels, not "
                         "available from an events table alone")
    yield Progress("analyze", 0, 2, f"{len(events)} events")
    notes = list(units.notes()) + [NO_MOVIE_NOTE]
    if not mask.any():
        notes.append("the cell mask is empty: per-cell numbers are not available")
    in_mask = cell.inside(mask, events.x, events.y)
    columns = blank_event_columns(units, len(events), nearest_in_mask(events, in_mask), in_mask, NO_MOVIE)
    for key, values in events.extra.items():          # numeric columns of the table can be filtered on
        if key not in columns and np.asarray(values).dtype.kind in "fiu":
            columns[key] = np.asarray(values, float)
    if np.isfinite(events.score).any():
        columns.setdefault("score", events.score)
    result = measure_cell(name, shape, units, events, columns, in_mask, mask, mask_source, options, notes,
                          cancel=cancel)
    for key in list(columns):                           # carried columns go back to the table, not here
        if key in events.extra or key == "score":
            columns.pop(key)
    yield Progress("analyze", 2, 2, "done")
    return result
