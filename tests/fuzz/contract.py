"""The contract every reader of user files keeps, checked on each generated case.

A case either works or fails with ONE line, of a user-facing exception type, that names the
file and the problem; nothing is printed (no library warning, no traceback); and no input file
is changed. ``run_case`` checks that and counts the outcome per property (worked / clean error /
FAILED); ``conftest.py`` prints the counts at the end of the session (and writes them as JSON
where ``FUZZ_REPORT`` says).
"""

from __future__ import annotations

import contextlib
import faulthandler
import hashlib
import io
import os
from collections import Counter, defaultdict
from pathlib import Path
from typing import Callable, Iterable, Iterator, List, Optional, Tuple

from exodeep_gui.core.movie import MovieError
from exodeep_gui.io.masks import MaskError
from exodeep_gui.io.results import AnnotationError
from exodeep_gui.io.review_file import ReviewFileError
from exodeep_gui.ml.unet import ModelError

# the exception types whose message is shown to the user as it is (the CLI prints them as one
# line, the window in a dialog); anything else is a bug
USER_ERRORS = (MovieError, AnnotationError, MaskError, ModelError, ReviewFileError, ValueError, OSError)

# a case that runs longer than this is a hang (a reader looping on a damaged file): the process
# prints every thread's stack and exits, so that a campaign fails loudly instead of waiting forever
CASE_TIMEOUT_S = float(os.environ.get("FUZZ_CASE_TIMEOUT_S", "300"))

COUNTS: "defaultdict[str, Counter]" = defaultdict(Counter)
EXAMPLES: "defaultdict[str, dict]" = defaultdict(dict)      # property -> outcome -> one message
MESSAGES: "defaultdict[str, Counter]" = defaultdict(Counter)  # property -> message pattern -> count


def _pattern(message: str, paths) -> str:
    """The message with paths and numbers replaced, to group messages of one kind."""
    import re

    for p in sorted((str(p) for p in paths), key=len, reverse=True):
        message = message.replace(p, "<path>")
    message = re.sub(r"/tmp/\S+?(?=[:;,) ]|$)", "<path>", message)
    return re.sub(r"\d+", "N", message)[:160]


def file_hashes(paths: Iterable[Path]) -> dict:
    """sha256 of every file under ``paths`` (files or folders)."""
    out = {}
    for p in paths:
        p = Path(p)
        files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else []
        for f in files:
            out[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def names_the_file(message: str, paths: Iterable[Path]) -> bool:
    """The message names one of ``paths`` (its path, or at least its file name). A generator's
    file and folder names must not be words a message may hold by chance ("frames_fz", not "frames")."""
    for p in paths:
        p = Path(p)
        if str(p) in message or p.name in message:
            return True
    return False


@contextlib.contextmanager
def _case(prop: str, inputs: List[Path]) -> Iterator[dict]:
    """The bookkeeping every case shares: a hang ends the process with every thread's stack; no
    input file may change; the outcome the body sets in ``case["outcome"]`` is counted (an
    assertion that fails, or an exception that escapes, counts as FAILED with its message)."""
    before = file_hashes(inputs)
    case = {"outcome": "FAILED"}
    faulthandler.dump_traceback_later(CASE_TIMEOUT_S, exit=True)
    try:
        yield case
        assert file_hashes(inputs) == before, "an input file was changed"
    except BaseException as exc:
        case["outcome"] = "FAILED"
        EXAMPLES[prop].setdefault("FAILED", f"{type(exc).__name__}: {str(exc)[:300]}")
        raise
    finally:
        faulthandler.cancel_dump_traceback_later()
        COUNTS[prop][case["outcome"]] += 1


def _clean_error(prop: str, message: str, named: List[Path]) -> str:
    """Checks that ``message`` names one of ``named``; counts it by its pattern."""
    assert names_the_file(message, named), f"message does not name the file: {message!r}"
    EXAMPLES[prop].setdefault("clean error", message)
    MESSAGES[prop][_pattern(message, named)] += 1
    return "clean error"


def _paths(inputs: Iterable[Path], named: Optional[Iterable[Path]]) -> Tuple[List[Path], List[Path]]:
    inputs = [Path(p) for p in inputs]
    return inputs, [Path(p) for p in (named if named is not None else inputs)]


def run_case(prop: str, action: Callable[[], object], inputs: Iterable[Path],
             named: Optional[Iterable[Path]] = None, check: Optional[Callable[[object], None]] = None) -> str:
    """Run ``action`` (reading the files ``inputs``) and check the contract; returns the outcome.

    ``named``: the paths one of which an error must name (default ``inputs``); ``check``: more
    checks on a result that worked."""
    inputs, named = _paths(inputs, named)
    out, err = io.StringIO(), io.StringIO()
    with _case(prop, inputs) as case:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                result = action()
                if check is not None:           # using the result (reading its frames) may fail too
                    check(result)
            except USER_ERRORS as exc:
                message = str(exc)
                assert message.strip(), f"{type(exc).__name__} without a message"
                assert "\n" not in message.strip(), f"message on several lines: {message!r}"
                assert "Traceback" not in message, message
                assert len(message) < 600, f"message of {len(message)} characters: {message[:200]!r}…"
                case["outcome"] = _clean_error(prop, message, named)
            else:
                case["outcome"] = "worked"
        printed = out.getvalue() + err.getvalue()
        assert not printed.strip(), f"printed to the terminal: {printed[:500]!r}"
    return case["outcome"]


def run_cli(prop: str, argv, inputs: Iterable[Path], named: Optional[Iterable[Path]] = None,
            ok_codes=(0,)) -> str:
    """``exodeep ARGV`` through ``exodeep_gui.cli.main``: exit 0 (worked), or exit 1 with one
    line ``exodeep: error: …`` naming the file on stderr (clean error), nothing else printed there;
    input files unchanged."""
    from exodeep_gui.cli import main

    inputs, named = _paths(inputs, named)
    out, err = io.StringIO(), io.StringIO()
    with _case(prop, inputs) as case:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(a) for a in argv])
        text = err.getvalue()
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if code in ok_codes:
            assert "Traceback" not in text and "Warning" not in text, text[:500]
            case["outcome"] = "worked"
        else:
            assert code == 1, f"exit code {code}; stderr {text[:500]!r}"
            assert len(lines) == 1, f"{len(lines)} lines on stderr: {text[:800]!r}"
            assert lines[0].startswith("exodeep: error: "), lines[0]
            case["outcome"] = _clean_error(prop, lines[0], named)
    return case["outcome"]


def report_lines() -> list:
    rows = [f"{'property':44s} {'cases':>7s} {'worked':>7s} {'clean error':>12s} {'FAILED':>7s}"]
    for prop in sorted(COUNTS):
        c = COUNTS[prop]
        rows.append(f"{prop:44s} {sum(c.values()):7d} {c['worked']:7d} {c['clean error']:12d} {c['FAILED']:7d}")
    return rows


def write_report(path) -> None:
    import json

    data = {p: {"cases": sum(c.values()), **dict(c), "examples": EXAMPLES.get(p, {}),
                "messages": dict(MESSAGES[p].most_common())} for p, c in COUNTS.items()}
    Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")


def scratch_dir(base: Path) -> Path:
    """A fresh empty folder under ``base`` for one generated case."""
    import tempfile

    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=base))


__all__ = ["USER_ERRORS", "run_case", "run_cli", "file_hashes", "report_lines", "write_report",
           "scratch_dir", "os"]
