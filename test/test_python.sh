#!/bin/sh
# test_python.sh -- the Python tests of bindings/python (pytest): the figures
# of spikeloop.plot from tiny runs of the built ./spikeloop and from logs
# written with h5py. Uses Debian's /usr/bin/python3 (the python3 first on
# PATH may lack the modules); skips (77) when it lacks h5py, numpy,
# matplotlib or pytest (experiments/setup.sh installs them).
set -u
PY=${SL_PYTHON:-/usr/bin/python3}
[ "$PY" = ":" ] && PY=/usr/bin/python3 # configure --disable-python: h5py may be there
src=$(cd "${srcdir:-.}" && pwd)
B=$(cd "${top_builddir:-.}" && pwd)
if [ ! -x "$PY" ]; then
  echo "SKIP: no $PY"
  exit 77
fi
if ! missing=$("$PY" -c '
import importlib.util, sys
m = [n for n in ("h5py", "numpy", "matplotlib", "pytest") if importlib.util.find_spec(n) is None]
print(" ".join(m)); sys.exit(1 if m else 0)'); then
  echo "SKIP: $PY lacks $missing (Debian: python3-h5py python3-numpy python3-matplotlib python3-pytest)"
  exit 77
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/sl_py.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT
# nothing is written into the source tree (read-only under make distcheck):
# no byte code, no pytest cache; temporary files under $T
# the build tree's package (with the extension, and in a VPATH build copies of
# the Python files) when there is one, else the source tree's
pkg="$src/bindings/python"
[ -f "$B/bindings/python/spikeloop/plot.py" ] && pkg="$B/bindings/python"
PYTHONPATH="$pkg${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1 \
  SPIKELOOP="$B/spikeloop" OMP_WAIT_POLICY=PASSIVE MPLBACKEND=Agg MPLCONFIGDIR="$T/mpl" \
  "$PY" -m pytest -q -p no:cacheprovider --basetemp "$T/pytest" "$src/bindings/python/tests"
