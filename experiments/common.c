/* common.c -- helpers shared by the experiments: training a session with
 * progress output, deploying weights on a backend, switching a config to
 * plain simulation. */
#include "config.h"
#include "experiments.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int exp_option(const char *opts, const char *who, const char *key, double *v, double lo,
               double hi)
{
  char buf[64];
  if (!sl_backend_option(opts, key, buf, sizeof buf))
    return SL_OK;
  char *end;
  double x = strtod(buf, &end);
  if (end == buf || *end || !(x >= lo && x <= hi))
    return sl_error(SL_EINVAL, "%s: option %s = '%s' must be a number in [%g, %g]", who, key, buf,
                    lo, hi);
  *v = x;
  return SL_OK;
}

int exp_option_long(const char *opts, const char *who, const char *key, long *v, long lo, long hi)
{
  char buf[64];
  if (!sl_backend_option(opts, key, buf, sizeof buf))
    return SL_OK;
  char *end;
  long x = strtol(buf, &end, 10);
  if (end == buf || *end || x < lo || x > hi)
    return sl_error(SL_EINVAL, "%s: option %s = '%s' must be an integer in [%ld, %ld]", who, key,
                    buf, lo, hi);
  *v = x;
  return SL_OK;
}

int exp_option_word(const char *opts, const char *who, const char *key,
                    const char *const *words, long *v)
{
  char buf[64];
  if (!sl_backend_option(opts, key, buf, sizeof buf))
    return SL_OK;
  for (long i = 0; words[i]; i++)
    if (!strcmp(buf, words[i])) {
      *v = i;
      return SL_OK;
    }
  char list[256] = ""; /* "a or b", "a, b or c" */
  for (long i = 0; words[i]; i++)
    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
             !i ? "" : words[i + 1] ? ", " : " or ", words[i]);
  return sl_error(SL_EINVAL, "%s: %s = '%s' (%s)", who, key, buf, list);
}

void exp_progress(const sl_epoch_metrics *m, void *user)
{
  printf("  [%s] epoch %3ld  loss %.4f  train %6.2f%%  test %6.2f%%  spikes/neuron %.3f  %.2fs\n",
         (const char *)user, m->epoch, m->loss, 100 * m->train_accuracy, 100 * m->test_accuracy,
         m->hidden_rate, m->seconds);
  fflush(stdout);
}

static const char *resume_path; /* exp_set_resume: the log to restore from */

void exp_set_resume(const char *log_path) { resume_path = log_path; }

const char *exp_resume_path(void) { return resume_path; }

int exp_session_train(sl_session *s, long epochs, sl_runlog *log, sl_progress_fn progress,
                      void *user, sl_run_result *res)
{
  if (log) {
    sl_session_set_checkpointing(s, 1);
    if (resume_path) {
      sl_runlog_reader *r = NULL;
      int rc = sl_runlog_open(&r, resume_path);
      if (!rc)
        rc = sl_session_restore(s, r);
      sl_runlog_reader_close(r);
      resume_path = NULL;
      if (rc)
        return rc;
      printf("  (resumed after epoch %ld)\n", sl_session_epochs(s));
      epochs = epochs > sl_session_epochs(s) ? epochs - sl_session_epochs(s) : 0;
    }
  }
  return sl_session_train(s, epochs, log, progress, user, res);
}

int exp_session_new(const sl_config *cfg, const char *label, sl_session **out)
{
  printf("[%s] backend %s%s%s, %ld epochs\n", label, cfg->backend,
         cfg->backend_options[0] ? " " : "", cfg->backend_options, cfg->epochs);
  fflush(stdout);
  *out = NULL;
  return sl_session_create(out, cfg);
}

int exp_train(const sl_config *cfg, const char *label, sl_runlog *log, sl_session **out,
              sl_run_result *res)
{
  *out = NULL;
  sl_session *s = NULL;
  int rc = exp_session_new(cfg, label, &s);
  if (!rc)
    rc = exp_session_train(s, cfg->epochs, log, exp_progress, (void *)label, res);
  if (rc) {
    sl_session_free(s);
    return rc;
  }
  *out = s;
  return SL_OK;
}

int exp_deploy(const sl_config *cfg, sl_net *net, double *accuracy)
{
  sl_session *s = NULL;
  sl_eval_result r;
  int rc = sl_session_create(&s, cfg);
  if (!rc)
    rc = sl_session_set_weights(s, net);
  if (!rc)
    rc = sl_session_evaluate(s, SL_SET_TEST, &r);
  if (!rc)
    *accuracy = r.accuracy;
  sl_session_free(s);
  return rc;
}

sl_config exp_simulation(const sl_config *cfg)
{
  sl_config c = *cfg;
  strcpy(c.backend, "ideal");
  c.backend_options[0] = '\0';
  c.record[0] = '\0';
  return c;
}

static int put_acc(sl_runlog *log, const char *prefix, const char *name, double v)
{
  char key[64];
  snprintf(key, sizeof key, "%s_%s", prefix, name);
  return sl_runlog_put_summary(log, key, v);
}

int exp_compare_run(const sl_config *cfg, sl_runlog *log, const exp_compare *x)
{
  sl_config sim = exp_simulation(cfg);
  sl_session *a = NULL, *l = NULL;
  sl_run_result ra, rl;
  double acc_deployed = 0.0;
  int rc = exp_train(&sim, x->sim_label, NULL, &a, &ra);
  if (!rc && x->dep_label) {
    printf("[%s] weights of (a) on %s %s\n", x->dep_label, cfg->backend, cfg->backend_options);
    rc = exp_deploy(cfg, sl_session_net(a), &acc_deployed);
  }
  if (!rc)
    rc = exp_train(cfg, x->loop_label, log, &l, &rl);
  if (!rc) {
    printf("\n  %-28s %8s\n", x->title, "test acc");
    printf("  %-28s %7.2f%%\n", x->sim_row, 100 * ra.test_accuracy);
    if (x->dep_label)
      printf("  %-28s %7.2f%%\n", x->dep_row, 100 * acc_deployed);
    printf("  %-28s %7.2f%%\n", x->loop_row, 100 * rl.test_accuracy);
    rc = put_acc(log, "acc", x->sim, ra.test_accuracy);
  }
  if (!rc && x->dep_label)
    rc = sl_runlog_put_summary(log, "acc_deployed", acc_deployed);
  if (!rc)
    rc = sl_runlog_put_summary(log, "acc_loop", rl.test_accuracy);
  if (!rc)
    rc = put_acc(log, "seconds", x->sim, ra.seconds);
  if (!rc)
    rc = sl_runlog_put_summary(log, "seconds_loop", rl.seconds);
  if (!rc)
    rc = sl_session_log_network(l, log);
  if (!rc)
    rc = sl_session_log_nb_metrics(l, log);
  if (!rc)
    rc = sl_runlog_finish(log, rl.test_accuracy, rl.epochs, ra.seconds + rl.seconds);
  sl_session_free(a);
  sl_session_free(l);
  return rc;
}

int exp_deploy_units(sl_net *net, double w_max, const char *who, char *out, size_t len)
{
  const sl_net_spec *sp = sl_net_get_spec(net);
  double mx[SL_MAX_LAYERS + 1] = {0};
  for (size_t i = 0; i < sl_net_num_tensors(net); i++) {
    sl_tensor t;
    int rc = sl_net_tensor(net, i, &t);
    if (rc)
      return rc;
    for (size_t j = 0; j < t.rows * t.cols; j++)
      mx[t.layer_index] = fmax(mx[t.layer_index], fabs(t.data[j]));
  }
  size_t pos = 0;
  for (size_t l = 0; l <= sp->n_layers; l++) {
    if (!(mx[l] > 0))
      return sl_error(SL_EINVAL, "%s: layer %zu of (a) has only zero weights", who, l);
    int k = snprintf(out + pos, len - pos, "%s%.9g", l ? "," : "", mx[l] / w_max);
    if (k < 0 || (size_t)k >= len - pos)
      return sl_error(SL_EINVAL, "%s: weight units too long", who);
    pos += (size_t)k;
  }
  return SL_OK;
}
