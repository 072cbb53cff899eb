#!/usr/bin/env bash
# Copyright 2026 The metarl Authors.
# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# render_test.sh: `metarl record` and `metarl view` end to end on a tiny
# slope-walker run. Videos are checked with ffprobe (size, codec, frame
# count), the viewer runs under Xvfb (xvfb-run). Run by CTest as render_cli:
#
#   tests/render_test.sh /path/to/metarl /path/to/source-dir
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 METARL_BINARY SOURCE_DIR" >&2
  exit 2
fi
metarl=$(realpath "$1")
srcdir=$(realpath "$2")
for tool in ffmpeg ffprobe xvfb-run xdotool; do
  command -v "$tool" >/dev/null || { echo "render_test: $tool is missing (scripts/setup installs it)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"

passed=0
failed=0
out="$work/stdout"
err="$work/stderr"

ok() { echo "ok: $1"; passed=$((passed + 1)); }
fail() {
  echo "FAIL: $1" >&2
  echo "--- stdout:" >&2; cat "$out" >&2 || true
  echo "--- stderr:" >&2; cat "$err" >&2 || true
  failed=$((failed + 1))
}
# run EXPECTED_CODE ARGS...: metarl with output captured; 0 if the code matched
run() {
  local expected=$1
  shift
  code=0
  "$metarl" "$@" >"$out" 2>"$err" </dev/null || code=$?
  if [[ $code -ne $expected ]]; then
    fail "metarl $* exited $code, expected $expected"
    return 1
  fi
}
# probe FILE FIELD: one field of the first video stream, frames counted
probe() {
  ffprobe -v error -select_streams v:0 -count_frames -show_entries "stream=$2" \
    -of default=nw=1:nk=1 "$1"
}

# a tiny run: one meta-iteration, 30-step episodes (a few seconds)
horizon=30
if ! "$metarl" train "$srcdir/configs/slope_walker_200.yaml" outer.iterations=1 outer.meta_batch=1 \
     inner.episodes=2 env.horizon=$horizon --out run --quiet >"$out" 2>"$err"; then
  fail "training the tiny run"
  exit 1
fi
common=(--steps 1 --episodes 2 --width 320 --height 240)

# record: H.264 of the requested size, before + after = 2 (horizon + 1) frames
if run 0 record run --out clip.mp4 "${common[@]}" --task slope=-15,mass=1.5; then
  got="$(probe clip.mp4 codec_name) $(probe clip.mp4 width)x$(probe clip.mp4 height) $(probe clip.mp4 nb_read_frames) $(probe clip.mp4 pix_fmt) $(probe clip.mp4 r_frame_rate)"
  # walker2d: timestep 0.002, frame_skip 4: 125 frames per second
  want="h264 320x240 $((2 * (horizon + 1))) yuv420p 125/1"
  if [[ "$got" == "$want" ]]; then ok "record: $got"; else fail "record: got '$got', want '$want'"; fi
  if ls -a | grep -q '\.part'; then fail "record left a temporary file: $(ls -a)"; fi
fi

# the adaptation shown is the one `metarl eval` measures: same batch returns
# for held-out task 0 (same seed, task key and episodes)
if run 0 eval run --tasks 1 --steps 1 --episodes 2; then
  want=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "return") r = i; next }
                  r && $2 == 0 && $1 != "random" { printf "%.2f ", $r }' run/eval/adaptation.csv)
  if run 0 record run --frames evalcheck "${common[@]}"; then
    got=$(sed -n 's/.*batch mean return \(.*\) -> \(.*\)/\1 \2 /p' "$out")
    if [[ -n "$want" && "$got" == "$want" ]]; then
      ok "record adapts as eval does: batch returns $got"
    else
      fail "record's batch returns '$got', eval's '$want'"
    fi
  fi
fi

# side by side at 25 fps: twice as wide, one phase resampled in time
if run 0 record run --out side.mp4 "${common[@]}" --side-by-side --fps 25; then
  frames=$(( ( (horizon + 1) * 8 * 25 + 500 ) / 1000 ))   # (T + 1) dt fps, rounded
  got="$(probe side.mp4 width)x$(probe side.mp4 height) $(probe side.mp4 nb_read_frames) $(probe side.mp4 r_frame_rate)"
  want="640x240 $frames 25/1"
  if [[ "$got" == "$want" ]]; then ok "record --side-by-side --fps 25: $got"; else fail "side by side: got '$got', want '$want'"; fi
fi

# PNG frames, no ffmpeg needed: one per frame, each a 320x240 image
if PATH=/nonexistent run 0 record run --frames frames "${common[@]}"; then
  n=$(ls frames | grep -c '^frame_[0-9]*\.png$' || true)
  size="$(probe frames/frame_000000.png width)x$(probe frames/frame_000000.png height)"
  if [[ $n -eq $((2 * (horizon + 1))) && $size == 320x240 ]]; then
    ok "record --frames: $n PNG frames of $size"
  else
    fail "record --frames: $n frames of $size"
  fi
fi

# ffmpeg missing: one clear line, exit 2, nothing written
if PATH=/nonexistent run 2 record run --out nope.mp4 "${common[@]}"; then
  if grep -q "ffmpeg" "$err" && grep -q -- "--frames" "$err" && [[ ! -e nope.mp4 ]]; then
    ok "record without ffmpeg: $(cat "$err")"
  else
    fail "record without ffmpeg: message or file"
  fi
fi

# ffmpeg failing mid-way: its error is reported, no file under the name
mkdir fakebin
cat >fakebin/ffmpeg <<'FAKE'
#!/bin/sh
head -c 1000 >/dev/null
echo "fake ffmpeg: encoder exploded" >&2
exit 1
FAKE
chmod +x fakebin/ffmpeg
if PATH="$work/fakebin:$PATH" run 1 record run --out broken.mp4 "${common[@]}"; then
  if grep -q "encoder exploded" "$err" && [[ ! -e broken.mp4 ]] && ! ls -a | grep -q '\.part'; then
    ok "ffmpeg failing: $(cat "$err")"
  else
    fail "ffmpeg failing: message or leftover file ($(ls -a | tr '\n' ' '))"
  fi
fi

# bad input: exit 2 with one line
# an unwritable folder (root writes anywhere but in /proc)
unwritable=/proc
if [[ $(id -u) -ne 0 ]]; then mkdir readonly && chmod 555 readonly && unwritable=readonly; fi
bad_cases=(
  "record run --out $unwritable/x.mp4|cannot write"
  "record run --out nodir/x.mp4|no folder"
  "record run --out x.mp4 --task inertia=2|inertia"
  "record run --out x.mp4 --task slope|key=value"
  "record run --out x.mp4 --width 321|even"
  "record norun --out x.mp4|not a run directory"
  "view run --task gravity=1|unknown task key"
)
for case in "${bad_cases[@]}"; do
  args=${case%%|*}
  want=${case#*|}
  # shellcheck disable=SC2086
  if run 2 $args; then
    if [[ $(awk 'END { print NR }' "$err") -eq 1 ]] && grep -q -- "$want" "$err"; then
      ok "$args: $(cat "$err")"
    else
      fail "$args: expected one line with '$want'"
    fi
  fi
done
cp -r run nockpt && rm -rf nockpt/checkpoints/*
if run 2 record nockpt --out x.mp4; then
  if grep -q "checkpoint" "$err"; then ok "no checkpoint: $(cat "$err")"; else fail "no checkpoint: message"; fi
fi

# view without a display: one line suggesting record
if env -u DISPLAY -u WAYLAND_DISPLAY "$metarl" view run >"$out" 2>"$err"; then
  fail "view without a display exited 0"
else
  code=$?
  if [[ $code -eq 2 && $(awk 'END { print NR }' "$err") -eq 1 ]] && grep -q "metarl record" "$err"; then
    ok "view without a display: $(cat "$err")"
  else
    fail "view without a display: exit $code"
  fi
fi

# view under Xvfb: N frames, a non-blank screenshot of the window's size
xvfb=(xvfb-run -a -s "-screen 0 1280x1024x24")
code=0
"${xvfb[@]}" "$metarl" view run --frames 40 --screenshot shot.png --steps 1 --episodes 2 \
  --width 480 --height 320 --task slope=10 >"$out" 2>"$err" </dev/null || code=$?
if [[ $code -eq 0 ]] && grep -q "rendered 40 frames" "$out" && [[ -s shot.png ]]; then
  size="$(probe shot.png width)x$(probe shot.png height)"
  # luma range over the image: a blank frame has none
  range=$(ffprobe -v error -f lavfi -i "movie=shot.png,signalstats" \
    -show_entries frame_tags=lavfi.signalstats.YMIN,lavfi.signalstats.YMAX -of csv=p=0 |
    awk -F, '{ print ($2 > $1 ? $2 - $1 : $1 - $2) }')
  if [[ $size == 480x320 && $range -gt 50 ]]; then
    ok "view under Xvfb: 40 frames, screenshot $size, luma range $range"
  else
    fail "view screenshot: size $size, luma range $range"
  fi
else
  fail "view under Xvfb exited $code"
fi
# random actions on a config, no run needed
code=0
"${xvfb[@]}" "$metarl" view --random "$srcdir/configs/slope_walker_200.yaml" --frames 5 \
  --width 320 --height 240 >"$out" 2>"$err" </dev/null || code=$?
if [[ $code -eq 0 ]] && grep -q "rendered 5 frames" "$out"; then ok "view --random"; else fail "view --random exited $code"; fi

# every key binding with real X events; Ctrl+P writes a screenshot, Ctrl+Q quits
code=0
(mkdir keys && cd keys && "${xvfb[@]}" bash "$srcdir/tests/view_keys.sh" "$metarl" ../run) \
  >"$out" 2>"$err" </dev/null || code=$?
shots=(keys/metarl-*.png)
if [[ $code -eq 0 && -s ${shots[0]} ]] && grep -q "rendered" "$out"; then
  ok "view keys: $(cat "$out"), Ctrl+P wrote ${shots[0]##*/}"
else
  fail "view keys exited $code"
fi

echo "render_test: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
