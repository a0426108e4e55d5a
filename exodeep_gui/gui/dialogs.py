"""Error dialog with the message and a details section; errors are also logged."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QMessageBox

log = logging.getLogger("exodeep")


def show_error(parent, message: str, details: str = "", title: str = "ExoDeep") -> QMessageBox:
    log.error("%s\n%s", message, details)
    box = QMessageBox(QMessageBox.Warning, title, message, QMessageBox.Ok, parent)
    if details:
        box.setDetailedText(details)
    box.setModal(True)
    box.open()            # non-blocking: tests and the event loop go on
    return box
