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
#include "core/kernels.h"
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

/* List the nonzeros of one row x (K) into idx/val (room for K); returns
 * their number, or -1 if a value is NaN or Inf. A bit test over 16 values
 * at once skims the all-zero stretches that make up most of a raster. */
static long row_scan_plain(const float *x, size_t K, uint32_t *idx, float *val)
{
  long n = 0;
  for (size_t k0 = 0; k0 < K; k0 += 16) {
    const size_t k1 = k0 + 16 < K ? k0 + 16 : K;
    uint32_t any = 0, bad = 0;
    for (size_t k = k0; k < k1; k++) {
      uint32_t u;
      memcpy(&u, x + k, sizeof u);
      u &= 0x7fffffffu;        /* |x|: -0.0 counts as zero */
      any |= u;
      bad |= u >= 0x7f800000u; /* exponent all ones: Inf or NaN */
    }
    if (bad)
      return -1;
    if (any)
      for (size_t k = k0; k < k1; k++)
        if (x[k] != 0.0f) {
          idx[n] = (uint32_t)k;
          val[n++] = x[k];
        }
  }
  return n;
}

#ifdef SLK_X86_CLONES
#include <immintrin.h>
/* The same with AVX-512: one compare gives the 16-bit mask of nonzeros of
 * a block, whose set bits are then listed without a branch per value. */
__attribute__((target("avx512f"))) static long row_scan_avx512(const float *x, size_t K,
                                                                uint32_t *idx, float *val)
{
  const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
  long n = 0;
  size_t k0 = 0;
  for (; k0 + 16 <= K; k0 += 16) {
    const __m512i u = _mm512_and_si512(_mm512_loadu_si512(x + k0), abs_mask);
    unsigned nz = _mm512_test_epi32_mask(u, u);
    if (!nz)
      continue;
    if (_mm512_cmpge_epu32_mask(u, inf))
      return -1;
    for (; nz; nz &= nz - 1) {
      const unsigned b = (unsigned)__builtin_ctz(nz);
      idx[n] = (uint32_t)(k0 + b);
      val[n++] = x[k0 + b];
    }
  }
  if (k0 < K) {
    long tail = row_scan_plain(x + k0, K - k0, idx + n, val + n);
    if (tail < 0)
      return -1;
    for (long e = n; e < n + tail; e++)
      idx[e] += (uint32_t)k0;
    n += tail;
  }
  return n;
}

/* The column indices of the nonzeros of a row, branch-free: each block's
 * mask compresses a vector of its column numbers, stored whole. */
__attribute__((target("avx512f"))) static size_t row_list_avx512(const float *x, size_t K,
                                                                 uint32_t *idx)
{
  __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i sixteen = _mm512_set1_epi32(16);
  const __m512 zero = _mm512_setzero_ps();
  size_t n = 0;
  for (size_t k0 = 0; k0 < K; k0 += 16) {
    const __mmask16 in = K - k0 >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (K - k0)) - 1u);
    const __mmask16 nz = _mm512_mask_cmp_ps_mask(in, _mm512_maskz_loadu_ps(in, x + k0), zero,
                                                 _CMP_NEQ_UQ);
    _mm512_storeu_si512(idx + n, _mm512_maskz_compress_epi32(nz, lane));
    n += (size_t)__builtin_popcount(nz);
    lane = _mm512_add_epi32(lane, sixteen);
  }
  return n;
}
#endif

typedef long (*row_scan_fn)(const float *, size_t, uint32_t *, float *);

static row_scan_fn row_scan_pick(void)
{
#ifdef SLK_X86_CLONES
  if (__builtin_cpu_supports("avx512f"))
    return row_scan_avx512;
#endif
  return row_scan_plain;
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
  const row_scan_fn row_scan = row_scan_pick();
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

/* y += sum over the events (in the given order) of val * W[k, :].
 * Blocks of 64 columns are summed in four 16-float vectors (GCC vector
 * extensions: zmm registers in the AVX-512 clone, pairs of ymm or four xmm
 * in the others) that stay in registers while the events stream by; each
 * element still adds its terms in event order, so the bits do not change. */
typedef float v16sf __attribute__((vector_size(64)));

/* from_zero: y = the sum (the accumulators start at 0.0f, as the
 * reference's do), else y += the sum. */
static inline __attribute__((always_inline)) void gather(float *restrict y, const uint32_t *idx,
                                                         const float *val, size_t n,
                                                         const float *restrict w, size_t N,
                                                         int from_zero)
{
  size_t j0 = 0;
  for (; j0 + 64 <= N; j0 += 64) {
    v16sf a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, w0, w1, w2, w3;
    if (!from_zero) {
      memcpy(&a0, y + j0, sizeof a0);
      memcpy(&a1, y + j0 + 16, sizeof a1);
      memcpy(&a2, y + j0 + 32, sizeof a2);
      memcpy(&a3, y + j0 + 48, sizeof a3);
    }
    for (size_t e = 0; e < n; e++) {
      const float *restrict wk = w + (size_t)idx[e] * N + j0;
      const float xv = val[e];
      memcpy(&w0, wk, sizeof w0);
      memcpy(&w1, wk + 16, sizeof w1);
      memcpy(&w2, wk + 32, sizeof w2);
      memcpy(&w3, wk + 48, sizeof w3);
      a0 += xv * w0; /* the scalar is broadcast */
      a1 += xv * w1;
      a2 += xv * w2;
      a3 += xv * w3;
    }
    memcpy(y + j0, &a0, sizeof a0);
    memcpy(y + j0 + 16, &a1, sizeof a1);
    memcpy(y + j0 + 32, &a2, sizeof a2);
    memcpy(y + j0 + 48, &a3, sizeof a3);
  }
  if (from_zero)
    for (size_t j = j0; j < N; j++)
      y[j] = 0.0f;
  for (; j0 + 16 <= N; j0 += 16) { /* a block of 16 in one register */
    v16sf a0 = {0}, w0;
    if (!from_zero)
      memcpy(&a0, y + j0, sizeof a0);
    for (size_t e = 0; e < n; e++) {
      memcpy(&w0, w + (size_t)idx[e] * N + j0, sizeof w0);
      a0 += val[e] * w0;
    }
    memcpy(y + j0, &a0, sizeof a0);
  }
  for (size_t e = 0; e < n && j0 < N; e++) { /* the last columns */
    const float xv = val[e];
    const float *restrict wk = w + (size_t)idx[e] * N;
    for (size_t j = j0; j < N; j++)
      y[j] += xv * wk[j];
  }
}

SLK_HOT void slk_gather_add_row(float *restrict y, const uint32_t *idx, const float *val, size_t n,
                                const float *restrict w, size_t N)
{
  gather(y, idx, val, n, w, N, 0);
}

SLK_HOT void slk_gather_row(float *restrict y, const uint32_t *idx, const float *val, size_t n,
                            const float *restrict w, size_t N)
{
  gather(y, idx, val, n, w, N, 1);
}

void slk_matmul_ev(float *y, const slk_events *ev, const float *w, size_t N)
{
#pragma omp parallel for schedule(static)
  for (size_t r = 0; r < ev->R; r++)
    slk_gather_row(y + r * N, ev->idx + ev->ptr[r], ev->val + ev->ptr[r],
                   ev->ptr[r + 1] - ev->ptr[r], w, N);
}

/* y[i, :] += sum_n g[i, n] wt[n, :] for R = 4 rows (or 1) at once: each
 * 64-column slice of a row of wt is loaded once for all rows, and the
 * 4 x 4 accumulators are named variables so that they stay in registers.
 * Every element sums n in ascending order from its own start value, exactly
 * as one row at a time. */
#define LD(v, p) memcpy(&(v), (p), sizeof(v))
#define ST(p, v) memcpy((p), &(v), sizeof(v))

static inline __attribute__((always_inline)) void dense_rows4(float *restrict y,
                                                              const float *restrict g,
                                                              const float *restrict wt, size_t K,
                                                              size_t N, size_t j0)
{
  v16sf a[16], w0, w1, w2, w3;
  for (size_t i = 0; i < 4; i++) {
    LD(a[4 * i], y + i * K + j0);
    LD(a[4 * i + 1], y + i * K + j0 + 16);
    LD(a[4 * i + 2], y + i * K + j0 + 32);
    LD(a[4 * i + 3], y + i * K + j0 + 48);
  }
  v16sf a00 = a[0], a01 = a[1], a02 = a[2], a03 = a[3], a10 = a[4], a11 = a[5], a12 = a[6];
  v16sf a13 = a[7], a20 = a[8], a21 = a[9], a22 = a[10], a23 = a[11], a30 = a[12], a31 = a[13];
  v16sf a32 = a[14], a33 = a[15];
  for (size_t n = 0; n < N; n++) {
    const float *restrict wn = wt + n * K + j0;
    LD(w0, wn);
    LD(w1, wn + 16);
    LD(w2, wn + 32);
    LD(w3, wn + 48);
    const float x0 = g[n], x1 = g[N + n], x2 = g[2 * N + n], x3 = g[3 * N + n];
    a00 += x0 * w0, a01 += x0 * w1, a02 += x0 * w2, a03 += x0 * w3;
    a10 += x1 * w0, a11 += x1 * w1, a12 += x1 * w2, a13 += x1 * w3;
    a20 += x2 * w0, a21 += x2 * w1, a22 += x2 * w2, a23 += x2 * w3;
    a30 += x3 * w0, a31 += x3 * w1, a32 += x3 * w2, a33 += x3 * w3;
  }
  a[0] = a00, a[1] = a01, a[2] = a02, a[3] = a03, a[4] = a10, a[5] = a11, a[6] = a12;
  a[7] = a13, a[8] = a20, a[9] = a21, a[10] = a22, a[11] = a23, a[12] = a30, a[13] = a31;
  a[14] = a32, a[15] = a33;
  for (size_t i = 0; i < 4; i++) {
    ST(y + i * K + j0, a[4 * i]);
    ST(y + i * K + j0 + 16, a[4 * i + 1]);
    ST(y + i * K + j0 + 32, a[4 * i + 2]);
    ST(y + i * K + j0 + 48, a[4 * i + 3]);
  }
}

SLK_HOT void slk_dense_rows_add(float *y, const float *g, size_t R, const float *wt, size_t K,
                                size_t N)
{
  const size_t K64 = K / 64 * 64;
  size_t i0 = 0;
  for (; i0 + 4 <= R; i0 += 4)
    for (size_t j0 = 0; j0 < K64; j0 += 64)
      dense_rows4(y + i0 * K, g + i0 * N, wt, K, N, j0);
  for (size_t i = 0; i < R; i++) { /* rows left over, and every row's last columns */
    const size_t j_start = i < i0 ? K64 : 0;
    for (size_t j0 = j_start; j0 + 64 <= K; j0 += 64) {
      v16sf a0, a1, a2, a3, w0, w1, w2, w3;
      LD(a0, y + i * K + j0), LD(a1, y + i * K + j0 + 16);
      LD(a2, y + i * K + j0 + 32), LD(a3, y + i * K + j0 + 48);
      for (size_t n = 0; n < N; n++) {
        const float *restrict wn = wt + n * K + j0;
        const float x = g[i * N + n];
        LD(w0, wn), LD(w1, wn + 16), LD(w2, wn + 32), LD(w3, wn + 48);
        a0 += x * w0, a1 += x * w1, a2 += x * w2, a3 += x * w3;
      }
      ST(y + i * K + j0, a0), ST(y + i * K + j0 + 16, a1);
      ST(y + i * K + j0 + 32, a2), ST(y + i * K + j0 + 48, a3);
    }
    for (size_t n = 0; n < N && K64 < K; n++)
      for (size_t j = K64; j < K; j++)
        y[i * K + j] += g[i * N + n] * wt[n * K + j];
  }
}

/* dW[k, :] += val * g[r, :] for every event (r, k) with k0 <= k < k1, in
 * ascending r: the rows of dW in [k0, k1) belong to the caller's thread. */
SLK_HOT static void scatter_rows(float *restrict dw, const slk_events *ev, const float *restrict g,
                                 size_t N, size_t k0, size_t k1)
{
  for (size_t r = 0; r < ev->R; r++) {
    const float *restrict gr = g + r * N;
    for (size_t e = ev->ptr[r]; e < ev->ptr[r + 1]; e++) {
      const size_t k = ev->idx[e];
      if (k < k0 || k >= k1)
        continue;
      const float xv = ev->val[e];
      float *restrict dk = dw + k * N;
      for (size_t j = 0; j < N; j++)
        dk[j] += xv * gr[j];
    }
  }
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
#pragma omp parallel for schedule(static)
  for (size_t b = 0; b < threads; b++)
    scatter_rows(dw, ev, g, N, b * K / threads, (b + 1) * K / threads);
}

/* ------------------------------------------------------------ public event lists */

int slk_row_events(const float *x, size_t K, uint32_t *idx, float *val)
{
  return (int)row_scan_pick()(x, K, idx, val);
}

static size_t row_list_plain(const float *x, size_t K, uint32_t *idx)
{
  size_t n = 0;
  for (size_t k = 0; k < K; k++) { /* always store, advance on a nonzero */
    idx[n] = (uint32_t)k;
    n += x[k] != 0.0f;
  }
  return n;
}

size_t slk_row_list(const float *x, size_t K, uint32_t *idx)
{
#ifdef SLK_X86_CLONES
  if (__builtin_cpu_supports("avx512f"))
    return row_list_avx512(x, K, idx);
#endif
  return row_list_plain(x, K, idx);
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
