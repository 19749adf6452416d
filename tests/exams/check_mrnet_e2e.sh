#!/bin/sh
# End to end on a synthetic MRNet exam store (tests/test_exams.c --write: 40 train + 12
# valid exams, 3 planes of 8 x 16 x 16, the abnormal label visible in the images) on 2
# ranks: `diffclip run` (pretraining on the train exams, fine-tuning and evaluation of the
# abnormal task) must beat chance clearly, and `diffclip bench` must run the MRNet entry
# (not skip it) and put its binary metrics in the report.
# usage: check_mrnet_e2e.sh TEST_EXAMS DIFFCLIP MPIEXEC SOURCE_DIR WORK_DIR
set -eu
test_exams=$1 diffclip=$2 mpiexec=$3 src=$4 work=$5
rm -rf "$work" && mkdir -p "$work"
"$test_exams" --write "$work/mrnet.h5"
cat > "$work/mrnet_tiny.cfg" <<CFG
@include "$src/configs/experiments/demo.cfg"
run = { name = "mrnet"; out_dir = "runs"; };
data = { name = "mrnet"; synthetic = "none"; scene = "mrnet.h5"; classes = 2; task = "abnormal"; };
pretrain = { epochs = 3; global_batch = 8; resume = "never"; };
finetune = { shots = 5; runs = 2; batch = 10; val_pixels = 10; };
bench = { datasets = ["mrnet_tiny.cfg"]; shots = [5]; runs = 2; out_dir = "bench"; };
CFG
run() { "$mpiexec" --oversubscribe --bind-to none -x OMP_NUM_THREADS=1 -np 2 "$diffclip" "$@"; }
cd "$work"
run run --config mrnet_tiny.cfg > run.log 2>&1 || { cat run.log; echo "FAIL: diffclip run"; exit 1; }
grep "mean accuracy" run.log
grep -Eq "task abnormal: mean accuracy (7[5-9]|8[0-9]|9[0-9]|100)\.[0-9]+%" run.log ||
  { echo "FAIL: the mean accuracy is not clearly above chance (50%)"; exit 1; }
for r in 0 1; do
  test -f "runs/mrnet/finetune/shots_5/run_$r/result.h5" || { echo "FAIL: no result.h5 for run $r"; exit 1; }
done
run bench --config mrnet_tiny.cfg > bench.log 2>&1 || { cat bench.log; echo "FAIL: diffclip bench"; exit 1; }
test ! -e bench/mrnet/skipped.txt || { cat bench/mrnet/skipped.txt; echo "FAIL: MRNet skipped"; exit 1; }
for r in 0 1; do
  test -f "bench/mrnet/shots_5/run_$r/result.h5" || { echo "FAIL: no bench result.h5 for run $r"; exit 1; }
done
grep -q '"binary"' bench/report/report.json || { echo "FAIL: no binary metrics in report.json"; exit 1; }
grep -q "AUC" bench/report/report.md || { echo "FAIL: no AUC in report.md"; exit 1; }
echo "mrnet end to end: ok"
