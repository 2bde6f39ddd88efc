/* ann_blocks.c -- the layers that residual and dynamic-exit networks add to
 * the ANN kernels of ann.c: batch normalisation (training with batch
 * statistics and running averages, inference, folding into an affine map
 * per channel), global average pooling, the residual add, and the cosine
 * head of a semantic exit. Conventions are those of spikeloop/ann.h.
 *
 * The fast kernels work per channel (batch norm) or per sample (cosine)
 * in parallel with OpenMP, in float with double accumulators; the *_ref
 * twins are the plain loops of the definitions in double precision, the
 * oracle of test/test_ann_blocks.c.
 */
#include "config.h"
#include "spikeloop/ann.h"
#include "spikeloop/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- batch norm */

static int bn_check(const void *a, const void *b, const void *c, size_t B, size_t C, size_t HW)
{
  if (!a || !b || !c)
    return sl_error(SL_EINVAL, "batchnorm: NULL argument");
  if (!B || !C || !HW)
    return sl_error(SL_EINVAL, "batchnorm: zero size (B %zu, C %zu, HW %zu)", B, C, HW);
  return SL_OK;
}

static int bn_train_check(const float *y, const float *xhat, const float *mean,
                          const float *invstd, const float *x, const float *gamma,
                          const float *beta, size_t B, size_t C, size_t HW, double eps,
                          double momentum)
{
  int rc = bn_check(y, x, xhat, B, C, HW);
  if (!rc && (!mean || !invstd || !gamma || !beta))
    rc = sl_error(SL_EINVAL, "batchnorm: NULL argument");
  if (!rc && !(eps > 0.0))
    rc = sl_error(SL_EINVAL, "batchnorm: eps = %g must be > 0", eps);
  if (!rc && !(momentum >= 0.0 && momentum <= 1.0))
    rc = sl_error(SL_EINVAL, "batchnorm: momentum = %g must be in [0, 1]", momentum);
  return rc;
}

/* Running averages of channel c from the batch's mean and biased variance
 * over N values (the unbiased variance enters, as in PyTorch). */
static void bn_running(float *running_mean, float *running_var, size_t c, double mean,
                       double var, size_t N, double momentum)
{
  if (running_mean)
    running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mean);
  if (running_var) {
    const double unbiased = N > 1 ? var * (double)N / (double)(N - 1) : var;
    running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * unbiased);
  }
}

/* ---------------------------------------------------------------- rows (HW = 1)
 * With HW = 1 the tensor is B rows of C channels (a per-point layer), and
 * the per-channel loops would stride through memory. These kernels walk
 * the rows instead: channel sums over fixed chunks of rows (partials in
 * double, added in chunk order, so the result does not depend on the
 * thread count), element-wise steps parallel over rows. */
enum { BN_CHUNKS = 32 };

/* sums[c] = sum over rows of f(a[r c], b[r c]) for f = a (b NULL) or a b
 * or (a - m[c])^2 (m given). */
static void row_sums(double *sums, const float *a, const float *b, const float *m, size_t N,
                     size_t C, double *part)
{
  memset(part, 0, BN_CHUNKS * C * sizeof(double));
#pragma omp parallel for schedule(static)
  for (size_t k = 0; k < BN_CHUNKS; k++) {
    const size_t r0 = N * k / BN_CHUNKS, r1 = N * (k + 1) / BN_CHUNKS;
    double *p = part + k * C;
    for (size_t r = r0; r < r1; r++) {
      const float *ar = a + r * C, *br = b ? b + r * C : NULL;
      for (size_t c = 0; c < C; c++) {
        const float v = m ? ar[c] - m[c] : ar[c];
        p[c] += m ? (double)v * v : br ? (double)v * br[c] : (double)v;
      }
    }
  }
  for (size_t c = 0; c < C; c++) {
    double t = 0.0;
    for (size_t k = 0; k < BN_CHUNKS; k++)
      t += part[k * C + c];
    sums[c] = t;
  }
}

static int bn_rows_train(float *y, float *xhat, float *mean, float *invstd, const float *x,
                         const float *gamma, const float *beta, size_t N, size_t C, double eps,
                         float *running_mean, float *running_var, double momentum)
{
  double *part = malloc((BN_CHUNKS + 2) * C * sizeof(double));
  if (!part)
    return sl_error(SL_ENOMEM, "batchnorm: out of memory");
  double *sum = part + BN_CHUNKS * C, *sq = sum + C;
  row_sums(sum, x, NULL, NULL, N, C, part);
  for (size_t c = 0; c < C; c++)
    mean[c] = (float)(sum[c] / (double)N);
  row_sums(sq, x, NULL, mean, N, C, part);
  for (size_t c = 0; c < C; c++) {
    const double v = sq[c] / (double)N;
    invstd[c] = (float)(1.0 / sqrt(v + eps));
    bn_running(running_mean, running_var, c, sum[c] / (double)N, v, N, momentum);
  }
  free(part);
#pragma omp parallel for schedule(static)
  for (size_t r = 0; r < N; r++)
    for (size_t c = 0; c < C; c++) {
      const float h = (x[r * C + c] - mean[c]) * invstd[c];
      xhat[r * C + c] = h;
      y[r * C + c] = gamma[c] * h + beta[c];
    }
  return SL_OK;
}

static int bn_rows_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                            const float *xhat, const float *gamma, const float *invstd, size_t N,
                            size_t C)
{
  double *part = malloc((BN_CHUNKS + 2) * C * sizeof(double));
  if (!part)
    return sl_error(SL_ENOMEM, "batchnorm: out of memory");
  double *sdy = part + BN_CHUNKS * C, *sdyx = sdy + C;
  row_sums(sdy, dy, NULL, NULL, N, C, part);
  row_sums(sdyx, dy, xhat, NULL, N, C, part);
  for (size_t c = 0; c < C; c++) {
    if (dgamma)
      dgamma[c] += (float)sdyx[c];
    if (dbeta)
      dbeta[c] += (float)sdy[c];
  }
  if (dx) {
    float *k = malloc(3 * C * sizeof(float));
    if (!k) {
      free(part);
      return sl_error(SL_ENOMEM, "batchnorm: out of memory");
    }
    for (size_t c = 0; c < C; c++) {
      k[c] = gamma[c] * invstd[c] / (float)N;
      k[C + c] = (float)sdy[c];
      k[2 * C + c] = (float)sdyx[c];
    }
    const float fn = (float)N;
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < N; r++)
      for (size_t c = 0; c < C; c++)
        dx[r * C + c] += k[c] * (fn * dy[r * C + c] - k[C + c] - xhat[r * C + c] * k[2 * C + c]);
    free(k);
  }
  free(part);
  return SL_OK;
}

int sl_batchnorm_forward_train(float *y, float *xhat, float *mean, float *invstd, const float *x,
                               const float *gamma, const float *beta, size_t B, size_t C,
                               size_t HW, double eps, float *running_mean, float *running_var,
                               double momentum)
{
  int rc = bn_train_check(y, xhat, mean, invstd, x, gamma, beta, B, C, HW, eps, momentum);
  if (rc)
    return rc;
  if (HW == 1)
    return bn_rows_train(y, xhat, mean, invstd, x, gamma, beta, B, C, eps, running_mean,
                         running_var, momentum);
  const size_t N = B * HW;
#pragma omp parallel for schedule(static)
  for (size_t c = 0; c < C; c++) {
    double s = 0.0;
    for (size_t b = 0; b < B; b++) {
      const float *xc = x + (b * C + c) * HW;
      float part = 0.0f;
      for (size_t i = 0; i < HW; i++)
        part += xc[i];
      s += part;
    }
    const double mu = s / (double)N;
    double v = 0.0;
    for (size_t b = 0; b < B; b++) {
      const float *xc = x + (b * C + c) * HW;
      float part = 0.0f;
      for (size_t i = 0; i < HW; i++) {
        const float d = xc[i] - (float)mu;
        part += d * d;
      }
      v += part;
    }
    v /= (double)N;
    const float is = (float)(1.0 / sqrt(v + eps)), g = gamma[c], bt = beta[c], m = (float)mu;
    mean[c] = m;
    invstd[c] = is;
    for (size_t b = 0; b < B; b++) {
      const size_t o = (b * C + c) * HW;
      for (size_t i = 0; i < HW; i++) {
        const float h = (x[o + i] - m) * is;
        xhat[o + i] = h;
        y[o + i] = g * h + bt;
      }
    }
    bn_running(running_mean, running_var, c, mu, v, N, momentum);
  }
  return SL_OK;
}

int sl_batchnorm_forward_train_ref(float *y, float *xhat, float *mean, float *invstd,
                                   const float *x, const float *gamma, const float *beta,
                                   size_t B, size_t C, size_t HW, double eps,
                                   float *running_mean, float *running_var, double momentum)
{
  int rc = bn_train_check(y, xhat, mean, invstd, x, gamma, beta, B, C, HW, eps, momentum);
  if (rc)
    return rc;
  const size_t N = B * HW;
  for (size_t c = 0; c < C; c++) {
    double mu = 0.0, v = 0.0;
    for (size_t b = 0; b < B; b++)
      for (size_t i = 0; i < HW; i++)
        mu += x[(b * C + c) * HW + i];
    mu /= (double)N;
    for (size_t b = 0; b < B; b++)
      for (size_t i = 0; i < HW; i++) {
        const double d = x[(b * C + c) * HW + i] - mu;
        v += d * d;
      }
    v /= (double)N;
    const double is = 1.0 / sqrt(v + eps);
    mean[c] = (float)mu;
    invstd[c] = (float)is;
    for (size_t b = 0; b < B; b++)
      for (size_t i = 0; i < HW; i++) {
        const size_t o = (b * C + c) * HW + i;
        const double h = (x[o] - mu) * is;
        xhat[o] = (float)h;
        y[o] = (float)(gamma[c] * h + beta[c]);
      }
    bn_running(running_mean, running_var, c, mu, v, N, momentum);
  }
  return SL_OK;
}

int sl_batchnorm_fold(float *scale, float *shift, const float *gamma, const float *beta,
                      const float *running_mean, const float *running_var, size_t C, double eps)
{
  if (!scale || !shift || !gamma || !beta || !running_mean || !running_var)
    return sl_error(SL_EINVAL, "batchnorm_fold: NULL argument");
  if (!C || !(eps > 0.0))
    return sl_error(SL_EINVAL, "batchnorm_fold: C = %zu, eps = %g (need C > 0, eps > 0)", C, eps);
  for (size_t c = 0; c < C; c++) {
    if (!(running_var[c] >= 0.0f) || !isfinite(running_var[c]) || !isfinite(running_mean[c]))
      return sl_error(SL_ENUMERIC, "batchnorm_fold: channel %zu has running mean %g, variance %g",
                      c, running_mean[c], running_var[c]);
    const double s = gamma[c] / sqrt((double)running_var[c] + eps);
    scale[c] = (float)s;
    shift[c] = (float)(beta[c] - s * running_mean[c]);
  }
  return SL_OK;
}

int sl_batchnorm_forward_infer(float *y, const float *x, const float *gamma, const float *beta,
                               const float *running_mean, const float *running_var, size_t B,
                               size_t C, size_t HW, double eps)
{
  int rc = bn_check(y, x, gamma, B, C, HW);
  if (rc)
    return rc;
  float *scale = malloc(2 * C * sizeof(float));
  if (!scale)
    return sl_error(SL_ENOMEM, "batchnorm: out of memory");
  float *shift = scale + C;
  rc = sl_batchnorm_fold(scale, shift, gamma, beta, running_mean, running_var, C, eps);
  if (!rc && HW == 1) {
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < B; r++)
      for (size_t c = 0; c < C; c++)
        y[r * C + c] = scale[c] * x[r * C + c] + shift[c];
  } else if (!rc) {
#pragma omp parallel for schedule(static)
    for (size_t p = 0; p < B * C; p++) {
      const float s = scale[p % C], t = shift[p % C];
      for (size_t i = 0; i < HW; i++)
        y[p * HW + i] = s * x[p * HW + i] + t;
    }
  }
  free(scale);
  return rc;
}

static int bn_backward_check(const float *dy, const float *xhat, const float *gamma,
                             const float *invstd, size_t B, size_t C, size_t HW)
{
  int rc = bn_check(dy, xhat, gamma, B, C, HW);
  if (!rc && !invstd)
    rc = sl_error(SL_EINVAL, "batchnorm: NULL argument");
  return rc;
}

int sl_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                          const float *xhat, const float *gamma, const float *invstd, size_t B,
                          size_t C, size_t HW)
{
  int rc = bn_backward_check(dy, xhat, gamma, invstd, B, C, HW);
  if (rc)
    return rc;
  if (HW == 1)
    return bn_rows_backward(dx, dgamma, dbeta, dy, xhat, gamma, invstd, B, C);
  const size_t N = B * HW;
#pragma omp parallel for schedule(static)
  for (size_t c = 0; c < C; c++) {
    double sdy = 0.0, sdyx = 0.0;
    for (size_t b = 0; b < B; b++) {
      const size_t o = (b * C + c) * HW;
      float p1 = 0.0f, p2 = 0.0f;
      for (size_t i = 0; i < HW; i++) {
        p1 += dy[o + i];
        p2 += dy[o + i] * xhat[o + i];
      }
      sdy += p1;
      sdyx += p2;
    }
    if (dgamma)
      dgamma[c] += (float)sdyx;
    if (dbeta)
      dbeta[c] += (float)sdy;
    if (dx) {
      const float k = gamma[c] * invstd[c] / (float)N, a = (float)sdy, bq = (float)sdyx;
      for (size_t b = 0; b < B; b++) {
        const size_t o = (b * C + c) * HW;
        for (size_t i = 0; i < HW; i++)
          dx[o + i] += k * ((float)N * dy[o + i] - a - xhat[o + i] * bq);
      }
    }
  }
  return SL_OK;
}

int sl_batchnorm_backward_ref(float *dx, float *dgamma, float *dbeta, const float *dy,
                              const float *xhat, const float *gamma, const float *invstd,
                              size_t B, size_t C, size_t HW)
{
  int rc = bn_backward_check(dy, xhat, gamma, invstd, B, C, HW);
  if (rc)
    return rc;
  const double N = (double)(B * HW);
  for (size_t c = 0; c < C; c++) {
    double sdy = 0.0, sdyx = 0.0;
    for (size_t b = 0; b < B; b++)
      for (size_t i = 0; i < HW; i++) {
        const size_t o = (b * C + c) * HW + i;
        sdy += dy[o];
        sdyx += (double)dy[o] * xhat[o];
      }
    if (dgamma)
      dgamma[c] += (float)sdyx;
    if (dbeta)
      dbeta[c] += (float)sdy;
    if (dx)
      for (size_t b = 0; b < B; b++)
        for (size_t i = 0; i < HW; i++) {
          const size_t o = (b * C + c) * HW + i;
          dx[o] += (float)((double)gamma[c] * invstd[c] / N * (N * dy[o] - sdy - xhat[o] * sdyx));
        }
  }
  return SL_OK;
}

/* ---------------------------------------------------------------- pooling, add */

static int gap_check(const void *a, const void *b, size_t B, size_t C, size_t HW)
{
  if (!a || !b)
    return sl_error(SL_EINVAL, "gap: NULL argument");
  if (!B || !C || !HW)
    return sl_error(SL_EINVAL, "gap: zero size (B %zu, C %zu, HW %zu)", B, C, HW);
  return SL_OK;
}

int sl_gap_forward(float *out, const float *in, size_t B, size_t C, size_t HW)
{
  int rc = gap_check(out, in, B, C, HW);
  if (rc)
    return rc;
#pragma omp parallel for schedule(static)
  for (size_t p = 0; p < B * C; p++) {
    float s = 0.0f;
    for (size_t i = 0; i < HW; i++)
      s += in[p * HW + i];
    out[p] = s / (float)HW;
  }
  return SL_OK;
}

int sl_gap_forward_ref(float *out, const float *in, size_t B, size_t C, size_t HW)
{
  int rc = gap_check(out, in, B, C, HW);
  if (rc)
    return rc;
  for (size_t b = 0; b < B; b++)
    for (size_t c = 0; c < C; c++) {
      double s = 0.0;
      for (size_t i = 0; i < HW; i++)
        s += in[(b * C + c) * HW + i];
      out[b * C + c] = (float)(s / (double)HW);
    }
  return SL_OK;
}

int sl_gap_backward(float *dinp, const float *dout, size_t B, size_t C, size_t HW)
{
  int rc = gap_check(dinp, dout, B, C, HW);
  if (rc)
    return rc;
  const float k = 1.0f / (float)HW;
#pragma omp parallel for schedule(static)
  for (size_t p = 0; p < B * C; p++)
    for (size_t i = 0; i < HW; i++)
      dinp[p * HW + i] += dout[p] * k;
  return SL_OK;
}

int sl_add_forward(float *out, const float *a, const float *b, size_t n)
{
  if (!out || !a || !b)
    return sl_error(SL_EINVAL, "add: NULL argument");
  for (size_t i = 0; i < n; i++)
    out[i] = a[i] + b[i];
  return SL_OK;
}

int sl_add_backward(float *da, float *db, const float *dout, size_t n)
{
  if (!dout)
    return sl_error(SL_EINVAL, "add: NULL argument");
  for (size_t i = 0; i < n; i++) {
    if (da)
      da[i] += dout[i];
    if (db)
      db[i] += dout[i];
  }
  return SL_OK;
}

/* ---------------------------------------------------------------- cosine head */

static int cos_check(const void *a, const void *f, const void *p, size_t B, size_t D, size_t K,
                     double scale)
{
  if (!a || !f || !p)
    return sl_error(SL_EINVAL, "cosine: NULL argument");
  if (!B || !D || !K)
    return sl_error(SL_EINVAL, "cosine: zero size (B %zu, D %zu, K %zu)", B, D, K);
  if (!isfinite(scale))
    return sl_error(SL_EINVAL, "cosine: scale must be finite");
  return SL_OK;
}

/* |v| of n floats, in double. */
static double norm(const float *v, size_t n)
{
  double s = 0.0;
  for (size_t i = 0; i < n; i++)
    s += (double)v[i] * v[i];
  return sqrt(s);
}

/* u = f - m (m may be NULL) */
static void offset(float *u, const float *f, const float *m, size_t D)
{
  for (size_t d = 0; d < D; d++)
    u[d] = f[d] - (m ? m[d] : 0.0f);
}

/* The offset features u = f - m (B, D), their norms un (B), the
 * prototypes' norms pn (K) and the cosines cs (B, K) (0 where a norm is
 * 0): what the forward returns and the backward needs. One buffer holds
 * all four; free(*u). */
typedef struct {
  float *u, *un, *pn, *cs;
} cos_table;

static int cos_prepare(cos_table *t, const float *f, const float *m, const float *p, size_t B,
                       size_t D, size_t K)
{
  t->u = malloc((B * D + B + K + B * K) * sizeof(float));
  if (!t->u)
    return sl_error(SL_ENOMEM, "cosine: out of memory");
  t->un = t->u + B * D;
  t->pn = t->un + B;
  t->cs = t->pn + K;
  for (size_t k = 0; k < K; k++)
    t->pn[k] = (float)norm(p + k * D, D);
#pragma omp parallel for schedule(static)
  for (size_t b = 0; b < B; b++) {
    float *ub = t->u + b * D;
    offset(ub, f + b * D, m, D);
    t->un[b] = (float)norm(ub, D);
    for (size_t k = 0; k < K; k++) {
      float dot = 0.0f;
      for (size_t d = 0; d < D; d++)
        dot += ub[d] * p[k * D + d];
      const float den = t->un[b] * t->pn[k];
      t->cs[b * K + k] = den > 0.0f ? dot / den : 0.0f;
    }
  }
  return SL_OK;
}

int sl_cosine_forward(float *logits, const float *f, const float *m, const float *p, size_t B,
                      size_t D, size_t K, double scale)
{
  int rc = cos_check(logits, f, p, B, D, K, scale);
  cos_table t;
  if (!rc)
    rc = cos_prepare(&t, f, m, p, B, D, K);
  if (rc)
    return rc;
  for (size_t i = 0; i < B * K; i++)
    logits[i] = (float)scale * t.cs[i];
  free(t.u);
  return SL_OK;
}

/* The reference's sums for one pair: u = f - m, dot = u.p, uu = u.u,
 * pp = p.p, in double. */
static void ref_terms(const float *f, const float *m, const float *p, size_t D, double *dot,
                      double *uu, double *pp)
{
  *dot = *uu = *pp = 0.0;
  for (size_t d = 0; d < D; d++) {
    const double u = (double)f[d] - (m ? m[d] : 0.0), q = p[d];
    *dot += u * q;
    *uu += u * u;
    *pp += q * q;
  }
}

int sl_cosine_forward_ref(float *logits, const float *f, const float *m, const float *p,
                          size_t B, size_t D, size_t K, double scale)
{
  int rc = cos_check(logits, f, p, B, D, K, scale);
  if (rc)
    return rc;
  for (size_t b = 0; b < B; b++)
    for (size_t k = 0; k < K; k++) {
      double dot, uu, pp;
      ref_terms(f + b * D, m, p + k * D, D, &dot, &uu, &pp);
      logits[b * K + k] = uu > 0.0 && pp > 0.0 ? (float)(scale * dot / sqrt(uu * pp)) : 0.0f;
    }
  return SL_OK;
}

/* dx (nx, D) += sum over j of g_ij s (y_j / (|x_i| |y_j|) - cos_ij x_i / |x_i|^2),
 * the gradient of s cos(x_i, y_j) for one side; g and cos are (B, K)
 * arrays indexed [i K + j], or [j K + i] when x is the prototypes side
 * (transposed). Parallel over i: each thread owns its rows of dx. */
static void cos_grad(float *dx, const float *x, const float *xn, size_t nx, const float *y,
                     const float *yn, size_t ny, const float *g, const float *cs, size_t K,
                     int transposed, float s, size_t D)
{
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < nx; i++) {
    if (xn[i] == 0.0f)
      continue;
    const float *xi = x + i * D;
    for (size_t j = 0; j < ny; j++) {
      if (yn[j] == 0.0f)
        continue;
      const size_t at = transposed ? j * K + i : i * K + j;
      const float gs = s * g[at], a = gs / (xn[i] * yn[j]), c = gs * cs[at] / (xn[i] * xn[i]);
      const float *yj = y + j * D;
      for (size_t d = 0; d < D; d++)
        dx[i * D + d] += a * yj[d] - c * xi[d];
    }
  }
}

/* d cos(u, p) / du = p / (|u||p|) - cos u / |u|^2, and symmetrically for p. */
int sl_cosine_backward(float *df, float *dp, const float *dlogits, const float *f, const float *m,
                       const float *p, size_t B, size_t D, size_t K, double scale)
{
  int rc = cos_check(dlogits, f, p, B, D, K, scale);
  cos_table t;
  if (!rc)
    rc = cos_prepare(&t, f, m, p, B, D, K);
  if (rc)
    return rc;
  const float s = (float)scale;
  if (df)
    cos_grad(df, t.u, t.un, B, p, t.pn, K, dlogits, t.cs, K, 0, s, D);
  if (dp)
    cos_grad(dp, p, t.pn, K, t.u, t.un, B, dlogits, t.cs, K, 1, s, D);
  free(t.u);
  return SL_OK;
}

int sl_cosine_backward_ref(float *df, float *dp, const float *dlogits, const float *f,
                           const float *m, const float *p, size_t B, size_t D, size_t K,
                           double scale)
{
  int rc = cos_check(dlogits, f, p, B, D, K, scale);
  if (rc)
    return rc;
  for (size_t b = 0; b < B; b++)
    for (size_t k = 0; k < K; k++) {
      double dot, uu, pp;
      ref_terms(f + b * D, m, p + k * D, D, &dot, &uu, &pp);
      if (uu == 0.0 || pp == 0.0)
        continue;
      const double nu = sqrt(uu), np = sqrt(pp), c = dot / (nu * np), g = scale * dlogits[b * K + k];
      for (size_t d = 0; d < D; d++) {
        const double u = (double)f[b * D + d] - (m ? m[d] : 0.0), q = p[k * D + d];
        if (df)
          df[b * D + d] += (float)(g * (q / (nu * np) - c * u / uu));
        if (dp)
          dp[k * D + d] += (float)(g * (u / (nu * np) - c * q / pp));
      }
    }
  return SL_OK;
}
