#!/usr/bin/env bash
# Ranks that disagree, launched for real as MPMD jobs (mpirun -np 1 A : -np 1 B), must end
# within seconds with one clear error on every rank, never hang and never run on:
#   1. another run.name on rank 1 (it used to hang in the first checkpoint's collective create);
#   2. another pretrain.lr and global_batch on one rank of three (it used to run to exit 0);
#   3. the same relative data.scene path naming different files on the two ranks (each rank
#      started in its own working directory, as with node-local copies);
#   4. a non-finite loss on rank 1 only (DIFFCLIP_INJECT_NAN_FROM_STEP in its environment
#      alone): every rank skips the same steps, names rank 1, rolls back together and ends
#      with 86 (it used to end in "MPI_ABORT on rank 1" with no reason);
#   5. an error on one rank while the other waits in a collective ends both (no hang).
# An error every rank agrees on ends them normally, without MPI_ABORT's banner.
# usage: check_rank_agreement.sh DIFFCLIP MPIEXEC SOURCE_DIR WORK_DIR
set -uo pipefail
diffclip="$(realpath "$1")" mpirun="$2" src="$3" work="$4"
rm -rf "$work"; mkdir -p "$work/a" "$work/b"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
base=(pretrain --config "$src/configs/experiments/demo.cfg" --set data.synthetic=tiny --set run.out_dir="$work/runs"
  --set pretrain.max_steps=20 --set pretrain.epochs=1000 --set pretrain.checkpoint_every=5)
mp=("$mpirun" --oversubscribe --bind-to none -x OMP_NUM_THREADS=1)

# expect NAME RC_WANTED PATTERN...: the last launch's exit code and log lines
expect() {
  local name=$1 want=$2 rc=$3
  shift 3
  if [[ $rc -eq 124 ]]; then fail "$name: hung (killed after 120 s)"; return; fi
  [[ $rc -eq $want ]] || fail "$name: exit code $rc, expected $want"
  for p in "$@"; do grep -q -- "$p" "$work/$name.log" || fail "$name: no line matching '$p'"; done
}

timeout 120 "${mp[@]}" -np 1 "$diffclip" "${base[@]}" --set run.name=one : \
  -np 1 "$diffclip" "${base[@]}" --set run.name=other > "$work/name.log" 2>&1
expect name 2 $? "rank 1's resolved configuration differs from rank 0's at line [0-9]* (in \"run = {\"): \"  name = \"other\";\" here, \"  name = \"one\";\" on rank 0" \
  "\[rank 0\] error: .*the ranks disagree about their resolved configuration: 1 of 2 rank(s) differ"
[[ -e "$work/runs/one" || -e "$work/runs/other" ]] && fail "name: a run folder was made before the ranks agreed"
grep -q "MPI_ABORT" "$work/name.log" && fail "name: an error every rank agreed on ended in MPI_ABORT"

timeout 120 "${mp[@]}" -np 2 "$diffclip" "${base[@]}" --set run.name=lr --set pretrain.global_batch=48 : \
  -np 1 "$diffclip" "${base[@]}" --set run.name=lr --set pretrain.lr=0.5 --set pretrain.global_batch=48 > "$work/lr.log" 2>&1
expect lr 2 $? "rank 2's resolved configuration differs from rank 0's .*lr = 0.5" "1 of 3 rank(s) differ from rank 0 (the first is rank 2"

"$diffclip" synth --preset tiny --seed 0 --out "$work/a/scene.h5" > /dev/null
"$diffclip" synth --preset tiny --seed 1 --out "$work/b/scene.h5" > /dev/null
# /proc/self/cwd: one absolute path that names each process's own file, as a node-local path would
scene=("${base[@]}" --set data.synthetic=none --set data.scene=/proc/self/cwd/scene.h5 --set run.name=scene)
timeout 120 "${mp[@]}" -np 1 -wdir "$work/a" "$diffclip" "${scene[@]}" : -np 1 -wdir "$work/b" "$diffclip" "${scene[@]}" \
  > "$work/scene.log" 2>&1
expect scene 1 $? "rank 1's scene differs from rank 0's at line" "a node-local copy differs"
grep -q "MPI_ABORT" "$work/scene.log" && fail "scene: an error every rank agreed on ended in MPI_ABORT"

timeout 120 "${mp[@]}" -np 1 "$diffclip" "${base[@]}" --set run.name=nan : \
  -np 1 -x DIFFCLIP_INJECT_NAN_FROM_STEP=7 "$diffclip" "${base[@]}" --set run.name=nan > "$work/nan.log" 2>&1
expect nan 86 $? "\[rank 0\] warning: step 8: loss nan, gradient norm .* (first non-finite on rank 1, from its own batch): step skipped" \
  "\[rank 1\] warning: step 8: .*first non-finite on rank 1" "rolling back to" \
  "\[rank 0\] error: training diverged at step .*first non-finite on rank 1"
grep -q "MPI_ABORT" "$work/nan.log" && fail "nan: the job ended in MPI_ABORT"

# 5. an error on one rank alone while the other waits for it in a collective: every rank
#    ends (after the exit agreement's 10 s), with the error's code, instead of hanging
timeout 120 "${mp[@]}" -np 1 "$diffclip" info "$work/none.h5" : -np 1 "$diffclip" "${base[@]}" --set run.name=lone \
  > "$work/lone.log" 2>&1
expect lone 1 $? "none.h5: cannot open as HDF5"

[[ $fails -eq 0 ]] && echo "check_rank_agreement: passed"
exit $((fails > 0))
