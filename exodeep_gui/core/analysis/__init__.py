"""Measuring the biology (Qt-free, vectorised over events).

Per event (:mod:`.traces`, :mod:`.kinetics`): disc/annulus traces, F0, ΔF/F0 at the peak, onset,
rise time, exponential decay (τ, t½, R²), apparent size (FWHM). Per cell (:mod:`.cell`,
:mod:`.spatial`): mask, area, rate, events over time, density map, Ripley's L(r) − r with a CSR
envelope, nearest neighbours. Between conditions (:mod:`.stats`): Mann–Whitney and Cohen's d,
Wilcoxon and the paper's paired Cohen's d. :func:`analyze_movie` runs it all for one movie as a
progress generator; :func:`analyze_events` what needs no pixels, from a cell's events, mask and
timing alone (:mod:`.events_only`)."""

from exodeep_gui.core.analysis.filters import parse_rule, passes, rule_text
from exodeep_gui.core.analysis.options import AnalysisOptions, Units
from exodeep_gui.core.analysis.pipeline import (MovieAnalysis, analyze_movie, analyze_movies,
                                                condition_quantities, validate_events)
from exodeep_gui.core.analysis.stats import (cohens_d, compare_conditions, compare_paired, compare_unpaired,
                                             paired_cohens_d, summarize)
from exodeep_gui.core.analysis.events_only import analyze_events  # noqa: E402  (after pipeline)

__all__ = ["AnalysisOptions", "MovieAnalysis", "Units", "analyze_events", "analyze_movie", "analyze_movies", "cohens_d",
           "compare_conditions", "compare_paired", "compare_unpaired", "condition_quantities",
           "paired_cohens_d", "parse_rule", "passes", "rule_text", "summarize", "validate_events"]
