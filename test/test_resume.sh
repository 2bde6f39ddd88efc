#!/bin/sh
# test_resume.sh -- crash-safe, resumable runs (issue 16): a training killed
# with SIGKILL at many points leaves a log that h5py opens with a complete
# checkpoint (or none yet), and `spikeloop train --resume` finishes it with
# final weights, metrics and summary bit-identical to an uninterrupted run
# of the same seed (ideal backend; bss2 and memristor as well, if built).
#
# Kill points:
#   - inside the checkpoint commit, exactly: the library's test hook
#     SPIKELOOP_TEST_STOP_AT=<stage>:<epoch> stops the process (SIGSTOP) at
#     that stage (lib/io/runlog_ckpt.c), and the test SIGKILLs it there:
#     staged (checkpoint written, not flushed), flushed (not renamed),
#     renamed (renamed, not flushed), committed (before the previous one is
#     deleted), deleted (before the last flush); after the first epoch's
#     staging (no checkpoint yet: resuming must fail clearly) and after the
#     last epoch's commit (nothing left to train);
#   - mid-epoch, by time: some ms after an epoch's progress line (inside
#     the next epoch's batches or evaluation), and a resumed run killed
#     again and resumed a second time;
#   - experiment yinyang_loop, stopped in its logged loop training's commit
#     of epoch 2, resumed with `experiment yinyang_loop --resume`;
#   - experiment dynresnet (float then ternary training), killed after the
#     checkpoints of epochs 1, 2 (the phase boundary) and 3 (the last);
#   - calibrate (bss2), stopped after its second round's state was written,
#     resumed with `calibrate --resume`: the same words as an uninterrupted
#     calibration.
# Skipped (77) without h5py for /usr/bin/python3 (the checks read the logs).
set -u
B="${top_builddir:-.}"
S="${top_srcdir:-.}"
SL="$B/spikeloop"
PY=/usr/bin/python3
CHECK="$S/test/check_resume_h5py.py"
T=$(mktemp -d "${TMPDIR:-/tmp}/sl_resume.XXXXXX")
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

SMALL="--set data.n_train=400 --set data.n_val=100 --set data.n_test=200 --set net.hidden=30
--set train.batch=20 --set train.epochs=4 --set train.seed=7 --threads 1 --quiet"

# wait_stopped PID: until the process is stopped (state T), at most 20 s.
wait_stopped() {
  i=0
  while [ $i -lt 200 ]; do
    st=$(ps -o state= -p "$1" 2>/dev/null | tr -d ' ')
    case "$st" in T*) return 0 ;; "") return 1 ;; esac
    sleep 0.1
    i=$((i + 1))
  done
  return 1
}

# killed_at NAME STAGE:EPOCH ARGS...: train ARGS until the hook stops it,
# SIGKILL it, check the log with h5py (prints the checkpoint epoch).
killed_at() {
  name=$1 at=$2
  shift 2
  SPIKELOOP_TEST_STOP_AT=$at "$SL" train "$@" --log "$T/$name.h5" >"$T/$name.out" 2>&1 &
  pid=$!
  if wait_stopped $pid; then
    kill -9 $pid
    wait $pid 2>/dev/null
  else
    wait $pid 2>/dev/null
    no "$name: the run did not stop at $at ($(head -c 300 "$T/$name.out"))"
    return 1
  fi
  # the log as the kill left it, checked with h5py at the end (one start)
  cp "$T/$name.h5" "$T/$name.killed.h5"
  echo "killed $T/$name.killed.h5" >>"$T/checks"
  ok "$name: stopped at $at and killed"
}

# resumed_equal NAME REF [TOL]: resume NAME and compare it with REF.
resumed_equal() {
  name=$1 ref=$2
  # a time-based kill that came after the end of the run (a slow machine)
  # leaves a finished log: then there is nothing to resume, only to compare
  if grep -q "^final test accuracy" "$T/$name.progress" 2>/dev/null; then
    echo "note - $name finished before the kill"
  elif "$SL" train --resume "$T/$name.h5" --quiet ${3-} >>"$T/$name.out" 2>&1; then
    ok "$name: resumed"
  else
    no "$name: resume failed: $(tail -c 300 "$T/$name.out")"
    return
  fi
  echo "same $T/$ref.h5 $T/$name.h5" >>"$T/checks"
}

# --- the reference: one uninterrupted run
"$SL" train $SMALL --log "$T/ref.h5" >"$T/ref.out" 2>&1 && ok "uninterrupted run" \
  || no "uninterrupted run: $(cat "$T/ref.out")"
# --- exact kill points inside the checkpoint commit of epoch 2 (k_committed
# resumed with 2 threads: the thread count must not matter either)
for stage in staged flushed renamed committed deleted; do
  threads=""
  [ $stage = committed ] && threads="--threads 2"
  killed_at "k_$stage" "$stage:2" $SMALL && resumed_equal "k_$stage" ref "$threads"
done
# killed after the last epoch's commit: nothing left to train, the log is finished
killed_at k_last committed:4 $SMALL && resumed_equal k_last ref

# --- killed before the first checkpoint: a clear error, the log untouched
if killed_at k_first staged:1 $SMALL; then
  if "$SL" train --resume "$T/k_first.h5" >"$T/k_first.res" 2>&1; then
    no "resuming a log without checkpoint succeeded"
  elif grep -q "has no checkpoint" "$T/k_first.res"; then
    ok "resuming a log without checkpoint: $(grep -o 'has no checkpoint[^(]*' "$T/k_first.res")"
  else
    no "resuming a log without checkpoint: $(cat "$T/k_first.res")"
  fi
fi

# --- bad input
"$SL" train --resume "$T/ref.h5" >"$T/bad.out" 2>&1 && no "resuming a finished run succeeded" || {
  grep -q "run finished" "$T/bad.out" && ok "a finished run is not resumed" || no "finished: $(cat "$T/bad.out")"
}
"$SL" train --resume "$T/nonexistent.h5" >"$T/bad.out" 2>&1 && no "resuming a missing log" || {
  grep -q "No such file" "$T/bad.out" && ok "a missing log: clear error" || no "missing: $(cat "$T/bad.out")"
}
killed_at k_cfg committed:2 $SMALL && {
  "$SL" train --resume "$T/k_cfg.h5" $SMALL --set train.lr=0.5 >"$T/bad.out" 2>&1 && no "a config mismatch was accepted" || {
    grep -q "train.lr is '.*' in the log, '0.5' given" "$T/bad.out" && ok "config mismatch named" \
      || no "config mismatch: $(cat "$T/bad.out")"
  }
  # the same settings repeated are fine
  resumed_equal k_cfg ref "$SMALL"
}
head -c 3000 "$T/ref.h5" >"$T/trunc.h5"
"$SL" train --resume "$T/trunc.h5" >"$T/bad.out" 2>&1 && no "a truncated log was resumed" || {
  grep -qi "damaged or truncated\|not an HDF5" "$T/bad.out" && ok "a truncated log: clear error" \
    || no "truncated: $(cat "$T/bad.out")"
}

# --- mid-epoch kills by time, on longer epochs; one resumed run killed again
MID="--set data.n_train=8000 --set data.n_val=100 --set data.n_test=200 --set net.hidden=60
--set train.batch=20 --set train.epochs=4 --set train.seed=3 --threads 1"
"$SL" train $MID --quiet --log "$T/mref.h5" >"$T/mref.out" 2>&1 && ok "uninterrupted longer run" \
  || no "longer run: $(cat "$T/mref.out")"
# kill_after NAME EPOCH DELAY CMD...: run CMD (which prints progress into a
# fresh file), SIGKILL it DELAY s after the progress line of EPOCH appears.
kill_after() {
  name=$1 ep=$2 delay=$3
  shift 3
  "$@" >"$T/$name.progress" 2>&1 &
  pid=$!
  i=0
  while [ $i -lt 400 ] && ! grep -q "^epoch   $ep/" "$T/$name.progress"; do sleep 0.05; i=$((i + 1)); done
  sleep "$delay"
  kill -9 $pid 2>/dev/null
  wait $pid 2>/dev/null
  cp "$T/$name.h5" "$T/$name.killed$ep.h5"
  echo "killed $T/$name.killed$ep.h5" >>"$T/checks"
  ok "$name: killed ${delay} s after epoch $ep"
}
for d in 0.02 0.1; do
  kill_after "m_$d" 1 $d "$SL" train $MID --log "$T/m_$d.h5"
  resumed_equal "m_$d" mref
done
# killed in epoch 2, resumed, the resumed run killed in epoch 3, resumed again
kill_after m_twice 1 0.03 "$SL" train $MID --log "$T/m_twice.h5"
kill_after m_twice 2 0.03 "$SL" train --resume "$T/m_twice.h5"
resumed_equal m_twice mref

# --- in the loop on the emulated backends: the backend's state is saved too
for be in bss2 memristor; do
  built $be || { echo "skip - backend $be not built"; continue; }
  BE="$SMALL --set train.epochs=3 --backend $be"
  "$SL" train $BE --log "$T/${be}_ref.h5" >"$T/${be}_ref.out" 2>&1 && ok "$be: uninterrupted run" \
    || { no "$be run: $(cat "$T/${be}_ref.out")"; continue; }
  killed_at "${be}_k" committed:1 $BE && resumed_equal "${be}_k" "${be}_ref"
done

# --- an experiment (yinyang_loop: simulation, deployment, the logged loop
# training): killed in the loop's epoch 2 commit, resumed with --resume
if built bss2; then
  EX="experiment yinyang_loop --set data.n_train=400 --set data.n_val=100 --set data.n_test=200
--set net.hidden=30 --set train.epochs=3 --threads 1"
  "$SL" $EX --log "$T/ex_ref.h5" >"$T/ex_ref.out" 2>&1 && ok "experiment: uninterrupted run" \
    || no "experiment: $(tail -c 300 "$T/ex_ref.out")"
  SPIKELOOP_TEST_STOP_AT=committed:2 "$SL" $EX --log "$T/ex.h5" >"$T/ex.out" 2>&1 &
  pid=$!
  if wait_stopped $pid; then
    kill -9 $pid
    wait $pid 2>/dev/null
    cp "$T/ex.h5" "$T/ex.killed.h5"
    echo "killed $T/ex.killed.h5" >>"$T/checks"
    "$SL" experiment twin_loop --resume "$T/ex.h5" >"$T/ex.bad" 2>&1 && no "experiment: another experiment resumed" \
      || { grep -q "is the log of 'experiment yinyang_loop'" "$T/ex.bad" && ok "experiment: another experiment's log refused" \
        || no "experiment: other experiment: $(cat "$T/ex.bad")"; }
    if "$SL" experiment yinyang_loop --resume "$T/ex.h5" >>"$T/ex.out" 2>&1; then
      ok "experiment: resumed"
      echo "same $T/ex_ref.h5 $T/ex.h5" >>"$T/checks"
    else
      no "experiment: resume failed: $(tail -c 300 "$T/ex.out")"
    fi
  else
    no "experiment: did not stop at committed:2: $(tail -c 300 "$T/ex.out")"
  fi
fi

# --- the dynamic-exit experiments (their own two-phase training, float then
# ternary, epochs counted across both): killed inside the float phase, at
# the phase boundary and after the last epoch, resumed with --resume; the
# final networks, /metrics and /summary equal an uninterrupted run's
if [ -r /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  DX="experiment dynresnet --set data.dataset=fashion --set data.n_train=300 --set data.n_val=100
--set data.n_test=100 --set train.epochs=2 --threads 1
--set backend.options=ternary_epochs=1,tpe_trials=8,grid_points=3,centre_samples=200,calib_samples=32"
  "$SL" $DX --log "$T/dx_ref.h5" >"$T/dx_ref.out" 2>&1 && ok "dynresnet: uninterrupted run" \
    || no "dynresnet: $(tail -c 300 "$T/dx_ref.out")"
  for at in 1 2 3; do
    SPIKELOOP_TEST_STOP_AT=committed:$at "$SL" $DX --log "$T/dx$at.h5" >"$T/dx$at.out" 2>&1 &
    pid=$!
    if wait_stopped $pid; then
      kill -9 $pid
      wait $pid 2>/dev/null
      if "$SL" experiment dynresnet --resume "$T/dx$at.h5" >>"$T/dx$at.out" 2>&1 &&
         grep -q "(resumed after epoch $at)" "$T/dx$at.out"; then
        ok "dynresnet: killed after epoch $at's checkpoint, resumed"
        echo "same $T/dx_ref.h5 $T/dx$at.h5" >>"$T/checks"
      else
        no "dynresnet: resume after $at: $(tail -c 300 "$T/dx$at.out")"
      fi
    else
      no "dynresnet: did not stop at committed:$at: $(tail -c 300 "$T/dx$at.out")"
    fi
  done
else
  echo "skip - dynresnet resume: no Fashion-MNIST (Debian package dataset-fashion-mnist)"
fi

# --- calibrate: killed after a round, resumed from the state file
if built bss2; then
  CAL="calibrate --backend bss2 --target tau_mem=8e-6,v_th=0.8 --neurons 0-7 --iterations 3"
  "$SL" $CAL --out "$T/cal_ref.h5" >"$T/cal_ref.out" 2>&1 && [ ! -e "$T/cal_ref.h5.resume.h5" ] \
    && ok "calibrate: uninterrupted run (no resume file left)" || no "calibrate: $(cat "$T/cal_ref.out")"
  SPIKELOOP_TEST_STOP_AT=round:2 "$SL" $CAL --out "$T/cal.h5" >"$T/cal.out" 2>&1 &
  pid=$!
  if wait_stopped $pid; then
    kill -9 $pid
    wait $pid 2>/dev/null
    [ ! -e "$T/cal.h5" ] && [ -e "$T/cal.h5.resume.h5" ] && ok "calibrate: killed after round 2" \
      || no "calibrate: killed after round 2: $(ls "$T" | grep cal)"
    "$SL" $CAL --iterations 4 --out "$T/cal.h5" --resume >"$T/cal.bad" 2>&1 \
      && no "calibrate: a resume with other rounds was accepted" \
      || { grep -q "another calibration (the rounds differ)" "$T/cal.bad" && ok "calibrate: other rounds refused" \
        || no "calibrate: other rounds: $(cat "$T/cal.bad")"; }
    if "$SL" $CAL --out "$T/cal.h5" --resume >>"$T/cal.out" 2>&1; then
      ok "calibrate: resumed"
      echo "files $T/cal_ref.h5 $T/cal.h5" >>"$T/checks"
    else
      no "calibrate: resume failed: $(tail -c 300 "$T/cal.out")"
    fi
  else
    no "calibrate: did not stop after round 2: $(cat "$T/cal.out")"
  fi
  "$SL" $CAL --out "$T/cal_none.h5" --resume >"$T/cal.bad" 2>&1 && no "calibrate: resume without state" \
    || { grep -q "cal_none.h5.resume.h5" "$T/cal.bad" && ok "calibrate: no state to resume, named" \
      || no "calibrate: no state: $(cat "$T/cal.bad")"; }
fi

# --- every queued h5py check, in one Python process (a finished log keeps
# its last checkpoint too)
echo "killed $T/ref.h5" >>"$T/checks"
if out=$($PY "$CHECK" batch "$T/checks" 2>&1); then :; fi
echo "$out"
pass=$((pass + $(echo "$out" | grep -c '^ok   - ')))
fail=$((fail + $(echo "$out" | grep -c '^FAIL - ')))
[ "$(echo "$out" | grep -cE '^(ok|FAIL) +- ')" -eq "$(wc -l <"$T/checks")" ] \
  || no "not every h5py check ran: $out"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
