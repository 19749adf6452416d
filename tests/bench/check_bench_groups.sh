#!/bin/sh
# The bench's fine-tuning runs spread over groups of ranks (bench.finetune_groups): the
# tiny scene's 2 shot settings x 2 runs on 1 rank (one after the other), on 2 ranks (two
# groups of one, every run on one rank) and on 3 ranks (two groups of 2 and 1, evaluation
# sharded in the first) give the same result files, map for map; a run that fails in one
# group ends every rank with its reason.
# usage: check_bench_groups.sh SOURCE_DIR DIFFCLIP MPIEXEC WORK_DIR
set -eu
src=$1 bin=$2 mpiexec=$3 work=$4
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work" && mkdir -p "$work" && cd "$work"
bench() { # NP OUT [SETS...]
  np=$1 out=$2; shift 2
  timeout 300 "$mpiexec" --oversubscribe --bind-to none -x OMP_NUM_THREADS=1 -np "$np" "$bin" bench \
    --config "$src/configs/experiments/demo.cfg" --set data.synthetic=tiny --set "bench.out_dir=$out" \
    --set bench.shots=2,4 --set bench.runs=2 --set finetune.init=scratch --set finetune.epochs=8 \
    --set run.name=groups "$@"
}
bench 1 one > one.log 2>&1 || { tail -20 one.log; fail "bench on 1 rank"; }
bench 2 two > two.log 2>&1 || { tail -20 two.log; fail "bench on 2 ranks"; }
bench 3 three --set bench.finetune_groups=2 > three.log 2>&1 || { tail -20 three.log; fail "bench on 3 ranks"; }
grep -q "4 runs on 2 groups of ranks at once" two.log || { cat two.log; fail "2 ranks: not 2 groups"; }
grep -q "round 2 of 2: 4-shot run 0, 4-shot run 1: 3-4 of 4 in this entry" three.log || { cat three.log; fail "3 ranks: no round line"; }
n=0
for f in one/synthetic*/shots_*/run_*/result.h5; do
  rel=${f#one/}
  for other in two three; do
    test -f "$other/$rel" || fail "$other/$rel missing"
    if command -v h5diff > /dev/null 2>&1; then
      for ds in /confusion /map/prediction /map/top2 /map/top2_prob /curves/finetune_loss /curves/val_acc; do
        h5diff -q "$f" "$other/$rel" "$ds" "$ds" || fail "$ds of $rel differs between 1 rank and $other"
      done
    else
      cmp -s "$(dirname "$f")/prediction.tif" "$other/$(dirname "$rel")/prediction.tif" || fail "$rel: the maps differ ($other)"
    fi
  done
  n=$((n + 1))
done
[ "$n" -eq 4 ] || fail "$n result files on 1 rank, 4 expected"
grep -q '| synthetic-demo | 4 |' two/report/report.md || fail "no Table 1 row in the 2-rank report"
# a stop request during a round (SIGTERM to every rank): both groups stop at an epoch
# boundary, the bench exits 85, and the rerun finishes with the results of an
# uninterrupted bench
bench 2 ref --set finetune.epochs=200 --set bench.shots=4 > ref.log 2>&1 || { tail -20 ref.log; fail "bench ref"; }
bench 2 stopped --set finetune.epochs=200 --set bench.shots=4 > stop1.log 2>&1 &
pid=$!
for i in $(seq 1 600); do grep -q "epoch 1/200" stop1.log 2> /dev/null && break; sleep 0.1; done
ranks=""
for p in $(pgrep -f "bench.out_dir=stopped"); do # the ranks, not mpirun
  [ "$(cat /proc/$p/comm 2> /dev/null)" = diffclip ] && ranks="$ranks $p"
done
[ -n "$ranks" ] || fail "no rank to signal"
kill -TERM $ranks
set +e; wait $pid; rc=$?; set -e
[ "$rc" -eq 85 ] || { tail -20 stop1.log; fail "stopped bench: exit $rc, 85 expected"; }
grep -q "stopping after epoch" stop1.log || { tail -20 stop1.log; fail "no run stopped at an epoch boundary"; }
bench 2 stopped --set finetune.epochs=200 --set bench.shots=4 > stop2.log 2>&1 || { tail -20 stop2.log; fail "rerun after the stop"; }
for r in 0 1; do
  for ds in /confusion /map/prediction; do
    h5diff -q "ref/synthetic-demo/shots_4/run_$r/result.h5" "stopped/synthetic-demo/shots_4/run_$r/result.h5" "$ds" "$ds" ||
      fail "run $r: $ds differs after the stop and rerun"
  done
done
# one group's run fails (its folder is a file): every rank ends, with the reason, promptly
mkdir -p bad/synthetic-demo/shots_4 && : > bad/synthetic-demo/shots_4/run_1
set +e; bench 2 bad > bad.log 2>&1; rc=$?; set -e
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || { tail -20 bad.log; fail "a failing run in one group: exit $rc"; }
grep -q "run_1" bad.log || { tail -20 bad.log; fail "the failing run's reason was not given"; }
echo "bench groups: ok"
