"""The frozen app (slow: builds the PyInstaller bundle, about 5 minutes). Run by
``make test-installer`` (EXODEEP_TEST_INSTALLER=1), not by every CI run."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.environ.get("EXODEEP_TEST_INSTALLER") != "1",
                                 reason="builds the installer; run with make test-installer")]


def test_frozen_bundle_self_test(tmp_path):
    from exodeep_gui.ml.models import save_model_folder
    from exodeep_gui.ml.unet import UNetSpec, build_unet

    exe = ROOT / "build" / "installer" / "dist" / "ExoDeep" / "ExoDeep"
    if os.environ.get("EXODEEP_REUSE_BUNDLE") != "1" or not exe.exists():
        subprocess.run(["bash", str(ROOT / "installer" / "build.sh"), sys.executable], check=True, timeout=3600)
    assert exe.exists()
    spec = UNetSpec(filters=(4, 6, 8))
    model = save_model_folder(build_unet(spec), spec, tmp_path / "tiny")
    env = dict(os.environ, EXODEEP_DATA_DIR=str(tmp_path / "data"), QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([str(exe), "--self-test", "--model", str(model)], capture_output=True, text=True,
                         env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "self-test OK: frozen=True" in out.stdout
