#!/bin/bash
# diffclip on one machine (a workstation, a laptop, a single cloud VM) under mpirun.
#
#   jobs/local/run.sh                                   # the settings below
#   NP=4 CONFIG=configs/trento.cfg jobs/local/run.sh    # settings from the environment
#   jobs/local/run.sh --set pretrain.epochs=10          # arguments go to diffclip VERB
#
# Run it from the repository root (paths below are relative to the working directory).
# When diffclip stops with exit code 85 (it wrote a checkpoint and wants to be restarted:
# pretrain.max_wall_s ran out, or it got SIGTERM/SIGUSR2 from somewhere else) the script
# runs the same command again, which resumes from that checkpoint (pretrain.resume =
# "auto"), until it ends with any other code. Ctrl-C or `kill <pid of this script>` asks
# diffclip to checkpoint and stop (SIGUSR2), then the script exits with 85 without
# restarting; `kill -USR1 <pid>` asks for a checkpoint and training goes on.
# Exit codes: those of diffclip (0 done, 1 error, 2 usage, 85 stopped with a checkpoint,
# 86 diverged: docs/guide.md), or 3 when the settings below are wrong.

# ---- settings: edit here or set them in the environment ---------------------------------
NP="${NP:-2}"                                   # MPI ranks (processes)
THREADS="${THREADS:-auto}"                      # OpenMP threads per rank; auto = cores / NP (at least 1)
CONFIG="${CONFIG-configs/experiments/demo.cfg}"   # configuration file; set but empty: built-in defaults only
VERB="${VERB:-pretrain}"                        # the diffclip verb to run
DIFFCLIP="${DIFFCLIP:-build/diffclip}"          # the program
MPIRUN="${MPIRUN:-mpirun}"                      # Open MPI's mpirun (the one diffclip was built with)
MPIRUN_ARGS="${MPIRUN_ARGS:-}"                  # extra mpirun options, e.g. "--mca btl ^openib"
MAX_RESTARTS="${MAX_RESTARTS:-100}"             # stop looping after this many exit-85 restarts
# ------------------------------------------------------------------------------------------

say() { echo "run.sh: $*" >&2; }

if ! [[ "$NP" =~ ^[1-9][0-9]*$ ]]; then say "NP must be a positive integer, got '$NP'"; exit 3; fi
if ! [[ "$MAX_RESTARTS" =~ ^[0-9]+$ ]]; then say "MAX_RESTARTS must be an integer, got '$MAX_RESTARTS'"; exit 3; fi
if [ ! -x "$DIFFCLIP" ]; then
  say "no program at DIFFCLIP=$DIFFCLIP (build it: make build, or cmake --build build)"; exit 3
fi
if ! command -v "$MPIRUN" >/dev/null 2>&1; then
  say "MPIRUN=$MPIRUN not found (Debian: apt-get install openmpi-bin)"; exit 3
fi
if [ -n "$CONFIG" ] && [ ! -r "$CONFIG" ]; then say "cannot read CONFIG=$CONFIG"; exit 3; fi

# Each rank gets its share of the cores: OpenMP would otherwise start one thread per core
# in every rank, and NP ranks would fight over the cores.
if [ "$THREADS" = auto ]; then
  cores=$(nproc 2>/dev/null || echo 1)
  THREADS=$((cores / NP))
  [ "$THREADS" -ge 1 ] || THREADS=1
fi
if ! [[ "$THREADS" =~ ^[1-9][0-9]*$ ]]; then say "THREADS must be a positive integer or auto, got '$THREADS'"; exit 3; fi
export OMP_NUM_THREADS="$THREADS"

# Open MPI refuses to run as root unless both variables are set.
if [ "$(id -u)" = 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

# --oversubscribe: more ranks than cores is allowed (slow, but it runs: tests, laptops).
# --bind-to none: Open MPI would pin each rank to one core, and its OpenMP threads with it.
# -x: pass these variables to every rank.
cmd=("$MPIRUN" --oversubscribe --bind-to none -np "$NP" -x OMP_NUM_THREADS)
for v in HDF5_USE_FILE_LOCKING DIFFCLIP_INJECT_NAN_FROM_STEP; do
  [ -n "${!v+x}" ] && cmd+=(-x "$v")
done
# shellcheck disable=SC2206  # MPIRUN_ARGS is split into words on purpose
[ -n "$MPIRUN_ARGS" ] && cmd+=($MPIRUN_ARGS)
cmd+=("$DIFFCLIP" "$VERB")
[ -n "$CONFIG" ] && cmd+=(--config "$CONFIG")
cmd+=("$@")

# mpirun runs in the background so that the traps below run at once (bash runs a trap only
# after the foreground command ends). mpirun passes SIGUSR1 and SIGUSR2 on to every rank;
# SIGTERM would make it kill the ranks a few seconds later, before a checkpoint is written.
child=0
stopping=0
got_signal=0
forward() { got_signal=1; [ "$child" -gt 0 ] && kill -s "$1" "$child" 2>/dev/null; }
trap 'stopping=1; say "stop requested: diffclip checkpoints and stops"; forward USR2' INT TERM
trap 'say "checkpoint requested"; forward USR1' USR1

restarts=0
while :; do
  say "$(date '+%F %T') ${cmd[*]}"
  # job control on for the launch only: mpirun gets a process group of its own, so Ctrl-C in
  # the terminal reaches this script alone (whose trap asks for a clean stop) and not
  # mpirun, which would kill the ranks; stdin from /dev/null, as it is not in the foreground
  set -m
  "${cmd[@]}" </dev/null &
  child=$!
  set +m
  # wait returns early (status > 128) when a trapped signal arrives: then wait again, until
  # mpirun itself has ended, for its exit code (127: already collected, keep the last one)
  rc=0
  while :; do
    got_signal=0
    wait "$child"
    r=$?
    [ "$r" -ne 127 ] && rc=$r
    [ "$got_signal" = 1 ] || break
  done
  child=0
  if [ "$rc" -ne 85 ] || [ "$stopping" = 1 ]; then
    say "diffclip $VERB ended with exit code $rc"
    exit "$rc"
  fi
  if [ "$restarts" -ge "$MAX_RESTARTS" ]; then
    say "exit code 85 again after $restarts restarts (MAX_RESTARTS): giving up; rerun this script to continue"
    exit 85
  fi
  restarts=$((restarts + 1))
  say "exit code 85: stopped with a checkpoint; restart $restarts of at most $MAX_RESTARTS resumes from it"
done
