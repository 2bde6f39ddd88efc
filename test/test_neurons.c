/* test_neurons.c -- per-neuron parameter arrays and the mismatch model
 * (spikeloop/neurons.h).
 *
 * Checks the documented defaults, alloc/free/copy/param, that
 * sl_neurons_check rejects every kind of bad value with a message naming
 * the parameter and the neuron, and the statistics of
 * sl_neurons_draw_mismatch: deterministic per seed, the documented sd
 * (after clipping z at +-3), the 0.1 floor of the factors, and the
 * absolute offsets of v_leak and v_reset.
 */
#include "config.h"
#include "spikeloop/error.h"
#include "spikeloop/neurons.h"

#include <stdint.h>
#include <string.h>

#include "testutil.h"

static int contains(const char *haystack, const char *needle)
{
  return haystack && needle && strstr(haystack, needle) != NULL;
}

/* 1 if every float array and refrac of a and b are bit-identical. */
static int same_neurons(const sl_neurons *a, const sl_neurons *b)
{
  if (a->n != b->n)
    return 0;
  for (size_t i = 0; i < SL_NEURON_NFLOAT; i++) {
    const char *name = sl_neurons_float_name(i);
    if (memcmp(sl_neurons_param(a, name), sl_neurons_param(b, name), a->n * sizeof(float)))
      return 0;
  }
  return memcmp(a->refrac, b->refrac, a->n * sizeof(int32_t)) == 0;
}

/* Sample mean and sd of x[i] / ref - 1 (relative) or x[i] - ref (absolute). */
static void sample_stats(const float *x, size_t n, double ref, int relative, double *mean,
                         double *sd)
{
  double s = 0.0, ss = 0.0;
  for (size_t i = 0; i < n; i++) {
    double d = relative ? x[i] / ref - 1.0 : x[i] - ref;
    s += d;
    ss += d * d;
  }
  *mean = s / (double)n;
  *sd = sqrt((ss - s * s / (double)n) / (double)(n - 1));
}

/* sd of a standard normal clipped (not truncated) to [-3, 3]:
 * E[z^2] = (1 - 2Q(3)) - 2*3*phi(3) + 2*9*Q(3). */
static double clipped_sd(void)
{
  double q = 0.5 * erfc(3.0 / sqrt(2.0)), phi = exp(-4.5) / sqrt(2.0 * M_PI);
  return sqrt(1.0 - 2.0 * q - 6.0 * phi + 18.0 * q);
}

/* ------------------------------------------------------------ alloc, copy */

static void test_defaults(void)
{
  sl_neuron_nominal d = sl_neuron_nominal_default();
  CU_ASSERT(d.tau_mem == 6e-3 && d.tau_syn == 6e-3);
  CU_ASSERT(d.v_th == 1.0 && d.v_leak == 0.0 && d.v_reset == 0.0);
  CU_ASSERT(d.gain == 1.0 && d.refrac == 0);

  sl_neurons p;
  CU_ASSERT_FATAL(sl_neurons_alloc(&p, 5, NULL) == SL_OK);
  CU_ASSERT(p.n == 5);
  int ok = 1;
  for (size_t j = 0; j < 5; j++)
    ok &= p.tau_mem[j] == 6e-3f && p.tau_syn[j] == 6e-3f && p.v_th[j] == 1.0f &&
          p.v_leak[j] == 0.0f && p.v_reset[j] == 0.0f && p.gain[j] == 1.0f && p.refrac[j] == 0;
  CU_ASSERT(ok);
  CU_ASSERT(sl_neurons_check(&p, 1e-3) == SL_OK);
  sl_neurons_free(&p);
  CU_ASSERT(p.n == 0 && p.tau_mem == NULL && p.refrac == NULL);
  sl_neurons_free(&p); /* twice: no-op */
  sl_neurons zero;
  memset(&zero, 0, sizeof zero);
  sl_neurons_free(&zero);
  sl_neurons_free(NULL);

  sl_neuron_nominal nom = {10e-3, 5e-3, 1.5, -0.25, -0.5, 2.0, 3};
  CU_ASSERT_FATAL(sl_neurons_alloc(&p, 3, &nom) == SL_OK);
  ok = 1;
  for (size_t j = 0; j < 3; j++)
    ok &= p.tau_mem[j] == 10e-3f && p.tau_syn[j] == 5e-3f && p.v_th[j] == 1.5f &&
          p.v_leak[j] == -0.25f && p.v_reset[j] == -0.5f && p.gain[j] == 2.0f && p.refrac[j] == 3;
  CU_ASSERT(ok);
  sl_neurons_free(&p);

  sl_clear_error();
  CU_ASSERT(sl_neurons_alloc(&p, 0, NULL) == SL_EINVAL);
  CU_ASSERT(sl_last_error()[0] != '\0');
  CU_ASSERT(p.n == 0 && p.tau_mem == NULL); /* left empty */
  sl_neurons_free(&p);
}

static void test_names_and_param(void)
{
  static const char *const names[SL_NEURON_NFLOAT] = {"tau_mem", "tau_syn", "v_th",
                                                      "v_leak",  "v_reset", "gain"};
  sl_neurons p;
  CU_ASSERT_FATAL(sl_neurons_alloc(&p, 4, NULL) == SL_OK);
  float *arrays[SL_NEURON_NFLOAT] = {p.tau_mem, p.tau_syn, p.v_th, p.v_leak, p.v_reset, p.gain};
  for (size_t i = 0; i < SL_NEURON_NFLOAT; i++) {
    const char *n = sl_neurons_float_name(i);
    CU_ASSERT(n && strcmp(n, names[i]) == 0);
    CU_ASSERT(sl_neurons_param(&p, names[i]) == arrays[i]);
  }
  CU_ASSERT(sl_neurons_float_name(SL_NEURON_NFLOAT) == NULL);
  CU_ASSERT(sl_neurons_param(&p, "refrac") == NULL); /* int32, not a float array */
  CU_ASSERT(sl_neurons_param(&p, "nonsense") == NULL);
  CU_ASSERT(sl_neurons_param(&p, NULL) == NULL);
  CU_ASSERT(sl_neurons_param(NULL, "gain") == NULL);
  sl_neurons_free(&p);
}

static void test_copy(void)
{
  sl_neurons a, b;
  CU_ASSERT_FATAL(sl_neurons_alloc(&a, 50, NULL) == SL_OK);
  sl_mismatch_spec mm = {0.2, 0.2, 0.1, 0.1, 0.1, 0.1};
  CU_ASSERT_FATAL(sl_neurons_draw_mismatch(&a, &mm, 3) == SL_OK);
  a.refrac[7] = 4;
  CU_ASSERT_FATAL(sl_neurons_copy(&b, &a) == SL_OK);
  CU_ASSERT(same_neurons(&a, &b));
  CU_ASSERT(b.tau_mem != a.tau_mem && b.gain != a.gain && b.refrac != a.refrac); /* deep */
  a.tau_mem[0] = 1.0f;
  a.refrac[1] = 9;
  CU_ASSERT(b.tau_mem[0] != 1.0f && b.refrac[1] == 0);
  CU_ASSERT(b.refrac[7] == 4);
  sl_neurons_free(&b);
  sl_neurons empty;
  memset(&empty, 0, sizeof empty);
  CU_ASSERT(sl_neurons_copy(&b, &empty) == SL_EINVAL);
  sl_neurons_free(&a);
}

/* ------------------------------------------------------------ check */

/* Set neuron 37 of 50 bad via `edit`; the check must fail with `code` and a
 * message naming `param` and the neuron. */
static int check_rejects(const char *label, const char *param, int code,
                         void (*edit)(sl_neurons *, size_t))
{
  sl_neurons p;
  CU_ASSERT_FATAL(sl_neurons_alloc(&p, 50, NULL) == SL_OK);
  edit(&p, 37);
  sl_clear_error();
  int rc = sl_neurons_check(&p, 1e-3);
  const char *msg = sl_last_error();
  int ok = rc == code && contains(msg, param) && contains(msg, "37");
  if (!ok)
    printf("\n    %s: rc %d (want %d), message '%s'", label, rc, code, msg);
  sl_neurons_free(&p);
  return ok;
}

static void e_tau_mem_0(sl_neurons *p, size_t j) { p->tau_mem[j] = 0.0f; }
static void e_tau_mem_neg(sl_neurons *p, size_t j) { p->tau_mem[j] = -1e-3f; }
static void e_tau_syn_0(sl_neurons *p, size_t j) { p->tau_syn[j] = 0.0f; }
static void e_tau_syn_neg(sl_neurons *p, size_t j) { p->tau_syn[j] = -5e-3f; }
static void e_gain_0(sl_neurons *p, size_t j) { p->gain[j] = 0.0f; }
static void e_gain_neg(sl_neurons *p, size_t j) { p->gain[j] = -1.0f; }
static void e_th_eq(sl_neurons *p, size_t j) { p->v_th[j] = p->v_reset[j]; }
static void e_th_below(sl_neurons *p, size_t j) { p->v_reset[j] = 1.5f; }
static void e_refrac(sl_neurons *p, size_t j) { p->refrac[j] = -1; }
static void e_nan_tau_mem(sl_neurons *p, size_t j) { p->tau_mem[j] = NAN; }
static void e_nan_tau_syn(sl_neurons *p, size_t j) { p->tau_syn[j] = NAN; }
static void e_nan_v_th(sl_neurons *p, size_t j) { p->v_th[j] = NAN; }
static void e_nan_v_leak(sl_neurons *p, size_t j) { p->v_leak[j] = NAN; }
static void e_nan_v_reset(sl_neurons *p, size_t j) { p->v_reset[j] = NAN; }
static void e_nan_gain(sl_neurons *p, size_t j) { p->gain[j] = NAN; }
static void e_inf_v_th(sl_neurons *p, size_t j) { p->v_th[j] = INFINITY; }

static void test_check(void)
{
  int ok = 1;
  ok &= check_rejects("tau_mem = 0", "tau_mem", SL_EINVAL, e_tau_mem_0);
  ok &= check_rejects("tau_mem < 0", "tau_mem", SL_EINVAL, e_tau_mem_neg);
  ok &= check_rejects("tau_syn = 0", "tau_syn", SL_EINVAL, e_tau_syn_0);
  ok &= check_rejects("tau_syn < 0", "tau_syn", SL_EINVAL, e_tau_syn_neg);
  ok &= check_rejects("gain = 0", "gain", SL_EINVAL, e_gain_0);
  ok &= check_rejects("gain < 0", "gain", SL_EINVAL, e_gain_neg);
  ok &= check_rejects("v_th = v_reset", "v_th", SL_EINVAL, e_th_eq);
  ok &= check_rejects("v_th < v_reset", "v_reset", SL_EINVAL, e_th_below);
  ok &= check_rejects("refrac < 0", "refrac", SL_EINVAL, e_refrac);
  ok &= check_rejects("tau_mem NaN", "tau_mem", SL_ENUMERIC, e_nan_tau_mem);
  ok &= check_rejects("tau_syn NaN", "tau_syn", SL_ENUMERIC, e_nan_tau_syn);
  ok &= check_rejects("v_th NaN", "v_th", SL_ENUMERIC, e_nan_v_th);
  ok &= check_rejects("v_leak NaN", "v_leak", SL_ENUMERIC, e_nan_v_leak);
  ok &= check_rejects("v_reset NaN", "v_reset", SL_ENUMERIC, e_nan_v_reset);
  ok &= check_rejects("gain NaN", "gain", SL_ENUMERIC, e_nan_gain);
  ok &= check_rejects("v_th Inf", "v_th", SL_ENUMERIC, e_inf_v_th);
  CU_ASSERT(ok);

  sl_neurons p;
  CU_ASSERT_FATAL(sl_neurons_alloc(&p, 3, NULL) == SL_OK);
  CU_ASSERT(sl_neurons_check(&p, 1e-3) == SL_OK);
  const double bad_dt[] = {0.0, -1e-3, NAN, INFINITY};
  for (size_t i = 0; i < 4; i++) {
    sl_clear_error();
    CU_ASSERT(sl_neurons_check(&p, bad_dt[i]) == SL_EINVAL);
    CU_ASSERT(contains(sl_last_error(), "dt"));
  }
  sl_neurons_free(&p);
  CU_ASSERT(sl_neurons_check(NULL, 1e-3) == SL_EINVAL);
}

/* ------------------------------------------------------------ mismatch */

static void test_mismatch_deterministic(void)
{
  sl_neuron_nominal nom = {8e-3, 4e-3, 1.0, -0.3, -0.5, 1.2, 2};
  sl_mismatch_spec mm = {0.2, 0.15, 0.1, 0.05, 0.05, 0.1};
  sl_neurons a, b, c, z;
  CU_ASSERT_FATAL(sl_neurons_alloc(&a, 200, &nom) == SL_OK);
  CU_ASSERT_FATAL(sl_neurons_alloc(&b, 200, &nom) == SL_OK);
  CU_ASSERT_FATAL(sl_neurons_alloc(&c, 200, &nom) == SL_OK);
  CU_ASSERT_FATAL(sl_neurons_alloc(&z, 200, &nom) == SL_OK);
  CU_ASSERT(sl_neurons_draw_mismatch(&a, &mm, 12345) == SL_OK);
  CU_ASSERT(sl_neurons_draw_mismatch(&b, &mm, 12345) == SL_OK);
  CU_ASSERT(sl_neurons_draw_mismatch(&c, &mm, 12346) == SL_OK);
  CU_ASSERT(same_neurons(&a, &b));
  /* every parameter of a different seed differs (in most neurons) */
  int differ = 1;
  for (size_t i = 0; i < SL_NEURON_NFLOAT; i++) {
    const float *x = sl_neurons_param(&a, sl_neurons_float_name(i));
    const float *y = sl_neurons_param(&c, sl_neurons_float_name(i));
    size_t nd = 0;
    for (size_t j = 0; j < a.n; j++)
      nd += x[j] != y[j];
    if (nd < a.n * 9 / 10) {
      printf("\n    seeds 12345/12346: %s differs in only %zu of %zu neurons",
             sl_neurons_float_name(i), nd, a.n);
      differ = 0;
    }
  }
  CU_ASSERT(differ);
  /* refrac is never drawn */
  int refrac_same = 1;
  for (size_t j = 0; j < a.n; j++)
    refrac_same &= a.refrac[j] == 2;
  CU_ASSERT(refrac_same);

  /* zero sd leaves every value unchanged, bit for bit */
  sl_mismatch_spec none = {0, 0, 0, 0, 0, 0};
  CU_ASSERT(sl_neurons_draw_mismatch(&z, &none, 12345) == SL_OK);
  CU_ASSERT(same_neurons(&z, &b) == 0);
  sl_neurons fresh;
  CU_ASSERT_FATAL(sl_neurons_alloc(&fresh, 200, &nom) == SL_OK);
  CU_ASSERT(same_neurons(&z, &fresh));
  sl_neurons_free(&fresh);

  /* a negative or non-finite sd is rejected and leaves p unchanged */
  for (size_t i = 0; i < SL_NEURON_NFLOAT; i++)
    for (int k = 0; k < 2; k++) {
      sl_mismatch_spec bad = mm;
      double *fields[SL_NEURON_NFLOAT] = {&bad.tau_mem, &bad.tau_syn, &bad.v_th,
                                          &bad.v_leak,  &bad.v_reset, &bad.gain};
      *fields[i] = k ? NAN : -0.1;
      sl_clear_error();
      int rc = sl_neurons_draw_mismatch(&b, &bad, 1);
      CU_ASSERT(rc == SL_EINVAL);
      CU_ASSERT(contains(sl_last_error(), sl_neurons_float_name(i)));
      CU_ASSERT(same_neurons(&a, &b));
    }
  sl_neurons_free(&a), sl_neurons_free(&b), sl_neurons_free(&c), sl_neurons_free(&z);
}

static void test_mismatch_statistics(void)
{
  const size_t n = 20000;
  const double sd = 0.2, want = sd * clipped_sd();
  sl_neuron_nominal nom = {10e-3, 5e-3, 1.0, -0.2, -0.4, 1.5, 0};
  const double gap = nom.v_th - nom.v_leak;
  sl_mismatch_spec mm = {sd, sd, sd, sd, sd, sd};
  sl_neurons p;
  CU_ASSERT_FATAL(sl_neurons_alloc(&p, n, &nom) == SL_OK);
  CU_ASSERT_FATAL(sl_neurons_draw_mismatch(&p, &mm, 2024) == SL_OK);

  struct {
    const char *name;
    const float *x;
    double ref, scale; /* relative: x/ref - 1; absolute: (x - ref) / scale */
    int relative;
  } rows[] = {{"tau_mem", p.tau_mem, nom.tau_mem, 1, 1},
              {"tau_syn", p.tau_syn, nom.tau_syn, 1, 1},
              {"gain", p.gain, nom.gain, 1, 1},
              {"v_th - v_leak(nominal)", p.v_th, nom.v_th, gap, 0},
              {"v_leak", p.v_leak, nom.v_leak, gap, 0},
              {"v_reset", p.v_reset, nom.v_reset, gap, 0}};
  printf("\n    expected sd after clipping at 3 sd: %.5f", want);
  for (size_t r = 0; r < 6; r++) {
    double mean, s;
    sample_stats(rows[r].x, n, rows[r].ref, rows[r].relative, &mean, &s);
    s /= rows[r].scale;
    mean /= rows[r].scale;
    /* extremes: |z| <= 3 after clipping, and the clip is reached */
    double worst = 0.0;
    size_t at_clip = 0;
    for (size_t j = 0; j < n; j++) {
      double d = rows[r].relative ? rows[r].x[j] / rows[r].ref - 1.0
                                  : (rows[r].x[j] - rows[r].ref) / rows[r].scale;
      if (fabs(d) > worst)
        worst = fabs(d);
      at_clip += fabs(d) > 3.0 * sd * (1 - 1e-5);
    }
    printf("\n    %-24s mean %+.5f  sd %.5f (|diff| %.5f)  max |dev| %.5f (3 sd = %.2f), %zu "
           "at the clip",
           rows[r].name, mean, s, fabs(s - want), worst, 3 * sd, at_clip);
    CU_ASSERT(fabs(s - want) < 0.01);
    CU_ASSERT(fabs(mean) < 0.01);
    CU_ASSERT(worst <= 3.0 * sd * (1 + 1e-5));
    CU_ASSERT(at_clip > 10); /* P(|z| > 3) * n = 54 */
  }
  /* parameters are drawn independently of each other */
  double c = 0.0;
  for (size_t j = 0; j < n; j++)
    c += (p.tau_mem[j] / nom.tau_mem - 1.0) * (p.gain[j] / nom.gain - 1.0);
  c /= n * want * want;
  printf("\n    corr(tau_mem, gain) %.4f ", c);
  CU_ASSERT(fabs(c) < 0.05);
  sl_neurons_free(&p);
}

static void test_mismatch_floor(void)
{
  const size_t n = 5000;
  const double sd = 1.0; /* 1 + sd*z < 0.1 for z < -0.9: about 18% of draws */
  sl_neuron_nominal nom = {10e-3, 5e-3, 1.0, 0.0, 0.0, 1.5, 0};
  sl_mismatch_spec mm = {sd, sd, sd, 0, 0, sd};
  sl_neurons p;
  CU_ASSERT_FATAL(sl_neurons_alloc(&p, n, &nom) == SL_OK);
  CU_ASSERT_FATAL(sl_neurons_draw_mismatch(&p, &mm, 99) == SL_OK);
  const float *x[4] = {p.tau_mem, p.tau_syn, p.gain, p.v_th};
  const double ref[4] = {nom.tau_mem, nom.tau_syn, nom.gain, nom.v_th - nom.v_leak};
  const char *nm[4] = {"tau_mem", "tau_syn", "gain", "v_th"};
  for (size_t r = 0; r < 4; r++) {
    double lo = INFINITY, hi = 0.0;
    size_t floored = 0;
    for (size_t j = 0; j < n; j++) {
      double f = r == 3 ? (x[r][j] - nom.v_leak) / ref[r] : x[r][j] / ref[r];
      if (f < lo)
        lo = f;
      if (f > hi)
        hi = f;
      floored += fabs(f - 0.1) < 1e-6;
    }
    printf("\n    sd 1: %-8s factor min %.6f max %.4f, %zu at the 0.1 floor", nm[r], lo, hi,
           floored);
    CU_ASSERT(lo >= 0.1 * (1 - 1e-6));
    CU_ASSERT(hi <= 4.0 * (1 + 1e-6));
    CU_ASSERT(floored > n / 10);
  }
  CU_ASSERT(sl_neurons_check(&p, 1e-3) == SL_OK);
  printf(" ");
  sl_neurons_free(&p);
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"defaults, alloc and free", test_defaults},
      {"parameter names and lookup", test_names_and_param},
      {"deep copy", test_copy},
      {"check rejects bad values", test_check},
      {"mismatch: seeds, zero sd, bad sd", test_mismatch_deterministic},
      {"mismatch: sd, clipping, independence", test_mismatch_statistics},
      {"mismatch: factor floor at 0.1", test_mismatch_floor},
      {NULL, NULL}};
  return sl_test_run("neurons", cases);
}
