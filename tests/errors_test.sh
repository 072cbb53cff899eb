#!/usr/bin/env bash
# Copyright 2026 The metarl Authors.
# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# errors_test.sh: every row of the README's "Errors" table. Each bad input
# must end with the exit code of the table, its message as the first line of
# stderr (exactly, up to the temporary folder's name), nothing on stdout, and
# no file left half-written. Run by CTest as errors:
#
#   tests/errors_test.sh /path/to/metarl /path/to/source-dir
#
# Rows already checked by cli_test.sh (missing config, missing MJCF, root body
# not in the model, misspelled randomizer key, --resume without checkpoint,
# eval --compare of another shape, eval without checkpoint) are not repeated.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 METARL_BINARY SOURCE_DIR" >&2
  exit 2
fi
metarl=$(realpath "$1")
srcdir=$(realpath "$2")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"  # an unprivileged user runs the permission rows
cd "$work"

passed=0
failed=0
out="$work/stdout"
err="$work/stderr"

# As root, permission bits do not stop a read or a write: the rows about them
# run metarl as nobody.
as_user=()
if [[ $(id -u) -eq 0 ]]; then
  command -v setpriv >/dev/null || { echo "errors_test: root needs setpriv" >&2; exit 1; }
  as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi

fail() {
  echo "FAIL: $1" >&2
  echo "--- stdout:" >&2
  cat "$out" >&2 || true
  echo "--- stderr:" >&2
  cat "$err" >&2 || true
  failed=$((failed + 1))
}

# expect CODE MESSAGE -- ARGS...: metarl ARGS exits CODE, the first line of
# stderr is "metarl: MESSAGE" ($work is written WORK in MESSAGE) and stdout
# is empty. The caller may prefix the command through $prefix.
prefix=()
expect() {
  local code=$1 message=${2//WORK/$work}
  shift 3
  local got=0
  "${prefix[@]}" "$metarl" "$@" >"$out" 2>"$err" </dev/null || got=$?
  local first
  first=$(head -n 1 "$err")
  if [[ $got -ne $code ]]; then
    fail "metarl $* exited $got, expected $code"
  elif [[ $first != "metarl: $message" ]]; then
    fail "metarl $*: first line of stderr is
  '$first', expected
  'metarl: $message'"
  elif [[ -s $out ]]; then
    fail "metarl $*: output on stdout"
  else
    echo "ok: exit $code: $message"
    passed=$((passed + 1))
  fi
  return 0  # a failure is counted, and the other rows still run
}

# nothing but what the test made: no run directory, no temporary file
no_new_files() {
  local extra
  extra=$(find "$work" -newer "$work/.stamp" -type f ! -name stdout ! -name stderr | head -n 5)
  if [[ -n $extra ]]; then
    fail "$1 left files: $extra"
  fi
}

# The 64-bit FNV-1a of every byte of a file but the last 8, written over
# them: a checkpoint edited on purpose that still passes the checksum.
fix_checksum() {
  local file=$1 size h=$((0xcbf29ce484222325)) b
  size=$(stat -c %s "$file")
  for b in $(head -c $((size - 8)) "$file" | od -An -v -tu1); do
    h=$(((h ^ b) * 0x100000001b3))  # bash wraps at 64 bits, as uint64 does
  done
  local hex i bytes=""
  hex=$(printf '%016x' "$h")
  for ((i = 14; i >= 0; i -= 2)); do bytes+="\\x${hex:i:2}"; done  # little-endian
  printf "$bytes" | dd of="$file" bs=1 seek=$((size - 8)) conv=notrunc status=none
}

#---------------------------------- configs ----------------------------------

cfg() {  # cfg NAME TEXT: a config file in $work
  printf '%b' "$2" >"$work/$1"
}
cfg malformed.yaml 'inner:\n  lr: [0.1\n'
cfg unknown.yaml 'inner:\n  lrr: 0.1\n'
cfg wrongtype.yaml 'inner:\n  episodes: many\n'
cfg neglr.yaml 'inner:\n  lr: -0.1\n'
cfg zeroep.yaml 'inner:\n  episodes: 0\n'
cfg slope.yaml 'task:\n  slope_high: 85\n'
cfg hidden0.yaml 'policy:\n  hidden: [0]\n'
cfg secret.yaml 'seed: 2\n'
chmod 000 secret.yaml
cp "$srcdir/envs/models/walker2d.xml" secret.xml
chmod 000 secret.xml
cfg secretmodel.yaml "extends: $srcdir/configs/slope_walker_200.yaml\nenv:\n  model: $work/secret.xml\n"
cfg broken.xml '<mujoco><worldbody><body name="a"><geom type="box"/></body></worldbody></mujoco>\n'
cfg brokenmodel.yaml "extends: $srcdir/configs/slope_walker_200.yaml\nenv:\n  model: $work/broken.xml\n"
pn="$srcdir/configs/point_nav.yaml"
logs=log.dir=$work/runs
touch "$work/.stamp"

expect 2 "malformed.yaml:3:1: did not find expected ',' or ']' (while parsing a flow sequence at line 2, column 7)" -- train malformed.yaml "$logs"
expect 2 "unknown.yaml:2:3: unknown key 'inner.lrr' (did you mean 'inner.lr'?)" -- train unknown.yaml "$logs"
expect 2 "wrongtype.yaml:2:13: inner.episodes: expected an integer, got 'many'" -- train wrongtype.yaml "$logs"
expect 2 "neglr.yaml:2:7: inner.lr: must be > 0, got -0.1" -- train neglr.yaml "$logs"
expect 2 "zeroep.yaml:2:13: inner.episodes: must be >= 1, got 0" -- train zeroep.yaml "$logs"
expect 2 "slope.yaml:2:15: task.slope_high: must be <= 80, got 85" -- train slope.yaml "$logs"
expect 2 "override 'task.slope_low=-81': task.slope_low: must be >= -80, got -81" -- train "$pn" task.slope_low=-81 "$logs"
expect 2 "hidden0.yaml:2:12: policy.hidden[0]: must be >= 1, got 0" -- train hidden0.yaml "$logs"
prefix=("${as_user[@]}")
expect 2 "cannot read config 'secret.yaml': Permission denied" -- train secret.yaml "$logs"
expect 2 "secretmodel.yaml:3:10: env.model: cannot read MJCF file '$work/secret.xml': Permission denied" -- train secretmodel.yaml "$logs"
prefix=()
expect 2 "cannot read config 'WORK': Is a directory" -- train "$work" "$logs"
# MuJoCo's compiler message follows the file name
expect 2 "brokenmodel.yaml:3:10: env.model: '$work/broken.xml' does not compile: Error: sizes must be positive in object '' (id = 0) Object name = , id = 0, line = 1, column = -1" -- train brokenmodel.yaml "$logs"
no_new_files "configuration errors"

#--------------------------------- CLI flags ---------------------------------

# usage errors: the line, then the usage on stderr
expect 2 "unknown command 'frobnicate'" -- frobnicate
expect 2 "train: unknown flag '--bogus'" -- train "$pn" --bogus
expect 2 "train: missing CONFIG.yaml" -- train
expect 2 "--out needs a directory" -- train "$pn" --out
expect 2 "train: 'inner.lr' is not an override: write key=value" -- train "$pn" inner.lr
expect 2 "--resume needs a run directory" -- train --resume
expect 2 "eval: missing RUN_DIR" -- eval
expect 2 "--tasks needs an integer in [1, 100000], got 'x'" -- eval "$work" --tasks x
expect 2 "--steps needs an integer in [0, 1000] after it" -- eval "$work" --steps
expect 2 "--lr needs a positive number, got '-1'" -- eval "$work" --lr -1
expect 2 "--repeats needs an integer in [1, 1000], got '0'" -- eval "$work" --repeats 0
expect 2 "--split needs 'test' (the held-out tasks) or 'train' (the run's own), got 'val'" -- eval "$work" --split val
expect 2 "plot: unknown flag '--bogus'" -- plot "$work" --bogus
no_new_files "CLI errors"

#-------------------------------- checkpoints --------------------------------

# a finished tiny run (4 iterations, checkpoints at 2 and 4), copied per case
tiny=(outer.iterations=4 outer.meta_batch=2 inner.episodes=2 policy.hidden=[32] eval.every=0
      threads=1 log.checkpoint_every=2)
"$metarl" train "$pn" "${tiny[@]}" --out "$work/run" --quiet
# run-only copy RUN_NAME: a copy of the run whose config allows 2 more iterations
copy_run() {
  rm -rf "$work/$1"
  cp -r "$work/run" "$work/$1"
  sed -i 's/^  iterations: 4$/  iterations: 6/' "$work/$1/config.yaml"
}
ev=(--tasks 2 --steps 1 --episodes 2)
hint="; to resume from an earlier checkpoint, copy one of WORK/%s/checkpoints/iter_*.ckpt over latest.ckpt"

# checkpoint_case NAME MESSAGE: eval and --resume of run NAME both refuse it
# with exit 2, the message (plus the hint for --resume), nothing changed
checkpoint_case() {
  local name=$1 message=$2 before
  before=$(cd "$work/$name" && find . -type f -exec md5sum {} + | sort)
  touch "$work/.stamp"
  expect 2 "$message" -- eval "$work/$name" "${ev[@]}"
  # shellcheck disable=SC2059
  expect 2 "$message$(printf "$hint" "$name")" -- train --resume "$work/$name" --quiet
  if [[ $(cd "$work/$name" && find . -type f -exec md5sum {} + | sort) != "$before" ]]; then
    fail "$name: eval or --resume changed the run directory"
  fi
}

copy_run trunc
truncate -s 2000 trunc/checkpoints/latest.ckpt
checkpoint_case trunc "checkpoint 'WORK/trunc/checkpoints/latest.ckpt' is truncated or corrupted (checksum mismatch)"

copy_run flip
printf '\x10' | dd of=flip/checkpoints/latest.ckpt bs=1 seek=1500 conv=notrunc status=none
checkpoint_case flip "checkpoint 'WORK/flip/checkpoints/latest.ckpt' is truncated or corrupted (checksum mismatch)"

copy_run version
printf '\x04' | dd of=version/checkpoints/latest.ckpt bs=1 seek=8 conv=notrunc status=none
fix_checksum version/checkpoints/latest.ckpt
checkpoint_case version "checkpoint 'WORK/version/checkpoints/latest.ckpt' has format version 4; this metarl reads versions 2 and 3"

copy_run novalue
sed -i 's/^  baseline: linear$/  baseline: mlp/; s/^  vf_shared: false$/  vf_shared: true/' novalue/config.yaml
grep -q '^  vf_shared: true$' novalue/config.yaml || fail "novalue: the config was not edited"
checkpoint_case novalue "checkpoint 'WORK/novalue/checkpoints/latest.ckpt' holds no value network, which rl.vf_shared needs (the run was trained without rl.vf_shared)"

copy_run shape
sed -i 's/^  hidden: \[32\]$/  hidden: [16]/' shape/config.yaml
checkpoint_case shape "checkpoint 'WORK/shape/checkpoints/latest.ckpt': layer 1 has size 32; the policy has 16"

copy_run folder
rm folder/checkpoints/latest.ckpt
mkdir folder/checkpoints/latest.ckpt
checkpoint_case folder "cannot read checkpoint 'WORK/folder/checkpoints/latest.ckpt': Is a directory"

copy_run locked
chmod 000 locked/checkpoints/latest.ckpt
prefix=("${as_user[@]}")
expect 2 "cannot read checkpoint 'WORK/locked/checkpoints/latest.ckpt': Permission denied" -- eval "$work/locked" "${ev[@]}"
prefix=()

# a warm start (policy.init_from) that is no checkpoint of this policy: refused before any
# run directory exists
touch "$work/.stamp"
expect 2 "override 'policy.init_from=WORK/run/config.yaml': policy.init_from: 'WORK/run/config.yaml' is not a metarl checkpoint (bad magic)" -- train "$pn" "${tiny[@]}" "policy.init_from=$work/run/config.yaml" "$logs"
expect 2 "override 'policy.init_from=WORK/run/checkpoints/latest.ckpt': policy.init_from: checkpoint 'WORK/run/checkpoints/latest.ckpt': layer 1 has size 32; the policy has 16" -- train "$pn" "${tiny[@]}" policy.hidden=[16] "policy.init_from=$work/run/checkpoints/latest.ckpt" "$logs"
no_new_files "warm-start errors"

#------------------------------ output folders -------------------------------

mkdir "$work/readonly"
chmod 555 "$work/readonly"
touch "$work/afile"
touch "$work/.stamp"
prefix=("${as_user[@]}")
expect 1 "cannot create 'WORK/readonly/run': Permission denied" -- train "$pn" "${tiny[@]}" --out "$work/readonly/run"
prefix=()
expect 1 "cannot create 'WORK/afile/run': Not a directory" -- train "$pn" "${tiny[@]}" --out "$work/afile/run"
expect 1 "--out 'WORK/run' already exists; metarl never overwrites a run" -- train "$pn" "${tiny[@]}" --out "$work/run"
no_new_files "unwritable output folders"

# a full disk while the run directory is made (config.yaml is 1.4 kB): no
# half-made run directory is left
touch "$work/.stamp"
prefix=(bash -c 'ulimit -f 1 && exec "$@"' limit)
expect 1 "cannot write 'WORK/fullrun/config.yaml': File too large" -- train "$pn" "${tiny[@]}" --out "$work/fullrun"
prefix=()
if [[ -e $work/fullrun ]]; then
  fail "full disk: a half-made run directory was left: $(find "$work/fullrun")"
fi
no_new_files "a full disk while making the run directory"

# A full disk while writing a checkpoint (a file-size limit: a checkpoint of
# 4012 bytes over a 3072-byte limit): the run stops with exit 1 and the
# message, and latest.ckpt is still the previous one, whole.
copy_run full
cp full/checkpoints/latest.ckpt "$work/previous.ckpt"
prefix=(bash -c 'ulimit -f 3 && exec "$@"' limit)
expect 1 "cannot write checkpoint 'WORK/full/checkpoints/iter_000006.ckpt': File too large (previous checkpoint kept)" -- train --resume "$work/full" --quiet
prefix=()
if ! cmp -s full/checkpoints/latest.ckpt "$work/previous.ckpt"; then
  fail "full disk: latest.ckpt changed"
elif ls full/checkpoints | grep -q tmp; then
  fail "full disk: a temporary checkpoint was left: $(ls full/checkpoints)"
else
  echo "ok: full disk keeps the previous checkpoint, no temporary left"
  passed=$((passed + 1))
fi
# and the run resumes from it once there is room
if "$metarl" train --resume "$work/full" --quiet >"$out" 2>"$err" &&
   cmp -s full/checkpoints/latest.ckpt full/checkpoints/iter_000006.ckpt; then
  echo "ok: the run resumes after the disk is freed"
  passed=$((passed + 1))
else
  fail "full disk: resume afterwards failed"
fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
