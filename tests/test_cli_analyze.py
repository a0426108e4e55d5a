"""``exodeep analyze``: events beside the movies (or from their saved review), conditions by folder
or from a CSV (with pairs), tables that Fiji reads, figures, one self-contained report; no
overwrite without --overwrite; bad events refused naming the rows; uncalibrated movies in px and
frames with a note."""

import csv

import numpy as np
import pytest

from exodeep_gui.cli import main
from exodeep_gui.core.simulate import SimulationParams, simulate_movie
from exodeep_gui.io.movie_io import write_imagej_tiff
from exodeep_gui.io.results import read_events, results_csv_text

PARAMS = SimulationParams(frames=60, height=64, width=64, events=8, docked=4, visiting=2)


def _movie(folder, name, seed, calibrated=True, events_name="{name}_events.csv"):
    sim = simulate_movie(PARAMS, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    px, dt = (PARAMS.pixel_size_um, PARAMS.frame_interval_s) if calibrated else (None, None)
    path = write_imagej_tiff(folder / f"{name}.tif", sim.movie, px, dt)
    if events_name:
        (folder / events_name.format(name=name)).write_text(results_csv_text(sim.truth))
    return path, sim


@pytest.fixture(scope="module")
def two_conditions(tmp_path_factory):
    root = tmp_path_factory.mktemp("an")
    for k in range(2):
        _movie(root / "ctrl", f"cell{k}", seed=k)
        _movie(root / "drug", f"cell{k}", seed=10 + k)
    return root


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_analyze_folders_as_conditions_writes_tables_figures_and_report(two_conditions, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["analyze", str(two_conditions / "ctrl"), str(two_conditions / "drug"), "--out", str(out),
                 "--simulations", "19"]) == 0
    printed = capsys.readouterr()
    assert "report:" in printed.out and "ctrl/cell0" in printed.err
    with open(out / "events.csv") as fh:
        header = fh.readline().rstrip("\n").split(",")
    assert header[:4] == [" ", "X", "Y", "Slice"] and header[4] == "dF_F0"
    for col in ("onset_frame", "rise_s", "tau_s", "t_half_s", "decay_r2", "fwhm_um", "fit_note", "movie"):
        assert col in header
    assert len(read_events(out / "events.csv")) == 32                  # Fiji's layout: our reader reads it
    movies = _rows(out / "movies.csv")
    assert [m["movie"] for m in movies] == ["ctrl/cell0", "ctrl/cell1", "drug/cell0", "drug/cell1"]
    assert {m["condition"] for m in movies} == {"ctrl", "drug"} and float(movies[0]["rate_per_um2_per_min"]) > 0
    conds = _rows(out / "conditions.csv")
    assert [c["condition"] for c in conds] == ["ctrl", "drug"] and conds[0]["n_cells"] == "2"
    comps = _rows(out / "comparisons.csv")
    assert {c["test"] for c in comps} == {"Mann–Whitney U"} and len(comps) == 4
    figs = sorted(p.name for p in (out / "figures").iterdir())
    assert "ctrl_cell0_map.png" in figs and "ctrl_cell0_map.svg" in figs
    assert "conditions_rate_per_um2_per_min.svg" in figs
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 4 * 6 + 4
    assert "http" not in html.replace("http-equiv", "") and "<script" not in html
    assert "Mann–Whitney U" in html and "ctrl/cell1" in html
    # again: refused, nothing changed; with --overwrite: replaced
    before = (out / "events.csv").stat().st_mtime_ns
    assert main(["analyze", str(two_conditions / "ctrl"), "--out", str(out)]) == 1
    assert "already holds" in capsys.readouterr().err and (out / "events.csv").stat().st_mtime_ns == before
    assert main(["analyze", str(two_conditions / "ctrl"), "--out", str(out), "--overwrite", "--simulations",
                 "9"]) == 0
    assert len(_rows(out / "movies.csv")) == 2


def test_paired_conditions_from_a_csv_and_filters(two_conditions, tmp_path, capsys):
    table = tmp_path / "conditions.csv"
    table.write_text("movie,condition,pair\ncell0.tif,before,A\ncell1.tif,before,B\n")
    out = tmp_path / "paired"
    assert main(["analyze", str(two_conditions / "ctrl"), "--conditions", str(table), "--out", str(out),
                 "--filter", "decay_r2>=0.5", "--simulations", "9"]) == 0
    ev = _rows(out / "events.csv")
    kept = [e for e in ev if e["kept"] == "1"]
    assert kept and all(float(e["decay_r2"]) >= 0.5 for e in kept) and len(kept) < len(ev)
    assert "decay_r2 &gt;= 0.5" in (out / "report.html").read_text()


def test_paired_design_gives_wilcoxon_and_paired_cohens_d(tmp_path, capsys):
    for k in range(3):
        _movie(tmp_path / "m", f"before{k}", seed=20 + k)
        _movie(tmp_path / "m", f"after{k}", seed=30 + k)
    table = tmp_path / "cond.csv"
    table.write_text("movie,condition,pair\n" + "".join(f"before{k},before,cell{k}\nafter{k},after,cell{k}\n"
                                                         for k in range(3)))
    out = tmp_path / "out"
    assert main(["analyze", str(tmp_path / "m"), "--conditions", str(table), "--out", str(out),
                 "--simulations", "9"]) == 0
    comps = _rows(out / "comparisons.csv")
    paired = [c for c in comps if c["test"] == "Wilcoxon signed-rank"]
    assert len(paired) == 4 and all(c["n_a"] == "3" for c in paired)
    movies = {m["movie"]: m for m in _rows(out / "movies.csv")}
    x = np.array([[float(movies[f"{c}{k}"]["dF_F0_median"]) for k in range(3)] for c in ("before", "after")])
    d = (x[1] - x[0]).mean() / (x[1] - x[0]).std(ddof=1)
    row = next(c for c in paired if c["quantity"] == "dF_F0_median")
    assert float(row["cohens_d"]) == pytest.approx(d, rel=1e-4)
    assert "Wilcoxon signed-rank, n = 3 pairs" in (out / "report.html").read_text()


def test_events_outside_the_movie_are_refused_and_nothing_is_written(tmp_path, capsys):
    path, sim = _movie(tmp_path / "m", "cell", seed=1)
    (tmp_path / "m" / "cell_events.csv").write_text(" ,X,Y,Slice\n1,10,10,5\n2,300,10,5\n3,10,10,99\n")
    out = tmp_path / "out"
    assert main(["analyze", str(path), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "row 2 (X 300" in err and "row 3 (X 10, Y 10, Slice 99)" in err and "row 1 " not in err
    assert not (out / "events.csv").exists()


def test_uncalibrated_movie_gives_pixels_and_frames_with_a_note(tmp_path, capsys):
    path, _ = _movie(tmp_path / "m", "raw", seed=2, calibrated=False)
    out = tmp_path / "out"
    assert main(["analyze", str(path), "--out", str(out), "--simulations", "9"]) == 0
    header = (out / "events.csv").read_text().splitlines()[0].split(",")
    assert "t_half_frames" in header and "fwhm_px" in header and "t_half_s" not in header
    assert "rate_per_px2_per_frame" in _rows(out / "movies.csv")[0]
    html = (out / "report.html").read_text()
    assert "no frame interval in the movie" in html and "no pixel size in the movie" in html
    assert "frames" in capsys.readouterr().out


def test_reviewed_events_are_used_when_there_is_no_table(tmp_path, capsys):
    from exodeep_gui.core import review
    from exodeep_gui.io.review_file import SavedReview, save_review

    path, sim = _movie(tmp_path / "m", "rev", seed=3, events_name=None)
    rows = review.make_rows(sim.truth, np.arange(1, 9), review.DETECTED)
    rows.score[:] = 0.9
    rows.score[0] = 0.1                                   # below the saved filter: not analysed
    rows = review.delete(rows, 2)                         # deleted: not analysed
    save_review(SavedReview(rows, 9, filter=review.EventFilter(0.5, 0)), path, sim.movie.shape)
    out = tmp_path / "out"
    assert main(["analyze", str(path), "--out", str(out), "--simulations", "9"]) == 0
    ev = _rows(out / "events.csv")
    assert len(ev) == 6 and {int(e["id"]) for e in ev} == set(range(3, 9))
    assert "reviewed events" in capsys.readouterr().err
    # and with neither a table nor a review: a clear message
    other, _ = _movie(tmp_path / "n", "bare", seed=4, events_name=None)
    assert main(["analyze", str(other), "--out", str(tmp_path / "o2")]) == 1
    assert "no events table beside it" in capsys.readouterr().err


def test_cell_mask_from_beside_a_folder_or_a_polygon(tmp_path, capsys):
    from exodeep_gui.io.movie_io import write_imagej_tiff as write_tiff

    path, sim = _movie(tmp_path / "m", "cell", seed=5)
    out = tmp_path / "o1"
    assert main(["analyze", str(path), "--out", str(out), "--simulations", "9"]) == 0
    assert _rows(out / "movies.csv")[0]["mask"] == "automatic (Otsu)"          # no mask beside it
    masks = tmp_path / "masks"
    half = np.zeros((64, 64), np.uint8)
    half[:, :32] = 255
    write_tiff(masks / "cell_mask.tif", half)
    assert main(["analyze", str(path), "--mask", str(masks), "--out", str(tmp_path / "o2"), "--simulations", "9"]) == 0
    row = _rows(tmp_path / "o2" / "movies.csv")[0]
    assert row["mask"] == "mask file cell_mask.tif" and float(row["area_um2"]) == pytest.approx(64 * 32 * 0.0256)
    ev = _rows(tmp_path / "o2" / "events.csv")
    assert all((e["in_mask"] == "1") == (float(e["X"]) < 31.5) for e in ev)
    assert main(["analyze", str(path), "--polygon", "0,0 20,0 20,20 0,20", "--out", str(tmp_path / "o3"),
                 "--simulations", "9"]) == 0
    row = _rows(tmp_path / "o3" / "movies.csv")[0]
    assert row["mask"] == "polygon" and float(row["area_um2"]) == pytest.approx(21 * 21 * 0.0256)
