"""The model registry and model folders.

A model is named (a registry entry such as ``exodeepfinder``) or given as a path: a
Keras-2 HDF5 weights file of the published architecture, or an ExoDeep model folder
(``config.json`` + weights). The published ExoDeepFinder weights (GPL-3.0) are not
shipped in the source: they are fetched once, checked against their sha256, into the
user data folder.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from exodeep_gui import __version__
from exodeep_gui.ml.unet import ModelError, UNetSpec
from exodeep_gui.paths import model_search_path, user_models_dir

CONFIG_NAME = "config.json"
SNAPSHOTS = "snapshots"            # a model folder's training snapshots (ml.train, snapshot_every)
CONFIG_FORMAT = "exodeep-model"
CONFIG_VERSION = 1
CLASSES = ["background", "bright spot", "exocytosis"]
NORMALISATION = {"kind": "percentile-per-frame", "low": 1.0, "high": 99.0}


@dataclass(frozen=True)
class RegistryEntry:
    name: str
    title: str
    filename: str
    url: str
    sha256: str
    licence: str
    description: str
    aliases: tuple = ()


PUBLISHED = RegistryEntry(
    name="exodeepfinder",
    title="ExoDeepFinder (Lachuer et al., PLoS Comput Biol 2025)",
    filename="exodeepfinder_net_weights_FINAL.h5",
    url="https://github.com/deep-finder/tirfm-deepfinder/raw/master/examples/analyze/in/net_weights_FINAL.h5",
    sha256="2c811b08a11a661a8129e561452acc567cab583bcf7e3aa8a4cb446c5412d4cc",
    licence="GPL-3.0",
    description="Published model trained on 60 RPE-1 VAMP7-pHluorin movies; recommended for real data.",
    aliases=("net_weights_FINAL.h5",),
)
REGISTRY = {PUBLISHED.name: PUBLISHED}


@dataclass
class ModelInfo:
    """What a resolved model is: where its weights are and how to build it."""

    name: str
    weights: Path
    weights_format: str                 # "keras2-h5" or "keras3-weights"
    spec: UNetSpec = field(default_factory=UNetSpec)
    config: dict = field(default_factory=dict)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def find_local(entry: RegistryEntry) -> Optional[Path]:
    for folder in model_search_path():
        for fname in (entry.filename,) + entry.aliases:
            candidate = Path(folder) / fname
            if candidate.is_file() and sha256_of(candidate) == entry.sha256:
                return candidate
    return None


def fetch(entry: RegistryEntry, progressbar: bool = False) -> Path:
    """Download ``entry`` once into the user models folder, checking its sha256."""
    local = find_local(entry)
    if local is not None:
        return local
    import pooch

    target = user_models_dir()
    try:
        target.mkdir(parents=True, exist_ok=True)
        path = pooch.retrieve(entry.url, known_hash=f"sha256:{entry.sha256}", fname=entry.filename,
                              path=target, progressbar=progressbar)
    except ValueError as exc:          # pooch: hash mismatch
        raise ModelError(f"the downloaded {entry.name} model failed its checksum ({exc}); "
                         "try again later") from None
    except Exception as exc:
        raise ModelError(f"could not download the {entry.name} model from {entry.url} "
                         f"({type(exc).__name__}: no internet connection?). Download that file by "
                         f"hand and put it in {target}, or pass its path as the model.") from None
    return Path(path)


def list_models() -> list:
    """(name, title, where) for registry entries and model folders in the user folder."""
    rows = []
    for entry in REGISTRY.values():
        local = find_local(entry)
        rows.append((entry.name, entry.title, str(local) if local else f"download on first use ({entry.url})"))
    for folder in sorted(user_models_dir().glob(f"*/{CONFIG_NAME}")):
        rows.append((folder.parent.name, "ExoDeep model folder", str(folder.parent)))
    return rows


def resolve_model(spec: str, download: bool = True) -> ModelInfo:
    """Turn a name or path into a :class:`ModelInfo` (downloading a registry model if needed)."""
    key = str(spec).strip()
    if key.lower() in REGISTRY:
        entry = REGISTRY[key.lower()]
        path = fetch(entry) if download else find_local(entry)
        if path is None:
            raise ModelError(f"the {entry.name} model is not downloaded yet")
        return ModelInfo(entry.name, path, "keras2-h5")
    path = Path(key).expanduser()
    if not path.exists():
        named = user_models_dir() / key
        if (named / CONFIG_NAME).is_file():
            path = named
        else:
            known = ", ".join(REGISTRY)
            raise ModelError(f"{key}: no such model file or folder (known names: {known})")
    if path.is_dir():
        return read_model_folder(path)
    if path.name.endswith(".weights.h5"):
        return read_folder_weights(path)
    if path.suffix.lower() in (".h5", ".hdf5"):
        return ModelInfo(path.stem, path, "keras2-h5")
    raise ModelError(f"{path}: not a model (expected a model folder with {CONFIG_NAME} or a .h5 weights file)")


def read_model_folder(folder: Path) -> ModelInfo:
    cfg_path = Path(folder) / CONFIG_NAME
    if not cfg_path.is_file():
        raise ModelError(f"{folder}: not a model folder (no {CONFIG_NAME})")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{cfg_path}: broken configuration file ({exc})") from None
    if cfg.get("format") != CONFIG_FORMAT:
        raise ModelError(f"{cfg_path}: not an ExoDeep model configuration")
    if int(cfg.get("version", 0)) > CONFIG_VERSION:
        raise ModelError(f"{cfg_path}: made by a newer ExoDeep (format {cfg.get('version')}); update ExoDeep")
    norm = cfg.get("normalisation", NORMALISATION)
    if norm.get("kind") != NORMALISATION["kind"]:
        raise ModelError(f"{cfg_path}: unsupported normalisation {norm.get('kind')!r}")
    arch = UNetSpec.from_dict(cfg.get("architecture", {}))
    weights_name = cfg.get("weights", "weights_best.weights.h5")
    weights = Path(folder) / weights_name
    if not weights.is_file():
        raise ModelError(f"{folder}: the weights file {weights_name} is missing")
    fmt = "keras2-h5" if weights_name.endswith(".h5") and not weights_name.endswith(".weights.h5") else "keras3-weights"
    return ModelInfo(Path(folder).name, weights, fmt, arch, cfg)


def read_folder_weights(path: Path) -> ModelInfo:
    """Other weights of a model folder: ``MODEL/weights_last.weights.h5`` or a training snapshot
    ``MODEL/snapshots/step_000450.weights.h5``, with the folder's architecture and normalisation. The
    folder's recommended threshold and minimum size were chosen for its best weights, so they are dropped."""
    path = Path(path)
    folder = path.parent.parent if path.parent.name == SNAPSHOTS else path.parent
    if not (folder / CONFIG_NAME).is_file():
        raise ModelError(f"{path}: weights without their model folder (no {CONFIG_NAME} in {folder}); "
                         f"an unfinished training run gets one when it is resumed or finishes")
    info = read_model_folder(folder)
    config = {k: v for k, v in info.config.items() if k != "recommended"}
    return ModelInfo(f"{info.name} ({path.name[:-len('.weights.h5')]})", path, "keras3-weights", info.spec, config)


def recommended_filter(config: dict) -> tuple:
    """(threshold, min_size) a model folder recommends (chosen on its validation movies), else (0.5, 0)."""
    rec = (config or {}).get("recommended") or {}
    return float(rec.get("threshold", 0.5)), int(rec.get("min_size", 0))


def model_config(spec: UNetSpec, weights_name: str, **extra) -> dict:
    cfg = {"format": CONFIG_FORMAT, "version": CONFIG_VERSION, "exodeep_version": __version__,
           "architecture": spec.to_dict(), "classes": CLASSES, "normalisation": dict(NORMALISATION),
           "weights": weights_name}
    cfg.update(extra)
    return cfg


def save_model_folder(model, spec: UNetSpec, folder, overwrite: bool = False, **extra) -> Path:
    """Write ``config.json`` and weights (Keras 3 ``.weights.h5``) into ``folder``, atomically each."""
    from exodeep_gui.io.atomic import atomic_path, write_text_atomic

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights_name = "weights_best.weights.h5"
    with atomic_path(folder / weights_name, overwrite, suffix=".part.weights.h5") as tmp:
        tmp.unlink()
        model.save_weights(tmp)
    write_text_atomic(folder / CONFIG_NAME, json.dumps(model_config(spec, weights_name, **extra), indent=2),
                      overwrite)
    return folder


def load_keras_model(info: ModelInfo, mixed_precision: bool = False):
    """Build the network of ``info`` and load its weights (Keras imported here, lazily)."""
    from exodeep_gui.ml.unet import build_unet, load_keras2_h5_weights

    model = build_unet(info.spec, mixed_precision=mixed_precision)
    if info.weights_format == "keras2-h5":
        load_keras2_h5_weights(model, info.weights)
    else:
        try:
            model.load_weights(info.weights)
        except Exception as exc:
            raise ModelError(f"{info.weights}: cannot load these weights ({str(exc)[:200]})") from None
    return model
