"""The layout of an ExoDeep model folder, defined once (training writes it, detection and the
window read it). No Keras here: the window imports this module.

::

    config.json               format, version, architecture, classes, normalisation, weights file,
                              schedule, training summary, recommended threshold and minimum size
    weights_best.weights.h5   the weights with the best validation F1 (the last ones without validation)
    weights_last.weights.h5   the weights at the last step
    history.csv               step, stage, patch, loss, validation loss/precision/recall/F1, time
    validation.json           the validation report at every validation point
    checkpoint/               weights + optimiser state + run state, while a run is unfinished
                              (model.weights.h5, optimizer.npz, state.json; swapped in atomically
                              through checkpoint.new/ and checkpoint.old/)
    snapshots/                with ``snapshot_every``: the weights every N steps (step_000450.weights.h5)
    data/                     a run started from the window: the reviewed events it trained on
                              (<movie>.csv) and the simulated movies it mixed in
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from exodeep_gui import __version__
from exodeep_gui.io.atomic import OutputError, check_writable_folder, write_text_atomic
from exodeep_gui.io.library_messages import one_line
from exodeep_gui.ml.unet import ModelError, UNetSpec
from exodeep_gui.paths import MODEL_CONFIG_NAME

CONFIG_NAME = MODEL_CONFIG_NAME
BEST = "weights_best.weights.h5"
LAST = "weights_last.weights.h5"
HISTORY = "history.csv"
VALIDATION = "validation.json"
CHECKPOINT = "checkpoint"
SNAPSHOTS = "snapshots"
DATA = "data"
WEIGHTS_SUFFIX = ".weights.h5"

CONFIG_FORMAT = "exodeep-model"
CONFIG_VERSION = 1
CLASSES = ["background", "bright spot", "exocytosis"]
NORMALISATION = {"kind": "percentile-per-frame", "low": 1.0, "high": 99.0}
HISTORY_COLUMNS = ["step", "stage", "patch", "loss", "val_loss", "precision", "recall", "f1", "elapsed_s"]


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)


def model_config(spec: UNetSpec, weights_name: str, **extra) -> dict:
    """The content of ``config.json`` for a network ``spec`` whose best weights are ``weights_name``."""
    cfg = {"format": CONFIG_FORMAT, "version": CONFIG_VERSION, "exodeep_version": __version__,
           "architecture": spec.to_dict(), "classes": CLASSES, "normalisation": dict(NORMALISATION),
           "weights": weights_name}
    cfg.update(extra)
    return cfg


def snapshot_name(step: int) -> str:
    return f"step_{step:06d}{WEIGHTS_SUFFIX}"


def save_weights(model, path: Path) -> None:
    """``model``'s weights written beside ``path`` then renamed over it (never a half-written file;
    a failed write, e.g. a full disk, raises :class:`OutputError` naming the file and keeps the
    previous one)."""
    path = Path(path)
    part = path.with_name(path.name[:-len(WEIGHTS_SUFFIX)] + ".part" + WEIGHTS_SUFFIX)
    try:
        model.save_weights(part)
        part.replace(path)
    except BaseException as exc:
        try:
            part.unlink()
        except OSError:
            pass
        if isinstance(exc, Exception) and is_disk_error(exc):
            raise OutputError(f"{path}: could not be written ({disk_error_text(exc)}); the previous "
                              "file is kept") from None
        raise


def _write_text(path: Path, text: str) -> None:
    try:
        write_text_atomic(path, text, overwrite=True)
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"{path}: could not be written ({disk_error_text(exc)}); the previous file "
                          "is kept") from None


@dataclass(frozen=True)
class Checkpoint:
    """An unfinished run's saved point: ``state`` is what the training loop needs to go on."""

    folder: Path
    state: dict

    @property
    def weights(self) -> Path:
        return self.folder / "model.weights.h5"

    @property
    def optimizer(self) -> Path:
        return self.folder / "optimizer.npz"


class ModelFolder:
    """One model folder: where each part lives, and reading/writing the parts that are not weights."""

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"ModelFolder({str(self.path)!r})"

    @classmethod
    def of_weights(cls, weights) -> "ModelFolder":
        """The folder that ``MODEL/weights_last.weights.h5`` or ``MODEL/snapshots/step_….weights.h5``
        belongs to (it may not be a model folder: check :meth:`is_model`)."""
        weights = Path(weights)
        return cls(weights.parent.parent if weights.parent.name == SNAPSHOTS else weights.parent)

    # ------------------------------------------------------------ where things are
    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config(self) -> Path:
        return self.path / CONFIG_NAME

    @property
    def best(self) -> Path:
        return self.path / BEST

    @property
    def last(self) -> Path:
        return self.path / LAST

    @property
    def history(self) -> Path:
        return self.path / HISTORY

    @property
    def validation(self) -> Path:
        return self.path / VALIDATION

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT

    @property
    def snapshots_dir(self) -> Path:
        return self.path / SNAPSHOTS

    def snapshot(self, step: int) -> Path:
        return self.snapshots_dir / snapshot_name(step)

    # ------------------------------------------------------------ what it holds
    def is_model(self) -> bool:
        """It has a ``config.json`` (a finished run, or one cancelled after writing its outputs)."""
        return self.config.is_file()

    def is_unfinished(self) -> bool:
        """A run's checkpoint is here: ``resume`` can continue it."""
        return self._checkpoint_dir() is not None

    def snapshots(self) -> List[Tuple[int, Path]]:
        """(global step, weights file) of every snapshot a run kept here, in step order."""
        found = []
        for p in self.snapshots_dir.glob(f"step_*{WEIGHTS_SUFFIX}"):
            stem = p.name[len("step_"):-len(WEIGHTS_SUFFIX)]
            if stem.isdigit():
                found.append((int(stem), p))
        return sorted(found)

    def read_config(self) -> dict:
        """``config.json``, checked: an ExoDeep model of a format this version reads, whose every
        field detection uses has the right type (a damaged or hand-edited file is named, with the
        field)."""
        if not self.config.is_file():
            raise ModelError(f"{self.path}: not a model folder (no {CONFIG_NAME})")
        try:
            cfg = json.loads(self.config.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise ModelError(f"{self.config}: broken configuration file ({one_line(exc, 200)})") from None
        except OSError as exc:
            raise ModelError(f"{self.config}: cannot be read ({exc.strerror or exc})") from None
        if not isinstance(cfg, dict) or cfg.get("format") != CONFIG_FORMAT:
            raise ModelError(f"{self.config}: not an ExoDeep model configuration")
        version = cfg.get("version", 0)
        if not isinstance(version, int) or isinstance(version, bool):
            raise ModelError(f"{self.config}: its format version {version!r:.40} is not a whole number")
        if version > CONFIG_VERSION:
            raise ModelError(f"{self.config}: made by a newer ExoDeep (format {version}); update ExoDeep")
        norm = cfg.get("normalisation", NORMALISATION)
        if not isinstance(norm, dict) or norm.get("kind") != NORMALISATION["kind"]:
            kind = norm.get("kind") if isinstance(norm, dict) else norm
            raise ModelError(f"{self.config}: unsupported normalisation {kind!r:.60}")
        arch = cfg.get("architecture", {})
        try:
            UNetSpec.from_dict(arch)
        except ModelError as exc:
            raise ModelError(f"{self.config}: {exc}") from None
        weights = cfg.get("weights", BEST)
        if not isinstance(weights, str) or not weights or Path(weights).name != weights or weights in (".", ".."):
            raise ModelError(f"{self.config}: 'weights' must name a file in the model folder, not {weights!r:.60}")
        for key in ("weights_last",):
            if key in cfg and (not isinstance(cfg[key], str) or Path(cfg[key]).name != cfg[key]):
                raise ModelError(f"{self.config}: {key!r} must name a file in the model folder")
        rec = cfg.get("recommended")
        if rec is not None:
            ok = isinstance(rec, dict)
            t, m = (rec.get("threshold", 0.5), rec.get("min_size", 0)) if ok else (None, None)
            ok = ok and _is_number(t) and 0.0 <= t <= 1.0 and _is_number(m) and 0 <= m < 1e9
            if not ok:
                raise ModelError(f"{self.config}: 'recommended' needs a threshold between 0 and 1 and a "
                                 f"minimum size of 0 or more, not {json.dumps(rec)[:80]}")
        return cfg

    def weights_of(self, cfg: dict) -> Path:
        """The best weights ``cfg`` names (``weights_best.weights.h5`` unless it says otherwise)."""
        return self.path / cfg.get("weights", BEST)

    # ------------------------------------------------------------ writing (atomically)
    def write_config(self, cfg: dict, overwrite: bool = True) -> None:
        if not overwrite:
            write_text_atomic(self.config, json.dumps(cfg, indent=2), overwrite=False)
            return
        _write_text(self.config, json.dumps(cfg, indent=2))

    def write_history(self, rows: Sequence[dict]) -> None:
        buf = io.StringIO()
        w = csv.DictWriter(buf, HISTORY_COLUMNS, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in HISTORY_COLUMNS})
        _write_text(self.history, buf.getvalue())

    def write_validation(self, reports: Sequence[dict]) -> None:
        _write_text(self.validation, json.dumps(list(reports), indent=2))

    def save_snapshot(self, model, step: int) -> Path:
        self.snapshots_dir.mkdir(exist_ok=True)
        save_weights(model, self.snapshot(step))
        return self.snapshot(step)

    # ------------------------------------------------------------ runs and checkpoints
    def check_new_run(self, overwrite: bool) -> None:
        """A new run may start here: the folder is new or empty (or ``overwrite``), and writable."""
        if self.path.exists() and any(self.path.iterdir()) and not overwrite:
            raise OutputError(f"{self.path}: the folder is not empty; choose a new folder for the model "
                              f"(or --resume to continue a run, --overwrite to replace it)")
        check_writable_folder(self.path)

    def clear_run(self) -> None:
        """Forget an earlier run's checkpoint and snapshots (a new run over this folder)."""
        self.clear_checkpoint()
        shutil.rmtree(self.snapshots_dir, ignore_errors=True)

    def clear_checkpoint(self) -> None:
        for d in self._checkpoint_dirs() + (self.path / (CHECKPOINT + ".stale"),):
            shutil.rmtree(d, ignore_errors=True)

    def read_checkpoint(self) -> Checkpoint:
        d = self._checkpoint_dir()
        if d is None:
            raise OutputError(f"{self.path}: no unfinished training run to resume here")
        try:
            state = json.loads((d / "state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise OutputError(f"{d / 'state.json'}: unreadable checkpoint ({one_line(exc, 200)})") from None
        if not isinstance(state, dict) or not (d / "model.weights.h5").is_file():
            raise OutputError(f"{d}: an incomplete checkpoint (no weights or no state)")
        return Checkpoint(d, state)

    def write_checkpoint(self, save_model_weights: Callable[[Path], None], optimizer_arrays: Sequence[np.ndarray],
                         state: dict) -> None:
        """Weights (written by ``save_model_weights(path)``), optimiser variables and ``state`` into
        ``checkpoint/``, swapped in atomically: a kill at any moment leaves a whole checkpoint (the
        new one, or the one before). ``state.json`` is written last and atomically, so a folder with
        it is whole. A failed write (a full disk) raises :class:`OutputError` and keeps the previous
        checkpoint."""
        new, cur, old = self._checkpoint_dirs()
        shutil.rmtree(new, ignore_errors=True)
        try:
            new.mkdir(parents=True)
            save_model_weights(new / "model.weights.h5")
            np.savez(new / "optimizer.npz", *optimizer_arrays)
            part = new / "state.json.part"
            part.write_text(json.dumps(state), encoding="utf-8")
            part.replace(new / "state.json")
        except BaseException as exc:
            shutil.rmtree(new, ignore_errors=True)
            if isinstance(exc, Exception) and is_disk_error(exc):
                kept = "the previous checkpoint is kept" if self._checkpoint_dir() else "no checkpoint is kept"
                raise OutputError(f"{self.checkpoint}: the checkpoint could not be written "
                                  f"({disk_error_text(exc)}); {kept}") from None
            raise
        if cur.exists():
            shutil.rmtree(old, ignore_errors=True)
            cur.rename(old)
        new.rename(cur)
        shutil.rmtree(old, ignore_errors=True)

    def settle_checkpoint(self) -> None:
        """After a kill in the middle of a swap, finish it: the furthest whole checkpoint becomes
        ``checkpoint/`` (so that the next write never starts by removing the only one)."""
        new, cur, old = self._checkpoint_dirs()
        d = self._checkpoint_dir()
        if d is None or d == cur:
            return
        if cur.exists():
            shutil.rmtree(old if d != old else new, ignore_errors=True)
            spare = self.path / (CHECKPOINT + ".stale")
            shutil.rmtree(spare, ignore_errors=True)
            cur.rename(spare)
            d.rename(cur)
            shutil.rmtree(spare, ignore_errors=True)
        else:
            d.rename(cur)
        for other in (new, old):
            if other.exists() and other != cur:
                shutil.rmtree(other, ignore_errors=True)

    def clear_partial(self) -> None:
        """Remove what a killed run left half-written: ``*.part.weights.h5``, the temporary files of
        atomic writes, a ``checkpoint.new`` that never got its state (the whole ones are kept)."""
        for p in list(self.path.glob("*.part" + WEIGHTS_SUFFIX)) + list(self.path.glob(".*.part")) + \
                list(self.snapshots_dir.glob("*.part" + WEIGHTS_SUFFIX)):
            try:
                p.unlink()
            except OSError:
                pass
        new = self._checkpoint_dirs()[0]
        if new.exists() and not (new / "state.json").is_file():
            shutil.rmtree(new, ignore_errors=True)

    def _checkpoint_dirs(self) -> Tuple[Path, Path, Path]:
        """(being written, current, previous)."""
        return (self.path / (CHECKPOINT + ".new"), self.checkpoint, self.path / (CHECKPOINT + ".old"))

    def _checkpoint_dir(self) -> Optional[Path]:
        """The whole checkpoint of the furthest step: ``checkpoint/``, or after a kill between the
        renames of a swap ``checkpoint.old/`` or a finished ``checkpoint.new/``."""
        new, cur, old = self._checkpoint_dirs()
        best, best_step = None, None
        for d in (cur, old, new):
            try:
                state = json.loads((d / "state.json").read_text(encoding="utf-8"))
                step = int(state.get("global_step", 0)) if isinstance(state, dict) else None
            except (OSError, ValueError, TypeError):
                continue
            if step is not None and (d / "model.weights.h5").is_file() and (best_step is None or step > best_step):
                best, best_step = d, step
        return best


def is_disk_error(exc: BaseException) -> bool:
    """A write failed for lack of space or quota (errno, or the text HDF5 and zipfile give)."""
    import errno

    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return True
    text = str(exc).lower()
    return isinstance(exc, (OSError, RuntimeError, ValueError)) and any(
        k in text for k in ("no space left", "disk quota", "file too large", "errno = 28", "errno 28"))


def disk_error_text(exc: BaseException) -> str:
    """What went wrong, in a few words (HDF5's messages run over several lines)."""
    import errno

    text = str(exc).lower()
    if (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "no space left" in text or "errno = 28" in text:
        return "no space left on the disk"
    if isinstance(exc, OSError) and exc.errno == errno.EDQUOT or "quota" in text:
        return "disk quota exceeded"
    if isinstance(exc, OSError) and exc.strerror and exc.errno is not None:
        return exc.strerror.lower()
    return one_line(exc, 200)
