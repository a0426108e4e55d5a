"""Print ExoDeep's runtime requirements (pyproject.toml's dependencies), one per line, with the pins of
an overrides file put in place of the same packages' pins: the input of ``pip install -r``.

    python installer/linux/requirements.py [installer/linux/overrides-glibc2.31.txt]
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    return re.split(r"[\s;=<>!~\[(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def requirements(overrides: Path | None = None, pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    deps = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    pins = {}
    if overrides is not None:
        for line in overrides.read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                pins[_name(line)] = line
    unknown = set(pins) - {_name(d) for d in deps}
    if unknown:
        raise SystemExit(f"{overrides}: {', '.join(sorted(unknown))} is not a dependency in {pyproject}")
    out, done = [], set()
    for dep in deps:
        name = _name(dep)
        if name in pins:
            if name not in done:
                out.append(pins[name])
                done.add(name)
        else:
            out.append(dep)
    return out


if __name__ == "__main__":
    sys.stdout.write("\n".join(requirements(Path(sys.argv[1]) if len(sys.argv) > 1 else None)) + "\n")
