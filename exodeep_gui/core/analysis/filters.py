"""Event filters on measured columns, as ExoJ's users remove false events: ``decay_r2>=0.8``,
``dF_F0>=0.2``. An event whose value is missing (NaN) fails the filter."""

from __future__ import annotations

import operator
import re
from typing import Dict, Sequence, Tuple

import numpy as np

OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
_RULE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|>|<)\s*([-+0-9.eE]+)\s*$")

Rule = Tuple[str, str, float]


def parse_rule(text: str) -> Rule:
    m = _RULE.match(text)
    if not m:
        raise ValueError(f"{text!r}: a filter is COLUMN>=VALUE (or <=, >, <), e.g. decay_r2>=0.8")
    return m.group(1), m.group(2), float(m.group(3))


def rule_text(rule: Rule) -> str:
    return f"{rule[0]} {rule[1]} {rule[2]:g}"


def passes(columns: Dict[str, np.ndarray], rules: Sequence[Rule], n: int) -> np.ndarray:
    """Which of the ``n`` events pass every rule. A rule on a column this movie does not have
    (e.g. ``t_half_s`` on a movie without a frame interval) raises ValueError naming the ones it has."""
    keep = np.ones(n, bool)
    for name, op, value in rules:
        if name not in columns:
            numeric = [k for k, v in columns.items() if np.asarray(v).dtype.kind in "fiu"]
            raise ValueError(f"filter {rule_text((name, op, value))}: no column {name!r} here; "
                             f"columns: {', '.join(numeric)}")
        v = np.asarray(columns[name], float)
        with np.errstate(invalid="ignore"):
            keep &= np.isfinite(v) & OPS[op](v, value)
    return keep
