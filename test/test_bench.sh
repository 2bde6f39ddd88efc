#!/bin/sh
# test_bench.sh -- `spikeloop bench`: with the shared benchmark data
# (../shared/bench/data next to the source tree, or SPIKELOOP_BENCH_DATA)
# every figure of reference.json (losses, spike counts, gradient norms,
# logits, the loss after 1..5 Adam steps, W3's final readout) must be
# reproduced to float32 tolerance, with 1 and with 2 threads alike, and a
# short timed run must print the machine-readable summary lines.
# Skipped (77) without the data.
set -u
B="${top_builddir:-.}"
S="${top_srcdir:-.}"
SL="$B/spikeloop"
D="${SPIKELOOP_BENCH_DATA:-$S/../shared/bench/data}"
for f in reference.json x_train.u8 y_train.i32 x_sim.u8 w_in.f32 w_rec.f32 w_out.f32; do
  if [ ! -f "$D/$f" ]; then
    echo "skip: no $D/$f"
    exit 77
  fi
done
T=$(mktemp -d "${TMPDIR:-/tmp}/sl_bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   - $1"; }
no() { fail=$((fail + 1)); echo "FAIL - $1"; }

for n in 1 2; do
  if "$SL" bench all --data "$D" --check-only --threads $n >"$T/ref$n" 2>"$T/err$n"; then
    ok "bench --data, $n thread(s): exit 0"
  else
    no "bench --data, $n thread(s): exit status (stderr: $(head -c 300 "$T/err$n"))"
  fi
  cat "$T/ref$n"
  # every figure of reference.json was compared, none differs
  compared=$(grep -c ' ref=.* ok$' "$T/ref$n")
  [ "$compared" -ge 51 ] && ok "$compared figures within tolerance" || no "only $compared figures ok"
  grep -q MISMATCH "$T/ref$n" && no "a figure differs: $(grep MISMATCH "$T/ref$n" | head -3)"
  grep -q '^bench: 51 of 51 reference figures match$' "$T/ref$n" && ok "51 of 51 match" \
    || no "summary line"
done
# the numbers do not depend on the thread count
grep ' check ' "$T/ref1" | sed 's/ rel=.*//' >"$T/c1"
grep ' check ' "$T/ref2" | sed 's/ rel=.*//' >"$T/c2"
cmp -s "$T/c1" "$T/c2" && ok "1 and 2 threads print the same figures" \
  || no "1 and 2 threads differ: $(diff "$T/c1" "$T/c2" | head -4)"

# every vector path the CPU has prints the same figures (SPIKELOOP_ISA forces
# it; a path the CPU lacks is refused with a message naming the CPU)
for isa in baseline avx2 avx512; do
  if SPIKELOOP_ISA=$isa "$SL" bench all --data "$D" --check-only --threads 2 >"$T/isa" 2>"$T/isaerr"; then
    grep ' check ' "$T/isa" | sed 's/ rel=.*//' >"$T/cisa"
    cmp -s "$T/c2" "$T/cisa" && ok "$isa path prints the same figures" \
      || no "$isa path differs: $(diff "$T/c2" "$T/cisa" | head -4)"
    grep -q "^bench: .*, $isa, 2 threads\]$" "$T/isa" && ok "$isa path named" \
      || no "$isa path not named: $(head -1 "$T/isa")"
  else
    grep -q "SPIKELOOP_ISA=$isa" "$T/isaerr" && ok "$isa: refused on this CPU" \
      || no "$isa path: $(head -c 300 "$T/isaerr")"
  fi
done

# a mismatch is reported: a reference with one figure changed
mkdir "$T/bad"
for f in x_train.u8 y_train.i32 x_sim.u8 w_in.f32 w_rec.f32 w_out.f32; do ln -s "$(cd "$D" && pwd)/$f" "$T/bad/$f"; done
sed 's/"loss0": 3.79004/"loss0": 3.79104/' "$D/reference.json" >"$T/bad/reference.json"
if "$SL" bench W1 --data "$T/bad" --check-only >"$T/badout" 2>&1; then
  no "a changed reference figure is not caught"
else
  grep -q 'loss0 .*MISMATCH' "$T/badout" && ok "a changed reference figure fails" \
    || no "mismatch output: $(head -c 300 "$T/badout")"
fi

# a short timed run: summary lines
if "$SL" bench all --repeat 1 >"$T/run" 2>"$T/err"; then
  ok "bench all --repeat 1"
else
  no "bench all --repeat 1 (stderr: $(head -c 300 "$T/err"))"
fi
grep -Eq '^W1 train_ms=[0-9.]+ train_dense_ms=[0-9.]+ infer_ms=[0-9.]+ rss_mb=[0-9.]+ ranks=[0-9]+ threads=[0-9]+ isa=(baseline|avx2|avx512) cpu=".*"$' "$T/run" && ok "W1 summary" || no "W1 summary"
grep -Eq '^W2 train_ms=[0-9.]+ train_dense_ms=[0-9.]+ infer_ms=[0-9.]+ rss_mb=[0-9.]+ ranks=[0-9]+ threads=[0-9]+ isa=(baseline|avx2|avx512) cpu=".*"$' "$T/run" && ok "W2 summary" || no "W2 summary"
grep -Eq '^W3 neuron_steps_per_s=[0-9.e+]+ hidden_spikes=[0-9]+ .* isa=(baseline|avx2|avx512) cpu=".*"$' "$T/run" && ok "W3 summary" || no "W3 summary"
SPIKELOOP_ISA=baseline "$SL" bench W3 --repeat 1 --threads 1 >"$T/run1" 2>&1
grep -Eq '^W3 neuron_steps_per_s=.* threads=1 isa=baseline cpu=".*"$' "$T/run1" \
  && ok "W3 summary names the forced path" || no "W3 forced path: $(tail -2 "$T/run1")"
# --steps / --batch: W1 at another scale (drawn inputs)
"$SL" bench W1 --repeat 1 --steps 30 --batch 5 >"$T/run2" 2>&1 \
  && grep -q '^W1 ff-shd: T 30, batch 5,' "$T/run2" && ok "--steps 30 --batch 5" \
  || no "--steps/--batch: $(head -c 300 "$T/run2")"
"$SL" bench W1 --steps 30 --data "$D" >/dev/null 2>&1 && no "--steps with --data accepted" \
  || ok "--steps refused with --data"
"$SL" bench W4 >/dev/null 2>&1 && no "unknown workload accepted" || ok "unknown workload rejected"
"$SL" bench --check-only W1 >/dev/null 2>&1 && no "--check-only without --data accepted" \
  || ok "--check-only needs --data"

echo "bench: $pass passed, $fail failed"
[ $fail -eq 0 ]
