/* dynexit_ckpt.c -- checkpoints of the dynamic-exit experiments' training
 * (dynresnet, dynpointnet, ternary_noise), so `experiment NAME --resume`
 * continues a killed run from its last complete epoch.
 *
 * The training has two phases, float then ternary fine-tuning; epochs are
 * counted across both (float epochs 1..F, ternary F+1..F+T). After every
 * epoch the run log's checkpoint (sl_runlog_ckpt_*, written crash-safe)
 * holds: phase (0 float, 1 ternary), the float network's parameters and
 * statistics (fp_params, fp_stats), in the ternary phase the ternary copy's
 * (tern_params, tern_stats), and the optimiser (optim_step, optim_m,
 * optim_v). Every epoch's random draws are seeded from the seed and the
 * epoch, so a resumed run is bit-identical to an uninterrupted one.
 */
#include "config.h"
#include "dynexit_eval.h"

#include <stdio.h>
#include <stdlib.h>

static int put_net(sl_runlog *log, const dx_arch *a, const char *which, void *net)
{
  char name[32];
  snprintf(name, sizeof name, "%s_params", which);
  int rc = sl_runlog_ckpt_put_float(log, name, a->params(net), a->num_params(net));
  snprintf(name, sizeof name, "%s_stats", which);
  return rc ? rc : sl_runlog_ckpt_put_float(log, name, a->stats(net), a->num_stats(net));
}

int dx_ckpt_save(sl_runlog *log, long epoch, const dx_arch *a, void *fp, void *tern,
                 const sl_optim *opt)
{
  size_t step = 0;
  const float *m = NULL, *v = NULL;
  int rc = sl_optim_state(opt, &step, &m, &v);
  if (!rc)
    rc = sl_runlog_ckpt_begin(log, epoch);
  if (!rc)
    rc = sl_runlog_ckpt_put_count(log, "phase", tern ? 1 : 0);
  if (!rc)
    rc = put_net(log, a, "fp", fp);
  if (!rc && tern)
    rc = put_net(log, a, "tern", tern);
  if (!rc)
    rc = sl_runlog_ckpt_put_count(log, "optim_step", (int64_t)step);
  if (!rc)
    rc = sl_runlog_ckpt_put_float(log, "optim_m", m, sl_optim_num_params(opt));
  if (!rc && v)
    rc = sl_runlog_ckpt_put_float(log, "optim_v", v, sl_optim_num_params(opt));
  return rc ? rc : sl_runlog_ckpt_commit(log);
}

int dx_ckpt_restore_net(sl_runlog_reader *r, const dx_arch *a, const char *which, void *net)
{
  char name[32];
  snprintf(name, sizeof name, "%s_params", which);
  int rc = sl_runlog_ckpt_get_float(r, name, a->params(net), a->num_params(net));
  snprintf(name, sizeof name, "%s_stats", which);
  return rc ? rc : sl_runlog_ckpt_get_float(r, name, a->stats(net), a->num_stats(net));
}

int dx_ckpt_restore_optim(sl_runlog_reader *r, sl_optim *opt)
{
  const size_t n = sl_optim_num_params(opt);
  int64_t step = 0;
  float *m = malloc(n * sizeof(float) + 1), *v = malloc(n * sizeof(float) + 1);
  int rc = m && v ? SL_OK : sl_error(SL_ENOMEM, "checkpoint: out of memory");
  if (!rc)
    rc = sl_runlog_ckpt_get_count(r, "optim_step", &step);
  if (!rc && step < 0)
    rc = sl_error(SL_EFORMAT, "checkpoint: optim_step %lld is negative", (long long)step);
  if (!rc)
    rc = sl_runlog_ckpt_get_float(r, "optim_m", m, n);
  if (!rc && sl_optim_num_moments(opt) > 1)
    rc = sl_runlog_ckpt_get_float(r, "optim_v", v, n);
  if (!rc)
    rc = sl_optim_set_state(opt, (size_t)step, m, v);
  free(m);
  free(v);
  return rc;
}
