/* test_loss.c -- cross-entropy readout loss and regularisers
 * (spikeloop/loss.h).
 *
 * The loss value is checked against an independent reference in double
 * (log-softmax cross-entropy of the max or the sum over time), the gradient
 * dL/dv_out against central differences of sl_loss_ce itself (the steps
 * are the exact float differences actually applied), the spike-count
 * regulariser against its definition and finite differences on s, and the
 * error codes.
 */
#include "config.h"
#include "spikeloop/error.h"
#include "spikeloop/loss.h"

#include <stdint.h>
#include <string.h>

#include "testutil.h"

static uint64_t rng_state = 1;
static void rng_seed(uint64_t s) { rng_state = s * 2685821657736338717ull + 1; }
static double urand(void)
{
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (double)((rng_state * 2685821657736338717ull) >> 11) * 0x1.0p-53;
}

/* Reference loss in double; logits (B,K) and argmax-correct count out. */
static double ref_loss(int kind, size_t T, size_t B, size_t K, const float *v, const int32_t *y,
                       double reg_amp, double *logits, size_t *correct)
{
  double total = 0.0, amp = 0.0;
  *correct = 0;
  for (size_t b = 0; b < B; b++) {
    double zmax = -INFINITY;
    size_t arg = 0;
    for (size_t k = 0; k < K; k++) {
      double z = kind == SL_LOSS_MAX ? -INFINITY : 0.0;
      for (size_t t = 0; t < T; t++) {
        double x = v[(t * B + b) * K + k];
        z = kind == SL_LOSS_MAX ? (x > z ? x : z) : z + x;
      }
      logits[b * K + k] = z;
      amp += z * z;
      if (z > zmax)
        zmax = z, arg = k;
    }
    double se = 0.0;
    for (size_t k = 0; k < K; k++)
      se += exp(logits[b * K + k] - zmax);
    total += zmax + log(se) - logits[b * K + y[b]];
    *correct += arg == (size_t)y[b];
  }
  return total / (double)B + reg_amp * amp / (double)(B * K);
}

/* Membranes whose per-(b,k) maximum over time is unique by a margin of at
 * least 0.05 (so that small perturbations do not move the argmax). */
static void make_membranes(float *v, size_t T, size_t B, size_t K)
{
  for (size_t i = 0; i < T * B * K; i++)
    v[i] = (float)(2.0 * urand() - 1.0);
  for (size_t b = 0; b < B; b++)
    for (size_t k = 0; k < K; k++) {
      size_t ts = (size_t)(urand() * T);
      float m = -INFINITY;
      for (size_t t = 0; t < T; t++)
        if (t != ts && v[(t * B + b) * K + k] > m)
          m = v[(t * B + b) * K + k];
      v[(ts * B + b) * K + k] = m + 0.05f + (float)urand();
    }
}

typedef struct {
  double loss_diff, logit_diff, grad_diff, grad_max;
} loss_report;

static void check_loss(int kind, double reg_amp, loss_report *rep)
{
  const size_t T = 17, B = 5, K = 4, n = T * B * K;
  rng_seed(kind * 10 + (reg_amp > 0) + 1);
  float *v = malloc(n * sizeof(float)), *gv = malloc(n * sizeof(float));
  float logits[5 * 4];
  double ref_logits[5 * 4];
  int32_t y[5] = {0, 3, 1, 2, 3};
  make_membranes(v, T, B, K);
  size_t correct_ref, correct = 999;
  double lref = ref_loss(kind, T, B, K, v, y, reg_amp, ref_logits, &correct_ref);
  double loss = 0.0;
  for (size_t i = 0; i < n; i++)
    gv[i] = 99.0f; /* must be overwritten */
  CU_ASSERT_FATAL(sl_loss_ce(kind, T, B, K, v, y, reg_amp, &loss, gv, logits, &correct) ==
                  SL_OK);
  rep->loss_diff = fabs(loss - lref) / fabs(lref);
  rep->logit_diff = 0.0;
  for (size_t i = 0; i < B * K; i++) {
    double d = fabs(logits[i] - ref_logits[i]) / (fabs(ref_logits[i]) > 1 ? fabs(ref_logits[i]) : 1);
    if (d > rep->logit_diff)
      rep->logit_diff = d;
  }
  CU_ASSERT(rep->loss_diff < 1e-6);
  CU_ASSERT(rep->logit_diff < 1e-6);
  CU_ASSERT(correct == correct_ref);

  /* gradient vs central differences of the loss in every entry */
  const float h = kind == SL_LOSS_MAX ? 1e-3f : 1e-2f;
  rep->grad_diff = rep->grad_max = 0.0;
  size_t nonzero_wrong = 0;
  for (size_t i = 0; i < n; i++) {
    const float v0 = v[i];
    double lp, lm;
    v[i] = v0 + h;
    float up = v[i];
    CU_ASSERT_FATAL(sl_loss_ce(kind, T, B, K, v, y, reg_amp, &lp, NULL, NULL, NULL) == SL_OK);
    v[i] = v0 - h;
    float dn = v[i];
    CU_ASSERT_FATAL(sl_loss_ce(kind, T, B, K, v, y, reg_amp, &lm, NULL, NULL, NULL) == SL_OK);
    v[i] = v0;
    double fd = (lp - lm) / ((double)up - (double)dn);
    double d = fabs(fd - gv[i]);
    if (d > rep->grad_diff)
      rep->grad_diff = d;
    if (fabs(gv[i]) > rep->grad_max)
      rep->grad_max = fabs(gv[i]);
    if (kind == SL_LOSS_MAX && (fd == 0.0) != (gv[i] == 0.0f))
      nonzero_wrong++;
  }
  CU_ASSERT(rep->grad_max > 1e-2);
  CU_ASSERT(rep->grad_diff < 1e-4);
  CU_ASSERT(nonzero_wrong == 0);

  /* max: exactly one time step per (b, k) carries the gradient, the argmax */
  if (kind == SL_LOSS_MAX) {
    size_t bad = 0;
    for (size_t b = 0; b < B; b++)
      for (size_t k = 0; k < K; k++) {
        size_t nz = 0, arg = 0;
        float m = -INFINITY;
        for (size_t t = 0; t < T; t++) {
          size_t i = (t * B + b) * K + k;
          nz += gv[i] != 0.0f;
          if (v[i] > m)
            m = v[i], arg = t;
        }
        bad += nz != 1 || gv[(arg * B + b) * K + k] == 0.0f;
      }
    CU_ASSERT(bad == 0);
  }
  free(v), free(gv);
}

static void report(const char *label, const loss_report *r)
{
  printf("\n    %-22s loss rel diff %.2e, logits %.2e, |grad - fd| max %.2e (|grad| max %.3f) ",
         label, r->loss_diff, r->logit_diff, r->grad_diff, r->grad_max);
}

static void test_ce_max(void)
{
  loss_report r;
  check_loss(SL_LOSS_MAX, 0.0, &r);
  report("max", &r);
}

static void test_ce_sum(void)
{
  loss_report r;
  check_loss(SL_LOSS_SUM, 0.0, &r);
  report("sum", &r);
}

static void test_ce_amp(void)
{
  loss_report r;
  check_loss(SL_LOSS_MAX, 0.05, &r);
  report("max + amplitude reg", &r);
  check_loss(SL_LOSS_SUM, 0.01, &r);
  report("sum + amplitude reg", &r);

  /* the amplitude term alone: same logits, difference of the losses */
  const size_t T = 3, B = 2, K = 3;
  float v[3 * 2 * 3];
  for (size_t i = 0; i < T * B * K; i++)
    v[i] = (float)i * 0.25f - 2.0f;
  int32_t y[2] = {2, 0};
  double l0, l1, z[6];
  size_t c;
  CU_ASSERT(sl_loss_ce(SL_LOSS_SUM, T, B, K, v, y, 0.0, &l0, NULL, NULL, NULL) == SL_OK);
  CU_ASSERT(sl_loss_ce(SL_LOSS_SUM, T, B, K, v, y, 0.3, &l1, NULL, NULL, NULL) == SL_OK);
  ref_loss(SL_LOSS_SUM, T, B, K, v, y, 0.0, z, &c);
  double amp = 0.0;
  for (size_t i = 0; i < B * K; i++)
    amp += z[i] * z[i];
  amp *= 0.3 / (B * K);
  printf("\n    amplitude term %.6f, expected %.6f ", l1 - l0, amp);
  CU_ASSERT(fabs((l1 - l0) - amp) < 1e-9 * amp);
}

static void test_n_correct(void)
{
  /* T = 2, B = 4, K = 3; logits (max over time) chosen by hand */
  const float v[2 * 4 * 3] = {/* t = 0 */ 1, 0, 0, 0, 2, 0, 0, 0, 3, 5, 4, 0,
                              /* t = 1 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
  /* argmax per sample: 0, 1, 2, 2 */
  int32_t y[4] = {0, 1, 0, 2};
  size_t c = 99;
  double loss;
  CU_ASSERT(sl_loss_ce(SL_LOSS_MAX, 2, 4, 3, v, y, 0.0, &loss, NULL, NULL, &c) == SL_OK);
  CU_ASSERT(c == 3);
  /* sum: sample 3 logits (5, 4, 9): still 2 */
  CU_ASSERT(sl_loss_ce(SL_LOSS_SUM, 2, 4, 3, v, y, 0.0, &loss, NULL, NULL, &c) == SL_OK);
  CU_ASSERT(c == 3);
  y[2] = 2;
  CU_ASSERT(sl_loss_ce(SL_LOSS_SUM, 2, 4, 3, v, y, 0.0, &loss, NULL, NULL, &c) == SL_OK);
  CU_ASSERT(c == 4);
}

/* ------------------------------------------------------------ spike count */

static void test_spike_count(void)
{
  const size_t T = 7, B = 3, N = 5, n = T * B * N;
  const double w = 0.07;
  rng_seed(77);
  float s[7 * 3 * 5], gs[7 * 3 * 5], gs0[7 * 3 * 5];
  for (size_t i = 0; i < n; i++) {
    s[i] = urand() < 0.4 ? 1.0f : 0.0f;
    gs0[i] = gs[i] = (float)(urand() - 0.5); /* the gradient is added to this */
  }
  double r = 0.0, ref = 0.0;
  for (size_t b = 0; b < B; b++)
    for (size_t j = 0; j < N; j++) {
      double c = 0.0;
      for (size_t t = 0; t < T; t++)
        c += s[(t * B + b) * N + j];
      ref += c * c;
    }
  ref *= w / (double)(B * N);
  CU_ASSERT_FATAL(sl_reg_spike_count(T, B, N, s, w, &r, gs) == SL_OK);
  CU_ASSERT(ref > 0);
  double vd = fabs(r - ref) / ref;

  /* R is quadratic in s: central differences with step 0.5 are exact */
  double worst = 0.0, gmax = 0.0;
  for (size_t i = 0; i < n; i++) {
    float s0 = s[i];
    double rp, rm;
    s[i] = s0 + 0.5f;
    CU_ASSERT_FATAL(sl_reg_spike_count(T, B, N, s, w, &rp, NULL) == SL_OK);
    s[i] = s0 - 0.5f;
    CU_ASSERT_FATAL(sl_reg_spike_count(T, B, N, s, w, &rm, NULL) == SL_OK);
    s[i] = s0;
    double fd = rp - rm, g = (double)gs[i] - gs0[i];
    double d = fabs(fd - g) / (fabs(fd) > 1e-3 ? fabs(fd) : 1e-3);
    if (d > worst)
      worst = d;
    if (fabs(g) > gmax)
      gmax = fabs(g);
  }
  printf("\n    spike count: value %.6f (rel diff %.2e), grad vs fd max rel diff %.2e "
         "(|grad| max %.4f) ",
         r, vd, worst, gmax);
  CU_ASSERT(vd < 1e-12);
  CU_ASSERT(worst < 1e-5);
  CU_ASSERT(gmax > 0.0);

  /* weight 0: value 0, gs untouched; NULL gs allowed */
  memcpy(gs, gs0, sizeof gs);
  CU_ASSERT(sl_reg_spike_count(T, B, N, s, 0.0, &r, gs) == SL_OK);
  CU_ASSERT(r == 0.0);
  CU_ASSERT(memcmp(gs, gs0, sizeof gs) == 0);
  CU_ASSERT(sl_reg_spike_count(T, B, N, s, w, &r, NULL) == SL_OK);
  CU_ASSERT(fabs(r - ref) <= 1e-12 * ref);
  CU_ASSERT(sl_reg_spike_count(T, B, N, s, -0.1, &r, gs) == SL_EINVAL);
  CU_ASSERT(sl_reg_spike_count(T, B, N, s, NAN, &r, gs) == SL_EINVAL);
  CU_ASSERT(sl_reg_spike_count(0, B, N, s, w, &r, gs) == SL_EINVAL);
}

/* ------------------------------------------------------------ errors */

static void test_errors(void)
{
  const size_t T = 4, B = 2, K = 3;
  float v[4 * 2 * 3];
  for (size_t i = 0; i < T * B * K; i++)
    v[i] = (float)(i % 5) * 0.3f;
  int32_t y[2] = {1, 2};
  double loss;
  for (int kind = 0; kind < 2; kind++) {
    CU_ASSERT(sl_loss_ce(kind, T, B, K, v, y, 0.0, &loss, NULL, NULL, NULL) == SL_OK);
    const int32_t bad_labels[3] = {-1, 3, 1000};
    for (size_t i = 0; i < 3; i++) {
      int32_t yb[2] = {1, bad_labels[i]};
      sl_clear_error();
      CU_ASSERT(sl_loss_ce(kind, T, B, K, v, yb, 0.0, &loss, NULL, NULL, NULL) == SL_EINVAL);
      CU_ASSERT(sl_last_error()[0] != '\0');
    }
    /* a non-finite membrane at any time step, first or later */
    const size_t where[3] = {0, 1 * B * K + 4, (T - 1) * B * K + 2};
    const float what[2] = {NAN, INFINITY};
    for (size_t w = 0; w < 3; w++)
      for (size_t q = 0; q < 2; q++) {
        float vb[4 * 2 * 3];
        memcpy(vb, v, sizeof v);
        vb[where[w]] = what[q];
        sl_clear_error();
        int rc = sl_loss_ce(kind, T, B, K, vb, y, 0.0, &loss, NULL, NULL, NULL);
        if (rc != SL_ENUMERIC)
          printf("\n    %s loss, %s membrane at t = %zu: rc %d, loss %g (want SL_ENUMERIC)",
                 sl_loss_name(kind), isnan(what[q]) ? "NaN" : "Inf", where[w] / (B * K), rc,
                 loss);
        CU_ASSERT(rc == SL_ENUMERIC);
      }
  }
  CU_ASSERT(sl_loss_ce(5, T, B, K, v, y, 0.0, &loss, NULL, NULL, NULL) == SL_EINVAL);
  CU_ASSERT(sl_loss_ce(SL_LOSS_MAX, 0, B, K, v, y, 0.0, &loss, NULL, NULL, NULL) == SL_EINVAL);

  int kind = -1;
  CU_ASSERT(sl_loss_from_name("max", &kind) == SL_OK && kind == SL_LOSS_MAX);
  CU_ASSERT(sl_loss_from_name("sum", &kind) == SL_OK && kind == SL_LOSS_SUM);
  sl_clear_error();
  CU_ASSERT(sl_loss_from_name("mse", &kind) == SL_ENOTFOUND);
  CU_ASSERT(strstr(sl_last_error(), "mse") != NULL);
  CU_ASSERT(sl_loss_from_name(NULL, &kind) == SL_ENOTFOUND);
  CU_ASSERT(kind == SL_LOSS_SUM); /* unchanged on error */
  CU_ASSERT(strcmp(sl_loss_name(SL_LOSS_MAX), "max") == 0);
  CU_ASSERT(strcmp(sl_loss_name(SL_LOSS_SUM), "sum") == 0);
  CU_ASSERT(sl_loss_name(7) == NULL);
  CU_ASSERT(sl_loss_name(-1) == NULL);
}

/* The name table: NULL-terminated, in kind order, round trip by name, and
 * the "known:" message lists it. */
static void test_names(void)
{
  const char *const *list = sl_loss_list();
  size_t n = 0;
  for (; list[n]; n++) {
    int kind = -1;
    CU_ASSERT(sl_loss_from_name(list[n], &kind) == SL_OK && kind == (int)n);
    CU_ASSERT(sl_loss_name((int)n) == list[n]);
  }
  CU_ASSERT(n == 2);
  CU_ASSERT(strcmp(list[SL_LOSS_MAX], "max") == 0 && strcmp(list[SL_LOSS_SUM], "sum") == 0);
  CU_ASSERT(sl_loss_name((int)n) == NULL);
  int kind;
  CU_ASSERT(sl_loss_from_name("mse", &kind) == SL_ENOTFOUND);
  CU_ASSERT_STRING_EQUAL(sl_last_error(), "unknown loss 'mse' (known: max, sum)");
  CU_ASSERT(sl_loss_from_name(NULL, &kind) == SL_ENOTFOUND);
  CU_ASSERT_STRING_EQUAL(sl_last_error(), "unknown loss '(null)' (known: max, sum)");
}

int main(void)
{
  static const sl_test_case cases[] = {{"cross-entropy of the max over time", test_ce_max},
                                       {"cross-entropy of the sum over time", test_ce_sum},
                                       {"amplitude regulariser", test_ce_amp},
                                       {"n_correct", test_n_correct},
                                       {"spike-count regulariser", test_spike_count},
                                       {"errors", test_errors},
                                       {"name table", test_names},
                                       {NULL, NULL}};
  return sl_test_run("loss", cases);
}
