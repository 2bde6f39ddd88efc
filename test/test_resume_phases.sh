#!/bin/sh
# test_resume_phases.sh -- the multi-phase experiments resume (issue 16):
# mismatch_sweep, memristor_twin and mcnn_hybrid, stopped by the library's
# test hook (SPIKELOOP_TEST_STOP_AT, lib/io/runlog_ckpt.c) at exact points
# and killed with SIGKILL there, then continued with `experiment NAME
# --resume`, end with the same /summary, /params, /xbar and /metrics_nb as
# an uninterrupted run of the same settings (bit-identical, times aside).
#
# Kill points, per experiment: inside the first phase's training (after an
# epoch checkpoint), around a phase's commit (staged, flushed, committed),
# and once a resumed run stopped again inside a later phase's training and
# resumed a second time. Each resumed run must say that it read the stored
# phases back / continued its training (a restore that silently re-ran
# everything would give the same numbers). Also: a log of one experiment
# is refused by another's --resume; every killed log opens with h5py.
# Small settings; skipped (77) without h5py for /usr/bin/python3.
set -u
B="${top_builddir:-.}"
S="${top_srcdir:-.}"
SL="$B/spikeloop"
PY=/usr/bin/python3
CHECK="$S/test/check_resume_h5py.py"
T=$(mktemp -d "${TMPDIR:-/tmp}/sl_phases.XXXXXX")
trap 'rm -rf "$T"' EXIT
: >"$T/checks"
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   - $1"; }
no() { fail=$((fail + 1)); echo "FAIL - $1"; }
if ! $PY -c 'import h5py' 2>/dev/null; then
  echo "SKIP: h5py not available for $PY"
  exit 77
fi
built() { case " ${SL_BACKENDS_LEFT_OUT-} " in *" $1 "*) return 1 ;; esac; }
OMP_WAIT_POLICY=PASSIVE
export OMP_WAIT_POLICY

# wait_stopped PID: until the process is stopped (state T), at most 30 s.
wait_stopped() {
  i=0
  while [ $i -lt 300 ]; do
    st=$(ps -o state= -p "$1" 2>/dev/null | tr -d ' ')
    case "$st" in T*) return 0 ;; "") return 1 ;; esac
    sleep 0.1
    i=$((i + 1))
  done
  return 1
}

# stop_kill NAME AT CMD...: run CMD (appending to NAME.out) until the hook
# stops it at AT, SIGKILL it, queue the h5py check of the log as left.
stop_kill() {
  name=$1 at=$2
  shift 2
  SPIKELOOP_TEST_STOP_AT=$at "$@" >>"$T/$name.out" 2>&1 &
  pid=$!
  if wait_stopped $pid; then
    kill -9 $pid
    wait $pid 2>/dev/null
    cp "$T/$name.h5" "$T/$name.$at.h5"
    echo "phases $T/$name.$at.h5" >>"$T/checks"
    return 0
  fi
  wait $pid 2>/dev/null
  no "$name: did not stop at $at: $(tail -c 300 "$T/$name.out")"
  return 1
}

# resume EXP NAME REF WORDS...: --resume NAME's log; its output must hold
# every WORDS (a phase read back, a training continued); queue the
# comparison with REF.
resume() {
  exp=$1 name=$2 ref=$3
  shift 3
  if ! "$SL" experiment "$exp" --resume "$T/$name.h5" --threads 1 >"$T/$name.res" 2>&1; then
    no "$name: resume failed: $(tail -c 300 "$T/$name.res")"
    return
  fi
  for w in "$@"; do
    grep -qF -- "$w" "$T/$name.res" || { no "$name: resumed, but no '$w' in its output"; return; }
  done
  ok "$name: resumed ($*)"
  echo "same $T/$ref.h5 $T/$name.h5" >>"$T/checks"
}

# killed_resumed EXP NAME AT REF WORDS...: a fresh run stopped at AT, killed,
# resumed.
killed_resumed() {
  exp=$1 name=$2 at=$3 ref=$4
  shift 4
  rm -f "$T/$name.h5"
  stop_kill "$name" "$at" "$SL" experiment "$exp" $ARGS --log "$T/$name.h5" &&
    resume "$exp" "$name" "$ref" "$@"
}

# reference EXP NAME: an uninterrupted run
reference() {
  "$SL" experiment "$1" $ARGS --log "$T/$2.h5" >"$T/$2.out" 2>&1 && ok "$1: uninterrupted run" \
    || no "$1: uninterrupted run: $(tail -c 300 "$T/$2.out")"
}

# --- mismatch_sweep: phases nominal, sigma_0 .. sigma_5 (each a training)
ARGS="--set data.n_train=200 --set data.n_val=50 --set data.n_test=100 --set net.hidden=20
--set train.batch=20 --set train.epochs=2 --set train.seed=7 --threads 1"
reference mismatch_sweep ms_ref
killed_resumed mismatch_sweep ms_a committed:1 ms_ref "[nominal] (resumed after epoch 1)"
killed_resumed mismatch_sweep ms_b phase_flushed:2 ms_ref "(phase nominal: stored results read back)"
# after sigma_1's commit; the resumed run stopped in sigma_2's training,
# killed, resumed again
rm -f "$T/ms_c.h5"
if stop_kill ms_c phase_committed:3 "$SL" experiment mismatch_sweep $ARGS --log "$T/ms_c.h5" &&
   stop_kill ms_c committed:1 "$SL" experiment mismatch_sweep --resume "$T/ms_c.h5" --threads 1; then
  resume mismatch_sweep ms_c ms_ref "(phase sigma_1: stored results read back)" \
    "[loop sigma 0.2] (resumed after epoch 1)"
fi
# another experiment's log is refused, by name
cp "$T/ms_c.phase_committed:3.h5" "$T/ms_other.h5"
"$SL" experiment memristor_twin --resume "$T/ms_other.h5" >"$T/ms_other.out" 2>&1 \
  && no "a mismatch_sweep log resumed as memristor_twin" \
  || { grep -q "is the log of 'experiment mismatch_sweep', not of 'experiment memristor_twin'" \
         "$T/ms_other.out" && ok "another experiment's log refused" \
         || no "other experiment: $(cat "$T/ms_other.out")"; }

# --- memristor_twin: phases a_ideal (training), b_naive, c_twin (the map),
# d_twin_trained and e_control (trainings in the loop on the crossbar)
if built memristor; then
  reference memristor_twin mt_ref
  killed_resumed memristor_twin mt_a committed:2 mt_ref "[a: ideal] (resumed after epoch 2)"
  killed_resumed memristor_twin mt_b phase_staged:5 mt_ref "(phase c_twin: stored results read back)" \
    "(phase d_twin_trained: stored results read back)"
  rm -f "$T/mt_c.h5"
  if stop_kill mt_c phase_committed:3 "$SL" experiment memristor_twin $ARGS --log "$T/mt_c.h5" &&
     stop_kill mt_c committed:3 "$SL" experiment memristor_twin --resume "$T/mt_c.h5" --threads 1; then
    resume memristor_twin mt_c mt_ref "(phase c_twin: stored results read back)" \
      "[d: twin-trained] (resumed after epoch 3)"
  fi
else
  echo "skip - memristor_twin: backend memristor not built"
fi

# --- mcnn_hybrid on Fashion-MNIST: phases fashion_float (its own training,
# checkpointed every epoch), fashion_group1, fashion_group2 (the tiles)
if [ -r /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  ARGS="--set data.n_train=400 --set data.n_test=200 --set train.epochs=2 --threads 1
--set backend.options=datasets=fashion,groups=2,hybrid_epochs=2,hybrid_fraction=0.5"
  reference mcnn_hybrid mc_ref
  killed_resumed mcnn_hybrid mc_a committed:1 mc_ref "[software] (resumed after epoch 1)"
  killed_resumed mcnn_hybrid mc_b phase_staged:2 mc_ref "(phase fashion_float: stored results read back)"
  killed_resumed mcnn_hybrid mc_c phase_committed:2 mc_ref \
    "(phase fashion_group1: stored results read back)"
else
  echo "skip - mcnn_hybrid: no Fashion-MNIST (Debian package dataset-fashion-mnist)"
fi

# --- every queued h5py check, in one Python process
if out=$($PY "$CHECK" batch "$T/checks" 2>&1); then :; fi
echo "$out"
pass=$((pass + $(echo "$out" | grep -c '^ok   - ')))
fail=$((fail + $(echo "$out" | grep -c '^FAIL - ')))
[ "$(echo "$out" | grep -cE '^(ok|FAIL) +- ')" -eq "$(wc -l <"$T/checks")" ] \
  || no "not every h5py check ran: $out"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
