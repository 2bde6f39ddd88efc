#!/bin/sh
# test_dynexit_cli.sh -- the dynamic-exit experiments end to end on tiny
# runs: dynresnet and ternary_noise on Fashion-MNIST (the Debian package),
# dynpointnet on the procedural shapes: they finish,
# print their tables, and write every /summary attribute the issue names
# with the right shapes and ranges (read back with h5py); bad options and
# data sets are refused with one clear line.
set -u
B="${top_builddir:-.}"
SL="$B/spikeloop"
T=$(mktemp -d "${TMPDIR:-/tmp}/sl_dyn.XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   - $1"; }
no() { fail=$((fail + 1)); echo "FAIL - $1"; }

if [ ! -r /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "skip - no Fashion-MNIST (Debian package dataset-fashion-mnist)"
  exit 77
fi

TINY="--set data.dataset=fashion --set data.n_train=300 --set data.n_val=100 --set data.n_test=100
 --set train.epochs=1"
OPTS="ternary_epochs=1,tpe_trials=12,grid_points=3,centre_samples=200,calib_samples=32"

if "$SL" experiment dynresnet $TINY --set backend.options=$OPTS --log "$T/dyn.h5" \
     >"$T/dyn.out" 2>&1; then
  ok "dynresnet finishes"
else
  no "dynresnet: $(tail -5 "$T/dyn.out")"
fi
grep -q "float   epoch  1/1" "$T/dyn.out" && grep -q "ternary epoch  1/1" "$T/dyn.out" \
  && ok "one progress line per epoch" || no "epoch progress lines"
[ "$(grep -c 'TPE trial' "$T/dyn.out")" -eq 12 ] && ok "one progress line per TPE trial" \
  || no "TPE progress lines"
grep -q "compute saved" "$T/dyn.out" && ok "dynresnet table" || no "dynresnet table"
# the per-sample executed MACs (/metrics_nb), printed by eval --metrics
"$SL" eval --log "$T/dyn.h5" --metrics >"$T/dyn_nb.out" 2>&1 \
  && grep -q "^  dyn.macs_executed " "$T/dyn_nb.out" && grep -q "^  dyn.compute_fraction " "$T/dyn_nb.out" \
  && ok "eval --metrics prints the early exits' per-sample MACs" \
  || no "eval --metrics on dynresnet: $(head -c 600 "$T/dyn_nb.out")"

if "$SL" experiment ternary_noise $TINY --set backend.options=$OPTS --log "$T/tn.h5" \
     >"$T/tn.out" 2>&1; then
  ok "ternary_noise finishes"
else
  no "ternary_noise: $(tail -5 "$T/tn.out")"
fi

PTINY="--set data.n_train=120 --set data.n_val=60 --set data.n_test=60 --set train.epochs=1"
POPTS="ternary_epochs=1,tpe_trials=8,grid_points=3,centre_samples=60,calib_samples=8"
if "$SL" experiment dynpointnet $PTINY --set backend.options=$POPTS --log "$T/pn.h5" \
     >"$T/pn.out" 2>&1; then
  ok "dynpointnet finishes on the procedural shapes"
else
  no "dynpointnet: $(tail -5 "$T/pn.out")"
fi

# noise-free crossbars and CAMs, three centres per class: the exits scored
# on the static pass's record decide exactly as the early-exit pass
"$SL" experiment dynpointnet $PTINY --set backend.options=$POPTS,read_sd=0,prog_sd=0,exit_centres=3 \
  --log "$T/pq.h5" >"$T/pq.out" 2>&1 && grep -q "exits scored on the full pass" "$T/pq.out" \
  && ok "dynpointnet with exit_centres=3 on noise-free hardware" \
  || no "dynpointnet exit_centres=3: $(tail -5 "$T/pq.out")"

if /usr/bin/python3 -c 'import h5py' 2>/dev/null; then
  /usr/bin/python3 - "$T/pq.h5" <<'PY' && ok "noise-free: acc_dynamic_paired equals acc_dynamic" \
    || no "acc_dynamic_paired on noise-free hardware"
import sys, h5py
d = h5py.File(sys.argv[1], "r")["summary"].attrs
assert d["acc_dynamic_paired"] == d["acc_dynamic"], (d["acc_dynamic_paired"], d["acc_dynamic"])
assert 0.0 <= d["changed_paired"] <= 1.0, d["changed_paired"]
PY
  # ModelNet40's layout, written as h5py writes it: data float32 (N, 2048, 3),
  # label uint8 (N, 1), listed in train/test list files as PointNet ships them
  /usr/bin/python3 - "$T" <<'PY' || no "writing ModelNet-style files"
import sys, h5py, numpy as np
rng = np.random.default_rng(1)
for name, n in (("ply_data_train0.h5", 160), ("ply_data_test0.h5", 40)):
    lab = (np.arange(n) % 4).astype(np.uint8)
    pts = rng.normal(size=(n, 2048, 3)).astype(np.float32)
    pts *= (1.0 + lab[:, None, None] * np.array([0.0, 0.6, 1.2], np.float32))
    with h5py.File(f"{sys.argv[1]}/{name}", "w") as f:
        f["data"] = pts
        f["label"] = lab[:, None]
    with open(f"{sys.argv[1]}/{name.split('_')[2][:-4]}_files.txt", "w") as l:
        l.write(f"data/modelnet40_ply_hdf5_2048/{name}\n")
PY
  if "$SL" experiment dynpointnet --set data.file="$T/train_files.txt,$T/test_files.txt" \
       --set data.n_train=120 --set data.n_val=40 --set data.n_test=40 --set train.epochs=1 \
       --set backend.options=$POPTS --log "$T/mn.h5" >"$T/mn.out" 2>&1 \
     && grep -q "modelnet40: 120 train, 40 validation, 40 test clouds" "$T/mn.out"; then
    ok "dynpointnet on ModelNet40-layout files from PointNet's list files"
  else
    no "dynpointnet on ModelNet files: $(tail -5 "$T/mn.out")"
  fi
  /usr/bin/python3 - "$T/pn.h5" <<'PY' && ok "dynpointnet summary as named" || no "dynpointnet summary"
import sys, h5py, numpy as np
d = h5py.File(sys.argv[1], "r")["summary"].attrs
for k in ("acc_full", "acc_dynamic", "compute_reduction"):
    assert np.ndim(d[k]) == 0, k
assert 0 <= d["acc_full"] <= 1 and 0 <= d["acc_dynamic"] <= 1
assert 0 <= d["acc_dynamic_paired"] <= 1 and 0 <= d["changed_paired"] <= 1
ef = np.asarray(d["exit_fraction"])
assert ef.shape == (3,) and abs(ef.sum() - 1.0) < 1e-9, ef
pa, pc = np.asarray(d["pareto_acc"]), np.asarray(d["pareto_compute"])
assert pa.shape == pc.shape and pa.size >= 1
ds = d["dataset"]
ds = ds.decode() if isinstance(ds, bytes) else ds
assert ds == "shapes", ds
PY
  /usr/bin/python3 - "$T/dyn.h5" "$T/tn.h5" <<'PY' && ok "summaries as named" || no "summaries"
import sys, h5py, numpy as np
d = h5py.File(sys.argv[1], "r")["summary"].attrs
for k in ("acc_full", "acc_dynamic", "compute_reduction", "energy_per_inference_j"):
    assert np.ndim(d[k]) == 0, k
for k in ("acc_full", "acc_dynamic"):
    assert 0.0 <= d[k] <= 1.0, (k, d[k])
assert -0.1 <= d["compute_reduction"] < 1.0, d["compute_reduction"]
assert d["energy_per_inference_j"] > 0
ef = np.asarray(d["exit_fraction"])
assert ef.shape == (4,) and abs(ef.sum() - 1.0) < 1e-9, ef
assert np.asarray(d["thresholds"]).shape == (3,)
pa, pc = np.asarray(d["pareto_acc"]), np.asarray(d["pareto_compute"])
assert pa.shape == pc.shape and pa.size >= 1
assert np.all(np.diff(pc) > 0) and np.all(np.diff(pa) > 0), (pa, pc)
ds = d["dataset"]
ds = ds.decode() if isinstance(ds, bytes) else ds
assert ds == "fashion", ds
t = h5py.File(sys.argv[2], "r")["summary"].attrs
assert list(np.asarray(t["write_noise"])) == [0.0, 0.05, 0.10, 0.15, 0.20, 0.30]
for k in ("acc_ternary", "acc_fp"):
    a = np.asarray(t[k])
    assert a.shape == (6,) and np.all((a >= 0) & (a <= 1)), (k, a)
PY
else
  echo "skip - h5py not available for /usr/bin/python3"
fi

# refused input: one line naming what was wrong, exit status 1
"$SL" experiment dynresnet $TINY --set backend.options=nosuch=1 --log "$T/x.h5" >"$T/o" 2>"$T/e"
[ $? -eq 1 ] && grep -q "nosuch" "$T/e" && ok "unknown option refused" || no "unknown option: $(cat "$T/e")"
"$SL" experiment dynresnet $TINY --set backend.options=lambda=-1 --log "$T/x.h5" >"$T/o" 2>"$T/e"
[ $? -eq 1 ] && grep -q "lambda" "$T/e" && ok "bad lambda refused" || no "bad lambda: $(cat "$T/e")"
"$SL" experiment dynpointnet --set backend.options=exit_score=best --log "$T/x.h5" >"$T/o" 2>"$T/e"
[ $? -eq 1 ] && grep -q "exit_score = 'best' (cosine or margin)" "$T/e" && ok "bad exit_score refused" \
  || no "bad exit_score: $(cat "$T/e")"
"$SL" experiment dynpointnet --set backend.options=exit_agree=2 --log "$T/x.h5" >"$T/o" 2>"$T/e"
[ $? -eq 1 ] && grep -q "exit_agree" "$T/e" && ok "bad exit_agree refused" \
  || no "bad exit_agree: $(cat "$T/e")"
"$SL" experiment dynresnet $TINY --set backend.options=exit_pool=max --log "$T/x.h5" >"$T/o" 2>"$T/e"
[ $? -eq 1 ] && grep -q "exit_pool=max is dynpointnet's" "$T/e" && ok "exit_pool refused by dynresnet" \
  || no "exit_pool on dynresnet: $(cat "$T/e")"
"$SL" experiment dynresnet --set data.dataset=fashion16 --log "$T/x.h5" >"$T/o" 2>"$T/e"
[ $? -eq 1 ] && grep -q "28x28" "$T/e" && ok "16x16 data refused" || no "fashion16: $(cat "$T/e")"
"$SL" experiment dynpointnet --set data.file="$T/none.h5,$T/none_test.h5" --log "$T/x.h5" \
  >"$T/o" 2>"$T/e"
[ $? -eq 1 ] && grep -q "none.h5" "$T/e" && ok "missing ModelNet file named" \
  || no "missing ModelNet file: $(cat "$T/e")"
[ ! -e "$T/x.h5" ] && ok "no log left by refused runs" || no "a refused run left $T/x.h5"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
