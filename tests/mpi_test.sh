#!/usr/bin/env bash
# Copyright 2026 The metarl Authors.
# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# mpi_test.sh: metarl under MPI (issue 7). Run by CTest as mpi when metarl is
# built with MPI and mpirun is found:
#
#   tests/mpi_test.sh /path/to/metarl /path/to/source-dir /path/to/mpirun
#
# Checks, on a few point_nav iterations (seconds each):
#   - the checkpoint after training is the same bytes with 1 process
#     (2 threads), 2 ranks and 4 oversubscribed ranks (1 thread each), for
#     Reptile with the meta-test on, and for FOMAML with TRPO (Fisher sets
#     gathered) with 3 tasks over 4 ranks (one rank has none), and for a
#     warm start (policy.init_from, read by rank 0) with 2 ranks, and for a
#     run with a pretrain stage (a stage that needs one process is refused);
#   - a rank killed mid-run (SIGKILL, METARL_FAULT_INJECT) ends the job with a
#     message naming the rank and the signal, and leaves a checkpoint that a
#     job of another rank count resumes to the uninterrupted run's bytes;
#   - an error raised on one rank ends the job with a message naming it;
#   - a drifted phi on one rank is caught by the checksum, naming the rank;
#   - a config error under 2 ranks is printed once, exit 2;
#   - SIGUSR1 to mpirun stops every rank at one iteration with a checkpoint;
#   - eval under 2 ranks writes the same eval/ files as one process.
# Every job runs under `timeout`, so that a hang is a failure, not a stall.
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 METARL_BINARY SOURCE_DIR MPIRUN" >&2
  exit 2
fi
metarl=$(realpath "$1")
srcdir=$(realpath "$2")
mpirun=$3

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

mpi_flags=(--oversubscribe)
if [[ $(id -u) -eq 0 ]]; then mpi_flags+=(--allow-run-as-root); fi

passed=0
failed=0
ok() {
  echo "ok: $1"
  passed=$((passed + 1))
}
fail() {
  echo "FAIL: $1" >&2
  for f in "$work"/stderr "$work"/stdout; do
    [[ -f $f ]] && { echo "--- $(basename "$f"):" >&2; tail -n 30 "$f" >&2; }
  done
  failed=$((failed + 1))
}

# job RANKS ARGS...: metarl with RANKS processes (0: no mpirun); sets $code
# and $elapsed (seconds); output in $work/stdout and $work/stderr.
job() {
  local ranks=$1
  shift
  local start
  start=$(date +%s.%N)
  code=0
  if [[ $ranks -eq 0 ]]; then
    timeout 120 "$metarl" "$@" >"$work/stdout" 2>"$work/stderr" </dev/null || code=$?
  else
    timeout 120 "$mpirun" "${mpi_flags[@]}" -n "$ranks" "$metarl" "$@" \
      >"$work/stdout" 2>"$work/stderr" </dev/null || code=$?
  fi
  elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
}

config="$srcdir/configs/point_nav.yaml"
small=(outer.iterations=4 outer.meta_batch=5 inner.episodes=6 eval.every=2 eval.train_tasks=3
  log.checkpoint_every=2 --quiet)
trpo=(outer.algo=fomaml outer.optim=trpo outer.meta_batch=3 outer.iterations=3
  inner.episodes=6 inner.steps=1 eval.every=0 --quiet)

# 1. the same bits for any rank and thread count
for name in reptile trpo; do
  if [[ $name == reptile ]]; then args=("${small[@]}"); else args=("${trpo[@]}"); fi
  job 0 train "$config" "${args[@]}" threads=2 --out "$name-1"
  [[ $code -eq 0 ]] || fail "$name: one process exited $code"
  for ranks in 2 4; do
    job "$ranks" train "$config" "${args[@]}" threads=1 --out "$name-$ranks"
    if [[ $code -ne 0 ]]; then
      fail "$name: $ranks ranks exited $code"
    elif cmp -s "$name-1/checkpoints/latest.ckpt" "$name-$ranks/checkpoints/latest.ckpt"; then
      ok "$name: $ranks ranks give the single-process checkpoint bit for bit (${elapsed}s)"
    else
      fail "$name: $ranks ranks: checkpoint differs from the single-process one"
    fi
  done
done
# a warm start (policy.init_from) is read by rank 0 and shared: same bits with 2 ranks
warm=(outer.iterations=2 outer.meta_batch=4 inner.episodes=6 eval.every=0 --quiet
  "policy.init_from=$work/reptile-1/checkpoints/latest.ckpt")
job 0 train "$config" "${warm[@]}" threads=1 --out warm-1
[[ $code -eq 0 ]] || fail "warm start: one process exited $code"
job 2 train "$config" "${warm[@]}" threads=1 --out warm-2
if [[ $code -eq 0 ]] && cmp -s warm-1/checkpoints/latest.ckpt warm-2/checkpoints/latest.ckpt &&
  ! cmp -s warm-1/checkpoints/latest.ckpt reptile-1/checkpoints/latest.ckpt; then
  ok "warm start: 2 ranks give the single-process checkpoint bit for bit"
else
  fail "warm start: 2 ranks exited $code or their checkpoint differs from one process's"
fi
# a pretrain stage (joint training) and the run after it: same bits with 2 ranks; a stage
# of pooled PPO epochs, which needs one process, is refused before anything is created
staged=(outer.iterations=2 outer.meta_batch=4 inner.episodes=6 eval.every=0 --quiet
  "pretrain=$config" pretrain.outer.algo=joint pretrain.outer.iterations=3
  pretrain.outer.meta_batch=4 pretrain.inner.episodes=6 pretrain.eval.every=0)
job 0 train "$config" "${staged[@]}" threads=1 --out staged-1
[[ $code -eq 0 ]] || fail "pretrain stage: one process exited $code"
job 2 train "$config" "${staged[@]}" threads=1 --out staged-2
if [[ $code -eq 0 ]] && cmp -s staged-1/checkpoints/latest.ckpt staged-2/checkpoints/latest.ckpt &&
  cmp -s staged-1/pretrain/checkpoints/latest.ckpt staged-2/pretrain/checkpoints/latest.ckpt; then
  ok "pretrain stage: 2 ranks give the single-process checkpoints bit for bit"
else
  fail "pretrain stage: 2 ranks exited $code or a checkpoint differs from one process's"
fi
job 2 train "$config" "${staged[@]}" pretrain.inner.step=ppo --out staged-ppo
if [[ $code -eq 2 ]] && grep -q "pretrain stage .*in one process" "$work/stderr" && [[ ! -e staged-ppo ]]; then
  ok "pretrain stage of pooled PPO under 2 ranks: exit 2, says why, creates nothing"
else
  fail "pretrain stage of pooled PPO under 2 ranks: exit $code or message"
fi
# only rank 0 wrote: one event file, progress rows once each, Ranks column 4
if [[ $(ls reptile-4 | grep -c '^events\.out\.tfevents') -eq 1 &&
  $(tail -n +2 reptile-4/progress.csv | wc -l) -eq 4 ]]; then
  ok "4 ranks: one event file, one progress.csv row per iteration"
else
  fail "4 ranks: run directory written more than once: $(ls reptile-4)"
fi
ranks_col=$(head -n 1 reptile-4/progress.csv | tr ',' '\n' | grep -n '^Ranks$' | cut -d: -f1)
if [[ -n $ranks_col && $(tail -n +2 reptile-4/progress.csv | cut -d, -f"$ranks_col" | sort -u) == 4 ]]; then
  ok "progress.csv: Ranks column is 4"
else
  fail "progress.csv: no Ranks column of 4"
fi
# the meta-test ran distributed and agrees with the single process
if cmp -s <(cut -d, -f1-22 reptile-1/progress.csv) <(cut -d, -f1-22 reptile-4/progress.csv); then
  ok "progress.csv statistics and meta-test columns equal with 1 process and 4 ranks"
else
  fail "progress.csv statistics differ between 1 process and 4 ranks"
fi

# 2. a rank killed mid-run; the checkpoint resumes with another rank count
long=(outer.iterations=6 outer.meta_batch=4 inner.episodes=6 eval.every=0 log.checkpoint_every=1
  --quiet)
job 0 train "$config" "${long[@]}" threads=1 --out whole
[[ $code -eq 0 ]] || fail "uninterrupted run exited $code"
METARL_FAULT_INJECT=1:3:kill job 2 train "$config" "${long[@]}" threads=1 --out killed
if [[ $code -ne 0 ]] && grep -q 'rank 1' "$work/stderr" && grep -qi 'signal 9\|killed' "$work/stderr"; then
  ok "rank 1 killed at iteration 3: job ended with exit $code in ${elapsed}s, message names rank 1"
else
  fail "rank 1 killed: exit $code, or no message naming the rank and the signal"
fi
if [[ -f killed/checkpoints/latest.ckpt ]] && cmp -s killed/checkpoints/latest.ckpt killed/checkpoints/iter_000003.ckpt; then
  ok "the killed job left latest.ckpt at iteration 3"
else
  fail "the killed job left no latest.ckpt of iteration 3: $(ls killed/checkpoints)"
fi
job 3 train --resume killed --quiet
if [[ $code -eq 0 ]] && cmp -s whole/checkpoints/latest.ckpt killed/checkpoints/latest.ckpt; then
  ok "resumed with 3 ranks: the uninterrupted single-process checkpoint bit for bit (${elapsed}s)"
else
  fail "resumed with 3 ranks: exit $code or checkpoint differs"
fi
if [[ $(tail -n +2 killed/progress.csv | cut -d, -f1 | tr '\n' ' ') == "0 1 2 3 4 5 " ]]; then
  ok "resumed progress.csv has each iteration once"
else
  fail "resumed progress.csv rows: $(tail -n +2 killed/progress.csv | cut -d, -f1 | tr '\n' ' ')"
fi
# and a single process resumes a 2-rank run's checkpoint
cp -r killed killed-again
cp killed/checkpoints/iter_000003.ckpt killed-again/checkpoints/latest.ckpt
job 0 train --resume killed-again --quiet
if [[ $code -eq 0 ]] && cmp -s whole/checkpoints/latest.ckpt killed-again/checkpoints/latest.ckpt; then
  ok "a 2-rank run's checkpoint resumed by one process: the same bits"
else
  fail "a 2-rank checkpoint resumed by one process: exit $code or checkpoint differs"
fi

# 2b. the same with rl.vf_shared: the value network in the checkpoint is read by rank 0
# and must reach every rank on resume
job 0 train "$config" "${long[@]}" rl.baseline=mlp rl.vf_shared=true threads=1 --out whole-vf
[[ $code -eq 0 ]] || fail "uninterrupted shared-value run exited $code"
METARL_FAULT_INJECT=1:3:kill job 2 train "$config" "${long[@]}" rl.baseline=mlp rl.vf_shared=true \
  threads=1 --out killed-vf
job 2 train --resume killed-vf --quiet
if [[ $code -eq 0 ]] && cmp -s whole-vf/checkpoints/latest.ckpt killed-vf/checkpoints/latest.ckpt; then
  ok "shared value network: killed at 3, resumed with 2 ranks, the single-process checkpoint bit for bit"
else
  fail "shared value network: resumed with 2 ranks: exit $code or checkpoint differs"
fi

# 3. an error raised on one rank
METARL_FAULT_INJECT=1:2:error job 2 train "$config" "${long[@]}" threads=1 --out errored
if [[ $code -eq 1 ]] && grep -q 'rank 1 of 2: fault injected' "$work/stderr"; then
  ok "an error on rank 1 ends the job with exit 1 in ${elapsed}s, naming rank 1"
else
  fail "an error on rank 1: exit $code (expected 1) or message missing"
fi

# 3b. joint training with PPO pools the batches in one process: more ranks are refused
job 2 train "$config" "${small[@]}" outer.algo=joint outer.optim=adam inner.step=ppo threads=1 \
  --out pooled
if [[ $code -eq 2 ]] && grep -q 'inner.step=ppo takes its PPO epochs over every task' "$work/stderr"; then
  ok "joint training with PPO on 2 ranks: refused with exit 2 and the reason"
else
  fail "joint training with PPO on 2 ranks: exit $code (expected 2) or message missing"
fi

# 4. drift caught by the checksum before a checkpoint is written
METARL_FAULT_INJECT=1:2:perturb job 2 train "$config" "${long[@]}" threads=1 --out drifted
if [[ $code -eq 1 ]] && grep -q 'differ across ranks: rank 1 ' "$work/stderr" &&
  [[ ! -f drifted/checkpoints/iter_000003.ckpt ]]; then
  ok "phi drifted on rank 1: checksum stops the job (exit 1) before saving, naming rank 1"
else
  fail "phi drifted on rank 1: exit $code, or not named, or drifted phi saved"
fi

# 5. a config error is reported once, by rank 0
job 2 train "$config" inner.lr=-1 --out never
if [[ $code -eq 2 && $(grep -c '^metarl:' "$work/stderr") -eq 1 && ! -e never ]]; then
  ok "config error under 2 ranks: one message, exit 2, no run directory"
else
  fail "config error under 2 ranks: exit $code, $(grep -c '^metarl:' "$work/stderr") messages"
fi

# 5b. SIGUSR1 to mpirun (forwarded to every rank) checkpoints and stops the job
"$mpirun" "${mpi_flags[@]}" -n 2 "$metarl" train "$config" outer.iterations=500 eval.every=0 \
  log.checkpoint_every=1000 threads=1 --quiet --out signalled >"$work/stdout" 2>"$work/stderr" &
launcher=$!
for _ in $(seq 600); do
  [[ -f signalled/progress.csv && $(wc -l <signalled/progress.csv) -ge 2 ]] && break
  sleep 0.1
done
kill -USR1 "$launcher"
code=0
wait "$launcher" || code=$?
rows=$(tail -n +2 signalled/progress.csv | wc -l)
if [[ $code -eq 130 && -f signalled/checkpoints/latest.ckpt &&
  -f signalled/checkpoints/$(printf 'iter_%06d.ckpt' "$rows") ]]; then
  ok "SIGUSR1 to mpirun: every rank stops after $rows iterations with a checkpoint, exit 130"
else
  fail "SIGUSR1 to mpirun: exit $code (expected 130), $rows rows, $(ls signalled/checkpoints)"
fi

# 6. eval spreads the held-out tasks
cp -r reptile-1 eval-1
cp -r reptile-1 eval-2
job 0 eval eval-1 --tasks 5 --steps 1 --episodes 4 --threads 2
[[ $code -eq 0 ]] || fail "eval, one process: exit $code"
single_table=$(tail -n +2 "$work/stdout")
job 2 eval eval-2 --tasks 5 --steps 1 --episodes 4 --threads 1
# the files name the run: the same up to its name
same_eval() { cmp -s <(sed 's/eval-1/RUN/g' "eval-1/eval/$1") <(sed 's/eval-2/RUN/g' "eval-2/eval/$1"); }
# printed once: the tables of returns, of paired differences and of episode lengths
if [[ $code -eq 0 ]] && same_eval adaptation.csv && same_eval summary.json &&
  [[ $(grep -c '^step' "$work/stdout") -eq 3 ]] &&
  [[ $(grep -c 'minus each other initialization' "$work/stdout") -eq 1 ]] &&
  [[ $(grep -c '^mean episode length' "$work/stdout") -eq 1 ]]; then
  ok "eval under 2 ranks: the single-process eval/ files, tables printed once"
else
  fail "eval under 2 ranks: exit $code or eval/ files differ"
fi
[[ -n $single_table ]] || fail "eval printed nothing"

echo "mpi_test: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
