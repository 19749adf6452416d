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
# the evaluation model is sized to the work: 12 test exams, one batch of 12, not
# finetune.eval_batch's 256 (batches are dealt whole to the ranks, so the scores do not
# depend on the rank count)
grep -q "12 test exams; .*; evaluated in batches of 12$" run.log ||
  { grep "test exams" run.log; echo "FAIL: the evaluation model is not sized to the 12 test exams"; exit 1; }
grep -Eq "task abnormal: mean accuracy (7[5-9]|8[0-9]|9[0-9]|100)\.[0-9]+%" run.log ||
  { echo "FAIL: the mean accuracy is not clearly above chance (50%)"; exit 1; }
for r in 0 1; do
  test -f "runs/mrnet/finetune/shots_5/run_$r/result.h5" || { echo "FAIL: no result.h5 for run $r"; exit 1; }
done
# info and verify know every kind of file written here
"$diffclip" info mrnet.h5 > info.log 2>&1 || { cat info.log; echo "FAIL: diffclip info on the exam store"; exit 1; }
grep -q "abnormal .* of 40 positive" info.log || { cat info.log; echo "FAIL: info shows no per-task counts"; exit 1; }
"$diffclip" verify mrnet.h5 runs/mrnet/finetune/shots_5/run_0/result.h5 runs/mrnet/finetune/shots_5/run_0/ckpt/ckpt_finetuned.h5 \
  > verify.log 2>&1 || { cat verify.log; echo "FAIL: diffclip verify on an exam store, a result and a checkpoint"; exit 1; }
test "$(grep -c ': ok: ' verify.log)" = 3 || { cat verify.log; echo "FAIL: verify did not pass all three"; exit 1; }
if "$diffclip" verify runs/mrnet/config.cfg > verify2.log 2>&1; then echo "FAIL: verify passed a text file"; exit 1; fi
# evaluate keeps the results of this configuration and re-evaluates a missing one from its
# fine-tuned checkpoint, to the same figures
run evaluate --config mrnet_tiny.cfg > eval1.log 2>&1 || { cat eval1.log; echo "FAIL: diffclip evaluate"; exit 1; }
test "$(grep -c 'kept .*result.h5' eval1.log)" = 2 || { cat eval1.log; echo "FAIL: evaluate did not keep both results"; exit 1; }
cp runs/mrnet/finetune/shots_5/run_0/result.h5 before.h5
rm runs/mrnet/finetune/shots_5/run_0/result.h5
run evaluate --config mrnet_tiny.cfg > eval2.log 2>&1 || { cat eval2.log; echo "FAIL: diffclip evaluate after a removed result"; exit 1; }
grep -q "evaluating run 0" eval2.log || { cat eval2.log; echo "FAIL: the removed result was not evaluated again"; exit 1; }
if command -v h5diff > /dev/null 2>&1; then
  h5diff -q before.h5 runs/mrnet/finetune/shots_5/run_0/result.h5 /confusion /confusion ||
    { echo "FAIL: the re-evaluated confusion matrix differs"; exit 1; }
fi
run bench --config mrnet_tiny.cfg > bench.log 2>&1 || { cat bench.log; echo "FAIL: diffclip bench"; exit 1; }
# the entry's folder is keyed by the task too (three MRNet tasks of one data.name each get their own)
test ! -e bench/mrnet_abnormal/skipped.txt || { cat bench/mrnet_abnormal/skipped.txt; echo "FAIL: MRNet skipped"; exit 1; }
for r in 0 1; do
  test -f "bench/mrnet_abnormal/shots_5/run_$r/result.h5" || { echo "FAIL: no bench result.h5 for run $r"; exit 1; }
done
grep -q '"binary"' bench/report/report.json || { echo "FAIL: no binary metrics in report.json"; exit 1; }
grep -q "AUC" bench/report/report.md || { echo "FAIL: no AUC in report.md"; exit 1; }
# a rerun keeps every result of this configuration ...
run bench --config mrnet_tiny.cfg > bench2.log 2>&1 || { cat bench2.log; echo "FAIL: bench rerun"; exit 1; }
test "$(grep -c 'kept .*result.h5' bench2.log)" = 2 || { cat bench2.log; echo "FAIL: the rerun did not keep both results"; exit 1; }
# ... and redoes those of another one (other fine-tuning epochs), saying why
run bench --config mrnet_tiny.cfg --set finetune.epochs=3 > bench3.log 2>&1 || { cat bench3.log; echo "FAIL: bench with other epochs"; exit 1; }
test "$(grep -c 'made under another configuration' bench3.log)" = 2 || { cat bench3.log; echo "FAIL: results of another configuration were reused"; exit 1; }
# two entries that would share one folder are refused before any work
sed 's/^bench = .*$/bench = { datasets = ["mrnet_tiny.cfg", "again.cfg"]; shots = [5]; runs = 1; out_dir = "bench_dup"; };/' \
  mrnet_tiny.cfg > dup.cfg
printf '@include "mrnet_tiny.cfg"\n' > again.cfg
if run bench --config dup.cfg > dup.log 2>&1; then echo "FAIL: two entries of one name were run"; exit 1; fi
grep -q 'both make the entry "mrnet_abnormal"' dup.log || { cat dup.log; echo "FAIL: no message naming the shared entry"; exit 1; }
test ! -e bench_dup/pretrain || { echo "FAIL: work was done before the duplicate entry was refused"; exit 1; }
# the three MRNet tasks share one pretraining (as configs/experiments/paper.cfg runs them)
printf '@include "mrnet_tiny.cfg"\ndata = { task = "acl"; };\n' > acl.cfg
printf '@include "mrnet_tiny.cfg"\ndata = { task = "meniscus"; };\n' > meniscus.cfg
sed 's/^bench = .*$/bench = { datasets = ["mrnet_tiny.cfg", "acl.cfg", "meniscus.cfg"]; shots = [5]; runs = 1; out_dir = "bench_tasks"; };/' \
  mrnet_tiny.cfg > tasks.cfg
run bench --config tasks.cfg > tasks.log 2>&1 || { cat tasks.log; echo "FAIL: bench of the three tasks"; exit 1; }
test "$(ls bench_tasks/pretrain | wc -l)" = 1 || { ls bench_tasks/pretrain; echo "FAIL: the three tasks did not share one pretraining"; exit 1; }
for t in abnormal acl meniscus; do
  test -f "bench_tasks/mrnet_$t/shots_5/run_0/result.h5" || { echo "FAIL: no result for task $t"; exit 1; }
  grep -q "^| mrnet | $t | 5 | 1/1 |" bench_tasks/report/report.md || { grep "^| mrnet" bench_tasks/report/report.md; echo "FAIL: no binary row for task $t"; exit 1; }
done
# a validation draw of one exam is one class: said, with what it means for the epoch kept
run finetune --config mrnet_tiny.cfg --set finetune.runs=1 --set finetune.val_pixels=1 > val1.log 2>&1 ||
  { cat val1.log; echo "FAIL: finetune with one validation exam"; exit 1; }
grep -q "task abnormal, 5 shots, run 0: the validation draw holds 1 exam(s), all .*: the epoch kept" val1.log ||
  { cat val1.log; echo "FAIL: no warning for a single-class validation draw"; exit 1; }
if command -v h5ls > /dev/null 2>&1; then
  h5ls bench_tasks/mrnet_acl/shots_5/run_0/result.h5/exams | grep -q "score .*{12}" ||
    { h5ls -r bench_tasks/mrnet_acl/shots_5/run_0/result.h5; echo "FAIL: no per-exam scores of the 12 test exams"; exit 1; }
fi
# a custom exam split from a list of exam ids (data.split_file): exams 0-29 train, 30-51 test
{ echo "exam,split"; echo "# exams 0-29 train, the rest test"
  for i in $(seq 0 29); do echo "$i,train"; done; for i in $(seq 30 51); do echo "$i test"; done; } > split.csv
run finetune --config mrnet_tiny.cfg --set finetune.runs=1 --set run.name=custom --set data.split_file=split.csv \
  --set finetune.init=scratch > split.log 2>&1 || { cat split.log; echo "FAIL: finetune with data.split_file"; exit 1; }
grep -q "training, .* validation, 22 test exams" split.log || { cat split.log; echo "FAIL: not the 22 test exams of split.csv"; exit 1; }
if command -v h5dump > /dev/null 2>&1; then
  ids=$(h5dump -d /exams/id -y -w 0 runs/custom/finetune/shots_5/run_0/result.h5 | sed -n '/DATA {/,/}/p' | tr -cs '0-9' ' ' |
    sed 's/^ *//; s/ *$//')
  [ "$ids" = "$(seq -s ' ' 30 51)" ] || { echo "$ids"; echo "FAIL: result.h5's test exams are not those of split.csv"; exit 1; }
fi
# the file's contents are part of the run's identity: an edited file redoes the run
sed -i 's/^29,train$/29,test/' split.csv
run finetune --config mrnet_tiny.cfg --set finetune.runs=1 --set run.name=custom --set data.split_file=split.csv \
  --set finetune.init=scratch > split2.log 2>&1 || { cat split2.log; echo "FAIL: finetune after editing split.csv"; exit 1; }
grep -q "made under another configuration" split2.log && grep -q "23 test exams" split2.log ||
  { cat split2.log; echo "FAIL: an edited split file kept the old result"; exit 1; }
# a bad line is refused naming the file and the line
split_refused() { # WHAT PATTERN
  if run finetune --config mrnet_tiny.cfg --set finetune.runs=1 --set run.name=bad --set data.split_file=bad.csv \
    --set finetune.init=scratch > bad.log 2>&1; then echo "FAIL: $1 accepted"; exit 1; fi
  grep -q "$2" bad.log || { cat bad.log; echo "FAIL: $1: no '$2' in the message"; exit 1; }
}
printf '0,train\n1,test\n99,test\n' > bad.csv; split_refused "an unknown exam" "bad.csv:3: exam 99 is not in the exam store"
printf '0,train\n1,test\n0,test\n' > bad.csv; split_refused "an exam listed twice" "bad.csv:3: exam 0 is listed twice (first on line 1)"
printf '0,train\n1,valid\n' > bad.csv; split_refused "another split word" 'bad.csv:2: split "valid" of exam 1: expected train or test'
printf '0,train\n1,train\n' > bad.csv; split_refused "no test exam" "bad.csv: 2 train and 0 test exams"
printf '0;train\n' > bad.csv; split_refused "a malformed line" 'bad.csv:1: expected "EXAM_ID,train"'
echo "mrnet end to end: ok"
