"""Layout helpers that keep the window within a laptop's screen (1280 × 720 and up)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt, QTimer
from PySide6.QtWidgets import QFrame, QScrollArea, QWidget

MIN_PANEL_HEIGHT = 60          # what a scrolling panel asks for at least (a row or two)


class VerticalScroll(QScrollArea):
    """A frameless scroll area that gives its widget all the room there is and scrolls up and down
    when there is less than it needs; it is never narrower than the widget (no sideways scrolling
    of buttons and spin boxes)."""

    # The widget's height is set here, not by QScrollArea's widgetResizable: with a word-wrapped label
    # inside, that one takes the widget's *preferred* height for the width as its least, so a panel
    # scrolled (its plot below the fold) with room to spare for its minimum.

    def __init__(self, widget: QWidget):
        super().__init__()
        self.setObjectName(f"scroll-{widget.objectName() or type(widget).__name__}")
        self.setWidgetResizable(False)
        self.setFrameShape(QFrame.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setWidget(widget)
        self._refit = QTimer(self, singleShot=True, interval=0)     # once the widget's layout has settled
        self._refit.timeout.connect(self.fit_widget)
        widget.installEventFilter(self)

    def least_height(self, width: int) -> int:
        """The widget's least height at ``width`` (its word-wrapped labels' lines counted)."""
        widget = self.widget()
        layout = widget.layout()
        least = widget.minimumSizeHint().height()
        if layout is not None and layout.hasHeightForWidth():
            least = max(least, layout.totalMinimumHeightForWidth(width))
        return max(least, widget.minimumHeight())

    def fit_widget(self) -> None:
        """The widget as wide as the view and as tall as the view, or as its least height if more."""
        widget = self.widget()
        if widget is None:
            return
        width = self.viewport().width()
        least = self.least_height(width)
        if least > self.viewport().height() and self.verticalScrollBar().isHidden():
            width = max(0, width - self.verticalScrollBar().sizeHint().width())    # the scroll bar will take it
            least = self.least_height(width)
        width = max(width, widget.minimumSizeHint().width())
        height = max(self.viewport().height(), least)
        if widget.size() != QSize(width, height):
            widget.resize(width, height)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fit_widget()

    def eventFilter(self, obj, event) -> bool:
        if obj is self.widget() and event.type() == QEvent.LayoutRequest:
            self._refit.start()
        return super().eventFilter(obj, event)

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
