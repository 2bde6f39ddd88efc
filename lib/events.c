/* events.c -- sparse event lists of spike rasters and the event-driven
 * matrix products of the network.
 *
 * A spike raster x (R, K) -- rows are (t, b) pairs, columns are neurons or
 * input channels -- is ~2 % nonzero. Instead of scanning all K entries of
 * a row for every product (as slk_matmul does), the nonzeros are listed
 * once per forward pass, row by row in ascending column order (CSR), and
 * both products that involve x use the list:
 *
 *   forward   y[r, :]  = sum_{k in row r} x[r, k] W[k, :]
 *   gradient  dW[k, :] += sum_{r : k in row r} x[r, k] g[r, :]
 *
 * Both keep the summation order of the dense reference loops (k ascending
 * for y, r ascending for dW) and only leave out exact zeros, so they agree
 * with slk_matmul_ref / slk_matmul_tn_acc_ref bit for bit. The gradient is
 * split over blocks of output columns (each thread owns its columns of dW:
 * no atomics, and the same bits for any thread count).
 */
#include "config.h"
#include "kernels.h"
#include "spikeloop/error.h"

#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

SLK_VECTORIZE

void slk_events_free(slk_events *ev)
{
  if (!ev)
    return;
  free(ev->ptr), free(ev->idx), free(ev->val);
  memset(ev, 0, sizeof *ev);
}

static int events_reserve(slk_events *ev, size_t R, size_t nnz)
{
  if (R + 1 > ev->cap_rows) {
    size_t *p = realloc(ev->ptr, (R + 1) * sizeof *p);
    if (!p)
      return sl_error(SL_ENOMEM, "event list: out of memory for %zu rows", R);
    ev->ptr = p;
    ev->cap_rows = R + 1;
  }
  if (nnz > ev->cap_nnz) {
    size_t cap = nnz + nnz / 4 + 64;
    uint32_t *i = realloc(ev->idx, cap * sizeof *i);
    if (i)
      ev->idx = i;
    float *v = realloc(ev->val, cap * sizeof *v);
    if (v)
      ev->val = v;
    if (!i || !v)
      return sl_error(SL_ENOMEM, "event list: out of memory for %zu events", nnz);
    ev->cap_nnz = cap;
  }
  return SL_OK;
}

/* Count the nonzeros of one row; -1 if a value is NaN or Inf. The bit test
 * looks at 16 values at once, so that the mostly-zero rows are skimmed. */
static long row_count(const float *x, size_t K)
{
  long n = 0;
  for (size_t k0 = 0; k0 < K; k0 += 16) {
    const size_t k1 = k0 + 16 < K ? k0 + 16 : K;
    uint32_t any = 0, bad = 0;
    for (size_t k = k0; k < k1; k++) {
      uint32_t u;
      memcpy(&u, x + k, sizeof u);
      u &= 0x7fffffffu;         /* |x|: -0.0 counts as zero */
      any |= u;
      bad |= u >= 0x7f800000u; /* exponent all ones: Inf or NaN */
    }
    if (bad)
      return -1;
    if (any)
      for (size_t k = k0; k < k1; k++)
        n += x[k] != 0.0f;
  }
  return n;
}

static size_t row_fill(const float *x, size_t K, uint32_t *idx, float *val)
{
  size_t n = 0;
  for (size_t k = 0; k < K; k++)
    if (x[k] != 0.0f) {
      idx[n] = (uint32_t)k;
      val[n++] = x[k];
    }
  return n;
}

int slk_events_build(slk_events *ev, const float *x, size_t R, size_t K)
{
  if (K > UINT32_MAX)
    return sl_error(SL_EINVAL, "event list: %zu columns do not fit 32-bit indices", K);
  int rc = events_reserve(ev, R, 0);
  if (rc)
    return rc;
  /* pass 1: nonzeros per row (ptr[r + 1]), and the finiteness check */
  int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad)
  for (size_t r = 0; r < R; r++) {
    long n = row_count(x + r * K, K);
    bad |= n < 0;
    ev->ptr[r + 1] = n < 0 ? 0 : (size_t)n;
  }
  if (bad)
    return sl_error(SL_ENUMERIC, "spike raster contains NaN or Inf");
  ev->ptr[0] = 0;
  for (size_t r = 0; r < R; r++)
    ev->ptr[r + 1] += ev->ptr[r];
  if ((rc = events_reserve(ev, R, ev->ptr[R])))
    return rc;
  /* pass 2: only the rows that have events are read again */
#pragma omp parallel for schedule(static)
  for (size_t r = 0; r < R; r++)
    if (ev->ptr[r + 1] > ev->ptr[r])
      row_fill(x + r * K, K, ev->idx + ev->ptr[r], ev->val + ev->ptr[r]);
  ev->R = R;
  ev->K = K;
  ev->nnz = ev->ptr[R];
  return SL_OK;
}

/* y += sum over the events (in the given order) of val * W[k, :] */
SLK_HOT void slk_gather_add_row(float *restrict y, const uint32_t *idx, const float *val, size_t n,
                                const float *restrict w, size_t N)
{
  for (size_t e = 0; e < n; e++) {
    const float xv = val[e];
    const float *restrict wk = w + (size_t)idx[e] * N;
    for (size_t j = 0; j < N; j++)
      y[j] += xv * wk[j];
  }
}

void slk_gather_row(float *y, const uint32_t *idx, const float *val, size_t n, const float *w,
                    size_t N)
{
  memset(y, 0, N * sizeof *y);
  slk_gather_add_row(y, idx, val, n, w, N);
}

void slk_matmul_ev(float *y, const slk_events *ev, const float *w, size_t N)
{
#pragma omp parallel for schedule(static)
  for (size_t r = 0; r < ev->R; r++)
    slk_gather_row(y + r * N, ev->idx + ev->ptr[r], ev->val + ev->ptr[r],
                   ev->ptr[r + 1] - ev->ptr[r], w, N);
}

/* dW[k, j0:j1] += val * g[r, j0:j1] for every event (r, k), r ascending */
SLK_HOT static void scatter_cols(float *restrict dw, const slk_events *ev, const float *restrict g,
                                 size_t N, size_t j0, size_t j1)
{
  const size_t w = j1 - j0;
  for (size_t r = 0; r < ev->R; r++) {
    const float *restrict gr = g + r * N + j0;
    for (size_t e = ev->ptr[r]; e < ev->ptr[r + 1]; e++) {
      const float xv = ev->val[e];
      float *restrict dk = dw + (size_t)ev->idx[e] * N + j0;
      for (size_t j = 0; j < w; j++)
        dk[j] += xv * gr[j];
    }
  }
}

/* Column blocks of this many floats (one or a few cache lines per row). */
#define COL_BLOCK 64

void slk_matmul_tn_acc_ev(float *dw, const slk_events *ev, const float *g, size_t N)
{
  const size_t nb = (N + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static)
  for (size_t b = 0; b < nb; b++) {
    size_t j0 = b * COL_BLOCK, j1 = j0 + COL_BLOCK < N ? j0 + COL_BLOCK : N;
    scatter_cols(dw, ev, g, N, j0, j1);
  }
}
