#!/bin/bash
# The job templates under jobs/: every one parses (bash -n); the two Slurm templates share
# their body; and, with fake srun/scontrol/mpiexec/qstat/qsub on PATH, the signal and
# requeue logic does what the comments promise:
#   Slurm: SIGUSR1 to the batch shell -> SIGUSR2 to srun -> exit 85 -> scontrol requeue;
#          exit codes 0 and 86 end the job unchanged; SIGTERM (scancel) never requeues.
#   PBS:   the wall time from qstat becomes pretrain.max_wall_s; exit 85 -> qsub of the
#          same script after this job; SIGUSR2 (qsig) reaches mpiexec; 86 ends the job.
# usage: check_templates.sh SOURCE_DIR
set -u
src="$1"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

templates=(jobs/slurm/pretrain.sbatch jobs/slurm/bench.sbatch jobs/slurm/cpu.sbatch jobs/pbs/pretrain.pbs jobs/local/run.sh)
for t in "${templates[@]}"; do
  [ -f "$src/$t" ] || { fail "$t is missing"; continue; }
  bash -n "$src/$t" || fail "bash -n $t"
  [ -x "$src/$t" ] || fail "$t is not executable"
done

# Everything after the settings block is the same in both Slurm templates.
body() { sed -n '/^# -*$/,$p' "$1" | sed '1{/^# -*$/!d}'; }
[ -n "$(body "$src/jobs/slurm/pretrain.sbatch")" ] || fail "pretrain.sbatch has no end-of-settings line"
if ! diff <(body "$src/jobs/slurm/pretrain.sbatch") <(body "$src/jobs/slurm/cpu.sbatch") >/dev/null; then
  fail "pretrain.sbatch and cpu.sbatch differ below their settings"
fi
if ! diff <(body "$src/jobs/slurm/pretrain.sbatch") <(body "$src/jobs/slurm/bench.sbatch") >/dev/null; then
  fail "pretrain.sbatch and bench.sbatch differ below their settings"
fi
grep -q '^#SBATCH --signal=B:USR1@' "$src/jobs/slurm/pretrain.sbatch" || fail "pretrain.sbatch: no --signal=B:USR1@"
grep -q '^#PBS -r y' "$src/jobs/pbs/pretrain.pbs" || fail "pretrain.pbs: not rerunnable"

work=$(mktemp -d /tmp/dc_jobs_XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/submit/configs"
echo 'run = { name = "x"; };' >"$work/submit/configs/test.cfg"
printf '#!/bin/sh\nexit 0\n' >"$work/submit/diffclip"
chmod +x "$work/submit/diffclip"

# A fake launcher (srun or mpiexec): records its arguments and the signals it gets; exits
# 85 on SIGUSR2 (as diffclip does), or with $FAKE_RC at once, or with $FAKE_LATE_RC (0 by
# default) after two seconds.
for launcher in srun mpiexec; do
  cat >"$work/bin/$launcher" <<EOF
#!/bin/bash
echo "\$PPID" >"$work/$launcher.ppid"
echo "\$*" >"$work/$launcher.args"
trap 'echo USR2 >>"$work/$launcher.signals"; exit 85' USR2
trap 'echo USR1 >>"$work/$launcher.signals"' USR1
[ -n "\${FAKE_RC:-}" ] && exit "\$FAKE_RC"
for i in \$(seq 40); do sleep 0.05; done
exit "\${FAKE_LATE_RC:-0}"
EOF
done
cat >"$work/bin/scontrol" <<EOF
#!/bin/sh
echo "\$*" >>"$work/scontrol.args"
EOF
cat >"$work/bin/qstat" <<EOF
#!/bin/sh
printf 'Job Id: %s\n    Resource_List.ncpus = 64\n    Resource_List.walltime = 01:00:00\n' "\$2"
EOF
cat >"$work/bin/qsub" <<EOF
#!/bin/sh
echo "\$*" >>"$work/qsub.args"
echo "CONTINUE_COUNT=\$CONTINUE_COUNT" >>"$work/qsub.args"
echo 124.server
EOF
chmod +x "$work"/bin/*
printf 'n1\nn1\n' >"$work/nodefile"

reset() { rm -f "$work"/*.args "$work"/*.signals "$work"/*.ppid "$work/out"; }
# wait_for FILE: until the fake launcher has started (5 s at most)
wait_for() { for _ in $(seq 100); do [ -e "$1" ] && return 0; sleep 0.05; done; return 1; }

# the Slurm template with a fake job environment (extra args go to the script); signals go
# to the batch shell, the fake launcher's parent
slurm() (
  exec env PATH="$work/bin:$PATH" SLURM_JOB_ID=4242 SLURM_SUBMIT_DIR="$work/submit" SLURM_CPUS_PER_TASK=3 \
    CONFIG=configs/test.cfg DIFFCLIP=./diffclip bash "$src/jobs/slurm/pretrain.sbatch" "$@" 2>"$work/out"
)

# 1. SIGUSR1 before the time limit: forwarded as SIGUSR2, exit 85, requeued, script ends 0
reset
slurm --set pretrain.epochs=3 &
pid=$!
wait_for "$work/srun.args" || fail "slurm: srun never started"
kill -USR1 "$(cat "$work/srun.ppid")"
wait "$pid"
rc=$?
[ "$rc" = 0 ] || fail "slurm USR1: script exit code $rc, expected 0 after the requeue"
grep -qx USR2 "$work/srun.signals" 2>/dev/null || fail "slurm USR1: srun did not get SIGUSR2"
grep -qx "requeue 4242" "$work/scontrol.args" 2>/dev/null || fail "slurm USR1: no 'scontrol requeue 4242'"
grep -q -- "--mpi=pmix --gpu-bind=none" "$work/srun.args" || fail "slurm: srun options: $(cat "$work/srun.args")"
grep -q -- "--cpus-per-task=3 ./diffclip pretrain --config configs/test.cfg --set pretrain.epochs=3" "$work/srun.args" ||
  fail "slurm: command line: $(cat "$work/srun.args")"

# 1b. the CPU template: no GPU binding, the CPU backend, the script's arguments after it
reset
(exec env PATH="$work/bin:$PATH" SLURM_JOB_ID=4243 SLURM_SUBMIT_DIR="$work/submit" SLURM_CPUS_PER_TASK=16 \
  CONFIG=configs/test.cfg DIFFCLIP=./diffclip FAKE_RC=0 bash "$src/jobs/slurm/cpu.sbatch" --set pretrain.epochs=3 2>"$work/out")
rc=$?
[ "$rc" = 0 ] || fail "cpu.sbatch: exit code $rc"
grep -q -- "gpu-bind" "$work/srun.args" && fail "cpu.sbatch: srun got a GPU binding: $(cat "$work/srun.args")"
grep -q -- "--mpi=pmix --cpu-bind=cores --cpus-per-task=16 ./diffclip pretrain --config configs/test.cfg --set run.backend=cpu --set pretrain.epochs=3" \
  "$work/srun.args" || fail "cpu.sbatch: command line: $(cat "$work/srun.args")"

# 2. exit codes other than 85 end the job unchanged, without a requeue
for code in 0 86 1; do
  reset
  FAKE_RC=$code slurm
  rc=$?
  [ "$rc" = "$code" ] || fail "slurm: diffclip exit $code, script exit $rc"
  [ -e "$work/scontrol.args" ] && fail "slurm: requeued after exit code $code"
done
# 3. exit 85 by itself (pretrain.max_wall_s): requeued
reset
FAKE_RC=85 slurm
rc=$?
if [ "$rc" != 0 ] || ! grep -qx "requeue 4242" "$work/scontrol.args" 2>/dev/null; then fail "slurm: exit 85 not requeued (rc $rc)"; fi
# 4. too many requeues: exits 85 without requeueing
reset
FAKE_RC=85 SLURM_RESTART_COUNT=20 slurm
rc=$?
if [ "$rc" != 85 ] || [ -e "$work/scontrol.args" ]; then fail "slurm: MAX_REQUEUES not honoured (rc $rc)"; fi
# 5. SIGTERM (scancel; Slurm signals the ranks itself): even a step ending with 85 is not
#    requeued, and the script waits for the step and passes its exit code on
reset
FAKE_LATE_RC=85 slurm &
pid=$!
wait_for "$work/srun.args" || fail "slurm: srun never started"
kill -TERM "$(cat "$work/srun.ppid")"
wait "$pid"
rc=$?
[ -e "$work/scontrol.args" ] && fail "slurm: requeued after SIGTERM"
[ "$rc" = 85 ] || fail "slurm SIGTERM: script exit $rc, expected the step's 85"

pbs() (
  exec env PATH="$work/bin:$PATH" PBS_JOBID=123.server PBS_O_WORKDIR="$work/submit" PBS_NODEFILE="$work/nodefile" \
    CONFIG=configs/test.cfg DIFFCLIP=./diffclip EXTRA_ARGS="--set pretrain.epochs=2" \
    bash "$src/jobs/pbs/pretrain.pbs" 2>"$work/out"
)
# 6. PBS: the wall time becomes max_wall_s; 85 -> qsub of the same script after this job
reset
FAKE_RC=85 pbs
rc=$?
[ "$rc" = 0 ] || fail "pbs: exit 85 continued, script exit $rc (log: $(cat "$work/out"))"
grep -q -- "-n 2 -x OMP_NUM_THREADS -x HDF5_USE_FILE_LOCKING -x DIFFCLIP_STOP_FILE --bind-to none ./diffclip pretrain --config configs/test.cfg --set pretrain.max_wall_s=3300 --set pretrain.epochs=2" \
  "$work/mpiexec.args" 2>/dev/null || fail "pbs: mpiexec command line: $(cat "$work/mpiexec.args" 2>/dev/null)"
grep -q -- "-W depend=afterany:123.server -v .* jobs/pbs/pretrain.pbs" "$work/qsub.args" 2>/dev/null ||
  fail "pbs: qsub: $(cat "$work/qsub.args" 2>/dev/null)"
grep -qx "CONTINUE_COUNT=1" "$work/qsub.args" 2>/dev/null || fail "pbs: continuation count not passed on"
# 7. PBS: qsig -s USR2 reaches mpiexec (then 85 and a continuation); 86 ends the job
reset
pbs &
pid=$!
wait_for "$work/mpiexec.args" || fail "pbs: mpiexec never started"
kill -USR2 "$(cat "$work/mpiexec.ppid")"
wait "$pid"
rc=$?
grep -qx USR2 "$work/mpiexec.signals" 2>/dev/null || fail "pbs: mpiexec did not get SIGUSR2"
if [ "$rc" != 0 ] || [ ! -e "$work/qsub.args" ]; then fail "pbs USR2: not continued (rc $rc)"; fi
reset
FAKE_RC=86 pbs
rc=$?
if [ "$rc" != 86 ] || [ -e "$work/qsub.args" ]; then fail "pbs: exit 86 gave $rc and/or a continuation"; fi

echo "check_templates: ${#templates[@]} templates, $fails failure(s)"
[ "$fails" = 0 ]
