#!/bin/sh
# test_memest.sh -- resource limits: `spikeloop train --dry-run` prints the
# estimate of peak memory; a configuration that needs more than is available
# (MemAvailable, or --mem-limit) is refused with one clear line and exit 1
# before anything large is allocated (the refusal also works under a 2 GiB
# address-space limit, where allocating would fail with another message);
# the estimate of small runs is within 2x of their measured peak RSS
# (Debian's /usr/bin/python3 measures the child's ru_maxrss).
set -u
B=$(cd "${top_builddir:-.}" && pwd)
SL="$B/spikeloop"
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/sl_mem.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=PASSIVE
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   - $1"; }
no() { fail=$((fail + 1)); echo "FAIL - $1"; }

# 10000 steps x 10000 samples x 1000 neurons: terabytes of states
HUGE="--set encoder.t_steps=10000 --set train.batch=10000 --set net.hidden=1000 --set data.n_train=10000"

"$SL" train $HUGE --dry-run >"$T/dry.out" 2>"$T/dry.err"
rc=$?
cat "$T/dry.out" "$T/dry.err"
[ $rc -eq 1 ] && ok "--dry-run of a huge run: exit 1" || no "--dry-run of a huge run: exit $rc"
grep -q '^memory estimate (peak resident): .* TiB' "$T/dry.out" && ok "estimate printed in TiB" \
  || no "no estimate in TiB: $(cat "$T/dry.out")"
grep -q 'states kept for BPTT .*(10000 steps x 10000 samples x 1003 neurons)' "$T/dry.out" \
  && ok "the states' share names T x B x N" || no "states line: $(cat "$T/dry.out")"

# a real start is refused before allocating: under a 2 GiB address-space
# limit, with no log written (not under ASan, whose shadow memory alone
# reserves terabytes of address space)
LIMIT="ulimit -v 2097152"
[ -n "${SL_SANITIZERS:-}" ] && LIMIT=":"
(eval "$LIMIT" && exec "$SL" train $HUGE --log "$T/huge.h5") >"$T/huge.out" 2>"$T/huge.err"
rc=$?
cat "$T/huge.err"
[ $rc -eq 1 ] && ok "train of a huge run: exit 1" || no "train of a huge run: exit $rc"
grep -q '^spikeloop: train: the run needs an estimated .* TiB (states over 10000 steps x 10000 samples x 1003 neurons: .*) but .* is available (MemAvailable in /proc/meminfo); lower train.batch' "$T/huge.err" \
  && ok "one line says what and why" || no "message: $(cat "$T/huge.err")"
[ "$(wc -l <"$T/huge.err")" -eq 1 ] && ok "one line on stderr" || no "$(wc -l <"$T/huge.err") lines"
[ ! -e "$T/huge.h5" ] && ok "no log written" || no "a log was written"

# --mem-limit: a small run refused under 1M, accepted under 1G; bad values are usage errors
SMALL="--set data.n_train=200 --set data.n_val=50 --set data.n_test=100 --set train.epochs=1 --quiet"
"$SL" train $SMALL --mem-limit 1M --log "$T/lim.h5" >/dev/null 2>"$T/lim.err"
rc=$?
[ $rc -eq 1 ] && grep -q 'is available (--mem-limit); .*raise --mem-limit' "$T/lim.err" \
  && ok "--mem-limit 1M refuses a small run" || no "--mem-limit 1M: exit $rc: $(cat "$T/lim.err")"
"$SL" train $SMALL --mem-limit 1G --log "$T/lim.h5" >/dev/null 2>&1 && [ -f "$T/lim.h5" ] \
  && ok "--mem-limit 1G runs it" || no "--mem-limit 1G did not run"
for bad in 0 -5 12X abc; do
  "$SL" train --mem-limit "$bad" --dry-run >/dev/null 2>"$T/bad.err"
  rc=$?
  [ $rc -eq 2 ] && grep -q -- "--mem-limit needs a positive byte count" "$T/bad.err" \
    && ok "--mem-limit $bad: usage error" || no "--mem-limit $bad: exit $rc: $(cat "$T/bad.err")"
done
"$SL" train $SMALL --print-config >"$T/pc.out" 2>&1 && grep -q '^# memory estimate (peak resident' "$T/pc.out" \
  && ok "--print-config ends with the estimate as a comment" || no "--print-config: $(tail -3 "$T/pc.out")"
"$SL" train --config "$T/pc.out" --dry-run >/dev/null 2>&1 \
  && ok "--print-config's output is still a valid config" || no "--print-config output does not load"

# the estimate against the measured peak RSS: a tiny run (the baseline
# dominates) and one whose states dominate (1000 hidden neurons, batch 100)
if [ -n "${SL_SANITIZERS:-}" ]; then
  echo "skip - estimate vs RSS: a sanitizer build (ASan's shadow memory and quarantine inflate the RSS)"
elif [ ! -x "$PY" ]; then
  echo "skip - estimate vs RSS: no $PY"
else
  for case in "tiny:$SMALL" \
    "states:$SMALL --set net.hidden=1000 --set train.batch=100 --set encoder.t_steps=60"; do
    name=${case%%:*} args=${case#*:}
    est=$("$SL" train $args --dry-run | sed -n 's/^memory estimate .*(\([0-9]*\) bytes)$/\1/p')
    rss=$("$PY" -c '
import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 if r.returncode == 0 else -1)
' "$SL" train $args --threads 1 --log "$T/$name.h5")
    if [ -n "$est" ] && [ "${rss:--1}" -gt 0 ] &&
       awk -v e="$est" -v r="$rss" 'BEGIN { exit !(e <= 2 * r && r <= 2 * e) }'; then
      ok "$name run: estimate $est bytes within 2x of peak RSS $rss bytes"
    else
      no "$name run: estimate ${est:-none} bytes vs peak RSS ${rss:-none} bytes"
    fi
  done
fi

echo "test_memest: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
