/* test_surrogate.c -- the surrogate table (lib/core/surrogate.c).
 *
 * Each surrogate's derivative against its formula written out here
 * (spikeloop/surrogate.h), its `smooth` spike against the derivative by
 * central finite differences, and the antiderivative's limits: smooth(-inf)
 * = 0, smooth(+inf) = the integral of the derivative over the real line
 * (2/beta for SuperSpike and arctan, 1 for the logistic). Also the lookups:
 * by name, by id, the NULL-terminated list, and unknown names and ids.
 */
#include "config.h"
#include "spikeloop/surrogate.h"

#include <math.h>
#include <string.h>

#include "testutil.h"

/* ------------------------------------------------------------ formulas */

static double superspike_formula(double x, double beta)
{
  return 1.0 / ((beta * fabs(x) + 1.0) * (beta * fabs(x) + 1.0));
}

static double sigmoid_formula(double x, double beta)
{
  double e = exp(-beta * x);
  return beta * e / ((1.0 + e) * (1.0 + e));
}

static double arctan_formula(double x, double beta)
{
  double u = M_PI * beta * x / 2.0;
  return 1.0 / (1.0 + u * u);
}

typedef struct {
  const char *name;
  int id;
  double (*formula)(double x, double beta);
  double peak;     /* deriv(0) / 1, or / beta for the logistic */
  double integral; /* smooth(+inf) * beta, or smooth(+inf) for the logistic */
  int per_beta;    /* 1: peak and integral scale with beta (the logistic) */
} expected;

static const expected EXPECTED[] = {
    {"superspike", SL_SURROGATE_SUPERSPIKE, superspike_formula, 1.0, 2.0, 0},
    {"sigmoid", SL_SURROGATE_SIGMOID, sigmoid_formula, 0.25, 1.0, 1},
    {"arctan", SL_SURROGATE_ARCTAN, arctan_formula, 1.0, 2.0, 0}};
#define N_EXPECTED (sizeof EXPECTED / sizeof EXPECTED[0])

static const double BETAS[] = {0.5, 1.0, 5.0, 10.0, 100.0};
#define N_BETAS (sizeof BETAS / sizeof BETAS[0])

/* x from -3 to 3 in 1/16 steps (0 included), scaled to the surrogate's width. */
static double x_at(int k, double beta) { return (double)(k - 48) / 16.0 / beta * 4.0; }
#define N_X 97

static const sl_surrogate *find_or_fail(const char *name)
{
  const sl_surrogate *sg = sl_surrogate_find(name);
  if (!sg)
    printf("\n    no surrogate '%s' ", name);
  CU_ASSERT_FATAL(sg != NULL);
  return sg;
}

/* ------------------------------------------------------------ tests */

static void test_deriv_vs_formula(void)
{
  for (size_t e = 0; e < N_EXPECTED; e++) {
    const sl_surrogate *sg = find_or_fail(EXPECTED[e].name);
    double worst = 0.0;
    int symmetric = 1;
    for (size_t b = 0; b < N_BETAS; b++)
      for (int k = 0; k < N_X; k++) {
        double beta = BETAS[b], x = x_at(k, beta);
        double want = EXPECTED[e].formula(x, beta), got = sg->deriv(x, beta);
        double d = fabs(got - want) / fabs(want);
        if (!(d <= worst))
          worst = isnan(d) ? INFINITY : d;
        symmetric &= fabs(got - sg->deriv(-x, beta)) <= 1e-9 * got;
      }
    printf("\n    %-10s deriv vs formula: max rel diff %.3g ", sg->name, worst);
    CU_ASSERT(worst < 1e-9); /* the logistic's 1 - s loses digits in the tails */
    CU_ASSERT(symmetric);
  }
}

/* The peak at x = 0, positive everywhere, and falling away from 0. */
static void test_deriv_shape(void)
{
  for (size_t e = 0; e < N_EXPECTED; e++) {
    const sl_surrogate *sg = find_or_fail(EXPECTED[e].name);
    for (size_t b = 0; b < N_BETAS; b++) {
      double beta = BETAS[b];
      double peak = EXPECTED[e].peak * (EXPECTED[e].per_beta ? beta : 1.0);
      CU_ASSERT_DOUBLE_EQUAL(sg->deriv(0.0, beta), peak, 1e-15 * peak);
      int falling = 1;
      for (int k = 49; k < N_X; k++) {
        double x = x_at(k, beta), prev = x_at(k - 1, beta);
        falling &= sg->deriv(x, beta) < sg->deriv(prev, beta) && sg->deriv(x, beta) > 0.0;
      }
      CU_ASSERT(falling);
    }
  }
}

/* smooth' = deriv, by central differences with step h = 1e-4 / beta: the
 * truncation error is O(h^2 F''' / 6), about 1e-8 relative, the rounding
 * error below 1e-7 even in the logistic's tails. At SuperSpike's kink
 * (x = 0, where F'' jumps by 4 beta) the difference is off by beta h:
 * there the step is 1e-7 / beta. */
static void test_smooth_is_antiderivative(void)
{
  for (size_t e = 0; e < N_EXPECTED; e++) {
    const sl_surrogate *sg = find_or_fail(EXPECTED[e].name);
    double worst = 0.0;
    for (size_t b = 0; b < N_BETAS; b++)
      for (int k = 0; k < N_X; k++) {
        double beta = BETAS[b], x = x_at(k, beta), h = 1e-4 / beta;
        if (k == 48 && EXPECTED[e].id == SL_SURROGATE_SUPERSPIKE)
          h = 1e-7 / beta;
        double fd = (sg->smooth(x + h, beta) - sg->smooth(x - h, beta)) / (2.0 * h);
        double want = sg->deriv(x, beta);
        double d = fabs(fd - want) / want;
        if (!(d <= worst))
          worst = isnan(d) ? INFINITY : d;
      }
    printf("\n    %-10s smooth' (finite differences) vs deriv: max rel diff %.3g ", sg->name,
           worst);
    CU_ASSERT(worst < 1e-6);
  }
}

/* smooth(-inf) = 0, smooth(+inf) = the integral of deriv; smooth rises. */
static void test_smooth_limits(void)
{
  for (size_t e = 0; e < N_EXPECTED; e++) {
    const sl_surrogate *sg = find_or_fail(EXPECTED[e].name);
    for (size_t b = 0; b < N_BETAS; b++) {
      double beta = BETAS[b];
      double total = EXPECTED[e].integral / (EXPECTED[e].per_beta ? 1.0 : beta);
      double far = 1e9 / beta;
      CU_ASSERT(fabs(sg->smooth(-far, beta)) < 1e-6 * total);
      CU_ASSERT(fabs(sg->smooth(far, beta) - total) < 1e-6 * total);
      CU_ASSERT(sg->smooth(-far, beta) >= 0.0);
      int rising = 1;
      for (int k = 1; k < N_X; k++)
        rising &= sg->smooth(x_at(k, beta), beta) > sg->smooth(x_at(k - 1, beta), beta);
      CU_ASSERT(rising);
    }
  }
}

static void test_lookup(void)
{
  const sl_surrogate *const *all = sl_surrogate_list();
  CU_ASSERT_FATAL(all != NULL);
  size_t n = 0;
  while (all[n])
    n++;
  CU_ASSERT(n == N_EXPECTED);
  for (size_t e = 0; e < N_EXPECTED; e++) {
    const sl_surrogate *sg = sl_surrogate_find(EXPECTED[e].name);
    CU_ASSERT_FATAL(sg != NULL);
    CU_ASSERT_STRING_EQUAL(sg->name, EXPECTED[e].name);
    CU_ASSERT(sg->id == EXPECTED[e].id);
    CU_ASSERT(sl_surrogate_by_id(EXPECTED[e].id) == sg);
    CU_ASSERT(sg->deriv != NULL && sg->smooth != NULL);
    int listed = 0;
    for (size_t k = 0; k < n; k++)
      listed += all[k] == sg;
    CU_ASSERT(listed == 1);
  }
  CU_ASSERT(sl_surrogate_find(NULL) == NULL);
  CU_ASSERT(sl_surrogate_find("") == NULL);
  CU_ASSERT(sl_surrogate_find("SuperSpike") == NULL); /* names are case-sensitive */
  CU_ASSERT(sl_surrogate_find("superspike ") == NULL);
  CU_ASSERT(sl_surrogate_by_id(-1) == NULL);
  CU_ASSERT(sl_surrogate_by_id((int)N_EXPECTED) == NULL);
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"derivatives equal their formulas", test_deriv_vs_formula},
      {"derivatives peak at 0 and fall off", test_deriv_shape},
      {"smooth spike is the derivative's antiderivative", test_smooth_is_antiderivative},
      {"smooth spike from 0 to the derivative's integral", test_smooth_limits},
      {"lookup by name and id", test_lookup},
      {NULL, NULL}};
  return sl_test_run("surrogate", cases);
}
