"""tools/pnas_exocytosis.py (not part of the application) on tiny R data files of the published
study's structure (lists of (x, y, t) matrices and of masks, acquisition times, frames, reported
rates, a before/after condition vector), written here with the ``rdata`` package (skipped without
it): events tables in ImageJ's layout, masks as TIFF with row = y, a conditions table with the
timing and the before/after pairs, a mask that misses its events left out; then ``exodeep analyze
--events`` on them."""

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest

rdata = pytest.importorskip("rdata")

TOOL = Path(__file__).resolve().parents[1] / "tools" / "pnas_exocytosis.py"


def _tool():
    spec = importlib.util.spec_from_file_location("pnas_exocytosis", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _mask(h, w, rows, cols):
    m = np.zeros((h, w))
    m[rows[0]:rows[1], cols[0]:cols[1]] = 1.0
    return m


def _write(folder: Path, prefix: str, **objects):
    for what, (name, value) in objects.items():
        rdata.write_rda(str(folder / f"{prefix} - {what}.RData"), {name: value})


@pytest.fixture()
def dataset(tmp_path):
    d = tmp_path / "Dataset Exo"
    d.mkdir()
    # control: two cells; the mask is tall (40 rows) and narrow (20 columns): row = y
    ctrl = [np.array([[5.0, 30.0, 1.0], [12.0, 35.0, 600.0], [15.0, 10.0, 50.0]]),
            np.array([[3.0, 3.0, 2.0], [4.0, 4.0, 3.0]])]
    _write(d, "Ctrl", **{"Exocytosis coordinates": ("Exo2", ctrl),
                         "Cell masks": ("Mask", [_mask(40, 20, (0, 40), (0, 20)), _mask(40, 20, (30, 40), (10, 20))]),
                         "Acquisition time": ("Timer2", np.array([300.0, 180.0])),
                         "Number of frames": ("NFrame", np.array([1001, 601])),
                         "Exocytosis rate": ("Frequency", np.array([3 / (300 * 800 * 0.0256), 1e-3]))})
    # a paired drug set: cell k "Ctrl" is cell k "Drug" before the treatment
    drug = [np.array([[5.0, 5.0, 10.0], [6.0, 6.0, 20.0]]), np.array([[7.0, 7.0, 30.0]]),
            np.array([[8.0, 8.0, 40.0]]), np.zeros((0, 3))]
    masks = [_mask(30, 30, (0, 30), (0, 30))] * 4
    _write(d, "Bafilomycin", **{"Exocytosis coordinates": ("Exo2", drug), "Cell masks": ("Mask", masks),
                                "Acquisition time": ("Timer", np.array([400.0, 410.0, 420.0, 430.0])),
                                "Condition": ("Conditions", np.array(["Ctrl", "Ctrl", "Bafilomycin", "Bafilomycin"]))})
    return d


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_converter_writes_the_events_only_layout(dataset, tmp_path, capsys):
    tool = _tool()
    out = tmp_path / "conv"
    tool.convert_set(dataset, "Ctrl", out, "Ctrl", frames=np.array([1001, 601]))
    tool.convert_set(dataset, "Bafilomycin", out, "Baf")
    import tifffile

    from exodeep_gui.io.analysis_inputs import read_conditions, read_event_table
    from exodeep_gui.io.masks import read_mask

    ev = read_event_table(out / "Ctrl" / "Ctrl_001_events.csv")
    np.testing.assert_allclose(ev.x, [5, 12, 15])
    np.testing.assert_array_equal(ev.frame, [0, 599, 49])                           # Slice 1-based
    mask = read_mask(out / "Ctrl" / "Ctrl_001_mask.tif")
    assert mask.shape == (40, 20) and tifffile.imread(out / "Ctrl" / "Ctrl_001_mask.tif").dtype == np.uint8
    assert mask[np.rint(ev.y).astype(int), np.rint(ev.x).astype(int)].all()          # row = y
    assert not (out / "Ctrl" / "Ctrl_002_mask.tif").exists()                        # its events are outside it
    cond = read_conditions(out / "Ctrl" / "conditions.csv")
    assert cond["Ctrl_002"].frames == 601 and cond["Ctrl_002"].frame_interval_s == pytest.approx(0.3)
    assert cond["Ctrl_001"].pixel_size_um == pytest.approx(0.16) and cond["Ctrl_001"].condition == "Ctrl"
    baf = read_conditions(out / "Baf" / "conditions.csv")
    assert [(k, r.condition, r.pair) for k, r in baf.items()] == [
        ("Baf_001", "before", "p01"), ("Baf_002", "before", "p02"), ("Baf_003", "after", "p01"),
        ("Baf_004", "after", "p02")]
    assert len(read_event_table(out / "Baf" / "Baf_004_events.csv")) == 0          # no event after the drug
    # and exodeep analyze --events on it: the control rate as the study computed it
    from exodeep_gui.cli import main

    assert main(["analyze", "--events", str(out / "Ctrl"), "--conditions", str(out / "Ctrl" / "conditions.csv"),
                 "--out", str(tmp_path / "a"), "--simulations", "9", "--movie-figures", "0"]) == 1
    err = capsys.readouterr().err
    assert "Ctrl_002: no mask Ctrl_002_mask.tif" in err
    row = _rows(tmp_path / "a" / "movies.csv")[0]
    rate_per_s = float(row["rate_per_um2_per_min"]) / 60
    assert rate_per_s == pytest.approx(3 / (1001 * 0.3 * 800 * 0.0256), rel=1e-6)      # frames × interval
    assert rate_per_s == pytest.approx(3 / (300 * 800 * 0.0256), rel=2e-3)              # the study's: n/(T·A)
    assert main(["analyze", "--events", str(out / "Baf"), "--conditions", str(out / "Baf" / "conditions.csv"),
                 "--out", str(tmp_path / "b"), "--simulations", "9", "--movie-figures", "0"]) == 0
    wil = [c for c in _rows(tmp_path / "b" / "comparisons.csv") if c["test"] == "Wilcoxon signed-rank"]
    assert wil and wil[0]["n_a"] == "2" and wil[0]["condition_a"] == "before"
