#!/bin/sh
# bench-speed at batch 4, one iteration: every case runs (the inference one on the
# inference-only model) and prints samples/s and its resident and peak memory.
# usage: check_bench_speed.sh DIFFCLIP
set -eu
out=$(OMP_NUM_THREADS=1 timeout 300 "$1" bench-speed --backend cpu --batch 4 --iters 1 --warmup 0 2>&1) ||
  { echo "$out"; echo "FAIL: bench-speed exited $?"; exit 1; }
echo "$out"
for case in "pretraining step" "fine-tuning step, text per image" "inference batch" "fine-tuning step, text per class"; do
  echo "$out" | grep -E "^$case.* samples/s .* rss [0-9]+ MiB, peak [0-9]+ MiB$" > /dev/null ||
    { echo "FAIL: no '$case' line with samples/s and memory"; exit 1; }
done
echo "$out" | grep -q "speed-up\|faster than" && { echo "FAIL: a speed-up against nothing measured here"; exit 1; }
echo "bench-speed: ok"
