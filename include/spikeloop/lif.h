/* spikeloop/lif.h -- LIF and leaky-integrator (LI) layer kernels.
 *
 * Layout: every state array is (T, B, N), time-major, row-major:
 * element (t, b, n) is at ((t*B + b)*N + n). Weights W are (N_pre, N_post),
 * row-major, used as  drive = x @ W.
 *
 * Per neuron n (parameters from sl_neurons; a_m = exp(-dt/tau_mem),
 * a_s = exp(-dt/tau_syn), k = (1 - a_m) if scale_input else 1), for
 * t = 0 .. T-1 with I[-1] = 0 and Vp[-1] = v_leak:
 *
 *   h[t]  = x[t] @ W  (+ S[t-1] @ W_rec for a recurrent layer)
 *   I[t]  = a_s * I[t-1] + gain * h[t]
 *   if refractory at t (clamp[t] = 1):   V[t] = v_reset, S[t] = 0, Vp[t] = v_reset
 *   else:
 *     V[t]  = v_leak + a_m * (Vp[t-1] - v_leak) + k * I[t]      (recorded membrane)
 *     S[t]  = H(V[t] - v_th)  (strict: spike iff V > v_th), or smooth(V - v_th)
 *     Vp[t] = V[t] * (1 - S[t]) + v_reset * S[t]                 (reset to value)
 *           | V[t] - S[t] * (v_th - v_reset)                     (reset by subtraction)
 *   a spike at t makes steps t+1 .. t+refrac refractory.
 *
 * W1 of the benchmark suite (reset to zero on the step after a spike, not
 * differentiated) is reset-to-value with v_reset = 0, refrac = 1 and
 * detach_reset = 1.
 *
 * Backward is the exact adjoint of these equations with surrogate'(V - v_th)
 * in place of dS/dV (and the reset treated as constant if detach_reset).
 * With smooth = 1 the forward spike is the surrogate's antiderivative; then
 * refrac must be 0 and the gradient is exact (checked by finite differences).
 *
 * The LI readout has no threshold:  I as above; V[t] = v_leak +
 * a_m (V[t-1] - v_leak) + k I[t], V[-1] = v_leak.
 *
 * Each kernel has a plain reference twin (*_ref) used as the test oracle.
 */
#ifndef SPIKELOOP_LIF_H
#define SPIKELOOP_LIF_H

#include <stddef.h>
#include <stdint.h>

#include "spikeloop/neurons.h"
#include "spikeloop/surrogate.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { SL_RESET_TO_VALUE = 0, SL_RESET_SUBTRACT = 1 };

typedef struct {
  int reset;        /* SL_RESET_TO_VALUE or SL_RESET_SUBTRACT */
  int detach_reset; /* 1: no gradient flows through the reset */
  int scale_input;  /* 1: V integrates (1 - a_m) I; 0: V integrates I */
  int smooth;       /* 1: smooth forward spike (gradient checks) */
  const sl_surrogate *surrogate;
  double beta;      /* surrogate steepness */
} sl_lif_options;

/* reset to value, detached, scale_input = 0, Heaviside, SuperSpike beta 10 */
sl_lif_options sl_lif_options_default(void);

/* Forward of a LIF layer. h: (T,B,N) in: feed-forward drive x @ W; for a
 * recurrent layer (w_rec != NULL, (N,N)) the recurrent drive is added into
 * h in place, so h holds the total drive on return. Out: i_syn, v (recorded
 * membrane V), s (spikes 0/1, or smooth values), clamp (1 where refractory).
 * Errors: SL_EINVAL. */
int sl_lif_forward(const sl_neurons *p, const sl_lif_options *o, double dt,
                   size_t T, size_t B, const float *w_rec, float *h,
                   float *i_syn, float *v, float *s, uint8_t *clamp);
int sl_lif_forward_ref(const sl_neurons *p, const sl_lif_options *o, double dt,
                       size_t T, size_t B, const float *w_rec, float *h,
                       float *i_syn, float *v, float *s, uint8_t *clamp);

/* Backward of a LIF layer. gs: (T,B,N) in: dL/dS from above (readout,
 * regularisers); it is used as scratch (recurrent terms are added).
 * gv_ext: (T,B,N) dL/dV added directly to the membrane gradient, or NULL.
 * Out: gh (T,B,N) = dL/dh, the gradient of the drive.
 * Accumulated (+=) if not NULL: dw_rec (N,N) += S[t-1]^T gh[t];
 * dtau_mem, dtau_syn (N) += dL/dtau. Errors: SL_EINVAL. */
int sl_lif_backward(const sl_neurons *p, const sl_lif_options *o, double dt,
                    size_t T, size_t B, const float *w_rec,
                    const float *i_syn, const float *v, const float *s,
                    const uint8_t *clamp, float *gs, const float *gv_ext,
                    float *gh, float *dw_rec, float *dtau_mem, float *dtau_syn);
int sl_lif_backward_ref(const sl_neurons *p, const sl_lif_options *o, double dt,
                        size_t T, size_t B, const float *w_rec,
                        const float *i_syn, const float *v, const float *s,
                        const uint8_t *clamp, float *gs, const float *gv_ext,
                        float *gh, float *dw_rec, float *dtau_mem, float *dtau_syn);

/* Synaptic currents of a layer whose spikes s (T,B,N) were measured rather
 * than simulated (in-the-loop injection): adds the recurrent drive
 * S[t-1] @ W_rec into h in place if w_rec is not NULL, then computes i_syn
 * with the same recursion as sl_lif_forward. */
int sl_lif_currents(const sl_neurons *p, double dt, size_t T, size_t B, const float *w_rec,
                    const float *s, float *h, float *i_syn);

/* LI readout forward: h (T,B,N) drive in; i_syn, v out. */
int sl_li_forward(const sl_neurons *p, int scale_input, double dt, size_t T,
                  size_t B, const float *h, float *i_syn, float *v);
/* LI backward: gv (T,B,N) = dL/dV in; gh out; dtau_* accumulated if not NULL. */
int sl_li_backward(const sl_neurons *p, int scale_input, double dt, size_t T,
                   size_t B, const float *i_syn, const float *v, const float *gv,
                   float *gh, float *dtau_mem, float *dtau_syn);

#ifdef __cplusplus
}
#endif
#endif
