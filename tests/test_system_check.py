"""exodeep_gui.system_check: missing system libraries of Qt's xcb plugin → Debian packages → message or
apt-get. ldd, root and apt-get are faked; nothing here needs root or changes the system."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from exodeep_gui import system_check as sc

LDD_MISSING = """\
\tlinux-vdso.so.1 (0x00007ffc2b5f2000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/plugins/platforms/../../lib/libQt6XcbQpa.so.6 (0x00007f70)
\tlibGL.so.1 => /lib/x86_64-linux-gnu/libGL.so.1 (0x00007f7033d46000)
\tlibxkbcommon-x11.so.0 => /lib/x86_64-linux-gnu/libxkbcommon-x11.so.0 (0x00007f7033d39000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-util.so.1 => /lib/x86_64-linux-gnu/libxcb-util.so.1 (0x00007f7033d2a000)
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-cursor.so.0 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f703201e000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\t/lib64/ld-linux-x86-64.so.2 (0x00007f7033ea6000)
"""
LDD_OK = LDD_MISSING.replace(" => not found", " => /lib/x86_64-linux-gnu/x.so (0x1)")


@pytest.fixture
def fake_qt(tmp_path, monkeypatch):
    """A PySide6 folder with the Qt files the check looks at, on a Linux desktop with an X display."""
    folder = tmp_path / "PySide6"
    for rel in sc.XCB_FILES + sc.WAYLAND_FILES:
        (folder / "Qt" / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / "Qt" / rel).write_bytes(b"\x7fELF")
    monkeypatch.setattr(sc, "pyside6_dir", lambda: folder)
    monkeypatch.setattr(sys, "platform", "linux")
    for var in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    return folder


def fake_ldd(monkeypatch, outputs):
    """ldd answers ``outputs[file name]`` (default: nothing missing); returns the list of calls."""
    calls = []

    def run_ldd(path, env=None):
        calls.append((Path(path), env))
        return outputs.get(Path(path).name, LDD_OK)

    monkeypatch.setattr(sc, "run_ldd", run_ldd)
    return calls


def no_subprocess(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"ran {args}")

    monkeypatch.setattr(sc.subprocess, "run", refuse)


def test_parse_missing_keeps_order_without_repeats():
    assert sc.parse_missing(LDD_MISSING) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-cursor.so.0"]
    assert sc.parse_missing(LDD_OK) == []
    assert sc.parse_missing("") == []


@pytest.mark.parametrize("soname, package", [
    ("libxcb-icccm.so.4", "libxcb-icccm4"),
    ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
    ("libxcb-cursor.so.0", "libxcb-cursor0"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
    ("libEGL.so.1", "libegl1"),
    ("libGL.so.1", "libgl1"),
    ("libfontconfig.so.1", "libfontconfig1"),
    ("libxcb-image.so.0", "libxcb-image0"),
    ("libxcb-render-util.so.0", "libxcb-render-util0"),
    ("libxcb-shape.so.0", "libxcb-shape0"),
    ("libxcb-randr.so.0", "libxcb-randr0"),
    ("libxcb-xkb.so.1", "libxcb-xkb1"),
    ("libdbus-1.so.3", "libdbus-1-3"),
    ("libglib-2.0.so.0", "libglib2.0-0"),
    ("libX11-xcb.so.1", "libx11-xcb1"),
])
def test_soname_to_debian_package(soname, package):
    assert sc.packages_for([soname]) == [package]


def test_unknown_soname_follows_debian_naming_and_packages_are_not_repeated():
    assert sc.guess_package("libfoo-bar.so.7") == "libfoo-bar7"
    assert sc.guess_package("libfoo-x11.so.0") == "libfoo-x11-0"       # name ends in a digit: a hyphen
    assert sc.guess_package("libXfoo.so.2.1.0") == "libxfoo2"
    # where the rule holds, it agrees with the table (the table is there for where it does not)
    for soname in ("libxcb-icccm.so.4", "libxkbcommon-x11.so.0", "libdbus-1.so.3", "libX11-xcb.so.1"):
        assert sc.guess_package(soname) == sc.SONAME_TO_PACKAGE[soname]
    assert sc.packages_for(["libglib-2.0.so.0", "libgthread-2.0.so.0", "libnew.so.3"]) == ["libglib2.0-0", "libnew3"]


def test_every_package_the_table_names_for_xcb_is_in_the_readme_list():
    xcb_sonames = [s for s in sc.SONAME_TO_PACKAGE if s.startswith(("libxcb", "libX11", "libxkbcommon"))]
    assert set(sc.packages_for(xcb_sonames)) <= set(sc.XCB_PACKAGES)


def unfold(command: str) -> str:
    """A command as the shell reads it: continuation lines joined."""
    return " ".join(command.replace("\\\n", " ").split())


def test_message_names_the_libraries_and_the_exact_apt_get_line():
    msg = sc.problem_message(["libxcb-icccm.so.4", "libxcb-keysyms.so.1"])
    text, command = sc.split_command(msg)
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in " ".join(text.split())
    assert command == "sudo apt-get install -y libxcb-icccm4 libxcb-keysyms1"
    assert msg == text + "\n\n" + command
    assert sc.install_command(["a", "b"], sudo=False) == "apt-get install -y a b"


def test_a_long_message_wraps_and_its_command_stays_whole():
    """Every package Qt's xcb plugin may need: no line is wider than the dialog's, and the command, over
    several lines, is still one shell command with every package."""
    missing = [s for s in sc.SONAME_TO_PACKAGE if s.startswith(("libxcb", "libxkb", "libX11"))]
    msg = sc.problem_message(missing)
    assert max(len(line) for line in msg.splitlines()) <= sc.WIDTH
    text, command = sc.split_command(msg)
    assert len(command.splitlines()) > 1
    assert all(line.endswith(" \\") for line in command.splitlines()[:-1])
    assert unfold(command) == sc.install_command(sc.packages_for(missing))
    assert all(soname in text.replace("\n", " ") for soname in missing)     # sonames are never cut
    # pasted into a shell, the lines are one command: each package arrives as one argument
    probe = command.replace("sudo apt-get install -y", "printf '%s\\n'", 1)
    done = subprocess.run(["sh", "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == sc.packages_for(missing)


def test_format_command_keeps_a_word_longer_than_a_line():
    assert sc.format_command("sudo x " + "y" * 100, width=20) == "sudo x \\\n    " + "y" * 100
    assert sc.format_command("short one") == "short one"


def test_missing_libraries_over_plugin_and_qt_libraries(fake_qt, monkeypatch):
    calls = fake_ldd(monkeypatch, {
        "libqxcb.so": LDD_MISSING,
        # the same library missing again, a bundled Qt library (not a system package) and a new one
        "libQt6OpenGL.so.6": "\tlibxcb-icccm.so.4 => not found\n\tlibQt6Core.so.6 => not found\n"
                             "\tlibicuuc.so.73 => not found\n\tlibOpenGL.so.0 => not found\n",
    })
    assert sc.missing_libraries() == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-cursor.so.0",
                                      "libOpenGL.so.0"]
    assert [p.name for p, _ in calls] == [Path(f).name for f in sc.XCB_FILES]
    # ldd looks for the bundled Qt libraries in the wheel's Qt/lib
    assert calls[0][1]["LD_LIBRARY_PATH"].split(os.pathsep)[0] == str(fake_qt / "Qt" / "lib")


def test_nothing_missing_prints_nothing(fake_qt, monkeypatch, capsys):
    fake_ldd(monkeypatch, {})
    no_subprocess(monkeypatch)
    assert sc.missing_libraries() == []
    assert sc.qt_platform_problem() is None
    assert sc.main([]) == 0
    assert capsys.readouterr() == ("", "")


def test_cannot_tell_is_not_a_problem(fake_qt, monkeypatch, capsys):
    monkeypatch.setattr(sc, "run_ldd", lambda path, env=None: None)      # no ldd
    assert sc.missing_libraries() is None
    assert sc.qt_platform_problem() is None and sc.main([]) == 0
    (fake_qt / "Qt" / "plugins" / "platforms" / "libqxcb.so").unlink()   # no xcb plugin
    fake_ldd(monkeypatch, {"libqxcb.so": LDD_MISSING})
    assert sc.missing_libraries() is None
    monkeypatch.setattr(sc, "pyside6_dir", lambda: None)                # no PySide6
    assert sc.missing_libraries() is None and sc.main([]) == 0
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("env, platform", [
    ({"QT_QPA_PLATFORM": "offscreen"}, "linux"),
    ({"QT_QPA_PLATFORM": "wayland;xcb"}, "linux"),
    ({"QT_QPA_PLATFORM": "vnc:size=800x600"}, "linux"),
    ({}, "darwin"),
    ({}, "win32"),
])
def test_no_check_where_qt_will_not_load_xcb(fake_qt, monkeypatch, capsys, env, platform):
    calls = fake_ldd(monkeypatch, {"libqxcb.so": LDD_MISSING})
    no_subprocess(monkeypatch)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(sys, "platform", platform)
    assert sc.qt_platform_problem() is None
    assert sc.main([]) == 0
    assert calls == [] and capsys.readouterr() == ("", "")


@pytest.mark.parametrize("platform", ["xcb", "xcb:dpi=96", "XCB;wayland"])
def test_check_when_xcb_is_asked_for(fake_qt, monkeypatch, platform):
    fake_ldd(monkeypatch, {"libqxcb.so": LDD_MISSING})
    monkeypatch.setenv("QT_QPA_PLATFORM", platform)
    assert "libxcb-icccm4" in sc.qt_platform_problem()


def test_wayland_session_uses_wayland_when_its_plugin_loads(fake_qt, monkeypatch):
    fake_ldd(monkeypatch, {"libqxcb.so": LDD_MISSING})
    monkeypatch.setenv("XDG_SESSION_TYPE", "wayland")
    assert sc.qt_platform_problem() is None
    # ... and falls back to xcb when it does not
    fake_ldd(monkeypatch, {"libqxcb.so": LDD_MISSING,
                           "libqwayland.so": "\tlibwayland-cursor.so.0 => not found\n"})
    assert sc.qt_platform_problem().endswith("sudo apt-get install -y libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0")


def test_not_root_prints_the_apt_get_line_and_exits_1(fake_qt, monkeypatch, capsys):
    fake_ldd(monkeypatch, {"libqxcb.so": LDD_MISSING})
    no_subprocess(monkeypatch)
    monkeypatch.setattr(sc, "_is_root", lambda: False)
    message = sc.qt_platform_problem()
    assert message == sc.problem_message(["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-cursor.so.0"])
    assert sc.main([]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err == message + "\n"


def test_root_without_apt_get_prints_the_line(fake_qt, monkeypatch, capsys):
    fake_ldd(monkeypatch, {"libqxcb.so": LDD_MISSING})
    no_subprocess(monkeypatch)
    monkeypatch.setattr(sc, "_is_root", lambda: True)
    monkeypatch.setattr(sc.shutil, "which", lambda name: None)
    assert sc.main([]) == 1
    assert "sudo apt-get install -y libxcb-icccm4" in capsys.readouterr().err


class FakeApt:
    """subprocess.run for apt-get: ``results`` gives each call's exit code; installing succeeds when its
    code is 0 and then the libraries are there."""

    def __init__(self, monkeypatch, results):
        self.results, self.calls, self.installed = list(results), [], False
        monkeypatch.setattr(sc.subprocess, "run", self)
        monkeypatch.setattr(sc, "_is_root", lambda: True)
        monkeypatch.setattr(sc.shutil, "which", lambda name: f"/usr/bin/{name}")
        monkeypatch.setattr(sc, "run_ldd", lambda path, env=None:
                            LDD_OK if self.installed or Path(path).name != "libqxcb.so" else LDD_MISSING)

    def __call__(self, cmd, env=None, **kwargs):
        self.calls.append((cmd, env))
        code = self.results.pop(0)
        if cmd[:2] == ["apt-get", "install"] and code == 0:
            self.installed = True
        return subprocess.CompletedProcess(cmd, code)


def test_root_with_apt_get_installs_the_packages(fake_qt, monkeypatch, capsys):
    apt = FakeApt(monkeypatch, [0])
    assert sc.main([]) == 0
    [(cmd, env)] = apt.calls
    assert cmd == ["apt-get", "install", "-y", "-q", "libxcb-icccm4", "libxcb-keysyms1", "libxcb-cursor0"]
    assert env["DEBIAN_FRONTEND"] == "noninteractive"
    assert "apt-get install -y -q libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0" in capsys.readouterr().err


def test_root_runs_apt_get_update_when_the_install_fails(fake_qt, monkeypatch):
    apt = FakeApt(monkeypatch, [100, 0, 0])
    assert sc.main([]) == 0
    assert [c[:2] for c, _ in apt.calls] == [["apt-get", "install"], ["apt-get", "update"], ["apt-get", "install"]]


def test_root_install_that_fails_twice_prints_the_line(fake_qt, monkeypatch, capsys):
    FakeApt(monkeypatch, [100, 0, 100])
    assert sc.main([]) == 1
    assert capsys.readouterr().err.strip().endswith("sudo apt-get install -y libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ldd: Linux")
def test_real_pyside6_and_ldd_without_loading_qt():
    """Here, for real: the wheel's xcb plugin is found and ldd answers, and no Qt library gets loaded."""
    code = ("import sys; from exodeep_gui import system_check as sc; "
            "assert sc.xcb_plugin_path() is not None; m = sc.missing_libraries(); "
            "assert isinstance(m, list), m; "
            "assert not any(k.startswith(('PySide6', 'shiboken6')) for k in sys.modules), sorted(sys.modules); "
            "print(m)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([sys.executable, "-m", "exodeep_gui.system_check"], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


class FakeDialogs:
    """subprocess.Popen for the dialog tools: ``exits[tool]`` is the exit code of a tool that ends at once
    (it could not show its window); a tool not named there stays open (wait() times out)."""

    def __init__(self, monkeypatch, installed, exits=None):
        self.started, self.exits = [], exits or {}
        monkeypatch.setattr(sc.shutil, "which", lambda name: f"/usr/bin/{name}" if name in installed else None)
        monkeypatch.setattr(sc.subprocess, "Popen", self.popen)
        monkeypatch.setattr(sc.subprocess, "run", lambda *a, **k: pytest.fail("tell_user must not block"))

    def popen(self, cmd, **kwargs):
        self.started.append((cmd, kwargs))
        tool = Path(cmd[0]).name
        outer = self

        class Dialog:
            returncode = None

            def wait(self, timeout=None):
                if tool in outer.exits:
                    self.returncode = outer.exits[tool]
                    return self.returncode
                raise subprocess.TimeoutExpired(cmd, timeout)

        return Dialog()


def double_clicked(monkeypatch, display=":0"):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if display:
        monkeypatch.setenv("DISPLAY", display)
    else:
        monkeypatch.delenv("DISPLAY", raising=False)


MISSING = ["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-cursor.so.0", "libxkbcommon-x11.so.0",
           "libxcb-render-util.so.0", "libxcb-image.so.0", "libxcb-randr.so.0", "libxcb-xkb.so.1"]


def test_tell_user_on_a_terminal_prints_only(monkeypatch, capsys):
    dialogs = FakeDialogs(monkeypatch, {"zenity", "kdialog", "xmessage"})
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    message = sc.problem_message(MISSING)
    sc.tell_user(message)
    assert capsys.readouterr().err == message + "\n" and dialogs.started == []
    double_clicked(monkeypatch, display=None)                 # no display: nowhere to show a dialog
    sc.tell_user(message)
    assert dialogs.started == []


def test_tell_user_shows_the_command_whole_in_a_monospace_block_and_does_not_wait(monkeypatch, capsys):
    dialogs = FakeDialogs(monkeypatch, {"zenity", "kdialog", "xmessage"})
    double_clicked(monkeypatch)
    message = sc.problem_message(MISSING)
    sc.tell_user(message)
    assert capsys.readouterr().err == message + "\n"          # the terminal (or log) gets the same text
    [(cmd, kwargs)] = dialogs.started                         # the first tool only, left open on its own
    assert cmd[0] == "/usr/bin/zenity" and "--error" in cmd and "--no-wrap" in cmd
    assert kwargs.get("start_new_session") is True
    # zenity reads C escapes in its text (a doubled backslash shows as one): as shown, the command ends
    # the dialog in a selectable monospace block, with its continuation backslashes
    text = cmd[cmd.index("--text") + 1].replace("\\\\", "\\")
    command = sc.split_command(message)[1]
    assert " \\\n" in command and text.endswith(f"<tt>{command}</tt>")
    assert max(len(line) for line in text.replace("<tt>", "").replace("</tt>", "").splitlines()) <= sc.WIDTH
    assert unfold(command) == sc.install_command(sc.packages_for(MISSING))


def test_tell_user_falls_back_to_the_next_dialog(monkeypatch):
    dialogs = FakeDialogs(monkeypatch, {"zenity", "kdialog", "xmessage"}, exits={"zenity": 1})
    double_clicked(monkeypatch)
    message = sc.problem_message(["libxcb-icccm.so.4"])
    sc.tell_user(message)
    assert [Path(c[0]).name for c, _ in dialogs.started] == ["zenity", "kdialog"]
    rich = dialogs.started[1][0][-1]
    assert rich.startswith("<qt>") and "<pre>sudo apt-get install -y libxcb-icccm4</pre>" in rich
    # only xmessage: the same lines as on the terminal
    dialogs = FakeDialogs(monkeypatch, {"xmessage"})
    sc.tell_user(message)
    [(cmd, _)] = dialogs.started
    assert cmd[0] == "/usr/bin/xmessage" and cmd[-1] == message


def test_the_app_exits_after_telling_the_user(monkeypatch, capsys):
    """The window's main: with libraries missing it says so (dialog started, not waited for) and returns 1
    without creating a QApplication."""
    from exodeep_gui.gui import app

    message = sc.problem_message(MISSING)
    monkeypatch.setattr(sc, "qt_platform_problem", lambda: message)
    dialogs = FakeDialogs(monkeypatch, {"zenity"})
    double_clicked(monkeypatch)
    monkeypatch.setattr(app, "setup_logging", lambda: Path("log.txt"), raising=False)
    from PySide6.QtWidgets import QApplication

    had_app = QApplication.instance() is not None
    assert app.main([]) == 1
    assert len(dialogs.started) == 1
    assert message in capsys.readouterr().err
    assert (QApplication.instance() is not None) == had_app


def test_dialogs_of_the_frozen_app_get_the_system_s_libraries(monkeypatch):
    """PyInstaller's bootloader puts the bundle's folder in LD_LIBRARY_PATH: a dialog (a system program)
    gets the user's own LD_LIBRARY_PATH back, or none."""
    dialogs = FakeDialogs(monkeypatch, {"zenity"})
    double_clicked(monkeypatch)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setenv("LD_LIBRARY_PATH", "/opt/ExoDeep/_internal")
    monkeypatch.setenv("LD_LIBRARY_PATH_ORIG", "/home/me/lib")
    sc.tell_user("libs missing")
    assert dialogs.started[-1][1]["env"]["LD_LIBRARY_PATH"] == "/home/me/lib"
    assert "LD_LIBRARY_PATH_ORIG" not in dialogs.started[-1][1]["env"]
    monkeypatch.delenv("LD_LIBRARY_PATH_ORIG")
    sc.tell_user("libs missing")
    assert "LD_LIBRARY_PATH" not in dialogs.started[-1][1]["env"]
    monkeypatch.setattr(sys, "frozen", False)                # from source: the environment as it is
    assert sc.system_environment()["LD_LIBRARY_PATH"] == "/opt/ExoDeep/_internal"
