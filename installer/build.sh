#!/usr/bin/env bash
# Build the one-folder bundle and its archive; run the frozen self-test. Usage:
#   installer/build.sh [PYTHON]      (default: .venv/bin/python)
# Prints the unpacked and compressed sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-.venv/bin/python}
VERSION=$("$PY" installer/get_version.py)
"$PY" -m pip install -q "pyinstaller==6.22.3" "pyinstaller-hooks-contrib==2026.9"
rm -rf build/installer
start=$(date +%s)
"$PY" -m PyInstaller installer/exodeep.spec --noconfirm --log-level WARN \
    --distpath build/installer/dist --workpath build/installer/work
echo "build: $(( $(date +%s) - start )) s"
BUNDLE=build/installer/dist/ExoDeep
if command -v strip >/dev/null; then
    # Strip symbols from the shared libraries (TensorFlow's 788 MB libtensorflow_cc → 583 MB), except
    # the patched wheel libraries in *.libs/ (stripping them breaks OpenBLAS/gfortran: "ELF load
    # command address/offset not page-aligned"); PyInstaller's own strip=True hits exactly those.
    find "$BUNDLE/_internal" -name "*.so*" -type f ! -path "*.libs/*" -exec strip --strip-unneeded {} + 2>/dev/null || true
fi
ARCHIVE=build/installer/ExoDeep-${VERSION}-linux-x86_64.tar.xz
tar -C build/installer/dist -cf - ExoDeep | xz -T2 -6 > "$ARCHIVE"
echo "unpacked: $(du -sm "$BUNDLE" | cut -f1) MB; compressed: $(( $(stat -c %s "$ARCHIVE") / 1048576 )) MB → $ARCHIVE"
