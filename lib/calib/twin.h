/* twin.h -- inside lib/calib: the digital twin as arrays indexed by global
 * neuron id, shared by the fit's writer (fit.c) and the merge of twins
 * (twin_merge.c). The file layout is in spikeloop/fit.h. Not exported
 * (the library exports sl_* only). */
#ifndef SPIKELOOP_CALIB_TWIN_H
#define SPIKELOOP_CALIB_TWIN_H

#include <stddef.h>
#include <stdint.h>

#define TWIN_ABSENT (1u << 31) /* flag: neuron not characterised */
#define TWIN_NPARAM 6          /* tau_mem, tau_syn, v_th, v_leak, v_reset, gain */

/* model[k], mse[k]: parameter k (order above) and its standard error, model
 * units; refrac: whole steps of dt; refrac_s: the fitted hold, model s. */
typedef struct {
  size_t N;
  double *model[TWIN_NPARAM], *mse[TWIN_NPARAM];
  int32_t *refrac;
  double *refrac_s;
  uint32_t *flags;
} slc_twin;

/* Every neuron absent, parameters NaN. SL_ENOMEM (t freed) or SL_OK. */
int slc_twin_alloc(slc_twin *t, size_t N);
void slc_twin_free(slc_twin *t);
/* Unfit parameters (and absent neurons) take the median of the fitted;
 * v_reset is kept below v_th. */
void slc_twin_fill_unfitted(slc_twin *t);
/* Write the twin file (whole or not at all). SL_EIO, SL_ENOMEM. */
int slc_twin_save(const slc_twin *t, double dt, const char *path, const char *source);

#endif
