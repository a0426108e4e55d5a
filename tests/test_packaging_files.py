"""The packaging files that cannot run here: the installers workflow (GitHub's schema, and what its steps
name exists), the Inno Setup script, the spec's executables, the icons, and the licence collection."""

import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "installers.yml"
ISS = ROOT / "installer" / "windows" / "exodeep.iss"
SPEC = ROOT / "installer" / "exodeep.spec"
ICONS = ROOT / "resources" / "icons"


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def steps(job: str) -> list:
    return workflow()["jobs"][job]["steps"]


def test_workflow_matches_github_s_schema():
    """check-jsonschema's vendored GitHub-workflow schema (pinned in the test extras)."""
    checker = Path(sys.executable).with_name("check-jsonschema")
    command = [str(checker)] if checker.exists() else [sys.executable, "-m", "check_jsonschema"]
    done = subprocess.run([*command, "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    # and the schema does catch a broken workflow (a job without runs-on, a step with no action)
    broken = workflow()
    del broken["jobs"]["linux"]["runs-on"]
    broken["jobs"]["linux"]["steps"].append({"name": "nothing to do"})
    bad = Path(WORKFLOW.parent.parent.parent / "build" / "broken-workflow.yml")
    bad.parent.mkdir(exist_ok=True)
    bad.write_text(yaml.safe_dump(broken), encoding="utf-8")
    try:
        done = subprocess.run([*command, "--builtin-schema", "vendor.github-workflows", str(bad)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode != 0
    finally:
        bad.unlink()


def test_workflow_builds_linux_on_debian11_and_windows_and_macos():
    jobs = workflow()["jobs"]
    linux = " ".join(s.get("run", "") for s in jobs["linux"]["steps"])
    assert "installer/linux/build-debian11.sh" in linux and "install.sh" in linux and "uninstall.sh" in linux
    matrix = jobs["windows-macos"]["strategy"]["matrix"]["include"]
    assert {m["os"] for m in matrix} == {"windows-2022", "macos-14", "macos-15-intel"}
    runs = {s.get("name", ""): s.get("run", "") for s in jobs["windows-macos"]["steps"]}
    windows_test = next(r for n, r in runs.items() if n.startswith("Self-test") and "Windows" in n)
    assert "exodeep-cli.exe" in windows_test and "--self-test" in windows_test   # output visible: console exe
    assert any("iscc" in r and "exodeep.iss" in r for r in runs.values())
    assert any("/VERYSILENT" in r for r in runs.values())
    assert any("hdiutil" in r for r in runs.values())


# (sys_platform, platform_machine) of each build: Linux, Windows, the two Macs
PLATFORMS = {"linux": ("linux", "x86_64"), "windows-2022": ("win32", "AMD64"), "macos-14": ("darwin", "arm64"),
             "macos-15-intel": ("darwin", "x86_64")}


def backends_pinned_for(sys_platform: str, machine: str) -> set:
    """The Keras backends pyproject.toml installs on a platform (its dependencies' markers evaluated)."""
    import tomllib

    from packaging.requirements import Requirement

    env = {"sys_platform": sys_platform, "platform_machine": machine, "python_version": "3.11",
           "python_full_version": "3.11.2", "platform_system": {"linux": "Linux", "win32": "Windows",
                                                                  "darwin": "Darwin"}[sys_platform]}
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    names = {Requirement(d).name for d in deps if Requirement(d).marker is None
             or Requirement(d).marker.evaluate(env)}
    return {"tensorflow" if n.startswith("tensorflow") else n for n in names} & {"tensorflow", "jax", "jaxlib", "torch"}


def test_each_build_installs_one_backend_and_the_macs_self_test_checks_which():
    """TensorFlow on Linux, Windows and Apple Silicon; JAX on Intel Macs (no TensorFlow wheel there after
    2.16): the pins' markers give each build exactly one, and the macOS jobs check the self-test ran on it."""
    assert backends_pinned_for(*PLATFORMS["linux"]) == {"tensorflow"}
    assert backends_pinned_for(*PLATFORMS["windows-2022"]) == {"tensorflow"}
    jobs = workflow()["jobs"]
    for entry in jobs["windows-macos"]["strategy"]["matrix"]["include"]:
        pinned = backends_pinned_for(*PLATFORMS[entry["os"]])
        if entry["os"].startswith("macos"):
            assert pinned == ({"jax", "jaxlib"} if entry["backend"] == "jax" else {entry["backend"]}), entry
            assert entry["arch"] == PLATFORMS[entry["os"]][1]
    assert backends_pinned_for("darwin", "x86_64") == {"jax", "jaxlib"}
    mac_test = next(s["run"] for s in jobs["windows-macos"]["steps"] if s.get("name", "").startswith("Self-test")
                    and "macOS" in s["name"])
    assert "uname -m" in mac_test and "lipo -archs" in mac_test
    # the job's grep finds the backend in what the self-test prints (ExoDeep … self-test OK: … Keras 3.x /
    # BACKEND on CPU; …), here with this process's backend
    from exodeep_gui.ml import choose_backend
    from exodeep_gui.ml.device import describe_device

    grep = re.search(r'grep -q "([^"]*\$\{\{ matrix\.backend \}\}[^"]*)"', mac_test)
    assert grep, mac_test
    assert grep.group(1).replace("${{ matrix.backend }}", choose_backend()) in f"model=x {describe_device()}; 2 events"


def test_every_repository_file_the_workflow_names_exists():
    text = WORKFLOW.read_text(encoding="utf-8")
    named = set(re.findall(r"(?<![\w/])((?:installer|resources|exodeep_gui)/[\w./-]+\.(?:sh|py|txt|iss|spec|cmd|ico))", text))
    named |= {p.replace("\\", "/") for p in re.findall(r"\binstaller\\windows\\[\w.-]+", text)}
    assert named, "no file found in the workflow"
    for path in named:
        assert (ROOT / path).exists(), path


def test_spec_console_executable_is_what_the_workflow_and_the_setup_run():
    spec = SPEC.read_text(encoding="utf-8")
    names = re.findall(r'EXE\(.*?name="([^"]+)"', spec, re.S)
    assert names == ["ExoDeep", "exodeep-cli"]
    assert "exodeep-cli.exe" in (ROOT / "installer" / "windows" / "exodeep.cmd").read_text()
    # Windows' file system does not tell ExoDeep.exe from exodeep.exe: the two executables differ in more
    assert len({n.lower() for n in names}) == len(names)


def iss_sections() -> dict:
    sections, current = {}, None
    for line in ISS.read_text(encoding="utf-8").splitlines():
        if re.match(r"^\[\w+\]$", line.strip()):
            current = line.strip()[1:-1]
            sections[current] = []
        elif current and line.strip() and not line.lstrip().startswith(";"):
            sections[current].append(line)
    return sections


def test_inno_setup_installs_both_executables_icon_licences_and_associations():
    sections = iss_sections()
    setup = dict(line.split("=", 1) for line in sections["Setup"])
    base = ISS.parent
    for key in ("LicenseFile", "SetupIconFile"):
        assert (base / setup[key].replace("\\", "/")).is_file(), key
    files = "\n".join(sections["Files"])
    assert 'build\\installer\\dist\\ExoDeep"' in ISS.read_text() and "recursesubdirs" in files   # both exes
    assert "exodeep.ico" in files and "LICENSE" in files and "exodeep.cmd" in files
    for source in re.findall(r'Source: "([^"{]+)"', files):
        assert (base / source.replace("\\", "/")).is_file(), source
    registry = "\n".join(sections["Registry"])
    for ext in (".tif", ".tiff", ".nd2"):
        assert f'"Software\\Classes\\{ext}\\OpenWithProgids"; ValueType: string; ValueName: "ExoDeep.movie"' in registry
    assert "ExoDeep.exe" in "\n".join(sections["Icons"])
    assert "{olddata};{app}\\bin" in registry and "CurUninstallStepChanged" in "\n".join(sections["Code"])


def png_size(path: Path) -> tuple:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])


def test_icons_in_every_size_and_format():
    svg = ET.parse(ICONS / "exodeep.svg").getroot()
    assert svg.tag.endswith("svg") and svg.get("viewBox") == "0 0 512 512"
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        assert png_size(ICONS / f"exodeep-{size}.png") == (size, size)
    assert (ICONS / "exodeep.ico").read_bytes()[:4] == b"\0\0\1\0"          # ICONDIR, type 1 (icon)
    assert (ICONS / "exodeep.icns").read_bytes()[:4] == b"icns"
    assert "exodeep.ico" in SPEC.read_text() and "exodeep.icns" in SPEC.read_text()


@pytest.mark.skipif(shutil.which("rsvg-convert") is None, reason="rsvg-convert renders the SVG")
def test_committed_pngs_are_the_svg_rendered(tmp_path):
    sys.path.insert(0, str(ROOT / "installer"))
    import make_icons

    make_icons.render(out=tmp_path)
    for size in (16, 256):
        assert (tmp_path / f"exodeep-{size}.png").read_bytes() == (ICONS / f"exodeep-{size}.png").read_bytes()


def test_licences_of_what_is_bundled(tmp_path):
    sys.path.insert(0, str(ROOT / "installer"))
    import collect_licenses

    lines = collect_licenses.collect(tmp_path / "licenses", weights_bundled=True)
    index = (tmp_path / "licenses" / "THIRD-PARTY.txt").read_text()
    assert index == "\n".join(lines) + "\n"
    names = {line.split()[0].lower().replace("_", "-") for line in lines if line and not line.startswith(" ")}
    assert {"pyside6-essentials", "numpy", "keras", "h5py", "scipy"} <= names
    assert not names & {"grpcio", "pytest", "scikit-learn", "ome-types", "pydantic", "pyinstaller-hooks-contrib"}
    pyside = next((tmp_path / "licenses").glob("pyside6-essentials-*"))
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in (pyside / "LGPL-3.0.txt").read_text()
    tf = list((tmp_path / "licenses").glob("tensorflow*"))
    if tf:                                      # TensorFlow: its own notices of what it bundles
        assert any(p.name == "THIRD_PARTY_NOTICES.txt" for p in tf[0].rglob("*"))
    notice = (tmp_path / "licenses" / "ExoDeepFinder-weights.txt").read_text()
    assert "Lachuer et al., PLoS Comput Biol 2025" in notice
    assert "https://github.com/deep-finder/tirfm-deepfinder" in notice and "GPL-3.0" in notice
    python = next((tmp_path / "licenses").glob("python-*")) / "LICENSE.txt"
    assert "PYTHON SOFTWARE FOUNDATION LICENSE" in python.read_text()
    collect_licenses.collect(tmp_path / "without", weights_bundled=False)
    assert not (tmp_path / "without" / "ExoDeepFinder-weights.txt").exists()


def test_linux_bundle_takes_only_a_few_libraries_from_the_build_system():
    sys.path.insert(0, str(ROOT / "installer"))
    import bundle_config as bc

    system = "/usr/lib/x86_64-linux-gnu/"
    for name in ("libstdc++.so.6", "libX11.so.6", "libxkbcommon-x11.so.0", "libgtk-3.so.0", "libz.so.1",
                 "libxcb-xkb.so.1", "libfontconfig.so.1"):
        assert bc.unused(name, system + name, linux=True), name
        assert not bc.unused(name, system + name, linux=False), name        # Windows, macOS: untouched
    for name in ("libssl.so.1.1", "libcrypto.so.1.1", "libffi.so.7", "libbz2.so.1.0", "libxcb-icccm.so.4",
                 "libxcb-cursor.so.0"):
        assert not bc.unused(name, system + name, linux=True), name
    # the wheels' own libraries and the interpreter's are never the system's
    assert not bc.unused("numpy.libs/libgfortran-040039e1.so.5", "/opt/venv/lib/python3.11/site-packages/"
                         "numpy.libs/libgfortran-040039e1.so.5", linux=True)
    assert not bc.unused("libpython3.11.so.1.0", "/opt/python3.11/lib/libpython3.11.so.1.0", linux=True)
    assert bc.unused("PySide6/Qt/lib/libQt6Network.so.6", None) and bc.unused("libQt6Network.so.6", None)
