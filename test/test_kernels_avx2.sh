#!/bin/sh
# test_kernels_avx2.sh -- the kernel tests on the AVX2 clones of the hot
# loops. The target clones are picked by the CPU's features at load time,
# so on an AVX-512 machine `make check` only ever runs the AVX-512 ones;
# valgrind's virtual CPU has no AVX-512, so under it the AVX2 clones run,
# and the fast-vs-reference bit-identity tests of the kernel suites
# (test_lif, test_net, test_events, test_matmul) check them (and valgrind
# checks their memory accesses). Skipped without valgrind.
set -u
B=$(cd "${top_builddir:-.}" && pwd)
if [ -n "${SL_SANITIZERS:-}" ]; then
  echo "SKIP: a sanitizer build (configure --enable-sanitizers): valgrind cannot run ASan programs"
  exit 77
fi
if ! command -v valgrind >/dev/null 2>&1; then
  echo "SKIP: no valgrind"
  exit 77
fi
# the libtool wrapper script runs the real binary with the uninstalled library
rc=0
for t in test_lif test_net test_events test_matmul; do
  "$B/libtool" --mode=execute valgrind -q --error-exitcode=3 "$B/$t" || rc=1
done
exit $rc
