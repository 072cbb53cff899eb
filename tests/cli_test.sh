#!/usr/bin/env bash
# Copyright 2026 The metarl Authors.
# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# cli_test.sh: smoke test of the metarl command line (exit codes, usage,
# one-line errors). Run by CTest as cli_smoke:
#
#   tests/cli_test.sh /path/to/metarl /path/to/source-dir
#
# Runs in a fresh temporary folder so that nothing lands in the tree.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 METARL_BINARY SOURCE_DIR" >&2
  exit 2
fi
metarl=$(realpath "$1")
srcdir=$(realpath "$2")
[[ -x "$metarl" ]] || { echo "cli_test: not an executable: $metarl" >&2; exit 1; }

version=$(sed -n 's/^#define MRL_VERSION "\([^"]*\)".*/\1/p' "$srcdir/src/metarl.h")
[[ -n "$version" ]] || { echo "cli_test: no MRL_VERSION in $srcdir/src/metarl.h" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir sandbox logs
cd sandbox

passed=0
failed=0
out="$work/stdout"
err="$work/stderr"

# run EXPECTED_CODE ARGS...: runs metarl, captures stdout/stderr into $out/$err,
# and sets $code. Never fails the script by itself.
run() {
  local expected=$1
  shift
  code=0
  "$metarl" "$@" >"$out" 2>"$err" </dev/null || code=$?
  if [[ $code -ne $expected ]]; then
    fail "metarl $* exited $code, expected $expected"
    return 1
  fi
  return 0
}

ok() {
  echo "ok: $1"
  passed=$((passed + 1))
}

fail() {
  echo "FAIL: $1" >&2
  echo "--- stdout:" >&2
  cat "$out" >&2 || true
  echo "--- stderr:" >&2
  cat "$err" >&2 || true
  failed=$((failed + 1))
}

lines() {
  # number of lines, counting a last line without newline
  awk 'END { print NR }' "$1"
}

# --version: exit 0, prints the version
if run 0 --version; then
  if grep -qF -- "$version" "$out"; then
    ok "--version prints $version"
  else
    fail "--version does not print $version on stdout"
  fi
fi

# --help: exit 0, prints something
if run 0 --help; then
  if [[ -s "$out" ]]; then
    ok "--help exits 0"
  else
    fail "--help prints nothing on stdout"
  fi
fi

# unknown subcommand: exit 2, usage on stderr
if run 2 bogus; then
  if grep -qi usage "$err"; then
    ok "bogus subcommand exits 2 with usage on stderr"
  else
    fail "bogus subcommand: no usage on stderr"
  fi
fi

# train with a missing config: exit 2, one line naming the file, nothing created
missing="$work/no-such-config.yaml"
if run 2 train "$missing" "log.dir=$work/logs"; then
  created=$(find "$work/logs" "$work/sandbox" -mindepth 1 | head -n 5)
  if [[ $(lines "$err") -ne 1 ]]; then
    fail "train with a missing config: expected one line on stderr, got $(lines "$err")"
  elif ! grep -qF -- "no-such-config.yaml" "$err"; then
    fail "train with a missing config: the message does not name the file"
  elif [[ -s "$out" ]]; then
    fail "train with a missing config: unexpected output on stdout"
  elif [[ -n "$created" ]]; then
    fail "train with a missing config created files: $created"
  else
    ok "train with a missing config exits 2 with one line and creates nothing"
  fi
fi

# view without a run directory: exit 2 with one line
if run 2 view; then
  if [[ $(lines "$err") -ne 1 ]]; then
    fail "view: expected one line on stderr, got $(lines "$err")"
  else
    ok "view exits 2 with one line"
  fi
fi

# train --resume: usage errors, then a short finished run resumed (nothing left to do)
if run 2 train --resume "$work/no-such-run"; then
  if grep -q "no checkpoint to resume" "$err"; then
    ok "train --resume without a checkpoint exits 2 and says why"
  else
    fail "train --resume without a checkpoint: message"
  fi
fi
if run 2 train --resume "$work/logs" "$srcdir/configs/sine_reptile.yaml"; then
  ok "train --resume refuses a config file"
fi
if run 0 train "$srcdir/configs/sine_reptile.yaml" outer.iterations=20 --out "$work/logs/sine" \
     --quiet && run 0 train --resume "$work/logs/sine" --quiet; then
  rows=$(($(wc -l <"$work/logs/sine/progress.csv") - 1))
  if [[ $rows -eq 20 ]]; then
    ok "train --resume of a finished run adds no rows"
  else
    fail "train --resume of a finished run: $rows rows, expected 20"
  fi
fi

# train --resume --iterations N: a finished MAML run trained on to N ends with the
# bits of a run started with outer.iterations=N; reptile's annealed step, fewer
# iterations than done and --iterations without --resume are refused, config unchanged
small=("$srcdir/configs/point_nav_maml.yaml" outer.meta_batch=4 inner.episodes=4
       policy.hidden=[16] eval.every=0 threads=1 --quiet)
if run 0 train "${small[@]}" outer.iterations=6 --out "$work/logs/pn6" &&
   run 0 train "${small[@]}" outer.iterations=9 --out "$work/logs/pn9" &&
   run 0 train --resume "$work/logs/pn6" --iterations 9 --quiet; then
  rows=$(tail -n +2 "$work/logs/pn6/progress.csv" | cut -d, -f1 | tr '\n' ' ')
  if ! cmp -s "$work/logs/pn6/checkpoints/latest.ckpt" "$work/logs/pn9/checkpoints/latest.ckpt"; then
    fail "train --resume --iterations 9: latest.ckpt differs from a 9-iteration run's"
  elif [[ $rows != "0 1 2 3 4 5 6 7 8 " ]]; then
    fail "train --resume --iterations 9: progress.csv rows '$rows'"
  elif ! grep -qx "  iterations: 9" "$work/logs/pn6/config.yaml" ||
       ! diff <(grep -v "^  iterations:" "$work/logs/pn6/config.yaml") \
              <(grep -v "^  iterations:" "$work/logs/pn9/config.yaml") >/dev/null; then
    fail "train --resume --iterations 9: config.yaml is not the 9-iteration run's"
  elif cmp -s "$work/logs/pn6/checkpoints/iter_000006.ckpt" \
              "$work/logs/pn6/checkpoints/latest.ckpt"; then
    fail "train --resume --iterations 9: trained no further than iteration 6"
  else
    ok "train --resume --iterations trains a finished run on, bit-identical to the longer run"
  fi
fi
# refused_extension RUN N MESSAGE WHAT: train --resume RUN --iterations N exits 2 with
# MESSAGE on stderr and leaves RUN/config.yaml as it was
refused_extension() {
  cp "$1/config.yaml" "$work/config-before.yaml"
  if run 2 train --resume "$1" --iterations "$2"; then
    if grep -q "$3" "$err" && cmp -s "$work/config-before.yaml" "$1/config.yaml"; then
      ok "train --resume --iterations refuses $4, config unchanged"
    else
      fail "train --resume --iterations $2 ($4): message or config.yaml"
    fi
  fi
}
refused_extension "$work/logs/pn6" 8 "has done 9 iterations already" "fewer than the iterations done"
refused_extension "$work/logs/sine" 30 "anneals reptile's step size" "reptile's annealed step"
if run 2 train "$srcdir/configs/sine_reptile.yaml" --iterations 30; then
  if grep -q "iterations goes with --resume" "$err"; then
    ok "train --iterations without --resume exits 2 and says why"
  else
    fail "train --iterations without --resume: message"
  fi
fi

# pretrain: a stage trained into RUN/pretrain, then the run from its final policy; the
# same bits as the two commands it replaces (seed and threads are the run's)
sine=("$srcdir/configs/sine_reptile.yaml" outer.iterations=8 seed=3 threads=1 --quiet)
joint=("$srcdir/configs/sine_joint.yaml" outer.iterations=12 seed=3 threads=1 --quiet)
if run 0 train "${sine[@]}" "pretrain=$srcdir/configs/sine_joint.yaml" \
     pretrain.outer.iterations=12 --out "$work/logs/staged" &&
   run 0 train "${joint[@]}" --out "$work/logs/stage-alone" &&
   run 0 train "${sine[@]}" "policy.init_from=$work/logs/stage-alone/checkpoints/latest.ckpt" \
     --out "$work/logs/after-stage"; then
  staged=$work/logs/staged
  if ! cmp -s "$staged/pretrain/checkpoints/latest.ckpt" \
              "$work/logs/stage-alone/checkpoints/latest.ckpt"; then
    fail "pretrain: the stage's checkpoint differs from the stage trained alone"
  elif ! cmp -s "$staged/checkpoints/init.ckpt" "$work/logs/after-stage/checkpoints/init.ckpt" ||
       ! cmp -s "$staged/checkpoints/latest.ckpt" "$work/logs/after-stage/checkpoints/latest.ckpt"; then
    fail "pretrain: the run differs from one started with policy.init_from at the stage's checkpoint"
  elif ! grep -qx 'pretrain: "pretrain/config.yaml"' "$staged/config.yaml" ||
       ! diff "$staged/pretrain/config.yaml" "$work/logs/stage-alone/config.yaml" >/dev/null; then
    fail "pretrain: config.yaml does not name the stage's, or the stage's is not the stage's own"
  else
    ok "pretrain trains the stage, then the run from it: the bits of the two runs it replaces"
  fi
fi

# a stage without policy.context starts a run with one (CAVIA from a pretrained policy):
# c = 0 leaves the stage's policy as it was, so the run's first checkpoint returns what
# the stage's final one does, episode for episode
pn=(outer.meta_batch=4 inner.episodes=4 eval.every=0 outer.iterations=2 policy.hidden=[16]
    threads=1)
if run 0 train "$srcdir/configs/point_nav_maml.yaml" "${pn[@]}" policy.context=4 \
     inner.adapt=context inner.lr=100 \
     "pretrain=$srcdir/configs/point_nav_maml.yaml" "${pn[@]/#/pretrain.}" \
     pretrain.outer.algo=joint --out "$work/logs/ctx-staged"; then
  staged=$work/logs/ctx-staged
  # eval --compare would adapt both with one step size: the hint names two evals
  grep -q "its pretrain stage adapts other parameters: metarl eval $staged/pretrain" "$out" ||
    fail "pretrain without policy.context: the closing hint offers eval --compare"
  cp -a "$staged" "$work/logs/ctx-init"
  cp "$staged/checkpoints/init.ckpt" "$work/logs/ctx-init/checkpoints/latest.ckpt"
  few=(--steps 0 --tasks 3 --episodes 2 --threads 1)
  if run 0 eval "$work/logs/ctx-init" "${few[@]}" && run 0 eval "$staged/pretrain" "${few[@]}"; then
    if ! diff <(grep -v "^random" "$work/logs/ctx-init/eval/adaptation.csv" | cut -d, -f2-) \
              <(grep -v "^random" "$staged/pretrain/eval/adaptation.csv" | cut -d, -f2-) \
              >/dev/null; then
      fail "pretrain without policy.context: the run's start does not return what its stage does"
    elif cmp -s "$staged/checkpoints/init.ckpt" "$staged/checkpoints/latest.ckpt"; then
      fail "pretrain without policy.context: the run did not train"
    else
      ok "a stage without policy.context starts a run with one, its returns unchanged"
    fi
  fi
fi

# the main job as shipped (configs/slope_walker.yaml, whose stage is named relative to its
# folder), both stages cut to one tiny iteration, then evaluated against its stage
tiny=(outer.iterations=1 outer.meta_batch=1 inner.steps=1 inner.episodes=1 env.horizon=20
  inner.ppo_minibatches=1 threads=1)
if run 0 train "$srcdir/configs/slope_walker.yaml" "${tiny[@]}" "${tiny[@]/#/pretrain.}" \
     --out "$work/logs/main-job" &&
   run 0 eval "$work/logs/main-job" --compare "$work/logs/main-job/pretrain" --tasks 2 \
     --steps 1 --episodes 1; then
  if grep -q "^  main-job  *reptile, checkpoint of iteration 1 " "$out" &&
     grep -q "^  pretrain  *joint, checkpoint of iteration 1 (.*/main-job/pretrain)" "$out"; then
    ok "configs/slope_walker.yaml trains its stage and then itself, and evaluates against it"
  else
    fail "configs/slope_walker.yaml: the eval does not list both initializations"
  fi
fi

# pretrain errors: exit 2, one line at the key that named the stage (file:line:column or
# the override), nothing created
mkdir -p "$work/stages"
printf 'extends: %s/configs/sine_reptile.yaml\npretrain: stage.yaml\n' "$srcdir" \
  >"$work/stages/main.yaml"
printf 'extends: main.yaml\npretrain: narrow.yaml\n' >"$work/stages/main-narrow.yaml"
printf 'extends: %s/configs/sine_joint.yaml\npolicy:\n  hidden: [32]\n' "$srcdir" \
  >"$work/stages/narrow.yaml"
printf 'extends: %s/configs/sine_joint.yaml\nouter:\n  lr: [1\n' "$srcdir" \
  >"$work/stages/broken.yaml"
printf 'extends: %s/configs/sine_joint.yaml\npretrain: narrow.yaml\n' "$srcdir" \
  >"$work/stages/nested.yaml"
stage_error() {  # stage_error WHAT EXPECTED ARGS...
  local what=$1 expected=$2
  shift 2
  if run 2 train "$@" --out "$work/logs/refused"; then
    if [[ $(lines "$err") -ne 1 ]] || ! grep -qF -- "$expected" "$err"; then
      fail "pretrain, $what: expected one line with '$expected'"
    elif [[ -e "$work/logs/refused" ]]; then
      fail "pretrain, $what: a run directory was created"
    else
      ok "pretrain refuses $what at the key, creating nothing"
    fi
  fi
}
stage_error "a stage that is not there" \
  "main.yaml:2:11: pretrain: cannot read config '$work/stages/stage.yaml'" "$work/stages/main.yaml"
stage_error "a stage of another policy shape" \
  "main-narrow.yaml:2:11: pretrain: the stage '$work/stages/narrow.yaml' trains a policy of 1-32-1" \
  "$work/stages/main-narrow.yaml"
stage_error "a stage that does not parse" \
  "override 'pretrain=$work/stages/broken.yaml': pretrain: $work/stages/broken.yaml:4:1:" \
  "$srcdir/configs/sine_reptile.yaml" "pretrain=$work/stages/broken.yaml"
stage_error "a stage with a stage" "has a pretrain stage of its own" \
  "$srcdir/configs/sine_reptile.yaml" "pretrain=$work/stages/nested.yaml"
stage_error "a stage beside policy.init_from" "from its pretrain stage or from policy.init_from" \
  "$srcdir/configs/sine_reptile.yaml" "pretrain=$work/stages/narrow.yaml" policy.init_from=x.ckpt
stage_error "a bad stage override" \
  "pretrain stage ($srcdir/configs/sine_joint.yaml): override 'outer.iterations=0'" \
  "$srcdir/configs/sine_reptile.yaml" "pretrain=$srcdir/configs/sine_joint.yaml" \
  pretrain.outer.iterations=0
long=$work/logs/$(printf 'x%.0s' $(seq 1 240))
if run 2 train "$srcdir/configs/sine_reptile.yaml" "pretrain=$srcdir/configs/sine_joint.yaml" \
     --out "$long"; then
  if grep -q "path too long for a pretrain stage" "$err" && [[ ! -e $long ]]; then
    ok "a run directory too long for its stage's checkpoint path is refused and removed"
  else
    fail "pretrain with a long run directory: message, or the directory is left"
  fi
fi
if run 2 train "$srcdir/configs/sine_reptile.yaml" pretrain.outer.iterations=3 \
     --out "$work/logs/refused"; then
  if grep -q "overrides a pretrain stage, and .* has none" "$err" && [[ ! -e "$work/logs/refused" ]]; then
    ok "pretrain.KEY=VALUE without a pretrain stage exits 2 and says why"
  else
    fail "pretrain.KEY=VALUE without a pretrain stage: message"
  fi
fi

# bad MuJoCo families: exit 2, the file:line:column of the key, no run directory
printf 'extends: %s/configs/slope_walker_200.yaml\nenv:\n  model: nowhere.xml\n' "$srcdir" \
  >"$work/badmodel.yaml"
printf 'extends: %s/configs/slope_walker_200.yaml\nenv:\n  root_body: pelvis\n' "$srcdir" \
  >"$work/badbody.yaml"
printf 'extends: %s/configs/slope_walker_200.yaml\ntask:\n  mas_range: 2\n' "$srcdir" \
  >"$work/badrand.yaml"
for case in "badmodel.yaml:3:10: env.model: cannot read MJCF file 'nowhere.xml'" \
            "badbody.yaml:3:14: env.root_body: no body 'pelvis'" \
            "badrand.yaml:3:3: unknown key 'task.mas_range' (did you mean 'task.mass_range'?)"; do
  file=${case%%:*}
  if run 2 train "$work/$file" log.dir="$work/logs/bad"; then
    if [[ $(wc -l <"$err") -eq 1 ]] && grep -qF "$work/$case" "$err" && [[ ! -e "$work/logs/bad" ]]; then
      ok "train $file exits 2 naming file:line:column, no run directory"
    else
      fail "train $file: expected one line with '$case' and no run directory"
    fi
  fi
done

# envs lists every family config; bench runs a short measurement
if run 0 envs && grep -q "slope_walker .*mujoco .*obs  17  act  6" "$out" &&
   grep -q "^cheetah_vel " "$out"; then
  ok "envs lists the families with their sizes"
fi
if run 0 envs slope_walker --tasks 2 && [[ $(grep -c "^  task [01]: slope" "$out") -eq 2 ]]; then
  ok "envs NAME --tasks 2 describes two tasks"
fi
if run 0 bench point_nav --seconds 0.3 --threads 2 --json "$work/bench.json" &&
   grep -q "(b) / (a)" "$out" && grep -q '"ratio_1"' "$work/bench.json"; then
  ok "bench prints the table and writes JSON"
fi

# a tiny run for eval and plot (absolute --out: nothing lands in the sandbox)
tiny=(outer.iterations=2 outer.meta_batch=4 inner.episodes=4 policy.hidden=[16]
      eval.every=1 eval.train_tasks=2 eval.episodes=2 threads=1)
if run 0 train "$srcdir/configs/point_nav.yaml" "${tiny[@]}" --out "$work/runA"; then
  if grep -q $'\r' "$out" || grep -q $'\033' "$out"; then
    fail "train: stdout is not a terminal, yet the output has carriage returns or escapes"
  elif ! head -n 1 "$work/runA/progress.csv" |
      grep -q '^Iteration,TotalEnvSteps,PreAdapt/AverageReturn,PreAdapt/StdReturn'; then
    fail "train: progress.csv lacks the garage column names"
  elif ! ls "$work/runA"/events.out.tfevents.* >/dev/null 2>&1; then
    fail "train: no TensorBoard event file"
  else
    ok "train writes progress.csv with garage names, an event file, and plain lines"
  fi
fi

# eval: exit 0, exactly adaptation.csv and summary.json in eval/
if run 0 eval "$work/runA" --tasks 2 --steps 1 --episodes 2; then
  files=$(cd "$work/runA/eval" && ls -A | tr '\n' ' ')
  if [[ "$files" != "adaptation.csv summary.json " ]]; then
    fail "eval: eval/ holds '$files'"
  elif ! grep -q '^step' "$out"; then
    fail "eval: no table on stdout"
  else
    ok "eval writes adaptation.csv and summary.json and prints a table"
  fi
  # scripts/task-bins on those rows: each task in one bin, and "all" is eval's mean at step 0
  mean0=$(awk '$1 == "0" { print $2; exit }' "$out")
  if bins=$("$srcdir/scripts/task-bins" "$work/runA/eval/adaptation.csv" task 0 1 2); then
    row=$(awk '$1 == "runA" && $2 == "0"' <<<"$bins")
    counted=$(grep -o 'n = *[0-9]*' <<<"$row" | awk '{ s += $3 } END { print s + 0 }')
    all=$(awk '{ print $(NF - 3) }' <<<"$row")
    if [[ "$counted" != 4 ]] ||
        ! awk -v a="$all" -v b="$mean0" 'BEGIN { exit !(a - b < 0.051 && b - a < 0.051) }'; then
      fail "task-bins: step 0 of runA is '$row' (eval's mean $mean0, 2 tasks)"
    else
      ok "task-bins puts each task in one bin and agrees with eval's mean"
    fi
  else
    fail "task-bins: exit code $?"
  fi
fi

# eval --compare with a run of another policy shape: exit 2, one line, nothing written
run 0 train "$srcdir/configs/point_nav.yaml" "${tiny[@]}" policy.hidden=[8] \
    --out "$work/runB" --quiet || true
run 0 train "$srcdir/configs/point_nav.yaml" "${tiny[@]}" --out "$work/runC" --quiet || true
if run 2 eval "$work/runC" --compare "$work/runB" --tasks 2 --steps 1 --episodes 2; then
  if [[ $(lines "$err") -ne 1 ]] || ! grep -q "policy shape" "$err"; then
    fail "eval --compare of another shape: expected one line about the policy shape"
  elif [[ -e "$work/runC/eval" ]]; then
    fail "eval --compare of another shape left $(ls -A "$work/runC/eval")"
  else
    ok "eval --compare of another policy shape exits 2 and writes nothing"
  fi
fi

# a CAVIA run (maml adapting a context alone): trains, evaluates from its checkpoint with the
# context adapted (the return moves), and is refused as --compare of a run adapting every
# parameter: exit 2, one line naming both, nothing written
ctx=(outer.algo=maml outer.optim=sgd outer.lr=0.01 policy.context=4 inner.adapt=context
     inner.lr=5)
if run 0 train "$srcdir/configs/point_nav.yaml" "${tiny[@]}" "${ctx[@]}" --out "$work/runX" \
     --quiet &&
   run 0 eval "$work/runX" --tasks 2 --steps 1 --episodes 2; then
  if ! awk '$1 == "0" && a == "" { a = $2 } $1 == "1" && b == "" { b = $2 } END { exit !(a != "" && b != "" && a != b) }' "$out"; then
    fail "eval of a context run: no step 0 and 1 rows with different returns in: $(cat "$out")"
  elif ! grep -q "inner lr 5 on the context alone" "$out"; then
    fail "eval of a context run does not say it adapts the context alone: $(head -n 1 "$out")"
  elif run 2 eval "$work/runC" --compare "$work/runX" --tasks 2 --steps 1 --episodes 2; then
    if [[ $(lines "$err") -ne 1 ]] || ! grep -q "its context alone" "$err"; then
      fail "eval --compare of a context run: expected one line about what each adapts: $(cat "$err")"
    elif [[ -e "$work/runC/eval" ]]; then
      fail "eval --compare of a context run left $(ls -A "$work/runC/eval")"
    else
      ok "a context run trains and adapts its context in eval; --compare across inner.adapt exits 2"
    fi
  fi
fi

# eval of a run without a checkpoint: exit 2, one line, nothing written
rm -f "$work/runC"/checkpoints/*
if run 2 eval "$work/runC"; then
  if [[ $(lines "$err") -ne 1 ]] || ! grep -q "no checkpoint" "$err"; then
    fail "eval without checkpoint: expected one line saying so"
  elif [[ -e "$work/runC/eval" ]]; then
    fail "eval without checkpoint created eval/"
  else
    ok "eval of a run without checkpoint exits 2 and writes nothing"
  fi
fi

# plot: the files, listed on stdout, and not a byte on stderr (driver chatter)
if run 0 plot "$work/runA" --out "$work/plots"; then
  n=$(ls "$work/plots" | wc -l)
  if [[ -s "$err" ]]; then
    fail "plot: output on stderr"
  elif [[ $n -ne 8 ]] || [[ $(lines "$out") -ne 8 ]]; then
    fail "plot: expected 8 files written and listed, got $n"
  else
    ok "plot writes and lists learning (steps, time), adaptation and task figures in PNG and SVG"
  fi
fi
if run 2 plot "$work/no-such-run"; then
  ok "plot of a missing run exits 2"
fi

# plot of a run named in wide letters: titles and legends shrink to stay on the page, so
# no dark pixel lies in the outer 4 and 8 columns of any PNG (they ran off it when their
# fit was judged by the count of characters)
wide="$work/mmmmwwwwmmmm-wwwwmmmmwwww-mmmm"
cp -r "$work/runA" "$wide"
if ! command -v ffmpeg >/dev/null; then
  fail "plot: ffmpeg is needed to read the PNGs' pixels"
elif run 0 plot "$wide" --out "$work/plots-wide"; then
  edge=""
  for png in "$work/plots-wide"/*.png; do
    width=$(ffprobe -v error -show_entries stream=width -of csv=p=0 "$png")
    dark=$(ffmpeg -v error -i "$png" -f rawvideo -pix_fmt gray - | od -An -v -tu1 -w"$width" |
      awk '{ for (i = 1; i <= NF; i++) if ((i <= 4 || i > NF - 8) && $i < 100) n++ }
           END { print n + 0 }')
    [[ "$dark" == 0 ]] || edge+=" $(basename "$png") ($dark pixels)"
  done
  if [[ -n "$edge" ]]; then
    fail "plot: text at the page's edge in$edge"
  else
    ok "plot shrinks a wide title and legend to keep them on the page"
  fi
fi

# every shipped config trains: one iteration of tiny batches each, from outside the tree
# (a config's model path must resolve wherever metarl runs), leaving a checkpoint and a
# finite return in its first progress row. Catches configs left behind by a renamed key.
nconfigs=0
failed_before=$failed
# A config that starts from another's run (policy.init_from: runs/NAME/checkpoints/...)
# starts from that config's run here, trained earlier in the loop (names sort first).
# A config with a pretrain stage trains the stage too, cut the same way.
for config in "$srcdir"/configs/*.yaml; do
  name=$(basename "$config" .yaml)
  nconfigs=$((nconfigs + 1))
  from=$(sed -n 's#^ *init_from: *"\{0,1\}runs/\([^/"]*\)/checkpoints/latest.ckpt"\{0,1\} *$#\1#p' \
    "$config")
  init=()
  [[ -n "$from" ]] && init=("policy.init_from=$work/configs/$from/checkpoints/latest.ckpt")
  cut=(outer.iterations=1 outer.meta_batch=2 inner.episodes=2 env.horizon=10 eval.every=0)
  # a config with a pretrain stage: the stage cut to one iteration too
  grep -q '^pretrain: *[^ "]' "$config" && init+=("${cut[@]/#/pretrain.}")
  if run 0 train "$config" "${cut[@]}" threads=1 "${init[@]}" --out "$work/configs/$name" \
      --quiet; then
    ret=$(awk -F, 'NR == 2 { print $3 }' "$work/configs/$name/progress.csv" 2>/dev/null || true)
    if [[ ! -f "$work/configs/$name/checkpoints/latest.ckpt" ]]; then
      fail "configs/$name.yaml: no checkpoint after one iteration"
    elif [[ ! "$ret" =~ ^-?[0-9] ]]; then  # not empty, nan or inf
      fail "configs/$name.yaml: first iteration's return is '$ret'"
    fi
  fi
done
if [[ $nconfigs -ge 21 ]] && [[ $failed -eq $failed_before ]]; then
  ok "each of the $nconfigs shipped configs trains one iteration"
elif [[ $nconfigs -lt 21 ]]; then
  : >"$out"; : >"$err"
  fail "found $nconfigs configs in $srcdir/configs, expected at least 21"
fi

# nothing may land in the working directory (runs/, MUJOCO_LOG.TXT, ...)
leftover=$(find "$work/sandbox" -mindepth 1 | head -n 5)
if [[ -n "$leftover" ]]; then
  : >"$out"; : >"$err"
  fail "files left in the working directory: $leftover"
else
  ok "working directory left empty"
fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
