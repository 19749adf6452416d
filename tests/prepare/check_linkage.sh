#!/bin/sh
# Two HDF5 libraries must never share a process: the MPI program links the Open MPI build
# of HDF5, the ingestion program (matio, GDAL) the serial one; the GeoTIFF writer in the MPI
# program uses libtiff + libgeotiff, which load no HDF5 (GDAL does, so it must stay out). ldd resolves every library
# each executable would load, transitive ones included.
# usage: check_linkage.sh path/to/diffclip path/to/diffclip-prepare
set -u
mpi_bin=$1
prep_bin=$2
fail=0
mpi_libs=$(ldd "$mpi_bin") || { echo "FAIL: ldd $mpi_bin"; exit 1; }
prep_libs=$(ldd "$prep_bin") || { echo "FAIL: ldd $prep_bin"; exit 1; }
check() { # check <label> <libs> <pattern> <must: present|absent>
  if printf '%s\n' "$2" | grep -q "$3"; then found=present; else found=absent; fi
  if [ "$found" = "$4" ]; then
    echo "ok: $1: $3 $4"
  else
    echo "FAIL: $1: $3 is $found, expected $4"
    fail=1
  fi
}
check diffclip "$mpi_libs" 'libhdf5_openmpi' present
check diffclip "$mpi_libs" 'libmpi' present
check diffclip "$mpi_libs" 'libhdf5_serial' absent
check diffclip "$mpi_libs" 'libmatio' absent
check diffclip "$mpi_libs" 'libgdal' absent
check diffclip "$mpi_libs" 'libgeotiff' present
check diffclip "$mpi_libs" 'libtiff' present
check diffclip-prepare "$prep_libs" 'libhdf5_serial' present
check diffclip-prepare "$prep_libs" 'libmatio' present
check diffclip-prepare "$prep_libs" 'libgdal' present
check diffclip-prepare "$prep_libs" 'libmpi' absent
check diffclip-prepare "$prep_libs" 'libhdf5_openmpi' absent
[ $fail -eq 0 ] && echo "linkage: ok"
exit $fail
