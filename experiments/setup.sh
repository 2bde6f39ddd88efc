#!/bin/sh
# setup.sh -- install what spikeloop needs on Debian (if missing) and build it.
#
# Installs the Debian packages below with apt-get when any is missing (as
# root, or through sudo), then runs autoreconf, configure and make in the
# source tree. The python3-* packages are for the Python bindings
# (bindings/python: configure builds them when python3 and the NumPy headers
# are found) and their tests. Extra arguments are passed to configure. Configures with
# --with-mpi (data-parallel training; pass --without-mpi to opt out); a tree
# configured earlier without MPI is configured again. Idempotent: a second
# run only rebuilds what changed.
set -eu
cd "$(dirname "$0")/.."

PACKAGES="build-essential autoconf automake libtool pkg-config libgsl-dev libhdf5-dev \
libcunit1-dev libopenblas-dev zlib1g-dev python3-h5py python3-numpy dataset-fashion-mnist libopenmpi-dev openmpi-bin \
valgrind python3-dev python3-matplotlib python3-pytest hdf5-tools"

missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing Debian packages:$missing"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
fi

# (again when configure predates the MPI support or the Python bindings)
{ [ -x configure ] && grep -q MPI_CFLAGS configure && grep -q PYTHON_CPPFLAGS configure &&
  [ -f build-aux/py-compile ]; } || autoreconf -fi
case " $* " in
  *" --without-mpi "*) [ -f Makefile ] || ./configure "$@" ;;
  *) if [ ! -f Makefile ] || ! grep -q '^#define HAVE_MPI 1' config.h 2>/dev/null ||
        ! grep -q '^PYTHON_CPPFLAGS' Makefile; then
       ./configure --with-mpi "$@"
     fi ;;
esac
make -j2
echo "setup: built ./spikeloop"
