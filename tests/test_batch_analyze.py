"""``exodeep analyze`` through the batch machinery (exodeep_gui.batch.analyze): the same tables as
the former in-process path, per-movie analyses reused by a second run (and redone when their
events or the options change), one failing movie reported while the others are analysed, and a
2-worker local Dask cluster giving the same events.csv."""

import csv
import json
import shutil
from pathlib import Path

import pytest

from exodeep_gui.batch.analyze import ANALYZE, PER_MOVIE, collect, read_analysis
from exodeep_gui.batch.runner import read_report, run_batch
from exodeep_gui.cli import main
from exodeep_gui.core.simulate import SimulationParams, simulate_movie
from exodeep_gui.io.analysis_output import TABLES
from exodeep_gui.io.movie_io import write_imagej_tiff
from exodeep_gui.io.results import results_csv_text

PARAMS = SimulationParams(frames=60, height=64, width=64, events=8, docked=4, visiting=2)
REPORT = "exodeep_analyze_report.csv"


def _movie(folder: Path, name: str, seed: int) -> Path:
    sim = simulate_movie(PARAMS, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    path = write_imagej_tiff(folder / f"{name}.tif", sim.movie, PARAMS.pixel_size_um, PARAMS.frame_interval_s)
    (folder / f"{name}_events.csv").write_text(results_csv_text(sim.truth))
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """ctrl/cell0, ctrl/cell1 and drug/cell0: named ctrl/cell0, cell1 and drug/cell0 in the tables."""
    root = tmp_path_factory.mktemp("movies")
    _movie(root / "ctrl", "cell0", seed=0)
    _movie(root / "ctrl", "cell1", seed=1)
    _movie(root / "drug", "cell0", seed=10)
    return root


def children():
    """Processes this one started, but multiprocessing's resource tracker (as in test_batch)."""
    import psutil

    procs = [" ".join(p.cmdline()) for p in psutil.Process().children(recursive=True) if p.is_running()]
    return [c for c in procs if "resource_tracker" not in c]


def _args(data, out, *more):
    return ["analyze", str(data / "ctrl"), str(data / "drug"), "--out", str(out), "--simulations", "9", *more]


def _tasks(data, out, **options):
    """The tasks and fingerprint ``exodeep analyze ctrl drug --out OUT --simulations 9`` makes."""
    from exodeep_gui.batch.analyze import AnalyzeSettings, analyze_tasks
    from exodeep_gui.core.analysis import AnalysisOptions
    from exodeep_gui.io.analysis_inputs import condition_of
    from exodeep_gui.io.movie_io import find_movies

    movies = find_movies([data / "ctrl", data / "drug"])
    settings = AnalyzeSettings(AnalysisOptions(ripley_simulations=9, **options), several=True)
    tasks = analyze_tasks(movies, out, settings, [condition_of(p, None) for p in movies])
    return tasks, ANALYZE.fingerprint(settings)


def _statuses(out):
    return [r["status"] for r in read_report(Path(out) / REPORT)]


def _in_process(data) -> dict:
    """The tables of the former path of ``exodeep analyze``: every movie opened here, analyze_movies,
    then the tables as write_analysis writes them (its figures and report left out: slow)."""
    from exodeep_gui.core.analysis import AnalysisOptions, analyze_movies
    from exodeep_gui.core.progress import run_to_end
    from exodeep_gui.io import analysis_tables as tables
    from exodeep_gui.io.analysis_inputs import load_movie_events
    from exodeep_gui.io.analysis_output import conditions_tables
    from exodeep_gui.io.movie_io import find_movies, open_movie

    options = AnalysisOptions(ripley_simulations=9)
    items = []
    for path, name in zip(find_movies([data / "ctrl", data / "drug"]), ["ctrl/cell0", "cell1", "drug/cell0"]):
        movie = open_movie(path)
        events, _ = load_movie_events(movie, path, None, True)
        items.append({"movie": movie, "events": events, "name": name, "condition": path.parent.name, "pair": ""})
    analyses = run_to_end(analyze_movies(items, options))
    cond_rows, comparisons, _, _ = conditions_tables(analyses)
    return {"events.csv": tables.events_csv_text(analyses), "movies.csv": tables.movies_csv_text(analyses),
            "conditions.csv": tables.conditions_csv_text(cond_rows),
            "comparisons.csv": tables.comparisons_csv_text(comparisons)}


def test_sequential_runs_give_the_former_tables_and_a_second_run_reuses_the_movies(data, tmp_path, capsys):
    reference = _in_process(data)
    assert set(reference) == set(TABLES)
    out = tmp_path / "out"
    assert main(_args(data, out)) == 0
    err = capsys.readouterr().err
    assert "ctrl/cell0: 8 events from" in err and "condition 'drug'" in err
    for name in TABLES:
        assert (out / name).read_text() == reference[name], name
    assert _statuses(out) == ["ok", "ok", "ok"]
    files = sorted(p.name for p in (out / PER_MOVIE).iterdir())
    assert files == ["cell1.analysis.pkl", "ctrl_cell0.analysis.pkl", "drug_cell0.analysis.pkl"]
    analysis = read_analysis(out / PER_MOVIE / "cell1.analysis.pkl")
    assert analysis.name == "cell1" and len(analysis) == 8
    marker = json.loads((out / ".exodeep" / "cell1.analyze.json").read_text())
    assert marker["state"] == "done" and marker["fingerprint"]["options"]["ripley_simulations"] == 9
    assert marker["fingerprint"]["events"]["path"].endswith("cell1_events.csv")
    stamp = {p.name: p.stat().st_mtime_ns for p in (out / PER_MOVIE).iterdir()}

    # the final outputs are there: refused without --overwrite, as before, before any work
    assert main(_args(data, out)) == 1
    assert "already holds" in capsys.readouterr().err
    # with --overwrite: every movie reused, the report rewritten, the same tables
    (out / REPORT).unlink()
    assert main(_args(data, out, "--overwrite")) == 0
    err = capsys.readouterr().err
    assert "3 of 3 movies analysed (3 by an earlier run)" in err and "(analysed by an earlier run)" in err
    assert _statuses(out) == ["skipped", "skipped", "skipped"]
    assert {p.name: p.stat().st_mtime_ns for p in (out / PER_MOVIE).iterdir()} == stamp
    for name in TABLES:
        assert (out / name).read_text() == reference[name], name

    # killed before the final outputs, with one movie's events edited meanwhile: only that movie again
    for name in TABLES:
        (out / name).unlink()
    events = data / "ctrl" / "cell1_events.csv"
    saved = events.read_text()
    try:
        events.write_text(saved.splitlines()[0] + "\n" + "\n".join(saved.splitlines()[1:5]) + "\n")
        assert main(_args(data, out, "--overwrite")) == 0
        assert _statuses(out) == ["skipped", "ok", "skipped"]
        assert len(read_analysis(out / PER_MOVIE / "cell1.analysis.pkl")) == 4
    finally:
        events.write_text(saved)
    capsys.readouterr()
    # --dry-run with other options says what would run, runs nothing
    assert main(_args(data, out, "--overwrite", "--onset-k", "2.5", "--dry-run")) == 0
    assert "3 movies: 3 to do, 0 finished earlier, 0 refused" in capsys.readouterr().err
    # other options: every per-movie file replaced (no --overwrite needed for them)
    tasks, fingerprint = _tasks(data, out, onset_k=2.5)
    assert [r.status for r in run_batch(ANALYZE, tasks, fingerprint)] == ["ok", "ok", "ok"]
    assert all(p.stat().st_mtime_ns != stamp[p.name] for p in (out / PER_MOVIE).iterdir())
    assert json.loads((out / ".exodeep" / "ctrl_cell0.analyze.json").read_text())[
        "fingerprint"]["options"]["onset_k"] == 2.5


def test_a_failing_movie_is_reported_while_the_others_are_analysed(data, tmp_path, capsys):
    bad = tmp_path / "movies"
    shutil.copytree(data, bad)
    (bad / "drug" / "cell0_events.csv").write_text(" ,X,Y,Slice\n1,10,10,5\n2,300,10,5\n")
    table = tmp_path / "conditions.csv"                    # and one movie is not in the conditions table
    table.write_text("movie,condition\ncell0.tif,a\n")          # both cell0 movies, not cell1
    out = tmp_path / "out"
    assert main(_args(bad, out)) == 1
    err = capsys.readouterr().err
    assert "error: " in err and "row 2 (X 300, Y 10, Slice 5)" in err and "row 1 " not in err
    assert "2 of 3 movies analysed, 1 failed" in err
    rows = read_report(out / REPORT)
    assert [r["status"] for r in rows] == ["ok", "ok", "failed"]
    assert "cell0_events.csv: 1 event(s) outside the movie" in rows[2]["reason"] and "\n" not in rows[2]["reason"]
    with open(out / "movies.csv", newline="") as fh:
        assert [m["movie"] for m in csv.DictReader(fh)] == ["ctrl/cell0", "cell1"]
    assert not (out / PER_MOVIE / "drug_cell0.analysis.pkl").exists()
    # a conditions table without one of the movies: that movie fails before any work
    assert main(_args(bad, tmp_path / "out2", "--conditions", str(table))) == 1
    err = capsys.readouterr().err
    assert "cell1.tif: not in the conditions table" in err
    assert _statuses(tmp_path / "out2") == ["ok", "failed", "failed"]


def test_a_file_that_cannot_be_read_back_is_redone_by_the_next_run(data, tmp_path):
    tasks, fingerprint = _tasks(data, tmp_path)
    results = run_batch(ANALYZE, tasks, fingerprint)
    analyses, results = collect(tasks, results)
    assert [a.name for a in analyses] == ["ctrl/cell0", "cell1", "drug/cell0"]
    assert [a.condition for a in analyses] == ["ctrl", "ctrl", "drug"]
    (tmp_path / PER_MOVIE / "cell1.analysis.pkl").write_bytes(b"not a pickle")
    results = run_batch(ANALYZE, tasks, fingerprint)
    assert [r.status for r in results] == ["skipped", "skipped", "skipped"]
    analyses, results = collect(tasks, results)
    assert [r.status for r in results] == ["skipped", "failed", "skipped"] and len(analyses) == 2
    assert "cell1.analysis.pkl: cannot read this movie's analysis" in results[1].reason
    assert not (tmp_path / PER_MOVIE / "cell1.analysis.pkl").exists()       # so the next run redoes it
    assert [r.status for r in run_batch(ANALYZE, tasks, fingerprint)] == ["skipped", "ok", "skipped"]


@pytest.mark.slow
def test_two_local_workers_give_the_same_events_as_the_sequential_run(data, tmp_path, capsys):
    assert main(_args(data, tmp_path / "seq")) == 0
    assert main(_args(data, tmp_path / "dask", "--workers", "2")) == 0
    err = capsys.readouterr().err
    assert children() == []                          # the cluster's processes are gone
    assert "local cluster: 2 worker processes × 1 thread" in err and "3 movies to do, 0 finished earlier" in err
    for name in TABLES:
        assert (tmp_path / "dask" / name).read_text() == (tmp_path / "seq" / name).read_text(), name
    rows = read_report(tmp_path / "dask" / REPORT)
    assert [r["status"] for r in rows] == ["ok", "ok", "ok"] and all("@" in r["worker"] for r in rows)


def test_the_cell_outline_drawn_in_the_window_is_the_default_mask(tmp_path):
    """A cell outline kept with the movie's review (drawn in the window) is used instead of the
    automatic mask, and changing it redoes the movie."""
    import json

    from exodeep_gui.cli import main
    from exodeep_gui.core.simulate import SimulationParams, simulate_movie
    from exodeep_gui.io.results import results_csv_text
    from exodeep_gui.io.review_file import beside_path
    from exodeep_gui.io.simulated import write_simulated

    sim = simulate_movie(SimulationParams(frames=60, height=64, width=64, events=6, docked=4, visiting=2), seed=3)
    movie = write_simulated(tmp_path, "cell", sim)
    (tmp_path / "cell_mask.tif").unlink()
    (tmp_path / "cell_events.csv").write_text(results_csv_text(sim.truth))
    outline = [[4, 4], [60, 4], [60, 60], [4, 60]]
    beside_path(movie).write_text(json.dumps({"format": "exodeep-review", "version": 1, "cell": outline,
                                              "movie": {"shape": [60, 64, 64]}}))
    assert main(["analyze", str(movie), "--out", str(tmp_path / "out")]) == 0
    movies = (tmp_path / "out" / "movies.csv").read_text()
    assert "outline drawn on the movie" in movies
    area = 56 * 56
    import csv

    row = next(csv.DictReader(movies.splitlines()))
    area_col = next(k for k in row if k.startswith("area_"))
    assert abs(float(row[area_col]) / (0.16 ** 2 if area_col == "area_um2" else 1) - area) / area < 0.1
