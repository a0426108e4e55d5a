"""User preferences as a versioned dataclass stored as JSON (recent files, folders, model,
window layout). Unknown or broken files fall back to defaults; never fatal."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import List

from exodeep_gui.core.review import DEFAULT_FILTER
from exodeep_gui.io.atomic import write_text_atomic
from exodeep_gui.paths import settings_file

SCHEMA_VERSION = 1
MAX_RECENT = 10
log = logging.getLogger(__name__)


@dataclass
class Settings:
    schema_version: int = SCHEMA_VERSION
    recent: List[str] = field(default_factory=list)
    last_open_dir: str = ""
    last_export_dir: str = ""
    model: str = ""
    threshold: float = DEFAULT_FILTER.threshold
    min_size: int = DEFAULT_FILTER.min_size
    min_confidence: float = DEFAULT_FILTER.min_confidence
    fps: int = 20
    precision: str = "auto"     # the network's arithmetic for detection (Detection panel)
    views: int = 1              # test-time augmentation: 1, 4 or 8 views (Detection panel)
    last_training: str = ""     # the model folder of the last training run started from the window
    training_stages: str = ""   # that run's stages (patch:batch:shift:steps,…): the wizard offers them again
    geometry: str = ""          # hex of QMainWindow.saveGeometry()
    window_state: str = ""      # hex of QMainWindow.saveState()

    def add_recent(self, path) -> None:
        p = str(Path(path))
        self.recent = [p] + [r for r in self.recent if r != p][:MAX_RECENT - 1]

    @classmethod
    def load(cls, path: Path = None) -> "Settings":
        """The settings in ``path``; a missing or broken file gives the defaults, and a value of the
        wrong type (a hand-edited or damaged file) the default of that setting. Never raises, and
        never changes the file."""
        path = Path(path or settings_file())
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError, RecursionError) as exc:     # UnicodeDecodeError is a ValueError
            log.warning("settings %s unreadable (%s); using defaults", path, " ".join(str(exc).split())[:200])
            return cls()
        if not isinstance(data, dict):
            log.warning("settings %s hold %s, not an object; using defaults", path, type(data).__name__)
            return cls()
        data = migrate(data)
        defaults = cls()
        kept = {}
        for name in cls.__dataclass_fields__:
            if name not in data:
                continue
            value = _checked(data[name], getattr(defaults, name))
            if value is None:
                log.warning("settings %s: %s has a value of the wrong kind (%.60r); using the default",
                            path, name, data[name])
            else:
                kept[name] = value
        return cls(**kept)

    def save(self, path: Path = None) -> None:
        path = Path(path or settings_file())
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, json.dumps(asdict(self), indent=2), overwrite=True)
        except OSError as exc:
            log.warning("could not save settings to %s: %s", path, exc)


def _checked(value, default):
    """``value`` if it has the type of ``default`` (a list of strings for lists), else None."""
    if isinstance(default, bool):
        return value if isinstance(value, bool) else None
    if isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**31
        return value if ok else None
    if isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        return float(value) if ok else None
    if isinstance(default, str):
        return value if isinstance(value, str) and "\0" not in value else None
    if isinstance(default, list):
        if not isinstance(value, list):
            return None
        return [v for v in value if isinstance(v, str) and v and "\0" not in v][:MAX_RECENT]
    return None


def migrate(data: dict) -> dict:
    """Bring older settings files to the current schema (version 1 is the first)."""
    data = dict(data)
    data["schema_version"] = SCHEMA_VERSION
    return data
