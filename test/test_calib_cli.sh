#!/bin/sh
# test_calib_cli.sh -- bad inputs of `spikeloop characterise`, `fit` and
# `calibrate` (usage errors exit 2, runtime errors 1, each with a message
# that names the problem), and one small characterise -> fit -> calibrate
# round trip. Skips (77) while ./spikeloop does not dispatch the commands.
top_builddir=${top_builddir:-.}
SL="$top_builddir/spikeloop"
[ -x "$SL" ] || { echo "no $SL"; exit 77; }
if "$SL" characterise --help 2>&1 | grep -q "unknown command"; then
  echo "characterise is not dispatched by ./spikeloop yet: skipping"
  exit 77
fi
case " ${SL_BACKENDS_LEFT_OUT-} " in
*" bss2 "*) echo "SKIP: backend 'bss2' not built in this build"; exit 77 ;;
esac
TMP=$(mktemp -d) || exit 99
trap 'rm -rf "$TMP"' EXIT
fail=0
# expect STATUS NEEDLE COMMAND...: exit status and a message containing NEEDLE
expect() {
  want=$1; needle=$2; shift 2
  "$SL" "$@" >"$TMP/out" 2>"$TMP/err"
  got=$?
  if [ "$got" -ne "$want" ]; then
    echo "FAIL: spikeloop $*: exit $got, expected $want"; cat "$TMP/err"; fail=1
  elif [ -n "$needle" ] && ! grep -q -- "$needle" "$TMP/err" "$TMP/out"; then
    echo "FAIL: spikeloop $*: output lacks '$needle'"; cat "$TMP/err"; fail=1
  else
    echo "ok: spikeloop $* -> $got"
  fi
}
for c in characterise fit calibrate; do
  expect 0 "usage: spikeloop $c" $c --help
  expect 2 "unknown or incomplete option '--bogus'" $c --bogus
done
expect 2 "--backend bss2 is required" characterise --out "$TMP/r.h5"
expect 2 "backend 'ideal' cannot be characterised" characterise --backend ideal --out "$TMP/r.h5"
expect 2 "--out REC.h5 is required" characterise --backend bss2
expect 2 "--chip-seed needs" characterise --backend bss2 --chip-seed -3 --out "$TMP/r.h5"
expect 1 "range 0-600 is empty or beyond 511" characterise --backend bss2 --neurons 0-600 --out "$TMP/r.h5"
expect 1 "neuron 3 is listed twice" characterise --backend bss2 --neurons 0-5,3 --out "$TMP/r.h5"
expect 1 "expected a number" characterise --backend bss2 --neurons abc --out "$TMP/r.h5"
expect 1 "$TMP/nodir/r.h5" characterise --backend bss2 --neurons 0-3 --out "$TMP/nodir/r.h5"
expect 2 "--recording REC.h5 is required" fit --out "$TMP/t.h5"
expect 2 "--out TWIN.h5 is required" fit --recording "$TMP/r.h5"
expect 2 "--dt needs" fit --recording "$TMP/r.h5" --out "$TMP/t.h5" --dt -1
expect 1 "cannot open" fit --recording "$TMP/missing.h5" --out "$TMP/t.h5"
printf 'not hdf5' >"$TMP/junk.h5"
expect 1 "junk.h5" fit --recording "$TMP/junk.h5" --out "$TMP/t.h5"
expect 2 "--target key=value" calibrate --backend bss2 --out "$TMP/c.h5"
expect 2 "no configuration words" calibrate --backend ideal --target v_th=0.8 --out "$TMP/c.h5"
expect 1 "unknown parameter 'foo'" calibrate --backend bss2 --target foo=1 --out "$TMP/c.h5"
expect 1 "must be a time" calibrate --backend bss2 --target tau_mem=5 --out "$TMP/c.h5"
expect 1 "must exceed" calibrate --backend bss2 --target v_th=0.4 --out "$TMP/c.h5"
expect 2 "must not contain calib=" calibrate --backend bss2 --target v_th=0.8 --options calib=x.h5 --out "$TMP/c.h5"
expect 2 "--iterations needs" calibrate --backend bss2 --target v_th=0.8 --iterations 0 --out "$TMP/c.h5"
# a small round trip: 8 circuits characterised, fitted, calibrated
expect 0 "characterised 8 neuron" characterise --backend bss2 --chip-seed 2 --neurons 0-7 --out "$TMP/r.h5"
expect 0 "twin for dt" fit --recording "$TMP/r.h5" --out "$TMP/t.h5"
expect 1 "neuron 8 is not in the recording" fit --recording "$TMP/r.h5" --out "$TMP/t2.h5" --neurons 0-9
# --check: the tool's own recording passes; a file that is not one fails naming it
expect 0 "ok: the fit can use every neuron" characterise --check "$TMP/r.h5"
expect 1 "junk.h5" characterise --check "$TMP/junk.h5"
expect 2 "takes no --out" characterise --check "$TMP/r.h5" --out "$TMP/x.h5"
# --values, and twins of disjoint halves merged; overlaps and other dt refused
expect 0 "fitted values of 4 neuron" fit --recording "$TMP/r.h5" --out "$TMP/ta.h5" --neurons 0-3 \
  --values "$TMP/va.h5"
expect 0 "twin for dt" fit --recording "$TMP/r.h5" --out "$TMP/tb.h5" --neurons 4-7
expect 0 "twin for dt = 0.002" fit --recording "$TMP/r.h5" --out "$TMP/tc.h5" --neurons 4-7 --dt 0.002
expect 0 "usage: spikeloop twin merge" twin --help
expect 2 "unknown subcommand" twin split "$TMP/ta.h5"
expect 2 "--out TWIN.h5 is required" twin merge "$TMP/ta.h5" "$TMP/tb.h5"
expect 2 "at least two twins" twin merge "$TMP/ta.h5" --out "$TMP/tm.h5"
expect 0 "merged 2 twins" twin merge "$TMP/ta.h5" "$TMP/tb.h5" --out "$TMP/tm.h5"
expect 1 "neuron 4 is characterised in both" twin merge "$TMP/tb.h5" "$TMP/tm.h5" --out "$TMP/tx.h5"
expect 1 "dt = 0.002" twin merge "$TMP/ta.h5" "$TMP/tc.h5" --out "$TMP/tx.h5"
expect 1 "not a twin" twin merge "$TMP/ta.h5" "$TMP/r.h5" --out "$TMP/tx.h5"
expect 0 "measured by the calibration" calibrate --backend bss2 --chip-seed 2 --neurons 0-7 \
  --target tau_mem=6e-6,v_th=0.8 --iterations 3 --out "$TMP/c.h5"
# the twin of 8 neurons does not fit the default 5-120-3 network
expect 1 "describes 8 neurons, the network has 123" train --set train.epochs=0 \
  --set neuron.twin="$TMP/t.h5" --log "$TMP/run.h5" --quiet
# a twin of the network's 123 neurons (5-120-3: hidden0 = ids 0-119, readout
# 120-122) and the calibration file both work in train
expect 0 "characterised 123 neuron" characterise --backend bss2 --neurons 0-122 --out "$TMP/r123.h5"
expect 0 "twin for dt" fit --recording "$TMP/r123.h5" --out "$TMP/t123.h5"
expect 0 "final test accuracy" train --backend bss2 --set neuron.twin="$TMP/t123.h5" \
  --set train.epochs=0 --set data.n_test=50 --log "$TMP/run3.h5" --quiet
expect 0 "final test accuracy" train --backend bss2 --calib "$TMP/c.h5" \
  --set train.epochs=0 --set data.n_test=50 --log "$TMP/run4.h5" --quiet
expect 1 "cannot contain a comma" train --backend bss2 --calib "$TMP/a,b.h5" --log "$TMP/run5.h5"
# --calib reaches the backend: a missing file is the backend's error
expect 1 "nope.h5" train --backend bss2 --calib "$TMP/nope.h5" --set train.epochs=0 \
  --set data.n_test=10 --log "$TMP/run2.h5" --quiet
# every format read back after h5py rewrote its string attributes with its
# defaults (variable-length UTF-8), as a lab's or a user's script would
if /usr/bin/python3 -c "import h5py" 2>/dev/null; then
  for f in t123 c run3; do cp "$TMP/$f.h5" "$TMP/${f}v.h5"; done
  if /usr/bin/python3 - "$TMP/t123v.h5" "$TMP/cv.h5" "$TMP/run3v.h5" <<'PYEOF'
import sys, h5py
n = 0
for path in sys.argv[1:]:
    with h5py.File(path, "r+") as f:
        objs = [f]
        f.visititems(lambda name, o: objs.append(o))
        for o in objs:
            for k, v in list(o.attrs.items()):
                if isinstance(v, (bytes, str)):
                    o.attrs[k] = v.decode() if isinstance(v, bytes) else v  # h5py: vlen UTF-8
                    n += 1
    assert n > 0, path
PYEOF
  then
    expect 0 "final test accuracy" train --backend bss2 --set neuron.twin="$TMP/t123v.h5" \
      --set train.epochs=0 --set data.n_test=50 --log "$TMP/run3w.h5" --quiet
    expect 0 "final test accuracy" train --backend bss2 --calib "$TMP/cv.h5" \
      --set train.epochs=0 --set data.n_test=50 --log "$TMP/run4w.h5" --quiet
    expect 0 "test accuracy" eval --log "$TMP/run3v.h5"
    # and the variable-length string is read, not skipped: a wrong one is named
    cp "$TMP/t123v.h5" "$TMP/t123x.h5"
    /usr/bin/python3 -c "import h5py,sys; h5py.File(sys.argv[1],'r+').attrs['format']='nonsense'" \
      "$TMP/t123x.h5"
    expect 1 "not a twin file" train --backend bss2 --set neuron.twin="$TMP/t123x.h5" \
      --set train.epochs=0 --set data.n_test=50 --log "$TMP/run3x.h5" --quiet
  else
    echo "FAIL: rewriting the string attributes with h5py"; fail=1
  fi
else
  echo "no h5py for /usr/bin/python3: the h5py-string checks skipped"
fi
if "$SL" experiment --help 2>&1 | grep -q -- "--calib"; then
  expect 0 "twin_loop" experiment --list
  expect 1 "nope.h5" experiment yinyang_loop --calib "$TMP/nope.h5" --set train.epochs=0 \
    --set data.n_train=25 --set data.n_test=10 --log "$TMP/e.h5"
else
  echo "experiment --calib is not wired yet: its checks skipped"
fi
exit $fail
