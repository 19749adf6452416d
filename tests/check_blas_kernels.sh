#!/bin/sh
# OpenBLAS picks its kernels from the CPU model when it loads and falls back to SSE3
# ("Prescott") on a model it does not know; diffclip then starts itself again with
# OPENBLAS_CORETYPE set. On a CPU with AVX2 the kernels in use must not be the fallback,
# and a user's OPENBLAS_CORETYPE must be kept as given.
# usage: check_blas_kernels.sh DIFFCLIP
set -eu
bin=$1
out=$(env -u OPENBLAS_CORETYPE "$bin" --version)
echo "$out"
core=$(echo "$out" | sed -n 's/^OpenBLAS kernels \([A-Za-z0-9]*\).*/\1/p')
[ -n "$core" ] || { echo "FAIL: --version names no OpenBLAS kernels"; exit 1; }
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
  case "$core" in
    Prescott|Core2|Penryn|Nehalem|Sandybridge|Atom) echo "FAIL: $core kernels on a CPU with AVX2"; exit 1 ;;
  esac
else
  echo "no AVX2 on this CPU: only the user's choice is checked"
fi
out=$(OPENBLAS_CORETYPE=Haswell "$bin" --version)
echo "$out" | grep -q "^OpenBLAS kernels Haswell$" || { echo "$out"; echo "FAIL: OPENBLAS_CORETYPE=Haswell not kept"; exit 1; }
echo "blas kernels: ok"
