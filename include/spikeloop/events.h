/* spikeloop/events.h -- spike rasters as event lists (lib/core/events.c).
 *
 * A spike raster (T, B, n) kept as its list of events (the nonzero
 * entries, with their values), e.g. an input used for many runs: long
 * simulations then do not scan T * B * n mostly-zero values per run. The
 * network's forward and inference take them (spikeloop/net.h). */
#ifndef SPIKELOOP_EVENTS_H
#define SPIKELOOP_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sl_spikes sl_spikes;

/* From a float raster (T, B, n); errors: SL_EINVAL, SL_ENUMERIC (NaN or
 * Inf), SL_ENOMEM. */
int sl_spikes_from_dense(sl_spikes **out, const float *x, size_t T, size_t B, size_t n);
/* From a uint8 raster (T, B, n) of spike counts. */
int sl_spikes_from_u8(sl_spikes **out, const uint8_t *x, size_t T, size_t B, size_t n);
void sl_spikes_free(sl_spikes *sp); /* NULL is a no-op */
/* Number of events (nonzero entries); 0 for NULL. */
size_t sl_spikes_count(const sl_spikes *sp);
/* The raster's shape; each output may be NULL. Errors: SL_EINVAL (sp NULL). */
int sl_spikes_shape(const sl_spikes *sp, size_t *T, size_t *B, size_t *n);

#ifdef __cplusplus
}
#endif
#endif
