#!/bin/sh
# test_multichip.sh -- several chips in one run: `characterise` and `fit`
# with --chip-seed 1-2 (on 2 MPI ranks when built with MPI, else in one
# process) write for every chip exactly the files a single-chip run of that
# seed writes (bss2 circuits and memristor crossbar devices; h5diff, the
# creation time and the source file name aside), with one progress line per
# chip saying which rank ran it.
set -u
B=$(cd "${top_builddir:-.}" && pwd)
SL="$B/spikeloop"
if ! command -v h5diff >/dev/null 2>&1; then
  echo "SKIP: h5diff (hdf5-tools) not found"
  exit 77
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/sl_multichip.XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   - $1"; }
no() { fail=$((fail + 1)); echo "FAIL - $1"; }
export OMP_WAIT_POLICY=PASSIVE

RUN=""
RANKS=1
if [ -n "${SL_MPIRUN:-}" ]; then
  OMPI_MCA_rmaps_base_oversubscribe=1
  OMPI_MCA_btl=self,vader,tcp
  OMPI_MCA_btl_tcp_if_include=lo
  OMPI_MCA_oob_tcp_if_include=lo
  OMPI_MCA_btl_vader_single_copy_mechanism=none
  export OMPI_MCA_rmaps_base_oversubscribe OMPI_MCA_btl OMPI_MCA_btl_tcp_if_include \
    OMPI_MCA_oob_tcp_if_include OMPI_MCA_btl_vader_single_copy_mechanism
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  ROOT=""
  [ "$(id -u)" -eq 0 ] && ROOT="--allow-run-as-root"
  RUN="$SL_MPIRUN $ROOT --oversubscribe -np 2"
  RANKS=2
fi
echo "# multi-chip runs on $RANKS rank(s)"

# same A B: the files hold the same objects and values, but for the root
# attributes `created` (a clock) and `source` (names the input file)
same() {
  h5diff -r "$1" "$2" >"$T/diff" 2>&1
  awk '/^attribute: <(created|source) of <\/>>/ { skip = 1; next }
       /differences found/ { if (!skip && $1 != 0) bad = 1; skip = 0 }
       END { exit bad }' "$T/diff"
}

# run NAME CMD...: run the tool (under mpirun when built with MPI)
multi() {
  name=$1
  shift
  (cd "$T" && $RUN "$SL" "$@") >"$T/$name.out" 2>&1
}

for backend in bss2 memristor; do
  if [ "$backend" = bss2 ]; then
    ARGS="--neurons 0-7"
  else
    ARGS="--set net.hidden=16 --options stuck_on=0.05,stuck_off=0.05,drift_nu_sd=0.01"
  fi
  if multi "c_$backend" characterise --backend $backend --chip-seed 1-2 $ARGS --out "$T/$backend.h5"; then
    ok "$backend: characterise --chip-seed 1-2 on $RANKS rank(s)"
  else
    no "$backend: characterise --chip-seed 1-2: $(head -c 2000 "$T/c_$backend.out")"
  fi
  c=$(grep -c '^\[chip [12]: [12]/2 on rank [01]\] characterised' "$T/c_$backend.out")
  [ "$c" -eq 2 ] && ok "$backend: one progress line per chip" || no "$backend: $c progress lines"
  if [ "$RANKS" -eq 2 ]; then
    grep -q '^\[chip 2: 2/2 on rank 1\]' "$T/c_$backend.out" && ok "$backend: rank 1 ran chip 2" \
      || no "$backend: chip 2 not on rank 1: $(cat "$T/c_$backend.out")"
  fi
  if multi "f_$backend" fit --recording "$T/$backend.h5" --chip-seed 1-2 --out "$T/${backend}_twin.h5"; then
    ok "$backend: fit --chip-seed 1-2"
  else
    no "$backend: fit --chip-seed 1-2: $(head -c 2000 "$T/f_$backend.out")"
  fi
  for s in 1 2; do
    "$SL" characterise --backend $backend --chip-seed $s $ARGS --out "$T/${backend}_one$s.h5" \
      >"$T/one.out" 2>&1 || no "$backend: single-chip characterise of seed $s: $(cat "$T/one.out")"
    "$SL" fit --recording "$T/${backend}_one$s.h5" --out "$T/${backend}_twin_one$s.h5" \
      >"$T/one.out" 2>&1 || no "$backend: single-chip fit of seed $s: $(cat "$T/one.out")"
    if same "$T/$backend.chip$s.h5" "$T/${backend}_one$s.h5"; then
      ok "$backend: chip $s's recording equals the single-chip run's"
    else
      no "$backend: chip $s's recording differs: $(head -c 1500 "$T/diff")"
    fi
    if same "$T/${backend}_twin.chip$s.h5" "$T/${backend}_twin_one$s.h5"; then
      ok "$backend: chip $s's fit equals the single-chip run's"
    else
      no "$backend: chip $s's fit differs: $(head -c 1500 "$T/diff")"
    fi
  done
done

# the comparison can fail: another seed differs
if same "$T/bss2.chip1.h5" "$T/bss2_one2.h5"; then
  no "chips 1 and 2 compare equal: the comparison sees nothing"
else
  ok "chips 1 and 2 differ (the comparison can fail)"
fi

echo "# $pass passed, $fail failed"
[ "$fail" -eq 0 ]
