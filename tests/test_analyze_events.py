"""``exodeep analyze --events DIR --conditions FILE --out OUT`` without movies: each events table with
its mask and its movie's timing from the conditions table gives the rates, spatial statistics and
condition comparisons (paired with pairs), the kinetics columns blank with the reason; a movie
without its timing or its mask is named in one line while the others are analysed; the tables'
own columns (score, size, id, origin, status) are read, blank when blank; a second run resumes;
the window's function (io.event_tables.analyze_event_tables) gives the same analyses."""

import csv

import numpy as np
import pytest
import tifffile

from exodeep_gui.cli import main
from exodeep_gui.core.analysis import AnalysisOptions
from exodeep_gui.io.analysis_inputs import read_conditions, read_event_table
from exodeep_gui.io.event_tables import analyze_event_tables, plan_event_tables

H, W = 80, 100
FRAMES, DT, PX = 200, 0.5, 0.2


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _cell(folder, name, n, seed, mask_rows=(10, 70), extra=True):
    """A rectangular cell (rows mask_rows, columns 10–89) with ``n`` events inside and one outside;
    the table has blank score and size cells, an id, an origin and a status column."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((H, W), np.uint8)
    mask[mask_rows[0]:mask_rows[1], 10:90] = 255
    tifffile.imwrite(folder / f"{name}_mask.tif", mask)
    x = np.r_[rng.uniform(12, 87, n), 95.0]
    y = np.r_[rng.uniform(mask_rows[0] + 2, mask_rows[1] - 3, n), 5.0]
    f = np.r_[rng.integers(1, FRAMES + 1, n), 3]
    lines = [" ,X,Y,Slice,score,size,id,origin,status" if extra else "X,Y,Slice"]
    for k in range(n + 1):
        score = f"{0.5 + 0.4 * (k % 2):.2f}" if k < 3 else ""          # known for the first three only
        lines.append(f"{k + 1},{x[k]:.2f},{y[k]:.2f},{f[k]},{score},,{100 + k},{'added' if k == 0 else 'detected'},"
                     f"{'confirmed' if k % 3 == 0 else ''}" if extra else f"{x[k]:.2f},{y[k]:.2f},{f[k]}")
    (folder / f"{name}_events.csv").write_text("\n".join(lines) + "\n")
    return mask > 0, x, y


@pytest.fixture()
def paired(tmp_path):
    """Three cells before and after: fewer events after (20, 25, 30 → 8, 10, 12)."""
    d = tmp_path / "tables"
    d.mkdir()
    rows = ["movie,condition,pair,frames,frame_interval_s,pixel_size_um"]
    for k in range(3):
        _cell(d, f"b{k}", 20 + 5 * k, seed=k)
        _cell(d, f"a{k}", 8 + 2 * k, seed=10 + k, mask_rows=(20, 60))
        rows += [f"b{k},before,c{k},{FRAMES},{DT},{PX}", f"a{k}_events.csv,after,c{k},{FRAMES},{DT},{PX}"]
    (tmp_path / "cond.csv").write_text("\n".join(rows) + "\n")
    return tmp_path


def _args(root, out, *more):
    return ["analyze", "--events", str(root / "tables"), "--conditions", str(root / "cond.csv"), "--out", str(out),
            "--simulations", "19", *(more or ("--movie-figures", "0"))]


def test_rates_spatial_statistics_and_a_paired_comparison_without_movies(paired, capsys):
    out = paired / "out"
    assert main(_args(paired, out, "--movie-figures", "1")) == 0
    movies = {m["movie"]: m for m in _rows(out / "movies.csv")}
    assert set(movies) == {"b0", "b1", "b2", "a0", "a1", "a2"}
    b1 = movies["b1"]
    area = 60 * 80 * PX ** 2                                      # µm²
    assert float(b1["area_um2"]) == pytest.approx(area)
    assert b1["events"] == "26" and b1["events_kept"] == "25"    # the event outside the cell is not counted
    assert float(b1["rate_per_um2_per_min"]) == pytest.approx(25 / (area * FRAMES * DT / 60), rel=1e-6)
    assert b1["ripley_verdict"] and float(b1["nn_median_um"]) > 0 and b1["dF_F0_median"] == ""
    comps = _rows(out / "comparisons.csv")
    assert {c["quantity"] for c in comps} == {"rate_per_um2_per_min", "nn_median_um", "clark_evans_R"}
    rate = [c for c in comps if c["quantity"] == "rate_per_um2_per_min"]
    wil = next(c for c in rate if c["test"] == "Wilcoxon signed-rank")
    assert wil["n_a"] == "3" and (wil["condition_a"], wil["condition_b"]) == ("before", "after")
    before = np.array([float(movies[f"b{k}"]["rate_per_um2_per_min"]) for k in range(3)])
    after = np.array([float(movies[f"a{k}"]["rate_per_um2_per_min"]) for k in range(3)])
    delta = after - before
    assert float(wil["cohens_d"]) == pytest.approx(delta.mean() / delta.std(ddof=1), rel=1e-4)
    # per event: the kinetics blank with the reason, the table's own columns read or carried
    ev = _rows(out / "events.csv")
    assert len(ev) == 3 * 26 + 9 + 11 + 13
    first = next(e for e in ev if e["movie"] == "b0" and e["id"] == "100")
    assert first["dF_F0"] == first["t_half_s"] == first["diffusion_um2_s"] == first["fusion_mode"] == ""
    assert "no movie" in first["fit_note"]
    assert first["score"] == "0.5" and first["size"] == "" and first["origin"] == "added"
    assert first["status"] == "confirmed"
    assert next(e for e in ev if e["movie"] == "b0" and e["id"] == "104")["score"] == ""      # blank: unknown
    html = (out / "report.html").read_text()
    assert "analysed from the events table alone" in html and "Wilcoxon signed-rank, n = 3 pairs" in html
    figs = {p.name for p in (out / "figures").iterdir()}
    assert "b0_map.png" in figs and "b0_spatial.png" in figs and not any("kinetics" in f for f in figs)
    assert not any(f.startswith("b1_") for f in figs)                       # --movie-figures 1
    assert "conditions_rate_per_um2_per_min.png" in figs
    # a second run reuses the six analyses
    capsys.readouterr()
    assert main(_args(paired, paired / "out2", "--movie-figures", "0")) == 0
    assert main(_args(paired, paired / "out2", "--overwrite", "--movie-figures", "0")) == 0
    assert capsys.readouterr().err.count("analysed by an earlier run") == 6


def test_missing_timing_or_mask_is_one_line_naming_the_movie(paired, capsys):
    table = paired / "cond.csv"
    table.write_text(table.read_text().replace(f"a1_events.csv,after,c1,{FRAMES},{DT},{PX}",
                                               f"a1_events.csv,after,c1,{FRAMES},,{PX}"))
    (paired / "tables" / "b2_mask.tif").unlink()
    out = paired / "out"
    assert main(_args(paired, out)) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 2
    assert any("a1:" in ln and "frame_interval_s" in ln for ln in lines)
    assert any("b2:" in ln and "no mask b2_mask.tif" in ln for ln in lines)
    assert {m["movie"] for m in _rows(out / "movies.csv")} == {"b0", "b1", "a0", "a2"}
    # --frame-interval fills what the table lacks
    (paired / "tables" / "b2_mask.tif").write_bytes(b"")                   # a broken mask: named too
    assert main(_args(paired, paired / "o2", "--frame-interval", "0.5", "--movie-figures", "0")) == 1
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "b2_mask.tif" in lines[0] and "not a readable mask" in lines[0]


def test_nothing_but_clear_errors_for_wrong_calls(paired, capsys):
    assert main(["analyze", "--events", str(paired / "tables"), "--out", str(paired / "o")]) == 1
    assert "--conditions" in capsys.readouterr().err
    assert main(["analyze", "--out", str(paired / "o")]) == 1
    assert "--events FOLDER" in capsys.readouterr().err
    assert main(_args(paired, paired / "o", "--filter", "decay_r2>=0.8", "--movie-figures", "0")) == 1
    assert "not available from an events table alone" in capsys.readouterr().err
    assert main(_args(paired, paired / "o3", "--filter", "score>=0.6", "--movie-figures", "0")) == 0   # a column
    kept = [e for e in _rows(paired / "o3" / "events.csv") if e["kept"] == "1"]
    assert kept and all(float(e["score"]) >= 0.6 for e in kept)


def test_one_condition_gives_no_comparison_plots(tmp_path):
    d = tmp_path / "t"
    d.mkdir()
    _cell(d, "only", 30, seed=3, extra=False)
    (tmp_path / "c.csv").write_text(f"movie,condition,frames,frame_interval_s,pixel_size_um\nonly,ctrl,{FRAMES},"
                                    f"{DT},{PX}\n")
    assert main(["analyze", "--events", str(d), "--conditions", str(tmp_path / "c.csv"), "--out",
                 str(tmp_path / "o"), "--simulations", "9"]) == 0
    figs = {p.name for p in (tmp_path / "o" / "figures").iterdir()}
    assert not any(f.startswith("conditions_") for f in figs) and "only_map.png" in figs
    assert "no comparison" not in (tmp_path / "o" / "report.html").read_text()
    assert _rows(tmp_path / "o" / "events.csv")[0]["score"] == ""             # no score column: unknown


def test_the_windows_function_gives_the_report_objects(paired):
    seen = []
    result = analyze_event_tables(paired / "tables", paired / "cond.csv", paired / "o",
                                  AnalysisOptions(ripley_simulations=9), progress=seen.append, max_movie_figures=1)
    assert [a.name for a in result.analyses][:3] == ["b0", "b1", "b2"] and result.problems == []
    assert all(not a.has_pixels and a.units.scaled and a.units.timed for a in result.analyses)
    a = result.analyses[0]
    assert a.trace(0)[2] is None and np.isnan(a.columns["dF_F0"]).all() and a.pair == "c0"
    assert seen and (paired / "o" / "report.html").exists() and result.written["tables"]
    items = plan_event_tables(paired / "tables", read_conditions(paired / "cond.csv"))
    assert [it.frames for it in items] == [FRAMES] * 6 and not any(it.problem for it in items)


def test_events_table_columns_are_read_not_made_up(tmp_path):
    p = tmp_path / "t_events.csv"
    p.write_text(" ,X,Y,Slice,score,size,id,origin,,note\n1,1,2,3,0.9,12,5,added,,x\n2,4,5,6,,,7,detected,,\n")
    ev = read_event_table(p)
    np.testing.assert_array_equal(ev.frame, [2, 5])
    assert ev.score[0] == 0.9 and np.isnan(ev.score[1]) and ev.size[0] == 12 and np.isnan(ev.size[1])
    assert list(ev.extra["id"]) == [5, 7] and list(ev.extra["origin"]) == ["added", "detected"]
    assert list(ev.extra["note"]) == ["x", ""] and "" not in ev.extra
    q = tmp_path / "ref.csv"                                   # ExoDeepFinder's table: no score, no size
    q.write_text("tomo_idx,class_label,x,y,z\n0,1,3.5,4.5,0\n")
    ev = read_event_table(q)
    assert ev.frame[0] == 0 and np.isnan(ev.score[0]) and np.isnan(ev.size[0])
