"""ExoDeep: find exocytosis events in TIRF microscopy movies.

This module holds the version only and imports nothing heavy, so that
``import exodeep_gui`` stays instant (the GUI and the CLI import TensorFlow
lazily, only when a model runs).
"""

__version__ = "0.1.0"
