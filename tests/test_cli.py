import re

import numpy as np
import pytest

from exodeep_gui.cli import main


def test_simulate_detect_evaluate_end_to_end(tmp_path, tiny_model_dir, capsys):
    data = tmp_path / "data"
    assert main(["simulate", str(data), "--movies", "2", "--frames", "20", "--size", "48", "48",
                 "--events", "3"]) == 0
    assert sorted(p.name for p in data.glob("*.tif")) == ["sim_000.tif", "sim_000_mask.tif",
                                                         "sim_001.tif", "sim_001_mask.tif"]
    out = tmp_path / "out"
    assert main(["detect", str(data), "--model", str(tiny_model_dir), "--out", str(out),
                 "--threshold", "0"]) == 0
    report = capsys.readouterr().out
    assert "2 of 2 movies done" in report
    for stem in ("sim_000", "sim_001"):
        for suffix in ("_events.csv", "_RoiSet.zip", "_events.xml"):
            assert (out / f"{stem}{suffix}").is_file()
    assert main(["evaluate", str(data), str(out)]) == 0
    assert "all: precision" in capsys.readouterr().out
    # a perfect prediction scores 1
    assert main(["evaluate", str(data / "sim_000.csv"), str(data / "sim_000.csv")]) == 0
    assert "F1 1.000" in capsys.readouterr().out


def test_existing_results_are_not_overwritten(tmp_path, tiny_model_dir, capsys):
    import tifffile

    movie = tmp_path / "cell.tif"
    tifffile.imwrite(movie, np.random.default_rng(0).poisson(50, (20, 32, 32)).astype(np.uint16))
    precious = tmp_path / "cell_events.csv"
    precious.write_text("my annotations")
    assert main(["detect", str(movie), "--model", str(tiny_model_dir)]) == 1
    assert precious.read_text() == "my annotations"
    assert "--overwrite" in capsys.readouterr().err
    assert main(["detect", str(movie), "--model", str(tiny_model_dir), "--overwrite"]) == 0
    assert precious.read_text().startswith(" ,X,Y,Slice")


def test_bad_inputs_give_one_line_errors(tmp_path, tiny_model_dir, capsys):
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"garbage" * 100)
    assert main(["detect", str(bad), "--model", str(tiny_model_dir)]) == 1
    err = capsys.readouterr().err
    assert "broken.tif: not a TIFF file" in err and "Traceback" not in err
    assert main(["detect", str(bad), "--model", str(tmp_path / "nomodel")]) == 1
    assert "no such model" in capsys.readouterr().err
    table = tmp_path / "t.csv"
    table.write_text("a,b\n1,2\n")
    assert main(["evaluate", str(table), str(table)]) == 1
    assert "needs columns X, Y and Slice" in capsys.readouterr().err


def test_models_lists_the_published_and_the_bundled_model(capsys):
    from exodeep_gui.paths import bundled_models

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "exodeepfinder" in out
    assert re.search(r"^exodeep-sim-small +bundled, offline, trained on simulated movies$", out, re.M)
    assert str(bundled_models()[0]) in out


def test_detect_with_the_bundled_model_by_name(tmp_path, capsys):
    from exodeep_gui.core.simulate import SimulationParams, simulate_movie
    from exodeep_gui.io.movie_io import write_imagej_tiff
    from exodeep_gui.io.results import read_events

    sim = simulate_movie(SimulationParams(frames=32, height=48, width=48, events=3, docked=4, visiting=1), seed=3)
    movie = write_imagej_tiff(tmp_path / "cell.tif", sim.movie)
    assert main(["detect", str(movie), "--model", "exodeep-sim-small", "--formats", "csv"]) == 0
    captured = capsys.readouterr()
    assert "model: exodeep-sim-small" in captured.err and "1 of 1 movies done" in captured.out
    read_events(tmp_path / "cell_events.csv")          # a valid table (possibly empty)


def test_spots_preview_writes_a_mask(tmp_path, capsys):
    import tifffile

    from exodeep_gui.core.simulate import SimulationParams, simulate_movie
    from exodeep_gui.io.movie_io import write_imagej_tiff

    sim = simulate_movie(SimulationParams(frames=12, height=64, width=64, events=0, docked=8, visiting=0), seed=2)
    movie = write_imagej_tiff(tmp_path / "cell.tif", sim.movie)
    assert main(["spots", str(movie), "--start", "2", "--stop", "6"]) == 0
    mask = tifffile.imread(tmp_path / "cell_spots.tif")
    assert mask.shape == (4, 64, 64) and mask.max() == 255
    assert "spot pixels in frames 3–6" in capsys.readouterr().out


def test_train_cli_end_to_end(tmp_path, capsys):
    from exodeep_gui.cli import main

    data = tmp_path / "data"
    assert main(["simulate", str(data), "--movies", "2", "--frames", "32", "--size", "32", "32",
                 "--events", "3"]) == 0
    out = tmp_path / "model"
    rc = main(["train", str(data), "--out", str(out), "--schedule", "8:4:2:2,16:2:4:1", "--filters", "4", "6", "8",
               "--snapshot-every", "2"])
    captured = capsys.readouterr()
    text = captured.out
    assert rc == 0, text
    assert "3 steps → model folder" in text and "best validation" in text
    # not a terminal: no progress bar, but the validation lines (end of each stage) are printed
    assert captured.err.count("validation precision") == 2 and "\r" not in captured.err
    assert (out / "config.json").is_file()
    assert sorted(p.name for p in (out / "snapshots").iterdir()) == ["step_000002.weights.h5"]
    # the model folder detects, and a second run refuses to overwrite it
    assert main(["detect", str(data / "sim_000.tif"), "--model", str(out), "--out", str(tmp_path / "det")]) == 0
    assert (tmp_path / "det" / "sim_000_events.csv").is_file()
    assert main(["train", str(data), "--out", str(out), "--schedule", "8:4:2:1"]) == 1
    assert "not empty" in capsys.readouterr().err
    # a movie without annotations is named in the error
    (data / "sim_001.csv").unlink()
    assert main(["train", str(data), "--out", str(tmp_path / "m2")]) == 1
    assert "sim_001.tif: no annotations" in capsys.readouterr().err


def test_detect_with_the_reference_tiling(tmp_path, tiny_model_dir, capsys):
    import tifffile

    from exodeep_gui.io.results import read_events

    movie = tmp_path / "cell.tif"
    tifffile.imwrite(movie, np.random.default_rng(2).poisson(50, (20, 32, 32)).astype(np.uint16))
    out = tmp_path / "out"
    assert main(["detect", str(movie), "--model", str(tiny_model_dir), "--out", str(out), "--threshold", "0",
                 "--tiling", "reference", "--cube", "64", "--formats", "csv"]) == 0
    from exodeep_gui.io.movie_io import open_movie
    from exodeep_gui.core.detection import DetectOptions
    from exodeep_gui.ml.detect import Detector

    api = Detector.load(str(tiny_model_dir)).detect_blocking(
        open_movie(movie), DetectOptions(threshold=0, tiling="reference", cube=64))
    events = read_events(out / "cell_events.csv")
    assert len(events) == len(api.events()) > 0
    np.testing.assert_allclose(events.x, api.events().x, atol=1e-3)
    # a movie too short for the cubes: one line naming the file and what is needed
    assert main(["detect", str(movie), "--model", str(tiny_model_dir), "--out", str(out), "--overwrite",
                 "--tiling", "reference", "--cube", "96"]) == 1
    err = capsys.readouterr().err
    assert "cell.tif: 20 frames" in err and "needs at least 47" in err and "Traceback" not in err


def test_train_resume_continues_a_run_and_takes_no_other_options(tmp_path, capsys):
    from exodeep_gui.core.progress import CancelToken, Cancelled, run_to_end
    from exodeep_gui.ml.training.schedule import Stage
    from exodeep_gui.ml.training.dataset import find_training_items
    from exodeep_gui.ml.training.train import TrainOptions, train

    data = tmp_path / "data"
    assert main(["simulate", str(data), "--movies", "1", "--frames", "32", "--size", "32", "32",
                 "--events", "3"]) == 0
    out = tmp_path / "model"
    token = CancelToken()

    def stop_at_2(p):
        if getattr(p, "global_step", 0) == 2:
            token.cancel()

    options = TrainOptions(schedule=(Stage(8, 2, 2, 4),), filters=(4, 6, 8), checkpoint_every=1)
    with pytest.raises(Cancelled):
        run_to_end(train(find_training_items([data]), [], out, options, cancel=token), stop_at_2)
    capsys.readouterr()
    assert main(["train", str(data), "--resume", "--out", str(out), "--preset", "paper", "--lr", "0.1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.endswith("with the data and options it started with; drop DATA, --preset, --lr")
    assert "\n" not in err
    assert main(["train", "--resume", "--out", str(tmp_path / "nothing")]) == 1
    assert "no unfinished training run to resume here" in capsys.readouterr().err
    assert main(["train", "--resume", "--out", str(out)]) == 0
    assert "4 steps → model folder" in capsys.readouterr().out


def test_planning_loads_neither_the_framework_nor_dask(tmp_path, tiny_model_dir):
    """``exodeep detect --dry-run`` (and a run with nothing left to do) plans without TensorFlow or
    Keras (4.5 s of start-up) and without Dask (no cluster asked for)."""
    import os
    import subprocess
    import sys

    import tifffile

    movie = tmp_path / "cell.tif"
    tifffile.imwrite(movie, np.zeros((20, 32, 32), np.uint16))
    code = ("import sys; from exodeep_gui.cli import main; "
            f"code = main(['detect', {str(movie)!r}, '--model', {str(tiny_model_dir)!r}, '--dry-run']); "
            "print(code, sorted(m for m in ('tensorflow', 'keras', 'torch', 'distributed', 'dask') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ))
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stdout + out.stderr
    assert "1 movies: 1 to do" in out.stderr


def test_float16_on_a_cpu_is_refused_once_in_one_line(tmp_path, tiny_model_dir, capsys):
    import tifffile

    from exodeep_gui.ml.device import compute_device

    if compute_device() == "gpu":
        pytest.skip("float16 runs on a GPU")
    movies = []
    for name in ("a.tif", "b.tif"):
        movies.append(tmp_path / name)
        tifffile.imwrite(movies[-1], np.zeros((20, 32, 32), np.uint16))
    assert main(["detect", *map(str, movies), "--model", str(tiny_model_dir), "--precision", "float16"]) == 1
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert lines == ["exodeep: error: precision float16 needs a GPU; on a CPU use bfloat16 (fast where the CPU "
                     "has AVX512_BF16 or AMX) or float32"]
    assert not list(tmp_path.glob("*_events.csv"))


def test_detect_with_test_time_augmentation(tmp_path, tiny_model_dir, capsys):
    """The events written are the API's, with their confidence; with --tta 4 only the consensus is
    written, never the candidates (events only some views saw: all of this random model's, whose
    probabilities sit near 1/3); --tta needs the streaming engine (one line)."""
    import tifffile

    from exodeep_gui.core.detection import DetectOptions
    from exodeep_gui.io.movie_io import open_movie
    from exodeep_gui.io.results import read_events
    from exodeep_gui.ml.detect import Detector

    movie = tmp_path / "cell.tif"
    tifffile.imwrite(movie, np.random.default_rng(2).poisson(50, (20, 32, 32)).astype(np.uint16))
    detector = Detector.load(str(tiny_model_dir))
    for tta, out in ((1, tmp_path / "one"), (4, tmp_path / "four")):
        assert main(["detect", str(movie), "--model", str(tiny_model_dir), "--out", str(out), "--threshold", "0",
                     "--tta", str(tta), "--formats", "csv"]) == 0
        api = detector.detect_blocking(open_movie(movie), DetectOptions(threshold=0, tta=tta))
        events = read_events(out / "cell_events.csv")
        assert len(events) == len(api.events())
        if tta == 1:
            assert len(events) > 0
            np.testing.assert_allclose(events.extra["confidence"], api.events().extra["confidence"], atol=1e-4)
        else:
            cands = api.candidates
            assert len(cands) > len(events) and np.all(cands.score[cands.extra["candidate"] == 1] < 0.5)
    assert main(["detect", str(movie), "--model", str(tiny_model_dir), "--out", str(tmp_path / "x"),
                 "--tta", "8", "--tiling", "reference"]) == 1
    err = capsys.readouterr().err
    assert "--tta runs with the streaming engine" in err and "Traceback" not in err
    with pytest.raises(SystemExit):                    # argparse: --tta takes 1, 4 or 8
        main(["detect", str(movie), "--model", str(tiny_model_dir), "--tta", "3"])
    assert "invalid choice: 3" in capsys.readouterr().err
