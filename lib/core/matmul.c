/* matmul.c -- the matrix products of the network, dense reference and
 * event-driven fast versions.
 *
 * The fast forward product gathers the weight rows of the nonzero inputs
 * (spikes), which is exact and, for sparse rasters, far cheaper than a
 * dense product. Parallel over output rows (forward) or weight rows
 * (weight gradient) so that every thread owns what it writes: no atomics,
 * and results identical for any number of threads. The dense back-projection
 * of gradients goes to the CBLAS (OpenBLAS), which agrees with the
 * reference to rounding -- unless g has few columns (a classifier's
 * readout): then a loop of axpys of our own is faster than the CBLAS with
 * its threads, and bit-identical to the reference. (lib/events.c has the
 * event-list versions of the other two products.)
 */
#include "config.h"
#include "core/kernels.h"

#ifdef HAVE_OPENBLAS
#include <cblas.h>
#else
#include <gsl/gsl_cblas.h>
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

SLK_VECTORIZE

void slk_matmul_ref(float *y, const float *x, const float *w, size_t R, size_t K, size_t N)
{
  for (size_t r = 0; r < R; r++)
    for (size_t n = 0; n < N; n++) {
      float acc = 0.0f;
      for (size_t k = 0; k < K; k++)
        acc += x[r * K + k] * w[k * N + n];
      y[r * N + n] = acc;
    }
}

/* y[0..N) += sum_j x[j*xs] w[j, 0..N) for the rows j = 0..J-1 of w (J, N),
 * j ascending as the references sum, skipping exact zeros of x (silent
 * inputs): the inner loops of both fast products. */
static inline void axpy_rows(float *y, const float *x, size_t xs, const float *w, size_t J,
                             size_t N)
{
  for (size_t j = 0; j < J; j++) {
    const float xv = x[j * xs];
    if (xv == 0.0f)
      continue;
    const float *wj = w + j * N;
    for (size_t n = 0; n < N; n++)
      y[n] += xv * wj[n];
  }
}

void slk_matmul(float *y, const float *x, const float *w, size_t R, size_t K, size_t N)
{
#pragma omp parallel for schedule(static)
  for (size_t r = 0; r < R; r++) {
    memset(y + r * N, 0, N * sizeof *y);
    axpy_rows(y + r * N, x + r * K, 1, w, K, N);
  }
}

void slk_matmul_tn_acc_ref(float *dw, const float *x, const float *g, size_t R, size_t K, size_t N)
{
  for (size_t k = 0; k < K; k++)
    for (size_t n = 0; n < N; n++) {
      float acc = dw[k * N + n];
      for (size_t r = 0; r < R; r++)
        acc += x[r * K + k] * g[r * N + n];
      dw[k * N + n] = acc;
    }
}

void slk_matmul_tn_acc(float *dw, const float *x, const float *g, size_t R, size_t K, size_t N)
{
#pragma omp parallel for schedule(static)
  for (size_t k = 0; k < K; k++)
    axpy_rows(dw + k * N, x + k, K, g, R, N);
}

void slk_matmul_nt_ref(float *gx, const float *g, const float *w, size_t R, size_t K, size_t N)
{
  for (size_t r = 0; r < R; r++)
    for (size_t k = 0; k < K; k++) {
      float acc = 0.0f;
      for (size_t n = 0; n < N; n++)
        acc += g[r * N + n] * w[k * N + n];
      gx[r * K + k] = acc;
    }
}

/* Below this many multiply-adds the CBLAS's own threads cost more than
 * they save (measured on the default Yin-Yang run: 2 threads went from
 * 22.6 s to 13.4 s). */
#define SMALL_PRODUCT (1u << 22)
/* Up to this many columns of g (the readout of a classifier) the product
 * runs as a few axpys per row in the library's own loop, whatever R is. */
#define FEW_COLUMNS 32

/* gx[r, :] = sum_n g[r, n] W^T[n, :] for the rows [0, R): n ascending, as
 * the reference sums, so the result is bit-identical; the row of gx is
 * accumulated in vector registers (slk_gather_row over all n). wt is W^T
 * (N, K); iota holds 0 .. N-1. */
static void nt_axpy_rows(float *gx, const float *g, const float *wt, const uint32_t *iota,
                         size_t R, size_t K, size_t N)
{
  for (size_t r = 0; r < R; r++)
    slk_gather_row(gx + r * K, iota, g + r * N, N, wt, K);
}

void slk_matmul_nt(float *gx, const float *g, const float *w, size_t R, size_t K, size_t N)
{
  float *wt = N <= FEW_COLUMNS ? malloc(K * N * sizeof *wt) : NULL;
  uint32_t iota[FEW_COLUMNS];
  if (wt) {
    for (size_t k = 0; k < K; k++)
      for (size_t n = 0; n < N; n++)
        wt[n * K + k] = w[k * N + n];
    for (size_t n = 0; n < N; n++)
      iota[n] = (uint32_t)n;
    const size_t chunk = 64; /* rows per task */
#pragma omp parallel for schedule(static)
    for (size_t r0 = 0; r0 < R; r0 += chunk)
      nt_axpy_rows(gx + r0 * K, g + r0 * N, wt, iota, R - r0 < chunk ? R - r0 : chunk, K, N);
    free(wt);
    return;
  }
  if (R * K * N < SMALL_PRODUCT) {
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < R; r++)
      for (size_t k = 0; k < K; k++) {
        const float *gr = g + r * N, *wk = w + k * N;
        float acc = 0.0f;
        for (size_t n = 0; n < N; n++)
          acc += gr[n] * wk[n];
        gx[r * K + k] = acc;
      }
    return;
  }
  /* Dense: the gradients g are not sparse, so large products go to the CBLAS. */
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)K, (int)N, 1.0f, g,
              (int)N, w, (int)N, 0.0f, gx, (int)K);
}

int slk_all_finite(const float *a, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!isfinite(a[i]))
      return 0;
  return 1;
}
