#!/usr/bin/env bash
# Two jobs on one run folder: while a first pretraining holds it, a second one on the same
# folder must be refused at once, naming the folder and the owner; once the first has ended
# (here by a real SIGTERM, its requeue stop), the folder is free again and the run resumes.
set -uo pipefail
diffclip="$1" mpirun="$2" src="$3" work="$4"
rm -rf "$work"; mkdir -p "$work"
run() {
  "$mpirun" --oversubscribe --bind-to none -np 1 -x OMP_NUM_THREADS=1 "$diffclip" pretrain \
    --config "$src/configs/experiments/demo.cfg" --set data.synthetic=tiny --set run.out_dir="$work" \
    --set run.name=shared --set pretrain.max_steps="$1" --set pretrain.epochs=100000 --set pretrain.checkpoint_every=100000 \
    --set pretrain.log_every=1
}
fails=0
run 1000000 > "$work/first.log" 2>&1 &
first=$!
for _ in $(seq 600); do [[ -s "$work/shared/metrics.jsonl" ]] && break; sleep 0.1; done
[[ -s "$work/shared/metrics.jsonl" ]] || { echo "FAIL: the first job did not start"; kill $first; exit 1; }
timeout 120 bash -c "$(declare -f run); diffclip='$diffclip' mpirun='$mpirun' src='$src' work='$work' run 10" > "$work/second.log" 2>&1
rc=$?
if [[ $rc -eq 0 || $rc -eq 124 ]]; then echo "FAIL: the second job on a busy folder exited $rc"; fails=$((fails + 1)); fi
grep -q "is in use by another job (host .*, pid" "$work/second.log" || { echo "FAIL: no 'in use' message:"; tail -3 "$work/second.log"; fails=$((fails + 1)); }
# a real SIGTERM to the rank that holds the folder (its pid is in the lock file): it stops
# for requeue with a checkpoint, and its process, with the lock, ends
owner=$(sed -n 's/.*pid \([0-9]*\).*/\1/p' "$work/shared/lock")
kill -TERM "$owner"
wait $first
echo "first job ended with $? after SIGTERM to rank 0 (pid $owner)"
for _ in $(seq 300); do kill -0 "$owner" 2>/dev/null || break; sleep 0.1; done
timeout 120 bash -c "$(declare -f run); diffclip='$diffclip' mpirun='$mpirun' src='$src' work='$work' run 5" > "$work/third.log" 2>&1 \
  || { echo "FAIL: the folder was not free after the first job ended"; tail -3 "$work/third.log"; fails=$((fails + 1)); }
[[ $fails -eq 0 ]] && echo "check_run_lock: passed ($(grep -o 'is in use by another job ([^)]*)' "$work/second.log"))"
exit $((fails > 0))
