#!/bin/sh
# ExoDeep for this user, without root: a menu entry, the icon, "Open with ExoDeep" for .tif/.tiff/.nd2
# movies and the `exodeep` command (~/.local/bin), all pointing at this folder (the app stays here:
# move the folder first, then run this; run it again after moving it).
#
#   ./install.sh            ./uninstall.sh removes exactly what this added (listed in
#                           ${XDG_STATE_HOME:-~/.local/state}/exodeep/installed-files)
#
# It does not make ExoDeep the default program of TIFF files (it is offered in "Open with"); for .nd2,
# which nothing else on most systems opens, it is the only program offered, so the default.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd -P)
APP="$HERE/ExoDeep"
ICONS="$HERE/_internal/resources/icons"
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
STATE=${XDG_STATE_HOME:-$HOME/.local/state}
BIN_DIR=$HOME/.local/bin
MANIFEST="$STATE/exodeep/installed-files"
MARK="Added by ExoDeep's install.sh"
ND2_XML=exodeep-nd2.xml

[ -x "$APP" ] || { echo "install.sh: $APP not found: run the install.sh of an unpacked ExoDeep folder" >&2; exit 1; }
[ -f "$ICONS/exodeep-256.png" ] || { echo "install.sh: no icons in $ICONS" >&2; exit 1; }

NEW=$(mktemp)
trap 'rm -f "$NEW" "$NEW.before" "$NEW.after"' EXIT
note() { printf '%s %s\n' "$1" "$2" >> "$NEW"; }

# mkdir -p that notes each folder it creates
make_dirs() {
    [ -d "$1" ] && return 0
    make_dirs "$(dirname "$1")"
    mkdir "$1"
    note d "$1"
}

# put_file SOURCE TARGET: copy (or, with SOURCE "-", write stdin) and note it
put_file() {
    make_dirs "$(dirname "$2")"
    if [ "$1" = - ]; then cat > "$2.tmp-exodeep"; else cp "$1" "$2.tmp-exodeep"; fi
    mv -f "$2.tmp-exodeep" "$2"
    note f "$2"
}

# a value of a desktop entry: \ is \\ (the string level)
desktop_string() { printf '%s' "$1" | sed 's/\\/\\\\/g'; }
# an argument of Exec: inside double quotes, \ " ` $ get a backslash (the quoting level), % is %%,
# then the string level
exec_arg() {
    quoted=$(printf '%s' "$1" | sed 's/[\\"`$]/\\&/g; s/%/%%/g')
    desktop_string "\"$quoted\""
}

# files a tool generates in FOLDER (update-mime-database, update-desktop-database): note the new ones
list_tree() { [ -d "$1" ] && find "$1" | LC_ALL=C sort || true; }
run_tool() {      # run_tool FOLDER COMMAND...
    folder=$1; shift
    command -v "$1" >/dev/null 2>&1 || return 0
    list_tree "$folder" > "$NEW.before"
    "$@" >/dev/null 2>&1 || echo "install.sh: $1 failed (not needed to run ExoDeep)" >&2
    list_tree "$folder" > "$NEW.after"
    LC_ALL=C comm -13 "$NEW.before" "$NEW.after" | while IFS= read -r path; do
        if [ -d "$path" ]; then note d "$path"; else note g "$path"; fi
    done
}

# --- the icon: the hicolor theme's PNG sizes and the SVG
for size in 16 24 32 48 64 128 256 512; do
    [ -f "$ICONS/exodeep-$size.png" ] && put_file "$ICONS/exodeep-$size.png" "$DATA/icons/hicolor/${size}x${size}/apps/exodeep.png"
done
[ -f "$ICONS/exodeep.svg" ] && put_file "$ICONS/exodeep.svg" "$DATA/icons/hicolor/scalable/apps/exodeep.svg"
ICON="$DATA/icons/hicolor/256x256/apps/exodeep.png"

# --- ND2: the system's MIME type for *.nd2, or ours when it has none
nd2_type=""
for dir in "$DATA" $(printf '%s' "${XDG_DATA_DIRS:-/usr/local/share:/usr/share}" | tr ':' ' '); do
    [ -f "$dir/mime/globs2" ] || continue
    [ "$dir" = "$DATA" ] && [ -f "$DATA/mime/packages/$ND2_XML" ] && continue     # ours, from before
    nd2_type=$(awk -F: 'tolower($3) == "*.nd2" {print $2; exit}' "$dir/mime/globs2")
    [ -n "$nd2_type" ] && break
done
if [ -z "$nd2_type" ]; then
    nd2_type=image/x-nd2
    put_file - "$DATA/mime/packages/$ND2_XML" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<!-- Added by ExoDeep's install.sh: the system knows no MIME type for Nikon ND2 files -->
<mime-info xmlns="http://www.freedesktop.org/standards/shared-mime-info">
  <mime-type type="image/x-nd2">
    <comment>Nikon NIS-Elements ND2 image</comment>
    <glob pattern="*.nd2"/>
  </mime-type>
</mime-info>
EOF
    run_tool "$DATA/mime" update-mime-database "$DATA/mime"
fi

# --- the menu entry
put_file - "$DATA/applications/exodeep.desktop" <<EOF
[Desktop Entry]
# $MARK (from $(desktop_string "$HERE"))
Type=Application
Name=ExoDeep
GenericName=Exocytosis detection
Comment=Find exocytosis events in TIRF microscopy movies
Keywords=exocytosis;TIRF;microscopy;fusion;deep learning;
Exec=$(exec_arg "$APP") %F
TryExec=$(desktop_string "$APP")
Icon=$(desktop_string "$ICON")
Terminal=false
Categories=Science;Biology;
MimeType=image/tiff;$nd2_type;
StartupNotify=true
EOF
run_tool "$DATA/applications" update-desktop-database "$DATA/applications"

# --- the exodeep command (not over an exodeep that install.sh did not write, e.g. a pip install)
if [ -e "$BIN_DIR/exodeep" ] && ! grep -q "$MARK" "$BIN_DIR/exodeep" 2>/dev/null; then
    echo "install.sh: $BIN_DIR/exodeep exists and is not ExoDeep's: left as it is (run $APP instead)" >&2
else
    quoted_app=$(printf '%s' "$APP" | sed "s/'/'\\\\''/g")
    put_file - "$BIN_DIR/exodeep" <<EOF
#!/bin/sh
# $MARK: the ExoDeep in $HERE
exec '$quoted_app' "\$@"
EOF
    chmod 755 "$BIN_DIR/exodeep"
fi

# --- the list of what was added, for uninstall.sh (last: it is added too)
make_dirs "$(dirname "$MANIFEST")"
note f "$MANIFEST"
{ [ -f "$MANIFEST" ] && cat "$MANIFEST"; cat "$NEW"; } | awk '!seen[$0]++' > "$MANIFEST.tmp"
mv -f "$MANIFEST.tmp" "$MANIFEST"

echo "ExoDeep is installed for $(id -un 2>/dev/null || echo you): the menu entry 'ExoDeep' (Science), 'Open with ExoDeep' for .tif/.tiff/.nd2, and the command"
echo "  exodeep --help"
case ":$PATH:" in
    *":$BIN_DIR:"*) ;;
    *) echo "($BIN_DIR is not on your PATH: add it, or run $APP --help)";;
esac
echo "Remove it with: $HERE/uninstall.sh"
