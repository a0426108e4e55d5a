"""A movie's reviewed events: identity and provenance, kept across re-detections.

Every event has an ``id`` that stays for the life of the movie's review, an ``origin``
(``detected`` by a model or ``added`` by the user) and a ``status`` (``""`` as detected,
``confirmed`` by the user, ``deleted``: kept as a tombstone so that a later detection does
not bring it back, or — set when the movie is marked fully reviewed, which freezes the reviewed set
(see :func:`freeze`) — ``seen`` (shown then: real, as a confirmation) and ``filtered`` (hidden then). The rows are an :class:`~exodeep_gui.core.events.EventTable` whose extra
columns are ``id``, ``origin`` and ``status``; every function here returns new rows (the
caller keeps the old ones for undo). Score and size are NaN where unknown (an event added
where no network output exists).

Running detection again *merges* (:func:`merge_detection`): a new detection that matches an
existing event by the paper's rule (≤ 4.5 px, −2…+5 frames) updates it and keeps its id and
status; events no longer detected disappear unless the user confirmed or deleted them;
additions stay. Numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from exodeep_gui.core.evaluate import PAPER_DT, PAPER_MAX_DIST_PX, match_events
from exodeep_gui.core.events import EventTable

DETECTED, ADDED = "detected", "added"
CONFIRMED, DELETED = "confirmed", "deleted"
FILTERED = "filtered"       # hidden by the filter when the movie was marked fully reviewed: decided, not shown
SEEN = "seen"               # shown when the movie was marked fully reviewed: decided real, as a confirmation
KEPT = (CONFIRMED, SEEN)    # decided real: always shown, kept in place, trained on
HIDDEN = (DELETED, FILTERED)
DETECTION_COLUMNS = ("confidence", "candidate", "views")     # per-event numbers a detection gives
REVIEW_COLUMNS = ("id", "origin", "status")


@dataclass(frozen=True)
class EventFilter:
    """Which detected events are shown: score ≥ threshold, size ≥ min_size and confidence ≥
    min_confidence (an event whose confidence is unknown passes that test). Events the user added or
    confirmed are always shown (and exported), whatever the filter; deleted ones never. The one
    definition of the filter and its defaults, for the window and the command line."""

    threshold: float = 0.5
    min_size: int = 0
    min_confidence: float = 0.0

    def describe(self) -> str:
        text = f"score ≥ {self.threshold:.2f}, size ≥ {self.min_size}"
        return text + (f", confidence ≥ {self.min_confidence:.2f}" if self.min_confidence > 0 else "")


DEFAULT_FILTER = EventFilter()


@dataclass(frozen=True)
class MergeSummary:
    """What a re-detection changed, in events the user sees (under the filter)."""

    new: int = 0                # shown now, not before
    gone: int = 0               # shown before, no longer detected (removed)
    updated: int = 0            # matched an existing event (id and review kept)
    kept_deleted: int = 0       # deletions that stay deleted although detected again
    kept_added: int = 0         # additions kept
    unmarked: bool = False      # the movie was fully reviewed; the new events cleared the mark

    def message(self) -> str:
        parts = [f"{self.new} new", f"{self.gone} no longer detected"]
        if self.kept_deleted:
            parts.append(f"{self.kept_deleted} deleted by you stay deleted")
        if self.kept_added:
            parts.append(f"{self.kept_added} added by you kept")
        if self.unmarked:
            parts.append("no longer marked fully reviewed: review the new events")
        return ", ".join(parts)


def empty_rows() -> EventTable:
    return EventTable.from_arrays([], [], [], [], [], {
        "id": np.zeros(0, np.int64), "origin": np.zeros(0, "U9"), "status": np.zeros(0, "U9")})


def make_rows(events: EventTable, ids, origin: str, status: str = "") -> EventTable:
    n = len(events)
    extra = {k: v for k, v in events.extra.items() if k not in REVIEW_COLUMNS}
    extra.update(id=np.asarray(ids, np.int64).reshape(n), origin=np.full(n, origin, "U9"),
                 status=np.full(n, status, "U9"))
    return EventTable(events.x.copy(), events.y.copy(), events.frame.copy(), events.score.astype(float),
                      events.size.astype(float), extra)


def _concat(a: EventTable, b: EventTable) -> EventTable:
    """``a``'s rows then ``b``'s; a per-event column only one of them has (a detection's confidence,
    not known for an event the user adds) is kept, unknown (NaN) for the other's rows."""
    if len(a) == 0:
        return b
    if len(b) == 0:
        return a
    def completed(t: EventTable, other: EventTable) -> EventTable:
        missing = {k: np.full(len(t), np.nan) for k in DETECTION_COLUMNS if k in other.extra and k not in t.extra}
        return EventTable(t.x, t.y, t.frame, t.score, t.size, {**t.extra, **missing}) if missing else t

    return completed(a, b).concat(completed(b, a))


def visible_mask(rows: EventTable, flt: EventFilter) -> np.ndarray:
    if len(rows) == 0:
        return np.zeros(0, bool)
    status, origin = rows.extra["status"], rows.extra["origin"]
    with np.errstate(invalid="ignore"):
        passes = (rows.score >= flt.threshold) & (rows.size >= flt.min_size)
        if flt.min_confidence > 0 and "confidence" in rows.extra:
            conf = np.asarray(rows.extra["confidence"], float)
            passes &= ~(conf < flt.min_confidence)          # unknown (NaN) passes
    return (status != DELETED) & (status != FILTERED) & ((origin == ADDED) | np.isin(status, KEPT) | passes)


def visible(rows: EventTable, flt: EventFilter) -> EventTable:
    """The events shown and exported, sorted by frame, then y, then x."""
    return rows.select(visible_mask(rows, flt)).sorted()


def freeze(rows: EventTable, flt: EventFilter) -> Tuple[EventTable, dict]:
    """Rows of a movie marked fully reviewed: every event shown under ``flt`` and not yet decided
    is ``seen`` (real, as a confirmation), every detection ``flt`` hides is set aside
    (``filtered``). The reviewed set is then what the user saw, and no filter changes it. Returns
    (rows, counts)."""
    if len(rows) == 0:
        return rows, {"confirmed": 0, "set_aside": 0}
    out = rows.select(np.arange(len(rows)))
    status = out.extra["status"]
    undecided = status == ""
    shown = visible_mask(rows, flt)
    status[undecided & shown] = SEEN
    status[undecided & ~shown] = FILTERED
    return out, {"confirmed": int((undecided & shown).sum()), "set_aside": int((undecided & ~shown).sum())}


def unfreeze(rows: EventTable) -> Tuple[EventTable, dict]:
    """The mark cleared: what :func:`freeze` decided is undecided again (the events it took as seen
    and the detections it set aside); the user's own confirmations and deletions stay."""
    if len(rows) == 0:
        return rows, {"back": 0, "undecided": 0}
    out = rows.select(np.arange(len(rows)))
    status = out.extra["status"]
    counts = {"back": int((status == FILTERED).sum()), "undecided": int((status == SEEN).sum())}
    status[np.isin(status, (SEEN, FILTERED))] = ""
    return out, counts


def reviewed(rows: EventTable) -> EventTable:
    """The reviewed set of a fully reviewed movie: what the user confirmed, saw or added (what
    training reads: never a re-filtered table), sorted."""
    if len(rows) == 0:
        return rows
    st, og = rows.extra["status"], rows.extra["origin"]
    return rows.select(~np.isin(st, HIDDEN) & (np.isin(st, KEPT) | (og == ADDED))).sorted()


def candidate_mask(rows: EventTable, flt: EventFilter) -> np.ndarray:
    """Candidates: detections the model is unsure of (marked ``candidate`` by the detection: seen
    in some test-time views only, or found below the threshold), not yet decided and hidden by the
    filter. Shown faintly for the reviewer to accept (confirm) or reject (delete); never exported
    unless accepted."""
    if len(rows) == 0 or "candidate" not in rows.extra:
        return np.zeros(len(rows), bool)
    flagged = np.nan_to_num(np.asarray(rows.extra["candidate"], float)) > 0
    return flagged & (rows.extra["status"] == "") & (rows.extra["origin"] == DETECTED) & ~visible_mask(rows, flt)


FRAME_ORDER, DOUBT_ORDER = "frame", "doubt"


def doubt(rows: EventTable) -> np.ndarray:
    """How doubtful each event is to a reviewer: its confidence when the detection gave one, else its
    score (lower is more doubtful); unknown (an added event) last."""
    value = np.asarray(rows.extra["confidence"], float) if "confidence" in rows.extra else rows.score.astype(float)
    return np.where(np.isfinite(value), value, np.inf)


def reviewable(rows: EventTable, flt: EventFilter, order: str = FRAME_ORDER) -> EventTable:
    """What the reviewer goes through: the events shown and the candidates, with a boolean column
    ``shown`` (False: a candidate), in frame order or doubtful first (``order``)."""
    shown = visible_mask(rows, flt)
    keep = shown | candidate_mask(rows, flt)
    rows = EventTable(rows.x, rows.y, rows.frame, rows.score, rows.size, dict(rows.extra, shown=shown))
    out = rows.select(keep).sorted()
    if order == DOUBT_ORDER and len(out):
        out = out.select(np.argsort(doubt(out), kind="stable"))
    return out


def index_of(rows: EventTable, event_id: int) -> Optional[int]:
    hit = np.nonzero(rows.extra["id"] == event_id)[0] if len(rows) else []
    return int(hit[0]) if len(hit) else None


def set_status(rows: EventTable, event_id: int, status: str) -> EventTable:
    i = index_of(rows, event_id)
    if i is None:
        raise KeyError(f"no event {event_id}")
    out = rows.select(np.arange(len(rows)))             # a copy
    out.extra["status"][i] = status
    return out


def delete(rows: EventTable, event_id: int) -> EventTable:
    """An added event disappears; a detected one becomes a tombstone."""
    i = index_of(rows, event_id)
    if i is None:
        raise KeyError(f"no event {event_id}")
    if rows.extra["origin"][i] == ADDED:
        return rows.select(np.arange(len(rows)) != i)
    return set_status(rows, event_id, DELETED)


def add(rows: EventTable, event_id: int, x: float, y: float, frame: int,
        score: float = np.nan, size: float = np.nan) -> EventTable:
    new = make_rows(EventTable.from_arrays([x], [y], [frame], [score], [size]), [event_id], ADDED)
    return _concat(rows, new)


def probe(candidates: Optional[EventTable], score_map, x: float, y: float, frame: int,
          radius: float = PAPER_MAX_DIST_PX, dt: int = 2) -> Tuple[float, float]:
    """(score, size) for an event the user adds at (x, y, frame), from the network's output: the
    nearest detected candidate within ``radius`` px and ±``dt`` frames, else the highest class-2
    probability in that neighbourhood of the per-voxel ``score_map`` (uint8, ×255) with no size;
    (NaN, NaN) when there is no output."""
    if candidates is not None and len(candidates):
        d = np.hypot(candidates.x - x, candidates.y - y)
        near = (d <= radius) & (np.abs(candidates.frame - frame) <= dt)
        if near.any():
            i = np.nonzero(near)[0][np.argmin(d[near])]
            return float(candidates.score[i]), float(candidates.size[i])
    if score_map is None:
        return np.nan, np.nan
    T, H, W = score_map.shape
    r = int(np.ceil(radius))
    box = score_map[max(frame - dt, 0):min(frame + dt + 1, T), max(int(y) - r, 0):min(int(y) + r + 1, H),
                    max(int(x) - r, 0):min(int(x) + r + 1, W)]
    return (float(np.asarray(box).max()) / 255.0 if box.size else np.nan), np.nan


def merge_detection(rows: EventTable, candidates: EventTable, next_id: int, flt: EventFilter,
                    max_dist: float = PAPER_MAX_DIST_PX, dt_range=PAPER_DT
                    ) -> Tuple[EventTable, int, MergeSummary]:
    """Merge a new detection (all its candidates, before filtering) into the review.

    Returns (new rows, next free id, summary). Matching is one-to-one with the paper's rule
    (Δt = new − old frame): first existing detected events (their id, status and review stay;
    position, score and size take the new values, but a confirmed event keeps its position), then
    events the user added (they keep their position and take the new score and size). Unmatched detected events are removed unless the
    user confirmed or deleted them; unmatched candidates become new events."""
    was_shown = visible_mask(rows, flt)
    origin = rows.extra["origin"] if len(rows) else np.zeros(0, "U9")
    out = rows.select(np.arange(len(rows)))
    for k in DETECTION_COLUMNS:             # what the new run says of each event (unknown for the others)
        if k in candidates.extra and k not in out.extra:
            out.extra[k] = np.full(len(out), np.nan)
    free = np.ones(len(candidates), bool)
    matched_rows = np.zeros(len(rows), bool)
    for kind in (DETECTED, ADDED):
        mine = np.nonzero(origin == kind)[0]
        avail = np.nonzero(free)[0]
        ri, ci = match_events(rows.select(mine), candidates.select(avail), max_dist, dt_range)
        r, c = mine[ri], avail[ci]
        if kind == DETECTED:                  # a confirmed event keeps the position the user confirmed
            moved = r[~np.isin(out.extra["status"][r], KEPT)] if len(r) else r
            cm = c[~np.isin(out.extra["status"][r], KEPT)] if len(r) else c
            out.x[moved], out.y[moved], out.frame[moved] = candidates.x[cm], candidates.y[cm], candidates.frame[cm]
        out.score[r], out.size[r] = candidates.score[c], candidates.size[c]
        for k in DETECTION_COLUMNS:                 # what the new run says of the event
            if k in candidates.extra and k in out.extra and len(r):
                out.extra[k][r] = candidates.extra[k][c]
        free[c] = False
        matched_rows[r] = True
    status = out.extra["status"] if len(out) else np.zeros(0, "U9")
    keep = matched_rows | (origin == ADDED) | np.isin(status, KEPT) | (status == DELETED)
    gone = int((was_shown & ~keep).sum())
    out = out.select(keep)
    fresh = candidates.select(free)
    new_rows = make_rows(fresh, np.arange(next_id, next_id + len(fresh)), DETECTED)
    merged = _concat(out, new_rows)
    summary = MergeSummary(
        new=int(visible_mask(new_rows, flt).sum()), gone=gone,
        updated=int((matched_rows & (origin == DETECTED)).sum()),
        kept_deleted=int((matched_rows & (status_of(rows) == DELETED)).sum()),
        kept_added=int((origin == ADDED).sum()))
    return merged, next_id + len(fresh), summary


def status_of(rows: EventTable) -> np.ndarray:
    return rows.extra["status"] if len(rows) else np.zeros(0, "U9")


def next_free_id(rows: EventTable) -> int:
    return int(rows.extra["id"].max()) + 1 if len(rows) else 1


def counts(rows: EventTable, flt: EventFilter) -> dict:
    """Shown, confirmed, added and deleted counts (for the movie list and the summary line)."""
    shown = visible_mask(rows, flt)
    st, og = status_of(rows), rows.extra["origin"] if len(rows) else np.zeros(0, "U9")
    return {"shown": int(shown.sum()), "confirmed": int((shown & np.isin(st, KEPT)).sum()),
            "added": int((og == ADDED).sum()), "deleted": int((st == DELETED).sum())}
