#!/usr/bin/env bash
# Copyright 2026 The metarl Authors.
# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# view_keys.sh: drive `metarl view` with real X key events (xdotool, XTEST)
# inside an X server that the caller started (render_test.sh runs it under
# xvfb-run). Presses every key binding, then Ctrl+P (a screenshot must
# appear) and Ctrl+Q (the viewer must exit 0 long before its frame limit).
#
#   tests/view_keys.sh METARL RUN_DIR     # in the folder for the screenshot
set -u
metarl=$1
run=$2
"$metarl" view "$run" --frames 1000000 --width 320 --height 240 --steps 1 --episodes 2 \
  >view_keys.out 2>view_keys.err </dev/null &
pid=$!
stop() { kill "$pid" 2>/dev/null; echo "view_keys: $1" >&2; exit 1; }
# the window exists before it is mapped: wait until it is viewable, and retry
# the focus (X refuses it, BadMatch, while the window is still being mapped)
win=$(timeout 60 xdotool search --sync --onlyvisible --name "metarl view") || stop "no window"
win=${win%%$'\n'*}
focused=0
for _ in $(seq 50); do
  if timeout 5 xdotool windowfocus --sync "$win" 2>/dev/null; then
    focused=1
    break
  fi
  sleep 0.2
done
[[ $focused -eq 1 ]] || stop "cannot focus the window"
for key in space Right Right space equal minus bracketright bracketright bracketleft Escape \
           F1 F1 n a r BackSpace; do
  xdotool key "$key" || stop "xdotool key $key"
  sleep 0.2
  kill -0 "$pid" 2>/dev/null || stop "the viewer died after key $key"
done
xdotool key ctrl+p
for _ in $(seq 100); do
  compgen -G "metarl-*.png" >/dev/null && break
  sleep 0.1
done
compgen -G "metarl-*.png" >/dev/null || stop "Ctrl+P wrote no screenshot"
xdotool key ctrl+q
for _ in $(seq 300); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$pid" 2>/dev/null && stop "Ctrl+Q did not quit"
wait "$pid"
code=$?
[[ $code -eq 0 ]] || stop "the viewer exited $code: $(cat view_keys.err)"
cat view_keys.out
