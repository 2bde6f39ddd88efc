#!/bin/sh
# test_determinism.sh -- the same seed gives the same weights: bit-identical
# for 1 and 2 OpenMP threads (ideal simulator with a recurrent layer large
# enough for the CBLAS product, the bss2 and memristor backends in the
# loop) and from one run to the next; over MPI, 2 ranks are bit-identical
# from run to run and for 1 and 2 threads per rank, and equal one process
# within the documented tolerance (README "Determinism": the gradient of a
# batch is summed in slices, one per rank, so the rounding differs).
# Compares every array under /params of the run logs (test_mpi_cmp with
# tolerance 0 means bit-identical). The MPI part is skipped without
# ./configure --with-mpi.
set -u
B=$(cd "${top_builddir:-.}" && pwd)
SL="$B/spikeloop"
CMP="$B/test_mpi_cmp"
T=$(mktemp -d "${TMPDIR:-/tmp}/sl_det.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=PASSIVE
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   - $1"; }
no() { fail=$((fail + 1)); echo "FAIL - $1"; }

# 2 epochs of 400 samples; 80 recurrent hidden neurons make the back-projection
# through w_rec (40 steps x 20 samples x 80 x 80 = 5.1e6 multiply-adds) large
# enough for cblas_sgemm (SMALL_PRODUCT in lib/core/matmul.c)
SMALL="--set data.n_train=400 --set data.n_val=100 --set data.n_test=200 --set net.hidden=80 \
--set net.recurrent=1 --set train.batch=20 --set train.epochs=2 --set train.seed=11 \
--set mismatch.tau_mem=0.2 --quiet"

train() { # NAME THREADS ARGS...: a run log $T/NAME.h5
  name=$1 threads=$2
  shift 2
  "$SL" train $SMALL --threads "$threads" --log "$T/$name.h5" "$@" >"$T/$name.out" 2>&1 ||
    { no "run $name: $(tail -3 "$T/$name.out")"; return 1; }
}
same() { # A B WHAT: bit-identical /params
  if out=$("$CMP" "$T/$1.h5" "$T/$2.h5" 0 2>&1); then
    ok "$3: bit-identical ($out)"
  else
    no "$3: weights differ: $out"
  fi
}

train ideal1 1 && train ideal2 2 && same ideal1 ideal2 "ideal, 1 vs 2 threads"
train ideal2b 2 && same ideal2 ideal2b "ideal, 2 threads, run to run"
case " ${SL_BACKENDS_LEFT_OUT:-} " in
*" bss2 "*) echo "skip - bss2 not built" ;;
*) train bss2_1 1 --backend bss2 --set backend.options=chip_seed=3 &&
     train bss2_2 2 --backend bss2 --set backend.options=chip_seed=3 &&
     same bss2_1 bss2_2 "bss2 in the loop, 1 vs 2 threads" ;;
esac
case " ${SL_BACKENDS_LEFT_OUT:-} " in
*" memristor "*) echo "skip - memristor not built" ;;
*) train mem1 1 --backend memristor --set net.recurrent=0 &&
     train mem2 2 --backend memristor --set net.recurrent=0 &&
     same mem1 mem2 "memristor in the loop, 1 vs 2 threads" ;;
esac

# MPI: loopback only, any number of slots, root allowed (as test_mpi.sh)
if [ -n "${SL_MPIRUN:-}" ]; then
  OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo
  OMPI_MCA_oob_tcp_if_include=lo OMPI_MCA_btl_vader_single_copy_mechanism=none
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  export OMPI_MCA_rmaps_base_oversubscribe OMPI_MCA_btl OMPI_MCA_btl_tcp_if_include \
    OMPI_MCA_oob_tcp_if_include OMPI_MCA_btl_vader_single_copy_mechanism \
    OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM
  ROOT=""
  [ "$(id -u)" -eq 0 ] && ROOT="--allow-run-as-root"
  ranks() { # NAME THREADS ARGS...: 2 ranks
    name=$1 threads=$2
    shift 2
    (cd "$T" && "$SL_MPIRUN" $ROOT --oversubscribe -np 2 "$SL" train $SMALL --threads "$threads" \
      --log "$name.h5" "$@") >"$T/$name.out" 2>&1 ||
      { no "2-rank run $name: $(head -c 1500 "$T/$name.out")"; return 1; }
  }
  near() { # A B TOL WHAT
    if out=$("$CMP" "$T/$1.h5" "$T/$2.h5" "$3" 2>&1); then
      ok "$4: within $3 ($out)"
    else
      no "$4: beyond $3: $out"
    fi
  }
  ranks mpi_a 1 && ranks mpi_b 1 && same mpi_a mpi_b "2 MPI ranks, run to run"
  ranks mpi_t2 2 && same mpi_a mpi_t2 "2 MPI ranks, 1 vs 2 threads per rank"
  # 1 process vs 2 ranks: the documented tolerance (README "Determinism"):
  # the slices' rounding, 1e-7 after 2 epochs of a feed-forward network; a
  # recurrent network turns it into flipped spikes after a few steps, so it is
  # held to the tolerance for its first step only
  ff="--set net.recurrent=0"
  train ff1 1 $ff && ranks ff2 1 $ff && near ff1 ff2 1e-6 "1 process vs 2 ranks, 2 epochs feed-forward"
  one="--set data.n_train=20 --set data.n_val=20 --set data.n_test=20 --set train.epochs=1"
  train rec1 1 $one && ranks rec2 1 $one && near rec1 rec2 1e-6 "1 process vs 2 ranks, 1 step recurrent"
else
  echo "skip - MPI parts: built without MPI (./configure --with-mpi)"
fi

echo "test_determinism: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
