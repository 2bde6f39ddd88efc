/* test_cam.c -- content-addressable memory on crossbars (lib/cam.c).
 *
 *   - bad input: metric, top_k, NaN, Hamming on continuous devices;
 *   - without noise every stored vector (ternary and multi-level) is found
 *     as its own best match with similarity 1, cosine and Hamming; top-k
 *     order; replacing one stored vector;
 *   - graceful degradation: with growing device noise (programming and
 *     read) and search noise, the recall of noisy queries falls from high to
 *     clearly lower, monotonically within a tolerance.
 */
#include "config.h"
#include "spikeloop/cam.h"
#include "spikeloop/error.h"
#include "base/rng.h"

#include <string.h>

#include "testutil.h"

#define DIM 64
#define K 32

static void ternary_vectors(float *v, size_t k, size_t dim, uint64_t seed)
{
  sl_rng_state r;
  sl_rng_seed(&r, seed);
  for (size_t i = 0; i < k * dim; i++)
    v[i] = (float)((int)(sl_rng_uniform(&r) * 3.0) - 1);
}

static sl_cam_params quiet(sl_cam_metric m)
{
  sl_cam_params p = sl_cam_params_default();
  p.metric = m;
  p.device.prog_sd = 0.0;
  p.device.read_sd = 0.0;
  p.device.drift_nu = 0.0;
  return p;
}

static void test_bad_input(void)
{
  sl_cam *c = NULL;
  sl_cam_params p = sl_cam_params_default();
  p.metric = (sl_cam_metric)7;
  CU_ASSERT_EQUAL(sl_cam_alloc(&c, DIM, K, &p), SL_EINVAL);
  p = sl_cam_params_default();
  p.metric = SL_CAM_HAMMING;
  p.device.levels = 0;
  CU_ASSERT_EQUAL(sl_cam_alloc(&c, DIM, K, &p), SL_EINVAL);
  p = sl_cam_params_default();
  p.device.levels = 1;
  CU_ASSERT_EQUAL(sl_cam_alloc(&c, DIM, K, &p), SL_EINVAL);
  CU_ASSERT(strstr(sl_last_error(), "levels") != NULL);
  p = sl_cam_params_default();
  CU_ASSERT_EQUAL_FATAL(sl_cam_alloc(&c, DIM, K, &p), SL_OK);
  float v[K * DIM], q[DIM];
  size_t idx[K];
  ternary_vectors(v, K, DIM, 1);
  memcpy(q, v, sizeof q);
  CU_ASSERT_EQUAL(sl_cam_search(c, q, 1, 1, idx, NULL), SL_EINVAL); /* nothing stored */
  CU_ASSERT_EQUAL(sl_cam_store(c, v), SL_OK);
  CU_ASSERT_EQUAL(sl_cam_search(c, q, 1, 0, idx, NULL), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_cam_search(c, q, 1, K + 1, idx, NULL), SL_EINVAL);
  q[5] = NAN;
  CU_ASSERT_EQUAL(sl_cam_search(c, q, 1, 1, idx, NULL), SL_ENUMERIC);
  v[3] = NAN;
  CU_ASSERT_EQUAL(sl_cam_store(c, v), SL_ENUMERIC);
  sl_cam_free(c);
  sl_cam_free(NULL);
}

static void exact_recovery(sl_cam_metric m, unsigned levels)
{
  sl_cam_params p = quiet(m);
  p.device.levels = levels;
  sl_cam *c;
  CU_ASSERT_EQUAL_FATAL(sl_cam_alloc(&c, DIM, K, &p), SL_OK);
  float v[K * DIM];
  if (levels == 2) {
    ternary_vectors(v, K, DIM, 2);
  } else { /* multi-level values on the 2L-1 levels */
    sl_rng_state r;
    sl_rng_seed(&r, 3);
    double L = levels - 1;
    for (size_t i = 0; i < K * DIM; i++)
      v[i] = (float)(rint((2.0 * sl_rng_uniform(&r) - 1.0) * L) / L);
  }
  CU_ASSERT_EQUAL_FATAL(sl_cam_store(c, v), SL_OK);
  size_t idx[K * 3];
  float sim[K * 3];
  CU_ASSERT_EQUAL(sl_cam_search(c, v, K, 3, idx, sim), SL_OK);
  int ok = 1;
  for (size_t k = 0; k < K; k++) {
    if (idx[3 * k] != k || fabsf(sim[3 * k] - 1.0f) > 1e-3f) {
      printf("\n  query %zu -> %zu (%.5f) ", k, idx[3 * k], sim[3 * k]);
      ok = 0;
    }
    if (!(sim[3 * k] >= sim[3 * k + 1] && sim[3 * k + 1] >= sim[3 * k + 2]))
      ok = 0;
  }
  if (!ok)
    printf("\n  metric %d levels %u: query 0 -> %zu (%.4f), %zu (%.4f) ", (int)m, levels, idx[0],
           sim[0], idx[1], sim[1]);
  CU_ASSERT(ok);
  /* replace vector 5 by vector 9's negation: a query for it now finds 5 */
  float nv[DIM];
  for (size_t i = 0; i < DIM; i++)
    nv[i] = -v[9 * DIM + i];
  CU_ASSERT_EQUAL(sl_cam_store_one(c, 5, nv), SL_OK);
  CU_ASSERT_EQUAL(sl_cam_search(c, nv, 1, 1, idx, sim), SL_OK);
  CU_ASSERT_EQUAL(idx[0], 5);
  CU_ASSERT(fabsf(sim[0] - 1.0f) < 1e-3f);
  sl_cam_free(c);
}

static void test_exact_recovery(void)
{
  exact_recovery(SL_CAM_COSINE, 2);
  exact_recovery(SL_CAM_HAMMING, 2);
  exact_recovery(SL_CAM_COSINE, 8);
  exact_recovery(SL_CAM_HAMMING, 8);
}

/* Recall of queries that are stored vectors with 25% of elements redrawn,
 * at noise level s (device programming and read noise s, search noise s). */
static double recall(sl_cam_metric m, double s)
{
  sl_cam_params p = sl_cam_params_default();
  p.metric = m;
  p.device.prog_sd = s;
  p.device.max_pulses = 1;
  p.device.read_sd = s;
  p.query_sd = s;
  sl_cam *c;
  if (sl_cam_alloc(&c, DIM, K, &p))
    return -1.0;
  static float v[K * DIM], q[4 * K * DIM];
  ternary_vectors(v, K, DIM, 4);
  sl_cam_store(c, v);
  sl_rng_state r;
  sl_rng_seed(&r, 5);
  const size_t NQ = 4 * K;
  for (size_t n = 0; n < NQ; n++)
    for (size_t i = 0; i < DIM; i++) {
      float x = v[(n % K) * DIM + i];
      if (sl_rng_uniform(&r) < 0.25)
        x = (float)((int)(sl_rng_uniform(&r) * 3.0) - 1);
      q[n * DIM + i] = x;
    }
  size_t idx[4 * K];
  if (sl_cam_search(c, q, NQ, 1, idx, NULL)) {
    sl_cam_free(c);
    return -1.0;
  }
  size_t hit = 0;
  for (size_t n = 0; n < NQ; n++)
    hit += idx[n] == n % K;
  sl_cam_free(c);
  return (double)hit / NQ;
}

static void degradation(sl_cam_metric m)
{
  static const double noise[] = {0.0, 0.1, 0.3, 0.6, 1.0, 1.5};
  const size_t n = sizeof noise / sizeof noise[0];
  double acc[6];
  printf("\n  %s recall:", m == SL_CAM_COSINE ? "cosine" : "hamming");
  for (size_t k = 0; k < n; k++) {
    acc[k] = recall(m, noise[k]);
    printf(" %.2f@%.1f", acc[k], noise[k]);
  }
  CU_ASSERT(acc[0] >= 0.95);
  CU_ASSERT(acc[1] >= 0.9);
  CU_ASSERT(acc[n - 1] < acc[0] - 0.2);
  for (size_t k = 1; k < n; k++)
    CU_ASSERT(acc[k] <= acc[k - 1] + 0.05); /* monotone within tolerance */
}

static void test_degradation(void)
{
  degradation(SL_CAM_COSINE);
  degradation(SL_CAM_HAMMING);
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"bad input", test_bad_input},
      {"exact recovery without noise", test_exact_recovery},
      {"graceful degradation with noise", test_degradation},
      {NULL, NULL},
  };
  return sl_test_run("cam", cases);
}
