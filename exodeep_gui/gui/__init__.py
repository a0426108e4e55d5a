"""The Qt window (PySide6 + pyqtgraph). Never imports TensorFlow/Keras directly: models run
in workers (``gui.workers``) through ``exodeep_gui.ml``."""
