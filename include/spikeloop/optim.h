/* spikeloop/optim.h -- optimisers over a flat parameter block.
 *
 * Strategies ("adam", "sgd") are static tables found by name. The learning
 * rate follows a step decay: lr(epoch) = lr0 * lr_decay^floor(epoch / lr_step).
 */
#ifndef SPIKELOOP_OPTIM_H
#define SPIKELOOP_OPTIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  double lr;       /* initial learning rate (> 0) */
  double lr_decay; /* factor per lr_step epochs, (0, 1] */
  size_t lr_step;  /* epochs per decay step (>= 1) */
  double beta1, beta2, eps; /* Adam */
  double momentum;          /* SGD, [0, 1) */
} sl_optim_params;

/* lr 1e-3, no decay, Adam (0.9, 0.999, 1e-8), momentum 0. */
sl_optim_params sl_optim_params_default(void);

typedef struct sl_optim sl_optim;

/* Errors: SL_ENOTFOUND (unknown name; message lists the known ones),
 * SL_EINVAL (bad parameters), SL_ENOMEM. */
int sl_optim_create(sl_optim **out, const char *name, size_t n_params, const sl_optim_params *p);
void sl_optim_free(sl_optim *o);
const char *sl_optim_name(const sl_optim *o);

/* One update of params from grads (n_params each). Errors: SL_ENUMERIC if a
 * gradient is NaN/Inf (params are left unchanged). */
int sl_optim_step(sl_optim *o, float *params, const float *grads);

/* Set the learning rate for `epoch` (0-based) from the step decay. */
void sl_optim_set_epoch(sl_optim *o, size_t epoch);
double sl_optim_lr(const sl_optim *o);

/* The optimiser's state, for checkpoints: the number of steps taken and its
 * moment arrays (n_params floats each; Adam: m and v, SGD: m, v NULL).
 * sl_optim_state gives read-only views; sl_optim_set_state copies step and
 * the moments in (v ignored when the optimiser has none). With the same
 * parameters and learning-rate epoch, the next step after set_state is
 * bit-identical to the step the saved optimiser would have taken.
 * Errors: SL_EINVAL (NULL optimiser, NULL m, or NULL v for Adam). */
int sl_optim_state(const sl_optim *o, size_t *step, const float **m, const float **v);
int sl_optim_set_state(sl_optim *o, size_t step, const float *m, const float *v);
/* Number of moment arrays (Adam 2, SGD 1), 0 for NULL. */
size_t sl_optim_num_moments(const sl_optim *o);
size_t sl_optim_num_params(const sl_optim *o);

/* NULL-terminated list of names. */
const char *const *sl_optim_list(void);

#ifdef __cplusplus
}
#endif
#endif
