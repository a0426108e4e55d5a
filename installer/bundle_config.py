"""What the bundle leaves out: read by installer/exodeep.spec (PyInstaller) and by
installer/collect_licenses.py (no licence for what is not shipped). Each cut was checked with the
frozen self-test (detection, the engine process) and the analysis; the exclusions that BREAK the app are
listed in /work/shared/design/environment.md: PySide6.QtOpenGL(Widgets) (pyqtgraph needs them),
libQt6DBus, tensorflow.lite, tensorflow.python.profiler (TensorFlow imports them)."""

# Python modules PyInstaller must not follow.
EXCLUDES = [
    "torch", "jax", "jaxlib", "tkinter", "IPython", "pytest", "pytestqt", "importlinter",
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


# Linux: libraries of the desktop itself, which PyInstaller would copy from the build system (Debian
# 11) but which must be the user's own, because the system's other libraries load them too and a newer
# system needs newer ones: the C++ runtime (an old libstdc++ stops the system's Mesa drivers loading:
# "GLIBCXX_3.4.30 not found (required by …/dri/iris_dri.so)"), X11 and libxcb with its extension
# libraries, xkbcommon (Debian 11's libxkbcommon-x11 with Debian 12's libxkbcommon crashes Qt's X11
# plugin: seen), fontconfig and freetype (they read the system's configuration), GLib, D-Bus, the
# compression libraries other system libraries link (zlib, zstd, lzma), libuuid, and what only these
# need. Every desktop with glibc 2.31 has them (a missing one is named by exodeep_gui.system_check, with
# its package). Still bundled: OpenSSL 1.1 and libffi 7 (Ubuntu 22.04 and later have neither),
# libbz2.so.1.0 (Fedora names it libbz2.so.1), and the xcb-util libraries a desktop may lack
# (libxcb-icccm4, -keysyms1, -image0, -render-util0, -util1, -cursor0), which only use libxcb's stable API.
LINUX_SYSTEM_LIBS = frozenset({
    "libstdc++.so.6", "libgcc_s.so.1",
    "libX11.so.6", "libX11-xcb.so.1", "libXau.so.6", "libXdmcp.so.6", "libbsd.so.0", "libmd.so.0",
    "libxcb.so.1", "libxcb-render.so.0", "libxcb-shm.so.0", "libxcb-sync.so.1", "libxcb-xfixes.so.0",
    "libxcb-randr.so.0", "libxcb-shape.so.0", "libxcb-xkb.so.1", "libxcb-glx.so.0",
    "libxkbcommon.so.0", "libxkbcommon-x11.so.0",
    "libfontconfig.so.1", "libfreetype.so.6", "libexpat.so.1", "libpng16.so.16", "libbrotlidec.so.1",
    "libbrotlicommon.so.1",
    "libglib-2.0.so.0", "libgobject-2.0.so.0", "libgio-2.0.so.0", "libgmodule-2.0.so.0", "libgthread-2.0.so.0",
    "libpcre.so.3", "libpcre2-8.so.0", "libmount.so.1", "libblkid.so.1", "libselinux.so.1",
    "libdbus-1.so.3", "libsystemd.so.0", "libgcrypt.so.20", "libgpg-error.so.0", "liblz4.so.1",
    "libgssapi_krb5.so.2", "libkrb5.so.3", "libk5crypto.so.3", "libkrb5support.so.0", "libcom_err.so.2",
    "libkeyutils.so.1",
    "libz.so.1", "libzstd.so.1", "liblzma.so.5", "libuuid.so.1",
})


def unused(dest: str, linux: bool = False) -> bool:
    """True for a bundle entry (its destination path) that the bundle leaves out; ``linux``: also the
    desktop's own libraries (:data:`LINUX_SYSTEM_LIBS`, at the top of the bundle)."""
    dest = dest.replace("\\", "/")
    if linux and "/" not in dest and dest in LINUX_SYSTEM_LIBS:
        return True
    return any(u in dest for u in UNUSED)
