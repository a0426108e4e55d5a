"""What the movie area shows before a movie is open: where to drop movies, and buttons for
the ways to open one (the window's own actions, so they do exactly what the menu does)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QToolButton, QVBoxLayout, QHBoxLayout, QWidget

TEXT = ("<h2>Drop TIFF movies here</h2>"
        "<p>Drag movies (TIFF, OME-TIFF, ND2, HDF5) or folders of frames onto this window,<br>"
        "or open them with the buttons below. Then <b>Detect</b>, review the events, and <b>Export</b> "
        "them for Fiji.</p>")


class Welcome(QWidget):
    def __init__(self, actions, parent=None):
        super().__init__(parent)
        self.setObjectName("welcome")
        self.setAutoFillBackground(True)
        label = QLabel(TEXT)
        label.setAlignment(Qt.AlignCenter)
        label.setWordWrap(True)
        row = QHBoxLayout()
        row.addStretch(1)
        self.buttons = []
        for action in actions:
            b = QToolButton()
            b.setDefaultAction(action)
            b.setToolButtonStyle(Qt.ToolButtonTextOnly)
            b.setMinimumHeight(34)
            row.addWidget(b)
            self.buttons.append(b)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(label)
        layout.addLayout(row)
        layout.addStretch(3)
