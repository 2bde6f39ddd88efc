/* lif_row.h (internal) -- the row kernels every LIF and LI kernel shares
 * (lib/core/lif_row.c): one time step of one sample's row of N neurons,
 * forward and adjoint, and the per-neuron decay factors they read.
 *
 * lif.c (the public kernels), lif_layer.c (a network's fused layer) and
 * net.c (inference) all step their rows through these, so the operations
 * and their order are written once. The decay factors are cached by their
 * owner (a network keeps one set per layer, lib/core/net.c) and recomputed
 * only when the time constants they come from have changed.
 *
 * The inline helpers below are compiled with the settings of SLK_VECTORIZE
 * (kernels.h) whatever file includes them: GCC inlines a function only
 * into callers with the same floating-point settings, and lif.c and
 * lif_row.c, which call them in their loops, are SLK_VECTORIZE files.
 */
#ifndef SL_LIF_ROW_H
#define SL_LIF_ROW_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "spikeloop/lif.h"
#include "spikeloop/neurons.h"
#include "core/kernels.h"

/* Per-neuron constants of the discrete dynamics of spikeloop/lif.h:
 * a_mem = exp(-dt/tau_mem), a_syn = exp(-dt/tau_syn), k_in = 1 - a_mem if
 * scale_input else 1 (n each). The rest is the key they were computed
 * from: n, dt, scale_input and copies of tau_mem and tau_syn. A zeroed
 * struct is empty. */
typedef struct slk_decay {
  float *a_mem, *a_syn, *k_in;
  size_t n;
  float *tau_mem, *tau_syn; /* the key's time constants (n each) */
  double dt;
  int scale_input, valid;
} slk_decay;

/* Bring d (zeroed or from an earlier call) up to date for p, scale_input
 * and dt: recomputed unless its key equals them bit for bit, so that a
 * caller may edit p's parameters at any time. On failure d is left empty.
 * Errors: SL_ENOMEM. */
int slk_decay_update(slk_decay *d, const sl_neurons *p, int scale_input, double dt);
/* The factors for one call: slk_decay_update on an empty d. */
int slk_decay_make(slk_decay *d, const sl_neurons *p, int scale_input, double dt);
void slk_decay_free(slk_decay *d); /* leaves d empty */

/* The argument checks of the LIF kernels: SL_EINVAL with a message. */
int slk_lif_check_args(const sl_neurons *p, const sl_lif_options *o, double dt, size_t T,
                       size_t B);

#ifdef SLK_GCC_PRAGMAS
#pragma GCC push_options
SLK_VECTORIZE
#endif

/* Spike value at x = V - v_th: Heaviside, or the surrogate's smooth spike. */
static inline float slk_spike_value(const sl_lif_options *o, float x)
{
  return o->smooth ? (float)o->surrogate->smooth(x, o->beta) : (x > 0.0f ? 1.0f : 0.0f);
}

/* The surrogate derivative at x; the common SuperSpike case inline. */
static inline float slk_spike_deriv(const sl_lif_options *o, float x)
{
  if (o->surrogate->id == SL_SURROGATE_SUPERSPIKE) {
    float d = (float)o->beta * fabsf(x) + 1.0f;
    return 1.0f / (d * d);
  }
  return (float)o->surrogate->deriv(x, o->beta);
}

/* Membrane after the reset, Vp, from the recorded V and S. */
static inline float slk_post_reset(const sl_lif_options *o, float v, float s, float v_th,
                                   float v_reset)
{
  return o->reset == SL_RESET_TO_VALUE ? v * (1.0f - s) + v_reset * s : v - s * (v_th - v_reset);
}

#ifdef SLK_GCC_PRAGMAS
#pragma GCC pop_options
#endif

/* One time step of one sample's row of N LIF neurons with Heaviside
 * spikes (o->smooth must be 0), the equations of spikeloop/lif.h in the
 * operation order all LIF kernels share:
 *   I = a_s I + gain h;   clamped = left > 0
 *   V = clamped ? v_reset : v_leak + a_m (Vp - v_leak) + k I
 *   S = clamped ? 0 : H(V - v_th);   Vp = clamped ? v_reset : post-reset(V, S)
 *   left = clamped ? left - 1 : (S ? refrac : 0)
 * i_prev is I[t-1] (zeros at t = 0), i_out receives I[t]; vp and left are
 * updated in place; v, s, clamp are output rows. No two arrays may
 * overlap. */
void slk_lif_row(const sl_neurons *p, const slk_decay *d, int reset, size_t N, const float *h,
                 const float *i_prev, float *i_out, float *vp, int32_t *left, float *v, float *s,
                 uint8_t *clamp);
/* The same step for any options (smooth spikes included): slk_lif_row, or
 * the smooth variant. */
void slk_lif_step(const sl_neurons *p, const slk_decay *d, const sl_lif_options *o, size_t N,
                  const float *h, const float *i_prev, float *i_out, float *vp, int32_t *left,
                  float *v, float *s, uint8_t *clamp);

/* One reverse step of one sample's row of the LIF adjoint, for Heaviside
 * spikes, the SuperSpike surrogate and no tau gradients: from gs = dL/dS
 * of the row, V, S, the clamp rows of steps t and t+1 as int32 (ones after
 * the last step) and ext = dL/dV extra (or NULL), writes gh = dL/dh of the
 * row; gvn, gin carry gV, gI of step t+1 in and of step t out. */
void slk_lif_bwd_row(const sl_neurons *p, const slk_decay *d, size_t N, float beta, int to_value,
                     int detach, const int32_t *clamp, const int32_t *nclamp, const float *gs,
                     const float *v, const float *s, const float *ext, float *gh, float *gvn,
                     float *gin);

/* One step of a row of N LI neurons, in place: I = a_s I + gain h;
 * V = v_leak + a_m (V - v_leak) + k I. */
void slk_li_row(const sl_neurons *p, const slk_decay *d, size_t N, const float *h, float *i,
                float *v);

#endif
