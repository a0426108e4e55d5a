"""Which Keras backend runs and on which device (a GPU when one is usable, else the CPU), and what
follows from the device: the precision that ``auto`` means and how many voxels one network call
of the streaming engine takes. The only module of the engine that talks to TensorFlow, PyTorch or
JAX directly (device queries and, for timings, synchronisation); the model code uses keras.ops."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Iterable, Optional

from exodeep_gui.core.detection import PRECISIONS
from exodeep_gui.ml.unet import spec_shapes

# What "auto" means on a CUDA GPU. float16 keeps 11 significant bits (bfloat16: 8) and runs on the
# same tensor cores: on an H100 (benchmarks/results/h100-2026-11-28) it gave float32's 89 events of 89
# with the network in 1.67 s instead of 3.50 s; bfloat16 gave 2 more events.
GPU_AUTO_PRECISION = "float16"

# On a CPU: one network call takes frames × tile pixels ≈ this many voxels in float32 (the best
# measured on a 2-core VM, TensorFlow); 16-bit precisions take twice as many in the same memory
# (1.2 GB → 1.8 GB peak RSS for bfloat16 and 8 % faster, measured: 60 × 256 × 256, TensorFlow 2.21).
CPU_VOXELS_PER_CHUNK = 500_000
# On a GPU whose free memory cannot be queried (TensorFlow reserves it for itself).
GPU_FALLBACK_VOXELS_PER_CHUNK = 4_000_000
# Share of the GPU's free memory one chunk's activations may take (the caching allocator's
# fragmentation, cuDNN's workspaces and the chunk in flight while the next is read take the rest).
GPU_MEMORY_SHARE = 0.5
# No tensor of a chunk may hold 2**31 elements or more (32-bit indexing in cuDNN and in some
# PyTorch kernels); the widest tensor is the padded input of the first up-path convolution.
MAX_TENSOR_ELEMENTS = 2**31 - 1

ITEMSIZE = {"float32": 4, "bfloat16": 2, "float16": 2}


def backend_name() -> str:
    from exodeep_gui.ml.unet import import_keras

    return import_keras().backend.backend()


def _gpu_names(backend: str) -> list:
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            out = []
            for d in tf.config.list_physical_devices("GPU"):
                name = tf.config.experimental.get_device_details(d).get("device_name", d.name)
                out.append(name)
            return out
        if backend == "torch":
            import torch

            return [f"{torch.cuda.get_device_name(i)}, "
                    f"{torch.cuda.get_device_properties(i).total_memory / 2 ** 30:.0f} GB"
                    for i in range(torch.cuda.device_count())]
        if backend == "jax":
            import jax

            return [_jax_gpu(d) for d in jax.devices() if d.platform == "gpu"]
    except Exception:
        return []
    return []


def _jax_gpu(device) -> str:
    limit = (device.memory_stats() or {}).get("bytes_limit") if hasattr(device, "memory_stats") else None
    return f"{device}, {limit / 2 ** 30:.0f} GB" if limit else str(device)


def compute_device() -> str:
    """"gpu" when the Keras backend runs on a GPU, else "cpu"."""
    return "gpu" if _gpu_names(backend_name()) else "cpu"


def describe_device() -> str:
    from exodeep_gui.ml.unet import import_keras

    keras = import_keras()
    backend = keras.backend.backend()
    gpus = _gpu_names(backend)
    where = f"GPU ({', '.join(gpus)})" if gpus else "CPU"
    return f"Keras {keras.__version__} / {backend} on {where}"


# ---------------------------------------------------------------- precision
def cpu_flags(cpuinfo: Optional[str] = None) -> frozenset:
    """The CPU's feature flags from /proc/cpuinfo's first ``flags`` line (Linux); empty elsewhere.
    ``cpuinfo``: the file's text (tests give a fake one)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def cpu_has_native_bf16(flags: Optional[Iterable[str]] = None, system: Optional[str] = None) -> bool:
    """True where the CPU computes bfloat16 products in hardware: AVX512_BF16 (AMD Zen 4 and later,
    Intel Cooper Lake) or AMX-BF16 (Intel Sapphire Rapids and later). Read on Linux only; elsewhere
    (macOS, Windows) False, i.e. float32."""
    system = platform.system() if system is None else system
    if system != "Linux":
        return False
    flags = cpu_flags() if flags is None else frozenset(flags)
    return bool({"avx512_bf16", "amx_bf16"} & set(flags))


def resolve_precision(requested: str = "auto", device: Optional[str] = None,
                      flags: Optional[Iterable[str]] = None, system: Optional[str] = None) -> str:
    """The dtype the network's convolutions run in: "float32", "bfloat16" or "float16".

    ``auto``: on a GPU, :data:`GPU_AUTO_PRECISION`; on a CPU, bfloat16 where the CPU has it natively
    (see :func:`cpu_has_native_bf16`), else float32. An explicit choice is kept, except float16 on a
    CPU (no CPU runs it natively and TensorFlow has no float16 3D pooling on CPUs): ValueError.
    ``device`` ("cpu"/"gpu"; default: the Keras backend's), ``flags`` and ``system`` are for tests."""
    if requested not in PRECISIONS:
        raise ValueError(f"unknown precision {requested!r} (one of {', '.join(PRECISIONS)})")
    if device is None and (requested == "auto" or requested == "float16"):
        device = compute_device()
    if requested == "auto":
        if device == "gpu":
            return GPU_AUTO_PRECISION
        return "bfloat16" if cpu_has_native_bf16(flags, system) else "float32"
    if requested == "float16" and device != "gpu":
        raise ValueError("precision float16 needs a GPU; on a CPU use bfloat16 (fast where the CPU has "
                         "AVX512_BF16 or AMX) or float32")
    return requested


# ---------------------------------------------------------------- chunk size
# the share of the input's voxels each block runs at (1 at full resolution, 1/4 after one 2×2 pooling
# in y and x, 1/16 after two)
_RESOLUTION = {"enc1": 1.0, "enc2": 0.25, "bottom": 1 / 16, "up2": 0.25, "dec2": 0.25, "up1": 1.0,
               "dec1": 1.0, "head": 1.0}


def _conv_shapes(spec) -> list:
    """(k, input channels, output channels, share of the input's voxels) of every convolution."""
    shares = [_RESOLUTION[name] for name, convs in spec.blocks().items() for _ in convs]
    return [(k, cin, cout, share) for (k, _, _, cin, cout), share in zip(spec_shapes(spec), shares)]


def network_flops_per_voxel(spec) -> float:
    """Floating-point operations of the network's convolutions per input voxel: k³ × c_in × c_out × 2
    (a multiply and an add) per output voxel, times the layer's share of the voxels (1, 1/4 after
    one 2×2 pooling in y and x, 1/16 after two). Bias, ReLU, pooling and softmax are not counted."""
    return float(sum(k ** 3 * cin * cout * 2 * share for k, cin, cout, share in _conv_shapes(spec)))


def activation_bytes_per_voxel(spec, precision: str = "float32") -> int:
    """Bytes of device memory one input voxel of a chunk needs in the streaming engine, at most.

    Walks the network (ml.unet.UNetSpec): while a convolution runs, its input lives up to four times
    (the tensor, its zero-padded copy, and the two layout copies Keras' PyTorch backend makes for
    channels-last input) and its output twice (bias added, ReLU), at the layer's resolution (1,
    1/4, 1/16 of the voxels), while the skip connections wait (f0 channels at full resolution, f1 at
    a quarter). The input (float32) and the uint8 outputs are added."""
    f0, f1, _ = spec.filters
    skips = f0 + f1 * 0.25
    peak_channels = max((4 * cin + 2 * cout) * share for _, cin, cout, share in _conv_shapes(spec)) + skips
    return int(peak_channels * ITEMSIZE[precision] + 4 + 2 + 0.999)


def max_chunk_voxels(spec) -> int:
    """Voxels per chunk below which no tensor reaches :data:`MAX_TENSOR_ELEMENTS` (the widest:
    f1 + f0 channels, with a 10 % margin for the zero padding of small tiles)."""
    f0, f1, _ = spec.filters
    return int(MAX_TENSOR_ELEMENTS / ((f0 + f1) * 1.1))


def gpu_free_memory_bytes(backend: Optional[str] = None) -> Optional[int]:
    """Free memory of the first GPU for this process (PyTorch: the device's free memory and what its
    caching allocator holds unused, so that a second run gets the same chunks); None where the backend
    cannot say."""
    backend = backend_name() if backend is None else backend
    try:
        if backend == "torch":
            import torch

            if torch.cuda.is_available():            # + what PyTorch's allocator holds unused for us
                cached = torch.cuda.memory_reserved() - torch.cuda.memory_allocated()
                return int(torch.cuda.mem_get_info()[0] + cached)
        elif backend == "jax":
            import jax

            gpus = [d for d in jax.devices() if d.platform == "gpu"]
            stats = gpus[0].memory_stats() if gpus else None
            if stats and "bytes_limit" in stats:
                return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    except Exception:
        return None
    return None


def voxels_per_chunk_for(spec, precision: str = "float32", device: Optional[str] = None,
                         free_bytes: Optional[int] = None) -> int:
    """The chunk size (frames × tile pixels per network call) for this device.

    CPU: :data:`CPU_VOXELS_PER_CHUNK` in float32, twice that in 16 bits (the same memory).
    GPU: :data:`GPU_MEMORY_SHARE` of its free memory divided by :func:`activation_bytes_per_voxel`,
    at most :func:`max_chunk_voxels` (an 80 GB H100 reaches that limit in every precision: a
    300 × 300 movie goes in 4 chunks of 257 frames); at least 100 000."""
    device = compute_device() if device is None else device
    if device != "gpu":
        return CPU_VOXELS_PER_CHUNK * 4 // ITEMSIZE[precision]
    if free_bytes is None:
        free_bytes = gpu_free_memory_bytes()
    if free_bytes is None:
        return GPU_FALLBACK_VOXELS_PER_CHUNK
    fit = int(free_bytes * GPU_MEMORY_SHARE / activation_bytes_per_voxel(spec, precision))
    return max(100_000, min(fit, max_chunk_voxels(spec)))


def engine_data_format(backend: Optional[str] = None) -> str:
    """The layout the streaming engine keeps its tensors in: channels_last (TensorFlow's CPU
    kernels have no channels-first 3D convolution), the same on the other backends for now."""
    return "channels_last"


def synchronize(value=None) -> None:
    """Wait until the device has finished the work queued so far (PyTorch on CUDA queues kernels
    asynchronously) or, on JAX (which dispatches every backend asynchronously and has no global wait),
    until ``value`` (arrays, tuples of them) is computed; a no-op elsewhere. Only for timings: detection
    never needs it."""
    try:
        backend = backend_name()
        if backend == "torch":
            import torch

            if torch.cuda.is_available():
                torch.cuda.synchronize()
        elif backend == "jax" and value is not None:
            import jax

            jax.block_until_ready(value)
    except Exception:
        pass
