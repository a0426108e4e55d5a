#!/usr/bin/env bash
# From PyInstaller's one-folder bundle (build/installer/dist/ExoDeep) to the Linux archive:
#   installer/linux/package.sh PYTHON [GLIBC_MAX]
# PYTHON: the Python that built the bundle (its packages' licence texts are collected). GLIBC_MAX (e.g.
# 2.31): fail when a bundled ELF file needs a newer glibc (without it, the figure is only printed).
# Makes build/installer/ExoDeep-<version>-linux-x86_64/ (the bundle, install.sh, uninstall.sh, LICENSE,
# licenses/, README.txt) and build/installer/ExoDeep-<version>-linux-x86_64.tar.xz.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=$1
GLIBC_MAX=${2:-}
VERSION=$("$PY" installer/get_version.py)
NAME=ExoDeep-$VERSION-linux-x86_64
DIST=build/installer/dist/ExoDeep
STAGE=build/installer/$NAME
ARCHIVE=build/installer/$NAME.tar.xz
[ -x "$DIST/ExoDeep" ] && [ ! -L "$DIST" ] || { echo "package.sh: no new bundle at $DIST (run PyInstaller first)" >&2; exit 1; }

if command -v strip >/dev/null; then
    # Strip symbols from the shared libraries (TensorFlow's 788 MB libtensorflow_cc → 583 MB), except
    # the patched wheel libraries in *.libs/ (stripping them breaks OpenBLAS/gfortran: "ELF load
    # command address/offset not page-aligned"); PyInstaller's own strip=True hits exactly those.
    find "$DIST/_internal" -name "*.so*" -type f ! -path "*.libs/*" -exec strip --strip-unneeded {} + 2>/dev/null || true
fi
"$PY" installer/linux/dedupe_libs.py "$DIST/_internal"
"$PY" installer/linux/glibc_check.py "$DIST" ${GLIBC_MAX:+--max "$GLIBC_MAX"}

rm -rf "$STAGE" "$ARCHIVE"
mv "$DIST" "$STAGE"
ln -s "../$NAME" "$DIST"          # where PyInstaller put it (tools/frozen_screenshot.sh looks there)
install -m 755 installer/linux/install.sh installer/linux/uninstall.sh "$STAGE/"
install -m 644 LICENSE "$STAGE/LICENSE"
sed "s/@VERSION@/$VERSION/" installer/linux/README.txt > "$STAGE/README.txt"
weights=()
[ -f "$STAGE/_internal/resources/models/exodeepfinder_net_weights_FINAL.h5" ] && weights=(--weights-bundled)
"$PY" installer/collect_licenses.py "$STAGE/licenses" --bundle "$STAGE" "${weights[@]}"

tar -C build/installer --owner=0 --group=0 --numeric-owner -cf - "$NAME" | xz -T2 -6 > "$ARCHIVE"
echo "unpacked: $(du -sm "$STAGE" | cut -f1) MB ($(du -sb "$STAGE" | cut -f1) bytes); compressed: $(( $(stat -c %s "$ARCHIVE") / 1048576 )) MB → $ARCHIVE"
