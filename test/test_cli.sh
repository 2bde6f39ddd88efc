#!/bin/sh
# test_cli.sh -- the command-line tool as a user meets it: help, a short
# training run with its log, eval, the dataset command, bad input, and a run
# killed mid-way that must leave a readable log of its completed epochs.
set -u
B="${top_builddir:-.}"
S="${top_srcdir:-.}"
SL="$B/spikeloop"
T=$(mktemp -d "${TMPDIR:-/tmp}/sl_cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   - $1"; }
no() { fail=$((fail + 1)); echo "FAIL - $1"; }

# expect_fail NAME PATTERN CMD...: non-zero exit and stderr matching PATTERN
expect_fail() {
  name=$1 pattern=$2
  shift 2
  if "$@" >"$T/out" 2>"$T/err"; then
    no "$name (exit 0)"
  elif grep -q -- "$pattern" "$T/err"; then
    ok "$name"
  else
    no "$name (stderr: $(head -c 300 "$T/err"))"
  fi
}

# built NAME: backend NAME is in this build (make check exports the ones
# configure left out); a left-out one must say so when named.
built() { case " ${SL_BACKENDS_LEFT_OUT-} " in *" $1 "*) return 1 ;; esac; }

HAVE_H5PY=0
/usr/bin/python3 -c 'import h5py' 2>/dev/null && HAVE_H5PY=1

SMALL="--set data.n_train=400 --set data.n_val=100 --set data.n_test=200 --set net.hidden=30 --set train.batch=20"

# --- help
"$SL" --help | grep -q "usage: spikeloop" && ok "--help" || no "--help"
"$SL" train --help | grep -q -- "--config FILE" && ok "train --help" || no "train --help"
"$SL" eval --help | grep -q -- "--log FILE.h5" && ok "eval --help" || no "eval --help"
"$SL" train --print-config | grep -q "^train.epochs\|^epochs" && ok "--print-config" || no "--print-config"

# --- a short run with a log, then eval
if "$SL" train $SMALL --set train.epochs=3 --log "$T/run.h5" >"$T/train.out" 2>"$T/train.err"; then
  ok "short training run"
else
  no "short training run: $(cat "$T/train.err")"
fi
[ "$(grep -c '^epoch ' "$T/train.out")" -eq 3 ] && ok "one progress line per epoch" || no "progress lines"
grep -q "final test accuracy" "$T/train.out" && ok "final accuracy line" || no "final accuracy line"
"$SL" eval --log "$T/run.h5" >"$T/eval.out" 2>&1 && grep -q "test accuracy" "$T/eval.out" \
  && ok "eval of the log" || no "eval of the log: $(cat "$T/eval.out")"
acc_train=$(sed -n 's/^final test accuracy \([0-9.]*\)%.*/\1/p' "$T/train.out")
acc_eval=$(sed -n 's/.*test accuracy \([0-9.]*\)%.*/\1/p' "$T/eval.out")
[ -n "$acc_train" ] && [ "$acc_train" = "$acc_eval" ] && ok "eval reproduces the accuracy ($acc_eval%)" \
  || no "eval accuracy '$acc_eval' != train '$acc_train'"
# --- NeuroBench metrics: every run log has /metrics_nb; eval --metrics
# counts again (the same figures on the ideal simulator) and prints them
"$SL" eval --log "$T/run.h5" --metrics >"$T/nb.out" 2>&1 && grep -q "^  synops_eff_acs " "$T/nb.out" \
  && grep -q "^  connection_sparsity " "$T/nb.out" && grep -q "^  membrane_updates " "$T/nb.out" \
  && ok "eval --metrics prints the NeuroBench table" || no "eval --metrics: $(cat "$T/nb.out")"
acc_nb=$(sed -n 's/^  classification_accuracy *\([0-9.]*\)%.*/\1/p' "$T/nb.out")
[ -n "$acc_train" ] && [ "$acc_train" = "$acc_nb" ] && ok "eval --metrics accuracy = the run's ($acc_nb%)" \
  || no "eval --metrics accuracy '$acc_nb' != train '$acc_train'"
if [ $HAVE_H5PY = 1 ]; then
  if /usr/bin/python3 - "$T/run.h5" "$T/nb.out" <<'PY'
import sys, h5py, re
f = h5py.File(sys.argv[1], "r")["metrics_nb"]
acs = f["per_sample/synops_eff_acs"][...]
assert acs.shape == (200,) and acs.min() > 0, acs.shape
assert abs(f["mean/synops_eff_acs"][0] - acs.mean()) < 1e-9 * acs.mean()
assert f["per_sample/synops_dense"][0] == f["per_sample/synops_dense"][-1]
assert 0 < f["per_sample/activation_sparsity"][...].mean() < 1
assert f["static/parameter_count"][0] == (5 * 30 + 30 * 3)
line = [l for l in open(sys.argv[2]) if l.startswith("  synops_dense ")][0]
assert float(line.split()[1]) * (1000 if line.split()[2] == "k" else 1) == f["mean/synops_dense"][0]
PY
  then ok "/metrics_nb in the log agrees with eval --metrics"; else no "/metrics_nb in the log"; fi
fi
for be in memristor bss2; do
  built $be || continue
  col=hw.reads
  [ $be = bss2 ] && col=hw.spikes
  if "$SL" train $SMALL --set train.epochs=1 --backend $be --log "$T/nb_$be.h5" >/dev/null 2>"$T/err" \
    && "$SL" eval --log "$T/nb_$be.h5" --metrics >"$T/nb_$be.out" 2>&1 \
    && grep -q "^  $col " "$T/nb_$be.out"; then
    ok "eval --metrics on $be shows $col"
  else
    no "eval --metrics on $be: $(cat "$T/err" "$T/nb_$be.out" 2>/dev/null | head -c 600)"
  fi
done
if [ $HAVE_H5PY = 1 ]; then
  /usr/bin/python3 "$S/test/check_runlog_h5py.py" "$T/run.h5" && ok "h5py reads the log" || no "h5py schema"
else
  echo "skip - h5py not available for /usr/bin/python3"
fi

# --- config file
printf '[train]\nepochs = 1\nbatch = 20\n[net]\nhidden = 20\n[data]\nn_train = 200\nn_test = 100\nn_val = 0\n' >"$T/c.ini"
"$SL" train --config "$T/c.ini" --quiet --log "$T/c.h5" >"$T/c.out" 2>&1 && grep -q "1 epochs" "$T/c.out" \
  && ok "--config file" || no "--config file: $(cat "$T/c.out")"

# --- dataset
"$SL" dataset yinyang --n 50 --seed 9 --out "$T/yy.h5" >/dev/null 2>&1 && [ -s "$T/yy.h5" ] \
  && ok "dataset yinyang" || no "dataset yinyang"
if [ $HAVE_H5PY = 1 ]; then
  /usr/bin/python3 - "$T/yy.h5" <<'PY' && ok "dataset readable by h5py" || no "dataset via h5py"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
x, y = f["x"][...], f["y"][...]
assert x.shape == (50, 4) and x.dtype == np.float32, x.shape
assert y.shape == (50,) and set(np.unique(y)) <= {0, 1, 2}
assert np.allclose(x[:, 0] + x[:, 2], 1) and np.all((x[:, 0] - 0.5) ** 2 + (x[:, 1] - 0.5) ** 2 <= 0.25 + 1e-6)
PY
fi

# --- bad input: one-line errors naming the problem, non-zero exit, no crash
expect_fail "unknown config key" "nosuch.key" "$SL" train --set nosuch.key=1
expect_fail "bad value" "train.lr" "$SL" train --set train.lr=abc
expect_fail "NaN value" "train.lr" "$SL" train --set train.lr=nan
expect_fail "negative time constant" "neuron.tau_mem" "$SL" train --set neuron.tau_mem=-1
expect_fail "zero dt" "net.dt" "$SL" train --set net.dt=0
expect_fail "unknown surrogate" "train.surrogate" "$SL" train --set train.surrogate=bogus
expect_fail "unknown loss" "train.loss" "$SL" train --set train.loss=bogus
expect_fail "missing config file" "nonexistent.ini" "$SL" train --config "$T/nonexistent.ini"
printf '[train]\nepochs = 1\nbogus_line\n' >"$T/bad.ini"
expect_fail "malformed config line" "bad.ini:3" "$SL" train --config "$T/bad.ini"
expect_fail "unwritable log" "/nonexistent-dir" "$SL" train $SMALL --set train.epochs=1 --log /nonexistent-dir/run.h5
expect_fail "unknown command" "unknown command" "$SL" frobnicate
expect_fail "eval of a missing log" "missing.h5" "$SL" eval --log "$T/missing.h5"
printf 'not an hdf5 file' >"$T/garbage.h5"
expect_fail "eval of a garbage file" "garbage.h5" "$SL" eval --log "$T/garbage.h5"
expect_fail "bad --threads" "threads" "$SL" train --threads 0

# --- backends, experiments, the emulated chip
expect_fail "unknown backend" "bss2" "$SL" train $SMALL --set train.epochs=1 --backend nosuchchip
"$SL" experiment --list >"$T/list.out" 2>&1 && grep -q yinyang_loop "$T/list.out" && grep -q mismatch_sweep "$T/list.out" \
  && grep -q fashion16_loop "$T/list.out" && ok "experiment --list" || no "experiment --list"
expect_fail "unknown experiment" "nosuch" "$SL" experiment nosuch
if built bss2; then
  "$SL" chip truth --chip-seed 4 --out "$T/truth.h5" >/dev/null 2>&1 && [ -s "$T/truth.h5" ] \
    && ok "chip truth" || no "chip truth"
  if "$SL" train $SMALL --set train.epochs=1 --backend bss2 --set backend.options=chip_seed=2 \
       --record "$T/rec.h5" --log "$T/bss2.h5" >"$T/bss2.out" 2>&1; then
    ok "one epoch in the loop on bss2, recorded"
  else
    no "training on bss2: $(tail -3 "$T/bss2.out")"
  fi
else
  expect_fail "bss2 not built" "not built in this build" "$SL" train $SMALL --set train.epochs=1 \
    --backend bss2 --log "$T/bss2.h5"
fi
if built bss2 && built replay; then
  if "$SL" train $SMALL --set train.epochs=1 --backend replay --set backend.options=file="$T/rec.h5" \
       --log "$T/replay.h5" >"$T/replay.out" 2>&1; then
    a1=$(sed -n 's/^final test accuracy \([0-9.]*\)%.*/\1/p' "$T/bss2.out")
    a2=$(sed -n 's/^final test accuracy \([0-9.]*\)%.*/\1/p' "$T/replay.out")
    [ -n "$a1" ] && [ "$a1" = "$a2" ] && ok "replaying the recording reproduces the run ($a2%)" \
      || no "replay accuracy '$a2' != recorded '$a1'"
  else
    no "training on the replay: $(tail -3 "$T/replay.out")"
  fi
  expect_fail "replay of a changed run" "recording" "$SL" train $SMALL --set train.epochs=1 \
    --set train.seed=99 --backend replay --set backend.options=file="$T/rec.h5" --log "$T/r2.h5"
elif ! built replay; then
  expect_fail "replay not built" "not built in this build" "$SL" train $SMALL --set train.epochs=1 \
    --backend replay --set backend.options=file="$T/rec.h5" --log "$T/replay.h5"
fi

# --- killed mid-run: the log keeps every completed epoch
"$SL" train $SMALL --set train.epochs=500 --log "$T/killed.h5" >"$T/killed.out" 2>&1 &
pid=$!
i=0
while [ $i -lt 600 ] && ! grep -q '^epoch   2/' "$T/killed.out"; do sleep 0.1; i=$((i + 1)); done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
if grep -q '^epoch   2/' "$T/killed.out"; then
  if [ $HAVE_H5PY = 1 ]; then
    /usr/bin/python3 "$S/test/check_runlog_h5py.py" --incomplete "$T/killed.h5" \
      && ok "killed run leaves a readable log" || no "killed run log unreadable"
    /usr/bin/python3 -c "import h5py,sys; f=h5py.File(sys.argv[1],'r'); n=f['metrics'].attrs['epochs_complete']; assert n >= 2, n" "$T/killed.h5" \
      && ok "killed run log has the completed epochs" || no "killed run epochs"
  else
    expect_fail "killed run log is incomplete, not corrupt" "did not finish" "$SL" eval --log "$T/killed.h5"
  fi
else
  no "training did not reach epoch 2 within 60 s"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
