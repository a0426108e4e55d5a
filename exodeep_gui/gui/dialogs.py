"""Error dialog with the message and a details section (errors are also logged); a yes/no
question. Long messages (forty files that could not be opened) keep the dialog within the
screen: the first lines are shown, all of them are in the details."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QMessageBox

log = logging.getLogger("exodeep")
MAX_LINES = 8


def show_error(parent, message: str, details: str = "", title: str = "ExoDeep") -> QMessageBox:
    log.error("%s\n%s", message, details)
    lines = message.splitlines()
    if len(lines) > MAX_LINES:
        shown = lines[:MAX_LINES - 1] + [f"… and {len(lines) - MAX_LINES + 1} more (Show Details…)"]
        details = message + ("\n\n" + details if details else "")
        message = "\n".join(shown)
    box = QMessageBox(QMessageBox.Warning, title, message, QMessageBox.Ok, parent)
    if details:
        box.setDetailedText(details)
    box.setModal(True)
    box.open()            # non-blocking: tests and the event loop go on
    return box


def yes_no_box(parent, question: str, title: str = "ExoDeep") -> QMessageBox:
    """A Yes/No question whose default (Enter) is No: every question here is about replacing or losing
    something, and a reflex Enter must not do it."""
    box = QMessageBox(QMessageBox.Question, title, question, QMessageBox.Yes | QMessageBox.No, parent)
    box.setDefaultButton(QMessageBox.No)
    box.setEscapeButton(QMessageBox.No)
    return box


def ask_yes_no(parent, question: str, title: str = "ExoDeep") -> bool:
    return yes_no_box(parent, question, title).exec() == QMessageBox.Yes
