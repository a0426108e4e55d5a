"""User preferences as a versioned dataclass stored as JSON (recent files, folders, model,
window layout). Unknown or broken files fall back to defaults; never fatal."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import List

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
    threshold: float = 0.5
    min_size: int = 0
    fps: int = 20
    last_training: str = ""     # the model folder of the last training run started from the window
    geometry: str = ""          # hex of QMainWindow.saveGeometry()
    window_state: str = ""      # hex of QMainWindow.saveState()

    def add_recent(self, path) -> None:
        p = str(Path(path))
        self.recent = [p] + [r for r in self.recent if r != p][:MAX_RECENT - 1]

    @classmethod
    def load(cls, path: Path = None) -> "Settings":
        path = Path(path or settings_file())
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            log.warning("settings %s unreadable (%s); using defaults", path, exc)
            return cls()
        data = migrate(data)
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def save(self, path: Path = None) -> None:
        path = Path(path or settings_file())
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, json.dumps(asdict(self), indent=2), overwrite=True)
        except OSError as exc:
            log.warning("could not save settings to %s: %s", path, exc)


def migrate(data: dict) -> dict:
    """Bring older settings files to the current schema (version 1 is the first)."""
    data = dict(data)
    data["schema_version"] = SCHEMA_VERSION
    return data
