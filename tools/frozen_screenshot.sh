#!/usr/bin/env bash
# Start the frozen app on the demo movie under X (run it inside xvfb-run), time launch → window, run
# detection (Ctrl+D) and save a screenshot of the screen:
#   xvfb-run -a -s "-screen 0 1600x1000x24" tools/frozen_screenshot.sh OUT.png [BUNDLE_DIR] [WAIT_S]
# Needs xdotool and imagemagick (apt-get install xdotool imagemagick). The user data folder is a fresh
# temporary one unless EXODEEP_DATA_DIR is set.
set -euo pipefail
OUT=${1:?usage: frozen_screenshot.sh OUT.png [BUNDLE_DIR] [WAIT_S]}
BUNDLE=${2:-build/installer/dist/ExoDeep}
WAIT=${3:-60}
export EXODEEP_DATA_DIR=${EXODEEP_DATA_DIR:-$(mktemp -d)}
t0=$(date +%s.%N)
"$BUNDLE/ExoDeep" --demo > "$EXODEEP_DATA_DIR/frozen_gui.log" 2>&1 &
app=$!
trap 'kill $app 2>/dev/null || true' EXIT
win=""
for _ in $(seq 1 240); do
    win=$(xdotool search --onlyvisible --name "^ExoDeep" 2>/dev/null | head -1 || true)
    [ -n "$win" ] && break
    sleep 0.1
done
[ -n "$win" ] || { echo "no window; log:"; cat "$EXODEEP_DATA_DIR/frozen_gui.log"; exit 1; }
python3 -c "import sys; print(f'launch → window: {float(sys.argv[2]) - float(sys.argv[1]):.1f} s')" "$t0" "$(date +%s.%N)"
sleep 3                                        # let the demo movie and its first frame appear
xdotool windowmove "$win" 0 0 windowsize "$win" 1500 900
sleep 1
xdotool windowfocus "$win" 2>/dev/null || true     # no window manager under a bare Xvfb: focus directly
xdotool mousemove 700 400 key ctrl+d            # Detect > Detect events in this movie
sleep "$WAIT"
import -window root "$OUT"
echo "screenshot → $OUT"
