"""File > Analyze event tables…: earlier work's tables and masks analysed from the window, without
movies, through the menu item and the dialog's buttons; a cell without its mask is named."""

import numpy as np
import tifffile

from tests.gui.helpers import menu_action


def _tables(root):
    d = root / "tables"
    d.mkdir()
    rows = ["movie,condition,pair,frames,frame_interval_s,pixel_size_um"]
    rng = np.random.default_rng(0)
    for k, (cond, n) in enumerate([("before", 30), ("before", 25), ("after", 10), ("after", 12)]):
        name = f"cell{k}"
        mask = np.zeros((80, 100), np.uint8)
        mask[10:70, 10:90] = 255
        if k != 3:                                       # the last cell's mask is missing
            tifffile.imwrite(d / f"{name}_mask.tif", mask)
        lines = ["X,Y,Slice"] + [f"{x:.2f},{y:.2f},{f}" for x, y, f in
                                 zip(rng.uniform(12, 87, n), rng.uniform(12, 67, n), rng.integers(1, 201, n))]
        (d / f"{name}_events.csv").write_text("\n".join(lines) + "\n")
        rows.append(f"{name},{cond},,200,0.5,0.2")
    (root / "conditions.csv").write_text("\n".join(rows) + "\n")
    return d, root / "conditions.csv"


def test_event_tables_are_analysed_from_the_window(window, qtbot, tmp_path):
    events, conditions = _tables(tmp_path)
    menu_action(window, "File", "Analyze event tables (no movies)…").trigger()
    dialog = window.tables_dialog
    assert dialog.isVisible() and not dialog.run_button.isEnabled()        # nothing chosen yet
    dialog.events.setText(str(events))
    dialog.conditions.setText(str(conditions))
    dialog.out.setText(str(tmp_path / "report"))
    assert dialog.run_button.isEnabled()
    dialog.run_button.click()
    qtbot.waitUntil(lambda: dialog.job is None, timeout=120_000)
    assert dialog.result is not None and len(dialog.result.analyses) == 3, dialog.status.text()
    text = dialog.status.text()
    assert "Analysed 3 cells" in text and "cell3" in text and "mask" in text
    assert (tmp_path / "report" / "report.html").is_file() and dialog.open_button.isEnabled()
    dialog.close()
