"""What an analysis is asked to do (:class:`AnalysisOptions`, frozen) and in which units its
results are given (:class:`Units`): seconds and µm when the movie is calibrated, else frames and
px, and every column name says which (``t_half_s`` or ``t_half_frames``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np


@dataclass(frozen=True)
class AnalysisOptions:
    # per-event trace
    radius_px: float = 3.0                       # disc of the trace
    annulus_px: Tuple[float, float] = (5.0, 8.0)  # inner, outer radius of the local background
    before: int = 10                             # trace from −before …
    after: int = 30                              # … to +after frames around the event's frame
    # kinetics
    baseline_frames: int = 5                     # F0: mean of these frames before the onset …
    baseline_gap: int = 1                        # … skipping this many just before it
    onset_k: float = 3.0                         # onset: first frame above F0 + k·σ(baseline)
    peak_window: Tuple[int, int] = (-3, 5)       # the peak is sought this many frames around the event
    decay_fit_frames: int = 30                   # the decay is fitted on at most this many frames from the peak
    min_decay_points: int = 5                    # fewer points after the peak: no decay fit
    spread_frames: int = 20                      # frames from the peak fitted with 2D Gaussians (decay, spreading)
    spread_half_px: int = 8                      # … on (2·half+1)² px around the event
    size_half_px: int = 5                        # the Gaussian is fitted on (2·half+1)² px
    # the cell
    mask_smooth_px: float = 2.0                  # smoothing before Otsu's threshold
    time_bin_s: float = 10.0                     # events-over-time histogram (calibrated movies)
    time_bin_frames: int = 30                    # … and uncalibrated ones
    kde_bandwidth_um: float = 1.5                # kernel density map (calibrated movies)
    kde_bandwidth_px: float = 10.0               # … and uncalibrated ones
    ripley_simulations: int = 99
    ripley_steps: int = 40
    seed: int = 0
    # events counted: "column>=value" rules (see core.analysis.filters); failing events are kept
    # in the tables with kept = 0 and left out of every per-cell and per-condition number
    filters: Tuple[Tuple[str, str, float], ...] = ()
    gallery_before: int = 3
    gallery_after: int = 10
    gallery_half_px: int = 7

    @property
    def box_half(self) -> int:
        """Half-size of the box read around each event (trace, size fit and gallery)."""
        return int(max(np.ceil(self.annulus_px[1]), self.size_half_px, self.gallery_half_px,
                       self.spread_half_px - 1)) + 1


LN2 = float(np.log(2.0))
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))        # 2.3548


@dataclass(frozen=True)
class Units:
    """A movie's calibration; ``None`` where unknown (then frames / px, and a note says so)."""

    pixel_size_um: Optional[float] = None
    frame_interval_s: Optional[float] = None

    @classmethod
    def of(cls, movie) -> "Units":
        px = getattr(movie, "pixel_size_um", None)
        dt = getattr(movie, "frame_interval_s", None)
        return cls(float(px) if px and px > 0 else None, float(dt) if dt and dt > 0 else None)

    @property
    def timed(self) -> bool:
        return self.frame_interval_s is not None

    @property
    def scaled(self) -> bool:
        return self.pixel_size_um is not None

    @property
    def time_unit(self) -> str:
        return "s" if self.timed else "frames"

    @property
    def length_unit(self) -> str:
        return "um" if self.scaled else "px"

    @property
    def length_label(self) -> str:
        return "µm" if self.scaled else "px"

    def t(self, name: str) -> str:
        return f"{name}_{self.time_unit}"

    def l(self, name: str) -> str:                # noqa: E743 (length column)
        return f"{name}_{self.length_unit}"

    def diffusion_col(self) -> str:
        """``diffusion_um2_s`` (calibrated), else ``diffusion_px2_frame`` (or the mixed units)."""
        return f"diffusion_{self.length_unit}2_{'s' if self.timed else 'frame'}"

    def diffusion(self, px2_per_frame):
        a = np.asarray(px2_per_frame, float)
        a = a * self.pixel_size_um ** 2 if self.scaled else a
        return a / self.frame_interval_s if self.timed else a

    def area_col(self) -> str:
        return f"area_{self.length_unit}2"

    def rate_col(self) -> str:
        return f"rate_per_{self.length_unit}2_per_{'min' if self.timed else 'frame'}"

    def time(self, frames):
        a = np.asarray(frames, float)
        return a * self.frame_interval_s if self.timed else a

    def length(self, px):
        a = np.asarray(px, float)
        return a * self.pixel_size_um if self.scaled else a

    def area(self, px2):
        a = np.asarray(px2, float)
        return a * self.pixel_size_um ** 2 if self.scaled else a

    def rate(self, n_events: int, area_px2: float, n_frames: int) -> float:
        """Events per unit area per minute (per frame without a frame interval)."""
        duration = n_frames * self.frame_interval_s / 60.0 if self.timed else float(n_frames)
        area = float(self.area(area_px2))
        return float(n_events) / (area * duration) if area > 0 and duration > 0 else float("nan")

    def notes(self) -> List[str]:
        out = []
        if not self.scaled:
            out.append("no pixel size in the movie: sizes, areas and distances are in pixels")
        if not self.timed:
            out.append("no frame interval in the movie: times are in frames and rates per frame")
        return out
