"""``exodeep``: the headless command line. One module per command (``register(sub)`` adds its
parser, ``cmd_*`` runs it); this module builds the parser from them and turns errors meant for
the user into one line."""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from typing import List, Optional

from exodeep_gui import __version__
from exodeep_gui.cli import analyze, detect, evaluate, misc, simulate, train
from exodeep_gui.cli.common import UserError

COMMANDS = (detect, evaluate, simulate, train, analyze, misc)        # each module imports its heavy parts lazily


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="exodeep", description="Find exocytosis events in TIRF movies.")
    ap.add_argument("--version", action="version", version=f"exodeep {__version__}")
    ap.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = ap.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    return ap


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with _library_warnings_logged(args.debug):
            return args.func(args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except (UserError, ValueError, OSError) as exc:
        if args.debug:
            raise
        # one line per problem (a list of problems, as training data checks give, one line each)
        for problem in getattr(exc, "problems", None) or [exc]:
            text = " ".join(str(problem).split()) or type(exc).__name__
            print(f"exodeep: error: {text}", file=sys.stderr)
        return 1


@contextmanager
def _library_warnings_logged(debug: bool):
    """Python warnings and the readers' log records (tifffile, h5py, Keras…) go to the log at DEBUG
    level, not to the terminal as raw text (what matters is in the one-line errors); ``--debug``
    leaves them printed."""
    if debug:
        yield
        return
    import logging
    import warnings

    from exodeep_gui.io.library_messages import quiet_library_loggers

    quiet_library_loggers()
    log = logging.getLogger("exodeep_gui.library")
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = lambda message, category, filename, lineno, *a, **k: log.debug(
            "%s:%s: %s: %s", filename, lineno, category.__name__, message)
        yield


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["UserError", "build_parser", "main"]
