/* test_matmul.c -- the dense matrix kernels (lib/core/matmul.c, declared in
 * core/kernels.h) against their reference twins.
 *
 * The fast kernels promise the reference's floating-point operation order,
 * so the comparisons are memcmp: bit for bit, not "close". The exception:
 * slk_matmul_nt sends large products with more than 32 columns of g to the
 * CBLAS (another summation order): 1e-5. The reference of the accumulating
 * product is itself checked against an independent double sum.
 */
#include "config.h"
#include "spikeloop/error.h"
#include "core/kernels.h"

#include <string.h>

#include "fixtures.h"
#include "testutil.h"

static void check_matmul(double density)
{
  double worst = 0.0;
  int all_same = 1;
  for (size_t c = 0; c < SL_TEST_N_SHAPES; c++) {
    const size_t *sh = sl_test_shapes[c];
    size_t R = sh[0], K = sh[1], N = sh[2];
    sl_test_seed(100 + c);
    float *x = sl_test_falloc(R * K), *w = sl_test_falloc(K * N), *y = sl_test_falloc(R * N), *yr = sl_test_falloc(R * N);
    if (density < 1.0)
      sl_test_fill_spikes(x, R * K, density);
    else
      sl_test_fill_uniform(x, R * K, -1.0, 1.0);
    sl_test_fill_uniform(w, K * N, -1.0, 1.0);
    for (size_t i = 0; i < R * N; i++) /* both must overwrite */
      y[i] = 123.0f, yr[i] = -7.0f;
    slk_matmul(y, x, w, R, K, N);
    slk_matmul_ref(yr, x, w, R, K, N);
    int same = memcmp(y, yr, R * N * sizeof(float)) == 0;
    if (!same)
      printf("\n    matmul %zux%zux%zu differs", R, K, N);
    all_same &= same;
    double d = sl_test_max_rel_diff(y, yr, R * N, 1e-6);
    if (d > worst)
      worst = d;
    free(x), free(w), free(y), free(yr);
  }
  printf("\n    matmul (%s x) vs ref: max rel diff %.3g ", density < 1.0 ? "0/1" : "dense", worst);
  CU_ASSERT(all_same);
  CU_ASSERT(worst == 0.0);
}

static void test_matmul_sparse(void) { check_matmul(0.15); }
static void test_matmul_dense(void) { check_matmul(1.0); }

static void check_matmul_tn(double density)
{
  double worst = 0.0;
  int all_same = 1;
  for (size_t c = 0; c < SL_TEST_N_SHAPES; c++) {
    const size_t *sh = sl_test_shapes[c];
    size_t R = sh[0], K = sh[1], N = sh[2];
    sl_test_seed(200 + c);
    float *x = sl_test_falloc(R * K), *g = sl_test_falloc(R * N), *dw = sl_test_falloc(K * N);
    if (density < 1.0)
      sl_test_fill_spikes(x, R * K, density);
    else
      sl_test_fill_uniform(x, R * K, -1.0, 1.0);
    sl_test_fill_uniform(g, R * N, -1.0, 1.0);
    sl_test_fill_uniform(dw, K * N, -2.0, 2.0); /* accumulate onto a nonzero gradient */
    float *dw_ref = sl_test_fdup(dw, K * N), *dw0 = sl_test_fdup(dw, K * N);
    slk_matmul_tn_acc(dw, x, g, R, K, N);
    slk_matmul_tn_acc_ref(dw_ref, x, g, R, K, N);
    int same = memcmp(dw, dw_ref, K * N * sizeof(float)) == 0;
    if (!same)
      printf("\n    matmul_tn_acc %zux%zux%zu differs", R, K, N);
    all_same &= same;
    /* the reference itself must accumulate: compare with an independent sum */
    double acc_err = 0.0;
    for (size_t k = 0; k < K; k++)
      for (size_t n = 0; n < N; n++) {
        double s = dw0[k * N + n];
        for (size_t r = 0; r < R; r++)
          s += (double)x[r * K + k] * g[r * N + n];
        double e = fabs(s - dw_ref[k * N + n]) / (fabs(s) > 1.0 ? fabs(s) : 1.0);
        if (e > acc_err)
          acc_err = e;
      }
    CU_ASSERT(acc_err < 1e-4);
    double d = sl_test_max_rel_diff(dw, dw_ref, K * N, 1e-6);
    if (d > worst)
      worst = d;
    free(x), free(g), free(dw), free(dw_ref), free(dw0);
  }
  printf("\n    matmul_tn_acc (%s x) vs ref: max rel diff %.3g ", density < 1.0 ? "0/1" : "dense",
         worst);
  CU_ASSERT(all_same);
  CU_ASSERT(worst == 0.0);
}

static void test_matmul_tn_sparse(void) { check_matmul_tn(0.15); }
static void test_matmul_tn_dense(void) { check_matmul_tn(1.0); }

static void test_matmul_nt(void)
{
  /* small products stay in the library's own loop; one large enough
   * (R K N >= 2^22) to go to the CBLAS */
  static const size_t big[3] = {300, 130, 120};
  double worst = 0.0;
  int few_same = 1;
  for (size_t c = 0; c <= SL_TEST_N_SHAPES; c++) {
    const size_t *sh = c < SL_TEST_N_SHAPES ? sl_test_shapes[c] : big;
    size_t R = sh[0], K = sh[1], N = sh[2];
    sl_test_seed(300 + c);
    float *g = sl_test_falloc(R * N), *w = sl_test_falloc(K * N), *gx = sl_test_falloc(R * K), *gxr = sl_test_falloc(R * K);
    sl_test_fill_uniform(g, R * N, -1.0, 1.0);
    sl_test_fill_uniform(w, K * N, -1.0, 1.0);
    for (size_t i = 0; i < R * K; i++)
      gx[i] = 55.0f, gxr[i] = -55.0f;
    slk_matmul_nt(gx, g, w, R, K, N);
    slk_matmul_nt_ref(gxr, g, w, R, K, N);
    /* floor 1: the terms are O(1), so single sums that cancel are judged
     * against the size of their terms, not their tiny result */
    double d = sl_test_max_rel_diff(gx, gxr, R * K, 1.0);
    if (d > worst)
      worst = d;
    if (N <= 32) /* few columns: the library's axpy loop, same order as the reference */
      few_same &= memcmp(gx, gxr, R * K * sizeof(float)) == 0;
    free(g), free(w), free(gx), free(gxr);
  }
  printf("\n    matmul_nt (own loops and CBLAS) vs ref: max rel diff %.3g; with <= 32 columns %s ",
         worst, few_same ? "bit-identical" : "DIFFERENT");
  CU_ASSERT(worst < 1e-5);
  CU_ASSERT(few_same);
}
int main(void)
{
  static const sl_test_case cases[] = {
      {"matmul, 0/1 input, bit-identical", test_matmul_sparse},
      {"matmul, dense input, bit-identical", test_matmul_dense},
      {"matmul_tn_acc, 0/1 input, bit-identical", test_matmul_tn_sparse},
      {"matmul_tn_acc, dense input, bit-identical", test_matmul_tn_dense},
      {"matmul_nt (CBLAS) within 1e-5", test_matmul_nt},
      {NULL, NULL}};
  return sl_test_run_paths("matmul", cases);
}
