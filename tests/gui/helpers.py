"""Shared helpers of the GUI tests: drop files, trigger menu items, fake detections."""

import numpy as np
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent

from exodeep_gui.core.detection import Detection, DetectOptions
from exodeep_gui.core.events import EventTable


def drop(window, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPoint(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dropEvent(event)


def menu_action(window, menu_title: str, text: str):
    """The QAction of ``text`` in the menu ``menu_title`` of the menu bar (as the user sees it)."""
    for menu_act in window.menuBar().actions():
        if menu_act.text().replace("&", "") == menu_title:
            for act in menu_act.menu().actions():
                if act.text().replace("&", "") == text:
                    return act
    raise KeyError(f"{menu_title} > {text}")


def fake_detection(truth: EventTable, scores=None, sizes=None, name="cells") -> Detection:
    n = len(truth)
    cands = EventTable.from_arrays(truth.x, truth.y, truth.frame,
                                   score=np.linspace(0.3, 0.9, n) if scores is None else scores,
                                   size=np.full(n, 40) if sizes is None else sizes,
                                   extra={k: v for k, v in truth.extra.items() if k in ("confidence", "candidate")})
    return Detection(name, None, cands, DetectOptions(), "fake")
