#!/bin/sh
# run.sh -- run the fuzz harnesses of fuzz-build/ for SECONDS each, JOBS at a
# time, and fail if any of them found a crash, a leak, a sanitizer report or
# a timeout (libFuzzer exits non-zero and writes the input to
# fuzz-build/artifacts/). Prints one line per harness: executions, corpus
# size, result.
#
# usage: run.sh SECONDS JOBS [HARNESS ...]   (default: every harness)
# Memory: a harness fails when its resident memory exceeds 2 GB; a single
# allocation may be as large as it likes (an allocation the system refuses
# returns NULL, which the library reports as SL_ENOMEM), since a lazily
# allocated buffer that is never touched costs nothing.
# Corpora grow in fuzz-build/corpus/<harness> (kept between runs); seeds are
# in fuzz-build/seeds/<harness>; logs in fuzz-build/logs/<harness>.log.
set -u
secs=$1
jobs=$2
shift 2
B=fuzz-build
all="config idx calib_args runlog recording charac twin calibfile nir shd modelnet dataset"
[ $# -gt 0 ] || set -- $all
mkdir -p "$B/logs" "$B/artifacts"
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

run_one() {
  h=$1
  mkdir -p "$B/corpus/$h" "$B/seeds/$h"
  "$B/fuzz_$h" -max_total_time="$secs" -timeout=30 -rss_limit_mb=2048 -malloc_limit_mb=1048576 \
    -print_final_stats=1 -artifact_prefix="$B/artifacts/$h-" \
    "$B/corpus/$h" "$B/seeds/$h" >"$B/logs/$h.log" 2>&1
}

report() {
  h=$1
  st=$2
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$B/logs/$h.log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$B/logs/$h.log" | tail -1)
  if [ "$st" -eq 0 ]; then
    echo "fuzz_$h: ${execs:-?} executions, $cov: ok"
  else
    echo "fuzz_$h: FAILED (exit $st) after ${execs:-?} executions; log $B/logs/$h.log:"
    grep -E 'ERROR: |SUMMARY: |runtime error|Test unit written' "$B/logs/$h.log" | head -5
  fi
}

fail=0
while [ $# -gt 0 ]; do
  pids=""
  names=""
  i=0
  while [ $i -lt "$jobs" ] && [ $# -gt 0 ]; do
    run_one "$1" &
    pids="$pids $!"
    names="$names $1"
    shift
    i=$((i + 1))
  done
  for p in $pids; do
    wait "$p"
    st=$?
    h=$(echo $names | cut -d' ' -f1)
    names=$(echo $names | cut -s -d' ' -f2-)
    report "$h" "$st"
    [ "$st" -eq 0 ] || fail=1
  done
done
exit $fail
