#!/bin/sh
# test_mpi.sh -- data-parallel training over MPI: 2 ranks on loopback train
# the same weights as one process with the same seed and global batch, and
# rank 0 alone writes the run log. Skipped without ./configure --with-mpi.
set -u
B=$(cd "${top_builddir:-.}" && pwd)
SL="$B/spikeloop"
CMP="$B/test_mpi_cmp"
if [ -z "${SL_MPIRUN:-}" ]; then
  echo "SKIP: built without MPI (./configure --with-mpi)"
  exit 77
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/sl_mpi.XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   - $1"; }
no() { fail=$((fail + 1)); echo "FAIL - $1"; }

# loopback only, any number of slots, root allowed (containers, CI)
OMPI_MCA_rmaps_base_oversubscribe=1
OMPI_MCA_btl=self,vader,tcp
OMPI_MCA_btl_tcp_if_include=lo
OMPI_MCA_oob_tcp_if_include=lo
OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_rmaps_base_oversubscribe OMPI_MCA_btl OMPI_MCA_btl_tcp_if_include \
  OMPI_MCA_oob_tcp_if_include OMPI_MCA_btl_vader_single_copy_mechanism
ROOT=""
[ "$(id -u)" -eq 0 ] && ROOT="--allow-run-as-root"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

SMALL="--set data.n_train=400 --set data.n_val=100 --set data.n_test=200 --set net.hidden=30 \
--set train.batch=20 --set train.epochs=2 --set train.seed=7 --threads 1 --quiet"

"$SL" train $SMALL --log "$T/one.h5" >"$T/one.out" 2>&1 && ok "1-process run" \
  || { no "1-process run: $(cat "$T/one.out")"; }

(cd "$T" && "$SL_MPIRUN" $ROOT --oversubscribe -np 2 "$SL" train $SMALL --log two.h5) \
  >"$T/two.out" 2>&1 && ok "2-rank run (mpirun --oversubscribe -np 2)" \
  || no "2-rank run: $(head -c 2000 "$T/two.out")"
cat "$T/two.out"

if [ -f "$T/two.h5" ] && out=$("$CMP" "$T/one.h5" "$T/two.h5" 1e-4); then
  ok "2-rank weights equal 1-process weights: $out"
else
  no "2-rank weights differ from 1-process weights: ${out:-no log}"
fi
[ "$("$CMP" --ranks "$T/two.h5" 2>/dev/null)" = 2 ] && ok "/meta@ranks = 2" || no "/meta@ranks"
[ "$("$CMP" --ranks "$T/one.h5" 2>/dev/null)" = 1 ] && ok "/meta@ranks = 1 without mpirun" \
  || no "/meta@ranks of the 1-process log"
n=$(ls "$T" | grep -c '\.h5')
[ "$n" -eq 2 ] && ok "rank 0 alone wrote a log ($n logs in all)" || no "$n logs written: $(ls "$T")"
c=$(grep -c "^final test accuracy" "$T/two.out")
[ "$c" -eq 1 ] && ok "rank 0 alone printed the result" || no "result printed $c times"

# the benchmark data-parallel: one summary, from rank 0, over 2 ranks
"$SL_MPIRUN" $ROOT --oversubscribe -np 2 "$SL" bench W1 --repeat 1 --threads 1 >"$T/bench.out" 2>&1 \
  && ok "2-rank bench W1" || no "2-rank bench: $(head -c 2000 "$T/bench.out")"
c=$(grep -Ec '^W1 train_ms=[0-9.]+ .* ranks=2 threads=1 isa=[a-z0-9]+ cpu=".*"$' "$T/bench.out")
[ "$c" -eq 1 ] && ok "bench reports ranks=2 once" || no "bench summary printed $c times"

echo "test_mpi: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
