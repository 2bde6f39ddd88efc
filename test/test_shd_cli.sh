#!/bin/sh
# test_shd_cli.sh -- the SHD path end to end: test/make_shd.py writes small
# files in the SHD layout as the published ones are written (h5py,
# variable-length float16 times and uint16 units); `experiment shd_loop`
# trains the 70-186(recurrent)-20 network on them in software and in the
# loop on bss2 and writes /summary acc_software, acc_loop (read back with
# h5py, both well above chance); a missing data.file and a malformed file
# are refused with one line naming the key / dataset and no log.
set -u
B="${top_builddir:-.}"
S="${srcdir:-.}"
SL="$B/spikeloop"
PY="${SL_PYTHON:-/usr/bin/python3}"
[ "$PY" = ":" ] && PY=/usr/bin/python3 # configure --disable-python: h5py may be there
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/sl_shd.XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   - $1"; }
no() { fail=$((fail + 1)); echo "FAIL - $1"; }

if ! "$PY" -c "import h5py, numpy" 2>/dev/null; then
  echo "skip - $PY lacks h5py/numpy (python3-h5py)"
  exit 77
fi
export OMP_WAIT_POLICY=PASSIVE

"$PY" "$S/test/make_shd.py" "$T/train.h5" 300 1 && "$PY" "$S/test/make_shd.py" "$T/test.h5" 100 2 \
  && ok "make_shd.py writes SHD-layout files" || no "make_shd.py"

SMALL="--set data.file=$T/train.h5 --set data.test_file=$T/test.h5 --set data.n_train=300
 --set data.n_test=100 --set encoder.t_steps=50 --set net.dt=0.02 --set train.lr=0.01
 --set train.batch=25 --set train.epochs=12 --threads 2"
if "$SL" experiment shd_loop $SMALL --log "$T/shd.h5" >"$T/shd.out" 2>&1; then
  ok "shd_loop finishes"
else
  no "shd_loop: $(tail -5 "$T/shd.out")"
fi
grep -q "(b) trained in the loop" "$T/shd.out" && ok "shd_loop table" || no "shd_loop table"
if "$PY" - "$T/shd.h5" <<'PYEOF'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
s = f["summary"].attrs
c = f["config"].attrs
assert c["data.dataset"] == "shd" and c["net.hidden"] == "186" and c["net.recurrent"] == "1", dict(c)
assert c["train.loss"] == "sum" and c["backend.name"] == "bss2", dict(c)
assert f["params/hidden0/w_in"].shape == (70, 186) and f["params/hidden0/w_rec"].shape == (186, 186)
assert f["params/readout/w_in"].shape == (186, 20)
print("acc_software %.3f acc_loop %.3f" % (s["acc_software"], s["acc_loop"]))
# 20 classes: chance is 0.05
assert s["acc_software"] > 0.5 and s["acc_loop"] > 0.5, (s["acc_software"], s["acc_loop"])
PYEOF
then ok "/summary acc_software, acc_loop well above chance"; else no "/summary"; fi

# refused input: no data.file; a malformed file (units out of range)
if "$SL" experiment shd_loop --log "$T/none.h5" >"$T/e1.out" 2>&1; then
  no "shd_loop without data.file should fail"
else
  grep -q "data.file" "$T/e1.out" && [ ! -e "$T/none.h5" ] \
    && ok "no data.file: refused, named, no log" || no "no data.file: $(cat "$T/e1.out")"
fi
"$PY" - "$T/bad.h5" <<'PYEOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    t = f.create_dataset("spikes/times", (2,), dtype=h5py.vlen_dtype(np.float16))
    u = f.create_dataset("spikes/units", (2,), dtype=h5py.vlen_dtype(np.uint16))
    t[0] = np.array([0.1, 0.2], np.float16); u[0] = np.array([3, 4], np.uint16)
    t[1] = np.array([0.1], np.float16); u[1] = np.array([700], np.uint16)
    f["labels"] = np.array([1, 2], np.uint16)
PYEOF
if "$SL" experiment shd_loop --set data.file="$T/bad.h5" --set data.n_train=2 --set data.n_test=1 \
     --set data.test_file="$T/bad.h5" --set train.batch=1 --log "$T/bad_run.h5" >"$T/e2.out" 2>&1; then
  no "a unit out of range should fail"
else
  grep -q "/spikes/units\[1\]\[0\] = 700" "$T/e2.out" && ok "unit out of range: named" \
    || no "unit out of range: $(cat "$T/e2.out")"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
