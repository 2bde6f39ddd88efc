/* ternary.c -- the ternary quantiser of ternary weight networks and its
 * straight-through backward (spikeloop/ternary.h). Two passes over the
 * tensor: mean |w| for the threshold, then the mean magnitude above it;
 * the sums are in double and serial (the result must not depend on the
 * thread count; tensors are small), so the fast and the reference
 * versions differ only in float vs double comparisons.
 */
#include "config.h"
#include "spikeloop/ternary.h"
#include "spikeloop/error.h"

#include <math.h>

static int check(const float *q, const float *w, size_t n, double t)
{
  if (!q || !w)
    return sl_error(SL_EINVAL, "ternary: NULL argument");
  if (!n)
    return sl_error(SL_EINVAL, "ternary: empty tensor");
  if (!(t >= 0.0) || !isfinite(t))
    return sl_error(SL_EINVAL, "ternary: threshold factor t = %g must be finite and >= 0", t);
  return SL_OK;
}

/* The threshold and magnitude of w; codes (may be NULL) get sign or 0. */
static int quantise(float *out, const float *w, size_t n, double t, int as_codes,
                    sl_ternary_info *info)
{
  double s = 0.0;
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    bad |= !isfinite(w[i]);
    s += fabsf(w[i]);
  }
  if (bad)
    return sl_error(SL_ENUMERIC, "ternary: NaN or Inf among the %zu weights", n);
  const float delta = (float)(t * s / (double)n);
  double big = 0.0;
  size_t nz = 0;
  for (size_t i = 0; i < n; i++)
    if (fabsf(w[i]) > delta) {
      big += fabsf(w[i]);
      nz++;
    }
  const float alpha = nz ? (float)(big / (double)nz) : 0.0f, mag = as_codes ? 1.0f : alpha;
  for (size_t i = 0; i < n; i++)
    out[i] = fabsf(w[i]) > delta && nz ? (w[i] > 0.0f ? mag : -mag) : 0.0f;
  if (info) {
    info->alpha = alpha;
    info->delta = delta;
    info->n_nonzero = nz;
  }
  return SL_OK;
}

int sl_ternary_quantise(float *q, const float *w, size_t n, double t, sl_ternary_info *info)
{
  int rc = check(q, w, n, t);
  return rc ? rc : quantise(q, w, n, t, 0, info);
}

int sl_ternary_codes(float *codes, const float *w, size_t n, double t, sl_ternary_info *info)
{
  int rc = check(codes, w, n, t);
  return rc ? rc : quantise(codes, w, n, t, 1, info);
}

int sl_ternary_quantise_ref(float *q, const float *w, size_t n, double t, sl_ternary_info *info)
{
  int rc = check(q, w, n, t);
  if (rc)
    return rc;
  double s = 0.0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(w[i]))
      return sl_error(SL_ENUMERIC, "ternary: NaN or Inf among the %zu weights", n);
    s += fabs((double)w[i]);
  }
  const double delta = (double)(float)(t * s / (double)n);
  double big = 0.0;
  size_t nz = 0;
  for (size_t i = 0; i < n; i++)
    if (fabs((double)w[i]) > delta) {
      big += fabs((double)w[i]);
      nz++;
    }
  const double alpha = nz ? big / (double)nz : 0.0;
  for (size_t i = 0; i < n; i++)
    q[i] = fabs((double)w[i]) > delta ? (float)(w[i] > 0.0f ? alpha : -alpha) : 0.0f;
  if (info) {
    info->alpha = (float)alpha;
    info->delta = (float)delta;
    info->n_nonzero = nz;
  }
  return SL_OK;
}

int sl_ternary_ste_backward(float *dw, const float *dq, size_t n)
{
  if (!dw || !dq)
    return sl_error(SL_EINVAL, "ternary: NULL argument");
  for (size_t i = 0; i < n; i++)
    dw[i] += dq[i];
  return SL_OK;
}
