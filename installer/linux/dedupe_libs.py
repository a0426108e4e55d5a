"""Replace the copies of a wheel's vendored library that another wheel vendors too (the same file name
and the same bytes, e.g. libgfortran in numpy.libs/ and scipy.libs/) with relative symbolic links to
one of them: one copy on disk, and one in memory when both are loaded.

    python installer/linux/dedupe_libs.py BUNDLE/_internal     (prints what it linked and the MB saved)
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Dict, List, Tuple


def duplicates(internal: Path) -> List[Tuple[Path, Path]]:
    """(copy, original) pairs among the files in ``internal/*.libs/``."""
    groups: Dict[Tuple[str, int, str], List[Path]] = {}
    for lib in sorted(internal.glob("*.libs/*")):
        if lib.is_file() and not lib.is_symlink():
            key = (lib.name, lib.stat().st_size, hashlib.sha256(lib.read_bytes()).hexdigest())
            groups.setdefault(key, []).append(lib)
    return [(copy, paths[0]) for paths in groups.values() for copy in paths[1:]]


def dedupe(internal: Path) -> int:
    saved = 0
    for copy, original in duplicates(internal):
        saved += copy.stat().st_size
        copy.unlink()
        copy.symlink_to(os.path.relpath(original, copy.parent))
        print(f"dedupe_libs: {copy.relative_to(internal)} → {original.relative_to(internal)}")
    return saved


if __name__ == "__main__":
    saved = dedupe(Path(sys.argv[1]))
    print(f"dedupe_libs: {saved / 1e6:.1f} MB saved")
