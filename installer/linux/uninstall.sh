#!/bin/sh
# Remove what ./install.sh added for this user (the menu entry, icons, ND2 MIME type, the exodeep
# command), from the list it kept in ${XDG_STATE_HOME:-~/.local/state}/exodeep/installed-files.
# It leaves this folder (delete it yourself) and your data (models, settings: ~/.local/share/ExoDeep).
set -eu
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
STATE=${XDG_STATE_HOME:-$HOME/.local/state}
MANIFEST="$STATE/exodeep/installed-files"
[ -f "$MANIFEST" ] || { echo "uninstall.sh: nothing to remove ($MANIFEST not found)"; exit 0; }

# 1. the files install.sh wrote (the list itself last)
grep '^f ' "$MANIFEST" | cut -c3- | while IFS= read -r path; do
    [ "$path" = "$MANIFEST" ] || rm -f "$path"
done

# 2. the caches the desktop tools made: brought up to date without ExoDeep; removed when install.sh
#    created them and nothing else is left for them to describe (a cache that other entries need stays)
if [ -d "$DATA/mime/packages" ] && command -v update-mime-database >/dev/null 2>&1; then
    update-mime-database "$DATA/mime" >/dev/null 2>&1 || true
fi
if [ -d "$DATA/applications" ] && command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database "$DATA/applications" >/dev/null 2>&1 || true
fi
mime_left=$(find "$DATA/mime/packages" -name '*.xml' 2>/dev/null | head -n 1)
desktop_left=$(find "$DATA/applications" -name '*.desktop' 2>/dev/null | head -n 1)
grep '^g ' "$MANIFEST" | cut -c3- | while IFS= read -r path; do
    case "$path" in
        "$DATA/mime/"*) if [ -z "$mime_left" ]; then rm -f "$path"; fi ;;
        "$DATA/applications/"*) if [ -z "$desktop_left" ]; then rm -f "$path"; fi ;;
        *) rm -f "$path" ;;
    esac
done
if [ -z "$mime_left" ]; then       # folders update-mime-database made, with what it wrote in them
    grep '^d ' "$MANIFEST" | cut -c3- | while IFS= read -r path; do
        case "$path" in
            "$DATA/mime/packages") ;;
            "$DATA/mime/"?*) if [ -d "$path" ]; then rm -rf "$path"; fi ;;
        esac
    done
fi

# 3. the folders install.sh created, deepest first, when they are empty (your own files stay)
dirs=$(awk '/^d / {print substr($0, 3)}' "$MANIFEST" | LC_ALL=C sort -r)
rm -f "$MANIFEST"
printf '%s\n' "$dirs" | while IFS= read -r path; do
    [ -n "$path" ] && rmdir "$path" 2>/dev/null || true
done
echo "ExoDeep's menu entry, icons, file types and exodeep command are removed (the app folder is left)."
