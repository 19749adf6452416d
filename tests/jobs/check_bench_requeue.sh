#!/usr/bin/env bash
# `diffclip bench` through jobs/slurm/bench.sbatch on a real signal path: srun is a stand-in
# that runs the real mpirun with the real diffclip (2 ranks, the tiny synthetic scene), and
# a requeue (`scontrol requeue`) is answered by running the script again, as Slurm would.
# Each slot is ended by a real signal at another stage:
#   1. SIGUSR1 to the batch shell during pretraining (the script sends SIGUSR2 on; the ranks
#      checkpoint and exit 85);
#   2. the same during the first fine-tuning run (it stops at an epoch boundary);
#   3. the same once the first run's last epoch is logged (its evaluation, or the start of
#      the next run);
#   4. SIGTERM straight to mpirun during the second run's fine-tuning: mpirun passes it on
#      and exits 143, the ranks stop cleanly, and DIFFCLIP_STOP_FILE tells the script to
#      requeue anyway;
#   5. no signal: the bench finishes and writes its report.
# Every signalled slot must requeue, and the report's figures (Table 1, per-class accuracy,
# confusion matrices) must equal those of an uninterrupted bench run beside it.
# usage: check_bench_requeue.sh SOURCE_DIR DIFFCLIP MPIEXEC WORK_DIR
set -u
src=$1 diffclip=$(realpath "$2") mpirun=$3 work=$4
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
rm -rf "$work" && mkdir -p "$work/bin" "$work/submit" || exit 1
# 400 epochs: a run lasts seconds, so a signal sent when its log shows epoch 10 (polled every
# 50 ms) lands before it ends (at 120 epochs a run took 1 s and slot 4 sometimes missed it).
# A line every 10 epochs, not every epoch: mpirun stops reading the ranks' output (a pty, a
# few KB of buffer) once it has SIGTERM, and forwards the signal about 1 s later, so a rank
# logging 150 lines/s blocks in write() and is killed before it can stop (slot 4)
sets=(--set data.synthetic=tiny --set bench.shots=4 --set bench.runs=2 --set pretrain.epochs=3 --set pretrain.log_every=1
  --set finetune.epochs=400 --set finetune.log_every=10 --set run.name=requeue
  --set bench.finetune_groups=1) # the runs one after the other, as the slots below expect (bench_groups: in parallel)

cat >"$work/bin/srun" <<EOF
#!/bin/bash
# srun's own options (--name=value) are dropped; the rest is the command
while [[ \$# -gt 0 && \$1 == --* ]]; do shift; done
echo \$\$ >"$work/mpirun.pid"
exec "$mpirun" --oversubscribe --bind-to none -np 2 -x OMP_NUM_THREADS=1 -x DIFFCLIP_STOP_FILE "\$@"
EOF
cat >"$work/bin/scontrol" <<EOF
#!/bin/sh
echo "\$*" >>"$work/scontrol.args"
EOF
chmod +x "$work/bin/srun" "$work/bin/scontrol"

# slot N PATTERN SIGNAL TARGET: one slot of the job; once PATTERN is in its log, SIGNAL goes
# to TARGET ("shell": the batch script, "mpirun": the launcher); an empty PATTERN: none
slot() {
  local n=$1 pattern=$2 sig=$3 target=$4 log="$work/slot$1.log"
  rm -f "$work/mpirun.pid"
  (cd "$work/submit" && exec env PATH="$work/bin:$PATH" SLURM_JOB_ID=77 SLURM_SUBMIT_DIR="$work/submit" \
    SLURM_RESTART_COUNT=$((n - 1)) SLURM_CPUS_PER_TASK=1 VERB=bench CONFIG="$src/configs/experiments/demo.cfg" \
    DIFFCLIP="$diffclip" bash "$src/jobs/slurm/bench.sbatch" "${sets[@]}" --set bench.out_dir="$work/submit/bench") \
    >"$log" 2>&1 &
  local pid=$! sent=0
  if [ -n "$pattern" ]; then
    for _ in $(seq 2400); do
      if grep -q -- "$pattern" "$log" 2>/dev/null; then
        if [ "$target" = shell ]; then kill -s "$sig" "$pid"; else kill -s "$sig" "$(cat "$work/mpirun.pid")"; fi
        sent=1
        break
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    [ "$sent" = 1 ] || fail "slot $n: '$pattern' never appeared in its log"
  fi
  wait "$pid"
  echo "slot $n: exit code $?, $(grep -c "requeue 77" "$work/scontrol.args" 2>/dev/null || echo 0) requeue(s) so far"
}

slot 1 " epoch [0-9]*/[0-9]* step" USR1 shell
slot 2 "run 0, 4-shot: epoch 10/400" USR1 shell
slot 3 "run 0, 4-shot: epoch 400/400" USR1 shell
slot 4 "run 1, 4-shot: epoch 10/400" TERM mpirun
slot 5 "" "" ""
requeues=$(grep -c "requeue 77" "$work/scontrol.args" 2>/dev/null || echo 0)
[ "$requeues" = 4 ] || fail "$requeues requeues, expected 4 (one per signalled slot)"
grep -q "stopping at step" "$work/slot1.log" || fail "slot 1: pretraining did not stop at a step"
grep -q "stopping after epoch" "$work/slot2.log" || fail "slot 2: fine-tuning did not stop at an epoch boundary"
grep -q "resumed from" "$work/slot2.log" || fail "slot 2: the pretraining did not resume"
grep -Eq "evaluation stopped|not started" "$work/slot3.log" || fail "slot 3: no stop during evaluation or before run 1"
grep -q "taken as exit code 85" "$work/slot4.log" || fail "slot 4: mpirun's exit after SIGTERM was not taken as a stop"
grep -q "ended with exit code 0" "$work/slot5.log" || fail "slot 5: the bench did not finish"
[ -e "$work/submit/.diffclip-stop.77" ] && fail "the stop file was left behind"

# the same bench without interruption
"$mpirun" --oversubscribe --bind-to none -np 2 -x OMP_NUM_THREADS=1 "$diffclip" bench \
  --config "$src/configs/experiments/demo.cfg" "${sets[@]}" --set bench.out_dir="$work/whole" >"$work/whole.log" 2>&1 ||
  fail "the uninterrupted bench failed: $(tail -3 "$work/whole.log")"
a="$work/whole/report" b="$work/submit/bench/report"
for f in "$a"/*.csv; do
  case "$(basename "$f")" in *timing* | provenance.csv) continue ;; esac # costs, and the hash of bench.out_dir
  cmp -s "$f" "$b/$(basename "$f")" || fail "$(basename "$f") differs from the uninterrupted bench's: $(diff "$f" "$b/$(basename "$f")" | head -4)"
done
# the fine-tuning curves too (a run evaluated in a later slot keeps its curves)
for f in "$a"/curves/*_finetune_loss.svg "$a"/curves/*_val_acc.svg; do
  cmp -s "$f" "$b/curves/$(basename "$f")" || fail "curves/$(basename "$f") differs from the uninterrupted bench's"
done
if command -v h5diff >/dev/null 2>&1; then
  for r in 0 1; do
    h5diff -q "$work/whole/synthetic-demo/shots_4/run_$r/result.h5" "$work/submit/bench/synthetic-demo/shots_4/run_$r/result.h5" \
      /confusion /confusion || fail "run $r: the confusion matrix differs from the uninterrupted bench's"
  done
fi
# the stored costs add up over the slots: no stage reads as free because a slot reused it
awk -F, 'NR > 1 && $2 <= 0 { bad = 1; print "FAIL: timing " $1 " is " $2 } END { exit bad }' "$b/timings.csv" >&2 ||
  fail "a stage's time was lost over the requeues"
[ "$fails" = 0 ] && echo "check_bench_requeue: passed ($requeues requeues)"
[ "$fails" = 0 ]
