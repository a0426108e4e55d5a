#!/usr/bin/env bash
# The Linux baseline build: the bundle made on Debian 11 (bullseye, glibc 2.31), so that it runs on
# every Linux with glibc 2.31 or newer. Run as root (debootstrap, chroot, mount) from anywhere:
#
#   sudo installer/linux/build-debian11.sh [STAGE...]
#
# Stages (all by default, in this order; each one done is skipped on the next run, except package):
#   root     debootstrap a Debian 11 build root under build/debian11/buildroot (compilers, the -dev
#            packages Python needs, and the X11/OpenGL libraries Qt's xcb plugin links against, so that
#            PyInstaller bundles the ones a desktop may lack: libxcb-icccm4, libxcb-cursor0, …)
#   python   Python 3.11 from Debian's own python3.11 source package (bookworm, with Debian's security
#            and bug fixes; without Debian's packaging patches, which disable ensurepip), built
#            --enable-shared into /opt/python3.11 of the root
#   venv     a virtualenv with ExoDeep's pinned runtime dependencies from PyPI (binary wheels only),
#            pyproject.toml's pins except installer/linux/overrides-glibc2.31.txt, and PyInstaller
#   bundle   PyInstaller with installer/exodeep.spec on a copy of the source
#   package  installer/linux/package.sh: strip, check glibc <= 2.31 (fails above), the versioned
#            folder with install.sh/uninstall.sh/LICENSE/licenses/README.txt, the .tar.xz
#   testroot a second, minimal Debian 11 root with only the runtime libraries a desktop has
#   test     unpack the archive in the test root and run the frozen --self-test, `models` (offline,
#            empty data folder) and --startup-probe offscreen there
#   xtest    (not by default) in a copy of the test root: the missing-X11-libraries message and exit,
#            then, with them and Xvfb installed, the real X11 window
#   guitest  (not by default) the window's tests (tests/gui) with the build's PySide6, offscreen
#   newtest  (not by default) a Debian 13 root (glibc 2.41, newer libstdc++ and Mesa): self-test, and the
#            X11 window under Xvfb with GLX
#
# EXODEEP_BUNDLE_WEIGHTS=/path/exodeepfinder_net_weights_FINAL.h5 bundles the published weights (the
# default is ../shared/reference/ beside the checkout, when it is there). Outputs:
# build/debian11/ExoDeep-<version>-linux-x86_64.tar.xz and build/debian11/*.log. Nothing here goes into git.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${EXODEEP_DEB11_DIR:-$SRC/build/debian11}
BROOT=$WORK/buildroot
TROOT=$WORK/testroot
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
GLIBC_MAX=2.31
VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$SRC/pyproject.toml")
ARCHIVE_NAME=ExoDeep-$VERSION-linux-x86_64
WEIGHTS=${EXODEEP_BUNDLE_WEIGHTS:-$SRC/../shared/reference/exodeepfinder_net_weights_FINAL.h5}
[ "$(id -u)" = 0 ] || { echo "build-debian11.sh: run as root (debootstrap, chroot)" >&2; exit 1; }
mkdir -p "$WORK/cache-bullseye" "$WORK/cache-trixie"

# Qt's xcb plugin and Qt Gui/Widgets/OpenGL link against these (exodeep_gui/system_check.py XCB_PACKAGES)
QT_LIBS="libdbus-1-3 libegl1 libfontconfig1 libfreetype6 libgl1 libglib2.0-0 libx11-6 libx11-xcb1 libxcb1
 libxcb-cursor0 libxcb-glx0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render0
 libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-util1 libxcb-xfixes0 libxcb-xkb1
 libxkbcommon0 libxkbcommon-x11-0 libopengl0 libwayland-client0 libwayland-cursor0 libwayland-egl1"
BUILD_PKGS="build-essential dpkg-dev ca-certificates curl xz-utils binutils file patch
 libssl-dev zlib1g-dev libbz2-dev liblzma-dev libffi-dev libsqlite3-dev uuid-dev $QT_LIBS"
# What a desktop has (the test root): enough for Qt offscreen, no X server, no compiler
DESKTOP_PKGS="ca-certificates libgl1 libegl1 libfontconfig1 libfreetype6 libglib2.0-0 libdbus-1-3
 libxkbcommon0 libx11-6 fonts-dejavu-core xz-utils"

log() { echo "[$(date +%H:%M:%S)] $*"; }

# chroot with /proc, /dev, /sys mounted for the duration of one command
in_root() {
    local root=$1; shift
    for m in proc sys dev dev/pts; do mountpoint -q "$root/$m" || mount --bind "/$m" "$root/$m"; done
    cp -L /etc/resolv.conf "$root/etc/resolv.conf"
    # pip in the root trusts what this machine trusts (a proxy's own authority, where there is one)
    local ca=${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}} env=()
    if [ -f "$ca" ]; then mkdir -p "$root/build"; cp -L "$ca" "$root/build/host-ca.crt"; env+=(PIP_CERT=/build/host-ca.crt); fi
    for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do [ -n "${!v:-}" ] && env+=("$v=${!v}"); done
    local rc=0
    chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb "${env[@]}" \
        PATH=/opt/venv/bin:/opt/python3.11/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@" || rc=$?
    for m in dev/pts dev sys proc; do umount "$root/$m" 2>/dev/null || umount -l "$root/$m" || true; done
    return $rc
}

release_mounts() {  # unmount whatever an interrupted run left mounted under a root
    local root=$1 m
    for m in $(awk -v r="$root/" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r); do umount -l "$m"; done
    if awk -v r="$root/" 'index($2, r) == 1 {found=1} END {exit !found}' /proc/mounts; then
        echo "$root: still has mounts; not touching it" >&2; return 1
    fi
}

make_root() {       # make_root DIR PACKAGES [SUITE]
    local root=$1 pkgs suite=${3:-bullseye}
    pkgs=$(echo $2 | tr ' ' ',')
    release_mounts "$root"
    rm -rf --one-file-system "$root"
    debootstrap --variant=minbase --cache-dir="$WORK/cache-$suite" --include="$pkgs" "$suite" "$root" "$MIRROR"
    echo "deb $MIRROR $suite main" > "$root/etc/apt/sources.list"
    echo "deb http://security.debian.org/debian-security $suite-security main" >> "$root/etc/apt/sources.list"
    # the security updates of the same packages (glibc stays 2.31)
    in_root "$root" sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get -y -q upgrade && apt-get clean'
}

stage_root() {
    make_root "$BROOT" "$BUILD_PKGS"
    in_root "$BROOT" sh -c 'ldd --version | sed -n 1p'
}

stage_python() {
    # bookworm's source package, fetched and checked (signature and checksums) by apt in the root
    echo "deb-src $MIRROR bookworm main" > "$BROOT/etc/apt/sources.list.d/bookworm-src.list"
    in_root "$BROOT" bash -euo pipefail -c '
        apt-get update -q
        rm -rf /build/python && mkdir -p /build/python && cd /build/python
        apt-get source -q --download-only python3.11
        dpkg-source -x --skip-patches python3.11_*.dsc src
        cd src
        # Debian packaging patches (install layout, multiarch, ensurepip disabled, ...) are left out:
        # apply the series from its first bug fix (shutdown-deadlock.diff) on, i.e. the fixes and CVEs
        sed -n "/^shutdown-deadlock.diff/,\$p" debian/patches/series | sed "s/#.*//;/^\s*$/d" > ../applied-patches
        while read -r p; do patch -p1 -s -N < "debian/patches/$p"; done < ../applied-patches
        echo "$(wc -l < ../applied-patches) Debian patches applied ($(ls ../*.dsc))"
        # CVE-2026-4224.patch includes an internal header in pyexpat.c, which Debian builds into the
        # interpreter; built as an extension module (upstream layout) it needs Py_BUILD_CORE_MODULE
        grep -q Py_BUILD_CORE Modules/pyexpat.c || sed -i "1i #ifndef Py_BUILD_CORE_BUILTIN\\n#  define Py_BUILD_CORE_MODULE 1\\n#endif" Modules/pyexpat.c
        ./configure -q --prefix=/opt/python3.11 --enable-shared --with-ensurepip=install \
            LDFLAGS="-Wl,-rpath,/opt/python3.11/lib" >/dev/null
        make -s -j"$(nproc)" >/dev/null 2>make-warnings.log
        if grep -E "^\*\*\* WARNING: renaming|Failed to build these modules" -A2 make-warnings.log; then
            echo "Python modules failed to build (see /build/python/src/make-warnings.log)"; exit 1; fi
        make -s altinstall >/dev/null
        /opt/python3.11/bin/python3.11 -c "import ssl, sqlite3, lzma, bz2, zlib, ctypes, uuid, pyexpat, xml.etree.cElementTree, sys; print(sys.version)"'
    rm -f "$BROOT/etc/apt/sources.list.d/bookworm-src.list"
}

stage_venv() {
    rm -rf "$BROOT/build/req" && mkdir -p "$BROOT/build/req/installer/linux"
    cp "$SRC/pyproject.toml" "$BROOT/build/req/"
    cp "$SRC/installer/linux/requirements.py" "$SRC/installer/linux/overrides-glibc2.31.txt" "$BROOT/build/req/installer/linux/"
    cp "$SRC/installer/requirements-build.txt" "$BROOT/build/req/build.txt"
    in_root "$BROOT" bash -euo pipefail -c '
        cd /build/req       # Python 3.11 of the root reads pyproject.toml (tomllib), whatever the host has
        /opt/python3.11/bin/python3.11 installer/linux/requirements.py installer/linux/overrides-glibc2.31.txt > runtime.txt
        rm -rf /opt/venv
        /opt/python3.11/bin/python3.11 -m venv /opt/venv
        /opt/venv/bin/python -m pip install -q --upgrade "pip==26.3"
        /opt/venv/bin/python -m pip install -q --only-binary=:all: -r /build/req/runtime.txt -r /build/req/build.txt
        /opt/venv/bin/python -m pip freeze > /build/req/freeze.txt'
    cp "$BROOT/build/req/freeze.txt" "$WORK/pip-freeze.txt"
}

stage_bundle() {
    rm -rf "$BROOT/src" && mkdir -p "$BROOT/src"
    tar -C "$SRC" --exclude=./build --exclude=./.venv --exclude=.git --exclude=__pycache__ \
        -cf - . | tar -C "$BROOT/src" -xf -
    local weights_env=""
    if [ -f "$WEIGHTS" ]; then
        mkdir -p "$BROOT/build/weights" && cp "$WEIGHTS" "$BROOT/build/weights/exodeepfinder_net_weights_FINAL.h5"
        weights_env=EXODEEP_BUNDLE_WEIGHTS=/build/weights/exodeepfinder_net_weights_FINAL.h5
    else
        echo "no published weights at $WEIGHTS: the bundle will not carry them"
    fi
    in_root "$BROOT" bash -euo pipefail -c "
        cd /src && rm -rf build/installer
        $weights_env /opt/venv/bin/python -m PyInstaller installer/exodeep.spec --noconfirm --log-level WARN \
            --distpath build/installer/dist --workpath build/installer/work"
}

stage_package() {
    in_root "$BROOT" bash -euo pipefail -c "cd /src && bash installer/linux/package.sh /opt/venv/bin/python $GLIBC_MAX"
    cp "$BROOT/src/build/installer/$ARCHIVE_NAME.tar.xz" "$WORK/"
}

stage_testroot() {
    make_root "$TROOT" "$DESKTOP_PKGS"
}

stage_test() {
    rm -rf "$TROOT/opt/exodeep" "$TROOT/tmp/"* && mkdir -p "$TROOT/opt/exodeep"
    tar -C "$TROOT/opt/exodeep" -xJf "$WORK/$ARCHIVE_NAME.tar.xz"
    in_root "$TROOT" bash -euo pipefail -c "
        ldd --version | sed -n 1p
        app=/opt/exodeep/$ARCHIVE_NAME/ExoDeep
        export QT_QPA_PLATFORM=offscreen EXODEEP_OFFLINE=1
        data=\$(mktemp -d); export EXODEEP_DATA_DIR=\$data
        \$app --version
        \$app --help
        echo '--- models (offline, empty data folder)'; \$app models
        echo '--- self-test'; s=\$(date +%s%N); \$app --self-test
        echo \"self-test wall: \$(( (\$(date +%s%N) - s) / 1000000 )) ms\"
        echo '--- self-test with the published weights'; \$app --self-test --model exodeepfinder
        echo '--- simulate, detect on a local Dask cluster (1 worker), analyze (tables, figures, report)'
        cd \$(mktemp -d)
        \$app simulate sim --movies 1 --frames 60 --size 96 96
        \$app detect sim --out res --model exodeep-sim-small --workers 1 | tail -2
        \$app analyze sim --events res --out an | tail -2
        test -s an/report.html && test \$(ls an/figures | wc -l) -gt 5
        for args in --startup-probe --startup-probe --startup-probe \"--demo --startup-probe\" \"--demo --startup-probe\"; do
            s=\$(date +%s%N); \$app \$args 2>&1 | grep WINDOW_SHOWN >/dev/null || echo \"\$args: no window\"
            echo \"launch to window (offscreen, \$args): \$(( (\$(date +%s%N) - s) / 1000000 )) ms\"; done"
}

stage_xtest() {
    # A copy of the test root. The bundle carries the xcb libraries a desktop may lack, so the minimal
    # root lacks nothing Qt's X11 plugin needs; one system library is taken away (libx11-xcb1): with a
    # display named, the app must name it with the apt-get line and exit 1 (before any window); then,
    # with that package and Xvfb installed, the real X11 (xcb) window must show.
    release_mounts "$WORK/xroot" && rm -rf --one-file-system "$WORK/xroot"
    cp -a "$TROOT" "$WORK/xroot"
    in_root "$WORK/xroot" bash -uo pipefail -c "
        app=/opt/exodeep/$ARCHIVE_NAME/ExoDeep
        export EXODEEP_DATA_DIR=\$(mktemp -d) DISPLAY=:99
        dpkg --remove --force-depends libx11-xcb1 >/dev/null 2>&1
        \$app > /tmp/out.txt 2>&1; rc=\$?
        cat /tmp/out.txt; echo \"exit code \$rc without the X libraries\"
        [ \$rc = 1 ] && grep -q 'apt-get install -y' /tmp/out.txt || { echo 'expected the apt-get message and exit 1'; exit 1; }
        packages=\$(sed -n '/apt-get install -y/,\$p' /tmp/out.txt | tr -d '\\\\' | sed 's/.*install -y//' | tr '\\n' ' ')
        echo \"installing:\$packages xvfb xauth\"
        apt-get install -y -q \$packages >/dev/null
        apt-get install -y -q xvfb xauth >/dev/null
        dpkg -s libx11-xcb1 >/dev/null
        unset DISPLAY; export QT_QPA_PLATFORM=xcb
        for args in --startup-probe --startup-probe --startup-probe; do
            s=\$(date +%s%N)
            xvfb-run -a -s '-screen 0 1280x800x24' \$app \$args 2>&1 | grep WINDOW_SHOWN >/dev/null || { echo 'no X11 window'; exit 1; }
            echo \"launch to window (Xvfb, xcb, \$args, incl. Xvfb start): \$(( (\$(date +%s%N) - s) / 1000000 )) ms\"
        done"
}

# The window's tests against the build's Qt (PySide6 6.9.3 here, not pyproject's 6.11.3), offscreen, in
# the build root's environment plus the test tools (in /build/testdeps, not in the bundle's venv)
stage_guitest() {
    rm -rf "$BROOT/src-tests" && mkdir -p "$BROOT/src-tests"
    tar -C "$SRC" --exclude=./build --exclude=./.venv --exclude=.git --exclude=__pycache__ \
        -cf - . | tar -C "$BROOT/src-tests" -xf -
    in_root "$BROOT" bash -euo pipefail -c '
        pip install -q --target /build/testdeps "pytest==9.2.0" "pytest-qt==4.5.0" "hypothesis==6.155.2"
        cd /src-tests && python -c "import PySide6; print(\"PySide6\", PySide6.__version__)"
        PYTHONPATH=/src-tests:/build/testdeps QT_QPA_PLATFORM=offscreen TF_CPP_MIN_LOG_LEVEL=2 \
            python -m pytest -q -p no:cacheprovider tests/gui'
}

# A newer desktop: Debian 13 (trixie: glibc 2.41, GCC 14's libstdc++, Mesa's GL drivers), with the
# X11 libraries and Xvfb: the same archive must start there too (offscreen and X11, with GLX)
NEW_DESKTOP_PKGS="ca-certificates xz-utils fonts-dejavu-core libgl1 libegl1 libgl1-mesa-dri libfontconfig1
 libfreetype6 libglib2.0-0t64 libdbus-1-3 libx11-6 libx11-xcb1 libxcb1 libxcb-cursor0 libxcb-glx0
 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render0 libxcb-render-util0 libxcb-shape0
 libxcb-shm0 libxcb-sync1 libxcb-util1 libxcb-xfixes0 libxcb-xkb1 libxkbcommon0 libxkbcommon-x11-0 xvfb xauth"

stage_newtest() {
    [ -f "$WORK/.done-newroot" ] || { make_root "$WORK/newroot" "$NEW_DESKTOP_PKGS" trixie; date -Is > "$WORK/.done-newroot"; }
    rm -rf "$WORK/newroot/opt/exodeep" && mkdir -p "$WORK/newroot/opt/exodeep"
    tar -C "$WORK/newroot/opt/exodeep" -xJf "$WORK/$ARCHIVE_NAME.tar.xz"
    in_root "$WORK/newroot" bash -euo pipefail -c "
        ldd --version | sed -n 1p
        app=/opt/exodeep/$ARCHIVE_NAME/ExoDeep
        export EXODEEP_DATA_DIR=\$(mktemp -d) EXODEEP_OFFLINE=1
        QT_QPA_PLATFORM=offscreen \$app --self-test
        for args in --startup-probe --startup-probe \"--demo --startup-probe\"; do
            s=\$(date +%s%N)
            QT_QPA_PLATFORM=xcb xvfb-run -a -s '-screen 0 1280x800x24 +extension GLX' \$app \$args > /tmp/out.txt 2>&1 || true
            grep WINDOW_SHOWN /tmp/out.txt >/dev/null || { cat /tmp/out.txt; echo 'no X11 window'; exit 1; }
            if grep -iE 'GLIBCXX|MESA-LOADER|failed to load driver|symbol lookup error' /tmp/out.txt; then exit 1; fi
            echo \"launch to window (Debian 13, Xvfb, xcb, \$args, incl. Xvfb start): \$(( (\$(date +%s%N) - s) / 1000000 )) ms\"
        done"
}

main() {
    local stages=("$@") stage stamp start rc
    [ ${#stages[@]} -gt 0 ] || stages=(root python venv bundle package testroot test)
    for stage in "${stages[@]}"; do
        stamp=$WORK/.done-$stage
        if [ -f "$stamp" ] && [ $# -eq 0 ] && [[ " root python venv testroot " == *" $stage "* ]]; then
            log "$stage: done before ($(cat "$stamp")), skipped"; continue
        fi
        log "$stage: start"; start=$(date +%s)
        set +e; ( set -e; "stage_$stage" ) 2>&1 | tee "$WORK/$stage.log"; rc=${PIPESTATUS[0]}; set -e
        [ "$rc" = 0 ] || { log "$stage: FAILED (see $WORK/$stage.log)"; return 1; }
        echo "$(( $(date +%s) - start )) s, $(date -Is)" > "$stamp"
        log "$stage: done in $(( $(date +%s) - start )) s"
    done
    if [ -f "$WORK/$ARCHIVE_NAME.tar.xz" ]; then ls -l "$WORK/$ARCHIVE_NAME.tar.xz"; fi
}

# (one line, read whole before it runs: editing this file during a build does not disturb the build)
main "$@"; exit $?
