/* phase_ckpt.c -- resumable multi-phase experiments (mismatch_sweep,
 * mcnn_hybrid, memristor_twin): a finished phase stores its results in the
 * run log (/checkpoint/phases/<name>, sl_runlog_phase_*, written crash-safe)
 * and a resumed run (experiment --resume) reads them back instead of running
 * the phase again; the phase in progress at the kill runs again from its
 * beginning (seeded: the same result), except its session training, which
 * continues from its last epoch checkpoint.
 *
 * The log's epoch checkpoint belongs to the first phase not stored (a
 * phase's commit drops it), so the first exp_phase_train of a resumed run
 * restores it: phases that train a session train one each. */
#include "config.h"
#include "experiments.h"

#include <stdio.h>

static int resume_consumed; /* the epoch checkpoint went to a training */

void exp_phase_reset(void) { resume_consumed = 0; }

int exp_phase_find(const char *name, sl_runlog_reader **done)
{
  *done = NULL;
  if (!exp_resume_path())
    return SL_OK;
  sl_runlog_reader *r = NULL;
  int found = 0;
  int rc = sl_runlog_open(&r, exp_resume_path());
  if (!rc)
    rc = sl_runlog_phase_select(r, name, &found);
  if (rc || !found) {
    sl_runlog_reader_close(r);
    return rc;
  }
  printf("  (phase %s: stored results read back)\n", name);
  fflush(stdout);
  *done = r;
  return SL_OK;
}

int exp_phase_put_net(sl_runlog *log, sl_session *s)
{
  sl_net *net = sl_session_net(s);
  const size_t n = sl_net_num_params(net);
  int rc = sl_runlog_ckpt_put_float(log, "master", sl_net_master(net), n);
  return rc ? rc : sl_runlog_ckpt_put_float(log, "params", sl_net_params(net), n);
}

int exp_phase_get_net(sl_runlog_reader *r, sl_session *s)
{
  sl_net *net = sl_session_net(s);
  const size_t n = sl_net_num_params(net);
  int rc = sl_runlog_ckpt_get_float(r, "master", sl_net_master(net), n);
  return rc ? rc : sl_runlog_ckpt_get_float(r, "params", sl_net_params(net), n);
}

int exp_phase_resume_ckpt(sl_runlog_reader **ckpt)
{
  *ckpt = NULL;
  if (!exp_resume_path() || resume_consumed)
    return SL_OK;
  resume_consumed = 1;
  sl_runlog_reader *r = NULL;
  long epoch = 0;
  int rc = sl_runlog_open(&r, exp_resume_path());
  if (!rc && sl_runlog_ckpt_epoch(r, &epoch) == SL_OK) {
    *ckpt = r;
    return SL_OK;
  }
  if (!rc)
    sl_clear_error(); /* no checkpoint: the training starts afresh */
  sl_runlog_reader_close(r);
  return rc;
}

int exp_phase_train(sl_session *s, long epochs, sl_runlog *log, const char *label,
                    sl_run_result *res)
{
  sl_session_set_checkpointing(s, 1);
  sl_session_set_log_metrics(s, 0);
  sl_runlog_reader *r = NULL;
  int rc = exp_phase_resume_ckpt(&r);
  if (!rc && r) {
    rc = sl_session_restore(s, r);
    if (!rc) {
      printf("  [%s] (resumed after epoch %ld)\n", label, sl_session_epochs(s));
      epochs = epochs > sl_session_epochs(s) ? epochs - sl_session_epochs(s) : 0;
    }
  }
  sl_runlog_reader_close(r);
  return rc ? rc : sl_session_train(s, epochs, log, exp_progress, (void *)label, res);
}

int exp_phase_train_new(const sl_config *cfg, const char *label, sl_runlog *log, sl_session **out,
                        sl_run_result *res)
{
  *out = NULL;
  sl_session *s = NULL;
  int rc = exp_session_new(cfg, label, &s);
  if (!rc)
    rc = exp_phase_train(s, cfg->epochs, log, label, res);
  if (rc) {
    sl_session_free(s);
    return rc;
  }
  *out = s;
  return SL_OK;
}

int exp_phase_result(const char *name, double *v, size_t n, int *done)
{
  sl_runlog_reader *r = NULL;
  int rc = exp_phase_find(name, &r);
  *done = r != NULL;
  if (!rc && r)
    rc = sl_runlog_ckpt_get_double(r, "result", v, n);
  sl_runlog_reader_close(r);
  return rc;
}

int exp_phase_store_result(sl_runlog *log, const char *name, const double *v, size_t n)
{
  int rc = sl_runlog_phase_begin(log);
  if (!rc)
    rc = sl_runlog_ckpt_put_double(log, "result", v, n);
  return rc ? rc : sl_runlog_phase_commit(log, name);
}

int exp_phase_session(const sl_config *cfg, const char *name, const char *label, sl_runlog *log,
                      sl_session **out, double res[3])
{
  sl_runlog_reader *done = NULL;
  int rc = exp_phase_find(name, &done);
  if (!rc && done) {
    rc = sl_session_create(out, cfg);
    if (!rc)
      rc = exp_phase_get_net(done, *out);
    if (!rc)
      rc = sl_runlog_ckpt_get_double(done, "result", res, 3);
    sl_runlog_reader_close(done);
    return rc;
  }
  sl_run_result r;
  if (!rc)
    rc = exp_phase_train_new(cfg, label, log, out, &r);
  if (rc)
    return rc;
  res[0] = r.test_accuracy;
  res[1] = r.seconds;
  res[2] = (double)r.epochs;
  rc = sl_runlog_phase_begin(log);
  if (!rc)
    rc = exp_phase_put_net(log, *out);
  if (!rc)
    rc = sl_runlog_ckpt_put_double(log, "result", res, 3);
  return rc ? rc : sl_runlog_phase_commit(log, name);
}
