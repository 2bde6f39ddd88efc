/* test_data.c -- CUnit suite for data sets, Yin-Yang and spike encoders.
 *
 * Covers: Yin-Yang labels at hand-picked points and against an independent
 * re-implementation written from the FACTS.md text; generator determinism,
 * geometry and class balance; latency/log/rate encoders at hand-computed
 * steps, batch-split independence of rate coding, validation errors; HDF5
 * round trip and every load failure we promise not to crash on.
 *
 * HDF5 fixtures with defects are written directly with the H5LT API.
 */
#include "config.h"
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* truncate() under -std=c11 */
#endif

#include "spikeloop/dataset.h"
#include "spikeloop/encode.h"
#include "spikeloop/idx.h"
#include "spikeloop/yinyang.h"
#include "spikeloop/error.h"
#include "testutil.h"

#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

/* Small independent generator for test points (not the library's RNG). */
static uint64_t lcg_state;
static double test_uniform(void)
{
  lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(lcg_state >> 11) * 0x1.0p-53;
}

static int msg_has(const char *needle) { return strstr(sl_last_error(), needle) != NULL; }

static int file_exists(const char *p) { return access(p, F_OK) == 0; }

static void tmp_of(const char *path, char *buf, size_t len)
{
  snprintf(buf, len, "%s.tmp%ld", path, (long)getpid());
}

/* Spike count of input i of sample b in a (T, B, D) raster, and the first step. */
static size_t count_spikes(const float *out, size_t T, size_t B, size_t D, size_t b, size_t i,
                           long *first)
{
  size_t c = 0;
  *first = -1;
  for (size_t t = 0; t < T; t++)
    if (out[(t * B + b) * D + i] != 0.0f) {
      if (*first < 0)
        *first = (long)t;
      c++;
    }
  return c;
}

/* Independent Yin-Yang label written straight from FACTS.md section 2:
 * "Label 2 if d_R < r_small or d_L < r_small; else label 1 if
 * (d_R <= r_small) or (r_small < d_L <= 0.25) or (y > 0.5 and d_R > 0.25),
 * else label 0." */
static int reference_label(double x, double y)
{
  const double r_small = 0.1;
  double d_R = sqrt((x - 0.75) * (x - 0.75) + (y - 0.5) * (y - 0.5));
  double d_L = sqrt((x - 0.25) * (x - 0.25) + (y - 0.5) * (y - 0.5));
  int dot = (d_R < r_small) || (d_L < r_small);
  if (dot)
    return 2;
  int one = (d_R <= r_small) || (r_small < d_L && d_L <= 0.25) || (y > 0.5 && d_R > 0.25);
  return one ? 1 : 0;
}

/* ------------------------------------------------------------ Yin-Yang */

static void test_label_known_points(void)
{
  /* Centres of the two dots: distance 0 to a dot centre < r_small. */
  CU_ASSERT_EQUAL(sl_yinyang_label(0.25, 0.5), 2);
  CU_ASSERT_EQUAL(sl_yinyang_label(0.75, 0.5), 2);
  /* Just inside a dot: d_R = 0.09 < 0.1. */
  CU_ASSERT_EQUAL(sl_yinyang_label(0.84, 0.5), 2);
  /* (0.5, 0.9): d_R = d_L = sqrt(0.0625 + 0.16) = 0.47; d_L > 0.25, but
   * y > 0.5 and d_R > 0.25 -> 1 (top half, far from the right dot). */
  CU_ASSERT_EQUAL(sl_yinyang_label(0.5, 0.9), 1);
  /* (0.5, 0.1): same distances 0.47, y < 0.5, d_L > 0.25 -> 0. */
  CU_ASSERT_EQUAL(sl_yinyang_label(0.5, 0.1), 0);
  /* (0.25, 0.3) and (0.25, 0.7): d_L = 0.2 in (0.1, 0.25] -> 1 (ring
   * around the left dot), whichever half. */
  CU_ASSERT_EQUAL(sl_yinyang_label(0.25, 0.3), 1);
  CU_ASSERT_EQUAL(sl_yinyang_label(0.25, 0.7), 1);
  /* (0.75, 0.7): d_R = 0.2, not <= 0.1 and not > 0.25; d_L = sqrt(0.29) >
   * 0.25 -> 0 (ring around the right dot, even in the top half). */
  CU_ASSERT_EQUAL(sl_yinyang_label(0.75, 0.7), 0);
  /* (0.75, 0.3): d_R = 0.2, y < 0.5 -> 0. */
  CU_ASSERT_EQUAL(sl_yinyang_label(0.75, 0.3), 0);
  /* (0.1, 0.5): d_L = 0.15 in (0.1, 0.25] -> 1; (0.9, 0.5): d_R = 0.15,
   * y = 0.5 is not > 0.5, d_L = 0.65 -> 0. */
  CU_ASSERT_EQUAL(sl_yinyang_label(0.1, 0.5), 1);
  CU_ASSERT_EQUAL(sl_yinyang_label(0.9, 0.5), 0);
  /* Boundaries (all distances exact in binary): the centre (0.5, 0.5) has
   * d_L = 0.25, and "d_L <= 0.25" is inclusive -> 1. */
  CU_ASSERT_EQUAL(sl_yinyang_label(0.5, 0.5), 1);
  /* (0.375, 0.5): d_L = 0.125 in (0.1, 0.25] -> 1 (same ring, on the axis). */
  CU_ASSERT_EQUAL(sl_yinyang_label(0.375, 0.5), 1);
  /* (0.625, 0.5): d_R = 0.125 (not a dot), y = 0.5 is not > 0.5 -> 0. */
  CU_ASSERT_EQUAL(sl_yinyang_label(0.625, 0.5), 0);
  /* "y > 0.5" is strict: (1.125, 0.5) lies outside the disk, but the rule
   * still applies there: d_R = 0.375 > 0.25, d_L = 0.875, y = 0.5 -> 0. */
  CU_ASSERT_EQUAL(sl_yinyang_label(1.125, 0.5), 0);
}

static void test_label_reference(void)
{
  lcg_state = 12345;
  size_t mismatches = 0, seen[3] = {0, 0, 0};
  for (size_t k = 0; k < 10000; k++) {
    double x = test_uniform(), y = test_uniform();
    int a = sl_yinyang_label(x, y), b = reference_label(x, y);
    if (a != b) {
      if (mismatches < 5)
        printf("\n  label mismatch at (%.17g, %.17g): lib %d, reference %d", x, y, a, b);
      mismatches++;
    }
    if (b >= 0 && b < 3)
      seen[b]++;
  }
  CU_ASSERT_EQUAL(mismatches, 0);
  /* The sample must exercise all three classes. */
  CU_ASSERT(seen[0] > 1000 && seen[1] > 1000 && seen[2] > 100);
}

static void test_generate_deterministic(void)
{
  sl_dataset a = {0}, b = {0}, c = {0};
  CU_ASSERT_EQUAL_FATAL(sl_yinyang_generate(&a, 500, 7), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_yinyang_generate(&b, 500, 7), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_yinyang_generate(&c, 500, 8), SL_OK);
  CU_ASSERT_EQUAL(a.n, 500);
  CU_ASSERT_EQUAL(a.dim, 4);
  CU_ASSERT_EQUAL(a.n_classes, 3);
  CU_ASSERT(memcmp(a.x, b.x, 500 * 4 * sizeof(float)) == 0);
  CU_ASSERT(memcmp(a.y, b.y, 500 * sizeof(int32_t)) == 0);
  CU_ASSERT(memcmp(a.x, c.x, 500 * 4 * sizeof(float)) != 0);
  sl_dataset_free(&a);
  sl_dataset_free(&b);
  sl_dataset_free(&c);
  CU_ASSERT_PTR_NULL(a.x); /* free leaves a zeroed struct; second free is a no-op */
  sl_dataset_free(&a);
  sl_dataset_free(NULL);
}

static void test_generate_properties(void)
{
  const size_t n = 3000;
  sl_dataset d = {0};
  CU_ASSERT_EQUAL_FATAL(sl_yinyang_generate(&d, n, 42), SL_OK);
  size_t count[3] = {0, 0, 0}, outside = 0, wrong_label = 0, bad_features = 0;
  double max_sum_err = 0.0;
  for (size_t i = 0; i < n; i++) {
    const float *r = d.x + i * 4;
    double x = r[0], y = r[1];
    if ((x - 0.5) * (x - 0.5) + (y - 0.5) * (y - 0.5) > 0.25 + 1e-12)
      outside++;
    if (d.y[i] < 0 || d.y[i] > 2 || reference_label(x, y) != d.y[i])
      wrong_label++;
    else
      count[d.y[i]]++;
    for (int j = 0; j < 4; j++)
      if (!(r[j] >= 0.0f && r[j] <= 1.0f))
        bad_features++;
    double e1 = fabs((double)r[0] + (double)r[2] - 1.0);
    double e2 = fabs((double)r[1] + (double)r[3] - 1.0);
    max_sum_err = fmax(max_sum_err, fmax(e1, e2));
  }
  CU_ASSERT_EQUAL(outside, 0);
  CU_ASSERT_EQUAL(wrong_label, 0);
  CU_ASSERT_EQUAL(bad_features, 0);
  if (max_sum_err > 1e-6)
    printf("\n  max |x + (1-x) - 1| = %g", max_sum_err);
  CU_ASSERT(max_sum_err <= 1e-6);
  /* Goal classes are uniform: expect 1000 each, sd ~ 26; allow +-120. */
  for (int k = 0; k < 3; k++) {
    if (count[k] < 880 || count[k] > 1120)
      printf("\n  class %d count %zu", k, count[k]);
    CU_ASSERT(count[k] >= 880 && count[k] <= 1120);
  }
  sl_dataset_free(&d);

  CU_ASSERT_EQUAL(sl_yinyang_generate(&d, 0, 1), SL_OK); /* empty set is fine */
  CU_ASSERT_EQUAL(d.n, 0);
  sl_dataset_free(&d);
  CU_ASSERT_EQUAL(sl_yinyang_generate(NULL, 10, 1), SL_EINVAL);
}

/* ------------------------------------------------------------ encoders */

static void test_encoder_defaults_and_names(void)
{
  sl_encoder e = sl_encoder_default();
  CU_ASSERT_EQUAL(e.kind, SL_ENCODE_LATENCY_LINEAR);
  CU_ASSERT_EQUAL(e.t_steps, 40);
  CU_ASSERT_DOUBLE_EQUAL(e.dt, 1e-3, 1e-15);
  CU_ASSERT_EQUAL(e.bias, 1);
  CU_ASSERT_EQUAL(sl_encoder_out_dim(&e, 4), 5);
  e.bias = 0;
  CU_ASSERT_EQUAL(sl_encoder_out_dim(&e, 4), 4);

  const char *names[] = {"latency", "latency_log", "rate"};
  const int kinds[] = {SL_ENCODE_LATENCY_LINEAR, SL_ENCODE_LATENCY_LOG, SL_ENCODE_RATE};
  for (int k = 0; k < 3; k++) {
    int kind = -1;
    CU_ASSERT_EQUAL(sl_encoder_kind_from_name(names[k], &kind), SL_OK);
    CU_ASSERT_EQUAL(kind, kinds[k]);
    CU_ASSERT_STRING_EQUAL(sl_encoder_kind_name(kinds[k]), names[k]);
  }
  int kind = 77;
  CU_ASSERT_EQUAL(sl_encoder_kind_from_name("poisson", &kind), SL_ENOTFOUND);
  CU_ASSERT(msg_has("poisson"));
  CU_ASSERT_EQUAL(kind, 77); /* untouched on failure */
  CU_ASSERT_EQUAL(sl_encoder_kind_from_name("", &kind), SL_ENOTFOUND);
  CU_ASSERT_EQUAL(sl_encoder_kind_from_name(NULL, &kind), SL_EINVAL);
  CU_ASSERT_PTR_NULL(sl_encoder_kind_name(99));
  CU_ASSERT_PTR_NULL(sl_encoder_kind_name(-1));
}

/* The encoder name table: NULL-terminated, in kind order, round trip by
 * name, and the "known:" message lists it. */
static void test_encoder_names(void)
{
  const char *const *list = sl_encoder_list();
  size_t n = 0;
  for (; list[n]; n++) {
    int kind = -1;
    CU_ASSERT_EQUAL(sl_encoder_kind_from_name(list[n], &kind), SL_OK);
    CU_ASSERT_EQUAL(kind, (int)n);
    CU_ASSERT_PTR_EQUAL(sl_encoder_kind_name((int)n), list[n]);
  }
  CU_ASSERT_EQUAL(n, 4);
  CU_ASSERT_STRING_EQUAL(list[SL_ENCODE_LATENCY_LINEAR], "latency");
  CU_ASSERT_STRING_EQUAL(list[SL_ENCODE_LATENCY_LOG], "latency_log");
  CU_ASSERT_STRING_EQUAL(list[SL_ENCODE_RATE], "rate");
  CU_ASSERT_STRING_EQUAL(list[SL_ENCODE_RASTER], "raster");
  CU_ASSERT_PTR_NULL(sl_encoder_kind_name((int)n));
  int kind;
  CU_ASSERT_EQUAL(sl_encoder_kind_from_name("poisson", &kind), SL_ENOTFOUND);
  CU_ASSERT_STRING_EQUAL(sl_last_error(),
                         "unknown encoder 'poisson' (known: latency, latency_log, rate, raster)");
}

static void test_latency_linear(void)
{
  sl_encoder e = sl_encoder_default();
  e.t_late = 28e-3; /* x = 0.5 -> t = 15 ms exactly, no rounding tie */
  e.bias_time = 5e-3;
  const size_t T = e.t_steps, B = 2, dim = 5, D = dim + 1;
  /* x = 1 -> t_early = 2 ms -> step 2; x = 0 -> t_late = 28 ms -> step 28;
   * x = 0.5 -> 15 ms -> step 15; clipped 1.5 -> step 2, -0.3 -> step 28. */
  const float x[] = {1.0f, 0.0f, 0.5f, 1.5f, -0.3f, 0.25f, 0.75f, 0.0f, 1.0f, 0.5f};
  const long want0[] = {2, 28, 15, 2, 28, 5};
  /* x = 0.25 -> 2 + 0.75*26 = 21.5 ms -> step 22 (half rounds up);
   * x = 0.75 -> 2 + 0.25*26 = 8.5 ms -> step 9. */
  const long want1[] = {22, 9, 28, 2, 15, 5};
  float *out = malloc(T * B * D * sizeof *out);
  CU_ASSERT_PTR_NOT_NULL_FATAL(out);
  for (size_t i = 0; i < T * B * D; i++)
    out[i] = 7.0f; /* must be zeroed by sl_encode */
  CU_ASSERT_EQUAL_FATAL(sl_encode(&e, x, B, dim, NULL, 0, out), SL_OK);
  size_t bad_values = 0;
  for (size_t i = 0; i < T * B * D; i++)
    if (out[i] != 0.0f && out[i] != 1.0f)
      bad_values++;
  CU_ASSERT_EQUAL(bad_values, 0);
  for (size_t i = 0; i < D; i++) {
    long first;
    CU_ASSERT_EQUAL(count_spikes(out, T, B, D, 0, i, &first), 1); /* exactly one */
    CU_ASSERT_EQUAL(first, want0[i]);
    CU_ASSERT_EQUAL(count_spikes(out, T, B, D, 1, i, &first), 1);
    CU_ASSERT_EQUAL(first, want1[i]);
  }

  /* Default t_late = 27 ms: x = 0.5 -> 14.5 ms -> floor(14.5 + 0.5) = 15. */
  e = sl_encoder_default();
  const float half = 0.5f;
  float out2[40 * 2];
  CU_ASSERT_EQUAL(sl_encode(&e, &half, 1, 1, NULL, 0, out2), SL_OK);
  long first;
  CU_ASSERT_EQUAL(count_spikes(out2, 40, 1, 2, 0, 0, &first), 1);
  CU_ASSERT_EQUAL(first, 15);
  CU_ASSERT_EQUAL(count_spikes(out2, 40, 1, 2, 0, 1, &first), 1); /* bias at t = 0 */
  CU_ASSERT_EQUAL(first, 0);

  /* Spikes at or after T are dropped: t_late = 50 ms, T = 40 -> x = 0 silent. */
  e.t_late = 50e-3;
  e.bias = 0;
  const float zero = 0.0f;
  float out3[40];
  CU_ASSERT_EQUAL(sl_encode(&e, &zero, 1, 1, NULL, 0, out3), SL_OK);
  CU_ASSERT_EQUAL(count_spikes(out3, 40, 1, 1, 0, 0, &first), 0);
  free(out);
}

static void test_latency_log(void)
{
  sl_encoder e = sl_encoder_default();
  e.kind = SL_ENCODE_LATENCY_LOG; /* tau_in = 8 ms, x_min = 0.2, dt = 1 ms */
  e.t_steps = 400; /* long enough that a spike from x just above x_min would show */
  const size_t T = e.t_steps, dim = 6, D = dim + 1;
  /* x = 1   -> 8 ms * log(1/0.8)   = 1.785 ms -> step 2
   * x = 0.5 -> 8 ms * log(0.5/0.3) = 4.087 ms -> step 4
   * x = 0.21-> 8 ms * log(21)      = 24.36 ms -> step 24
   * x = 0.2, 0.1, 0 -> x <= x_min: no spike. */
  const float x[] = {1.0f, 0.5f, 0.21f, 0.2f, 0.1f, 0.0f};
  const long want[] = {2, 4, 24, -1, -1, -1};
  float *out = malloc(T * D * sizeof *out);
  CU_ASSERT_PTR_NOT_NULL_FATAL(out);
  CU_ASSERT_EQUAL_FATAL(sl_encode(&e, x, 1, dim, NULL, 0, out), SL_OK);
  for (size_t i = 0; i < dim; i++) {
    long first;
    size_t c = count_spikes(out, T, 1, D, 0, i, &first);
    CU_ASSERT_EQUAL(c, want[i] < 0 ? 0 : 1);
    CU_ASSERT_EQUAL(first, want[i]);
  }
  long first;
  CU_ASSERT_EQUAL(count_spikes(out, T, 1, D, 0, dim, &first), 1); /* bias */
  CU_ASSERT_EQUAL(first, 0);
  free(out);
}

static void test_rate(void)
{
  sl_encoder e = sl_encoder_default();
  e.kind = SL_ENCODE_RATE;
  e.t_steps = 500;
  e.rate_max = 0.2;
  const size_t T = e.t_steps, B = 20, dim = 4, D = dim + 1;
  float x[20 * 4];
  uint64_t ids[20];
  for (size_t b = 0; b < B; b++) {
    ids[b] = 1000 + 3 * b;
    x[b * dim + 0] = 0.5f; /* p = 0.1 */
    x[b * dim + 1] = 1.0f; /* p = 0.2 */
    x[b * dim + 2] = 0.0f; /* p = 0 */
    x[b * dim + 3] = 2.0f; /* clipped to 1: p = 0.2 */
  }
  float *out = malloc(T * B * D * sizeof *out);
  CU_ASSERT_PTR_NOT_NULL_FATAL(out);
  CU_ASSERT_EQUAL_FATAL(sl_encode(&e, x, B, dim, ids, 99, out), SL_OK);
  size_t tot[5] = {0, 0, 0, 0, 0}, bias_ok = 0;
  for (size_t b = 0; b < B; b++) {
    for (size_t i = 0; i < dim; i++) {
      long first;
      tot[i] += count_spikes(out, T, B, D, b, i, &first);
    }
    long first;
    if (count_spikes(out, T, B, D, b, dim, &first) == 1 && first == 0)
      bias_ok++;
  }
  /* 10000 draws per input: expected 1000 (p = 0.1, sd 30) and 2000
   * (p = 0.2, sd 40); allow about 4 sd. */
  printf("\n  rate spike counts: %zu (exp 1000) %zu (exp 2000) %zu (exp 0) %zu (exp 2000)",
         tot[0], tot[1], tot[2], tot[3]);
  CU_ASSERT(tot[0] >= 880 && tot[0] <= 1120);
  CU_ASSERT(tot[1] >= 1840 && tot[1] <= 2160);
  CU_ASSERT_EQUAL(tot[2], 0);
  CU_ASSERT(tot[3] >= 1840 && tot[3] <= 2160);
  CU_ASSERT_EQUAL(bias_ok, B);

  /* NULL sample ids are refused for rate coding. */
  CU_ASSERT_EQUAL(sl_encode(&e, x, B, dim, NULL, 99, out), SL_EINVAL);
  CU_ASSERT(msg_has("sample_ids"));
  free(out);
}

static void test_rate_batch_independent(void)
{
  sl_encoder e = sl_encoder_default();
  e.kind = SL_ENCODE_RATE;
  e.rate_max = 0.5;
  const size_t T = e.t_steps, B = 8, dim = 4, D = dim + 1;
  float x[8 * 4];
  uint64_t ids[8];
  lcg_state = 5;
  for (size_t b = 0; b < B; b++) {
    ids[b] = 17 * b + 1;
    for (size_t i = 0; i < dim; i++)
      x[b * dim + i] = (float)test_uniform();
  }
  float *all = malloc(T * B * D * sizeof *all), *one = malloc(T * D * sizeof *one);
  float *other_seed = malloc(T * B * D * sizeof *other_seed);
  CU_ASSERT_FATAL(all && one && other_seed);
  CU_ASSERT_EQUAL_FATAL(sl_encode(&e, x, B, dim, ids, 3, all), SL_OK);
  size_t diffs = 0;
  for (size_t b = 0; b < B; b++) {
    CU_ASSERT_EQUAL_FATAL(sl_encode(&e, x + b * dim, 1, dim, ids + b, 3, one), SL_OK);
    for (size_t t = 0; t < T; t++)
      for (size_t i = 0; i < D; i++)
        if (one[t * D + i] != all[(t * B + b) * D + i])
          diffs++;
  }
  CU_ASSERT_EQUAL(diffs, 0);
  /* A different seed gives a different raster. */
  CU_ASSERT_EQUAL_FATAL(sl_encode(&e, x, B, dim, ids, 4, other_seed), SL_OK);
  CU_ASSERT(memcmp(all, other_seed, T * B * D * sizeof *all) != 0);
  free(all);
  free(one);
  free(other_seed);
}

static void test_encode_bad_input(void)
{
  sl_encoder e = sl_encoder_default();
  const size_t T = e.t_steps, B = 2, dim = 3, D = dim + 1;
  float out[40 * 2 * 4];
  float x[] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
  (void)T;
  (void)D;
  x[5] = NAN; /* sample 1, feature 2 */
  CU_ASSERT_EQUAL(sl_encode(&e, x, B, dim, NULL, 0, out), SL_ENUMERIC);
  CU_ASSERT(msg_has("sample 1"));
  CU_ASSERT(msg_has("feature 2"));
  x[5] = 0.6f;
  x[0] = INFINITY;
  CU_ASSERT_EQUAL(sl_encode(&e, x, B, dim, NULL, 0, out), SL_ENUMERIC);
  CU_ASSERT(msg_has("sample 0"));
  x[0] = 0.1f;
  CU_ASSERT_EQUAL(sl_encode(&e, x, B, dim, NULL, 0, out), SL_OK);

  struct {
    const char *setting;
    sl_encoder e;
  } bad[12];
  size_t nb = 0;
  for (size_t k = 0; k < 12; k++)
    bad[k].e = sl_encoder_default();
  bad[nb].setting = "t_steps"; bad[nb++].e.t_steps = 0;
  bad[nb].setting = "dt"; bad[nb++].e.dt = 0.0;
  bad[nb].setting = "dt"; bad[nb++].e.dt = NAN;
  bad[nb].setting = "t_early"; bad[nb].e.t_early = 30e-3; bad[nb++].e.t_late = 20e-3;
  bad[nb].setting = "rate_max"; bad[nb].e.kind = SL_ENCODE_RATE; bad[nb++].e.rate_max = 1.5;
  bad[nb].setting = "rate_max"; bad[nb].e.kind = SL_ENCODE_RATE; bad[nb++].e.rate_max = -0.1;
  bad[nb].setting = "tau_in"; bad[nb].e.kind = SL_ENCODE_LATENCY_LOG; bad[nb++].e.tau_in = 0.0;
  bad[nb].setting = "x_min"; bad[nb].e.kind = SL_ENCODE_LATENCY_LOG; bad[nb++].e.x_min = 1.0;
  bad[nb].setting = "x_min"; bad[nb].e.kind = SL_ENCODE_LATENCY_LOG; bad[nb++].e.x_min = -0.1;
  bad[nb].setting = "bias_time"; bad[nb++].e.bias_time = 1.0; /* step 1000 >= T */
  bad[nb].setting = "kind"; bad[nb++].e.kind = 42;
  uint64_t ids[2] = {0, 1};
  for (size_t k = 0; k < nb; k++) {
    int rc = sl_encode(&bad[k].e, x, B, dim, ids, 0, out);
    if (rc != SL_EINVAL || !msg_has(bad[k].setting))
      printf("\n  bad setting %s: rc %d, message '%s'", bad[k].setting, rc, sl_last_error());
    CU_ASSERT_EQUAL(rc, SL_EINVAL);
    CU_ASSERT(msg_has(bad[k].setting));
  }
  CU_ASSERT_EQUAL(sl_encode(NULL, x, B, dim, NULL, 0, out), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_encode(&e, x, B, dim, NULL, 0, NULL), SL_EINVAL);
}

/* ------------------------------------------------------------ HDF5 files */

/* Write an HDF5 fixture: /x (n, dim) unless x is NULL, /y (ny) unless y is
 * NULL, attribute n_classes unless nc < 0. */
static void write_fixture(const char *path, const float *x, size_t n, size_t dim,
                          const int *y, size_t ny, int nc)
{
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  CU_ASSERT_FATAL(f >= 0);
  hsize_t xd[2] = {n, dim}, yd[1] = {ny};
  if (x)
    CU_ASSERT(H5LTmake_dataset_float(f, "/x", 2, xd, x) >= 0);
  if (y)
    CU_ASSERT(H5LTmake_dataset_int(f, "/y", 1, yd, y) >= 0);
  if (nc >= 0)
    CU_ASSERT(H5LTset_attribute_int(f, "/", "n_classes", &nc, 1) >= 0);
  H5Fclose(f);
}

/* Load `path` into *d: n samples of dim features in nc classes. */
static void load_expect(const char *path, sl_dataset *d, size_t n, size_t dim, size_t nc)
{
  CU_ASSERT_EQUAL_FATAL(sl_dataset_load_h5(d, path), SL_OK);
  CU_ASSERT_EQUAL(d->n, n);
  CU_ASSERT_EQUAL(d->dim, dim);
  CU_ASSERT_EQUAL(d->n_classes, nc);
}

static void test_h5_round_trip(void)
{
  char path[512], tmp[600];
  sl_test_tmpfile("data_rt", path, sizeof path);
  tmp_of(path, tmp, sizeof tmp);
  sl_dataset a = {0}, b = {0};
  CU_ASSERT_EQUAL_FATAL(sl_yinyang_generate(&a, 257, 3), SL_OK);
  a.n_classes = 5; /* the attribute, not max(y)+1, must come back */
  CU_ASSERT_EQUAL_FATAL(sl_dataset_save_h5(&a, path), SL_OK);
  CU_ASSERT(file_exists(path));
  CU_ASSERT(!file_exists(tmp));
  load_expect(path, &b, a.n, a.dim, 5);
  CU_ASSERT(memcmp(a.x, b.x, a.n * a.dim * sizeof(float)) == 0);
  CU_ASSERT(memcmp(a.y, b.y, a.n * sizeof(int32_t)) == 0);
  sl_dataset_free(&b);

  /* Overwriting an existing file works and still leaves no .tmp. */
  a.n_classes = 3;
  CU_ASSERT_EQUAL(sl_dataset_save_h5(&a, path), SL_OK);
  load_expect(path, &b, a.n, a.dim, 3);
  CU_ASSERT(!file_exists(tmp));
  sl_dataset_free(&b);

  /* Saving data that load would reject fails and writes nothing. */
  remove(path);
  a.y[3] = 3; /* outside [0, 3) */
  CU_ASSERT_EQUAL(sl_dataset_save_h5(&a, path), SL_EINVAL);
  a.y[3] = 0;
  a.x[5] = NAN;
  CU_ASSERT_EQUAL(sl_dataset_save_h5(&a, path), SL_ENUMERIC);
  CU_ASSERT(!file_exists(path) && !file_exists(tmp));

  /* A save into a missing directory fails with SL_EIO, leaving nothing. */
  a.x[5] = 0.5f;
  char bad[600];
  snprintf(bad, sizeof bad, "%s.nodir/x.h5", path);
  CU_ASSERT_EQUAL(sl_dataset_save_h5(&a, bad), SL_EIO);
  CU_ASSERT(msg_has(".nodir"));
  sl_dataset_free(&a);

  /* Empty data set round trip. */
  CU_ASSERT_EQUAL_FATAL(sl_dataset_alloc(&a, 0, 4, 3), SL_OK);
  CU_ASSERT_EQUAL(sl_dataset_save_h5(&a, path), SL_OK);
  load_expect(path, &b, 0, 4, 3);
  sl_dataset_free(&a);
  sl_dataset_free(&b);
  remove(path);
}

static void test_h5_load_errors(void)
{
  char path[512];
  sl_test_tmpfile("data_bad", path, sizeof path);
  sl_dataset d = {0};

  /* Missing file. */
  remove(path);
  CU_ASSERT_EQUAL(sl_dataset_load_h5(&d, path), SL_EIO);
  CU_ASSERT(msg_has(path));
  CU_ASSERT_PTR_NULL(d.x);

  /* Not an HDF5 file. */
  FILE *f = fopen(path, "wb");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  for (int i = 0; i < 4096; i++)
    fputc((i * 37 + 11) & 0xff, f);
  fclose(f);
  CU_ASSERT_EQUAL(sl_dataset_load_h5(&d, path), SL_EIO);
  CU_ASSERT(msg_has(path));

  /* Empty file. */
  f = fopen(path, "wb");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fclose(f);
  CU_ASSERT_EQUAL(sl_dataset_load_h5(&d, path), SL_EIO);

  /* Truncated to half its length. */
  sl_dataset a = {0};
  CU_ASSERT_EQUAL_FATAL(sl_yinyang_generate(&a, 1000, 1), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_dataset_save_h5(&a, path), SL_OK);
  struct stat st;
  CU_ASSERT_FATAL(stat(path, &st) == 0);
  CU_ASSERT_FATAL(truncate(path, st.st_size / 2) == 0);
  CU_ASSERT_EQUAL(sl_dataset_load_h5(&d, path), SL_EIO);
  CU_ASSERT(msg_has(path));
  CU_ASSERT_PTR_NULL(d.x);

  const float x[6] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
  const int y[3] = {0, 1, 2};

  /* Missing /y, missing /x. */
  write_fixture(path, x, 3, 2, NULL, 0, 3);
  CU_ASSERT_EQUAL(sl_dataset_load_h5(&d, path), SL_EFORMAT);
  CU_ASSERT(msg_has("/y"));
  write_fixture(path, NULL, 0, 0, y, 3, 3);
  CU_ASSERT_EQUAL(sl_dataset_load_h5(&d, path), SL_EFORMAT);
  CU_ASSERT(msg_has("/x"));

  /* Length mismatch: 3 rows of x, 2 labels. */
  write_fixture(path, x, 3, 2, y, 2, 3);
  CU_ASSERT_EQUAL(sl_dataset_load_h5(&d, path), SL_EFORMAT);

  /* Wrong rank: /x one-dimensional. */
  {
    hid_t h = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t n6[1] = {6}, n3[1] = {3};
    H5LTmake_dataset_float(h, "/x", 1, n6, x);
    H5LTmake_dataset_int(h, "/y", 1, n3, y);
    H5Fclose(h);
  }
  CU_ASSERT_EQUAL(sl_dataset_load_h5(&d, path), SL_EFORMAT);
  CU_ASSERT(msg_has("rank"));

  /* Label outside [0, n_classes), and a negative label without the attribute. */
  write_fixture(path, x, 3, 2, y, 3, 2);
  CU_ASSERT_EQUAL(sl_dataset_load_h5(&d, path), SL_EFORMAT);
  const int yneg[3] = {0, -1, 1};
  write_fixture(path, x, 3, 2, yneg, 3, -1);
  CU_ASSERT_EQUAL(sl_dataset_load_h5(&d, path), SL_EFORMAT);

  /* Non-finite feature. */
  const float xnan[6] = {0.1f, 0.2f, 0.3f, NAN, 0.5f, 0.6f};
  write_fixture(path, xnan, 3, 2, y, 3, 3);
  CU_ASSERT_EQUAL(sl_dataset_load_h5(&d, path), SL_ENUMERIC);
  CU_ASSERT(msg_has("sample 1"));
  CU_ASSERT_PTR_NULL(d.x);

  /* Without the attribute, a label of INT32_MAX would make n_classes overflow
   * int32 (signed overflow before: found by test/fuzz/fuzz_dataset). */
  const int ybig[3] = {0, INT32_MAX, 1};
  write_fixture(path, x, 3, 2, ybig, 3, -1);
  CU_ASSERT_EQUAL(sl_dataset_load_h5(&d, path), SL_EFORMAT);
  CU_ASSERT(msg_has("label 2147483647 of sample 1 is too large"));
  CU_ASSERT_PTR_NULL(d.x);
  const int ybig1[3] = {0, INT32_MAX - 1, 1}; /* the largest that fits */
  write_fixture(path, x, 3, 2, ybig1, 3, -1);
  load_expect(path, &d, 3, 2, (size_t)INT32_MAX);
  sl_dataset_free(&d);

  /* No n_classes attribute: max(y) + 1. */
  const int y01[3] = {0, 1, 1};
  write_fixture(path, x, 3, 2, y01, 3, -1);
  load_expect(path, &d, 3, 2, 2);
  sl_dataset_free(&d);

  sl_dataset_free(&a);
  remove(path);
  CU_ASSERT_EQUAL(sl_dataset_load_h5(NULL, path), SL_EINVAL);
}

/* A dataset declared but never written (or, chunked, written in part) is
 * refused before anything is allocated: HDF5 would answer the read with
 * fill values, so a file of a few KB could make the loader allocate and
 * fill gigabytes (found by test/fuzz/fuzz_dataset). */
static void test_h5_unwritten(void)
{
  char path[512];
  sl_test_tmpfile("data_unwritten", path, sizeof path);
  sl_dataset d = {0};
  const float x[4] = {0.1f, 0.2f, 0.3f, 0.4f};
  const int y[2] = {0, 1};
  for (int c = 0; c < 3; c++) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    hsize_t big[2] = {(hsize_t)1 << 24, 2}, two[2] = {2, 2}, four[2] = {4, 2}, chunk[2] = {1, 2};
    hsize_t ny[1] = {c == 2 ? 4 : c == 1 ? 2 : big[0]};
    const char *bad = c == 1 ? "/y" : "/x";
    hid_t space = H5Screate_simple(2, c == 0 ? big : c == 2 ? four : two, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (c == 2)
      H5Pset_chunk(dcpl, 2, chunk);
    hid_t ds = H5Dcreate2(f, "/x", H5T_NATIVE_FLOAT, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (c == 1) /* /x whole, /y never written */
      H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
    if (c == 2) { /* rows 0 and 1 of 4 */
      hsize_t start[2] = {0, 0};
      hid_t mem = H5Screate_simple(2, two, NULL);
      H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, two, NULL);
      H5Dwrite(ds, H5T_NATIVE_FLOAT, mem, space, H5P_DEFAULT, x);
      H5Sclose(mem);
    }
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
    hid_t ys = H5Screate_simple(1, ny, NULL);
    ds = H5Dcreate2(f, "/y", H5T_NATIVE_INT, ys, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (c != 1 && ny[0] == 2)
      H5Dwrite(ds, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, y);
    H5Dclose(ds);
    H5Sclose(ys);
    H5Fclose(f);
    CU_ASSERT_EQUAL(sl_dataset_load_h5(&d, path), SL_EFORMAT);
    CU_ASSERT(msg_has(bad));
    CU_ASSERT(msg_has(c == 2 ? "holds only some of them" : "holds none of them"));
    CU_ASSERT_PTR_NULL(d.x);
  }
  remove(path);
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"yinyang labels at known points", test_label_known_points},
      {"yinyang labels vs reference", test_label_reference},
      {"yinyang determinism", test_generate_deterministic},
      {"yinyang geometry and balance", test_generate_properties},
      {"encoder defaults and names", test_encoder_defaults_and_names},
      {"encoder name table", test_encoder_names},
      {"latency linear", test_latency_linear},
      {"latency log", test_latency_log},
      {"rate mean", test_rate},
      {"rate batch independence", test_rate_batch_independent},
      {"encode bad input", test_encode_bad_input},
      {"hdf5 round trip", test_h5_round_trip},
      {"hdf5 load errors", test_h5_load_errors},
      {"hdf5 load: data declared but not written", test_h5_unwritten},
      {NULL, NULL},
  };
  int rc = sl_test_run("data", cases);
  H5close();
  return rc;
}
