"""The newest glibc symbol version that the ELF files under a folder need (their GLIBC_x.y version
references, as ``objdump -T`` shows them), read from each file's ``.gnu.version_r`` section.
Standard library only, so that it runs in any build root.

    python installer/linux/glibc_check.py FOLDER_OR_FILE... [--max 2.31] [--top 5]

Prints the maximum and the files that need it; with ``--max``, exits 1 when a file needs a newer glibc
than that (and lists those files), 0 otherwise. Also prints the newest libstdc++ (GLIBCXX_) version
needed, for information.
"""

from __future__ import annotations

import argparse
import mmap
import os
import re
import struct
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set, Tuple

SHT_GNU_VERNEED = 0x6FFFFFFE
_VERSION = re.compile(r"^(GLIBC|GLIBCXX|CXXABI)_(\d+(?:\.\d+)*)$")

Version = Tuple[int, ...]


def parse_version(text: str) -> Version:
    """"2.31" → (2, 31)."""
    return tuple(int(part) for part in text.split("."))


def show(version: Version) -> str:
    return ".".join(str(part) for part in version)


def version_needs(path: Path) -> Optional[Set[str]]:
    """The version names (``GLIBC_2.17``, ``GLIBCXX_3.4.21``…) an ELF file references, or None when the
    file is not an ELF file (or cannot be read)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if len(head) < 52 or head[:4] != b"\x7fELF":
                return None
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return _needs(head, data)
    except (OSError, ValueError, struct.error):
        return None


def _needs(head: bytes, data) -> Set[str]:
    is64 = head[4] == 2
    end = "<" if head[5] == 1 else ">"
    if is64:
        shoff, = struct.unpack_from(end + "Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x3A)
        section_format = end + "IIQQQQIIQQ"
    else:
        shoff, = struct.unpack_from(end + "I", data, 0x20)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x2E)
        section_format = end + "IIIIIIIIII"
    sections = []
    for i in range(shnum):
        at = shoff + i * shentsize
        if at + struct.calcsize(section_format) > len(data):
            return set()
        sections.append(struct.unpack_from(section_format, data, at))
    names: Set[str] = set()
    for _name, sh_type, _flags, _addr, offset, size, link, info, _align, _entsize in sections:
        if sh_type != SHT_GNU_VERNEED or link >= len(sections):
            continue
        strtab = sections[link][4]
        at = offset
        for _ in range(info):                               # Elf_Verneed entries
            _vn_version, vn_cnt, _file, vn_aux, vn_next = struct.unpack_from(end + "HHIII", data, at)
            aux = at + vn_aux
            for _ in range(vn_cnt):                         # Elf_Vernaux entries
                _hash, _flags2, _other, vna_name, vna_next = struct.unpack_from(end + "IHHII", data, aux)
                stop = data.find(b"\0", strtab + vna_name)
                names.add(data[strtab + vna_name:stop].decode("ascii", "replace"))
                if not vna_next:
                    break
                aux += vna_next
            if not vn_next:
                break
            at += vn_next
    return names


def elf_files(paths: List[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            for folder, _dirs, files in os.walk(path):
                for name in sorted(files):
                    candidate = Path(folder) / name
                    if candidate.is_file() and not candidate.is_symlink():
                        yield candidate
        elif path.is_file():
            yield path


def newest(paths: List[Path]) -> Dict[str, Dict[Path, Version]]:
    """For each of GLIBC, GLIBCXX, CXXABI: every ELF file that needs it → the newest version it needs."""
    found: Dict[str, Dict[Path, Version]] = {"GLIBC": {}, "GLIBCXX": {}, "CXXABI": {}}
    for path in elf_files(paths):
        needs = version_needs(path)
        for name in needs or ():
            m = _VERSION.match(name)
            if m:
                version = parse_version(m.group(2))
                table = found[m.group(1)]
                if version > table.get(path, ()):
                    table[path] = version
    return found


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="+", type=Path)
    ap.add_argument("--max", type=parse_version, help="fail when a file needs a newer glibc (e.g. 2.31)")
    ap.add_argument("--top", type=int, default=3, help="how many files to name per version (default 3)")
    args = ap.parse_args(argv)
    missing = [p for p in args.paths if not p.exists()]
    if missing:
        print(f"glibc_check: {missing[0]}: no such file or folder", file=sys.stderr)
        return 2
    found = newest(args.paths)
    glibc = found["GLIBC"]
    if not glibc:
        print("glibc_check: no ELF file needs a versioned glibc symbol")
        return 0
    top = max(glibc.values())
    names = sorted(str(p) for p, v in glibc.items() if v == top)
    print(f"glibc needed: {show(top)} ({len(glibc)} ELF files checked with glibc symbol versions; "
          f"{len(names)} need {show(top)}: {', '.join(names[:args.top])}{' …' if len(names) > args.top else ''})")
    for lib in ("GLIBCXX", "CXXABI"):
        if found[lib]:
            print(f"{lib} needed: {show(max(found[lib].values()))}")
    if args.max is not None:
        over = sorted((v, str(p)) for p, v in glibc.items() if v > args.max)
        if over:
            print(f"glibc_check: {len(over)} files need a glibc newer than {show(args.max)}:", file=sys.stderr)
            for version, path in over[::-1]:
                print(f"  GLIBC_{show(version)}  {path}", file=sys.stderr)
            return 1
        print(f"glibc_check: OK, nothing needs a glibc newer than {show(args.max)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
