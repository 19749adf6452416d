#!/bin/sh
# Packs, on the build machine, what jobs/device/gpu_check.sh needs on a GPU machine that
# has the NVIDIA driver and the CUDA 13 libraries but not our Debian packages:
#   - the executables: diffclip, tests/test_cuda_ops, tests/test_golden,
#     tests/test_mpi_gradavg;
#   - the shared libraries they load (ldd closure: Open MPI, parallel HDF5, OpenBLAS,
#     libconfig, ...), except the C library's own and CUDA's (cuBLAS, NCCL), which the GPU
#     machine brings in versions matching its driver;
#   - a relocatable Open MPI runtime (mpirun, its plugins and help files, PMIx), found
#     there through OPAL_PREFIX and PMIX_PREFIX.
# The result is one compressed file, <build>/gpu_bundle.tar.xz, well under the device
# tool's 64 MiB for everything that travels.
#
# usage: jobs/device/make_bundle.sh [BUILD_DIR]     (default build-gpu; configure it with
#        cmake -S . -B build-gpu -DDIFFCLIP_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 first)
set -eu

BUILD=${1:-build-gpu}
ARCH=$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
STAGE=$BUILD/gpu_bundle
LIB=$STAGE/usr/lib/$ARCH

for exe in diffclip tests/test_cuda_ops tests/test_golden tests/test_mpi_gradavg; do
  if [ ! -x "$BUILD/$exe" ]; then
    echo "make_bundle: $BUILD/$exe is missing: build it first (cmake --build $BUILD -j)" >&2
    exit 1
  fi
done
if ! ldd "$BUILD/diffclip" | grep -q libcublas; then
  echo "make_bundle: $BUILD/diffclip has no CUDA backend (configure with -DDIFFCLIP_CUDA=ON)" >&2
  exit 1
fi

rm -rf "$STAGE" "$BUILD/gpu_bundle.tar.xz"
mkdir -p "$STAGE/bin" "$STAGE/usr/bin" "$STAGE/usr/share" "$LIB"
cp "$BUILD/diffclip" "$BUILD/tests/test_cuda_ops" "$BUILD/tests/test_golden" "$BUILD/tests/test_mpi_gradavg" \
  "$STAGE/bin/"

# Open MPI as Debian installs it (prefix /usr), so OPAL_PREFIX can re-root every path.
cp -a "/usr/lib/$ARCH/openmpi" "$LIB/"
rm -rf "$LIB/openmpi/include"
mkdir -p "$LIB/pmix2"
cp -a "/usr/lib/$ARCH/pmix2/lib" "/usr/lib/$ARCH/pmix2/share" "$LIB/pmix2/"
rm -f "$LIB/pmix2/lib/libpmix.a"
cp -a /usr/share/openmpi "$STAGE/usr/share/"
cp /usr/bin/orterun "$STAGE/usr/bin/mpirun"
cp /usr/bin/orted "$STAGE/usr/bin/orted"

# The libraries, from ldd over the executables and every Open MPI plugin. Left out: the
# C library's (the GPU machine's are newer and compatible), the C++ and GCC runtimes
# (CUDA's libraries there may need newer ones), and CUDA's own.
skip='^(libc|libm|libdl|libpthread|librt|libresolv|libutil|ld-linux-x86-64|libstdc\+\+|libgcc_s|libcuda|libcudart|libcublas|libcublasLt|libnccl)\.so'
{
  ldd "$STAGE"/bin/* /usr/bin/orterun
  find "$LIB/openmpi/lib/openmpi3" "$LIB/pmix2/lib/pmix" -name '*.so' -exec ldd {} \;
} 2>/dev/null | awk '/=> \// {print $3}' | sort -u | while read -r path; do
  name=$(basename "$path")
  if echo "$name" | grep -Eq "$skip"; then continue; fi
  [ -e "$LIB/$name" ] || cp -L "$path" "$LIB/$name"
done

tar -C "$BUILD" -cJf "$BUILD/gpu_bundle.tar.xz" gpu_bundle
echo "make_bundle: $BUILD/gpu_bundle.tar.xz ($(du -h "$BUILD/gpu_bundle.tar.xz" | cut -f1); unpacked $(du -sh "$STAGE" | cut -f1))"
