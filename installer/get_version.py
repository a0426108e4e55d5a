"""Print the version from pyproject.toml (the one source of the version)."""

import re
import sys
from pathlib import Path


def get_version(root: Path = Path(__file__).resolve().parent.parent) -> str:
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
    if not match:
        raise SystemExit("no version in pyproject.toml")
    return match.group(1)


if __name__ == "__main__":
    sys.stdout.write(get_version() + "\n")
