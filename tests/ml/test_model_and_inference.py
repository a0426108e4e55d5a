import json

import numpy as np
import pytest

from exodeep_gui.core.movie import Movie, MovieError
from exodeep_gui.core.progress import CancelToken, Cancelled, run_to_end
from exodeep_gui.ml.unet import ModelError, UNetSpec, build_unet

from tests.ml.conftest import TINY


def test_published_architecture_layer_for_layer():
    spec = UNetSpec()
    model = build_unet(spec)
    assert model.count_params() == 903_027
    assert spec.time_reach == (12, 14)
    counts = [int(np.prod(w.shape)) + int(np.prod(b.shape)) for w, b in
              (l.get_weights() for l in model.layers if l.__class__.__name__ == "Conv3D")]
    assert counts == [896, 27680, 41520, 62256, 83008, 110656, 110656, 110656, 32832, 145200,
                      62256, 18480, 69152, 27680, 99]


def test_streaming_equals_the_whole_movie_at_once(tiny_model):
    from exodeep_gui.core.normalize import normalize_frames
    from exodeep_gui.ml.streaming import StreamingUNet

    rng = np.random.default_rng(0)
    movie = rng.poisson(50, (30, 32, 40)).astype(np.uint16)
    padded = np.pad(normalize_frames(movie), ((12, 14), (0, 0), (0, 0)), mode="reflect")
    full = tiny_model.predict(padded[None, ..., None], verbose=0)[0, 12:42]
    for chunk in (1, 4, 100):
        engine = StreamingUNet(tiny_model, TINY)
        parts = []
        for a in range(0, len(padded), chunk):
            probs, t0 = engine.push(padded[None, a:a + chunk, ..., None], a)
            if probs is not None:
                parts.append((t0, probs[0]))
        assert parts[0][0] == 12                              # first output = movie frame 0
        got = np.concatenate([p for _, p in parts])
        np.testing.assert_allclose(got, full, atol=2e-5)


def test_spatial_tiling_does_not_change_the_result(tiny_model):
    from exodeep_gui.ml.predict import segment_movie, tile_starts

    assert tile_starts(200, 120) == [(0, 0, 84), (48, 84, 132), (80, 132, 200)]
    movie = Movie(np.random.default_rng(2).poisson(80, (20, 90, 150)).astype(np.uint16))
    whole = run_to_end(segment_movie(tiny_model, TINY, movie, max_tile=512))
    tiled = run_to_end(segment_movie(tiny_model, TINY, movie, max_tile=80, voxels_per_chunk=30_000))
    assert len(np.unique(whole.labels)) > 1
    assert (whole.labels == tiled.labels).mean() > 0.9999
    assert np.abs(whole.score.astype(int) - tiled.score.astype(int)).max() <= 1


def test_detection_can_be_cancelled(tiny_model):
    from exodeep_gui.ml.predict import segment_movie

    movie = Movie(np.random.default_rng(3).poisson(80, (60, 32, 32)).astype(np.uint16))
    token = CancelToken()
    gen = segment_movie(tiny_model, TINY, movie, voxels_per_chunk=4 * 32 * 32, cancel=token)
    next(gen)
    next(gen)
    token.cancel()
    with pytest.raises(Cancelled):
        for _ in gen:
            pass


def test_model_folder_round_trip_and_broken_folders(tmp_path, tiny_model):
    from exodeep_gui.core.detection import DetectOptions
    from exodeep_gui.ml.detect import Detector
    from exodeep_gui.ml.models import read_model_folder, resolve_model, save_model_folder

    folder = save_model_folder(tiny_model, TINY, tmp_path / "mymodel", training={"note": "test"})
    info = resolve_model(str(folder))
    assert info.spec == TINY and info.config["classes"][2] == "exocytosis"
    det = Detector(info)
    movie = Movie(np.random.default_rng(4).poisson(80, (20, 32, 32)).astype(np.uint16))
    a = det.detect_blocking(movie, DetectOptions(threshold=0, precision="float32"))
    from exodeep_gui.ml.predict import segment_movie
    ref = run_to_end(segment_movie(tiny_model, TINY, movie))
    assert np.array_equal(a.segmentation.labels, ref.labels)
    with pytest.raises(MovieError, match="at least 16"):
        det.detect_blocking(Movie(np.zeros((5, 32, 32), np.uint16)))

    (folder / "config.json").write_text("{ not json")
    with pytest.raises(ModelError, match="broken configuration"):
        read_model_folder(folder)
    (folder / "config.json").write_text(json.dumps({"format": "exodeep-model", "version": 1,
                                                    "weights": "gone.weights.h5"}))
    with pytest.raises(ModelError, match="missing"):
        read_model_folder(folder)
    with pytest.raises(ModelError, match="no such model"):
        resolve_model(str(tmp_path / "nowhere"))


def test_registry_download_failure_is_explained(monkeypatch, tmp_path):
    from exodeep_gui.ml import models

    fake = models.RegistryEntry("fake", "Fake", "fake.h5", "http://127.0.0.1:9/fake.h5",
                                "0" * 64, "none", "test")
    monkeypatch.setitem(models.REGISTRY, "fake", fake)
    with pytest.raises(ModelError, match="could not download"):
        models.resolve_model("fake")
    # a file with the right name but the wrong checksum is not used
    (tmp_path / "fake.h5").write_bytes(b"not the model")
    monkeypatch.setenv("EXODEEP_MODEL_PATH", str(tmp_path))
    assert models.find_local(fake) is None


def test_wrong_weights_file_is_refused(tmp_path):
    import h5py
    from exodeep_gui.ml.unet import load_keras2_h5_weights

    p = tmp_path / "w.h5"
    with h5py.File(p, "w") as f:
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = [b"dense"]
        d = g.create_group("dense")
        d.attrs["weight_names"] = [b"dense/kernel:0"]
        d.create_dataset("dense/kernel:0", data=np.zeros((3, 3)))
    with pytest.raises(ModelError, match="not an ExoDeepFinder model"):
        load_keras2_h5_weights(build_unet(TINY), p)
    (tmp_path / "junk.h5").write_bytes(b"junk")
    with pytest.raises(ModelError, match="not a readable"):
        load_keras2_h5_weights(build_unet(TINY), tmp_path / "junk.h5")


def test_outputs_go_to_disk_when_memory_is_short(tiny_model, monkeypatch):
    from exodeep_gui.ml import predict

    movie = Movie(np.random.default_rng(5).poisson(80, (20, 32, 32)).astype(np.uint16))
    in_ram = run_to_end(predict.segment_movie(tiny_model, TINY, movie))
    monkeypatch.setattr(predict, "free_memory_bytes", lambda: 1000)
    on_disk = run_to_end(predict.segment_movie(tiny_model, TINY, movie))
    assert isinstance(on_disk.labels, np.memmap) and isinstance(on_disk.score, np.memmap)
    assert np.array_equal(on_disk.labels, in_ram.labels) and np.array_equal(on_disk.score, in_ram.score)


def test_detection_in_a_child_process_equals_detection_here(tmp_path, tiny_model):
    """The window's path (network in a spawned process, maps back through files) gives exactly
    what an in-process run gives, for a movie held in memory and for one opened from its file;
    a movie the model cannot use fails there with the same error as here."""
    from exodeep_gui.io.movie_io import open_movie, write_imagej_tiff
    from exodeep_gui.core.detection import DetectOptions
    from exodeep_gui.ml.detect import Detector, detect_in_subprocess
    from exodeep_gui.ml.models import save_model_folder

    folder = save_model_folder(tiny_model, TINY, tmp_path / "m")
    in_memory = Movie(np.random.default_rng(5).poisson(80, (24, 32, 32)).astype(np.uint16))
    path = write_imagej_tiff(tmp_path / "cell.tif", np.random.default_rng(6).poisson(90, (20, 40, 36))
                             .astype(np.uint16), pixel_size_um=0.16, frame_interval_s=0.1)
    on_disk = open_movie(path)
    options = DetectOptions(model=str(folder), threshold=0.0)
    stages = []
    results = run_to_end(detect_in_subprocess(str(folder), [("a", in_memory), ("b", on_disk)], options),
                         lambda p: stages.append(p.stage))
    assert [k for k, _ in results] == ["a", "b"]
    assert {"load", "device", "detect", "events"} <= set(stages)
    here = Detector.load(str(folder))
    for (_, got), movie in zip(results, (in_memory, on_disk)):
        want = here.detect_blocking(movie, options)
        assert np.array_equal(got.segmentation.labels, want.segmentation.labels)
        assert np.array_equal(got.segmentation.score, want.segmentation.score)
        assert got.movie_name == movie.name and got.events().frame.tolist() == want.events().frame.tolist()
    assert results[1][1].movie_name == "cell"
    with pytest.raises(MovieError, match="at least 16"):
        run_to_end(detect_in_subprocess(str(folder), [("c", Movie(np.zeros((5, 32, 32), np.uint16)))], options))


def test_registry_downloads_once_checks_the_checksum_and_keeps_nothing_bad(monkeypatch, tmp_path):
    """The download path end to end against a local web server: a file with the right checksum is
    fetched once into the user models folder and used (a second resolve does not download
    again); a corrupted download is refused and leaves no file behind that could be used."""
    import functools
    import hashlib
    import http.server
    import threading

    from exodeep_gui.ml import models
    from exodeep_gui.paths import user_models_dir

    served = tmp_path / "www"
    served.mkdir()
    good = np.random.default_rng(0).bytes(200_000)
    (served / "good.bin").write_bytes(good)
    (served / "bad.bin").write_bytes(good[:-1] + b"x")
    hits = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):
            hits.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        digest = hashlib.sha256(good).hexdigest()
        monkeypatch.setenv("EXODEEP_MODEL_PATH", str(tmp_path / "nothing-here"))
        entry = models.RegistryEntry("dl", "Download test", "dl_weights.h5", f"{base}/good.bin", digest, "none", "t")
        path = models.fetch(entry)
        assert path.parent == user_models_dir() and path.read_bytes() == good
        assert models.fetch(entry) == path and len(hits) == 1          # once
        bad = models.RegistryEntry("bad", "Corrupt", "bad_weights.h5", f"{base}/bad.bin", digest, "none", "t")
        with pytest.raises(ModelError, match="checksum"):
            models.fetch(bad)
        assert models.find_local(bad) is None
        assert not (user_models_dir() / "bad_weights.h5").exists()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_reference_tiling_cuts_the_cubes_the_reference_cuts():
    from exodeep_gui.ml.predict import reference_centres

    def cubes(shape, patch=160):
        return int(np.prod([len(reference_centres(n, patch)) for n in shape]))

    # cube counts the reference itself printed (exodeepfinder-reference.md §7)
    assert cubes((200, 128, 128)) == 8
    assert cubes((1000, 400, 300)) == 120
    assert cubes((1001, 317, 317)) == 90
    assert cubes((111, 111, 111)) == 8               # the smallest movie it accepts
    with pytest.raises(ValueError, match="at least 111"):
        reference_centres(110, 160)


class _Pointwise:
    """A stand-in 'network' whose output at a voxel depends only on that voxel's input, so that any
    misplaced cube, core or padding shows up as a wrong value somewhere."""

    def __init__(self):
        self.calls = 0

    def predict_on_batch(self, x):
        self.calls += 1
        p = 1.0 / (1.0 + np.exp(-4.0 * (x[..., 0] - 0.5)))
        return np.stack([0.8 * (1 - p), 0.2 * (1 - p), p], axis=-1)


def test_reference_tiling_covers_every_voxel_once_averaged(monkeypatch):
    from exodeep_gui.core.normalize import normalize_frames
    from exodeep_gui.ml.predict import segment_reference_tiling

    rng = np.random.default_rng(3)
    movie = rng.poisson(40, (37, 30, 45)).astype(np.uint16)
    fake = _Pointwise()
    seg = run_to_end(segment_reference_tiling(fake, UNetSpec(), Movie(movie), patch=64))
    assert fake.calls == 4 * 3 * 5                   # cubes of 64 step by 64 + 1 - 55 = 10 voxels
    expected = fake.predict_on_batch(normalize_frames(movie)[None, ..., None])[0]
    top2 = np.sort(expected, axis=-1)[..., -2:]
    clear = top2[..., 1] - top2[..., 0] > 0.01          # the float16 sums may flip near-ties only
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(seg.labels[clear], np.argmax(expected, axis=-1)[clear])
    np.testing.assert_allclose(seg.score, np.rint(expected[..., 2] * 255), atol=1)
    with pytest.raises(MovieError, match="needs at least 15"):
        run_to_end(segment_reference_tiling(fake, UNetSpec(), Movie(movie[:14]), patch=64))
