"""``python -m exodeep_gui``: the headless demo until the window lands (then the app)."""

import sys

from exodeep_gui.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["demo"]))
