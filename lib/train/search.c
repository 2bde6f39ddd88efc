/* search.c -- TPE and grid maximisation over a box (spikeloop/search.h).
 *
 * Each TPE step fits, per dimension, two Parzen mixtures of truncated
 * Gaussians (good trials, the rest), draws candidates from the good one and
 * evaluates the candidate with the best density ratio. Everything is
 * serial and seeded; the objective is called from the caller's thread.
 */
#include "config.h"
#include "spikeloop/search.h"
#include "spikeloop/error.h"
#include "base/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

sl_tpe_params sl_tpe_params_default(void)
{
  sl_tpe_params p = {100, 20, 24, 0.25, 1, NULL};
  return p;
}

void sl_search_trials_free(sl_search_trials *t)
{
  if (!t)
    return;
  free(t->x);
  free(t->y);
  memset(t, 0, sizeof *t);
}

static int box_check(size_t dim, const double *lo, const double *hi, sl_search_fn f,
                     sl_search_trials *out)
{
  if (!lo || !hi || !f || !out)
    return sl_error(SL_EINVAL, "search: NULL argument");
  if (!dim)
    return sl_error(SL_EINVAL, "search: no dimension");
  for (size_t d = 0; d < dim; d++)
    if (!(lo[d] < hi[d]) || !isfinite(lo[d]) || !isfinite(hi[d]))
      return sl_error(SL_EINVAL, "search: dimension %zu has bounds [%g, %g] (need lo < hi)", d,
                      lo[d], hi[d]);
  return SL_OK;
}

static int trials_alloc(sl_search_trials *t, size_t n, size_t dim)
{
  memset(t, 0, sizeof *t);
  t->x = malloc(n * dim * sizeof(double));
  t->y = malloc(n * sizeof(double));
  if (!t->x || !t->y) {
    sl_search_trials_free(t);
    return sl_error(SL_ENOMEM, "search: out of memory for %zu trials", n);
  }
  t->dim = dim;
  return SL_OK;
}

/* Evaluate x as trial t->n. */
static int evaluate(sl_search_trials *t, const double *x, sl_search_fn f, void *user)
{
  double y = 0.0;
  int rc = f(x, user, &y);
  if (rc)
    return rc;
  if (!isfinite(y))
    return sl_error(SL_ENUMERIC, "search: the objective returned %g at trial %zu", y, t->n);
  memcpy(t->x + t->n * t->dim, x, t->dim * sizeof(double));
  t->y[t->n] = y;
  if (t->n == 0 || y > t->y[t->best])
    t->best = t->n;
  t->n++;
  return SL_OK;
}

/* ------------------------------------------------------------ grid */

int sl_grid_maximise(size_t dim, const double *lo, const double *hi, size_t points,
                     sl_search_fn f, void *user, sl_search_trials *out)
{
  int rc = box_check(dim, lo, hi, f, out);
  if (rc)
    return rc;
  if (points < 2)
    return sl_error(SL_EINVAL, "grid: %zu points per dimension (need >= 2)", points);
  double total = pow((double)points, (double)dim);
  if (total > 1e7)
    return sl_error(SL_ERANGE, "grid: %zu^%zu = %.3g points (at most 1e7)", points, dim, total);
  const size_t n = (size_t)total;
  if ((rc = trials_alloc(out, n, dim)))
    return rc;
  double *x = malloc(dim * sizeof(double));
  if (!x) {
    sl_search_trials_free(out);
    return sl_error(SL_ENOMEM, "grid: out of memory");
  }
  for (size_t i = 0; !rc && i < n; i++) {
    size_t q = i;
    for (size_t d = dim; d-- > 0;) {
      x[d] = lo[d] + (hi[d] - lo[d]) * (double)(q % points) / (double)(points - 1);
      q /= points;
    }
    rc = evaluate(out, x, f, user);
  }
  free(x);
  if (rc)
    sl_search_trials_free(out);
  return rc;
}

/* ------------------------------------------------------------ Parzen mixtures */

typedef struct {
  size_t m;              /* components: the values, then the prior */
  double *mu, *sd, *lz;  /* lz: log of each component's mass inside the box */
  double *tmp;           /* scratch of m values */
} parzen;

static double phi_cdf(double z) { return 0.5 * erfc(-z / sqrt(2.0)); }

static int dcmp(const void *a, const void *b)
{
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Fit over the m values v (sorted in place). */
static void parzen_fit(parzen *p, double *v, size_t m, double lo, double hi)
{
  const double width = hi - lo, n = (double)m;
  const double sd_min = width / fmin(100.0, n + 1.0);
  qsort(v, m, sizeof(double), dcmp);
  for (size_t i = 0; i < m; i++) {
    const double left = i ? v[i] - v[i - 1] : v[i] - lo;
    const double right = i + 1 < m ? v[i + 1] - v[i] : hi - v[i];
    double s = fmax(left, right);
    s = fmin(fmax(s, sd_min), width);
    p->mu[i] = v[i];
    p->sd[i] = s;
  }
  p->mu[m] = 0.5 * (lo + hi); /* the prior */
  p->sd[m] = width;
  p->m = m + 1;
  for (size_t j = 0; j < p->m; j++) {
    const double z = phi_cdf((hi - p->mu[j]) / p->sd[j]) - phi_cdf((lo - p->mu[j]) / p->sd[j]);
    p->lz[j] = log(fmax(z, 1e-300));
  }
}

static double parzen_logpdf(const parzen *p, double x)
{
  /* log sum_j w_j N(x; mu_j, sd_j) / Z_j, w_j = 1/m, stably */
  double best = -INFINITY, acc = 0.0;
  double *t = p->tmp;
  for (size_t j = 0; j < p->m; j++) {
    const double z = (x - p->mu[j]) / p->sd[j];
    t[j] = -0.5 * z * z - log(p->sd[j]) - p->lz[j];
    best = fmax(best, t[j]);
  }
  for (size_t j = 0; j < p->m; j++)
    acc += exp(t[j] - best);
  return best + log(acc / (double)p->m) - 0.5 * log(2.0 * M_PI);
}

static double parzen_sample(const parzen *p, sl_rng_state *g, double lo, double hi)
{
  size_t j = (size_t)(sl_rng_uniform(g) * (double)p->m);
  if (j >= p->m)
    j = p->m - 1;
  for (int tries = 0; tries < 100; tries++) {
    const double x = p->mu[j] + p->sd[j] * sl_rng_normal(g);
    if (x >= lo && x <= hi)
      return x;
  }
  return fmin(fmax(p->mu[j], lo), hi);
}

/* ------------------------------------------------------------ TPE */

typedef struct {
  double y;
  size_t i;
} ranked;

static int rank_desc(const void *a, const void *b)
{
  const ranked *x = a, *y = b;
  if (x->y != y->y)
    return x->y < y->y ? 1 : -1;
  return (x->i > y->i) - (x->i < y->i); /* earlier trial first */
}

/* The next point to try, from the trials so far (n >= n_startup). */
static void tpe_propose(const sl_search_trials *t, const double *lo, const double *hi,
                        const sl_tpe_params *p, sl_rng_state *g, ranked *rk, double *vals,
                        parzen *good, parzen *bad, double *cand, double *score, double *x)
{
  const size_t n = t->n, dim = t->dim;
  for (size_t i = 0; i < n; i++) {
    rk[i].y = t->y[i];
    rk[i].i = i;
  }
  qsort(rk, n, sizeof *rk, rank_desc);
  size_t n_good = (size_t)ceil(p->gamma * (double)n);
  n_good = n_good < 1 ? 1 : n_good > 25 ? 25 : n_good;
  if (n_good >= n)
    n_good = n - 1;
  for (size_t c = 0; c < p->n_candidates; c++)
    score[c] = 0.0;
  for (size_t d = 0; d < dim; d++) {
    for (size_t i = 0; i < n_good; i++)
      vals[i] = t->x[rk[i].i * dim + d];
    parzen_fit(good, vals, n_good, lo[d], hi[d]);
    for (size_t i = n_good; i < n; i++)
      vals[i - n_good] = t->x[rk[i].i * dim + d];
    parzen_fit(bad, vals, n - n_good, lo[d], hi[d]);
    for (size_t c = 0; c < p->n_candidates; c++) {
      const double v = parzen_sample(good, g, lo[d], hi[d]);
      cand[c * dim + d] = v;
      score[c] += parzen_logpdf(good, v) - parzen_logpdf(bad, v);
    }
  }
  size_t best = 0;
  for (size_t c = 1; c < p->n_candidates; c++)
    if (score[c] > score[best])
      best = c;
  memcpy(x, cand + best * dim, dim * sizeof(double));
}

int sl_tpe_maximise(size_t dim, const double *lo, const double *hi, sl_search_fn f, void *user,
                    const sl_tpe_params *p, sl_search_trials *out)
{
  int rc = box_check(dim, lo, hi, f, out);
  if (rc)
    return rc;
  if (!p)
    return sl_error(SL_EINVAL, "tpe: NULL parameters");
  if (!p->n_trials || !p->n_candidates || !p->n_startup)
    return sl_error(SL_EINVAL, "tpe: n_trials, n_startup and n_candidates must be positive");
  if (!(p->gamma > 0.0 && p->gamma < 1.0))
    return sl_error(SL_EINVAL, "tpe: gamma = %g must be in (0, 1)", p->gamma);
  const sl_search_trials *w = p->warm && p->warm->n ? p->warm : NULL;
  if (w == out)
    return sl_error(SL_EINVAL, "tpe: the warm trials and the result must be different structs");
  if (w && w->dim != dim)
    return sl_error(SL_EINVAL, "tpe: warm trials of dimension %zu for a search of %zu", w->dim,
                    dim);
  const size_t N = p->n_trials + (w ? w->n : 0);
  if ((rc = trials_alloc(out, N, dim)))
    return rc;
  if (w) {
    memcpy(out->x, w->x, w->n * dim * sizeof(double));
    memcpy(out->y, w->y, w->n * sizeof(double));
    out->n = w->n;
    out->best = w->best;
  }
  ranked *rk = malloc(N * sizeof *rk);
  double *vals = malloc(N * sizeof(double)), *x = malloc(dim * sizeof(double));
  double *cand = malloc(p->n_candidates * dim * sizeof(double));
  double *score = malloc(p->n_candidates * sizeof(double));
  double *pbuf = malloc(8 * (N + 1) * sizeof(double));
  parzen good = {0, pbuf, pbuf + (N + 1), pbuf + 2 * (N + 1), pbuf + 3 * (N + 1)};
  parzen bad = {0, pbuf + 4 * (N + 1), pbuf + 5 * (N + 1), pbuf + 6 * (N + 1),
                pbuf + 7 * (N + 1)};
  if (!rk || !vals || !x || !cand || !score || !pbuf)
    rc = sl_error(SL_ENOMEM, "tpe: out of memory");
  sl_rng_state g;
  sl_rng_seed(&g, sl_seed_mix(p->seed, 0x7e9e));
  for (size_t k = out->n; !rc && k < N; k++) {
    if (k < p->n_startup || k < 2)
      for (size_t d = 0; d < dim; d++)
        x[d] = lo[d] + (hi[d] - lo[d]) * sl_rng_uniform(&g);
    else
      tpe_propose(out, lo, hi, p, &g, rk, vals, &good, &bad, cand, score, x);
    rc = evaluate(out, x, f, user);
  }
  free(rk), free(vals), free(x), free(cand), free(score), free(pbuf);
  if (rc)
    sl_search_trials_free(out);
  return rc;
}
