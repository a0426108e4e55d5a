import sys

from exodeep_gui.cli import main

sys.exit(main())
