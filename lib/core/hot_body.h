/* hot_body.h (internal) -- the hot row kernels, written once and compiled
 * once per vector path (lib/core/paths.h): included by hot_avx512.c,
 * hot_avx2.c and hot_baseline.c, each of which sets before including it
 *
 *   SLK_PATHS_TABLE   the name of the table it defines (slk_paths_avx2, ...)
 *   SLK_VEC           floats per vector register (16, 8, 4)
 *   SLK_GATHER_VECS   registers of accumulators per column block of a gather
 *   SLK_DENSE_VECS    registers per row of the 4-row dense block
 *   SLK_ROWS_AVX512 / SLK_ROWS_AVX2 / SLK_ROWS_SSE2   which intrinsics list
 *                     a row's nonzeros (none: plain C)
 *
 * (after including <string.h> and the intrinsics) and compiles it under its own `#pragma GCC target`. The register blocks
 * are sized so that the accumulators fit the path's register file (32 zmm,
 * 16 ymm, 16 xmm): a block sized for 512-bit registers spills on the others.
 * Every kernel keeps the order of each element's sum of the reference
 * loops, so the three paths give the same bits.
 */
/* vectors are passed between inlined helpers only: no ABI is involved */
#pragma GCC diagnostic ignored "-Wpsabi"

SLK_VECTORIZE

typedef float vf __attribute__((vector_size(SLK_VEC * sizeof(float))));

#define LD(v, p) memcpy(&(v), (p), sizeof(v))
#define ST(p, v) memcpy((p), &(v), sizeof(v))
#define GCOLS (SLK_GATHER_VECS * SLK_VEC) /* columns of a gather block */
#define DCOLS (SLK_DENSE_VECS * SLK_VEC)  /* columns of a dense block */

/* ------------------------------------------------------------ LIF / LI rows */

/* The branch-free row step (lif_row.h): the selects compute both sides,
 * which costs nothing next to a mispredicted branch per neuron and lets
 * the loop run in vector registers. Every array is restrict (the state is
 * updated in place) and every load unconditional, so that GCC can
 * if-convert and vectorise the loop. */
static inline __attribute__((always_inline)) void
lif_row_value(const sl_neurons *restrict p, const slk_decay *restrict d, size_t N,
              const float *restrict h, const float *restrict i_prev, float *restrict i_out,
              float *restrict vp, int32_t *restrict left, float *restrict v, float *restrict s,
              int to_value, size_t n0)
{
  const float *restrict a_s = d->a_syn, *restrict a_m = d->a_mem, *restrict k = d->k_in;
  const float *restrict gain = p->gain, *restrict v_leak = p->v_leak, *restrict v_th = p->v_th;
  const float *restrict v_reset = p->v_reset;
  const int32_t *restrict refrac = p->refrac;
  for (size_t n = n0; n < N; n++) {
    const float cur = a_s[n] * i_prev[n] + gain[n] * h[n];                  /* I[t] */
    const float vm = v_leak[n] + a_m[n] * (vp[n] - v_leak[n]) + k[n] * cur; /* V[t] */
    const float sv = vm - v_th[n] > 0.0f ? 1.0f : 0.0f;                     /* S[t] = H(V - v_th) */
    const float vr = v_reset[n];
    const float vpost = to_value ? vm * (1.0f - sv) + vr * sv : vm - sv * (v_th[n] - vr);
    const int32_t lf = left[n], rf = refrac[n];
    const int cl = lf > 0; /* refractory: V = v_reset, no spike */
    i_out[n] = cur;
    v[n] = cl ? vr : vm;
    s[n] = cl ? 0.0f : sv;
    vp[n] = cl ? vr : vpost;
    left[n] = cl ? lf - 1 : (sv != 0.0f ? rf : 0);
  }
}

#ifdef SLK_ROWS_SSE2
/* GCC does not if-convert the refractory counter's select for SSE2 (it
 * does for AVX2 and AVX-512), which left the whole row scalar: the same
 * operations in the same order with SSE2 intrinsics, selects as bit masks,
 * four neurons at a time; returns how many it did. */
static inline __attribute__((always_inline)) size_t
lif_row_sse2(const sl_neurons *restrict p, const slk_decay *restrict d, size_t N,
             const float *restrict h, const float *restrict i_prev, float *restrict i_out,
             float *restrict vp, int32_t *restrict left, float *restrict v, float *restrict s,
             int to_value)
{
  const __m128 one = _mm_set1_ps(1.0f), zero = _mm_setzero_ps();
  const __m128i ione = _mm_set1_epi32(1), izero = _mm_setzero_si128();
  size_t n = 0;
  for (; n + 4 <= N; n += 4) {
    const __m128 cur = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(d->a_syn + n), _mm_loadu_ps(i_prev + n)),
                                  _mm_mul_ps(_mm_loadu_ps(p->gain + n), _mm_loadu_ps(h + n)));
    const __m128 vl = _mm_loadu_ps(p->v_leak + n), vt = _mm_loadu_ps(p->v_th + n);
    const __m128 vr = _mm_loadu_ps(p->v_reset + n), vpn = _mm_loadu_ps(vp + n);
    const __m128 vm = _mm_add_ps(_mm_add_ps(vl, _mm_mul_ps(_mm_loadu_ps(d->a_mem + n),
                                                           _mm_sub_ps(vpn, vl))),
                                 _mm_mul_ps(_mm_loadu_ps(d->k_in + n), cur));
    const __m128 fire = _mm_cmpgt_ps(_mm_sub_ps(vm, vt), zero);
    const __m128 sv = _mm_and_ps(fire, one);
    const __m128 vpost = to_value ? _mm_add_ps(_mm_mul_ps(vm, _mm_sub_ps(one, sv)), _mm_mul_ps(vr, sv))
                                  : _mm_sub_ps(vm, _mm_mul_ps(sv, _mm_sub_ps(vt, vr)));
    const __m128i lf = _mm_loadu_si128((const __m128i *)(left + n));
    const __m128i rf = _mm_loadu_si128((const __m128i *)(p->refrac + n));
    const __m128i clm = _mm_cmpgt_epi32(lf, izero);
    const __m128 cl = _mm_castsi128_ps(clm);
    _mm_storeu_ps(i_out + n, cur);
    _mm_storeu_ps(v + n, _mm_or_ps(_mm_and_ps(cl, vr), _mm_andnot_ps(cl, vm)));
    _mm_storeu_ps(s + n, _mm_andnot_ps(cl, sv));
    _mm_storeu_ps(vp + n, _mm_or_ps(_mm_and_ps(cl, vr), _mm_andnot_ps(cl, vpost)));
    const __m128i next = _mm_and_si128(_mm_castps_si128(fire), rf);
    _mm_storeu_si128((__m128i *)(left + n),
                     _mm_or_si128(_mm_and_si128(clm, _mm_sub_epi32(lf, ione)),
                                  _mm_andnot_si128(clm, next)));
  }
  return n;
}
#endif

static void lif_row(const sl_neurons *p, const slk_decay *d, int reset, size_t N, const float *h,
                    const float *i_prev, float *i_out, float *vp, int32_t *left, float *v,
                    float *s, uint8_t *clamp)
{
  for (size_t n = 0; n < N; n++) /* a narrow store of its own: keeps the main loop vectorisable */
    clamp[n] = left[n] > 0;
  const int to_value = reset == SL_RESET_TO_VALUE;
  size_t n0 = 0;
#ifdef SLK_ROWS_SSE2
  if (to_value)
    n0 = lif_row_sse2(p, d, N, h, i_prev, i_out, vp, left, v, s, 1);
  else
    n0 = lif_row_sse2(p, d, N, h, i_prev, i_out, vp, left, v, s, 0);
#endif
  if (to_value)
    lif_row_value(p, d, N, h, i_prev, i_out, vp, left, v, s, 1, n0);
  else
    lif_row_value(p, d, N, h, i_prev, i_out, vp, left, v, s, 0, n0);
}

static void li_row(const sl_neurons *p, const slk_decay *d, size_t N, const float *h,
                   float *restrict i, float *restrict v)
{
  for (size_t n = 0; n < N; n++) {
    float cur = d->a_syn[n] * i[n] + p->gain[n] * h[n];
    float vm = p->v_leak[n] + d->a_mem[n] * (v[n] - p->v_leak[n]) + d->k_in[n] * cur;
    i[n] = cur;
    v[n] = vm;
  }
}

/* One reverse step of one sample's row for the common case -- Heaviside
 * spikes, the SuperSpike surrogate 1 / (beta |V - v_th| + 1)^2, no tau
 * gradients -- written branch-free over restrict arrays; the operations
 * are those of the general loop of lif.c (backward_general), in the same
 * order. clamp, nclamp: the clamp rows of steps t and t+1 (ones after the
 * last step) as int32, which unlike uint8 lets GCC vectorise the selects;
 * ext: gv_ext row if has_ext (any valid row otherwise); gvn, gin: gV, gI of
 * step t+1 in, of step t out. */
static inline __attribute__((always_inline)) void bwd_row_superspike(
    const sl_neurons *restrict p, const slk_decay *restrict d, size_t N, float beta,
    int to_value, int detach, int has_ext, const int32_t *restrict clamp,
    const int32_t *restrict nclamp, const float *restrict gs, const float *restrict v,
    const float *restrict s, const float *restrict ext, float *restrict gh, float *restrict gvn,
    float *restrict gin)
{
  const float *restrict a_m = d->a_mem, *restrict a_s = d->a_syn, *restrict k = d->k_in;
  const float *restrict gain = p->gain, *restrict v_th = p->v_th, *restrict v_reset = p->v_reset;
  for (size_t n = 0; n < N; n++) {
    const float am = a_m[n], gn = gvn[n], kn = k[n]; /* loaded unconditionally */
    const float gvp = nclamp[n] ? 0.0f : am * gn;    /* gVp[t] */
    const float x = v[n] - v_th[n], sn = s[n], vr = v_reset[n], vt = v_th[n];
    float gsv = gs[n];
    if (!detach)
      gsv += to_value ? gvp * (vr - v[n]) : -gvp * (vt - vr);
    const float dvp_dv = to_value ? (sn != 0.0f ? 0.0f : 1.0f) : 1.0f;
    const float dd = beta * fabsf(x) + 1.0f;
    float gv = gvp * dvp_dv + gsv * (1.0f / (dd * dd)); /* gV[t] */
    if (has_ext)
      gv += ext[n];
    const int cl = clamp[n];
    gv = cl ? 0.0f : gv;
    const float gi = a_s[n] * gin[n] + (cl ? 0.0f : kn * gv); /* gI[t] */
    gh[n] = gain[n] * gi;
    gvn[n] = gv;
    gin[n] = gi;
  }
}

static void lif_bwd_row(const sl_neurons *p, const slk_decay *d, size_t N, float beta,
                        int to_value, int detach, const int32_t *clamp, const int32_t *nclamp,
                        const float *gs, const float *v, const float *s, const float *ext,
                        float *gh, float *gvn, float *gin)
{
  /* constant flags, so that each variant is its own simple loop */
  if (to_value && detach && !ext)
    bwd_row_superspike(p, d, N, beta, 1, 1, 0, clamp, nclamp, gs, v, s, gs, gh, gvn, gin);
  else if (to_value && detach)
    bwd_row_superspike(p, d, N, beta, 1, 1, 1, clamp, nclamp, gs, v, s, ext, gh, gvn, gin);
  else
    bwd_row_superspike(p, d, N, beta, to_value, detach, ext != NULL, clamp, nclamp, gs, v, s,
                       ext ? ext : gs, gh, gvn, gin);
}

/* ------------------------------------------------------------ gathers */

/* y += sum over the events (in the given order) of val * W[k, :].
 * Blocks of GCOLS columns are summed in SLK_GATHER_VECS registers that stay
 * put while the events stream by; each element still adds its terms in
 * event order, so the bits do not change. from_zero: y = the sum (the
 * accumulators start at 0.0f, as the reference's do). */
static inline __attribute__((always_inline)) void gather(float *restrict y, const uint32_t *idx,
                                                         const float *val, size_t n,
                                                         const float *restrict w, size_t N,
                                                         int from_zero)
{
  size_t j0 = 0;
  for (; j0 + GCOLS <= N; j0 += GCOLS) {
    vf a[SLK_GATHER_VECS];
#pragma GCC unroll 16
    for (int q = 0; q < SLK_GATHER_VECS; q++) {
      if (from_zero)
        a[q] = (vf){0};
      else
        LD(a[q], y + j0 + q * SLK_VEC);
    }
    for (size_t e = 0; e < n; e++) {
      const float *restrict wk = w + (size_t)idx[e] * N + j0;
      const float xv = val[e];
#pragma GCC unroll 16
      for (int q = 0; q < SLK_GATHER_VECS; q++) {
        vf wq;
        LD(wq, wk + q * SLK_VEC);
        a[q] += xv * wq; /* the scalar is broadcast */
      }
    }
#pragma GCC unroll 16
    for (int q = 0; q < SLK_GATHER_VECS; q++)
      ST(y + j0 + q * SLK_VEC, a[q]);
  }
  for (; j0 + SLK_VEC <= N; j0 += SLK_VEC) { /* whole registers left */
    vf a = {0}, wq;
    if (!from_zero)
      LD(a, y + j0);
    for (size_t e = 0; e < n; e++) {
      LD(wq, w + (size_t)idx[e] * N + j0);
      a += val[e] * wq;
    }
    ST(y + j0, a);
  }
  if (from_zero)
    for (size_t j = j0; j < N; j++)
      y[j] = 0.0f;
  for (size_t e = 0; e < n && j0 < N; e++) { /* the last columns */
    const float xv = val[e];
    const float *restrict wk = w + (size_t)idx[e] * N;
    for (size_t j = j0; j < N; j++)
      y[j] += xv * wk[j];
  }
}

static void gather_add_row(float *restrict y, const uint32_t *idx, const float *val, size_t n,
                           const float *restrict w, size_t N)
{
  gather(y, idx, val, n, w, N, 0);
}

static void gather_row(float *restrict y, const uint32_t *idx, const float *val, size_t n,
                       const float *restrict w, size_t N)
{
  gather(y, idx, val, n, w, N, 1);
}

/* ------------------------------------------------------------ dense rows */

/* y[i, j0 .. j0+DCOLS) += sum_n g[i, n] wt[n, ...] for `rows` rows (4 or
 * 1) at once: each slice of a row of wt is loaded once for all rows.
 * Every element sums n in ascending order from its own start value,
 * exactly as one row at a time. */
static inline __attribute__((always_inline)) void dense_block(float *restrict y,
                                                              const float *restrict g,
                                                              const float *restrict wt, size_t K,
                                                              size_t N, size_t j0, int rows)
{
  vf a[4][SLK_DENSE_VECS];
#pragma GCC unroll 4
  for (int i = 0; i < rows; i++)
#pragma GCC unroll 8
    for (int q = 0; q < SLK_DENSE_VECS; q++)
      LD(a[i][q], y + i * K + j0 + q * SLK_VEC);
  for (size_t n = 0; n < N; n++) {
    const float *restrict wn = wt + n * K + j0;
    vf wq[SLK_DENSE_VECS];
#pragma GCC unroll 8
    for (int q = 0; q < SLK_DENSE_VECS; q++)
      LD(wq[q], wn + q * SLK_VEC);
#pragma GCC unroll 4
    for (int i = 0; i < rows; i++) {
      const float x = g[i * N + n];
#pragma GCC unroll 8
      for (int q = 0; q < SLK_DENSE_VECS; q++)
        a[i][q] += x * wq[q];
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < rows; i++)
#pragma GCC unroll 8
    for (int q = 0; q < SLK_DENSE_VECS; q++)
      ST(y + i * K + j0 + q * SLK_VEC, a[i][q]);
}

static void dense_rows_add(float *y, const float *g, size_t R, const float *wt, size_t K,
                           size_t N)
{
  const size_t Kb = K / DCOLS * DCOLS;
  size_t i0 = 0;
  for (; i0 + 4 <= R; i0 += 4)
    for (size_t j0 = 0; j0 < Kb; j0 += DCOLS)
      dense_block(y + i0 * K, g + i0 * N, wt, K, N, j0, 4);
  for (size_t i = i0; i < R; i++) /* rows left over */
    for (size_t j0 = 0; j0 < Kb; j0 += DCOLS)
      dense_block(y + i * K, g + i * N, wt, K, N, j0, 1);
  for (size_t i = 0; i < R && Kb < K; i++) /* every row's last columns */
    for (size_t n = 0; n < N; n++)
      for (size_t j = Kb; j < K; j++)
        y[i * K + j] += g[i * N + n] * wt[n * K + j];
}

/* ------------------------------------------------------------ weight gradient */

static void scatter_rows(float *restrict dw, const slk_events *ev, const float *restrict g,
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

/* ------------------------------------------------------------ listing a row */

/* The nonzeros of x[k0 .. k1) one by one (the tails of the vector loops). */
static size_t list_plain(const float *x, size_t k0, size_t k1, uint32_t *idx, float *val)
{
  size_t n = 0;
  for (size_t k = k0; k < k1; k++) { /* always store, advance on a nonzero */
    idx[n] = (uint32_t)k;
    if (val)
      val[n] = x[k];
    n += x[k] != 0.0f;
  }
  return n;
}

/* Append the columns k0 + (set bits of mask) to idx (and their values). */
static inline __attribute__((always_inline)) size_t list_bits(uint32_t mask, size_t k0,
                                                              const float *x, uint32_t *idx,
                                                              float *val)
{
  size_t n = 0;
  for (; mask; mask &= mask - 1) {
    const size_t k = k0 + (size_t)__builtin_ctz(mask);
    idx[n] = (uint32_t)k;
    if (val)
      val[n] = x[k];
    n++;
  }
  return n;
}

/* slk_row_events: the nonzeros of x (K) with their values, ascending, or -1
 * if a value is NaN or Inf. slk_row_list: the columns only; a NaN counts as
 * nonzero. Each vector block gives a bit mask of its nonzeros (|x| != 0,
 * so -0.0 is zero), whose set bits are listed: rasters are mostly zeros. */
#if defined(SLK_ROWS_AVX512)
static long row_scan(const float *x, size_t K, uint32_t *idx, float *val)
{
  const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
  size_t n = 0, k0 = 0;
  for (; k0 + 16 <= K; k0 += 16) {
    const __m512i u = _mm512_and_si512(_mm512_loadu_si512(x + k0), abs_mask);
    const unsigned nz = _mm512_test_epi32_mask(u, u);
    if (!nz)
      continue;
    if (_mm512_cmpge_epu32_mask(u, inf))
      return -1;
    n += list_bits(nz, k0, x, idx + n, val + n);
  }
  for (size_t k = k0; k < K; k++)
    if (!isfinite(x[k]))
      return -1;
  return (long)(n + list_plain(x, k0, K, idx + n, val + n));
}

/* branch-free: each block's mask compresses a vector of its column
 * numbers, stored whole (idx has SLK_ROW_PAD spare entries) */
static size_t row_list(const float *x, size_t K, uint32_t *idx)
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
#elif defined(SLK_ROWS_AVX2)
static long row_scan(const float *x, size_t K, uint32_t *idx, float *val)
{
  const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff);
  const __m256i max_finite = _mm256_set1_epi32(0x7f7fffff), zero = _mm256_setzero_si256();
  size_t n = 0, k0 = 0;
  for (; k0 + 16 <= K; k0 += 16) { /* 16 at a time: one test skims two registers */
    const __m256i u0 = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(x + k0)), abs_mask);
    const __m256i u1 =
        _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(x + k0 + 8)), abs_mask);
    if (_mm256_testz_si256(_mm256_or_si256(u0, u1), _mm256_or_si256(u0, u1)))
      continue;
    /* |x| as an int is above the largest finite float: Inf or NaN */
    const __m256i bad = _mm256_or_si256(_mm256_cmpgt_epi32(u0, max_finite),
                                        _mm256_cmpgt_epi32(u1, max_finite));
    if (!_mm256_testz_si256(bad, bad))
      return -1;
    const uint32_t z = (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(u0, zero))) |
                       (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(u1, zero))) << 8;
    n += list_bits(~z & 0xffffu, k0, x, idx + n, val + n);
  }
  for (size_t k = k0; k < K; k++)
    if (!isfinite(x[k]))
      return -1;
  return (long)(n + list_plain(x, k0, K, idx + n, val + n));
}

/* Branch-free, as the AVX-512 row_list: each block of 8 gives an 8-bit
 * mask, whose entry of a 256-entry table holds the positions of its set
 * bits packed in 4-bit fields (low 32 bits) and their count (high bits);
 * the fields are spread into lanes, offset by the block's first column
 * and stored whole (idx has SLK_ROW_PAD spare entries). A bit-by-bit list
 * mispredicts a branch at every spike. */
#define POP8(m) (((m) & 1) + ((m) >> 1 & 1) + ((m) >> 2 & 1) + ((m) >> 3 & 1) + \
                 ((m) >> 4 & 1) + ((m) >> 5 & 1) + ((m) >> 6 & 1) + ((m) >> 7 & 1))
#define FIELD(m, b) ((m) >> (b) & 1 ? (uint64_t)(b) << (4 * POP8((m) & ((1u << (b)) - 1u))) : 0u)
#define PACK(m) (FIELD(m, 0) | FIELD(m, 1) | FIELD(m, 2) | FIELD(m, 3) | FIELD(m, 4) | \
                 FIELD(m, 5) | FIELD(m, 6) | FIELD(m, 7) | (uint64_t)POP8(m) << 32)
#define PACK4(m) PACK(m), PACK(m + 1), PACK(m + 2), PACK(m + 3)
#define PACK16(m) PACK4(m), PACK4(m + 4), PACK4(m + 8), PACK4(m + 12)
#define PACK64(m) PACK16(m), PACK16(m + 16), PACK16(m + 32), PACK16(m + 48)
static const uint64_t list8[256] = {PACK64(0u), PACK64(64u), PACK64(128u), PACK64(192u)};

static size_t row_list(const float *x, size_t K, uint32_t *idx)
{
  const __m256 zero = _mm256_setzero_ps();
  const __m256i shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
  const __m256i nibble = _mm256_set1_epi32(15);
  size_t n = 0, k0 = 0;
  for (; k0 + 8 <= K; k0 += 8) {
    const unsigned m =
        (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + k0), zero, _CMP_NEQ_UQ));
    const uint64_t e = list8[m];
    const __m256i lanes = _mm256_and_si256(
        _mm256_srlv_epi32(_mm256_set1_epi32((int)(uint32_t)e), shifts), nibble);
    _mm256_storeu_si256((__m256i *)(idx + n),
                        _mm256_add_epi32(lanes, _mm256_set1_epi32((int)k0)));
    n += (size_t)(e >> 32);
  }
  return n + list_plain(x, k0, K, idx + n, NULL);
}
#elif defined(SLK_ROWS_SSE2)
static long row_scan(const float *x, size_t K, uint32_t *idx, float *val)
{
  const __m128i abs_mask = _mm_set1_epi32(0x7fffffff), max_finite = _mm_set1_epi32(0x7f7fffff);
  const __m128i zero = _mm_setzero_si128();
  size_t n = 0, k0 = 0;
  for (; k0 + 16 <= K; k0 += 16) {
    __m128i u[4], any = zero, bad = zero;
    for (int q = 0; q < 4; q++) {
      u[q] = _mm_and_si128(_mm_loadu_si128((const __m128i *)(x + k0 + 4 * q)), abs_mask);
      any = _mm_or_si128(any, u[q]);
      bad = _mm_or_si128(bad, _mm_cmpgt_epi32(u[q], max_finite));
    }
    if (_mm_movemask_epi8(_mm_cmpeq_epi32(any, zero)) == 0xffff)
      continue;
    if (_mm_movemask_epi8(bad))
      return -1;
    uint32_t z = 0;
    for (int q = 0; q < 4; q++)
      z |= (uint32_t)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(u[q], zero))) << (4 * q);
    n += list_bits(~z & 0xffffu, k0, x, idx + n, val + n);
  }
  for (size_t k = k0; k < K; k++)
    if (!isfinite(x[k]))
      return -1;
  return (long)(n + list_plain(x, k0, K, idx + n, val + n));
}

static size_t row_list(const float *x, size_t K, uint32_t *idx)
{
  const __m128 zero = _mm_setzero_ps();
  size_t n = 0, k0 = 0;
  for (; k0 + 16 <= K; k0 += 16) {
    uint32_t nz = 0;
    for (int q = 0; q < 4; q++) /* cmpneq is true for NaN */
      nz |= (uint32_t)_mm_movemask_ps(_mm_cmpneq_ps(_mm_loadu_ps(x + k0 + 4 * q), zero)) << (4 * q);
    n += list_bits(nz, k0, x, idx + n, NULL);
  }
  return n + list_plain(x, k0, K, idx + n, NULL);
}
#else
static long row_scan(const float *x, size_t K, uint32_t *idx, float *val)
{
  for (size_t k = 0; k < K; k++)
    if (!isfinite(x[k]))
      return -1;
  return (long)list_plain(x, 0, K, idx, val);
}

static size_t row_list(const float *x, size_t K, uint32_t *idx)
{
  return list_plain(x, 0, K, idx, NULL);
}
#endif

const slk_paths SLK_PATHS_TABLE = {lif_row,        li_row,         lif_bwd_row,
                                   gather_row,     gather_add_row, dense_rows_add,
                                   scatter_rows,   row_scan,       row_list};
