#!/bin/sh
# test_python_bindings.sh -- the Python bindings' pytest suite
# (bindings/python/tests/test_core*.py) on the extension this build made.
# PYTHONPATH is the build tree's bindings/python, where the build put the
# package and its extension (all-local in Makefile.am). Exits 77 (skipped)
# when the extension was not built (configure found no python3 with NumPy
# headers, or --disable-python) or pytest is missing.
set -u
B="${top_builddir:-.}"
S="${top_srcdir:-.}"
PY="${SL_PYTHON:-/usr/bin/python3}"
[ "$PY" = ":" ] && PY=/usr/bin/python3
pkg="$B/bindings/python/spikeloop"
if [ -n "${SL_SANITIZERS:-}" ]; then
  echo "SKIP: a sanitizer build: the extension needs the ASan runtime loaded first, and $PY is not built with it"
  exit 77
fi
if ! ls "$pkg"/_core*.so >/dev/null 2>&1; then
  echo "SKIP: the Python extension was not built (configure --enable-python; needs python3-dev python3-numpy)"
  exit 77
fi
if ! "$PY" -c 'import pytest' 2>/dev/null; then
  echo "SKIP: pytest not importable by $PY (Debian package python3-pytest)"
  exit 77
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/sl_py.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT
# the tests write their files under $T; the CLI comparison finds the tool here
SL_PYTHON_CORE_REQUIRED=1 SPIKELOOP_CLI="$B/spikeloop" SL_TEST_TMP="$T" OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}" \
PYTHONPATH="$B/bindings/python${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1 \
  "$PY" -m pytest -q -p no:cacheprovider --rootdir="$T" "$S"/bindings/python/tests/test_core*.py
