"""The model registry and model resolution (the folder layout is in :mod:`exodeep_gui.ml.model_folder`).

A model is named (a registry entry such as ``exodeepfinder``) or given as a path: a
Keras-2 HDF5 weights file of the published architecture, or an ExoDeep model folder
(``config.json`` + weights); a model folder in the user models folder or shipped with the app
(``resources/models/exodeep-sim-small``, offline) is also named by its folder name. The published
ExoDeepFinder weights (GPL-3.0) are not shipped in the source: they are fetched once, checked
against their sha256, into the user data folder; offline, :class:`ModelUnavailable` names the
bundled models instead.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from exodeep_gui.core.review import DEFAULT_FILTER
from exodeep_gui.io.atomic import follow_umask
from exodeep_gui.ml.model_folder import BEST, CONFIG_NAME, WEIGHTS_SUFFIX, ModelFolder, model_config, save_weights
from exodeep_gui.ml.unet import ModelError, UNetSpec
from exodeep_gui.paths import bundled_model_named, bundled_models, model_search_path, user_models_dir

# every model shipped in resources/models is small and trained on simulated movies
BUNDLED_NOTE = "bundled, offline, trained on simulated movies"


class ModelUnavailable(ModelError):
    """A registry model is neither on this computer nor downloadable now (offline). ``alternatives``
    holds the bundled model folders (Paths; a folder's ``.name`` is what ``--model`` and the
    settings take), which work offline; the message (for the command line) names them, ``reason``
    says why in words for the window (no file names, no command-line flags)."""

    def __init__(self, message: str, alternatives: Sequence[Path] = (), reason: str = ""):
        super().__init__(message, f"the published model {reason}" if reason else message)
        self.alternatives = [Path(p) for p in alternatives]
        self.reason = reason or message

    def __reduce__(self):
        return type(self), (str(self), self.alternatives, self.reason)


def _unavailable(message: str, offline_hint: str, reason: str) -> ModelUnavailable:
    """``message`` + how to go on offline with the bundled models (``offline_hint`` joins them)."""
    bundled = bundled_models()
    if not bundled:
        return ModelUnavailable(message + ".", reason=reason)
    names = ", ".join(p.name for p in bundled)
    return ModelUnavailable(f"{message}{offline_hint}use the bundled model {names} (offline; trained on "
                            f"simulated movies): --model {bundled[0].name}", bundled, reason)


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
    target = user_models_dir()
    if os.environ.get("EXODEEP_OFFLINE"):       # no internet here (a cluster node, a test): do not wait for one
        raise _unavailable(f"the {entry.name} model is not on this computer and downloads are off "
                           f"(EXODEEP_OFFLINE). Put {entry.filename} in {target}", ", or ",
                           "is not on this computer and downloads are turned off")
    import pooch

    try:
        target.mkdir(parents=True, exist_ok=True)
        path = pooch.retrieve(entry.url, known_hash=f"sha256:{entry.sha256}", fname=entry.filename,
                              path=target, progressbar=progressbar)
    except ValueError as exc:          # pooch: hash mismatch
        raise _unavailable(f"the downloaded {entry.name} model failed its checksum ({exc}); try again "
                           "later", ", or ", "came damaged (its checksum is wrong); try again later") from None
    except Exception as exc:
        raise _unavailable(f"could not download the {entry.name} model from {entry.url} "
                           f"({type(exc).__name__}: no internet connection?). Download that file by hand "
                           f"and put it in {target}, or pass its path as the model", ", or ",
                           "is not on this computer and could not be downloaded (no internet connection?)") from None
    follow_umask(path)              # pooch's temporary file was 0600
    return Path(path)


def list_models() -> list:
    """(name, title, where) for registry entries, the bundled models and model folders in the user folder."""
    rows = []
    for entry in REGISTRY.values():
        local = find_local(entry)
        rows.append((entry.name, entry.title, str(local) if local else f"download on first use ({entry.url})"))
    rows += [(folder.name, BUNDLED_NOTE, str(folder)) for folder in bundled_models()]
    for folder in sorted(user_models_dir().glob(f"*/{CONFIG_NAME}")):
        rows.append((folder.parent.name, "ExoDeep model folder", str(folder.parent)))
    return rows


def find_named_folder(name: str) -> Optional[Path]:
    """The model folder called ``name`` in the user models folder, else the bundled one, else None."""
    named = user_models_dir() / name
    if ModelFolder(named).is_model():
        return named
    return next((p for p in bundled_models() if p.name.lower() == name.lower()), None)


def resolve_model(spec: str, download: bool = True) -> ModelInfo:
    """Turn a name or path into a :class:`ModelInfo` (downloading a registry model if needed)."""
    key = str(spec).strip()
    if key.lower() in REGISTRY:
        entry = REGISTRY[key.lower()]
        path = fetch(entry) if download else find_local(entry)
        if path is None:
            raise _unavailable(f"the {entry.name} model is not downloaded yet", "; ", "is not downloaded yet")
        return ModelInfo(entry.name, path, "keras2-h5")
    path = Path(key).expanduser()
    if not path.exists():
        # a name, or a model shipped with an app that has been moved or upgraded since
        path = find_named_folder(key) or bundled_model_named(key)
        if path is None:
            known = ", ".join(list(REGISTRY) + [p.name for p in bundled_models()])
            raise ModelError(f"{key}: no such model file or folder (known names: {known})")
    if path.is_dir():
        return read_model_folder(path)
    if path.name.endswith(WEIGHTS_SUFFIX):
        return read_folder_weights(path)
    if path.suffix.lower() in (".h5", ".hdf5"):
        return ModelInfo(path.stem, path, "keras2-h5")
    raise ModelError(f"{path}: not a model (expected a model folder with {CONFIG_NAME} or a .h5 weights file)")


def resolve_for_detection(spec: str, fallback: bool = False) -> tuple:
    """(ModelInfo, note): the model ``spec`` names; with ``fallback``, when it is a registry model
    (the published one) that is neither here nor downloadable now, the first bundled model instead,
    and ``note`` says so in words (the window's first Detect on a computer with no network detects;
    the command line asks for the model it names and is told why it cannot have it)."""
    try:
        return resolve_model(spec), ""
    except ModelUnavailable as exc:
        if not (fallback and exc.alternatives):
            raise
        bundled = exc.alternatives[0]
        return read_model_folder(bundled), (f"ran the bundled model {bundled.name} ({BUNDLED_NOTE}) because the "
                                            f"published ExoDeepFinder model {exc.reason}")


def read_model_folder(folder: Path, need_weights: bool = True) -> ModelInfo:
    """The model in an ExoDeep model folder (its best weights; with ``need_weights`` False, the
    folder's architecture and configuration even while its best weights are not there yet, as in
    an unfinished run)."""
    mf = ModelFolder(folder)
    cfg = mf.read_config()
    arch = UNetSpec.from_dict(cfg.get("architecture", {}))
    weights = mf.weights_of(cfg)
    if need_weights and not weights.is_file():
        raise ModelError(_missing_weights(mf, weights), _missing_weights_window(mf, weights))
    fmt = "keras2-h5" if weights.suffix == ".h5" and not weights.name.endswith(WEIGHTS_SUFFIX) else "keras3-weights"
    return ModelInfo(mf.name, weights, fmt, arch, cfg)


def _missing_weights(mf: ModelFolder, weights: Path) -> str:
    """Why a model folder has no best weights, and what can be used instead."""
    if mf.is_unfinished():
        snaps = mf.snapshots()
        alt = (f"; or detect with its last snapshot, --model {snaps[-1][1]}" if snaps else
               f"; or detect with its last weights, --model {mf.last}" if mf.last.is_file() else "")
        return (f"{weights}: missing: the training run in {mf.path} did not finish (stopped or killed); "
                f"continue it with: exodeep train --resume --out {mf.path}{alt}")
    return f"{weights}: missing; the model folder {mf.path} is incomplete (its config.json names this file)"


def _missing_weights_window(mf: ModelFolder, weights: Path) -> str:
    """:func:`_missing_weights` in the window's words."""
    if mf.is_unfinished():
        return (f"the training run in {mf.path} did not finish (stopped or killed), so it has no model yet: "
                "Train > Resume an unfinished training run continues it")
    return f"{weights}: missing; the model folder {mf.path} is incomplete"


def read_folder_weights(path: Path) -> ModelInfo:
    """Other weights of a model folder: ``MODEL/weights_last.weights.h5`` or a training snapshot
    ``MODEL/snapshots/step_000450.weights.h5``, with the folder's architecture and normalisation. The
    folder's recommended threshold and minimum size were chosen for its best weights, so they are dropped."""
    path = Path(path)
    folder = ModelFolder.of_weights(path)
    if not folder.is_model():
        raise ModelError(f"{path}: weights without their model folder (no {CONFIG_NAME} in {folder.path}); "
                         f"an unfinished training run gets one when it is resumed or finishes")
    if not path.is_file():
        raise ModelError(f"{path}: no such weights file")
    info = read_model_folder(folder.path, need_weights=False)
    config = {k: v for k, v in info.config.items() if k != "recommended"}
    return ModelInfo(f"{info.name} ({path.name[:-len(WEIGHTS_SUFFIX)]})", path, "keras3-weights", info.spec, config)


def recommended_filter(config: dict) -> tuple:
    """(threshold, min_size) a model folder recommends (chosen on its validation movies), else the
    default filter's."""
    rec = (config or {}).get("recommended") or {}
    return (float(rec.get("threshold", DEFAULT_FILTER.threshold)),
            int(rec.get("min_size", DEFAULT_FILTER.min_size)))


def save_model_folder(model, spec: UNetSpec, folder, overwrite: bool = False, **extra) -> Path:
    """Write ``config.json`` and weights (Keras 3 ``.weights.h5``) into ``folder``, atomically each."""
    from exodeep_gui.io.atomic import refuse_existing

    mf = ModelFolder(folder)
    if not overwrite:
        refuse_existing(mf.best)
    mf.path.mkdir(parents=True, exist_ok=True)
    save_weights(model, mf.best)
    mf.write_config(model_config(spec, BEST, **extra), overwrite)
    return mf.path


def load_keras_model(info: ModelInfo, mixed_precision: bool = False):
    """Build the network of ``info`` and load its weights (Keras imported here, lazily). Weights that
    do not fit (another architecture, a damaged file) raise :class:`ModelError`, one line naming the
    file; Keras' own warnings are not printed."""
    from exodeep_gui.io.library_messages import library_messages, one_line
    from exodeep_gui.ml.unet import build_unet, check_weights_fit, import_keras, load_keras2_h5_weights

    if not Path(info.weights).is_file():
        raise ModelError(f"{info.weights}: the weights file is missing (deleted or moved?)")
    if info.weights_format != "keras2-h5":          # checked with h5py, before Keras is loaded
        folder = ModelFolder.of_weights(info.weights)
        check_weights_fit(info.weights, info.spec, described_by=str(folder.config) if folder.is_model()
                          else "the model")
    import_keras()
    with library_messages() as messages:
        model = build_unet(info.spec, mixed_precision=mixed_precision)
        if info.weights_format == "keras2-h5":
            load_keras2_h5_weights(model, info.weights)
        else:
            try:
                model.load_weights(info.weights)
            except Exception as exc:
                raise ModelError(f"{info.weights}: cannot load these weights ({one_line(exc, 200)})") from None
    partial = [m for m in messages if "could not be loaded" in m or "Skipping" in m or "mismatch" in m]
    if partial:
        raise ModelError(f"{info.weights}: the weights do not fit the network ({one_line(partial[0], 200)})")
    import numpy as np

    if not all(np.isfinite(w).all() for w in model.get_weights()):
        raise ModelError(f"{info.weights}: holds NaN or infinite weights (a damaged file, or a training run "
                         "that diverged)")
    return model
