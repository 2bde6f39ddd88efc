/* test_cim.c -- the compute-in-memory crossbar (lib/cim.c, spikeloop/cim.h).
 *
 *   - impossible settings, matrices that do not fit, NaNs: codes and messages;
 *   - tiling: fewest tiles, split evenly;
 *   - with every non-ideality off, the tiled MVM equals the reference MVM
 *     and both equal the float product after level quantisation (8, 32,
 *     ternary, continuous levels);
 *   - DAC (level and bit-serial agree without ADC), ADC levels;
 *   - read noise: variance as modelled, fresh per read, independent of the
 *     thread count and of batch splitting; the fast normal approximation;
 *   - the noisy tile kernel of every vector path this CPU has (each forced
 *     in turn): the same noise as the plain reference, bit for bit on the
 *     FMA paths (avx2, avx512) and within the rounding bound of
 *     cim_internal.h on baseline; mean, variance and kurtosis of its draws;
 *     the whole noisy MVM on every path;
 *   - write-verify, open-loop programming noise, stuck-at faults, drift and
 *     its compensation, threshold-gated reprogramming;
 *   - counters and the energy estimate; ADC calibration.
 */
#include "config.h"
#include "spikeloop/cim.h"
#include "spikeloop/error.h"
#include "cim/cim_internal.h"
#include "base/rng.h"

#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "testutil.h"

static int contains(const char *h, const char *n) { return h && n && strstr(h, n) != NULL; }

static float *rand_matrix(size_t n, uint64_t seed, double lo, double hi)
{
  float *m = malloc(n * sizeof *m);
  sl_rng_state r;
  sl_rng_seed(&r, seed);
  for (size_t i = 0; i < n; i++)
    m[i] = (float)(lo + (hi - lo) * sl_rng_uniform(&r));
  return m;
}

static sl_cim_params ideal_params(unsigned levels)
{
  sl_cim_params p = sl_cim_params_default();
  p.levels = levels;
  p.prog_sd = 0.0;
  p.read_sd = 0.0;
  p.drift_nu = 0.0;
  p.dac_bits = 0;
  p.adc_bits = 0;
  return p;
}

static void test_bad_input(void)
{
  sl_cim *c = NULL;
  sl_cim_params p = sl_cim_params_default();
  p.levels = 1;
  CU_ASSERT_EQUAL(sl_cim_alloc(&c, 10, 10, &p), SL_EINVAL);
  CU_ASSERT(contains(sl_last_error(), "levels"));
  CU_ASSERT_PTR_NULL(c);
  p = sl_cim_params_default();
  p.g_min = -0.1;
  CU_ASSERT_EQUAL(sl_cim_alloc(&c, 10, 10, &p), SL_EINVAL);
  CU_ASSERT(contains(sl_last_error(), "g_min"));
  p = sl_cim_params_default();
  p.g_max = 0.05; /* below g_min */
  CU_ASSERT_EQUAL(sl_cim_alloc(&c, 10, 10, &p), SL_EINVAL);
  p = sl_cim_params_default();
  p.tile_rows = 2048;
  CU_ASSERT_EQUAL(sl_cim_alloc(&c, 10, 10, &p), SL_ERANGE);
  CU_ASSERT(contains(sl_last_error(), "tile_rows"));
  p = sl_cim_params_default();
  p.read_sd = NAN;
  CU_ASSERT_EQUAL(sl_cim_alloc(&c, 10, 10, &p), SL_EINVAL);
  CU_ASSERT(contains(sl_last_error(), "read_sd"));
  p = sl_cim_params_default();
  p.stuck_on_rate = 0.7;
  p.stuck_off_rate = 0.7;
  CU_ASSERT_EQUAL(sl_cim_alloc(&c, 10, 10, &p), SL_EINVAL);
  p = sl_cim_params_default();
  p.max_tiles = 8; /* Yao et al.'s chip: 784 x 256 needs 112 */
  CU_ASSERT_EQUAL(sl_cim_alloc(&c, 784, 256, &p), SL_ERANGE);
  CU_ASSERT(contains(sl_last_error(), "112 tiles"));
  p = sl_cim_params_default();
  CU_ASSERT_EQUAL(sl_cim_alloc(&c, 0, 10, &p), SL_ESHAPE);
  CU_ASSERT_EQUAL(sl_cim_alloc(&c, 20, 10, &p), SL_OK);
  float w[200], x[20], y[10];
  for (int i = 0; i < 200; i++)
    w[i] = 0.01f * (float)(i - 100);
  for (int i = 0; i < 20; i++)
    x[i] = 0.5f;
  CU_ASSERT_EQUAL(sl_cim_mvm(c, x, 1, y), SL_EINVAL); /* not programmed */
  CU_ASSERT(contains(sl_last_error(), "not programmed"));
  w[17] = NAN;
  CU_ASSERT_EQUAL(sl_cim_program(c, w), SL_ENUMERIC);
  CU_ASSERT(contains(sl_last_error(), "w[17]"));
  w[17] = 0.0f;
  CU_ASSERT_EQUAL(sl_cim_program(c, w), SL_OK);
  x[3] = INFINITY;
  CU_ASSERT_EQUAL(sl_cim_mvm(c, x, 1, y), SL_ENUMERIC);
  CU_ASSERT(contains(sl_last_error(), "x[3]"));
  CU_ASSERT_EQUAL(sl_cim_set_time(c, -1.0), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_cim_reprogram(c, w, -1.0, NULL), SL_EINVAL);
  sl_cim_free(c);
  sl_cim_free(NULL);
  /* the exact (sgemm) path looks at x only when y is not finite: the same
   * codes and messages, in the second of 3 vectors and past the first 256 */
  p = ideal_params(0);
  static float xb[3 * 300], wb[300 * 2], yb[3 * 2];
  for (int i = 0; i < 600; i++)
    wb[i] = 0.001f * (float)(i % 7);
  wb[2 * 271] = wb[2 * 272] = 1.0f;
  CU_ASSERT_EQUAL_FATAL(sl_cim_alloc(&c, 300, 2, &p), SL_OK);
  CU_ASSERT_EQUAL(sl_cim_program(c, wb), SL_OK);
  const float bad[2] = {NAN, -INFINITY};
  for (int k = 0; k < 2; k++) {
    for (int i = 0; i < 900; i++)
      xb[i] = 0.5f;
    xb[300 + 271] = bad[k];
    CU_ASSERT_EQUAL(sl_cim_mvm(c, xb, 3, yb), SL_ENUMERIC);
    CU_ASSERT(contains(sl_last_error(), "x[571]"));
  }
  sl_cim_counters k0;
  sl_cim_counters_get(c, &k0);
  CU_ASSERT_EQUAL(k0.mvms, 0); /* a refused call counts nothing */
  xb[571] = xb[572] = 3e38f; /* finite, the sum overflows: as before, no error */
  CU_ASSERT_EQUAL(sl_cim_mvm(c, xb, 3, yb), SL_OK);
  CU_ASSERT(isinf(yb[2]) && isfinite(yb[3]));
  sl_cim_free(c);
}

static void test_tiling(void)
{
  sl_cim_params p = sl_cim_params_default();
  sl_cim *c;
  size_t b, e;
  CU_ASSERT_EQUAL_FATAL(sl_cim_alloc(&c, 784, 256, &p), SL_OK);
  CU_ASSERT_EQUAL(sl_cim_row_tiles(c), 7);
  CU_ASSERT_EQUAL(sl_cim_col_tiles(c), 16);
  for (size_t k = 0; k < 7; k++) {
    sl_cim_row_tile_bounds(c, k, &b, &e);
    CU_ASSERT_EQUAL(b, 112 * k);
    CU_ASSERT_EQUAL(e, 112 * (k + 1));
  }
  sl_cim_free(c);
  CU_ASSERT_EQUAL_FATAL(sl_cim_alloc(&c, 301, 17, &p), SL_OK);
  CU_ASSERT_EQUAL(sl_cim_row_tiles(c), 3);
  sl_cim_row_tile_bounds(c, 0, &b, &e);
  CU_ASSERT_EQUAL(e - b, 101);
  sl_cim_row_tile_bounds(c, 2, &b, &e);
  CU_ASSERT_EQUAL(e - b, 100);
  CU_ASSERT_EQUAL(sl_cim_col_tiles(c), 2);
  sl_cim_col_tile_bounds(c, 1, &b, &e);
  CU_ASSERT_EQUAL(e - b, 8);
  sl_cim_free(c);
  p.tile_rows = p.tile_cols = 1024; /* the largest tile */
  CU_ASSERT_EQUAL_FATAL(sl_cim_alloc(&c, 1024, 1024, &p), SL_OK);
  CU_ASSERT_EQUAL(sl_cim_row_tiles(c) * sl_cim_col_tiles(c), 1);
  sl_cim_free(c);
}

/* Level quantisation as documented, computed independently. */
static float quantise(float w, double wmax, unsigned levels)
{
  double wn = w / wmax;
  if (levels < 2)
    return (float)(wn * wmax);
  double L = levels - 1;
  return (float)(copysign(rint(fabs(wn) * L) / L, wn) * wmax);
}

static void check_ideal(unsigned levels)
{
  const size_t n_in = 300, n_out = 50, B = 7;
  float *w = rand_matrix(n_in * n_out, 11 + levels, -0.8, 0.8);
  float *x = rand_matrix(B * n_in, 12, -1.0, 1.0);
  sl_cim_params p = ideal_params(levels);
  sl_cim *c;
  CU_ASSERT_EQUAL_FATAL(sl_cim_alloc(&c, n_in, n_out, &p), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_cim_program(c, w), SL_OK);
  float *y = malloc(B * n_out * sizeof *y), *yr = malloc(B * n_out * sizeof *y);
  float *yq = malloc(B * n_out * sizeof *y), *tgt = malloc(n_in * n_out * sizeof *tgt);
  CU_ASSERT_EQUAL(sl_cim_mvm(c, x, B, y), SL_OK);
  CU_ASSERT_EQUAL(sl_cim_mvm_ref(c, x, B, yr), SL_OK);
  CU_ASSERT_EQUAL(sl_cim_weights(c, SL_CIM_TARGET, tgt), SL_OK);
  double wmax = 0.8; /* max |w| is close to 0.8 */
  wmax = 0.0;
  for (size_t i = 0; i < n_in * n_out; i++)
    wmax = fmax(wmax, fabs(w[i]));
  double dq = 0.0;
  for (size_t i = 0; i < n_in * n_out; i++)
    dq = fmax(dq, fabs(tgt[i] - quantise(w[i], wmax, levels)));
  CU_ASSERT(dq < 1e-6);
  for (size_t b = 0; b < B; b++)
    for (size_t j = 0; j < n_out; j++) {
      double acc = 0.0;
      for (size_t i = 0; i < n_in; i++)
        acc += (double)x[b * n_in + i] * quantise(w[i * n_out + j], wmax, levels);
      yq[b * n_out + j] = (float)acc;
    }
  double d1 = sl_test_max_rel_diff(y, yr, B * n_out, 1.0);
  double d2 = sl_test_max_rel_diff(yr, yq, B * n_out, 1.0);
  printf("\n  levels %u: tiled vs reference max rel diff %.2e, reference vs quantised product "
         "%.2e, targets %.1e ",
         levels, d1, d2, dq);
  CU_ASSERT(d1 < 2e-5);
  CU_ASSERT(d2 < 1e-6);
  /* the number of distinct weight values */
  if (levels >= 2) {
    size_t distinct = 0;
    for (long k = -(long)(levels - 1); k <= (long)(levels - 1); k++) {
      float v = (float)(k / (double)(levels - 1) * wmax);
      for (size_t i = 0; i < n_in * n_out; i++)
        if (fabsf(tgt[i] - v) < 1e-6f) {
          distinct++;
          break;
        }
    }
    CU_ASSERT_EQUAL(distinct, 2 * levels - 1);
  }
  free(w);
  free(x);
  free(y);
  free(yr);
  free(yq);
  free(tgt);
  sl_cim_free(c);
}

static void test_ideal_equals_reference(void)
{
  check_ideal(8);
  check_ideal(32);
  check_ideal(2); /* ternary */
  check_ideal(0); /* continuous */
}

static void test_dac_adc(void)
{
  const size_t n_in = 200, n_out = 20, B = 5;
  float *w = rand_matrix(n_in * n_out, 21, -1.0, 1.0);
  float *x = rand_matrix(B * n_in, 22, -1.0, 1.0);
  sl_cim_params p = ideal_params(8);
  p.dac_bits = 8;
  p.dac_mode = SL_CIM_DAC_LEVEL;
  sl_cim *a, *b;
  CU_ASSERT_EQUAL_FATAL(sl_cim_alloc(&a, n_in, n_out, &p), SL_OK);
  p.dac_mode = SL_CIM_DAC_BITSERIAL;
  CU_ASSERT_EQUAL_FATAL(sl_cim_alloc(&b, n_in, n_out, &p), SL_OK);
  sl_cim_program(a, w);
  sl_cim_program(b, w);
  float ya[100], yb[100], yr[100];
  CU_ASSERT_EQUAL(sl_cim_mvm(a, x, B, ya), SL_OK);
  CU_ASSERT_EQUAL(sl_cim_mvm(b, x, B, yb), SL_OK);
  /* the reference on DAC-quantised inputs */
  float *xq = malloc(B * n_in * sizeof *xq);
  for (size_t i = 0; i < B * n_in; i++)
    xq[i] = (float)(copysign(rint(fabs(x[i]) * 255.0) / 255.0, x[i]));
  sl_cim_mvm_ref(a, xq, B, yr);
  double d1 = sl_test_max_rel_diff(ya, yr, B * n_out, 1.0);
  double d2 = sl_test_max_rel_diff(yb, yr, B * n_out, 1.0);
  printf("\n  DAC level vs ref %.2e, bit-serial vs ref %.2e ", d1, d2);
  CU_ASSERT(d1 < 2e-5);
  CU_ASSERT(d2 < 2e-5);
  sl_cim_counters k;
  sl_cim_counters_get(b, &k);
  CU_ASSERT_EQUAL(k.tile_reads, B * 8 * 2 * 2); /* 2 x 2 tiles, 8 pulses */
  sl_cim_free(a);
  sl_cim_free(b);
  /* ADC: every partial sum is on the grid -FS + D k */
  p = ideal_params(8);
  p.adc_bits = 4;
  p.adc_range = 3.0;
  CU_ASSERT_EQUAL_FATAL(sl_cim_alloc(&a, n_in, n_out, &p), SL_OK);
  sl_cim_program(a, w);
  float parts[2 * 100];
  CU_ASSERT_EQUAL(sl_cim_mvm_partials(a, x, B, parts), SL_OK);
  double step = 2.0 * 3.0 / 14.0, off = 0.0; /* in weight units; w_max = max|w| */
  int on_grid = 1, clipped = 0;
  for (size_t q = 0; q < 2 * B * n_out; q++) {
    double v = parts[q] / 1.0; /* w_max/Grange scaling is folded into weight units */
    double kk = (v + 3.0 + off) / step;
    if (fabs(kk - rint(kk)) > 1e-4 * fabs(kk) + 1e-4)
      on_grid = 0;
    if (fabs(fabs(v) - 3.0) < 1e-5)
      clipped++;
  }
  CU_ASSERT(on_grid);
  printf(" ADC 4 bit: %d of %zu partial sums at full scale ", clipped, 2 * B * n_out);
  sl_cim_free(a);
  free(w);
  free(x);
  free(xq);
}

static void test_normal_approximation(void)
{
  slc_vrng r;
  slc_vrng_seed(&r, 7);
  size_t n = 1 << 20;
  float *e = malloc(n * sizeof *e);
  slc_vrng_normals(&r, e, n);
  double m = 0, v = 0, k4 = 0, mx = 0;
  for (size_t i = 0; i < n; i++) {
    m += e[i];
    v += (double)e[i] * e[i];
    k4 += (double)e[i] * e[i] * e[i] * e[i];
    mx = fmax(mx, fabs(e[i]));
  }
  m /= n;
  v /= n;
  k4 /= n;
  printf("\n  mean %.4f var %.4f kurtosis %.3f max %.3f ", m, v, k4 / (v * v), mx);
  CU_ASSERT(fabs(m) < 0.005);
  CU_ASSERT(fabs(v - 1.0) < 0.01);
  CU_ASSERT(fabs(k4 / (v * v) - 2.7) < 0.05);
  CU_ASSERT(mx <= SLC_NORMAL_MAX);
  free(e);
}


/* the paths this CPU can run, and the one in force before a test forces them */
static int n_paths(void) { return (int)sl_isa_best() + 1; }

/* sum_i |x_i| (|Gp| + |Gm|) (1 + sd max|e|) per column: the scale of the
 * rounding bound between the fused and unfused kernels */
static double noisy_bound(const float *x, size_t nr, size_t ncp, size_t col, const float *Gp,
                          const float *Gm, float sd)
{
  double s = 0.0;
  for (size_t i = 0; i < nr; i++)
    s += fabs(x[i]) * (fabs(Gp[i * ncp + col]) + fabs(Gm[i * ncp + col])) *
         (1.0 + sd * SLC_NORMAL_MAX);
  return s;
}

static void test_kernel_paths(void)
{
  const size_t nr = 37, ncp = 32; /* two 16-column blocks: lanes carry over */
  float *gp = rand_matrix(nr * ncp, 51, 0.0, 1.0), *gm = rand_matrix(nr * ncp, 52, 0.0, 1.0);
  float *d = malloc(nr * ncp * sizeof *d), *x = rand_matrix(nr, 53, -1.0, 1.0);
  for (size_t q = 0; q < nr * ncp; q++)
    d[q] = gp[q] - gm[q];
  for (size_t i = 0; i < nr; i += 5)
    x[i] = 0.0f; /* rows without input draw no noise */
  const float sds[2] = {0.05f, 0.4f}; /* the second needs the floor at 0 */
  for (int path = 0; path < n_paths(); path++) {
    slc_tile_noisy_fn f = slc_tile_noisy_for((sl_isa)path);
    for (int clamp = 0; clamp < 2; clamp++) {
      float acc[32], ref[32], other[32];
      for (size_t j = 0; j < ncp; j++)
        acc[j] = ref[j] = other[j] = 0.25f * (float)j; /* the kernel adds */
      slc_vrng r, rr, ro;
      slc_vrng_seed(&r, 99);
      rr = r;
      slc_vrng_seed(&ro, 100);
      /* twice in a row: the generator state carries over between calls */
      for (int call = 0; call < 2; call++) {
        f(acc, x, nr, ncp, d, gp, gm, sds[clamp], clamp, &r);
        slc_tile_noisy_ref(ref, x, nr, ncp, d, gp, gm, sds[clamp], clamp, path > 0, &rr);
        slc_tile_noisy_ref(other, x, nr, ncp, d, gp, gm, sds[clamp], clamp, path > 0, &ro);
      }
      double worst = 0.0, other_best = INFINITY;
      for (size_t j = 0; j < ncp; j++) {
        double b = 2.0 * noisy_bound(x, nr, ncp, j, gp, gm, sds[clamp]);
        worst = fmax(worst, fabs((double)acc[j] - ref[j]) / b);
        other_best = fmin(other_best, fabs((double)other[j] - ref[j]) / b);
      }
      printf("\n  %s clamp %d: max |kernel - reference| %.2e of the bound's scale%s; "
             "other noise differs by >= %.2e ",
             sl_isa_name((sl_isa)path), clamp, worst,
             memcmp(acc, ref, sizeof acc) == 0 ? " (bit-identical)" : "", other_best);
      CU_ASSERT(memcmp(&r, &rr, sizeof r) == 0); /* the same draws */
      if (path > 0)
        CU_ASSERT(memcmp(acc, ref, sizeof acc) == 0);
      CU_ASSERT(worst <= 1e-5);
      CU_ASSERT(other_best > 1e-4); /* the bound tells other noise apart */
    }
  }
  free(gp);
  free(gm);
  free(d);
  free(x);
}

/* The kernel's own draws on every path: one device pair per column with
 * x = 1, Gp = 1, Gm = 0, sd = 1 gives acc = 1 + e1; Gp = 0, Gm = 1 gives
 * acc = -1 - e2. */
static void test_kernel_noise_stats(void)
{
  const size_t calls = 1 << 15, n = calls * SLC_LANES;
  float *e = malloc(n * sizeof *e);
  for (int path = 0; path < n_paths(); path++) {
    slc_tile_noisy_fn f = slc_tile_noisy_for((sl_isa)path);
    for (int dev = 0; dev < 2; dev++) {
      float one[16], zero[16], dd[16], xin = 1.0f;
      for (int j = 0; j < 16; j++) {
        one[j] = 1.0f;
        zero[j] = 0.0f;
        dd[j] = dev ? -1.0f : 1.0f;
      }
      slc_vrng r;
      slc_vrng_seed(&r, 11 + (uint64_t)dev);
      for (size_t k = 0; k < calls; k++) {
        float acc[16] = {0};
        f(acc, &xin, 1, 16, dd, dev ? zero : one, dev ? one : zero, 1.0f, 0, &r);
        for (int j = 0; j < 16; j++)
          e[k * 16 + j] = dev ? -1.0f - acc[j] : acc[j] - 1.0f;
      }
      double m = 0, v = 0, k4 = 0, mx = 0, lag = 0;
      for (size_t i = 0; i < n; i++) {
        m += e[i];
        v += (double)e[i] * e[i];
        k4 += (double)e[i] * e[i] * e[i] * e[i];
        mx = fmax(mx, fabs(e[i]));
        if (i >= 16)
          lag += (double)e[i] * e[i - 16]; /* a lane's consecutive draws */
      }
      m /= n;
      v /= n;
      k4 /= n;
      lag /= n - 16;
      printf("\n  %s e%d: mean %.4f var %.4f kurtosis %.3f max %.3f lag-1 corr %.4f ",
             sl_isa_name((sl_isa)path), dev + 1, m, v, k4 / (v * v), mx, lag / v);
      CU_ASSERT(fabs(m) < 0.01); /* sd of the mean: 1/sqrt(n) = 0.0017 */
      CU_ASSERT(fabs(v - 1.0) < 0.015);
      CU_ASSERT(fabs(k4 / (v * v) - 2.7) < 0.05);
      CU_ASSERT(mx <= SLC_NORMAL_MAX + 1e-5);
      CU_ASSERT(fabs(lag / v) < 0.01);
    }
  }
  free(e);
}

static void test_read_noise(void)
{
  /* one column, inputs x, exact programming: var(y) = sd^2 s^2 sum x^2 (G+^2 + G-^2),
   * through the whole MVM on every path; the paths draw the same noise */
  const size_t n_in = 100, R = 4000;
  float w[100], x[100];
  for (size_t i = 0; i < n_in; i++) {
    w[i] = (float)((i % 7) / 3.0 - 1.0);
    x[i] = (float)(0.2 + 0.008 * i);
  }
  sl_cim_params p = ideal_params(0);
  p.read_sd = 0.05;
  p.w_max = 1.0;
  float *xs = malloc(R * n_in * sizeof *xs), *y = malloc(R * sizeof *y);
  float *y_first = malloc(R * sizeof *y);
  for (size_t r = 0; r < R; r++)
    memcpy(xs + r * n_in, x, sizeof x);
  double expect_var = 0, exact = 0, grange = 0.9;
  for (size_t i = 0; i < n_in; i++) {
    double gp = 0.1 + (w[i] > 0 ? 0.9 * w[i] : 0), gm = 0.1 + (w[i] < 0 ? -0.9 * w[i] : 0);
    expect_var += x[i] * x[i] * (gp * gp + gm * gm);
    exact += x[i] * w[i];
  }
  expect_var *= 0.05 * 0.05 / (grange * grange);
  const sl_isa before = sl_isa_active();
  for (int path = n_paths() - 1; path >= 0; path--) {
    CU_ASSERT_EQUAL_FATAL(sl_isa_set((sl_isa)path), SL_OK);
    sl_cim *c;
    CU_ASSERT_EQUAL_FATAL(sl_cim_alloc(&c, n_in, 1, &p), SL_OK);
    sl_cim_program(c, w);
    CU_ASSERT_EQUAL(sl_cim_mvm(c, xs, R, y), SL_OK);
    sl_cim_free(c);
    double mean = 0, var = 0, diff = 0;
    for (size_t r = 0; r < R; r++)
      mean += y[r] / R;
    for (size_t r = 0; r < R; r++)
      var += (y[r] - mean) * (y[r] - mean) / (R - 1);
    if (path == n_paths() - 1)
      memcpy(y_first, y, R * sizeof *y);
    for (size_t r = 0; r < R; r++)
      diff = fmax(diff, fabs((double)y[r] - y_first[r]));
    printf("\n  %s: mean %.4f (exact %.4f), var %.3e (model %.3e), max diff to %s %.1e ",
           sl_isa_name((sl_isa)path), mean, exact, var, expect_var,
           sl_isa_name(sl_isa_best()), diff);
    CU_ASSERT(fabs(mean - exact) < 4 * sqrt(expect_var / R) + 1e-4);
    CU_ASSERT(fabs(var / expect_var - 1.0) < 0.1);
    CU_ASSERT(y[0] != y[1]); /* fresh per read */
    /* same noise: only rounding (FMA or not) between paths, |y| ~ 5 */
    CU_ASSERT(diff < 1e-4);
    if (path > 0)
      CU_ASSERT(diff == 0.0); /* the FMA paths are bit-identical */
  }
  sl_isa_set(before);
  free(xs);
  free(y);
  free(y_first);
}

static void test_determinism(void)
{
  const size_t n_in = 260, n_out = 40, B = 10;
  float *w = rand_matrix(n_in * n_out, 31, -1.0, 1.0);
  float *x = rand_matrix(B * n_in, 32, 0.0, 1.0);
  sl_cim_params p = sl_cim_params_default();
  p.stuck_on_rate = 0.01;
  p.drift_nu_sd = 0.01;
  float y1[400], y2[400], y3[400];
  for (int run = 0; run < 3; run++) {
    sl_cim *c;
    CU_ASSERT_EQUAL_FATAL(sl_cim_alloc(&c, n_in, n_out, &p), SL_OK);
#ifdef _OPENMP
    int old = omp_get_max_threads();
    omp_set_num_threads(run == 1 ? 1 : 2);
#endif
    sl_cim_program(c, w);
    sl_cim_set_time(c, 3600.0);
    if (run < 2) {
      sl_cim_mvm(c, x, B, run == 0 ? y1 : y2);
    } else { /* the same vectors in two calls */
      sl_cim_mvm(c, x, 4, y3);
      sl_cim_mvm(c, x + 4 * n_in, B - 4, y3 + 4 * n_out);
    }
#ifdef _OPENMP
    omp_set_num_threads(old);
#endif
    sl_cim_free(c);
  }
  CU_ASSERT(memcmp(y1, y2, sizeof y1) == 0);
  CU_ASSERT(memcmp(y1, y3, sizeof y1) == 0);
  /* another noise seed differs */
  p.noise_seed = 2;
  sl_cim *c;
  sl_cim_alloc(&c, n_in, n_out, &p);
  sl_cim_program(c, w);
  sl_cim_set_time(c, 3600.0);
  sl_cim_mvm(c, x, B, y2);
  CU_ASSERT(memcmp(y1, y2, sizeof y1) != 0);
  sl_cim_free(c);
  free(w);
  free(x);
}

static double weight_error_sd(sl_cim *c, size_t n)
{
  float *t = malloc(n * sizeof *t), *g = malloc(n * sizeof *g);
  sl_cim_weights(c, SL_CIM_TARGET, t);
  sl_cim_weights(c, SL_CIM_PROGRAMMED, g);
  double s = 0.0;
  for (size_t i = 0; i < n; i++)
    s += (double)(g[i] - t[i]) * (g[i] - t[i]);
  free(t);
  free(g);
  return sqrt(s / n);
}

static void test_programming(void)
{
  const size_t n_in = 128, n_out = 64, n = n_in * n_out;
  float *w = rand_matrix(n, 41, -1.0, 1.0);
  sl_cim_params p = ideal_params(8);
  p.w_max = 1.0;
  p.prog_sd = 0.05;
  p.max_pulses = 1; /* open loop: weight error sd = sqrt(2) 0.05 w_max */
  sl_cim *c;
  sl_cim_counters k;
  CU_ASSERT_EQUAL_FATAL(sl_cim_alloc(&c, n_in, n_out, &p), SL_OK);
  sl_cim_program(c, w);
  double e_open = weight_error_sd(c, n);
  sl_cim_counters_get(c, &k);
  CU_ASSERT_EQUAL(k.prog_pulses, 2 * n);
  CU_ASSERT_EQUAL(k.cells_programmed, 2 * n);
  sl_cim_free(c);
  p.max_pulses = 100;
  p.verify_tol = 0.02; /* write-verify: every cell within 0.02 Grange */
  CU_ASSERT_EQUAL_FATAL(sl_cim_alloc(&c, n_in, n_out, &p), SL_OK);
  sl_cim_program(c, w);
  double e_wv = weight_error_sd(c, n);
  sl_cim_counters_get(c, &k);
  float *t = malloc(n * sizeof *t), *g = malloc(n * sizeof *g);
  sl_cim_weights(c, SL_CIM_TARGET, t);
  sl_cim_weights(c, SL_CIM_PROGRAMMED, g);
  double worst = 0.0;
  for (size_t i = 0; i < n; i++)
    worst = fmax(worst, fabs(g[i] - t[i]));
  printf("\n  open loop error sd %.4f (model %.4f); write-verify sd %.4f, worst %.4f, "
         "%.2f pulses/cell ",
         e_open, sqrt(2.0) * 0.05, e_wv, worst, (double)k.prog_pulses / (2.0 * n));
  CU_ASSERT(fabs(e_open / (sqrt(2.0) * 0.05) - 1.0) < 0.05);
  CU_ASSERT(worst <= 2 * 0.02 + 1e-6); /* two cells, each within tol Grange = tol w_max */
  CU_ASSERT(k.prog_pulses > 2 * n);
  /* threshold-gated reprogramming: only pairs whose target moved */
  size_t changed = 0, pairs = 0;
  for (size_t i = 0; i < n; i += 97) {
    w[i] = -w[i];
    if (fabs(quantise(w[i], 1.0, 8) - t[i]) > 0.2)
      changed++;
  }
  CU_ASSERT_EQUAL(sl_cim_reprogram(c, w, 0.2, &pairs), SL_OK);
  CU_ASSERT_EQUAL(pairs, changed);
  CU_ASSERT(changed > 0);
  sl_cim_free(c);
  free(t);
  free(g);
  free(w);
}

/* Relative write noise (prog_relative): a device's error sd is prog_sd of
 * its own target. On 2-level devices a zero weight is two devices at Gmin
 * (error sd sqrt(2) 0.1 Gmin w_max / Grange), a +-1 weight one at Gmax and
 * one at Gmin (sd 0.1 sqrt(Gmax^2 + Gmin^2) w_max / Grange). */
static void test_relative_programming(void)
{
  const size_t n_in = 256, n_out = 64, n = n_in * n_out;
  float *w = malloc(n * sizeof *w), *t = malloc(n * sizeof *t), *g = malloc(n * sizeof *g);
  for (size_t i = 0; i < n; i++)
    w[i] = (float)(i % 3) - 1.0f; /* -1, 0, 1 */
  sl_cim_params p = ideal_params(2);
  p.w_max = 1.0;
  p.prog_sd = 0.1;
  p.prog_relative = 1;
  p.max_pulses = 1;
  sl_cim *c;
  CU_ASSERT_EQUAL_FATAL(sl_cim_alloc(&c, n_in, n_out, &p), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_cim_program(c, w), SL_OK);
  sl_cim_weights(c, SL_CIM_TARGET, t);
  sl_cim_weights(c, SL_CIM_PROGRAMMED, g);
  double s0 = 0, s1 = 0;
  size_t n0 = 0, n1 = 0;
  for (size_t i = 0; i < n; i++) {
    const double e = (double)g[i] - t[i];
    if (t[i] == 0.0f)
      s0 += e * e, n0++;
    else
      s1 += e * e, n1++;
  }
  const double gr = p.g_max - p.g_min, want0 = sqrt(2.0) * 0.1 * p.g_min / gr,
               want1 = 0.1 * sqrt(p.g_max * p.g_max + p.g_min * p.g_min) / gr;
  const double sd0 = sqrt(s0 / n0), sd1 = sqrt(s1 / n1);
  printf("\n  zero weights sd %.4f (model %.4f), +-1 weights sd %.4f (model %.4f) ", sd0, want0,
         sd1, want1);
  CU_ASSERT(fabs(sd0 / want0 - 1.0) < 0.05);
  CU_ASSERT(fabs(sd1 / want1 - 1.0) < 0.05);
  sl_cim_free(c);
  free(w), free(t), free(g);
}

static void test_faults_and_drift(void)
{
  const size_t n_in = 100, n_out = 100, n = n_in * n_out;
  float *w = rand_matrix(n, 51, -1.0, 1.0);
  sl_cim_params p = ideal_params(0);
  p.w_max = 1.0;
  p.stuck_on_rate = 0.1;
  p.stuck_off_rate = 0.1;
  p.max_pulses = 5;
  sl_cim *c, *c2;
  CU_ASSERT_EQUAL_FATAL(sl_cim_alloc(&c, n_in, n_out, &p), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_cim_alloc(&c2, n_in, n_out, &p), SL_OK);
  sl_cim_program(c, w);
  sl_cim_program(c2, w);
  float *t = malloc(n * sizeof *t), *g = malloc(n * sizeof *g), *g2 = malloc(n * sizeof *g);
  sl_cim_weights(c, SL_CIM_TARGET, t);
  sl_cim_weights(c, SL_CIM_PROGRAMMED, g);
  sl_cim_weights(c2, SL_CIM_PROGRAMMED, g2);
  CU_ASSERT(memcmp(g, g2, n * sizeof *g) == 0); /* faults fixed per chip seed */
  size_t bad = 0;
  for (size_t i = 0; i < n; i++)
    bad += fabs(g[i] - t[i]) > 1e-5;
  double frac = (double)bad / n; /* a pair is off unless its stuck cell happens to agree */
  printf("\n  %.3f of pairs changed by stuck cells ", frac);
  CU_ASSERT(frac > 0.2 && frac < 0.36);
  sl_cim_free(c2);
  p.chip_seed = 2;
  CU_ASSERT_EQUAL_FATAL(sl_cim_alloc(&c2, n_in, n_out, &p), SL_OK);
  sl_cim_program(c2, w);
  sl_cim_weights(c2, SL_CIM_PROGRAMMED, g2);
  CU_ASSERT(memcmp(g, g2, n * sizeof *g) != 0);
  sl_cim_free(c2);
  sl_cim_free(c);
  /* drift: uniform nu, without and with global compensation */
  p = ideal_params(0);
  p.w_max = 1.0;
  p.drift_nu = 0.1;
  p.drift_compensation = 0;
  CU_ASSERT_EQUAL_FATAL(sl_cim_alloc(&c, n_in, n_out, &p), SL_OK);
  p.drift_compensation = 1;
  CU_ASSERT_EQUAL_FATAL(sl_cim_alloc(&c2, n_in, n_out, &p), SL_OK);
  sl_cim_program(c, w);
  sl_cim_program(c2, w);
  sl_cim_set_time(c, 1000.0);
  sl_cim_set_time(c2, 1000.0);
  sl_cim_weights(c, SL_CIM_PROGRAMMED, g);
  sl_cim_weights(c2, SL_CIM_PROGRAMMED, g2);
  double f = pow(1000.0, -0.1), d1 = 0, d2 = 0;
  for (size_t i = 0; i < n; i++) {
    d1 = fmax(d1, fabs(g[i] - t[i] * f));
    d2 = fmax(d2, fabs(g2[i] - t[i]));
  }
  printf(" drift factor %.4f: max diff %.1e, compensated %.1e ", f, d1, d2);
  CU_ASSERT(d1 < 1e-5);
  CU_ASSERT(d2 < 1e-5);
  sl_cim_free(c);
  sl_cim_free(c2);
  free(w);
  free(t);
  free(g);
  free(g2);
}

static void test_counters_energy(void)
{
  const size_t n_in = 256, n_out = 32, B = 3;
  float *w = rand_matrix(n_in * n_out, 61, -1.0, 1.0);
  float *x = rand_matrix(B * n_in, 62, 0.0, 1.0);
  sl_cim_params p = sl_cim_params_default(); /* bit-serial 8 bit, 128 x 16 tiles */
  sl_cim *c;
  CU_ASSERT_EQUAL_FATAL(sl_cim_alloc(&c, n_in, n_out, &p), SL_OK);
  sl_cim_program(c, w);
  sl_cim_counters_reset(c);
  float y[96];
  CU_ASSERT_EQUAL(sl_cim_mvm(c, x, B, y), SL_OK);
  sl_cim_counters k;
  sl_cim_counters_get(c, &k);
  CU_ASSERT_EQUAL(k.mvms, B);
  CU_ASSERT_EQUAL(k.tile_reads, B * 8 * 2 * 2);
  CU_ASSERT_EQUAL(k.cell_reads, B * 8 * 2 * n_in * n_out);
  CU_ASSERT_EQUAL(k.adc_conversions, B * 8 * 2 * n_out);
  CU_ASSERT_EQUAL(k.dac_conversions, B * 8 * n_in);
  CU_ASSERT_EQUAL(k.prog_pulses, 0);
  /* default energies reproduce Yao et al.'s 11 TOPS/W: 2 ops per weight per MVM */
  double tops_w = 2.0 * n_in * n_out / sl_cim_energy_per_mvm(c) / 1e12;
  printf("\n  %.2f TOPS/W ", tops_w);
  CU_ASSERT(fabs(tops_w - 11.0) < 0.1);
  CU_ASSERT(fabs(sl_cim_energy(&p, &k) - B * sl_cim_energy_per_mvm(c)) < 1e-18);
  /* calibration: adc_range = largest |partial sum| */
  CU_ASSERT_EQUAL(sl_cim_calibrate_adc(c, x, B, 1.0), SL_OK);
  float *t = malloc(n_in * n_out * sizeof *t);
  sl_cim_weights(c, SL_CIM_TARGET, t);
  double m = 0;
  for (size_t b = 0; b < B; b++)
    for (size_t r = 0; r < 2; r++)
      for (size_t j = 0; j < n_out; j++) {
        double acc = 0;
        for (size_t i = 128 * r; i < 128 * (r + 1); i++)
          acc += (double)x[b * n_in + i] * t[i * n_out + j];
        m = fmax(m, fabs(acc));
      }
  CU_ASSERT(fabs(sl_cim_params_get(c)->adc_range - m) < 1e-9 * m);
  sl_cim_free(c);
  free(t);
  free(w);
  free(x);
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"bad input", test_bad_input},
      {"tiling", test_tiling},
      {"ideal tiled MVM = reference = quantised product", test_ideal_equals_reference},
      {"DAC and ADC", test_dac_adc},
      {"normal approximation", test_normal_approximation},
      {"noisy kernel of every path = reference", test_kernel_paths},
      {"noise statistics of every path", test_kernel_noise_stats},
      {"read noise", test_read_noise},
      {"determinism", test_determinism},
      {"programming", test_programming},
      {"relative write noise", test_relative_programming},
      {"faults and drift", test_faults_and_drift},
      {"counters and energy", test_counters_energy},
      {NULL, NULL},
  };
  return sl_test_run("cim", cases);
}
