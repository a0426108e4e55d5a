"""``python -m exodeep_gui``: the app (window); ``python -m exodeep_gui detect …`` and the other
``exodeep`` commands run headless."""

import sys

CLI_COMMANDS = {"detect", "evaluate", "simulate", "spots", "train", "analyze", "models", "demo"}


def run(argv) -> int:
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
