"""Precision (float32, bfloat16, float16) and device-sized chunks of the streaming engine."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from exodeep_gui.core.movie import Movie
from exodeep_gui.core.progress import run_to_end
from exodeep_gui.ml import device
from exodeep_gui.ml.unet import UNetSpec

ROOT = Path(__file__).resolve().parents[2]
from tests.ml.conftest import TINY

ZEN4 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9654 96-Core Processor
flags\t\t: fpu vme sse sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl avx512_bf16 avx512_vnni
"""
SAPPHIRE_RAPIDS = "flags\t\t: fpu sse avx2 fma avx512f avx512_fp16 amx_bf16 amx_tile amx_int8\n"
SKYLAKE = "flags\t\t: fpu sse avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl\n"


def test_auto_means_bfloat16_only_where_the_cpu_has_it():
    assert device.cpu_flags(ZEN4) >= {"avx512_bf16", "avx512f"}
    assert device.cpu_flags("processor : 0\n") == frozenset()
    for info, want in ((ZEN4, "bfloat16"), (SAPPHIRE_RAPIDS, "bfloat16"), (SKYLAKE, "float32"), ("", "float32")):
        flags = device.cpu_flags(info)
        assert device.resolve_precision("auto", "cpu", flags, "Linux") == want
    # flags are read on Linux only; elsewhere auto is float32
    assert device.resolve_precision("auto", "cpu", device.cpu_flags(ZEN4), "Darwin") == "float32"
    assert device.resolve_precision("auto", "cpu", device.cpu_flags(ZEN4), "Windows") == "float32"
    assert device.resolve_precision("auto", "gpu") == device.GPU_AUTO_PRECISION
    assert device.GPU_AUTO_PRECISION in ("float32", "bfloat16", "float16")
    # an explicit choice is kept; float16 needs a GPU; nonsense is refused
    for p in ("float32", "bfloat16"):
        assert device.resolve_precision(p, "cpu", device.cpu_flags(SKYLAKE), "Linux") == p
    assert device.resolve_precision("float16", "gpu") == "float16"
    with pytest.raises(ValueError, match="needs a GPU"):
        device.resolve_precision("float16", "cpu")
    with pytest.raises(ValueError, match="unknown precision"):
        device.resolve_precision("float8", "cpu")


def test_chunks_are_sized_for_the_device():
    spec = UNetSpec()
    assert device.voxels_per_chunk_for(spec, "float32", "cpu") == device.CPU_VOXELS_PER_CHUNK == 500_000
    assert device.voxels_per_chunk_for(spec, "bfloat16", "cpu") == 1_000_000         # the same memory
    # activations: the widest layer (the first of the full-resolution up-path, 80 channels in) and
    # the waiting skip connections; 16-bit precisions need half the bytes
    f32, bf16 = device.activation_bytes_per_voxel(spec, "float32"), device.activation_bytes_per_voxel(spec, "bfloat16")
    assert 1000 < f32 < 3000 and bf16 < 0.51 * f32
    # GPU: half its free memory; a 300 × 300 movie goes in chunks of tens to hundreds of frames
    frame = 300 * 300
    for free_gib, lo, hi in ((80, 100, 400), (24, 50, 300), (8, 10, 100)):
        v32 = device.voxels_per_chunk_for(spec, "float32", "gpu", free_gib * 2**30)
        v16 = device.voxels_per_chunk_for(spec, "float16", "gpu", free_gib * 2**30)
        assert lo <= v32 // frame <= hi and v16 >= v32
        assert v32 * f32 <= device.GPU_MEMORY_SHARE * free_gib * 2**30
        # no tensor of a chunk reaches 2**31 elements (80 channels at full resolution, padded)
        assert v16 * 80 * 1.05 < 2**31
    assert device.voxels_per_chunk_for(spec, "float32", "gpu", 1) == 100_000          # a floor
    # a GPU whose free memory the backend cannot tell (TensorFlow): a fixed, moderate size
    assert device.voxels_per_chunk_for(spec, "float32", "gpu", None) == device.GPU_FALLBACK_VOXELS_PER_CHUNK \
        or device.gpu_free_memory_bytes() is not None
    # the published network: 511 360 FLOPs per voxel, counted layer by layer
    assert device.network_flops_per_voxel(spec) == 511_360


@pytest.mark.parametrize("filters", [(32, 48, 64), (4, 6, 8)])
def test_the_chunk_sizing_walks_the_networks_convolutions(filters):
    """The chunk sizing's layer walk (device) takes its channels from the network's kernel shapes
    (unet.spec_shapes): the first convolution of each block takes the channels written out here
    (the up-path's concatenations included), at the block's resolution."""
    from exodeep_gui.ml.unet import spec_shapes

    f0, f1, f2 = filters
    spec = UNetSpec(filters=filters)
    first_in = {"enc1": 1, "enc2": f0, "bottom": f1, "up2": f2, "dec2": f2 + f1, "up1": f1,
                "dec1": f1 + f0, "head": f0}
    share = {"enc1": 1, "enc2": 1 / 4, "bottom": 1 / 16, "up2": 1 / 4, "dec2": 1 / 4, "up1": 1,
             "dec1": 1, "head": 1}
    expected = []
    for name, convs in spec.blocks().items():
        c = first_in[name]
        for conv in convs:
            expected.append((conv.k, c, conv.filters, share[name]))
            c = conv.filters
    assert device._conv_shapes(spec) == expected
    assert [(k, cin, cout) for k, cin, cout, _ in expected] == [(k, cin, cout) for k, _, _, cin, cout in spec_shapes(spec)]


def test_chunks_have_equal_lengths():
    from exodeep_gui.ml.predict import chunk_frames

    assert chunk_frames(1026, 90_000, 24_000_000) == 257          # 4 chunks of 257, not 3 × 266 + 228
    assert chunk_frames(86, 16_384, 500_000) == 29
    assert chunk_frames(10, 1_000_000, 10) == 1
    assert chunk_frames(5, 10, 10_000) == 5


def test_labels_and_scores_computed_on_the_device_equal_those_from_the_probabilities(tiny_model):
    """Only uint8 label and score come back from the device; in float32 they are exactly what
    argmax and round(255 p) of the float32 probabilities give (the result is the same as before)."""
    from exodeep_gui.core.normalize import normalize_frames
    from exodeep_gui.ml.streaming import StreamingUNet

    movie = np.random.default_rng(1).poisson(60, (30, 32, 36)).astype(np.uint16)
    x = np.pad(normalize_frames(movie), ((12, 14), (0, 0), (0, 0)), mode="reflect")[None, ..., None]
    a, b = StreamingUNet(tiny_model, TINY), StreamingUNet(tiny_model, TINY)
    probs, t0 = a.push(x, 0)
    (lab, sc), t1 = b.push_labels(x, 0)
    lab, sc = np.asarray(lab), np.asarray(sc)
    assert t0 == t1 == 12 and lab.dtype == np.uint8 and sc.dtype == np.uint8
    assert np.array_equal(lab, np.argmax(probs, axis=-1).astype(np.uint8))
    assert np.array_equal(sc, np.rint(probs[..., 2] * 255.0).astype(np.uint8))
    assert len(np.unique(lab)) == 3


def test_bfloat16_engine_runs_and_stays_close_to_float32(tiny_model):
    from exodeep_gui.ml.predict import segment_movie

    movie = Movie(np.random.default_rng(2).poisson(80, (24, 40, 44)).astype(np.uint16))
    stats = {}
    f32 = run_to_end(segment_movie(tiny_model, TINY, movie, precision="float32"))
    bf16 = run_to_end(segment_movie(tiny_model, TINY, movie, precision="bfloat16", stats=stats))
    assert bf16.labels.shape == f32.labels.shape == movie.shape and bf16.labels.dtype == np.uint8
    assert stats["precision"] == "bfloat16" and stats["chunks"] >= 1
    assert {"read", "normalize", "network", "transfer"} <= set(stats)
    # a random tiny network has many near-ties; the published one agrees far better (below)
    assert (bf16.labels == f32.labels).mean() > 0.97
    assert np.median(np.abs(bf16.score.astype(int) - f32.score.astype(int))) <= 2
    with pytest.raises(ValueError, match="unknown precision"):
        run_to_end(segment_movie(tiny_model, TINY, movie, precision="int8"))


def test_the_detection_says_which_precision_and_chunk_ran(tmp_path, tiny_model):
    from exodeep_gui.core.detection import DetectOptions
    from exodeep_gui.ml.detect import Detector
    from exodeep_gui.ml.models import save_model_folder

    det = Detector.load(str(save_model_folder(tiny_model, TINY, tmp_path / "m")))
    movie = Movie(np.random.default_rng(3).poisson(80, (20, 32, 32)).astype(np.uint16))
    got = det.detect_blocking(movie, DetectOptions(threshold=0))
    assert got.options.precision == device.resolve_precision("auto") in ("float32", "bfloat16", "float16")
    assert got.options.voxels_per_chunk == device.voxels_per_chunk_for(TINY, got.options.precision)
    chosen = det.detect_blocking(movie, DetectOptions(threshold=0, precision="float32", voxels_per_chunk=4096))
    assert (chosen.options.precision, chosen.options.voxels_per_chunk) == ("float32", 4096)


@pytest.mark.skipif(not device.cpu_has_native_bf16(),
                    reason="this CPU has no native bfloat16 (emulated, the run would be slow)")
def test_bfloat16_and_float32_find_the_same_events_with_the_published_model(reference_dir):
    """The paper's matching rule, float32 events as the truth: ≥ 99 % agreement (F1) over three
    simulated movies (about 50 events), and the voxels' labels agree almost everywhere."""
    from exodeep_gui.core.detection import DetectOptions
    from exodeep_gui.core.evaluate import evaluate_events
    from exodeep_gui.core.simulate import SimulationParams, simulate_movie
    from exodeep_gui.ml.detect import Detector

    det = Detector.load(str(reference_dir / "exodeepfinder_net_weights_FINAL.h5"))
    total, n_events, same_voxels = None, 0, []
    for seed in range(3):
        sim = simulate_movie(SimulationParams(frames=64, height=128, width=128, events=20, docked=20,
                                              visiting=10), seed=seed)
        movie = Movie(sim.movie)
        a = det.detect_blocking(movie, DetectOptions(precision="float32"))
        b = det.detect_blocking(movie, DetectOptions(precision="bfloat16"))
        s = evaluate_events(a.events(), b.events())
        total = s if total is None else total + s
        n_events += len(a.events())
        same_voxels.append((a.segmentation.labels == b.segmentation.labels).mean())
    assert n_events >= 30
    assert total.f1 >= 0.99, total.summary()
    assert min(same_voxels) > 0.999


SCRIPT = """
import json, sys, numpy as np
from exodeep_gui.core.movie import Movie
from exodeep_gui.core.progress import run_to_end
from exodeep_gui.ml.models import resolve_model, load_keras_model
from exodeep_gui.ml.predict import segment_movie
info = resolve_model(sys.argv[1])
model = load_keras_model(info)
movie = Movie(np.random.default_rng(0).poisson(80, (20, 48, 40)).astype(np.uint16))
out = {}
for fmt in ("channels_last", "channels_first"):
    for prec in ("float32", "bfloat16"):
        seg = run_to_end(segment_movie(model, info.spec, movie, voxels_per_chunk=5 * 48 * 40, precision=prec,
                                       data_format=fmt))
        out[fmt + "/" + prec] = {"labels": seg.labels.tolist(), "score": seg.score.tolist()}
print("RESULT " + json.dumps(out))
"""


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch not installed")
def test_torch_backend_in_both_layouts_and_precisions(tmp_path, tiny_model):
    """On PyTorch the engine can keep channels-first tensors (for GPUs); the result is the same."""
    from exodeep_gui.ml.models import save_model_folder

    folder = save_model_folder(tiny_model, TINY, tmp_path / "m")
    env = dict(os.environ, KERAS_BACKEND="torch", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(folder)], capture_output=True, text=True, env=env,
                         timeout=600)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    assert line, out.stderr[-3000:]
    res = {k: {n: np.array(v) for n, v in r.items()} for k, r in json.loads(line[0][7:]).items()}
    ref = res["channels_last/float32"]
    assert np.array_equal(res["channels_first/float32"]["labels"], ref["labels"])
    assert np.abs(res["channels_first/float32"]["score"].astype(int) - ref["score"]).max() <= 1
    for fmt in ("channels_last", "channels_first"):
        assert (res[fmt + "/bfloat16"]["labels"] == ref["labels"]).mean() > 0.97
