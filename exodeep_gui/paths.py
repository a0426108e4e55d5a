"""Where things are: bundled resources, the user's data folder, frozen or from source.
Stdlib (+ platformdirs) only."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "ExoDeep"
# the file that makes a folder a model folder (ml.model_folder's CONFIG_NAME; defined here, below
# io and ml, so that finding the bundled models needs no ml import)
MODEL_CONFIG_NAME = "config.json"


def is_frozen() -> bool:
    """True inside a PyInstaller bundle."""
    return bool(getattr(sys, "frozen", False)) and hasattr(sys, "_MEIPASS")


def resources_dir() -> Path:
    if is_frozen():
        return Path(sys._MEIPASS) / "resources"          # type: ignore[attr-defined]
    return Path(__file__).resolve().parent.parent / "resources"


def user_data_dir() -> Path:
    """Per-user data (downloaded models); EXODEEP_DATA_DIR overrides it (tests, clusters)."""
    env = os.environ.get("EXODEEP_DATA_DIR")
    if env:
        return Path(env)
    from platformdirs import user_data_dir as _udd

    return Path(_udd(APP_NAME, appauthor=False))


def user_models_dir() -> Path:
    return user_data_dir() / "models"


def model_search_path() -> list:
    """Folders searched for known weight files before any download: EXODEEP_MODEL_PATH
    (os.pathsep-separated), the user models folder and the bundled models."""
    dirs = [Path(p) for p in os.environ.get("EXODEEP_MODEL_PATH", "").split(os.pathsep) if p]
    return dirs + [user_models_dir(), resources_dir() / "models"]


def user_log_dir() -> Path:
    return user_data_dir() / "logs"


def settings_file() -> Path:
    return user_data_dir() / "settings.json"


def bundled_models() -> list:
    """Model folders shipped with the app (resources/models/*/config.json)."""
    root = resources_dir() / "models"
    return sorted(p.parent for p in root.glob(f"*/{MODEL_CONFIG_NAME}") if p.is_file()) if root.is_dir() else []


def bundled_model_named(spec: str):
    """The bundled model folder that ``spec`` names: its name ("exodeep-sim-small") or a path to it,
    also a path that pointed at it inside an app that has since been moved, renamed or replaced by a
    new version (".../resources/models/exodeep-sim-small"); else None."""
    text = str(spec or "").strip()
    if not text:
        return None
    path = Path(text)
    by_name = {p.name.lower(): p for p in bundled_models()}
    if len(path.parts) == 1:
        return by_name.get(text.lower())
    in_an_app = path.parent.name == "models" and path.parent.parent.name == "resources"
    return by_name.get(path.name.lower()) if in_an_app else None


def portable_model_spec(spec: str) -> str:
    """How a model is remembered in the settings: a model shipped with the app by its name (the
    app may be moved, renamed or upgraded: its folder changes), anything else as given."""
    bundled = bundled_model_named(spec)
    return bundled.name if bundled is not None else str(spec or "")
