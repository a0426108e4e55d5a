"""Collect the licence texts of what the bundle ships into a ``licenses/`` folder, at build time, with
the Python that built the bundle:

    python installer/collect_licenses.py OUT_DIR [--bundle DIST/ExoDeep] [--weights-bundled]

- every Python distribution that ExoDeep's runtime requirements pull in (pyproject.toml, followed
  through the installed packages' own requirements, markers evaluated here), less those the spec
  excludes (installer/bundle_config.py), plus PyInstaller's bootloader: the licence files of its
  dist-info folder (PEP 639 ``licenses/``, LICENSE*, COPYING*, NOTICE*), else the ones its files list
  names near the package's top (TensorFlow's THIRD_PARTY_NOTICES.txt), else, for a licence with a
  standard text (PySide6/Qt: LGPL-3.0), that text;
- the Python interpreter's licence (PSF);
- on Debian-like build systems, with --bundle: the copyright files of the Debian packages whose
  libraries PyInstaller copied from the system (libxcb-icccm4, libssl, …);
- with --weights-bundled: the notice and attribution of the published ExoDeepFinder weights (GPL-3.0).

Writes OUT_DIR/THIRD-PARTY.txt, an index: name, version, licence, files. Standard library plus
``packaging`` (a PyInstaller dependency).
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path
from typing import Dict, List, Optional

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bundle_config import BACKEND_DISTRIBUTIONS, EXCLUDES  # noqa: E402

LICENCE_NAME = re.compile(r"^(licen[cs]e|copying|notice|third_party_notices|authors)([._-].*)?$", re.I)
# a licence named by the metadata, for a package that ships no licence text → the standard texts
# (committed beside this file; GPL-3.0 is ExoDeep's own LICENSE)
STANDARD_TEXTS = {"lgpl-3.0": ["LGPL-3.0.txt", "GPL-3.0.txt"], "gpl-3.0": ["GPL-3.0.txt"],
                  "apache-2.0": ["Apache-2.0.txt"], "apache 2.0": ["Apache-2.0.txt"]}


def standard_text(name: str) -> Path:
    return ROOT / "LICENSE" if name == "GPL-3.0.txt" else HERE / "licenses" / name
BUILD_ONLY = {"pyinstaller", "pyinstaller-hooks-contrib", "altgraph", "pip", "setuptools", "wheel"}
WEIGHTS_NOTICE = """\
The published ExoDeepFinder weights (resources/models/exodeepfinder_net_weights_FINAL.h5)

ExoDeepFinder, Lachuer et al., PLoS Comput Biol 2025,
https://github.com/deep-finder/tirfm-deepfinder

These network weights are distributed under the GNU General Public License version 3 (GPL-3.0), as
published by their authors in the repository above (file examples/analyze/in/net_weights_FINAL.h5,
sha256 2c811b08a11a661a8129e561452acc567cab583bcf7e3aa8a4cb446c5412d4cc). The full licence text is
the LICENSE file at the top of this folder (ExoDeep itself is GPL-3.0-or-later). ExoDeep bundles them
unchanged; when you publish results obtained with them, cite the paper above.
"""


def runtime_requirements(pyproject: Path = ROOT / "pyproject.toml") -> List[str]:
    return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]


def excluded_distributions() -> set:
    """Distributions whose package the spec excludes (grpc → grpcio, ome_types → ome-types)."""
    top = {m for m in EXCLUDES if "." not in m}
    by_module = md.packages_distributions()
    return {canonicalize_name(dist) for module in top for dist in by_module.get(module, [])}


def closure(requirements: List[str], skip: frozenset = frozenset()) -> Dict[str, md.Distribution]:
    """The installed distributions the requirements pull in (markers evaluated for this Python),
    not going through those in ``skip`` (what only they need is not bundled either)."""
    env = default_environment()
    found: Dict[str, md.Distribution] = {}
    todo = [(r, "") for r in requirements]
    while todo:
        text, extra = todo.pop()
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate(dict(env, extra=extra)):
            continue
        name = canonicalize_name(req.name)
        if name in found or name in skip:
            continue
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError:
            continue                      # an optional platform dependency not installed here
        found[name] = dist
        for sub in dist.requires or []:
            for wanted in req.extras or {""}:
                todo.append((sub, wanted))
    return found


def licence_of(dist: md.Distribution) -> str:
    meta = dist.metadata
    text = meta.get("License-Expression") or ""
    if not text:
        licence = (meta.get("License") or "").strip()
        if licence and "\n" not in licence and len(licence) < 100:
            text = licence
    if not text:
        classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or []
                       if c.startswith("License ::")]
        text = ", ".join(classifiers)
    return text or "see its files"


def licence_files(dist: md.Distribution) -> List[md.PackagePath]:
    files = list(dist.files or [])
    in_info = [f for f in files if ".dist-info/" in str(f).replace("\\", "/")
               and ("/licenses/" in str(f).replace("\\", "/") or LICENCE_NAME.match(f.name))]
    if in_info:
        return in_info
    near_top = []
    for f in files:
        parts = str(f).replace("\\", "/").split("/")
        if LICENCE_NAME.match(f.name) and len(parts) <= 3 and "external" not in parts and "tests" not in parts:
            near_top.append(f)
    return near_top


def copy_distribution(dist: md.Distribution, out: Path) -> List[str]:
    name = canonicalize_name(dist.metadata["Name"])
    folder = out / f"{name}-{dist.version}"
    copied = []
    for f in licence_files(dist):
        source = Path(dist.locate_file(f))
        if not source.is_file():
            continue
        rel = str(f).replace("\\", "/")
        rel = rel.split(".dist-info/", 1)[1] if ".dist-info/" in rel else rel
        rel = rel[len("licenses/"):] if rel.startswith("licenses/") else rel
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        copied.append(str(target.relative_to(out)))
    if not copied:
        licence = licence_of(dist).lower()
        for key, texts in STANDARD_TEXTS.items():
            if key in licence:
                folder.mkdir(parents=True, exist_ok=True)
                for text in texts:
                    shutil.copyfile(standard_text(text), folder / text)
                    copied.append(str((folder / text).relative_to(out)))
                break
    return copied


def python_licence(out: Path) -> List[str]:
    for candidate in (Path(sysconfig.get_paths()["stdlib"]) / "LICENSE.txt", Path(sys.base_prefix) / "LICENSE.txt"):
        if candidate.is_file():
            folder = out / f"python-{sys.version.split()[0]}"
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(candidate, folder / "LICENSE.txt")
            return [str((folder / "LICENSE.txt").relative_to(out))]
    return []


def system_library_packages(bundle: Path) -> Dict[str, List[str]]:
    """Debian packages whose libraries PyInstaller copied from the build system into the bundle:
    package → library names (empty without dpkg)."""
    if shutil.which("dpkg") is None:
        return {}
    internal = bundle / "_internal" if (bundle / "_internal").is_dir() else bundle
    packages: Dict[str, List[str]] = {}
    for lib in sorted(internal.glob("*.so*")):
        for folder in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib"):
            candidate = Path(folder) / lib.name
            if candidate.exists():
                done = subprocess.run(["dpkg", "-S", str(candidate)], capture_output=True, text=True)
                if done.returncode == 0:
                    package = done.stdout.split(":", 1)[0].strip()
                    packages.setdefault(package, []).append(lib.name)
                    break
    return packages


def collect(out: Path, bundle: Optional[Path] = None, weights_bundled: bool = False) -> List[str]:
    """Fill ``out``; return the lines of its index."""
    out.mkdir(parents=True, exist_ok=True)
    # + the Keras backend the bundle carries, also where this platform's pins name another (a JAX build on Linux)
    dists = closure(runtime_requirements() + BACKEND_DISTRIBUTIONS, frozenset(excluded_distributions() | BUILD_ONLY))
    try:                                   # the bootloader that starts the bundle is PyInstaller's
        dists["pyinstaller"] = md.distribution("pyinstaller")
    except md.PackageNotFoundError:
        pass
    lines = ["Third-party software in this ExoDeep bundle and where its licence texts are.",
             "ExoDeep itself: GPL-3.0-or-later (../LICENSE).", ""]
    missing = []
    for name in sorted(dists):
        dist = dists[name]
        files = copy_distribution(dist, out)
        if not files:
            missing.append(name)
        lines.append(f"{dist.metadata['Name']} {dist.version}: {licence_of(dist)}")
        lines += [f"    {f}" for f in files] or ["    (no licence file in the package; see its home page: "
                                                 f"{dist.metadata.get('Home-page') or dist.metadata.get('Project-URL', '')})"]
    files = python_licence(out)
    lines += [f"Python {sys.version.split()[0]}: PSF-2.0", *[f"    {f}" for f in files]]
    if "pyside6-essentials" in dists:
        lines += ["", "Qt (in _internal/PySide6/Qt) is used under the LGPL-3.0: its libraries are dynamically "
                  "linked and can be replaced; Qt's source: https://download.qt.io/official_releases/qt/ , "
                  "PySide6's: https://code.qt.io/cgit/pyside/pyside-setup.git/"]
    if bundle is not None:
        debian = system_library_packages(bundle)
        if debian:
            lines += ["", "Libraries copied from the Debian build system (their Debian copyright files):"]
            (out / "debian").mkdir(exist_ok=True)
            for package, libs in sorted(debian.items()):
                copyright_file = Path("/usr/share/doc") / package / "copyright"
                if copyright_file.is_file():
                    shutil.copyfile(copyright_file, out / "debian" / f"{package}.copyright")
                lines.append(f"{package}: {', '.join(libs)}")
                lines.append(f"    debian/{package}.copyright")
    if weights_bundled:
        (out / "ExoDeepFinder-weights.txt").write_text(WEIGHTS_NOTICE, encoding="utf-8")
        lines += ["", "ExoDeepFinder weights (Lachuer et al., PLoS Comput Biol 2025): GPL-3.0",
                  "    ExoDeepFinder-weights.txt"]
    (out / "THIRD-PARTY.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if missing:
        print(f"collect_licenses: no licence text found for {', '.join(missing)}", file=sys.stderr)
    return lines


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--bundle", type=Path, help="the one-folder bundle (for the system libraries it holds)")
    ap.add_argument("--weights-bundled", action="store_true", help="add the ExoDeepFinder weights' notice")
    args = ap.parse_args(argv)
    lines = collect(args.out, args.bundle, args.weights_bundled)
    print(f"collect_licenses: {sum(1 for line in lines if line and not line.startswith(' '))} entries → {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
