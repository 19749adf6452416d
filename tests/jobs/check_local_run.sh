#!/bin/bash
# jobs/local/run.sh on the tiny synthetic scene, 2 ranks, a small model:
#   1. a run to the end: exit code 0, the final checkpoint present and `diffclip verify` passing;
#   2. pretrain.max_wall_s = 1 ends every slot with exit code 85 (N steps take several
#      slots; the limit counts from the process start and keeps room for a step and a
#      checkpoint): run.sh restarts it until it is done, and the run resumes each time (one
#      metrics line per step, steps 1..N, no step twice), ending with a valid final
#      checkpoint bit-identical to the uninterrupted run's;
#   3. MAX_RESTARTS bounds the loop: with 0 restarts it gives up with 85.
# run.sh itself must handle running as root (no OMPI_ALLOW_RUN_AS_ROOT from ctest).
# usage: check_local_run.sh SOURCE_DIR DIFFCLIP MPIRUN
set -u
src="$1"
diffclip="$2"
mpirun="$3"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

work=$(mktemp -d /tmp/dc_localrun_XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
unset OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM

small=(--set data.synthetic=tiny --set model.window=5 --set model.embed_dim=16 --set model.depth=1
  --set model.heads=2 --set model.decoder_dim=16 --set model.decoder_depth=1 --set model.decoder_heads=2
  --set model.stem_width=8 --set pretrain.global_batch=8 --set pretrain.log_every=1
  --set pretrain.checkpoint_every=100 --set pretrain.epochs=100000 --set run.out_dir="$work/runs")

run() { # NAME STEPS [run.sh environment assignments...] -- extra diffclip args
  local name=$1 steps=$2
  shift 2
  local envs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  env NP=2 THREADS=1 DIFFCLIP="$diffclip" MPIRUN="$mpirun" CONFIG="$src/configs/experiments/demo.cfg" "${envs[@]}" \
    bash "$src/jobs/local/run.sh" "${small[@]}" --set run.name="$name" --set pretrain.max_steps="$steps" "$@" \
    >"$work/$name.log" 2>&1
}

steps_logged() { grep -o '"step": [0-9]*' "$work/runs/$1/metrics.jsonl" 2>/dev/null | awk '{print $2}' | tr '\n' ' '; }

N=1500 # steps: several 1-second slots on any machine this runs on (about 260 a slot on 2 EPYC cores)
expected=$(seq -s ' ' 1 $N)' '
# 1. straight through
run whole $N
rc=$?
[ "$rc" = 0 ] || fail "run.sh exit code $rc (log: $(tail -5 "$work/whole.log"))"
ckpt="$work/runs/whole/ckpt/ckpt_$(printf %010d $N).h5"
[ -f "$ckpt" ] || fail "no final checkpoint $ckpt"
"$diffclip" verify "$ckpt" >"$work/verify.log" 2>&1 || fail "diffclip verify $ckpt: $(cat "$work/verify.log")"
[ "$(steps_logged whole)" = "$expected" ] || fail "whole: steps logged are not 1..$N"
grep -q "launch: 2 ranks on 1 node (mpirun)" "$work/whole.log" || fail "no launch table in the log"

# 2. every slot stops after one step (exit 85); run.sh resumes until done
run slots $N -- --set pretrain.max_wall_s=1
rc=$?
[ "$rc" = 0 ] || fail "slots: run.sh exit code $rc (log: $(tail -5 "$work/slots.log"))"
restarts=$(grep -c "exit code 85: stopped with a checkpoint; restart" "$work/slots.log")
[ "$restarts" -ge 1 ] || fail "slots: $restarts restarts, expected at least one"
echo "slots: $N steps in $((restarts + 1)) one-second slots"
ckpt="$work/runs/slots/ckpt/ckpt_$(printf %010d $N).h5"
[ -f "$ckpt" ] || fail "slots: no final checkpoint $ckpt"
"$diffclip" verify "$ckpt" >"$work/verify.log" 2>&1 || fail "diffclip verify $ckpt: $(cat "$work/verify.log")"
[ "$(steps_logged slots)" = "$expected" ] || fail "slots: the steps logged are not 1..$N, each once"
grep -q "ended with exit code 0" "$work/slots.log" || fail "slots: no final 'ended with exit code 0'"
# the same parameters as the run that went straight through (h5diff when available)
if command -v h5diff >/dev/null 2>&1; then
  h5diff -q "$work/runs/whole/ckpt/ckpt_$(printf %010d $N).h5" "$ckpt" /params /params ||
    fail "slots: parameters differ from the uninterrupted run"
fi

# 3. the restart bound
run bounded $N MAX_RESTARTS=0 -- --set pretrain.max_wall_s=1
rc=$?
[ "$rc" = 85 ] || fail "bounded: run.sh exit code $rc, expected 85"
grep -q "giving up" "$work/bounded.log" || fail "bounded: no 'giving up' message"

# bad settings are refused before mpirun runs
env NP=zero DIFFCLIP="$diffclip" bash "$src/jobs/local/run.sh" >/dev/null 2>&1
[ $? = 3 ] || fail "NP=zero was not refused with exit code 3"
env DIFFCLIP="$work/nothing" bash "$src/jobs/local/run.sh" >/dev/null 2>&1
[ $? = 3 ] || fail "a missing program was not refused with exit code 3"

echo "check_local_run: $fails failure(s)"
[ "$fails" = 0 ]
