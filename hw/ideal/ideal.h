/* ideal.h (internal) -- the "ideal" backend: the exact simulator behind the
 * backend interface; and what it reports, for the backends whose neurons
 * are the model's own and observed as the ideal backend observes them
 * (memristor). The ideal backend is always built, so they can rely on it. */
#ifndef SL_HW_IDEAL_H
#define SL_HW_IDEAL_H

#include "spikeloop/backend.h"

const sl_backend *slb_ideal_backend(void);

/* Capabilities in model units: no practical size limit, float weights
 * (weight_levels 0), the exact membrane (adc_bits 0) sampled every dt,
 * time_scale and membrane_gain 1, spikes and membrane observed, no
 * recurrence; the caller sets what differs. */
void slb_ideal_model_caps(sl_backend_caps *c, double dt);

/* Observations of a run of T model steps, B samples, n_total neurons:
 * T + 1 membrane samples every dt from 0 (sample 0 the resting state,
 * sample t + 1 the membrane after step t). Errors: SL_ENOMEM. */
int slb_ideal_obs_reset(sl_observations *obs, size_t B, size_t n_total, size_t T, double dt);
/* Record one layer, the neurons p of global indices base .. base + p->n - 1:
 * v_leak as sample 0, its membrane v (T, B, p->n) as samples 1..T, and each
 * spike of s (T, B, p->n; NULL for the readout) at (t + 0.5) dt.
 * Errors: SL_ENOMEM. */
int slb_ideal_obs_layer(sl_observations *obs, const sl_neurons *p, size_t base, size_t T,
                        const float *v, const float *s, double dt);

/* read_config's keys of model units: time_scale and volt_per_unit "1",
 * volt_at_zero and spike_delay "0". Returns what snprintf returns, or -1
 * if key is none of them. */
int slb_ideal_unit_key(const char *key, char *buf, size_t len);

#endif
