#!/usr/bin/env bash
# bench prepares a missing scene from the entry's data.manifest and data.raw_dir (raw files
# written by prep_prepare --write-raw: .npy, .mat and GeoTIFF inputs), then runs the entry;
# an entry whose raw folder is missing too is skipped with a reason naming it.
# usage: check_bench_prepare.sh SOURCE_DIR DIFFCLIP MPIEXEC PREP_PREPARE WORK_DIR
set -u
src=$1 bin=$2 mpiexec=$3 prep=$4 work=$5
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
rm -rf "$work" && mkdir -p "$work/raw" || exit 1
"$prep" --write-raw "$work/raw" > /dev/null || { echo "FAIL: prep_prepare --write-raw"; exit 1; }
cat > "$work/own.cfg" <<EOF
data = { name = "own"; synthetic = "none"; scene = "own.h5"; manifest = "raw/manifest.cfg"; raw_dir = "raw"; };
EOF
cat > "$work/absent.cfg" <<EOF
data = { name = "absent"; synthetic = "none"; scene = "absent.h5"; manifest = "raw/manifest.cfg"; raw_dir = "nowhere"; };
EOF
"$mpiexec" --oversubscribe --bind-to none -np 2 -x OMP_NUM_THREADS=1 "$bin" bench --config "$src/configs/experiments/demo.cfg" \
  --set bench.datasets="[\"$work/own.cfg\", \"$work/absent.cfg\"]" --set bench.out_dir="$work/bench" --set bench.shots=1 \
  --set bench.runs=1 --set model.window=5 --set pretrain.epochs=1 --set pretrain.global_batch=8 --set finetune.epochs=2 \
  --set finetune.val_pixels=0 > "$work/bench.log" 2>&1 || fail "bench exited $?: $(tail -5 "$work/bench.log")"
grep -q "bench: preparing $work/own.h5 from $work/raw" "$work/bench.log" || fail "no 'preparing' line"
[ -s "$work/own.h5" ] || fail "the scene was not prepared"
[ -s "$work/bench/own/shots_1/run_0/result.h5" ] || fail "the prepared entry did not run"
[ -e "$work/absent.h5" ] && fail "a scene was made without its raw files"
grep -q "nor the raw folder $work/nowhere (data.raw_dir)" "$work/bench/absent/skipped.txt" 2>/dev/null ||
  fail "the entry without raw files was not skipped with the reason: $(cat "$work/bench/absent/skipped.txt" 2>&1)"
[ "$fails" = 0 ] && echo "check_bench_prepare: passed"
[ "$fails" = 0 ]
