"""What the bundle leaves out: read by installer/exodeep.spec (PyInstaller) and by
installer/collect_licenses.py (no licence for what is not shipped). Each cut was checked with the
frozen self-test (detection, the engine process) and the analysis; the exclusions that BREAK the app are
listed in /work/shared/design/environment.md: PySide6.QtOpenGL(Widgets) (pyqtgraph needs them),
libQt6DBus, tensorflow.lite, tensorflow.python.profiler (TensorFlow imports them)."""

import importlib.util
import os

# The Keras backend the bundle carries: TensorFlow where the build environment has it (Linux, Windows,
# Apple Silicon), else JAX (Intel Macs: no TensorFlow is published for them; pyproject.toml installs JAX
# there and exodeep_gui.ml chooses it at run time). The other backends are left out.
BACKEND = next((b for b in ("tensorflow", "jax") if importlib.util.find_spec(b)), None)
if BACKEND is None:
    raise SystemExit("neither TensorFlow nor JAX is installed in the Python that builds the bundle")
# their distributions, whose licences the bundle carries (installer/collect_licenses.py)
BACKEND_DISTRIBUTIONS = {"tensorflow": [], "jax": ["jax", "jaxlib"]}[BACKEND]
OTHER_BACKENDS = {"tensorflow": ["torch", "jax", "jaxlib"],
                  "jax": ["torch", "tensorflow", "tf_keras"]}[BACKEND]

# Python modules PyInstaller must not follow.
EXCLUDES = [
    *OTHER_BACKENDS, "tkinter", "IPython", "pytest", "pytestqt", "importlinter",
    "PySide6.QtNetwork", "PySide6.QtSql", "PySide6.QtTest", "PySide6.QtXml", "PySide6.QtDBus",
    "PySide6.QtConcurrent", "PySide6.QtPrintSupport", "tensorboard", "pyqtgraph.opengl",
    "pyqtgraph.examples", "pyqtgraph.jupyter",
    "grpc",               # not imported by ExoDeep, TensorFlow's inference path or pyqtgraph's views (17 MB)
                          # (PIL stays: matplotlib draws the analysis report's figures with it)
    # scikit-learn is a test dependency only (mean shift is in core.postprocess); ome-types/pydantic
    # only serve nd2's OME export, which ExoDeep does not call (5 + 3 MB)
    "sklearn", "joblib", "threadpoolctl", "ome_types", "pydantic", "pydantic_core", "pydantic_extra_types",
    # Pillow's AVIF support (and with it libavif, 5 MB): matplotlib writes PNG, ExoDeep reads no AVIF
    "PIL._avif", "PIL.AvifImagePlugin",
    # nothing imports them at run time (checked: sys.modules after the window, the CLI, detection and
    # the analysis imports), but bundled they bring PyInstaller's runtime hooks, which import
    # pkg_resources at every start
    "setuptools", "pkg_resources", "numpy.distutils",
    "readline",           # an interactive console's line editing (GNU readline, ncurses): not a window's
    # not one of ExoDeep's requirements (the release build's environment has none): where a development
    # environment has it (a test dependency's), Dask and tifffile would pull it in (18 MB)
    "pandas",
]

# Libraries and data that nothing loads (substrings of their paths in the bundle): TensorFlow's XLA
# Python ops, StableHLO extension and proto caster (33 MB; checked with /proc/self/maps after detection
# and a training step: never mapped; XLA itself is in libtensorflow_cc), Qt's translations of its own
# dialogs (7 MB; the app is in English) and Qt's platform plugins for embedded devices (framebuffer,
# EGLFS, VNC, evdev input; 2 MB).
UNUSED = (
    "tensorflow/compiler/tf2xla/ops/_xla_ops", "tensorflow/compiler/mlir/stablehlo/stablehlo_extension",
    "tensorflow/python/framework/lib_native_proto_caster",
    "PySide6/Qt/translations/", "PySide6/Qt/plugins/egldeviceintegrations/", "PySide6/Qt/plugins/generic/",
    "libQt6EglFSDeviceIntegration", "libQt6EglFsKmsSupport",
    # QtNetwork's library (2 MB, and Kerberos' 2 MB with it): the PySide6 module is excluded and no Qt
    # library or plugin in the bundle links against it (readelf -d)
    "libQt6Network.",
    # test helpers and sample data
    "tensorflow/python/autograph/impl/testing/", "matplotlib/mpl-data/sample_data/",
    *(f"PySide6/Qt/plugins/platforms/libq{p}." for p in ("eglfs", "linuxfb", "minimal", "minimalegl",
                                                       "vkkhrdisplay", "vnc")),
)


# Linux: PyInstaller copies every shared library the bundle links from the build system's library
# folders; all but a few of those must be the user's own, because the system's other libraries load
# them too and a newer system needs newer ones: the C++ runtime (an old libstdc++ stops the system's
# Mesa drivers loading: "GLIBCXX_3.4.30 not found (required by …/dri/iris_dri.so)"), X11 and libxcb,
# xkbcommon (Debian 11's libxkbcommon-x11 with Debian 12's libxkbcommon crashes Qt's X11 plugin: seen),
# fontconfig and freetype (they read the system's configuration), GLib, D-Bus, GTK (Qt's GTK theme
# plugin, where the build system has GTK), zlib, zstd, lzma, uuid... Every desktop with glibc 2.31 has
# them (a missing one is named by exodeep_gui.system_check, with its package). So only these come from
# the build system (file-name prefixes): OpenSSL and libffi (Ubuntu 22.04 and later have neither 1.1 nor
# 7), libbz2.so.1.0 (Fedora names it libbz2.so.1), SQLite, the interpreter, and the xcb-util libraries
# a desktop may lack (libxcb-icccm4, -keysyms1, -image0, -render-util0, -util1, -cursor0), which only use
# libxcb's stable API.
LINUX_BUNDLED_SYSTEM_LIBS = (
    "libpython3", "libssl.so", "libcrypto.so", "libffi.so", "libbz2.so", "libsqlite3.so",
    "libxcb-cursor.so", "libxcb-icccm.so", "libxcb-image.so", "libxcb-keysyms.so", "libxcb-render-util.so",
    "libxcb-util.so",
)
SYSTEM_LIBRARY_FOLDERS = ("/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/")


def from_system(src) -> bool:
    """True for a file in the system's library folders (not a wheel's, not the interpreter's own)."""
    return bool(src) and os.path.realpath(str(src)).startswith(SYSTEM_LIBRARY_FOLDERS)


def unused(dest: str, src=None, linux: bool = False) -> bool:
    """True for a bundle entry (its destination path; ``src``: where PyInstaller found it) that the bundle
    leaves out; ``linux``: also the desktop's own libraries (all system ones but
    :data:`LINUX_BUNDLED_SYSTEM_LIBS`)."""
    dest = dest.replace("\\", "/")
    if linux and "/" not in dest and from_system(src) and not dest.startswith(LINUX_BUNDLED_SYSTEM_LIBS):
        return True
    return any(u in dest for u in UNUSED)
