"""The Analysis panel: per-event measurements, the selected event's trace with its fit, the cell
mask and the movie's plots, and "Analyze this movie / all movies" through the job runner."""

from exodeep_gui.gui.analysis.panel import AnalysisPanel

__all__ = ["AnalysisPanel"]
