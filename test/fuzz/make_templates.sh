#!/bin/sh
# make_templates.sh -- write the valid files the HDF5 fuzz harnesses mutate
# (their seeds) and the seed corpora of the byte-level harnesses.
#
# usage: make_templates.sh SPIKELOOP SRCDIR OUTDIR
#   SPIKELOOP  the command-line tool of the normal (gcc) build
#   SRCDIR     the source tree (test/make_shd.py, experiments/*.ini)
#   OUTDIR     gets templates/*.h5 and seeds/<harness>/*
# Every template is small (a few hundred KB at most) so that one fuzz
# execution copies and reopens it in well under a millisecond. Needs
# /usr/bin/python3 with h5py (Debian's python3-h5py) for SHD and ModelNet.
set -eu
SL=$1
SRC=$2
OUT=$3
T=$OUT/templates
S=$OUT/seeds
PY=/usr/bin/python3
mkdir -p "$T" "$S"
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1

SMALL="--set data.n_train=40 --set data.n_val=20 --set data.n_test=20 --set net.hidden=6
  --set train.batch=20 --set encoder.t_steps=40"
# a finished run with checkpoints and /metrics_nb, as eval and --resume read it
"$SL" train $SMALL --set train.epochs=2 --log "$T/runlog.h5" --quiet >/dev/null
# a recording of a bss2 training (replay)
"$SL" train $SMALL --set train.epochs=1 --backend bss2 --set backend.options=chip_seed=1 \
  --record "$T/recording.h5" --log "$OUT/rec_run.h5" --quiet >/dev/null
rm -f "$OUT/rec_run.h5"
# characterisation of 8 circuits, the twin fitted on it, 3 rounds of calibration
"$SL" characterise --backend bss2 --chip-seed 2 --neurons 0-7 --out "$T/charac.h5" >/dev/null
"$SL" fit --recording "$T/charac.h5" --out "$T/twin.h5" >/dev/null
"$SL" calibrate --backend bss2 --chip-seed 2 --neurons 0-7 --target tau_mem=6e-6,v_th=0.8 \
  --iterations 1 --out "$T/calib.h5" >/dev/null
# a NIR graph of a 5-6-3 network
"$SL" export --log "$T/runlog.h5" --out "$T/net.nir" >/dev/null
# a data-set file
"$SL" dataset yinyang --n 40 --seed 9 --out "$T/dataset.h5" >/dev/null
# SHD (12 samples) and ModelNet40 (6 clouds of 32 points) in their own layouts
"$PY" "$SRC/test/make_shd.py" "$T/shd.h5" 12 3 >/dev/null
"$PY" - "$T/modelnet.h5" <<'PYEOF'
import sys, h5py, numpy as np
rng = np.random.default_rng(5)
with h5py.File(sys.argv[1], "w") as f:
    f["data"] = rng.normal(0, 1, (6, 32, 3)).astype(np.float32)
    f["label"] = np.array([[0], [3], [39], [7], [0], [12]], dtype=np.uint8)
    f["normal"] = rng.normal(0, 1, (6, 32, 3)).astype(np.float32)
PYEOF

# byte-level harnesses: the experiments' configuration files and
# --print-config; IDX files, plain and gzip; calibration arguments
mkdir -p "$S/config" "$S/idx" "$S/calib_args"
cp "$SRC"/experiments/*.ini "$S/config/"
"$SL" train --print-config >"$S/config/print-config.ini"
"$PY" - "$S/idx" <<'PYEOF'
import gzip, struct, sys
d = sys.argv[1]
img = struct.pack(">IIII", 0x803, 3, 4, 5) + bytes(range(60))
lab = struct.pack(">II", 0x801, 3) + bytes([0, 9, 4])
open(d + "/images.idx", "wb").write(img)
open(d + "/labels.idx", "wb").write(lab)
open(d + "/images.idx.gz", "wb").write(gzip.compress(img))
open(d + "/labels.idx.gz", "wb").write(gzip.compress(lab))
PYEOF
printf 'tau_mem=6e-6,v_th=0.8' >"$S/calib_args/targets"
printf 'tau_mem=1e-5,tau_syn=5e-6,v_th=0.8,gain=8000,refrac=none,v_leak=0.5,v_reset=0.4' \
  >"$S/calib_args/targets_all"
printf '0-7,12,500-511' >"$S/calib_args/neurons"
printf 'avx2' >"$S/calib_args/isa"
# the HDF5 harnesses' programs: empty (the template as it is)
for h in runlog recording charac twin calibfile nir shd modelnet dataset; do
  mkdir -p "$S/$h"
  : >"$S/$h/empty"
done
echo "fuzz templates and seeds in $OUT"
