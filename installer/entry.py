"""Entry point of the frozen app: the window, ``--self-test``, or an ``exodeep`` command."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from exodeep_gui.__main__ import run

    sys.exit(run(sys.argv[1:]))
