/* loss.c -- cross-entropy on max- or sum-over-time readout membranes, and
 * the spike-count regulariser.
 *
 * For the max-over-time loss the gradient goes to the first time step that
 * attains the maximum (the subgradient PyTorch's max also picks).
 * Sums are in double: the batch is small and the loss value is logged.
 */
#include "config.h"
#include "spikeloop/loss.h"
#include "spikeloop/error.h"
#include "base/names.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The losses by name, indexed by SL_LOSS_* kind. */
static const char *const loss_names[] = {[SL_LOSS_MAX] = "max", [SL_LOSS_SUM] = "sum", NULL};
enum { N_LOSSES = sizeof loss_names / sizeof loss_names[0] - 1 };

const char *const *sl_loss_list(void) { return loss_names; }

int sl_loss_from_name(const char *name, int *kind)
{
  for (int k = 0; name && k < N_LOSSES; k++)
    if (strcmp(loss_names[k], name) == 0) {
      *kind = k;
      return SL_OK;
    }
  char known[64];
  return sl_error(SL_ENOTFOUND, "unknown loss '%s' (known: %s)", name ? name : "(null)",
                  sli_names_join(loss_names, ", ", known, sizeof known));
}

const char *sl_loss_name(int kind)
{
  return kind >= 0 && kind < N_LOSSES ? loss_names[kind] : NULL;
}

int sl_loss_ce(int kind, size_t T, size_t B, size_t K, const float *v_out, const int32_t *labels,
               double reg_amp, double *loss, float *gv, float *logits, size_t *n_correct)
{
  if (kind != SL_LOSS_MAX && kind != SL_LOSS_SUM)
    return sl_error(SL_EINVAL, "unknown loss kind %d", kind);
  if (!v_out || !labels || !loss || T == 0 || B == 0 || K == 0)
    return sl_error(SL_EINVAL, "sl_loss_ce: empty arguments");
  for (size_t b = 0; b < B; b++)
    if (labels[b] < 0 || (size_t)labels[b] >= K)
      return sl_error(SL_EINVAL, "label %d of sample %zu is outside 0..%zu", (int)labels[b], b,
                      K - 1);
  float *lg = malloc(B * K * sizeof *lg);
  size_t *tmax = malloc(B * K * sizeof *tmax);
  if (!lg || !tmax) {
    free(lg), free(tmax);
    return sl_error(SL_ENOMEM, "sl_loss_ce: out of memory");
  }
  for (size_t b = 0; b < B; b++)
    for (size_t k = 0; k < K; k++) {
      float acc = v_out[b * K + k];
      size_t at = 0;
      for (size_t t = 1; t < T; t++) {
        float x = v_out[(t * B + b) * K + k];
        if (!isfinite(x)) { /* the max would silently skip a NaN */
          acc = x;
          break;
        }
        if (kind == SL_LOSS_SUM)
          acc += x;
        else if (x > acc) {
          acc = x;
          at = t;
        }
      }
      lg[b * K + k] = acc;
      tmax[b * K + k] = at;
    }
  int rc = SL_OK;
  double total = 0.0;
  size_t correct = 0;
  if (gv)
    memset(gv, 0, T * B * K * sizeof *gv);
  for (size_t b = 0; b < B && !rc; b++) {
    const float *z = lg + b * K;
    double zmax = -INFINITY;
    size_t arg = 0;
    for (size_t k = 0; k < K; k++) {
      if (!isfinite(z[k])) {
        rc = sl_error(SL_ENUMERIC, "readout membrane of sample %zu, output %zu is not finite", b, k);
        break;
      }
      if (z[k] > zmax) {
        zmax = z[k];
        arg = k;
      }
    }
    if (rc)
      break;
    correct += arg == (size_t)labels[b];
    double norm = 0.0;
    for (size_t k = 0; k < K; k++)
      norm += exp(z[k] - zmax);
    double lse = zmax + log(norm);
    total += lse - z[labels[b]];
    for (size_t k = 0; k < K; k++) {
      total += reg_amp * z[k] * z[k] / (double)K;
      if (!gv)
        continue;
      double p = exp(z[k] - lse);
      double g = (p - (k == (size_t)labels[b])) / (double)B + 2.0 * reg_amp * z[k] / (double)(B * K);
      if (kind == SL_LOSS_MAX)
        gv[(tmax[b * K + k] * B + b) * K + k] = (float)g;
      else
        for (size_t t = 0; t < T; t++)
          gv[(t * B + b) * K + k] = (float)g;
    }
  }
  if (!rc) {
    *loss = total / (double)B;
    if (logits)
      memcpy(logits, lg, B * K * sizeof *lg);
    if (n_correct)
      *n_correct = correct;
  }
  free(lg), free(tmax);
  return rc;
}

int sl_reg_spike_count(size_t T, size_t B, size_t N, const float *s, double weight, double *value,
                       float *gs)
{
  if (!s || !value || T == 0 || B == 0 || N == 0)
    return sl_error(SL_EINVAL, "sl_reg_spike_count: empty arguments");
  if (!(weight >= 0) || !isfinite(weight))
    return sl_error(SL_EINVAL, "spike regulariser weight %g must be finite and >= 0", weight);
  double total = 0.0;
  const double scale = weight / (double)(B * N);
  for (size_t b = 0; b < B; b++)
    for (size_t n = 0; n < N; n++) {
      double c = 0.0;
      for (size_t t = 0; t < T; t++)
        c += s[(t * B + b) * N + n];
      total += c * c;
      if (gs && weight > 0)
        for (size_t t = 0; t < T; t++)
          gs[(t * B + b) * N + n] += (float)(2.0 * scale * c);
    }
  *value = scale * total;
  return SL_OK;
}
