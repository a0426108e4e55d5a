"""Layout helpers that keep the window within a laptop's screen (1280 × 720 and up)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QWidget

MIN_PANEL_HEIGHT = 60          # what a scrolling panel asks for at least (a row or two)


class VerticalScroll(QScrollArea):
    """A frameless scroll area that gives its widget all the room there is and scrolls up and down
    when there is less than it needs; it is never narrower than the widget (no sideways scrolling
    of buttons and spin boxes)."""

    def __init__(self, widget: QWidget):
        super().__init__()
        self.setObjectName(f"scroll-{widget.objectName() or type(widget).__name__}")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setWidget(widget)

    def minimumSizeHint(self) -> QSize:
        inner = self.widget().minimumSizeHint()
        return QSize(inner.width() + self.verticalScrollBar().sizeHint().width(),
                     min(inner.height(), MIN_PANEL_HEIGHT))

    def sizeHint(self) -> QSize:
        inner = self.widget().sizeHint()
        return QSize(inner.width() + self.verticalScrollBar().sizeHint().width(), inner.height())


def scrolling(widget: QWidget) -> QScrollArea:
    """``widget`` in a :class:`VerticalScroll`: a panel's minimum height then no longer adds to
    the window's."""
    return VerticalScroll(widget)


TITLE_BAR = 32               # what a window manager's frame adds, before the window is shown


def fit_to_screen(window: QWidget, width: int, height: int) -> None:
    """Resize ``window`` to ``width`` × ``height``, or smaller so that it fits, with its title bar,
    in the screen's available area (a dialog or the main window opened on a 1280 × 720 laptop)."""
    screen = window.screen()
    if screen is not None:
        room = screen.availableGeometry()
        frame_w = window.frameGeometry().width() - window.width() if window.isVisible() else 0
        frame_h = window.frameGeometry().height() - window.height() if window.isVisible() else TITLE_BAR
        width, height = min(width, room.width() - frame_w), min(height, room.height() - frame_h)
    window.resize(width, height)


def message_area(label, lines: int = 4) -> QScrollArea:
    """A word-wrapped message ``label`` in a frameless area ``lines`` lines high that scrolls when
    the message is longer: the panel around it keeps its height whatever the message says."""
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    label.setAlignment(Qt.AlignLeft | Qt.AlignTop)
    area = QScrollArea()
    area.setObjectName("message-area")
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    area.setWidget(label)
    area.setFixedHeight(label.fontMetrics().lineSpacing() * lines + 4)
    return area
