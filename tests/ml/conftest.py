import pytest

from exodeep_gui.ml.unet import UNetSpec

TINY = UNetSpec(filters=(4, 6, 8))


@pytest.fixture(scope="module")
def tiny_model():
    """A tiny U-Net (widths 4/6/8) whose output depends on its input strongly enough for label maps
    to vary (its random weights scaled up)."""
    import keras

    from exodeep_gui.ml.unet import build_unet

    keras.utils.set_random_seed(0)
    model = build_unet(TINY)
    for layer in model.layers:
        if layer.__class__.__name__ == "Conv3D":
            k, b = layer.get_weights()
            layer.set_weights([k * 1.5, b + 0.02])
    return model
