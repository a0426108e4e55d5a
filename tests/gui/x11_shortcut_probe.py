"""Run by test_x11.py under a real X server (Xvfb): press Ctrl+E with xdotool while a spin box
has the focus, as a user does, and print whether the window's Export action fired."""
import subprocess
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

app = QApplication([])
from exodeep_gui.gui.main_window import MainWindow
from exodeep_gui.gui.settings import Settings

w = MainWindow(Settings())
w.show()
w.open_paths([sys.argv[1]])
hits = []
w.files.export_dialog = lambda *a, **k: hits.append("export") or []


def press():
    w.activateWindow()
    w.detection.threshold.setFocus()
    app.processEvents()
    wid = str(int(w.winId()))
    subprocess.run(["xdotool", "windowfocus", "--sync", wid], check=False)
    subprocess.run(["xdotool", "key", "--window", wid, "--clearmodifiers", "ctrl+e"], check=False)


QTimer.singleShot(1000, press)
QTimer.singleShot(3000, lambda: (print("FOCUS", type(app.focusWidget()).__name__, "HITS", hits, flush=True), app.quit()))
app.exec()
