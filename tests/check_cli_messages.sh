#!/usr/bin/env bash
# First contact: what a user sees for the commonest mistakes.
#   - a mistyped verb or option gets a suggestion and exit code 2;
#   - pretrain without --config is a usage error (2) before any launch check;
#   - a configuration typo names the user's file and key, exits 2, and shows no path of our
#     source tree (that appears only with DIFFCLIP_LOG_LEVEL=debug).
#   - a class too small for the protocol gets a warning, and chance counts the classes evaluated.
# usage: check_cli_messages.sh DIFFCLIP WORK_DIR SOURCE_DIR
set -u
diffclip=$1 work=$2 src=$3
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
rm -rf "$work"; mkdir -p "$work"
"$diffclip" pretrian > "$work/verb.log" 2>&1
rc=$?
[ $rc = 2 ] || fail "a mistyped verb exited $rc, expected 2"
grep -q "unknown verb 'pretrian'; did you mean 'pretrain'?" "$work/verb.log" || fail "no suggestion: $(cat "$work/verb.log")"

"$diffclip" pretrain --confg x.cfg > "$work/opt.log" 2>&1
rc=$?
[ $rc = 2 ] || fail "a mistyped option exited $rc, expected 2"
grep -q "did you mean '--config'?" "$work/opt.log" || fail "no option suggestion: $(cat "$work/opt.log")"
"$diffclip" pretrain > "$work/noconfig.log" 2>&1
rc=$?
[ $rc = 2 ] || fail "pretrain without --config exited $rc, expected 2"
grep -q "\-\-config FILE is required" "$work/noconfig.log" || fail "pretrain without --config: $(head -3 "$work/noconfig.log")"
grep -q "launch:" "$work/noconfig.log" && fail "pretrain without --config went as far as the launch checks"

printf 'pretrain = {\n  lrr = 0.1;\n};\n' > "$work/typo.cfg"
"$diffclip" pretrain --config "$work/typo.cfg" > "$work/typo.log" 2>&1
rc=$?
[ $rc = 2 ] || fail "a configuration typo exited $rc, expected 2"
grep -q "typo.cfg" "$work/typo.log" || fail "the message does not name the file: $(cat "$work/typo.log")"
grep -q "pretrain.lrr" "$work/typo.log" || fail "the message does not name the key: $(cat "$work/typo.log")"
grep -q "pretrain.lr" "$work/typo.log" || fail "no suggestion of pretrain.lr"
grep -q "/src/\|\.c:[0-9]" "$work/typo.log" && fail "a source path in a user's error: $(grep '/src/\|\.c:[0-9]' "$work/typo.log")"

DIFFCLIP_LOG_LEVEL=debug "$diffclip" pretrain --config "$work/typo.cfg" > "$work/debug.log" 2>&1
grep -q "error: \[.*\.c:[0-9]*\]" "$work/debug.log" || fail "the debug log level does not show where in the source: $(cat "$work/debug.log")"
# a configuration value a stage refuses (a global batch the ranks cannot share) is a usage
# error too: exit 2 on 1 rank, and on 2 ranks through mpirun
"$diffclip" pretrain --config "$src/configs/experiments/demo.cfg" --set data.synthetic=tiny --set run.out_dir="$work" \
  --set run.name=batch1 --set pretrain.global_batch=1 > "$work/batch.log" 2>&1
rc=$?
[ $rc = 2 ] || fail "an unusable pretrain.global_batch exited $rc, expected 2: $(tail -2 "$work/batch.log")"
grep -q "pretrain.global_batch = 1 must be a multiple" "$work/batch.log" || fail "no message naming pretrain.global_batch"
if [ -n "${MPIEXEC:-}" ]; then
  timeout 120 "$MPIEXEC" --oversubscribe -np 2 -x OMP_NUM_THREADS=1 "$diffclip" pretrain --config "$src/configs/experiments/demo.cfg" \
    --set data.synthetic=tiny --set run.out_dir="$work" --set run.name=batch2 --set pretrain.global_batch=3 > "$work/batch2.log" 2>&1
  rc=$?
  [ $rc = 2 ] || fail "an unusable pretrain.global_batch on 2 ranks exited $rc, expected 2: $(tail -2 "$work/batch2.log")"
  grep -q "pretrain.global_batch = 3 must be a multiple of the 2 ranks" "$work/batch2.log" || fail "2 ranks: no message naming pretrain.global_batch"
fi

# a class too small for the protocol is said, and chance is over the classes evaluated
# (tiny: Trees has 42 labelled pixels; 42 small-class shots leave it no test pixel)
"$diffclip" run --config "$src/configs/experiments/demo.cfg" --set data.synthetic=tiny --set run.out_dir="$work" --set run.name=small \
  --set pretrain.epochs=1 --set finetune.shots=150 --set finetune.small_class_shots=42 --set finetune.runs=1 \
  --set finetune.epochs=2 --set finetune.val_pixels=10 > "$work/small.log" 2>&1 || fail "the small-class run failed: $(tail -3 "$work/small.log")"
grep -q "warning: class 2 (Trees) has 42 training, 0 validation and 0 test pixels at 150 shots: too few" "$work/small.log" ||
  fail "no warning for the class without test pixels"
grep -q "chance 33.33% (1 of the 3 classes evaluated" "$work/small.log" || fail "chance not over the 3 classes evaluated: $(grep chance "$work/small.log")"
[ $fails = 0 ] && echo "check_cli_messages: passed"
exit $((fails > 0))
