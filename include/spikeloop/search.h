/* spikeloop/search.h -- black-box maximisation over a box: the
 * tree-structured Parzen estimator (TPE; Bergstra et al., NeurIPS 2011) and
 * a full grid, for tuning the exit thresholds of dynamic networks (Zhang et
 * al., Sci. Adv. 2024 tune theirs by grid search, then TPE) or any other
 * few continuous settings.
 *
 * TPE, as implemented here (per dimension independent, as hyperopt does):
 *  1. the first n_startup trials are uniform in the box (or given, warm);
 *  2. then the trials so far are split into the best n_good =
 *     max(1, ceil(gamma n)) (at most 25) and the rest; for each dimension,
 *     l(x) is a Parzen mixture over the good values and g(x) over the rest:
 *     Gaussians at the values (plus a prior one at the box's centre with
 *     sd = its width), truncated to the box, each with sd = the larger gap
 *     to its neighbours among the sorted values and the bounds, clipped to
 *     [width / min(100, n + 1), width];
 *  3. n_candidates points are drawn from l and the one with the largest
 *     sum over dimensions of log l(x) - log g(x) is evaluated next.
 * The stream is fixed by `seed`: the same objective gives the same trials.
 *
 * Errors: SL_EINVAL (NULL, dim 0, lo >= hi, bad parameters), SL_ERANGE (a
 * grid of more than 1e7 points), SL_ENOMEM, SL_ENUMERIC (the objective
 * returned a non-finite value), or the objective's own code, which stops
 * the search.
 */
#ifndef SPIKELOOP_SEARCH_H
#define SPIKELOOP_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The objective: *value = f(x) (to maximise); returns SL_OK or an error. */
typedef int (*sl_search_fn)(const double *x, void *user, double *value);

typedef struct sl_search_trials sl_search_trials;

typedef struct {
  size_t n_trials;     /* 100: evaluations in all */
  size_t n_startup;    /* 20: uniform ones first */
  size_t n_candidates; /* 24: draws from l(x) per step */
  double gamma;        /* 0.25: fraction of trials that count as good */
  uint64_t seed;       /* 1 */
  /* NULL, or earlier evaluations of the same objective (a grid search, say)
   * that TPE starts from as if it had made them: they are copied to the
   * front of the result, count towards n_startup, and are not evaluated
   * again; n_trials new evaluations follow. */
  const sl_search_trials *warm;
} sl_tpe_params;

sl_tpe_params sl_tpe_params_default(void);

/* Every evaluation of a search, in order. */
struct sl_search_trials {
  size_t n, dim;
  double *x;   /* (n, dim) */
  double *y;   /* (n) */
  size_t best; /* index of the largest y (the first on ties) */
};

void sl_search_trials_free(sl_search_trials *t); /* zeroes it; safe on a zeroed struct */

/* TPE over [lo, hi] (dim values each); out receives every trial. */
int sl_tpe_maximise(size_t dim, const double *lo, const double *hi, sl_search_fn f, void *user,
                    const sl_tpe_params *p, sl_search_trials *out);

/* Every point of the grid with `points` (>= 2) evenly spaced values per
 * dimension, bounds included, in row-major order (the last dimension
 * fastest). */
int sl_grid_maximise(size_t dim, const double *lo, const double *hi, size_t points,
                     sl_search_fn f, void *user, sl_search_trials *out);

#ifdef __cplusplus
}
#endif
#endif
