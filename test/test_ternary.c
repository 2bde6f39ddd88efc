/* test_ternary.c -- the ternary quantiser (lib/cim/ternary.c): a hand
 * example, the fast version against the double-precision reference on
 * random tensors, codes, the threshold factor's extremes, the
 * straight-through backward, and bad input.
 */
#include "config.h"
#include "spikeloop/error.h"
#include "spikeloop/ternary.h"

#include <string.h>

#include "fixtures.h"
#include "testutil.h"

/* w = {0.9, -0.1, 0.5, -1.2, 0.05, 0.3}: mean|w| = 3.05/6 = 0.50833,
 * delta = 0.7 * 0.50833 = 0.35583; above it: 0.9, 0.5, -1.2 -> a = 2.6/3. */
static void test_hand_example(void)
{
  const float w[6] = {0.9f, -0.1f, 0.5f, -1.2f, 0.05f, 0.3f};
  float q[6], c[6];
  sl_ternary_info info;
  CU_ASSERT_FATAL(sl_ternary_quantise(q, w, 6, 0.7, &info) == SL_OK);
  const float a = 2.6f / 3.0f;
  const float want[6] = {a, 0, a, -a, 0, 0};
  for (int i = 0; i < 6; i++)
    CU_ASSERT(fabsf(q[i] - want[i]) < 1e-6f);
  CU_ASSERT(fabsf(info.alpha - a) < 1e-6f);
  CU_ASSERT(fabsf(info.delta - 0.7f * 3.05f / 6.0f) < 1e-6f);
  CU_ASSERT(info.n_nonzero == 3);
  CU_ASSERT_FATAL(sl_ternary_codes(c, w, 6, 0.7, NULL) == SL_OK);
  const float wc[6] = {1, 0, 1, -1, 0, 0};
  CU_ASSERT(memcmp(c, wc, sizeof wc) == 0);
}

static void test_fast_vs_ref(void)
{
  sl_test_seed(9);
  const size_t sizes[] = {1, 7, 144, 4608};
  const double ts[] = {0.0, 0.3, 0.7, 1.5};
  for (size_t s = 0; s < 4; s++)
    for (size_t k = 0; k < 4; k++) {
      const size_t n = sizes[s];
      float *w = sl_test_falloc(n), *q1 = sl_test_falloc(n), *q2 = sl_test_falloc(n);
      sl_test_fill_uniform(w, n, -1, 1);
      sl_ternary_info i1, i2;
      CU_ASSERT_FATAL(sl_ternary_quantise(q1, w, n, ts[k], &i1) == SL_OK);
      CU_ASSERT_FATAL(sl_ternary_quantise_ref(q2, w, n, ts[k], &i2) == SL_OK);
      CU_ASSERT(i1.n_nonzero == i2.n_nonzero);
      CU_ASSERT(sl_test_max_rel_diff(q1, q2, n, 1e-3) < 1e-6);
      /* every value is 0 or +-alpha, with the sign of w; zeros are small */
      size_t nz = 0;
      for (size_t i = 0; i < n; i++) {
        if (q1[i] != 0.0f) {
          nz++;
          CU_ASSERT(fabsf(fabsf(q1[i]) - i1.alpha) < 1e-7f && (q1[i] > 0) == (w[i] > 0));
          CU_ASSERT(fabsf(w[i]) > i1.delta);
        } else {
          CU_ASSERT(fabsf(w[i]) <= i1.delta);
        }
      }
      CU_ASSERT(nz == i1.n_nonzero);
      /* alpha minimises |w - q|^2 on its support: a +-1% change is worse */
      if (nz) {
        double e0 = 0, ep = 0, em = 0;
        for (size_t i = 0; i < n; i++) {
          const double sgn = q1[i] > 0 ? 1 : q1[i] < 0 ? -1 : 0;
          e0 += pow(w[i] - sgn * i1.alpha, 2);
          ep += pow(w[i] - sgn * i1.alpha * 1.01, 2);
          em += pow(w[i] - sgn * i1.alpha * 0.99, 2);
        }
        CU_ASSERT(e0 <= ep && e0 <= em);
      }
      free(w), free(q1), free(q2);
    }
}

static void test_extremes_and_ste(void)
{
  float w[4] = {0, 0, 0, 0}, q[4] = {9, 9, 9, 9};
  sl_ternary_info info;
  CU_ASSERT(sl_ternary_quantise(q, w, 4, 0.7, &info) == SL_OK); /* all zero */
  CU_ASSERT(info.alpha == 0.0f && info.n_nonzero == 0 && q[0] == 0.0f && q[3] == 0.0f);
  float v[4] = {0.5f, -0.25f, 0.0f, 1.0f};
  CU_ASSERT(sl_ternary_quantise(q, v, 4, 0.0, &info) == SL_OK); /* t = 0: every non-zero */
  CU_ASSERT(info.n_nonzero == 3);
  CU_ASSERT(sl_ternary_quantise(v, v, 4, 0.7, &info) == SL_OK); /* in place */
  CU_ASSERT(v[2] == 0.0f && v[0] == v[3]);
  float dw[3] = {1, 2, 3}, dq[3] = {0.5f, -1, 0};
  CU_ASSERT(sl_ternary_ste_backward(dw, dq, 3) == SL_OK);
  CU_ASSERT(dw[0] == 1.5f && dw[1] == 1.0f && dw[2] == 3.0f);
}

static void test_bad_input(void)
{
  float w[3] = {1, NAN, 2}, q[3] = {7, 7, 7};
  sl_clear_error();
  CU_ASSERT(sl_ternary_quantise(q, w, 3, 0.7, NULL) == SL_ENUMERIC);
  CU_ASSERT(sl_test_msg_has("NaN"));
  CU_ASSERT(q[0] == 7.0f); /* untouched */
  CU_ASSERT(sl_ternary_quantise(q, w, 0, 0.7, NULL) == SL_EINVAL);
  CU_ASSERT(sl_ternary_quantise(q, w, 3, -1.0, NULL) == SL_EINVAL);
  CU_ASSERT(sl_ternary_quantise(NULL, w, 3, 0.7, NULL) == SL_EINVAL);
  CU_ASSERT(sl_ternary_ste_backward(NULL, w, 3) == SL_EINVAL);
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"hand example: threshold, magnitude, codes", test_hand_example},
      {"fast vs reference, value and support checks", test_fast_vs_ref},
      {"all-zero tensor, t = 0, in place, straight-through backward", test_extremes_and_ste},
      {"bad input", test_bad_input},
      {NULL, NULL}};
  return sl_test_run("ternary", cases);
}
