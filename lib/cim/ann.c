/* ann.c -- ANN layer kernels for memristor CNNs: conv2d, max / average
 * pooling, fully connected, ReLU, flatten, softmax cross-entropy; the
 * shapes and conventions are stated in include/spikeloop/ann.h.
 *
 * The reference kernels (*_ref) are the naive loop nests of the
 * definitions, kept apart from the fast ones so that they stay an
 * independent oracle; max pooling, whose definition is already its fast
 * form, runs one loop serially for the reference and in parallel for the
 * fast kernel. The fast ones compute a convolution as matrix products over
 * im2col rows (the same rows a crossbar reads), a chunk of samples at a
 * time, with CBLAS sgemm: forward y = cols w; backward dw += cols^T g and
 * dcols = g w^T, scattered back to the input per sample (one thread owns a
 * sample, so no atomics). Accumulation is in float; results agree with
 * the references to rounding.
 */
#include "config.h"
#include "spikeloop/ann.h"
#include "spikeloop/error.h"

#ifdef HAVE_OPENBLAS
#include <cblas.h>
#else
#include <gsl/gsl_cblas.h>
#endif

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t sl_conv2d_out_h(const sl_conv2d_shape *s)
{
  if (!s || !s->stride || s->H + 2 * s->pad < s->kh)
    return 0;
  return (s->H + 2 * s->pad - s->kh) / s->stride + 1;
}

size_t sl_conv2d_out_w(const sl_conv2d_shape *s)
{
  if (!s || !s->stride || s->W + 2 * s->pad < s->kw)
    return 0;
  return (s->W + 2 * s->pad - s->kw) / s->stride + 1;
}

static int conv_check(const void *a, const void *b, const void *c, const sl_conv2d_shape *s)
{
  if (!a || !b || !c || !s)
    return sl_error(SL_EINVAL, "conv2d: NULL argument");
  if (!s->B || !s->C || !s->H || !s->W || !s->K || !s->kh || !s->kw || !s->stride)
    return sl_error(SL_EINVAL, "conv2d: every size and the stride must be positive");
  if (!sl_conv2d_out_h(s) || !sl_conv2d_out_w(s))
    return sl_error(SL_EINVAL, "conv2d: kernel %zu x %zu larger than the padded input %zu x %zu",
                    s->kh, s->kw, s->H + 2 * s->pad, s->W + 2 * s->pad);
  return SL_OK;
}

/* Input value at channel c, output pixel (oy, ox), kernel offset (i, j);
 * 0 in the padding. */
static inline float conv_in(const float *in, const sl_conv2d_shape *s, size_t b, size_t c,
                            size_t oy, size_t ox, size_t i, size_t j)
{
  long y = (long)(oy * s->stride + i) - (long)s->pad, x = (long)(ox * s->stride + j) - (long)s->pad;
  if (y < 0 || x < 0 || y >= (long)s->H || x >= (long)s->W)
    return 0.0f;
  return in[((b * s->C + c) * s->H + (size_t)y) * s->W + (size_t)x];
}

int sl_conv2d_forward_ref(float *out, const float *in, const float *w, const float *bias,
                          const sl_conv2d_shape *s)
{
  int rc = conv_check(out, in, w, s);
  if (rc)
    return rc;
  const size_t OH = sl_conv2d_out_h(s), OW = sl_conv2d_out_w(s), K = s->K;
  for (size_t b = 0; b < s->B; b++)
    for (size_t k = 0; k < K; k++)
      for (size_t oy = 0; oy < OH; oy++)
        for (size_t ox = 0; ox < OW; ox++) {
          double acc = bias ? bias[k] : 0.0;
          for (size_t c = 0; c < s->C; c++)
            for (size_t i = 0; i < s->kh; i++)
              for (size_t j = 0; j < s->kw; j++)
                acc += (double)conv_in(in, s, b, c, oy, ox, i, j) *
                       w[((c * s->kh + i) * s->kw + j) * K + k];
          out[((b * K + k) * OH + oy) * OW + ox] = (float)acc;
        }
  return SL_OK;
}

/* y[0..n) += a x[0..n); nothing when a is 0 (zero inputs are common after
 * ReLU and in the padding of im2col rows). */
static inline void axpy_nz(float *y, float a, const float *x, size_t n)
{
  if (a == 0.0f)
    return;
  for (size_t j = 0; j < n; j++)
    y[j] += a * x[j];
}

/* y = bias + x W for one row x (n_in) and w (n_in, n_out); bias may be
 * NULL (the fully connected layer, one row per sample). */
static void row_times_matrix(float *y, const float *x, const float *w, const float *bias,
                             size_t n_in, size_t n_out)
{
  for (size_t j = 0; j < n_out; j++)
    y[j] = bias ? bias[j] : 0.0f;
  for (size_t i = 0; i < n_in; i++)
    axpy_nz(y, x[i], w + i * n_out, n_out);
}

/* Index in out (B, K, OH, OW) of channel k of im2col row p (b*HW + pixel),
 * HW = OH*OW. */
static inline size_t conv_out_at(size_t p, size_t k, size_t K, size_t HW)
{
  return (p / HW * K + k) * HW + p % HW;
}

/* One im2col row: the patch of output pixel p (= (b*OH + oy)*OW + ox). */
static void im2col_row(float *row, const float *in, const sl_conv2d_shape *s, size_t p)
{
  const size_t OH = sl_conv2d_out_h(s), OW = sl_conv2d_out_w(s);
  const size_t ox = p % OW, oy = (p / OW) % OH, b = p / (OW * OH);
  size_t r = 0;
  for (size_t c = 0; c < s->C; c++)
    for (size_t i = 0; i < s->kh; i++)
      for (size_t j = 0; j < s->kw; j++)
        row[r++] = conv_in(in, s, b, c, oy, ox, i, j);
}

int sl_conv2d_im2col(float *cols, const float *in, const sl_conv2d_shape *s)
{
  int rc = conv_check(cols, in, s, s);
  if (rc)
    return rc;
  const size_t R = s->C * s->kh * s->kw, P = s->B * sl_conv2d_out_h(s) * sl_conv2d_out_w(s);
#pragma omp parallel for schedule(static)
  for (size_t p = 0; p < P; p++)
    im2col_row(cols + p * R, in, s, p);
  return SL_OK;
}

/* A 1x1 convolution on a 1x1 image: the tensors are plain rows (B, C) and
 * (B, K), and the convolution is one matrix product (PointNet++'s shared
 * MLP, an FC written as a convolution). */
static int pointwise(const sl_conv2d_shape *s)
{
  return s->H == 1 && s->W == 1 && s->kh == 1 && s->kw == 1 && s->stride == 1 && s->pad == 0;
}

/* Samples per chunk of a fast convolution: its im2col rows stay below
 * about 4 M floats (16 MB). */
static size_t conv_chunk(const sl_conv2d_shape *s)
{
  const size_t per = sl_conv2d_out_h(s) * sl_conv2d_out_w(s) * s->C * s->kh * s->kw;
  size_t n = per ? (size_t)(4u << 20) / per : s->B;
  return n < 1 ? 1 : n > s->B ? s->B : n;
}

int sl_conv2d_forward(float *out, const float *in, const float *w, const float *bias,
                      const sl_conv2d_shape *s)
{
  int rc = conv_check(out, in, w, s);
  if (rc)
    return rc;
  const size_t OH = sl_conv2d_out_h(s), OW = sl_conv2d_out_w(s), K = s->K, HW = OH * OW;
  const size_t R = s->C * s->kh * s->kw, chunk = conv_chunk(s);
  if (pointwise(s)) { /* (B, C) rows: out (B, K) = in w (+ bias), no im2col */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s->B, (int)K, (int)R, 1.0f, in,
                (int)R, w, (int)K, 0.0f, out, (int)K);
    for (size_t b = 0; bias && b < s->B; b++)
      for (size_t k = 0; k < K; k++)
        out[b * K + k] += bias[k];
    return SL_OK;
  }
  float *cols = malloc(chunk * HW * R * sizeof(float)), *y = malloc(chunk * HW * K * sizeof(float));
  if (!cols || !y) {
    free(cols), free(y);
    return sl_error(SL_ENOMEM, "conv2d: out of memory");
  }
  for (size_t b0 = 0; b0 < s->B; b0 += chunk) {
    sl_conv2d_shape c = *s;
    c.B = s->B - b0 < chunk ? s->B - b0 : chunk;
    const float *cin = in + b0 * s->C * s->H * s->W;
    const size_t P = c.B * HW;
#pragma omp parallel for schedule(static)
    for (size_t p = 0; p < P; p++)
      im2col_row(cols + p * R, cin, &c, p);
    /* y (P, K) = cols (P, R) w (R, K) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)P, (int)K, (int)R, 1.0f, cols,
                (int)R, w, (int)K, 0.0f, y, (int)K);
    float *o = out + b0 * K * HW;
#pragma omp parallel for schedule(static)
    for (size_t q = 0; q < c.B * K; q++) { /* (b, k) plane of the output */
      const size_t b = q / K, k = q % K;
      const float bk = bias ? bias[k] : 0.0f;
      for (size_t i = 0; i < HW; i++)
        o[q * HW + i] = y[(b * HW + i) * K + k] + bk;
    }
  }
  free(cols), free(y);
  return SL_OK;
}

int sl_conv2d_forward_cim(float *out, const float *in, sl_cim *c, const float *bias,
                          const sl_conv2d_shape *s)
{
  int rc = conv_check(out, in, c, s);
  if (rc)
    return rc;
  const size_t OH = sl_conv2d_out_h(s), OW = sl_conv2d_out_w(s), K = s->K;
  const size_t R = s->C * s->kh * s->kw, P = s->B * OH * OW;
  if (sl_cim_n_in(c) != R || sl_cim_n_out(c) != K)
    return sl_error(SL_ESHAPE, "conv2d_cim: the crossbar is %zu x %zu, the layer needs %zu x %zu",
                    sl_cim_n_in(c), sl_cim_n_out(c), R, K);
  float *cols = malloc(P * R * sizeof(float)), *y = malloc(P * K * sizeof(float));
  if (!cols || !y) {
    free(cols);
    free(y);
    return sl_error(SL_ENOMEM, "conv2d_cim: out of memory for %zu im2col rows", P);
  }
  rc = sl_conv2d_im2col(cols, in, s);
  if (!rc)
    rc = sl_cim_mvm(c, cols, P, y);
  if (!rc)
    for (size_t p = 0; p < P; p++)
      for (size_t k = 0; k < K; k++)
        out[conv_out_at(p, k, K, OH * OW)] = y[p * K + k] + (bias ? bias[k] : 0.0f);
  free(cols);
  free(y);
  return rc;
}

int sl_conv2d_backward_ref(float *dinp, float *dw, float *db, const float *dout,
                           const float *in, const float *w, const sl_conv2d_shape *s)
{
  int rc = conv_check(dout, in, w, s);
  if (rc)
    return rc;
  const size_t OH = sl_conv2d_out_h(s), OW = sl_conv2d_out_w(s), K = s->K;
  for (size_t b = 0; b < s->B; b++)
    for (size_t k = 0; k < K; k++)
      for (size_t oy = 0; oy < OH; oy++)
        for (size_t ox = 0; ox < OW; ox++) {
          const float g = dout[((b * K + k) * OH + oy) * OW + ox];
          if (db)
            db[k] += g;
          for (size_t c = 0; c < s->C; c++)
            for (size_t i = 0; i < s->kh; i++)
              for (size_t j = 0; j < s->kw; j++) {
                const size_t r = (c * s->kh + i) * s->kw + j;
                if (dw)
                  dw[r * K + k] += g * conv_in(in, s, b, c, oy, ox, i, j);
                long y = (long)(oy * s->stride + i) - (long)s->pad;
                long x = (long)(ox * s->stride + j) - (long)s->pad;
                if (dinp && y >= 0 && x >= 0 && y < (long)s->H && x < (long)s->W)
                  dinp[((b * s->C + c) * s->H + (size_t)y) * s->W + (size_t)x] += g * w[r * K + k];
              }
        }
  return SL_OK;
}

/* Add the im2col row gradients dcols (B*OH*OW, R) of one sample b into
 * dinp: the transpose of im2col_row. */
static void col2im_sample(float *dinp, const float *dcols, const sl_conv2d_shape *s, size_t b)
{
  const size_t OH = sl_conv2d_out_h(s), OW = sl_conv2d_out_w(s), R = s->C * s->kh * s->kw;
  for (size_t oy = 0; oy < OH; oy++)
    for (size_t ox = 0; ox < OW; ox++) {
      const float *row = dcols + ((b * OH + oy) * OW + ox) * R;
      size_t r = 0;
      for (size_t c = 0; c < s->C; c++)
        for (size_t i = 0; i < s->kh; i++) {
          const long y = (long)(oy * s->stride + i) - (long)s->pad;
          for (size_t j = 0; j < s->kw; j++, r++) {
            const long x = (long)(ox * s->stride + j) - (long)s->pad;
            if (y >= 0 && x >= 0 && y < (long)s->H && x < (long)s->W)
              dinp[((b * s->C + c) * s->H + (size_t)y) * s->W + (size_t)x] += row[r];
          }
        }
    }
}

int sl_conv2d_backward(float *dinp, float *dw, float *db, const float *dout, const float *in,
                       const float *w, const sl_conv2d_shape *s)
{
  int rc = conv_check(dout, in, w, s);
  if (rc)
    return rc;
  const size_t OH = sl_conv2d_out_h(s), OW = sl_conv2d_out_w(s), K = s->K, HW = OH * OW;
  const size_t R = s->C * s->kh * s->kw, chunk = conv_chunk(s);
  if (db)
    for (size_t k = 0; k < K; k++) {
      double a = 0.0;
      for (size_t b = 0; b < s->B; b++)
        for (size_t q = 0; q < HW; q++)
          a += dout[(b * K + k) * HW + q];
      db[k] += (float)a;
    }
  if (!dw && !dinp)
    return SL_OK;
  if (pointwise(s)) { /* rows: dw += in^T dout, dinp += dout w^T */
    if (dw)
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)R, (int)K, (int)s->B, 1.0f, in,
                  (int)R, dout, (int)K, 1.0f, dw, (int)K);
    if (dinp)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)s->B, (int)R, (int)K, 1.0f, dout,
                  (int)K, w, (int)K, 1.0f, dinp, (int)R);
    return SL_OK;
  }
  float *cols = malloc(chunk * HW * R * sizeof(float)), *g = malloc(chunk * HW * K * sizeof(float));
  if (!cols || !g) {
    free(cols), free(g);
    return sl_error(SL_ENOMEM, "conv2d: out of memory");
  }
  for (size_t b0 = 0; b0 < s->B; b0 += chunk) {
    sl_conv2d_shape c = *s;
    c.B = s->B - b0 < chunk ? s->B - b0 : chunk;
    const size_t P = c.B * HW;
    const float *go = dout + b0 * K * HW;
    /* g (P, K): the output gradient with pixels as rows */
#pragma omp parallel for schedule(static)
    for (size_t p = 0; p < P; p++) {
      const size_t b = p / HW, i = p % HW;
      for (size_t k = 0; k < K; k++)
        g[p * K + k] = go[(b * K + k) * HW + i];
    }
    if (dw) {
      const float *cin = in + b0 * s->C * s->H * s->W;
#pragma omp parallel for schedule(static)
      for (size_t p = 0; p < P; p++)
        im2col_row(cols + p * R, cin, &c, p);
      /* dw (R, K) += cols^T (R, P) g (P, K) */
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)R, (int)K, (int)P, 1.0f, cols,
                  (int)R, g, (int)K, 1.0f, dw, (int)K);
    }
    if (dinp) {
      /* dcols (P, R) = g (P, K) w^T (K, R), then back to the input pixels */
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)P, (int)R, (int)K, 1.0f, g,
                  (int)K, w, (int)K, 0.0f, cols, (int)R);
      float *di = dinp + b0 * s->C * s->H * s->W;
#pragma omp parallel for schedule(static)
      for (size_t b = 0; b < c.B; b++)
        col2im_sample(di, cols, &c, b);
    }
  }
  free(cols), free(g);
  return SL_OK;
}

/* ---------------------------------------------------------------- pooling */

size_t sl_pool_out_h(const sl_pool_shape *s)
{
  return s && s->stride && s->k && s->H >= s->k ? (s->H - s->k) / s->stride + 1 : 0;
}

size_t sl_pool_out_w(const sl_pool_shape *s)
{
  return s && s->stride && s->k && s->W >= s->k ? (s->W - s->k) / s->stride + 1 : 0;
}

static int pool_check(const void *a, const void *b, const sl_pool_shape *s)
{
  if (!a || !b || !s)
    return sl_error(SL_EINVAL, "pool: NULL argument");
  if (!s->B || !s->C || !s->H || !s->W || !s->k || !s->stride)
    return sl_error(SL_EINVAL, "pool: every size, the window and the stride must be positive");
  if (!sl_pool_out_h(s) || !sl_pool_out_w(s))
    return sl_error(SL_EINVAL, "pool: window %zu larger than the input %zu x %zu", s->k, s->H,
                    s->W);
  return SL_OK;
}

/* pool_check, and max pooling's argmax array must exist. */
static int maxpool_check(const void *a, const void *b, const size_t *argmax,
                         const sl_pool_shape *s)
{
  int rc = pool_check(a, b, s);
  if (rc == SL_OK && !argmax)
    rc = sl_error(SL_EINVAL, "maxpool: NULL argmax");
  return rc;
}

/* Flat input index of the top-left corner of the window of plane p
 * (b*C + c), output (oy, ox); its element (i, j) is at + i*W + j. */
static inline size_t pool_window(const sl_pool_shape *s, size_t p, size_t oy, size_t ox)
{
  return p * s->H * s->W + oy * s->stride * s->W + ox * s->stride;
}

/* Plane p, output (oy, ox): max and its flat input index. */
static inline void max_window(const float *in, const sl_pool_shape *s, size_t p, size_t oy,
                              size_t ox, float *m, size_t *arg)
{
  const size_t base = pool_window(s, p, oy, ox);
  size_t best = base;
  float v = in[best];
  for (size_t i = 0; i < s->k; i++)
    for (size_t j = 0; j < s->k; j++) {
      size_t q = base + i * s->W + j;
      if (in[q] > v) {
        v = in[q];
        best = q;
      }
    }
  *m = v;
  *arg = best;
}

/* Max pooling has no faster formulation than its definition: each
 * reference and fast pair is one loop, run serially (*_ref) or in
 * parallel, so the tests check the parallel split against the serial
 * order. */
static int maxpool_forward(float *out, size_t *argmax, const float *in, const sl_pool_shape *s,
                           int parallel)
{
  int rc = maxpool_check(out, in, argmax, s);
  if (rc)
    return rc;
  const size_t OH = sl_pool_out_h(s), OW = sl_pool_out_w(s), n = s->B * s->C * OH * OW;
#pragma omp parallel for schedule(static) if (parallel)
  for (size_t o = 0; o < n; o++)
    max_window(in, s, o / (OH * OW), (o / OW) % OH, o % OW, &out[o], &argmax[o]);
  return SL_OK;
}

int sl_maxpool_forward_ref(float *out, size_t *argmax, const float *in, const sl_pool_shape *s)
{
  return maxpool_forward(out, argmax, in, s, 0);
}

int sl_maxpool_forward(float *out, size_t *argmax, const float *in, const sl_pool_shape *s)
{
  return maxpool_forward(out, argmax, in, s, 1);
}

/* dinp[argmax[o]] += dout[o]. Windows of one plane may overlap (stride <
 * k): in parallel, planes are the independent units. */
static int maxpool_backward(float *dinp, const float *dout, const size_t *argmax,
                            const sl_pool_shape *s, int parallel)
{
  int rc = maxpool_check(dinp, dout, argmax, s);
  if (rc)
    return rc;
  const size_t per = sl_pool_out_h(s) * sl_pool_out_w(s), planes = s->B * s->C;
#pragma omp parallel for schedule(static) if (parallel)
  for (size_t p = 0; p < planes; p++)
    for (size_t o = p * per; o < (p + 1) * per; o++)
      dinp[argmax[o]] += dout[o];
  return SL_OK;
}

int sl_maxpool_backward_ref(float *dinp, const float *dout, const size_t *argmax,
                            const sl_pool_shape *s)
{
  return maxpool_backward(dinp, dout, argmax, s, 0);
}

int sl_maxpool_backward(float *dinp, const float *dout, const size_t *argmax,
                        const sl_pool_shape *s)
{
  return maxpool_backward(dinp, dout, argmax, s, 1);
}

int sl_avgpool_forward_ref(float *out, const float *in, const sl_pool_shape *s)
{
  int rc = pool_check(out, in, s);
  if (rc)
    return rc;
  const size_t OH = sl_pool_out_h(s), OW = sl_pool_out_w(s);
  for (size_t p = 0; p < s->B * s->C; p++)
    for (size_t oy = 0; oy < OH; oy++)
      for (size_t ox = 0; ox < OW; ox++) {
        double a = 0.0;
        for (size_t i = 0; i < s->k; i++)
          for (size_t j = 0; j < s->k; j++)
            a += in[pool_window(s, p, oy, ox) + i * s->W + j];
        out[(p * OH + oy) * OW + ox] = (float)(a / (double)(s->k * s->k));
      }
  return SL_OK;
}

int sl_avgpool_forward(float *out, const float *in, const sl_pool_shape *s)
{
  int rc = pool_check(out, in, s);
  if (rc)
    return rc;
  const size_t OH = sl_pool_out_h(s), OW = sl_pool_out_w(s), n = s->B * s->C * OH * OW;
  const float inv = 1.0f / (float)(s->k * s->k);
#pragma omp parallel for schedule(static)
  for (size_t o = 0; o < n; o++) {
    const size_t p = o / (OH * OW), oy = (o / OW) % OH, ox = o % OW;
    const float *base = in + pool_window(s, p, oy, ox);
    float a = 0.0f;
    for (size_t i = 0; i < s->k; i++)
      for (size_t j = 0; j < s->k; j++)
        a += base[i * s->W + j];
    out[o] = a * inv;
  }
  return SL_OK;
}

int sl_avgpool_backward_ref(float *dinp, const float *dout, const sl_pool_shape *s)
{
  int rc = pool_check(dinp, dout, s);
  if (rc)
    return rc;
  const size_t OH = sl_pool_out_h(s), OW = sl_pool_out_w(s);
  const float inv = 1.0f / (float)(s->k * s->k);
  for (size_t p = 0; p < s->B * s->C; p++)
    for (size_t oy = 0; oy < OH; oy++)
      for (size_t ox = 0; ox < OW; ox++)
        for (size_t i = 0; i < s->k; i++)
          for (size_t j = 0; j < s->k; j++)
            dinp[pool_window(s, p, oy, ox) + i * s->W + j] += dout[(p * OH + oy) * OW + ox] * inv;
  return SL_OK;
}

int sl_avgpool_backward(float *dinp, const float *dout, const sl_pool_shape *s)
{
  int rc = pool_check(dinp, dout, s);
  if (rc)
    return rc;
  const size_t OH = sl_pool_out_h(s), OW = sl_pool_out_w(s), planes = s->B * s->C;
  const float inv = 1.0f / (float)(s->k * s->k);
#pragma omp parallel for schedule(static)
  for (size_t p = 0; p < planes; p++)
    for (size_t oy = 0; oy < OH; oy++)
      for (size_t ox = 0; ox < OW; ox++) {
        const float g = dout[(p * OH + oy) * OW + ox] * inv;
        float *base = dinp + pool_window(s, p, oy, ox);
        for (size_t i = 0; i < s->k; i++)
          for (size_t j = 0; j < s->k; j++)
            base[i * s->W + j] += g;
      }
  return SL_OK;
}

/* ---------------------------------------------------------------- fully connected */

static int fc_check(const void *a, const void *b, const void *c, size_t B, size_t n_in,
                    size_t n_out)
{
  if (!a || !b || !c)
    return sl_error(SL_EINVAL, "fc: NULL argument");
  if (!B || !n_in || !n_out)
    return sl_error(SL_EINVAL, "fc: B = %zu, n_in = %zu, n_out = %zu must be positive", B, n_in,
                    n_out);
  return SL_OK;
}

int sl_fc_forward_ref(float *out, const float *in, const float *w, const float *bias, size_t B,
                      size_t n_in, size_t n_out)
{
  int rc = fc_check(out, in, w, B, n_in, n_out);
  if (rc)
    return rc;
  for (size_t b = 0; b < B; b++)
    for (size_t o = 0; o < n_out; o++) {
      double a = bias ? bias[o] : 0.0;
      for (size_t i = 0; i < n_in; i++)
        a += (double)in[b * n_in + i] * w[i * n_out + o];
      out[b * n_out + o] = (float)a;
    }
  return SL_OK;
}

int sl_fc_forward(float *out, const float *in, const float *w, const float *bias, size_t B,
                  size_t n_in, size_t n_out)
{
  int rc = fc_check(out, in, w, B, n_in, n_out);
  if (rc)
    return rc;
#pragma omp parallel for schedule(static)
  for (size_t b = 0; b < B; b++)
    row_times_matrix(out + b * n_out, in + b * n_in, w, bias, n_in, n_out);
  return SL_OK;
}

int sl_fc_forward_cim(float *out, const float *in, sl_cim *c, const float *bias, size_t B)
{
  if (!out || !in || !c || !B)
    return sl_error(SL_EINVAL, "fc_cim: NULL argument or empty batch");
  int rc = sl_cim_mvm(c, in, B, out);
  if (!rc && bias)
    for (size_t b = 0; b < B; b++)
      for (size_t j = 0; j < sl_cim_n_out(c); j++)
        out[b * sl_cim_n_out(c) + j] += bias[j];
  return rc;
}

int sl_fc_backward_ref(float *dinp, float *dw, float *db, const float *dout, const float *in,
                       const float *w, size_t B, size_t n_in, size_t n_out)
{
  int rc = fc_check(dout, in, w, B, n_in, n_out);
  if (rc)
    return rc;
  for (size_t b = 0; b < B; b++)
    for (size_t o = 0; o < n_out; o++) {
      const float g = dout[b * n_out + o];
      if (db)
        db[o] += g;
      for (size_t i = 0; i < n_in; i++) {
        if (dw)
          dw[i * n_out + o] += in[b * n_in + i] * g;
        if (dinp)
          dinp[b * n_in + i] += w[i * n_out + o] * g;
      }
    }
  return SL_OK;
}

int sl_fc_backward(float *dinp, float *dw, float *db, const float *dout, const float *in,
                   const float *w, size_t B, size_t n_in, size_t n_out)
{
  int rc = fc_check(dout, in, w, B, n_in, n_out);
  if (rc)
    return rc;
  if (db)
    for (size_t o = 0; o < n_out; o++) {
      float a = 0.0f;
      for (size_t b = 0; b < B; b++)
        a += dout[b * n_out + o];
      db[o] += a;
    }
  if (dw) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n_in; i++)
      for (size_t b = 0; b < B; b++)
        axpy_nz(dw + i * n_out, in[b * n_in + i], dout + b * n_out, n_out);
  }
  if (dinp) {
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < B; b++)
      for (size_t i = 0; i < n_in; i++) {
        const float *wr = w + i * n_out, *g = dout + b * n_out;
        float a = 0.0f;
        for (size_t o = 0; o < n_out; o++)
          a += wr[o] * g[o];
        dinp[b * n_in + i] += a;
      }
  }
  return SL_OK;
}

/* ---------------------------------------------------------------- pointwise */

int sl_relu_forward(float *out, const float *in, size_t n)
{
  if (!out || !in)
    return sl_error(SL_EINVAL, "relu: NULL argument");
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (size_t i = 0; i < n; i++)
    out[i] = in[i] > 0.0f ? in[i] : 0.0f;
  return SL_OK;
}

int sl_relu_backward(float *dinp, const float *dout, const float *in, size_t n)
{
  if (!dinp || !dout || !in)
    return sl_error(SL_EINVAL, "relu: NULL argument");
  for (size_t i = 0; i < n; i++)
    if (in[i] > 0.0f)
      dinp[i] += dout[i];
  return SL_OK;
}

int sl_flatten_forward(float *out, const float *in, size_t n)
{
  if (!out || !in)
    return sl_error(SL_EINVAL, "flatten: NULL argument");
  if (out != in)
    memmove(out, in, n * sizeof(float));
  return SL_OK;
}

int sl_flatten_backward(float *dinp, const float *dout, size_t n)
{
  if (!dinp || !dout)
    return sl_error(SL_EINVAL, "flatten: NULL argument");
  for (size_t i = 0; i < n; i++)
    dinp[i] += dout[i];
  return SL_OK;
}

int sl_softmax_xent(const float *logits, const int32_t *labels, size_t B, size_t n, double *loss,
                    float *dlogits, size_t *correct)
{
  if (!logits || !labels || !loss || !B || !n)
    return sl_error(SL_EINVAL, "softmax_xent: NULL argument or empty batch");
  double total = 0.0;
  size_t hits = 0;
  for (size_t b = 0; b < B; b++) {
    const float *z = logits + b * n;
    if (labels[b] < 0 || (size_t)labels[b] >= n)
      return sl_error(SL_EINVAL, "softmax_xent: label %d of sample %zu outside 0..%zu",
                      (int)labels[b], b, n - 1);
    size_t arg = 0;
    for (size_t j = 0; j < n; j++) {
      if (!isfinite(z[j]))
        return sl_error(SL_ENUMERIC, "softmax_xent: logit %zu of sample %zu is not finite", j,
                        b);
      if (z[j] > z[arg])
        arg = j;
    }
    hits += arg == (size_t)labels[b];
    double m = z[arg], sum = 0.0;
    for (size_t j = 0; j < n; j++)
      sum += exp((double)z[j] - m);
    total += log(sum) + m - z[labels[b]];
    if (dlogits)
      for (size_t j = 0; j < n; j++)
        dlogits[b * n + j] +=
            (float)((exp((double)z[j] - m) / sum - (j == (size_t)labels[b])) / (double)B);
  }
  *loss = total / (double)B;
  if (correct)
    *correct = hits;
  return SL_OK;
}
