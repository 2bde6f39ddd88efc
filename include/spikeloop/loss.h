/* spikeloop/loss.h -- classification losses on the readout membrane and
 * activity regularisers.
 *
 * Readout membrane v_out is (T, B, K). The logits are either the maximum
 * over time (SL_LOSS_MAX, Cramer et al. 2022) or the sum over time
 * (SL_LOSS_SUM) of each output's membrane; the loss is the cross-entropy of
 * softmax(logits), averaged over the batch.
 */
#ifndef SPIKELOOP_LOSS_H
#define SPIKELOOP_LOSS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { SL_LOSS_MAX = 0, SL_LOSS_SUM = 1 };

/* "max" / "sum"; SL_ENOTFOUND for others (the message lists the known
 * names). sl_loss_name gives NULL for an unknown kind. */
int sl_loss_from_name(const char *name, int *kind);
const char *sl_loss_name(int kind);
/* NULL-terminated list of the loss names, in SL_LOSS_* order. */
const char *const *sl_loss_list(void);

/* Cross-entropy with an optional amplitude penalty
 *   L = mean_b CE(logits_b, y_b) + reg_amp * mean_{b,k} logits_bk^2.
 * Out: *loss (total), gv (T,B,K) = dL/dv_out (overwritten; may be NULL),
 * logits (B,K) (may be NULL), *n_correct = samples whose argmax logit is the
 * label (may be NULL). Errors: SL_EINVAL (label out of range, bad kind),
 * SL_ENUMERIC (non-finite membrane). */
int sl_loss_ce(int kind, size_t T, size_t B, size_t K, const float *v_out,
               const int32_t *labels, double reg_amp, double *loss, float *gv,
               float *logits, size_t *n_correct);

/* Spike-count penalty on a hidden layer's spikes s (T,B,N):
 *   R = weight * mean_{b,n} c_bn^2,  c_bn = sum_t s[t,b,n].
 * Adds dR/ds into gs (T,B,N) if gs is not NULL; returns R in *value. */
int sl_reg_spike_count(size_t T, size_t B, size_t N, const float *s, double weight,
                       double *value, float *gs);

#ifdef __cplusplus
}
#endif
#endif
