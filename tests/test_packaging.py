"""The Linux archive's install.sh / uninstall.sh (against a fake bundle, in a scratch home), the glibc
checker of the baseline build, and the pins of that build. No bundle needed (the built bundle itself:
tests/test_installer.py)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINUX = ROOT / "installer" / "linux"
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux archive's scripts")
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def make_bundle(folder: Path) -> Path:
    """A folder laid out like the unpacked archive, whose ExoDeep prints its arguments one per line."""
    (folder / "_internal" / "resources").mkdir(parents=True)
    shutil.copytree(ROOT / "resources" / "icons", folder / "_internal" / "resources" / "icons")
    app = folder / "ExoDeep"
    app.write_text('#!/bin/sh\nfor a in "$@"; do echo "arg:$a"; done\n')
    app.chmod(0o755)
    for script in ("install.sh", "uninstall.sh"):
        shutil.copy2(LINUX / script, folder / script)
    return folder


def clean_env(home: Path, path: str = os.environ.get("PATH", "/usr/bin:/bin")) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update(HOME=str(home), PATH=path, LC_ALL="C")
    return env


def run(script: Path, env: dict) -> subprocess.CompletedProcess:
    done = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def tree(folder: Path) -> dict:
    """Every path under ``folder`` → its bytes (None for a folder)."""
    return {str(p.relative_to(folder)): (None if p.is_dir() else p.read_bytes())
            for p in sorted(folder.rglob("*"))}


@pytest.fixture
def bundle(tmp_path):
    # spaces, an apostrophe and a dollar sign in the path: the desktop entry and the command must quote them
    return make_bundle(tmp_path / "My Apps" / "it's $HOME ExoDeep-0.1.0-linux-x86_64")


def test_install_then_uninstall_in_an_empty_home(tmp_path, bundle):
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home)
    out = run(bundle / "install.sh", env).stdout
    assert "exodeep --help" in out and "uninstall.sh" in out
    data = home / ".local" / "share"
    desktop = data / "applications" / "exodeep.desktop"
    entry = dict(line.split("=", 1) for line in desktop.read_text().splitlines() if "=" in line)
    app = bundle / "ExoDeep"
    # Exec: the absolute path in double quotes, with $ escaped (twice: quoting level, then string level)
    assert entry["Exec"] == '"' + str(app).replace("$", "\\\\$") + '" %F'
    assert entry["TryExec"] == str(app)
    assert entry["Icon"] == str(data / "icons" / "hicolor" / "256x256" / "apps" / "exodeep.png")
    assert Path(entry["Icon"]).read_bytes() == (ROOT / "resources" / "icons" / "exodeep-256.png").read_bytes()
    mime = entry["MimeType"].split(";")
    assert "image/tiff" in mime and any("nd2" in m for m in mime)
    assert entry["Categories"] == "Science;Biology;"
    for size in ICON_SIZES:
        assert (data / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "exodeep.png").is_file()
    assert (data / "icons" / "hicolor" / "scalable" / "apps" / "exodeep.svg").is_file()
    validate = shutil.which("desktop-file-validate")
    if validate:
        done = subprocess.run([validate, str(desktop)], capture_output=True, text=True)
        assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr
    # the exodeep command runs this bundle's ExoDeep with the arguments intact
    command = home / ".local" / "bin" / "exodeep"
    done = subprocess.run([str(command), "detect", "a movie.tif", "--out", "$x"], capture_output=True, text=True)
    assert done.stdout.splitlines() == ["arg:detect", "arg:a movie.tif", "arg:--out", "arg:$x"]

    run(bundle / "uninstall.sh", env)
    assert tree(home) == {}, "uninstall.sh left files behind"
    assert (bundle / "ExoDeep").is_file()                 # the app folder stays


def test_nd2_gets_a_mime_type_and_the_caches_are_made_when_the_tools_are_there(tmp_path, bundle):
    home = tmp_path / "home"
    home.mkdir()
    run(bundle / "install.sh", clean_env(home))
    data = home / ".local" / "share"
    system_has_nd2 = any("*.nd2" in Path(d, "mime", "globs2").read_text(errors="replace")
                         for d in ("/usr/local/share", "/usr/share") if Path(d, "mime", "globs2").is_file())
    assert (data / "mime" / "packages" / "exodeep-nd2.xml").is_file() != system_has_nd2
    if not system_has_nd2 and shutil.which("update-mime-database"):
        assert "image/x-nd2:*.nd2" in (data / "mime" / "globs2").read_text()
    if shutil.which("update-desktop-database"):
        cache = (data / "applications" / "mimeinfo.cache").read_text()
        assert "image/tiff=exodeep.desktop;" in cache


def test_without_the_desktop_tools_plain_files_only(tmp_path, bundle):
    """No update-mime-database, update-desktop-database: the same files, no caches, and a clean uninstall."""
    tools = tmp_path / "tools"
    tools.mkdir()
    for name in ("sh", "cat", "cp", "mv", "rm", "rmdir", "mkdir", "chmod", "sed", "awk", "find", "sort", "comm",
                 "grep", "dirname", "mktemp", "tr", "id", "head", "cut", "printf"):
        found = shutil.which(name)
        if found:
            (tools / name).symlink_to(found)
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home, str(tools))
    run(bundle / "install.sh", env)
    data = home / ".local" / "share"
    assert (data / "applications" / "exodeep.desktop").is_file()
    assert (data / "mime" / "packages" / "exodeep-nd2.xml").is_file()
    assert not (data / "applications" / "mimeinfo.cache").exists() and not (data / "mime" / "mime.cache").exists()
    run(bundle / "uninstall.sh", env)
    assert tree(home) == {}


def test_what_was_there_before_stays(tmp_path, bundle):
    """Other applications' entries, MIME packages and commands, and a foreign ~/.local/bin/exodeep (say
    a pip install) are left as they were; ExoDeep's own files are gone."""
    home = tmp_path / "home"
    data = home / ".local" / "share"
    (data / "applications").mkdir(parents=True)
    (data / "applications" / "other.desktop").write_text(
        "[Desktop Entry]\nType=Application\nName=Other\nExec=other %f\nMimeType=image/png;\n")
    (data / "mime" / "packages").mkdir(parents=True)
    (data / "mime" / "packages" / "other.xml").write_text(
        '<?xml version="1.0"?>\n<mime-info xmlns="http://www.freedesktop.org/standards/shared-mime-info">'
        '<mime-type type="application/x-other"><glob pattern="*.other"/></mime-type></mime-info>\n')
    (home / ".local" / "bin").mkdir()
    (home / ".local" / "bin" / "exodeep").write_text("#!/bin/sh\necho pip's exodeep\n")
    env = clean_env(home)
    for tool, folder in (("update-mime-database", data / "mime"), ("update-desktop-database", data / "applications")):
        if shutil.which(tool):
            subprocess.run([tool, str(folder)], check=True, capture_output=True)
    before = tree(home)
    done = run(bundle / "install.sh", env)
    assert "is not ExoDeep's" in done.stderr
    assert (home / ".local" / "bin" / "exodeep").read_text() == "#!/bin/sh\necho pip's exodeep\n"
    assert (data / "applications" / "exodeep.desktop").is_file()
    run(bundle / "uninstall.sh", env)
    after = tree(home)
    assert set(after) == set(before)
    generated = {"mimeinfo.cache", "mime.cache", "globs", "globs2", "types", "magic", "aliases", "subclasses",
                 "icons", "generic-icons", "treemagic", "XMLnamespaces", "version"}
    for path, content in before.items():
        if Path(path).name not in generated and not path.startswith(".local/share/mime/application"):
            assert after[path] == content, path
    assert not any(b"exodeep" in (c or b"") for p, c in after.items() if p.endswith("mimeinfo.cache"))


def test_installing_again_after_a_move_points_at_the_new_place(tmp_path, bundle):
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home)
    run(bundle / "install.sh", env)
    moved = bundle.parent / "ExoDeep-moved"
    bundle.rename(moved)
    run(moved / "install.sh", env)
    desktop = (home / ".local" / "share" / "applications" / "exodeep.desktop").read_text()
    assert str(moved / "ExoDeep") in desktop and str(bundle) not in desktop
    manifest = (home / ".local" / "state" / "exodeep" / "installed-files").read_text().splitlines()
    assert len(manifest) == len(set(manifest))
    run(moved / "uninstall.sh", env)
    assert tree(home) == {}


def test_install_refuses_a_folder_without_the_app(tmp_path):
    (tmp_path / "x").mkdir()
    shutil.copy2(LINUX / "install.sh", tmp_path / "x" / "install.sh")
    done = subprocess.run(["sh", str(tmp_path / "x" / "install.sh")], env=clean_env(tmp_path),
                          capture_output=True, text=True)
    assert done.returncode == 1 and "not found" in done.stderr
    assert not (tmp_path / ".local").exists()


def test_uninstall_without_an_install_says_so(tmp_path, bundle):
    done = run(bundle / "uninstall.sh", clean_env(tmp_path))
    assert "nothing to remove" in done.stdout


# --- the glibc checker of the baseline build

sys.path.insert(0, str(LINUX))
import glibc_check  # noqa: E402


def objdump_max(path: Path) -> tuple:
    out = subprocess.run(["objdump", "-T", str(path)], capture_output=True, text=True, check=True).stdout
    import re

    return max(glibc_check.parse_version(v) for v in re.findall(r"GLIBC_(\d+(?:\.\d+)+)", out))


@pytest.mark.parametrize("binary", ["/bin/ls", sys.executable])
def test_glibc_check_agrees_with_objdump(binary):
    path = Path(binary).resolve()
    if shutil.which("objdump") is None:
        pytest.skip("no objdump to compare with")
    found = glibc_check.newest([path])["GLIBC"]
    assert found == {path: objdump_max(path)}


def test_glibc_check_fails_above_the_limit(tmp_path, capsys):
    ls = Path("/bin/ls").resolve()
    shutil.copy2(ls, tmp_path / "ls")
    (tmp_path / "notes.txt").write_text("not an ELF file")
    (tmp_path / "truncated.so").write_bytes(b"\x7fELF\x02\x01\x01" + b"\0" * 60)
    (tmp_path / "link").symlink_to(tmp_path / "ls")
    newest = max(glibc_check.newest([ls])["GLIBC"].values())
    show = glibc_check.show(newest)
    assert glibc_check.main([str(tmp_path), "--max", show]) == 0
    assert f"glibc needed: {show}" in capsys.readouterr().out
    below = show.rsplit(".", 1)[0] + "." + str(newest[-1] - 1)
    assert glibc_check.main([str(tmp_path), "--max", below]) == 1
    err = capsys.readouterr().err
    assert f"GLIBC_{show}" in err and str(tmp_path / "ls") in err
    assert "truncated.so" not in err and "link" not in err
    assert glibc_check.main([str(tmp_path / "missing")]) == 2


# --- the pins of the baseline build

sys.path.insert(0, str(LINUX))
import requirements as baseline  # noqa: E402


def test_baseline_requirements_replace_the_pins_of_the_overrides(tmp_path):
    reqs = baseline.requirements(LINUX / "overrides-glibc2.31.txt")
    pyside = [r for r in reqs if r.lower().startswith("pyside6")]
    assert pyside == ["PySide6-Essentials==6.9.3"]
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert [r for r in reqs if not r.lower().startswith("pyside6")] == \
           [d for d in deps if not d.lower().startswith("pyside6")]
    (tmp_path / "bad.txt").write_text("NotADependency==1.0\n")
    with pytest.raises(SystemExit, match="not a dependency"):
        baseline.requirements(tmp_path / "bad.txt")


def test_xdg_folders_are_respected(tmp_path, bundle):
    home, data, state = tmp_path / "home", tmp_path / "xdg-data", tmp_path / "xdg-state"
    home.mkdir()
    env = clean_env(home)
    env.update(XDG_DATA_HOME=str(data), XDG_STATE_HOME=str(state))
    run(bundle / "install.sh", env)
    assert (data / "applications" / "exodeep.desktop").is_file()
    assert (data / "icons" / "hicolor" / "48x48" / "apps" / "exodeep.png").is_file()
    assert (state / "exodeep" / "installed-files").is_file()
    assert sorted(p.relative_to(home).as_posix() for p in home.rglob("*")) == [".local", ".local/bin",
                                                                               ".local/bin/exodeep"]
    run(bundle / "uninstall.sh", env)
    assert tree(home) == {} and tree(data) == {} and tree(state) == {}
