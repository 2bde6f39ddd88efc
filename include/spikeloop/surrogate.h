/* spikeloop/surrogate.h -- surrogate derivatives of the spike function.
 *
 * The forward spike is a Heaviside step of (v - v_th); in the backward pass
 * its derivative is replaced by a smooth function of x = v - v_th with a
 * steepness beta. Each surrogate also provides `smooth`, an antiderivative
 * of its derivative (smooth(-inf) = 0): a network whose forward spike is
 * `smooth` has the surrogate gradient as its exact gradient, which makes
 * finite-difference checks of backpropagation meaningful.
 */
#ifndef SPIKELOOP_SURROGATE_H
#define SPIKELOOP_SURROGATE_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
  SL_SURROGATE_SUPERSPIKE = 0, /* fast sigmoid: 1 / (beta |x| + 1)^2 */
  SL_SURROGATE_SIGMOID = 1,    /* beta s(beta x) (1 - s(beta x)), s the logistic */
  SL_SURROGATE_ARCTAN = 2      /* 1 / (1 + (pi beta x / 2)^2) */
};

typedef struct {
  const char *name; /* "superspike", "sigmoid", "arctan" */
  int id;           /* SL_SURROGATE_* */
  double (*deriv)(double x, double beta);
  double (*smooth)(double x, double beta);
} sl_surrogate;

/* Find by name; NULL if unknown (the caller raises SL_ENOTFOUND and may list
 * the names with sl_surrogate_names). */
const sl_surrogate *sl_surrogate_find(const char *name);
/* NULL-terminated list of all surrogates, and of their names (same order). */
const sl_surrogate *const *sl_surrogate_list(void);
const char *const *sl_surrogate_names(void);
/* Surrogate by id, NULL if out of range. */
const sl_surrogate *sl_surrogate_by_id(int id);

#ifdef __cplusplus
}
#endif
#endif
