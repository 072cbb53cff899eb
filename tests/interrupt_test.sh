#!/usr/bin/env bash
# Copyright 2026 The metarl Authors.
# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# interrupt_test.sh: a training run survives kill -9, SIGINT and SIGTERM.
#
#   1. SIGKILL at 10 random moments of one run (and of its resumes): each
#      `train --resume` starts at the iteration stored in latest.ckpt, which
#      is the last checkpoint written whole; the finished run's latest.ckpt
#      equals an uninterrupted run's byte for byte, progress.csv lists every
#      iteration once, and no temporary checkpoint of a killed save is left.
#   2. SIGINT and SIGTERM: exit 130 after saving a checkpoint of the
#      iteration the message names; the resumed run ends bit-identical too,
#      also when resumed on another thread count (--threads 2).
#   3. A run with a pretrain stage: SIGINT within the stage, kill -9 within
#      the run before its first checkpoint; each resume goes on where the
#      run stood, and it ends bit-identical to an uninterrupted one.
#
#   tests/interrupt_test.sh /path/to/metarl /path/to/source-dir [SEED]
#
# The kill moments come from bash's RANDOM seeded with SEED (default: the
# time), printed so that a failure can be replayed.
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 METARL_BINARY SOURCE_DIR [SEED]" >&2
  exit 2
fi
metarl=$(realpath "$1")
srcdir=$(realpath "$2")
seed=${3:-$(date +%s)}
RANDOM=$seed
echo "interrupt_test: seed $seed"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
passed=0
failed=0
ok() {
  echo "ok: $1"
  passed=$((passed + 1))
}
fail() {
  echo "FAIL: $1 (launch ${launches:-0}; last stdout: $(tail -n 2 "$work/out" 2>/dev/null | tr '\n' '|') stderr: $(cat "$work/err" 2>/dev/null))" >&2
  failed=$((failed + 1))
}

# 60 short iterations, a checkpoint every 3: about 0.5 s uninterrupted
cfg=("$srcdir/configs/point_nav.yaml" outer.iterations=60 outer.meta_batch=4 inner.episodes=4
     policy.hidden=[16] eval.every=0 threads=1 log.checkpoint_every=3)
n=60

# The iteration stored in a checkpoint: an i64 after the magic (8 bytes),
# version, nlayer, 3 layer sizes (hidden=[16]), activation and nparam (4 each).
ckpt_iteration() {
  od -An -t d8 -j 36 -N 8 "$1" | tr -d ' '
}

# Every iteration 0..n-1 exactly once, in order, in RUN/progress.csv.
rows_complete() {
  local got
  got=$(tail -n +2 "$1/progress.csv" | cut -d, -f1 | tr '\n' ' ')
  [[ $got == "$(seq -s ' ' 0 $((n - 1))) " ]]
}

start=$(date +%s.%N)
"$metarl" train "${cfg[@]}" --out "$work/ref" --quiet
duration=$(echo "$(date +%s.%N) - $start" | bc)
ms=$(echo "$duration * 1000 / 1" | bc)
((ms > 20)) || ms=20
echo "uninterrupted run: ${ms} ms"

#----------------------------------- SIGKILL ---------------------------------

kills=0
restarts=0
resumes=0
launches=0
chains=0  # runs killed and resumed to the end, each compared with ref

# Compare a finished run with the uninterrupted one.
check_finished() {
  if ! cmp -s ref/checkpoints/latest.ckpt "$1/checkpoints/latest.ckpt"; then
    fail "SIGKILL: the final checkpoint differs from the uninterrupted run's"
  elif ! rows_complete "$1"; then
    fail "SIGKILL: progress.csv: $(tail -n +2 "$1/progress.csv" | cut -d, -f1 | tr '\n' ' ')"
  elif ls "$1/checkpoints" | grep -q '\.tmp\.'; then
    fail "SIGKILL: temporary checkpoints left after the resume: $(ls "$1/checkpoints" | grep tmp)"
  else
    chains=$((chains + 1))
  fi
}

# A launch: --resume if there is a checkpoint, else a fresh run; killed after
# a random delay within a fifth of an uninterrupted run, so that a run takes
# several kills. A run that finishes all the same is checked and begun anew.
while ((kills < 10)); do
  launches=$((launches + 1))
  ((launches <= 200)) || { fail "SIGKILL: no 10 kills in 200 launches"; break; }
  resuming=0
  if [[ -f cut/checkpoints/latest.ckpt ]]; then
    resuming=1
    expect_it=$(ckpt_iteration cut/checkpoints/latest.ckpt)
    # latest.ckpt is renamed into place after iter_N.ckpt: it holds N, or,
    # after a kill between the two renames, the checkpoint before
    newest=$(ls cut/checkpoints | sed -n 's/^iter_0*\([0-9][0-9]*\)\.ckpt$/\1/p' | sort -n | tail -n 1)
    if ((newest != expect_it && newest != expect_it + 3)); then
      fail "SIGKILL: latest.ckpt holds iteration $expect_it, the newest iter_ file $newest"
    fi
    "$metarl" train --resume "$work/cut" >"$work/out" 2>"$work/err" &
  else
    # killed before its first checkpoint: nothing to resume, start again
    ((launches == 1)) || restarts=$((restarts + 1))
    rm -rf cut
    "$metarl" train "${cfg[@]}" --out "$work/cut" >"$work/out" 2>"$work/err" &
  fi
  pid=$!
  sleep "$(printf '0.%03d' $((RANDOM % (ms / 5 + 1))))"
  code=0
  kill -KILL "$pid" 2>/dev/null || true
  { wait "$pid"; } 2>/dev/null || code=$?  # (no "Killed" notice from bash)
  ((code == 137)) && kills=$((kills + 1))
  if ((resuming)); then
    resumes=$((resumes + 1))
    line=$(grep -m 1 '^resuming at iteration' "$work/out" || true)
    # a kill may land before the line is printed: then there is nothing to check
    if [[ -n $line && $line != "resuming at iteration $expect_it" ]]; then
      fail "SIGKILL: '$line', but latest.ckpt held iteration $expect_it"
    fi
  fi
  if ((code == 0)); then
    check_finished cut
    rm -rf cut
  fi
done
# On a loaded machine every kill can land before a first checkpoint (the set-up
# takes longer than the kill window): then one run is killed once a checkpoint
# is on disk, so that a resume to the end is always checked.
if ((chains == 0)) && [[ ! -f cut/checkpoints/latest.ckpt ]]; then
  rm -rf cut
  "$metarl" train "${cfg[@]}" --out "$work/cut" >"$work/out" 2>"$work/err" &
  pid=$!
  for _ in $(seq 1 6000); do
    [[ -f cut/checkpoints/latest.ckpt ]] && break
    sleep 0.005
  done
  kill -KILL "$pid" 2>/dev/null || true
  { wait "$pid"; } 2>/dev/null || true
fi
# finish the last run
if [[ -f cut/checkpoints/latest.ckpt ]]; then
  "$metarl" train --resume "$work/cut" --quiet
  check_finished cut
elif [[ -d cut ]]; then
  rm -rf cut
fi
echo "SIGKILL: $kills kills in $launches launches ($resumes resumes, $restarts fresh starts); $chains runs finished"
if ((failed == 0 && chains > 0)); then
  ok "10 kills -9, each resumed from latest.ckpt's iteration: $chains finished runs bit-identical, every row once"
elif ((chains == 0)); then
  fail "SIGKILL: no run finished"
fi

#------------------------------- SIGINT, SIGTERM -----------------------------

for sig in INT TERM; do
  run="$work/sig$sig"
  "$metarl" train "${cfg[@]}" --out "$run" >"$work/out" 2>"$work/err" &
  pid=$!
  # once 3 rows are written, so that the run is past its setup
  for _ in $(seq 1 2000); do
    [[ -f $run/progress.csv && $(wc -l <"$run/progress.csv") -ge 4 ]] && break
    sleep 0.005
  done
  kill -"$sig" "$pid"
  code=0
  { wait "$pid"; } 2>/dev/null || code=$?
  msg=$(cat "$work/err")
  it=$(ckpt_iteration "$run/checkpoints/latest.ckpt")
  if ((code != 130)); then
    fail "SIG$sig: exit $code, expected 130 ($msg)"
  elif [[ $msg != "metarl: interrupted at iteration $it; checkpoint saved in $run/checkpoints" ]]; then
    fail "SIG$sig: message '$msg' (latest.ckpt holds iteration $it)"
  # the SIGTERM leg resumes on 2 threads: the thread count changes no bit
  elif ! "$metarl" train --resume "$run" $([[ $sig == TERM ]] && echo --threads 2) >"$work/out"; then
    fail "SIG$sig: resume failed"
  elif [[ $sig == TERM ]] && ! grep -q '1 rank x 2 threads' "$work/out"; then
    fail "SIGTERM: resume --threads 2 did not run 2 threads: $(head -n 1 "$work/out")"
  elif ! cmp -s ref/checkpoints/latest.ckpt "$run/checkpoints/latest.ckpt" || ! rows_complete "$run"; then
    fail "SIG$sig: the resumed run differs from the uninterrupted one"
  else
    ok "SIG$sig at iteration $it: exit 130, checkpoint saved, resumed bit-identical"
  fi
done

#------------------------------- a pretrain stage ----------------------------

# A run with a pretrain stage (joint training, 30 iterations), stopped by SIGINT within
# the stage, resumed; then killed within the run itself before its first checkpoint
# (it checkpoints at the end only), resumed again: the stage is not trained twice, the
# run starts over from the stage's policy, and both end with an uninterrupted run's bits.
staged=("${cfg[@]}" log.checkpoint_every=1000 "pretrain=$srcdir/configs/point_nav.yaml"
        pretrain.outer.algo=joint pretrain.outer.iterations=30 pretrain.policy.hidden=[16]
        pretrain.outer.meta_batch=4 pretrain.inner.episodes=4 pretrain.eval.every=0
        pretrain.log.checkpoint_every=3)
# wait_rows FILE N: until FILE has N rows after its header
wait_rows() {
  for _ in $(seq 1 4000); do
    [[ -f $1 && $(wc -l <"$1") -gt $2 ]] && return
    sleep 0.005
  done
}
"$metarl" train "${staged[@]}" --out "$work/staged-ref" --quiet
run="$work/staged"
"$metarl" train "${staged[@]}" --out "$run" >"$work/out" 2>"$work/err" &
pid=$!
wait_rows "$run/pretrain/progress.csv" 3
kill -INT "$pid"
code=0
{ wait "$pid"; } 2>/dev/null || code=$?
stage_it=$(ckpt_iteration "$run/pretrain/checkpoints/latest.ckpt")
if ((code != 130)) || [[ -e $run/checkpoints/latest.ckpt ]]; then
  fail "pretrain stage, SIGINT: exit $code (expected 130), or the run has a checkpoint already"
else
  # the resume finishes the stage and starts the run; killed there, before its checkpoint
  "$metarl" train --resume "$run" >"$work/out" 2>"$work/err" &
  pid=$!
  wait_rows "$run/progress.csv" 3
  kill -KILL "$pid" 2>/dev/null || true
  { wait "$pid"; } 2>/dev/null || true
  stage_events=$(ls "$run/pretrain" | grep -c tfevents)
  if [[ -e $run/checkpoints/latest.ckpt ]]; then
    fail "pretrain stage: the resumed run ended before it could be killed"
  elif ! grep -q "into $run/pretrain" "$work/out" ||
       ! grep -q "^resuming at iteration $stage_it" "$work/out"; then
    fail "pretrain stage: the resume did not go on with the stage at iteration $stage_it"
  elif ! "$metarl" train --resume "$run" >"$work/out" 2>"$work/err"; then
    fail "pretrain stage: the second resume failed: $(cat "$work/err")"
  elif grep -q "into $run/pretrain" "$work/out" ||
       [[ $(ls "$run/pretrain" | grep -c tfevents) -ne $stage_events ]]; then
    fail "pretrain stage: the finished stage was opened again by the second resume"
  elif ! cmp -s "$work/staged-ref/checkpoints/latest.ckpt" "$run/checkpoints/latest.ckpt" ||
       ! cmp -s "$work/staged-ref/pretrain/checkpoints/latest.ckpt" \
                "$run/pretrain/checkpoints/latest.ckpt" || ! rows_complete "$run"; then
    fail "pretrain stage: the resumed run differs from the uninterrupted one"
  else
    ok "pretrain stage: SIGINT at its iteration $stage_it, kill -9 in the run, resumed bit-identical"
  fi
fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
