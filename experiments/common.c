/* common.c -- helpers shared by the experiments: training a session with
 * progress output, deploying weights on a backend, switching a config to
 * plain simulation. */
#include "config.h"
#include "experiments.h"

#include <stdio.h>
#include <string.h>

void exp_progress(const sl_epoch_metrics *m, void *user)
{
  printf("  [%s] epoch %3ld  loss %.4f  train %6.2f%%  test %6.2f%%  spikes/neuron %.3f  %.2fs\n",
         (const char *)user, m->epoch, m->loss, 100 * m->train_accuracy, 100 * m->test_accuracy,
         m->hidden_rate, m->seconds);
  fflush(stdout);
}

int exp_train(const sl_config *cfg, const char *label, sl_runlog *log, sl_session **out,
              sl_run_result *res)
{
  *out = NULL;
  printf("[%s] backend %s%s%s, %ld epochs\n", label, cfg->backend,
         cfg->backend_options[0] ? " " : "", cfg->backend_options, cfg->epochs);
  fflush(stdout);
  sl_session *s = NULL;
  int rc = sl_session_create(&s, cfg);
  if (!rc)
    rc = sl_session_train(s, cfg->epochs, log, exp_progress, (void *)label, res);
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
