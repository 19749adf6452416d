#!/bin/bash
# The CUDA backend's checks in one call on a GPU machine (docs/performance.md, "GPU"):
#   1. every CUDA op against the CPU reference (tests/test_cuda_ops.c)
#   2. the golden test on the CPU, then on the GPU in float32-exact and TF32 mode
#   3. gradient averaging of GPU memory on 2 ranks (NCCL when the machine has 2 GPUs, else
#      through host memory: NCCL refuses two ranks on one GPU), and a pretraining smoke run
#      on the GPU (2 ranks with NCCL on 2 GPUs; 1 rank on 1 GPU, since the launch checks
#      refuse more ranks than GPUs) beside the same run on the CPU, last losses compared
#   4. bench-speed on the GPU at batch 128 (with the inference batch also as one CUDA graph)
#      and 512 in TF32, and at 128 in float32-exact
# and writes summary.txt and logs.txt (every step's output, the libraries resolved) into
# $OUT (the device tool's output folder: two files, well within what comes back) or
# ./gpu_check_out. It needs nothing built on the GPU machine: run
#   jobs/device/make_bundle.sh build-gpu
# on the build machine first, and carry build-gpu/gpu_bundle.tar.xz.
#
# usage (repository root): jobs/device/gpu_check.sh [BUILD_DIR]     (default build-gpu)
# exit 0 when every step passed.
set -u

BUILD=${1:-build-gpu}
ROOT=$(pwd)
RES=${OUT:-$ROOT/gpu_check_out}
mkdir -p "$RES"
SUMMARY=$RES/summary.txt
: >"$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }

if [ ! -f "$BUILD/gpu_bundle.tar.xz" ]; then
  say "gpu_check: $BUILD/gpu_bundle.tar.xz not found: run jobs/device/make_bundle.sh $BUILD on the build machine"
  exit 2
fi
WORK=$(mktemp -d /tmp/diffclip_gpu.XXXXXX)
LOGS=$WORK/logs
mkdir -p "$LOGS"
tar -C "$WORK" -xJf "$BUILD/gpu_bundle.tar.xz"
B=$WORK/gpu_bundle
L=$B/usr/lib/x86_64-linux-gnu

# General-purpose libraries: the machine's own copy where it has the same soname (newer and
# compatible); Open MPI, HDF5, OpenBLAS and their close companions: always ours.
mkdir -p "$B/unused"
for f in "$L"/*.so*; do
  n=$(basename "$f")
  case $n in
    libmpi* | libopen-* | libmca_common* | liboshmem* | libpmix* | libhwloc* | libevent* | libhdf5* | libsz* | libaec* | \
      libopenblas* | libgfortran* | libquadmath* | libconfig*) continue ;;
  esac
  if ldconfig -p | awk '{print $1}' | grep -qxF "$n"; then mv "$f" "$B/unused/"; fi
done

# CUDA's libraries from this machine (matching its driver): the system's, the toolkit's or
# the ones pip installed for PyTorch.
CUDA_DIRS=""
for lib in libcublas.so.13 libcublasLt.so.13 libnccl.so.2; do
  if ldconfig -p | awk '{print $1}' | grep -qxF "$lib"; then continue; fi
  path=$(find /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets /usr/local /opt /usr/lib \
    -name "$lib" 2>/dev/null | head -n 1)
  if [ -n "$path" ]; then
    CUDA_DIRS="$CUDA_DIRS:$(dirname "$path")"
  else
    say "gpu_check: $lib not found on this machine"
  fi
done

export LD_LIBRARY_PATH="$L:$L/openmpi/lib:$L/pmix2/lib$CUDA_DIRS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export OPAL_PREFIX=$B/usr PATH=$B/usr/bin:$PATH
# PMIx ignores its relocation variable in this build: name its plugin folder instead
export PMIX_PREFIX=$L/pmix2 PMIX_MCA_mca_base_component_path=$L/pmix2/lib/pmix
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# one node, shared memory only; no single-copy mechanism (needs ptrace rights in VMs)
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_osc=sm,pt2pt OMPI_MCA_coll=^hcoll
export DIFFCLIP_GOLDEN=$ROOT/tests/golden/diffclip_tiny.h5
NGPU=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
NCPU=$(nproc)
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --bind-to none -x LD_LIBRARY_PATH -x OPAL_PREFIX
  -x PMIX_PREFIX -x PMIX_MCA_mca_base_component_path -x PATH)

say "gpu_check $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname): $NGPU GPU(s), $NCPU CPUs, commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>&1 | sed 's/^/  gpu: /' | tee -a "$SUMMARY"
{ ldd "$B/bin/diffclip"; echo; env | grep -E '^(LD_LIBRARY_PATH|OPAL_PREFIX|PMIX_PREFIX|PMIX_MCA|OMPI_MCA)'; } >"$LOGS/environment.log" 2>&1
if grep -q "not found" "$LOGS/environment.log"; then
  say "gpu_check: libraries not found (see logs.txt):"
  grep "not found" "$LOGS/environment.log" | tee -a "$SUMMARY"
fi

FAILED=0
# step NAME SECONDS COMMAND...: runs it with a time limit, logs it, records PASS/FAIL.
step() {
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$LOGS/$name.log" 2>&1
  local rc=$?
  local verdict=PASS note=""
  if [ $rc -ne 0 ]; then
    verdict=FAIL
    note="  (exit $rc$([ $rc -eq 124 ] && echo ", timed out after $limit s"))"
    FAILED=$((FAILED + 1))
  fi
  say "$(printf '%-26s %-6s %4d s' "$name" "$verdict" $((SECONDS - t0)))$note"
  return $rc
}

say ""
say "step                       result  time"
step cuda_ops 300 env OMP_NUM_THREADS="$NCPU" "$B/bin/test_cuda_ops"
step golden_cpu 120 env DIFFCLIP_BACKEND=cpu OMP_NUM_THREADS="$NCPU" "$B/bin/test_golden"
step golden_cuda_fp32 120 env DIFFCLIP_BACKEND=cuda-fp32 "$B/bin/test_golden"
step golden_cuda_tf32 120 env DIFFCLIP_BACKEND=cuda "$B/bin/test_golden"

PRE=(pretrain --config "$ROOT/configs/experiments/demo.cfg" --set "run.out_dir=\"$WORK/runs\"" --set pretrain.max_steps=40
  --set pretrain.checkpoint_every=40)
step gradavg_2ranks 120 "${MPIRUN[@]}" -np 2 "$B/bin/test_mpi_gradavg"
NP=$((NGPU >= 2 ? 2 : 1))
step pretrain_gpu 240 "${MPIRUN[@]}" -np $NP -x OMP_NUM_THREADS=4 "$B/bin/diffclip" "${PRE[@]}" \
  --set 'run.backend="cuda"' --set 'run.name="gpu"'
step pretrain_cpu 240 "${MPIRUN[@]}" -np $NP -x OMP_NUM_THREADS=4 "$B/bin/diffclip" "${PRE[@]}" \
  --set 'run.backend="cpu"' --set 'run.name="cpu"'

BENCH=("${MPIRUN[@]}" -np 1 -x OMP_NUM_THREADS="$NCPU" "$B/bin/diffclip" bench-speed)
step bench_tf32_b128 300 "${BENCH[@]}" --backend cuda --batch 128 --iters 20 --warmup 3 --graph
step bench_tf32_b512 300 "${BENCH[@]}" --backend cuda --batch 512 --iters 10 --warmup 2
step bench_fp32_b128 300 "${BENCH[@]}" --backend cuda-fp32 --batch 128 --iters 10 --warmup 2

say ""
say "details"
grep -h -E '^cuda ops:|^  FAIL|^skipped' "$LOGS/cuda_ops.log" 2>/dev/null | sed 's/^/  cuda_ops: /' | tee -a "$SUMMARY"
for g in golden_cpu golden_cuda_fp32 golden_cuda_tf32; do
  grep -h -E 'max_rel_err=|skipped|above|could not' "$LOGS/$g.log" 2>/dev/null | tail -n 1 | sed "s/^/  $g: /" |
    tee -a "$SUMMARY"
done
grep -h -E 'gradients:|^test_mpi_gradavg' "$LOGS/gradavg_2ranks.log" 2>/dev/null | sed 's/^/  gradavg_2ranks: /' |
  tee -a "$SUMMARY"
for r in gpu cpu; do
  last=$(tail -n 1 "$WORK/runs/$r/metrics.jsonl" 2>/dev/null)
  say "  pretrain $r ($NP rank(s)) last step: ${last:-none}"
done
for b in bench_tf32_b128 bench_tf32_b512 bench_fp32_b128; do
  grep -h -E 'samples/s|^bench-speed' "$LOGS/$b.log" 2>/dev/null | sed "s/^/  $b: /" | tee -a "$SUMMARY"
done
say ""
say "gpu_check: $FAILED step(s) failed; every step's output in $RES/logs.txt"
for f in environment cuda_ops golden_cpu golden_cuda_fp32 golden_cuda_tf32 gradavg_2ranks pretrain_gpu pretrain_cpu \
  bench_tf32_b128 bench_tf32_b512 bench_fp32_b128; do
  echo "==================== $f"
  cat "$LOGS/$f.log" 2>/dev/null
done >"$RES/logs.txt"
rm -rf "$WORK"
[ "$FAILED" -eq 0 ]
