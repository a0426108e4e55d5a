"""Does Qt's X11 (xcb) platform plugin find the system libraries it links against? (Linux)

PySide6's wheel bundles Qt but not the X11/OpenGL/font libraries of the system. When one is missing
(on a minimal Debian or Ubuntu: ``libxcb-icccm4``, ``libxcb-keysyms1``, ``libxcb-cursor0``, …), Qt
aborts at ``QApplication(...)`` with a message that often names the wrong package. This module finds
the missing shared libraries with ``ldd`` and maps them to their Debian/Ubuntu packages, without loading
any Qt library (loading them is what aborts): it only locates the PySide6 folder.

``python -m exodeep_gui.system_check`` (``make run`` runs it): prints nothing and exits 0 when nothing is
missing (or not on Linux, or when ``QT_QPA_PLATFORM`` names a platform other than xcb, such as
offscreen). Otherwise, as root with apt-get, it installs the packages; else it prints one line with the
exact ``sudo apt-get install -y …`` command (after a few wrapped lines that say why) and exits 1.

The app calls :func:`qt_platform_problem` before creating its QApplication (and :func:`tell_user` with its
message). Standard library only.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

# Shared library (soname) → Debian/Ubuntu package, checked with `dpkg -S` on Debian 12 for every library
# that PySide6 6.11's xcb plugin, Qt Gui/Widgets/OpenGL and the xcb GL and Wayland plugins link against.
SONAME_TO_PACKAGE: Dict[str, str] = {
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libXau.so.6": "libxau6",
    "libXdmcp.so.6": "libxdmcp6",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libGLX.so.0": "libglx0",
    "libGLdispatch.so.0": "libglvnd0",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libpng16.so.16": "libpng16-16",
    "libexpat.so.1": "libexpat1",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libgobject-2.0.so.0": "libglib2.0-0",
    "libgio-2.0.so.0": "libglib2.0-0",
    "libz.so.1": "zlib1g",
    "libzstd.so.1": "libzstd1",
    "libbrotlidec.so.1": "libbrotli1",
    "libbrotlicommon.so.1": "libbrotli1",
    "libpcre2-8.so.0": "libpcre2-8-0",
    "libbsd.so.0": "libbsd0",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libffi.so.8": "libffi8",
}

# Every package Qt's xcb plugin needs beyond a base system (the README's apt-get line).
XCB_PACKAGES: Tuple[str, ...] = (
    "libdbus-1-3", "libegl1", "libfontconfig1", "libfreetype6", "libgl1", "libglib2.0-0", "libx11-6",
    "libx11-xcb1", "libxcb1", "libxcb-cursor0", "libxcb-glx0", "libxcb-icccm4", "libxcb-image0",
    "libxcb-keysyms1", "libxcb-randr0", "libxcb-render0", "libxcb-render-util0", "libxcb-shape0",
    "libxcb-shm0", "libxcb-sync1", "libxcb-util1", "libxcb-xfixes0", "libxcb-xkb1", "libxkbcommon0",
    "libxkbcommon-x11-0",
)

# Qt files loaded before the window shows, relative to PySide6/Qt: the xcb platform plugin (a missing
# library there is Qt's "could not load the Qt platform plugin" abort) and the Qt libraries the app
# imports (a missing library there is an ImportError).
_QT_LIBS = ("lib/libQt6Gui.so.6", "lib/libQt6Widgets.so.6", "lib/libQt6OpenGL.so.6",
            "lib/libQt6OpenGLWidgets.so.6")
XCB_FILES = ("plugins/platforms/libqxcb.so",) + _QT_LIBS
WAYLAND_FILES = ("plugins/platforms/libqwayland.so",) + _QT_LIBS

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found\s*$")


def pyside6_dir() -> Optional[Path]:
    """The PySide6 package folder, found without importing it (None when PySide6 is not installed)."""
    try:
        spec = importlib.util.find_spec("PySide6")
    except (ImportError, ValueError):
        spec = None
    candidates: List[Path] = []
    if spec is not None:
        candidates += [Path(p) for p in (spec.submodule_search_locations or [])]
        if spec.origin and spec.origin not in ("built-in", "frozen"):
            candidates.append(Path(spec.origin).parent)
    if getattr(sys, "frozen", False) and hasattr(sys, "_MEIPASS"):     # the PyInstaller bundle
        candidates.append(Path(sys._MEIPASS) / "PySide6")
    for folder in candidates:
        if (folder / "Qt").is_dir():
            return folder
    return None


def xcb_plugin_path() -> Optional[Path]:
    """``PySide6/Qt/plugins/platforms/libqxcb.so``, or None when it is not there."""
    folder = pyside6_dir()
    if folder is None:
        return None
    plugin = folder / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def run_ldd(path: Path, env: Optional[Dict[str, str]] = None) -> Optional[str]:
    """``ldd path``'s output, or None when ldd cannot be run (not there, timed out)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return None
    try:
        done = subprocess.run([ldd, str(path)], capture_output=True, text=True, timeout=30, env=env)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout + done.stderr


def parse_missing(ldd_output: str) -> List[str]:
    """The sonames ldd reports as ``not found``, in order, without repeats."""
    missing: List[str] = []
    for line in ldd_output.splitlines():
        m = _NOT_FOUND.match(line)
        if m and m.group(1) not in missing:
            missing.append(m.group(1))
    return missing


def missing_libraries(pyside_dir: Optional[Path] = None,
                      files: Sequence[str] = XCB_FILES) -> Optional[List[str]]:
    """System libraries that Qt's xcb plugin and Qt Gui/Widgets/OpenGL need and the loader cannot find.

    ``files``: paths relative to PySide6/Qt, the platform plugin first. [] when nothing is missing;
    None when it cannot be told (no PySide6, no such plugin, no ldd). Qt's own libraries (bundled in
    the wheel) are not reported.
    """
    folder = pyside_dir if pyside_dir is not None else pyside6_dir()
    if folder is None or not (folder / "Qt" / files[0]).is_file():
        return None
    env = dict(os.environ)       # let ldd find the bundled Qt libraries wherever the bundle put them
    extra = [str(folder / "Qt" / "lib")]
    if getattr(sys, "frozen", False) and hasattr(sys, "_MEIPASS"):
        extra.append(str(sys._MEIPASS))
    env["LD_LIBRARY_PATH"] = os.pathsep.join(extra + [p for p in [env.get("LD_LIBRARY_PATH")] if p])
    missing: List[str] = []
    ran = False
    for rel in files:
        target = folder / "Qt" / rel
        if not target.is_file():
            continue
        out = run_ldd(target, env)
        if out is None:
            continue
        ran = True
        for soname in parse_missing(out):
            if soname.startswith(("libQt6", "libicu", "libpyside6", "libshiboken6")):
                continue
            if soname not in missing:
                missing.append(soname)
    return missing if ran else None


def guess_package(soname: str) -> str:
    """Debian's library package naming: libfoo.so.4 → libfoo4, libfoo-x11.so.0 → libfoo-x11-0."""
    m = re.match(r"^(.+?)\.so\.(\d+)", soname)
    if not m:
        return soname
    stem, major = m.group(1).lower(), m.group(2)
    return f"{stem}-{major}" if stem[-1].isdigit() else f"{stem}{major}"


def packages_for(sonames: Iterable[str]) -> List[str]:
    """The Debian/Ubuntu packages that provide ``sonames`` (table first, else Debian's naming rule)."""
    packages: List[str] = []
    for soname in sonames:
        package = SONAME_TO_PACKAGE.get(soname) or guess_package(soname)
        if package not in packages:
            packages.append(package)
    return packages


def install_command(packages: Sequence[str], sudo: bool = True) -> str:
    """The apt-get line that installs ``packages``."""
    return ("sudo " if sudo else "") + "apt-get install -y " + " ".join(packages)


# Lines of the message are at most this long, so that a dialog or a terminal shows them whole.
WIDTH = 72


def format_command(command: str, width: int = WIDTH) -> str:
    """``command`` in lines of at most ``width`` characters, continued with `` \\``, so that it still
    pastes into a shell as one command (a word longer than a line gets a line of its own)."""
    words = command.split()
    lines: List[str] = []
    line = ""
    for word in words:
        if line and len(line) + 1 + len(word) + 2 > width:
            lines.append(line + " \\")
            line = "    " + word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\n".join(lines)


def problem_message(missing: Sequence[str]) -> str:
    """What is missing (wrapped at :data:`WIDTH`), a blank line, then the exact command that installs it
    (see :func:`format_command`)."""
    import textwrap

    text = (f"ExoDeep's window cannot open: Qt's X11 (xcb) platform plugin needs system libraries that are "
            f"missing ({', '.join(missing)}). On Debian/Ubuntu install them with:")
    return (textwrap.fill(text, WIDTH, break_on_hyphens=False, break_long_words=False) + "\n\n"
            + format_command(install_command(packages_for(missing))))


def split_command(message: str) -> Tuple[str, Optional[str]]:
    """(the explanation, the command) of a :func:`problem_message`; (message, None) without a command."""
    text, sep, last = message.rpartition("\n\n")
    if sep and last.startswith(("sudo ", "apt-get ")):
        return text, last
    return message, None


def _skip_check(environ=None) -> bool:
    """True when Qt will not load the xcb plugin: not Linux, or another platform was asked for."""
    env = os.environ if environ is None else environ
    if not sys.platform.startswith("linux"):
        return True
    platform = env.get("QT_QPA_PLATFORM", "").strip()
    if platform:
        # "offscreen", "wayland", "vnc:size=…", or a fallback list "wayland;xcb": only xcb first matters
        return not platform.split(";")[0].split(":")[0].strip().lower() == "xcb"
    return False


def _wayland_will_do(environ=None) -> bool:
    """In a Wayland session Qt tries its Wayland plugin before xcb: True when that one can load."""
    env = os.environ if environ is None else environ
    if env.get("QT_QPA_PLATFORM", "").strip():
        return False
    if not (env.get("WAYLAND_DISPLAY") or env.get("XDG_SESSION_TYPE") == "wayland"):
        return False
    return missing_libraries(files=WAYLAND_FILES) == []


def xcb_missing() -> Optional[List[str]]:
    """The missing libraries that will stop Qt's window here: [] or None when none will."""
    if _skip_check() or _wayland_will_do():
        return None
    return missing_libraries()


def qt_platform_problem() -> Optional[str]:
    """Call before creating the QApplication: a message naming what is missing and the command that
    installs it (:func:`problem_message`), or None.

    None when nothing is missing, when the check does not apply (not Linux, QT_QPA_PLATFORM set to
    another platform such as offscreen, a Wayland session whose plugin loads) or cannot be made (no
    ldd, xcb plugin not found).
    """
    missing = xcb_missing()
    return problem_message(missing) if missing else None


def dialog_commands(message: str) -> List[List[str]]:
    """The dialogs that can show ``message``, best first (each tool's arguments, without its path): the
    explanation as wrapped text and the command whole, in a monospace block that can be selected and
    copied (zenity and kdialog), or as the same lines in xmessage's text."""
    import html

    text, command = split_command(message)
    if command is None:
        markup = html.escape(text, quote=False)
        rich = "<qt>" + html.escape(text, quote=False).replace("\n", "<br>") + "</qt>"
    else:
        markup = f"{html.escape(text, quote=False)}\n\n<tt>{html.escape(command, quote=False)}</tt>"
        rich = (f"<qt><p>{html.escape(' '.join(text.split()), quote=False)}</p>"
                f"<pre>{html.escape(command, quote=False)}</pre></qt>")
    return [
        # zenity reads C escapes in --text: backslashes doubled, so that the continuation ones show
        ["zenity", "--error", "--title", "ExoDeep", "--no-wrap", "--text", markup.replace("\\", "\\\\")],
        ["kdialog", "--title", "ExoDeep", "--error", rich],
        ["xmessage", "-center", "-title", "ExoDeep", "-buttons", "Close:0", message],
    ]


def system_environment(environ=None) -> Dict[str, str]:
    """The environment for a system program started from the app: in the frozen app on Linux without the
    bundle's library folder, which PyInstaller's bootloader put in LD_LIBRARY_PATH (a system program must
    load the system's libraries); the user's own LD_LIBRARY_PATH, kept in LD_LIBRARY_PATH_ORIG, back."""
    env = dict(os.environ if environ is None else environ)
    if getattr(sys, "frozen", False) and "LD_LIBRARY_PATH" in env:
        original = env.pop("LD_LIBRARY_PATH_ORIG", None)
        if original:
            env["LD_LIBRARY_PATH"] = original
        else:
            del env["LD_LIBRARY_PATH"]
    return env


def tell_user(message: str) -> None:
    """Say ``message`` without Qt: on stderr, and, when stderr is no terminal (a double-clicked app), in a
    dialog from the first of zenity, kdialog or xmessage that is installed (best effort). The dialog
    runs on its own: this returns once it is up (the caller exits; the dialog stays until closed)."""
    print(message, file=sys.stderr, flush=True)
    try:
        on_terminal = sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):
        on_terminal = False
    if on_terminal or not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return
    env = system_environment()
    for tool, *args in dialog_commands(message):
        path = shutil.which(tool)
        if not path:
            continue
        try:
            dialog = subprocess.Popen([path, *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True, env=env)
            dialog.wait(timeout=1.0)         # a tool that cannot open its window fails at once
        except subprocess.TimeoutExpired:
            return                           # its window is up
        except OSError:
            continue
        if dialog.returncode == 0:
            return                           # closed already (or answered)
    return


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _apt_install(packages: Sequence[str]) -> bool:
    """As root: ``apt-get install -y`` (after ``apt-get update`` when the first try fails)."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q", *packages]
    print("Installing the system libraries Qt's window needs: " + " ".join(cmd), file=sys.stderr, flush=True)
    if subprocess.run(cmd, env=env).returncode == 0:
        return True
    print("apt-get install failed; running apt-get update and trying again", file=sys.stderr, flush=True)
    subprocess.run(["apt-get", "update"], env=env)
    return subprocess.run(cmd, env=env).returncode == 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Check (and as root with apt-get, install) what Qt's xcb plugin needs. 0: all there; 1: not."""
    del argv
    missing = xcb_missing()
    if not missing:
        return 0
    if _is_root() and shutil.which("apt-get"):
        if _apt_install(packages_for(missing)):
            missing = missing_libraries()
            if not missing:
                return 0
    print(problem_message(missing), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
