#!/usr/bin/env bash
# Build the Linux bundle with this machine's Python and package it (a development build: it needs the
# glibc of the machine it was built on; installer/linux/build-debian11.sh makes the release build, which
# runs on glibc 2.31 and newer). Usage:
#   installer/build.sh [PYTHON]      (default: .venv/bin/python)
# Makes build/installer/ExoDeep-<version>-linux-x86_64/ and its .tar.xz (installer/linux/package.sh);
# prints the build time, the glibc the bundle needs and the unpacked and compressed sizes.
# The published weights are bundled when EXODEEP_BUNDLE_WEIGHTS names them or when
# ../shared/reference/exodeepfinder_net_weights_FINAL.h5 is there (the spec checks their sha256).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-.venv/bin/python}
"$PY" -m pip install -q -r installer/requirements-build.txt
DEFAULT_WEIGHTS=../shared/reference/exodeepfinder_net_weights_FINAL.h5
if [ -z "${EXODEEP_BUNDLE_WEIGHTS:-}" ] && [ -f "$DEFAULT_WEIGHTS" ]; then
    export EXODEEP_BUNDLE_WEIGHTS=$DEFAULT_WEIGHTS
fi
echo "published weights: ${EXODEEP_BUNDLE_WEIGHTS:-not bundled}"
rm -rf build/installer
start=$(date +%s)
"$PY" -m PyInstaller installer/exodeep.spec --noconfirm --log-level WARN \
    --distpath build/installer/dist --workpath build/installer/work
echo "build: $(( $(date +%s) - start )) s"
bash installer/linux/package.sh "$PY"
