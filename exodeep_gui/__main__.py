"""``python -m exodeep_gui`` (and the frozen ``ExoDeep``): the app (window); ``… detect …`` and the
other ``exodeep`` commands run headless; ``--self-test`` checks an installation; ``--help`` lists all
of it; ``--version``. Nothing heavy (Qt, TensorFlow) is imported for ``--help`` or ``--version``."""

from __future__ import annotations

import os
import sys
from typing import Dict, List, Optional

# in the order --help lists them
CLI_COMMANDS = ("detect", "analyze", "train", "evaluate", "simulate", "spots", "models", "demo")
HELP_FLAGS = ("-h", "--help")
# modules the frozen app runs as ``ExoDeep -m MODULE ...`` the way ``python -m MODULE`` would: a SLURM job
# script from dask-jobqueue starts its worker with ``<sys.executable> -m distributed.cli.dask_worker``
RUNNABLE_MODULES = ("distributed.cli.dask_worker",)


def program_name() -> str:
    """How the user started us: ``ExoDeep`` (the frozen app, also through the ``exodeep`` command) or
    ``python -m exodeep_gui``."""
    if getattr(sys, "frozen", False):
        return os.path.splitext(os.path.basename(sys.executable))[0] or "ExoDeep"
    return "python -m exodeep_gui"


def command_summaries() -> Dict[str, str]:
    """Each ``exodeep`` command's one-line help, from the command line's own parser."""
    import argparse

    from exodeep_gui.cli import build_parser

    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {choice.dest: " ".join((choice.help or "").split()) for choice in action._choices_actions}
    return {}


def help_text(prog: Optional[str] = None) -> str:
    from exodeep_gui import __version__

    prog = prog or program_name()
    summaries = command_summaries()
    names = [c for c in CLI_COMMANDS if c in summaries]     # every command (tests/test_packaging_help.py)
    width = max(len(n) for n in names) if names else 8
    window = f"{prog} [MOVIE...] [--demo]"
    lines = [
        f"ExoDeep {__version__}: find exocytosis events in TIRF microscopy movies.",
        "",
        "The window:",
        f"  {window}",
        "      open movies (.tif, .tiff, .nd2, folders of frames); --demo: a simulated movie",
        "",
        f"Commands, without the window ({prog} COMMAND --help: a command's options):",
        *(f"  {prog} {name:<{width}}  {summaries[name]}" for name in names),
        "",
        "Checks:",
        f"  {prog} --self-test [--model M]  check this installation: detect on a simulated movie (no window)",
        f"  {prog} --version                the version",
        f"  {prog} --help                   this list",
    ]
    return "\n".join(lines) + "\n"


def _write(text: str) -> None:
    """Print where a windowed app may have no stdout and a console may not encode every character."""
    stream = sys.stdout
    if stream is None:
        return
    encoding = getattr(stream, "encoding", None) or "utf-8"
    stream.write(text.encode(encoding, "replace").decode(encoding, "replace"))
    stream.flush()


def run_module(name: str, args: List[str]) -> int:
    """Run ``name`` as ``python -m name args`` does (its exit status returned)."""
    import runpy

    saved = sys.argv
    sys.argv = [name.rsplit(".", 1)[-1].replace("_", "-"), *args]
    try:
        runpy.run_module(name, run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        code = stop.code
        if code is not None and not isinstance(code, int):
            print(code, file=sys.stderr)         # as Python prints sys.exit("message")
            return 1
        return code or 0
    finally:
        sys.argv = saved
    return 0


def run(argv: List[str]) -> int:
    if len(argv) >= 2 and argv[0] == "-m" and argv[1] in RUNNABLE_MODULES:
        return run_module(argv[1], argv[2:])
    if argv and argv[0] in HELP_FLAGS:
        _write(help_text())
        return 0
    if argv and argv[0] == "--version":
        from exodeep_gui import __version__

        _write(f"ExoDeep {__version__}\n")
        return 0
    if argv and argv[0] == "--self-test":
        from exodeep_gui.selftest import run as self_test

        model = argv[argv.index("--model") + 1] if "--model" in argv[:-1] else None
        return self_test(model)
    if argv and argv[0] in CLI_COMMANDS:
        from exodeep_gui.cli import main as cli_main

        return cli_main(argv)
    from exodeep_gui.gui.app import main as gui_main

    return gui_main(argv)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
