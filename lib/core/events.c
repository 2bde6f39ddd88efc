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
 * split over blocks of rows of dW (each thread owns its rows: no atomics,
 * and the same bits for any thread count). The row kernels (listing a
 * row, gathers, the scatter) are in hot_body.h, one build per vector path.
 */
#include "config.h"
#include "core/kernels.h"
#include "core/paths.h"
#include "spikeloop/error.h"
#include "spikeloop/events.h"
#include "spikeloop/net.h"

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

/* One pass over x: each thread lists its rows (a contiguous block, static
 * schedule) into its own buffer, then copies them to their place once the
 * row counts are known. */
int slk_events_build(slk_events *ev, const float *x, size_t R, size_t K)
{
  if (K > UINT32_MAX)
    return sl_error(SL_EINVAL, "event list: %zu columns do not fit 32-bit indices", K);
  int rc = events_reserve(ev, R, 0);
  if (rc)
    return rc;
  long (*const row_scan)(const float *, size_t, uint32_t *, float *) = slk_path()->row_scan;
  int bad = 0, nomem = 0;
#pragma omp parallel
  {
    size_t cap = 4 * K + 1024, n = 0, first = SIZE_MAX;
    uint32_t *ti = malloc(cap * sizeof *ti);
    float *tv = malloc(cap * sizeof *tv);
    int ok = ti && tv;
#pragma omp for schedule(static)
    for (size_t r = 0; r < R; r++) {
      if (first == SIZE_MAX)
        first = r;
      if (ok && n + K > cap) { /* room for a full row */
        cap = 2 * cap + K;
        uint32_t *ni = realloc(ti, cap * sizeof *ti);
        if (ni)
          ti = ni;
        float *nv = realloc(tv, cap * sizeof *tv);
        if (nv)
          tv = nv;
        ok = ni && nv;
      }
      long c = ok ? row_scan(x + r * K, K, ti + n, tv + n) : 0;
      if (c < 0) {
#pragma omp atomic write
        bad = 1;
        c = 0;
      }
      ev->ptr[r + 1] = (size_t)c;
      n += (size_t)c;
    }
    if (!ok) {
#pragma omp atomic write
      nomem = 1;
    }
#pragma omp barrier
#pragma omp single
    {
      ev->ptr[0] = 0;
      for (size_t r = 0; r < R; r++)
        ev->ptr[r + 1] += ev->ptr[r];
      if (!bad && !nomem && events_reserve(ev, R, ev->ptr[R]))
        nomem = 1;
    }
    if (!bad && !nomem && n > 0) {
      memcpy(ev->idx + ev->ptr[first], ti, n * sizeof *ti);
      memcpy(ev->val + ev->ptr[first], tv, n * sizeof *tv);
    }
    free(ti);
    free(tv);
  }
  if (bad)
    return sl_error(SL_ENUMERIC, "spike raster contains NaN or Inf");
  if (nomem)
    return sl_error(SL_ENOMEM, "event list: out of memory for %zu rows", R);
  ev->R = R;
  ev->K = K;
  ev->nnz = ev->ptr[R];
  return SL_OK;
}

/* The row kernels run on the active vector path (core/paths.h, hot_body.h). */
void slk_gather_add_row(float *y, const uint32_t *idx, const float *val, size_t n, const float *w,
                        size_t N)
{
  slk_path()->gather_add_row(y, idx, val, n, w, N);
}

void slk_gather_row(float *y, const uint32_t *idx, const float *val, size_t n, const float *w,
                    size_t N)
{
  slk_path()->gather_row(y, idx, val, n, w, N);
}

void slk_dense_rows_add(float *y, const float *g, size_t R, const float *wt, size_t K, size_t N)
{
  slk_path()->dense_rows_add(y, g, R, wt, K, N);
}

void slk_matmul_ev(float *y, const slk_events *ev, const float *w, size_t N)
{
#pragma omp parallel for schedule(static)
  for (size_t r = 0; r < ev->R; r++)
    slk_gather_row(y + r * N, ev->idx + ev->ptr[r], ev->val + ev->ptr[r],
                   ev->ptr[r + 1] - ev->ptr[r], w, N);
}

/* The rows of dW are split into one contiguous range per thread; each
 * thread walks the whole event list and takes the events of its rows, with
 * the full row width per event. perf on W1's dW_in: the cost is per event
 * taken (64-column blocks cost 23 ms of CPU per training step, 128 19.7,
 * full rows 18.4 on one thread), and splitting by columns instead made
 * every thread take every event (2 threads gave no gain). Each element
 * still adds its events in ascending r: the same bits for any thread
 * count. */
void slk_matmul_tn_acc_ev(float *dw, const slk_events *ev, const float *g, size_t N)
{
  const size_t K = ev->K;
  size_t threads = 1;
#ifdef _OPENMP
  threads = (size_t)omp_get_max_threads();
#endif
  if (threads > K)
    threads = K;
  const slk_paths *path = slk_path();
#pragma omp parallel for schedule(static)
  for (size_t b = 0; b < threads; b++)
    path->scatter_rows(dw, ev, g, N, b * K / threads, (b + 1) * K / threads);
}

/* ------------------------------------------------------------ public event lists */

int slk_row_events(const float *x, size_t K, uint32_t *idx, float *val)
{
  return (int)slk_path()->row_scan(x, K, idx, val);
}

size_t slk_row_list(const float *x, size_t K, uint32_t *idx)
{
  return slk_path()->row_list(x, K, idx);
}

int slk_events_from_rows(slk_events *ev, size_t R, size_t K, const uint32_t *rows,
                         const uint32_t *count)
{
  size_t nnz = 0;
  for (size_t r = 0; r < R; r++)
    nnz += count[r];
  int rc = events_reserve(ev, R, nnz);
  if (rc)
    return rc;
  ev->ptr[0] = 0;
  for (size_t r = 0; r < R; r++)
    ev->ptr[r + 1] = ev->ptr[r] + count[r];
  const size_t stride = K + SLK_ROW_PAD;
#pragma omp parallel for schedule(static)
  for (size_t r = 0; r < R; r++) {
    const uint32_t *src = rows + r * stride;
    uint32_t *idx = ev->idx + ev->ptr[r];
    float *val = ev->val + ev->ptr[r];
    for (size_t e = 0; e < count[r]; e++) {
      idx[e] = src[e];
      val[e] = 1.0f;
    }
  }
  ev->R = R;
  ev->K = K;
  ev->nnz = nnz;
  return SL_OK;
}

static int spikes_new(sl_spikes **out, size_t T, size_t B, size_t n)
{
  if (!out)
    return sl_error(SL_EINVAL, "spike list: NULL output");
  *out = NULL;
  if (T == 0 || B == 0 || n == 0)
    return sl_error(SL_EINVAL, "spike list: T = %zu, B = %zu and n = %zu must be positive", T,
                    B, n);
  sl_spikes *sp = calloc(1, sizeof *sp);
  if (!sp)
    return sl_error(SL_ENOMEM, "spike list: out of memory");
  sp->T = T;
  sp->B = B;
  *out = sp;
  return SL_OK;
}

int sl_spikes_from_dense(sl_spikes **out, const float *x, size_t T, size_t B, size_t n)
{
  int rc = x ? spikes_new(out, T, B, n) : sl_error(SL_EINVAL, "spike list: NULL raster");
  if (rc)
    return rc;
  if ((rc = slk_events_build(&(*out)->ev, x, T * B, n))) {
    sl_spikes_free(*out);
    *out = NULL;
  }
  return rc;
}

int sl_spikes_from_u8(sl_spikes **out, const uint8_t *x, size_t T, size_t B, size_t n)
{
  int rc = x ? spikes_new(out, T, B, n) : sl_error(SL_EINVAL, "spike list: NULL raster");
  if (rc)
    return rc;
  slk_events *ev = &(*out)->ev;
  const size_t R = T * B;
  size_t nnz = 0;
  for (size_t i = 0; i < R * n; i++)
    nnz += x[i] != 0;
  if (n > UINT32_MAX)
    rc = sl_error(SL_EINVAL, "spike list: %zu columns do not fit 32-bit indices", n);
  else
    rc = events_reserve(ev, R, nnz);
  if (rc) {
    sl_spikes_free(*out);
    *out = NULL;
    return rc;
  }
  size_t e = 0;
  ev->ptr[0] = 0;
  for (size_t r = 0; r < R; r++) {
    for (size_t k = 0; k < n; k++)
      if (x[r * n + k]) {
        ev->idx[e] = (uint32_t)k;
        ev->val[e++] = (float)x[r * n + k];
      }
    ev->ptr[r + 1] = e;
  }
  ev->R = R;
  ev->K = n;
  ev->nnz = e;
  return SL_OK;
}

void sl_spikes_free(sl_spikes *sp)
{
  if (!sp)
    return;
  slk_events_free(&sp->ev);
  free(sp);
}

size_t sl_spikes_count(const sl_spikes *sp) { return sp ? sp->ev.nnz : 0; }

int sl_spikes_shape(const sl_spikes *sp, size_t *T, size_t *B, size_t *n)
{
  if (!sp)
    return sl_error(SL_EINVAL, "spike list is NULL");
  if (T)
    *T = sp->T;
  if (B)
    *B = sp->B;
  if (n)
    *n = sp->ev.K;
  return SL_OK;
}
