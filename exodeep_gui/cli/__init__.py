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
        return args.func(args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except (UserError, ValueError, OSError) as exc:
        if args.debug:
            raise
        print(f"exodeep: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["UserError", "build_parser", "main"]
