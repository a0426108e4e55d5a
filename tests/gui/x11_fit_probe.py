"""Run by test_fit_screen.py under a real X server with a window manager (Xvfb + openbox): open a
movie, maximise the window as a user does, show each side panel in turn and the training wizard's
pages, and print every visible control that is not on the screen (JSON on the last line).

A control inside a scrolling panel counts as reachable when the panel itself is on the screen."""
import json
import sys

from PySide6.QtCore import QRect, QTimer
from PySide6.QtWidgets import (QAbstractButton, QAbstractScrollArea, QAbstractSlider, QAbstractSpinBox, QApplication,
                               QComboBox, QLineEdit, QScrollArea, QStatusBar, QTabBar)

app = QApplication([])
import pyqtgraph as pg  # noqa: E402

pg.setConfigOptions(imageAxisOrder="row-major")
from exodeep_gui.gui.main_window import MainWindow  # noqa: E402
from exodeep_gui.gui.settings import Settings  # noqa: E402

CONTROLS = (QAbstractButton, QAbstractSpinBox, QAbstractSlider, QComboBox, QLineEdit, QTabBar, QStatusBar,
            QAbstractScrollArea)
w = MainWindow(Settings())
w.show()
w.open_paths(sys.argv[1:])
screen = app.primaryScreen().availableGeometry()
outside = []
checked = [0]


def global_rect(widget) -> QRect:
    return QRect(widget.mapToGlobal(widget.rect().topLeft()), widget.size())


def in_scroll_area(widget):
    p = widget.parentWidget()
    while p is not None:
        if isinstance(p, QScrollArea) and p.widget() is not None and p.widget().isAncestorOf(widget):
            return p
        p = p.parentWidget()
    return None


def check(top, where: str) -> None:
    for c in top.findChildren(QWidgetType):
        if not isinstance(c, CONTROLS) or not c.isVisible() or c.width() <= 1 or c.height() <= 1:
            continue
        if isinstance(c, QAbstractSlider) and isinstance(c.parentWidget(), QAbstractScrollArea):
            continue                          # a scroll bar belongs to its scroll area
        holder = in_scroll_area(c)
        target = holder if holder is not None else c
        if target.visibleRegion().isEmpty():
            continue                          # in a panel behind another tab (checked when raised)
        checked[0] += 1
        if not screen.contains(global_rect(target)):
            name = getattr(c, "text", lambda: "")() if hasattr(c, "text") else ""
            outside.append(f"{where}: {type(c).__name__} {c.objectName() or name!r} at {global_rect(target).getRect()}")


from PySide6.QtWidgets import QWidget as QWidgetType  # noqa: E402


def panels() -> None:
    check(w, "window")
    for dock in (w.kymo_dock, w.analysis_dock, w.gallery_dock, w.events_dock):
        dock.raise_()
        app.processEvents()
        check(dock, dock.windowTitle())
    wizard = w.open_training()
    app.processEvents()
    QTimer.singleShot(1500, lambda: wizard_pages(wizard, 0))


def wizard_pages(wizard, i: int) -> None:
    check(wizard, f"wizard page {i + 1}")
    if not screen.contains(wizard.frameGeometry()):
        outside.append(f"wizard frame {wizard.frameGeometry().getRect()}")
    if i < 2:
        wizard.next()
        QTimer.singleShot(500, lambda: wizard_pages(wizard, i + 1))
    else:
        done()


def done() -> None:
    size = w.frameGeometry()
    print(json.dumps({"screen": screen.getRect(), "window": size.getRect(), "checked": checked[0],
                      "minimum": [w.minimumSizeHint().width(), w.minimumSizeHint().height()],
                      "outside": outside}), flush=True)
    w.wizard.hide()
    w.close()
    app.quit()


QTimer.singleShot(500, w.showMaximized)
QTimer.singleShot(3000, panels)
app.exec()
