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

# The GEMM precision: the header names it; bf16 where the CPU has bf16 instructions, else
# fp32 with a note; anything else is refused.
echo "$out" | grep -q "oneDNN [0-9.]* (.* kernels), CPU GEMMs fp32" || { echo "FAIL: no 'CPU GEMMs fp32' in the header"; exit 1; }
out=$(OMP_NUM_THREADS=1 timeout 300 "$1" bench-speed --backend cpu --precision bf16 --batch 2 --iters 1 --warmup 0 2>&1) ||
  { echo "$out"; echo "FAIL: bench-speed --precision bf16 exited $?"; exit 1; }
if echo "$out" | grep -q "no bf16 instructions"; then
  echo "$out" | grep -q "CPU GEMMs fp32" || { echo "FAIL: bf16 fell back but the header does not say fp32"; exit 1; }
  echo "bench-speed: this CPU has no bf16 instructions (fp32 kept, as it should)"
else
  echo "$out" | grep -q "CPU GEMMs bf16" || { echo "$out"; echo "FAIL: --precision bf16 not in effect"; exit 1; }
fi
echo "$out" | grep -q "^inference batch.* samples/s" || { echo "FAIL: no inference line in bf16"; exit 1; }
err=$(mktemp)
if "$1" bench-speed --precision fp16 > /dev/null 2>"$err"; then echo "FAIL: --precision fp16 accepted"; exit 1; fi
grep -q "expected fp32 or bf16" "$err" || { cat "$err"; echo "FAIL: no message for --precision fp16"; exit 1; }
rm -f "$err"
echo "bench-speed precision: ok"

# --case: only the cases named are timed; an unknown name is refused with the list.
out=$(OMP_NUM_THREADS=1 timeout 300 "$1" bench-speed --backend cpu --case inference,pretrain --batch 2 --iters 1 --warmup 0 2>&1) ||
  { echo "$out"; echo "FAIL: bench-speed --case exited $?"; exit 1; }
echo "$out" | grep -q "^inference batch.* samples/s" || { echo "$out"; echo "FAIL: --case inference,pretrain: no inference line"; exit 1; }
echo "$out" | grep -q "^pretraining step.* samples/s" || { echo "$out"; echo "FAIL: --case inference,pretrain: no pretraining line"; exit 1; }
echo "$out" | grep -q "^fine-tuning" && { echo "$out"; echo "FAIL: --case inference,pretrain timed a fine-tuning step"; exit 1; }
err=$(mktemp)
if "$1" bench-speed --case inferance > /dev/null 2>"$err"; then echo "FAIL: --case inferance accepted"; exit 1; fi
grep -q "'inferance': expected a comma-separated list of pretrain, finetune" "$err" || { cat "$err"; echo "FAIL: no message for --case inferance"; exit 1; }
rm -f "$err"
echo "bench-speed --case: ok"
