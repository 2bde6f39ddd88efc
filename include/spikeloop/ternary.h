/* spikeloop/ternary.h -- ternary weights {-a, 0, +a} for quantisation-aware
 * training and for 2-level memristor devices (a weight is a differential
 * pair of devices each at Gmin or Gmax: Zhang et al., Sci. Adv. 2024).
 *
 * The quantiser of ternary weight networks (Li & Liu 2016), per tensor:
 *   delta = t mean_i |w_i|           (t = 0.7 by default),
 *   a     = mean of |w_i| over the i with |w_i| > delta,
 *   q_i   = a sign(w_i) if |w_i| > delta, else 0.
 * a minimises |w - q|^2 for that support. Training keeps the float
 * ("latent") weights, runs the forward pass with q and passes the gradient
 * straight through: dL/dw = dL/dq (the straight-through estimator).
 */
#ifndef SPIKELOOP_TERNARY_H
#define SPIKELOOP_TERNARY_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SL_TERNARY_T 0.7 /* threshold factor of Li & Liu 2016 */

typedef struct {
  float alpha;      /* a: the magnitude of the non-zero weights (0 if none) */
  float delta;      /* the threshold */
  size_t n_nonzero; /* weights set to +-a */
} sl_ternary_info;

/* q (n) = the ternary weights of w (n); q may be w. info may be NULL.
 * t >= 0 (0 keeps every non-zero weight). Errors: SL_EINVAL (NULL, n 0,
 * t < 0), SL_ENUMERIC (NaN/Inf in w; q untouched). */
int sl_ternary_quantise(float *q, const float *w, size_t n, double t, sl_ternary_info *info);
/* The plain definition in double precision, the test oracle. */
int sl_ternary_quantise_ref(float *q, const float *w, size_t n, double t, sl_ternary_info *info);

/* As sl_ternary_quantise, but codes in {-1, 0, 1} (q / a): the values a
 * ternary CAM or a 2-level crossbar stores. */
int sl_ternary_codes(float *codes, const float *w, size_t n, double t, sl_ternary_info *info);

/* Straight-through backward: dw (n) += dq (n). */
int sl_ternary_ste_backward(float *dw, const float *dq, size_t n);

#ifdef __cplusplus
}
#endif
#endif
