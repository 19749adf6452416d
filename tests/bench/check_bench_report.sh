#!/usr/bin/env bash
# `diffclip bench` on the tiny synthetic scene (2 ranks, one shot setting, 2 runs), then the
# report's files are checked: the Table 1 row with both runs, per-class table, maps (PNG
# signatures), curves (SVG), report.json values agreeing with report.md, report.html with
# its images embedded. A second bench run must reuse every finished piece.
# usage: check_bench_report.sh SOURCE_DIR DIFFCLIP MPIEXEC WORK_DIR
set -u
src=$1 bin=$2 mpiexec=$3 work=$4
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fail() { echo "FAIL: $*" >&2; exit 1; }
rm -rf "$work" && mkdir -p "$work" || fail "cannot make $work"
out="$work/bench"
sets=(--set data.synthetic=tiny --set "bench.out_dir=$out" --set bench.shots=4 --set bench.runs=2
      --set pretrain.epochs=2 --set finetune.epochs=10 --set run.name=tiny-bench --set bench.finetune_groups=1)
"$mpiexec" --oversubscribe --bind-to none -np 2 -x OMP_NUM_THREADS=1 "$bin" bench \
  --config "$src/configs/experiments/demo.cfg" "${sets[@]}" > "$work/log1.txt" 2>&1 || { tail -20 "$work/log1.txt"; fail "bench exited $?"; }
rep="$out/report"
for f in report.md report.html report.json table1.csv; do [ -s "$rep/$f" ] || fail "$rep/$f missing or empty"; done
grep -q "report: $rep/report.html" "$work/log1.txt" || fail "the bench did not end with the path of report.html"
# progress: the entry with its position, elapsed h:mm:ss; each run "i of N" with the bench's
# elapsed time and, from the second run on, the entry's time left as h:mm:ss
grep -qE "bench: synthetic[^ ]* \(1 of 1; elapsed [0-9]+:[0-9]{2}:[0-9]{2}, overall time left known after the first entry\)" \
  "$work/log1.txt" || fail "no entry progress line (i of N, elapsed h:mm:ss)"
grep -qE "4-shot run 1: 2 of 2 in this entry \(bench elapsed [0-9]+:[0-9]{2}:[0-9]{2}, [0-9]+:[0-9]{2}:[0-9]{2} left for the entry\)" \
  "$work/log1.txt" || fail "no run progress line with elapsed and time left as h:mm:ss"
row=$(grep -m1 -E '^\| synthetic-demo \| 4 \| [^|]* \| 2/2 \|' "$rep/report.md") || fail "no Table 1 row for 4 shots with 2/2 runs"
oa=$(echo "$row" | awk -F'|' '{print $6}' | awk '{print $1}')
awk -v oa="$oa" 'BEGIN { exit !(oa > 25 && oa <= 100) }' || fail "OA $oa% is not above chance (25%)"
grep -q '"oa"' "$rep/report.json" || fail "report.json has no OA"
grep -q "Per-class accuracy" "$rep/report.md" || fail "no per-class table"
n_png=0
for p in "$rep"/maps/*.png; do
  [ "$(head -c 8 "$p" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "$p is not a PNG"
  n_png=$((n_png + 1))
done
[ "$n_png" -ge 3 ] || fail "expected prediction, truth and error maps, found $n_png PNGs"
ls "$rep"/curves/*.svg > /dev/null 2>&1 || fail "no SVG curves"
grep -q "<svg" "$rep"/curves/*pretrain*.svg || fail "no pretraining curve"
grep -q "data:image/png;base64," "$rep/report.html" || fail "report.html does not embed its maps"
# a second run reuses the pretraining and both result files
"$mpiexec" --oversubscribe --bind-to none -np 2 -x OMP_NUM_THREADS=1 "$bin" bench \
  --config "$src/configs/experiments/demo.cfg" "${sets[@]}" > "$work/log2.txt" 2>&1 || fail "second bench exited $?"
grep -q "fine-tuning run" "$work/log2.txt" && fail "the second bench fine-tuned again instead of reusing the results"
echo "bench report checks passed (OA $oa%)"
