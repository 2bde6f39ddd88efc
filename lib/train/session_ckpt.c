/* session_ckpt.c -- a session's checkpoint: what it holds (listed in
 * spikeloop/session.h), writing it into the run log and restoring it.
 *
 * Choices:
 * - The master weights are restored first and synced (through the loop
 *   they are quantised and written to the backend, as after any step);
 *   then the saved params overwrite the network's weights and the saved
 *   backend state overwrites whatever that write changed in the backend
 *   (a memristor write spends pulses and draws programming noise). The
 *   order makes the restored session the saved one, not one step apart.
 * - A backend that cannot save its state (SL_EUNSUPPORTED) still gets a
 *   checkpoint, marked backend_exact = 0: the resumed run continues from
 *   the right weights and optimiser but the backend's noise streams start
 *   afresh, so it is not bit-identical to an uninterrupted run.
 * - Shuffling and encoding are seeded from (train.seed, epoch): nothing to
 *   save. The learning rate follows from the epoch.
 */
#include "config.h"
#include "spikeloop/session.h"
#include "spikeloop/error.h"
#include "spikeloop/optim.h"
#include "session_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void sl_session_set_checkpointing(sl_session *s, int on)
{
  if (s)
    s->checkpointing = on != 0;
}

void sl_session_set_log_metrics(sl_session *s, int on)
{
  if (s)
    s->no_metrics = on == 0;
}

static double now_seconds(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int sl_session_checkpoint(sl_session *s, sl_runlog *log)
{
  if (!s || !log)
    return sl_error(SL_EINVAL, "sl_session_checkpoint: NULL argument");
  const size_t n = sl_net_num_params(s->net);
  sl_optim *opt = sli_trainer_optim(s->tr);
  size_t step = 0;
  const float *m = NULL, *v = NULL;
  uint8_t *state = NULL;
  size_t state_len = 0;
  int exact = 1;
  int rc = sl_optim_state(opt, &step, &m, &v);
  if (!rc && s->hw) {
    rc = sl_hw_save_state(s->hw, &state, &state_len);
    if (rc == SL_EUNSUPPORTED) {
      sl_clear_error();
      exact = 0;
      rc = SL_OK;
    }
  }
  const double result[4] = {s->last[0], s->last[1], s->last[2],
                            s->seconds_before + (s->t0 > 0 ? now_seconds() - s->t0 : 0.0)};
  if (!rc)
    rc = sl_runlog_ckpt_begin(log, s->epoch);
  if (!rc)
    rc = sl_runlog_ckpt_put_count(log, "epoch", s->epoch);
  if (!rc)
    rc = sl_runlog_ckpt_put_count(log, "n_params", (int64_t)n);
  if (!rc)
    rc = sl_runlog_ckpt_put_count(log, "optim_step", (int64_t)step);
  if (!rc)
    rc = sl_runlog_ckpt_put_count(log, "backend_exact", exact);
  if (!rc)
    rc = sl_runlog_ckpt_put_float(log, "master", sl_net_master(s->net), n);
  if (!rc)
    rc = sl_runlog_ckpt_put_float(log, "params", sl_net_params(s->net), n);
  if (!rc)
    rc = sl_runlog_ckpt_put_float(log, "optim_m", m, n);
  if (!rc && v)
    rc = sl_runlog_ckpt_put_float(log, "optim_v", v, n);
  if (!rc)
    rc = sl_runlog_ckpt_put_double(log, "result", result, 4);
  if (!rc && s->n_pulses)
    rc = sl_runlog_ckpt_put_double(log, "pulses", s->pulses, s->n_pulses);
  if (!rc && s->hw && exact)
    rc = sl_runlog_ckpt_put_bytes(log, "backend_state", state, state_len);
  if (!rc)
    rc = sl_runlog_ckpt_commit(log);
  free(state);
  return rc;
}

/* A count of the checkpoint that must lie in [lo, hi]. */
static int get_count(sl_runlog_reader *r, const char *name, int64_t lo, int64_t hi,
                     int64_t *out)
{
  int rc = sl_runlog_ckpt_get_count(r, name, out);
  if (!rc && (*out < lo || *out > hi))
    rc = sl_error(SL_EFORMAT, "checkpoint count %s = %lld outside %lld..%lld", name,
                  (long long)*out, (long long)lo, (long long)hi);
  return rc;
}

int sl_session_restore(sl_session *s, sl_runlog_reader *r)
{
  if (!s || !r)
    return sl_error(SL_EINVAL, "sl_session_restore: NULL argument");
  const size_t n = sl_net_num_params(s->net);
  sl_optim *opt = sli_trainer_optim(s->tr);
  int64_t epoch = 0, n_saved = 0, step = 0, exact = 0;
  long ck = 0;
  float *m = NULL, *v = NULL;
  uint8_t *state = NULL;
  double *pulses = NULL, result[4];
  size_t state_len = 0, n_pulses = 0;
  int has_state = 0, has_pulses = 0;
  int rc = sl_runlog_ckpt_epoch(r, &ck);
  if (!rc)
    rc = get_count(r, "n_params", 0, INT64_MAX, &n_saved);
  if (!rc && (size_t)n_saved != n)
    rc = sl_error(SL_EFORMAT, "the checkpoint holds %lld parameters, the network of the "
                  "configuration %zu: another network", (long long)n_saved, n);
  if (!rc)
    rc = get_count(r, "epoch", 0, INT64_MAX, &epoch);
  if (!rc && epoch != ck)
    rc = sl_error(SL_EFORMAT, "checkpoint /checkpoint/epoch_%ld holds epoch %lld", ck,
                  (long long)epoch);
  if (!rc)
    rc = get_count(r, "optim_step", 0, INT64_MAX, &step);
  if (!rc)
    rc = get_count(r, "backend_exact", 0, 1, &exact);
  if (!rc && !(m = malloc(n * sizeof *m)))
    rc = sl_error(SL_ENOMEM, "sl_session_restore: out of memory");
  if (!rc && sl_optim_num_moments(opt) > 1 && !(v = malloc(n * sizeof *v)))
    rc = sl_error(SL_ENOMEM, "sl_session_restore: out of memory");
  if (!rc)
    rc = sl_runlog_ckpt_get_float(r, "optim_m", m, n);
  if (!rc && v)
    rc = sl_runlog_ckpt_get_float(r, "optim_v", v, n);
  if (!rc)
    rc = sl_runlog_ckpt_get_double(r, "result", result, 4);
  if (!rc)
    rc = sl_runlog_ckpt_size(r, "backend_state", &state_len, &has_state);
  if (!rc && has_state && !s->hw)
    rc = sl_error(SL_EFORMAT, "the checkpoint holds a backend state but the session has no "
                  "backend");
  if (!rc && has_state && state_len && !(state = malloc(state_len)))
    rc = sl_error(SL_ENOMEM, "sl_session_restore: out of memory");
  if (!rc && has_state && state_len)
    rc = sl_runlog_ckpt_get_bytes(r, "backend_state", state, state_len);
  if (!rc)
    rc = sl_runlog_ckpt_size(r, "pulses", &n_pulses, &has_pulses);
  if (!rc && n_pulses && !(pulses = malloc(n_pulses * sizeof *pulses)))
    rc = sl_error(SL_ENOMEM, "sl_session_restore: out of memory");
  if (!rc && n_pulses)
    rc = sl_runlog_ckpt_get_double(r, "pulses", pulses, n_pulses);
  /* everything is read: now change the session */
  if (!rc)
    rc = sl_runlog_ckpt_get_float(r, "master", sl_net_master(s->net), n);
  if (!rc)
    rc = sli_sync_weights(s->net, s->loop);
  if (!rc)
    rc = sl_runlog_ckpt_get_float(r, "params", sl_net_params(s->net), n);
  if (!rc)
    rc = sl_optim_set_state(opt, (size_t)step, m, v);
  if (!rc && has_state)
    rc = sl_hw_load_state(s->hw, state, state_len);
  if (!rc) {
    free(s->pulses);
    s->pulses = pulses;
    s->n_pulses = n_pulses;
    pulses = NULL;
    s->epoch = (long)epoch;
    memcpy(s->last, result, sizeof s->last);
    s->seconds_before = result[3];
    s->restored = 1;
  }
  free(m);
  free(v);
  free(state);
  free(pulses);
  return rc;
}
