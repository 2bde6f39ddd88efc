/* test_search.c -- TPE and grid maximisation (lib/train/search.c): TPE
 * finds the optimum of known 2-D functions within a tolerance, is
 * deterministic per seed and beats uniform random search on the same
 * budget; the grid visits exactly its points; grid and TPE agree on a
 * small piecewise-constant problem; errors, including the objective's.
 */
#include "config.h"
#include "spikeloop/error.h"
#include "spikeloop/search.h"

#include <string.h>

#include "fixtures.h"
#include "testutil.h"

/* A smooth bump with its maximum 0 at (0.3, 0.7). */
static int bump(const double *x, void *user, double *v)
{
  (void)user;
  *v = -(pow(x[0] - 0.3, 2) + 2.0 * pow(x[1] - 0.7, 2));
  return SL_OK;
}

/* Branin (negated; three global maxima of -0.397887 at (-pi, 12.275),
 * (pi, 2.275), (9.42478, 2.475) on [-5, 10] x [0, 15]). */
static int branin(const double *x, void *user, double *v)
{
  (void)user;
  const double a = 1, b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI, r = 6, s = 10,
               t = 1 / (8 * M_PI);
  *v = -(a * pow(x[1] - b * x[0] * x[0] + c * x[0] - r, 2) + s * (1 - t) * cos(x[0]) + s);
  return SL_OK;
}

static void test_tpe_finds_optimum(void)
{
  const double lo[2] = {0, 0}, hi[2] = {1, 1};
  sl_tpe_params p = sl_tpe_params_default();
  sl_search_trials t;
  CU_ASSERT_FATAL(sl_tpe_maximise(2, lo, hi, bump, NULL, &p, &t) == SL_OK);
  CU_ASSERT(t.n == 100 && t.dim == 2);
  const double *b = t.x + t.best * 2;
  if (!(fabs(b[0] - 0.3) < 0.05 && fabs(b[1] - 0.7) < 0.05))
    printf("\n    bump: best (%g, %g) = %g ", b[0], b[1], t.y[t.best]);
  CU_ASSERT(fabs(b[0] - 0.3) < 0.05 && fabs(b[1] - 0.7) < 0.05);
  for (size_t i = 0; i < t.n; i++) /* inside the box, best is the maximum */
    CU_ASSERT(t.x[2 * i] >= 0 && t.x[2 * i] <= 1 && t.y[i] <= t.y[t.best]);
  sl_search_trials_free(&t);
  /* Branin: within 0.05 of the optimum value over 3 seeds */
  const double blo[2] = {-5, 0}, bhi[2] = {10, 15};
  for (uint64_t seed = 1; seed <= 3; seed++) {
    p.seed = seed;
    p.n_trials = 150;
    CU_ASSERT_FATAL(sl_tpe_maximise(2, blo, bhi, branin, NULL, &p, &t) == SL_OK);
    if (!(t.y[t.best] > -0.397887 - 0.05))
      printf("\n    branin seed %llu: best %g ", (unsigned long long)seed, t.y[t.best]);
    CU_ASSERT(t.y[t.best] > -0.397887 - 0.05);
    sl_search_trials_free(&t);
  }
}

/* Same seed, same trials; TPE's best beats a uniform search's on average. */
static void test_tpe_deterministic_and_useful(void)
{
  const double lo[2] = {-5, 0}, hi[2] = {10, 15};
  sl_tpe_params p = sl_tpe_params_default();
  sl_search_trials a, b;
  CU_ASSERT_FATAL(sl_tpe_maximise(2, lo, hi, branin, NULL, &p, &a) == SL_OK);
  CU_ASSERT_FATAL(sl_tpe_maximise(2, lo, hi, branin, NULL, &p, &b) == SL_OK);
  CU_ASSERT(memcmp(a.x, b.x, a.n * 2 * sizeof(double)) == 0);
  sl_search_trials_free(&b);
  /* all-startup TPE is uniform random search with the same budget */
  double tpe = 0, uniform = 0;
  for (uint64_t seed = 1; seed <= 5; seed++) {
    p.seed = seed;
    p.n_startup = 20;
    CU_ASSERT_FATAL(sl_tpe_maximise(2, lo, hi, branin, NULL, &p, &b) == SL_OK);
    tpe += b.y[b.best];
    sl_search_trials_free(&b);
    p.n_startup = p.n_trials;
    CU_ASSERT_FATAL(sl_tpe_maximise(2, lo, hi, branin, NULL, &p, &b) == SL_OK);
    uniform += b.y[b.best];
    sl_search_trials_free(&b);
  }
  if (!(tpe > uniform))
    printf("\n    mean best: tpe %g, uniform %g ", tpe / 5, uniform / 5);
  CU_ASSERT(tpe > uniform);
  sl_search_trials_free(&a);
}

/* A piecewise-constant objective like an exit-threshold search: reward
 * steps where a threshold passes a "sample" (a_i, b_i), minus a cost per
 * unit of threshold. Its supremum 1.855 is at x -> (0.75, 0.8) from above;
 * on a grid of step 0.05 the best is 1.81 at (0.8, 0.85). */
static int steps(const double *x, void *user, double *v)
{
  (void)user;
  static const double a[3] = {0.2, 0.5, 0.75}, b[3] = {0.3, 0.55, 0.8};
  double s = 0;
  for (int i = 0; i < 3; i++)
    s += (x[0] > a[i]) * (0.6 - 0.15 * i) + (x[1] > b[i]) * (0.5 - 0.1 * i);
  *v = s - 0.5 * x[0] - 0.4 * x[1];
  return SL_OK;
}

static void test_grid_and_agreement(void)
{
  const double lo[2] = {0, 0}, hi[2] = {1, 1};
  sl_search_trials g;
  CU_ASSERT_FATAL(sl_grid_maximise(2, lo, hi, 21, steps, NULL, &g) == SL_OK);
  CU_ASSERT(g.n == 441);
  CU_ASSERT(g.x[0] == 0.0 && g.x[1] == 0.0 && g.x[2] == 0.0 && g.x[3] == 0.05);
  CU_ASSERT(g.x[440 * 2] == 1.0 && g.x[440 * 2 + 1] == 1.0);
  /* brute force over the same grid */
  double best = -INFINITY;
  for (int i = 0; i <= 20; i++)
    for (int j = 0; j <= 20; j++) {
      double x[2] = {i / 20.0, j / 20.0}, v;
      steps(x, NULL, &v);
      best = fmax(best, v);
    }
  CU_ASSERT(g.y[g.best] == best);
  CU_ASSERT(fabs(g.y[g.best] - 1.81) < 1e-9);
  CU_ASSERT(fabs(g.x[2 * g.best] - 0.8) < 1e-9 && fabs(g.x[2 * g.best + 1] - 0.85) < 1e-9);
  /* TPE (100 trials) reaches the grid's optimum, in the same corner, for
   * several seeds */
  sl_tpe_params p = sl_tpe_params_default();
  for (uint64_t seed = 1; seed <= 5; seed++) {
    p.seed = seed;
    sl_search_trials t;
    CU_ASSERT_FATAL(sl_tpe_maximise(2, lo, hi, steps, NULL, &p, &t) == SL_OK);
    const double *x = t.x + 2 * t.best;
    const int ok = t.y[t.best] >= g.y[g.best] - 0.01 && x[0] > 0.75 && x[0] < 0.85 &&
                   x[1] > 0.8 && x[1] < 0.9;
    if (!ok)
      printf("\n    seed %llu: grid %g, tpe %g at (%g, %g) ", (unsigned long long)seed,
             g.y[g.best], t.y[t.best], x[0], x[1]);
    CU_ASSERT(ok);
    sl_search_trials_free(&t);
  }
  sl_search_trials_free(&g);
}

static int counted_steps(const double *x, void *user, double *v)
{
  ++*(int *)user;
  return steps(x, NULL, v);
}

/* Grid, then TPE from the grid's trials: they lead the result, are not
 * evaluated again, and the best is at least the grid's. */
static void test_warm_start(void)
{
  const double lo[2] = {0, 0}, hi[2] = {1, 1};
  sl_search_trials g, t;
  CU_ASSERT_FATAL(sl_grid_maximise(2, lo, hi, 5, steps, NULL, &g) == SL_OK);
  sl_tpe_params p = sl_tpe_params_default();
  p.n_trials = 40;
  p.warm = &g;
  int calls = 0;
  CU_ASSERT_FATAL(sl_tpe_maximise(2, lo, hi, counted_steps, &calls, &p, &t) == SL_OK);
  CU_ASSERT(calls == 40 && t.n == g.n + 40);
  CU_ASSERT(memcmp(t.x, g.x, g.n * 2 * sizeof(double)) == 0);
  CU_ASSERT(t.y[t.best] >= g.y[g.best]);
  p.warm = &t;
  CU_ASSERT(sl_tpe_maximise(2, lo, hi, steps, NULL, &p, &t) == SL_EINVAL); /* same struct */
  sl_search_trials_free(&t);
  sl_search_trials_free(&g);
}

static int failing(const double *x, void *user, double *v)
{
  int *calls = user;
  if (++*calls == 5)
    return sl_error(SL_EIO, "objective failed at call 5");
  *v = x[0];
  return SL_OK;
}

static int nan_objective(const double *x, void *user, double *v)
{
  (void)x, (void)user;
  *v = NAN;
  return SL_OK;
}

static void test_errors(void)
{
  const double lo[1] = {0}, hi[1] = {1}, bad_hi[1] = {0};
  sl_tpe_params p = sl_tpe_params_default();
  sl_search_trials t;
  memset(&t, 0, sizeof t);
  int calls = 0;
  CU_ASSERT(sl_tpe_maximise(1, lo, hi, failing, &calls, &p, &t) == SL_EIO);
  CU_ASSERT(calls == 5 && t.x == NULL);
  calls = 0;
  CU_ASSERT(sl_grid_maximise(1, lo, hi, 10, failing, &calls, &t) == SL_EIO);
  CU_ASSERT(sl_tpe_maximise(1, lo, hi, nan_objective, NULL, &p, &t) == SL_ENUMERIC);
  sl_clear_error();
  CU_ASSERT(sl_tpe_maximise(1, lo, bad_hi, bump, NULL, &p, &t) == SL_EINVAL);
  CU_ASSERT(sl_test_msg_has("dimension 0"));
  CU_ASSERT(sl_tpe_maximise(0, lo, hi, bump, NULL, &p, &t) == SL_EINVAL);
  p.gamma = 1.0;
  CU_ASSERT(sl_tpe_maximise(1, lo, hi, bump, NULL, &p, &t) == SL_EINVAL);
  double l8[8] = {0}, h8[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  CU_ASSERT(sl_grid_maximise(8, l8, h8, 10, bump, NULL, &t) == SL_ERANGE);
  CU_ASSERT(sl_grid_maximise(1, lo, hi, 1, bump, NULL, &t) == SL_EINVAL);
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"TPE finds the optimum of a bump and of Branin", test_tpe_finds_optimum},
      {"TPE deterministic per seed, better than uniform search", test_tpe_deterministic_and_useful},
      {"grid visits its points; grid and TPE agree", test_grid_and_agreement},
      {"TPE warm-started from a grid", test_warm_start},
      {"errors: bounds, parameters, objective failures, NaN", test_errors},
      {NULL, NULL}};
  return sl_test_run("search", cases);
}
