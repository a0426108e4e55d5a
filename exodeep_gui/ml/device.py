"""Which Keras backend runs and on which device (a GPU when one is usable, else the CPU)."""

from __future__ import annotations


def describe_device() -> str:
    import keras

    backend = keras.backend.backend()
    gpus = []
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
        elif backend == "torch":
            import torch

            gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        elif backend == "jax":
            import jax

            gpus = [str(d) for d in jax.devices() if d.platform == "gpu"]
    except Exception:
        gpus = []
    where = f"GPU ({', '.join(gpus)})" if gpus else "CPU"
    return f"Keras {keras.__version__} / {backend} on {where}"
