/* spikeloop/cam.h -- content-addressable memory on memristor crossbars.
 *
 * K vectors of dimension dim are stored as the columns of a crossbar
 * (sl_cim: dim rows x K columns, same device model, same tiles), each
 * element a differential pair. Values live in [-1, 1] on the device's
 * levels: device.levels = 2 stores ternary vectors {-1, 0, 1} (the ternary
 * CAM of Zhang et al., Sci. Adv. 2024), L levels store 2L-1 values.
 *
 * A search compares a query with every stored vector at once:
 *  - SL_CAM_COSINE: the query (scaled by its max |q|, plus search noise) is
 *    applied to the rows as input voltages; every column's current is its
 *    dot product with the stored vector (read noise, DAC and ADC of the
 *    device model); similarity = dot / (|q| |s_k|), |s_k| the norm of the
 *    stored target, known digitally at write time.
 *  - SL_CAM_HAMMING: the query (not rescaled; values in [-1, 1], plus
 *    search noise) is quantised to the stored value levels and
 *    compared element by element with one noisy read of every cell decoded
 *    to its nearest level; similarity = 1 - mismatches / dim.
 * Search noise: query_sd adds N(0, (query_sd m)^2) per query element
 * (m = max|q| for cosine, 1 for Hamming)
 * before the search, fresh per search; stored-value noise is the device's
 * programming noise, faults and drift, and read noise per search.
 */
#ifndef SPIKELOOP_CAM_H
#define SPIKELOOP_CAM_H

#include "spikeloop/cim.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { SL_CAM_COSINE = 0, SL_CAM_HAMMING = 1 } sl_cam_metric;

typedef struct {
  sl_cam_metric metric; /* SL_CAM_COSINE */
  sl_cim_params device; /* sl_cim_params_default() with levels 2 (ternary), w_max 1,
                           DAC one 8-bit level per input, no ADC (a winner-take-all
                           compares the match currents) */
  double query_sd;      /* 0: search noise, relative to max |q| */
  uint64_t query_seed;  /* 1 */
} sl_cam_params;

sl_cam_params sl_cam_params_default(void);

typedef struct sl_cam sl_cam;

/* A CAM for k vectors of dimension dim. Errors: as sl_cim_alloc, and
 * SL_EINVAL for an unknown metric or a negative query_sd. */
int sl_cam_alloc(sl_cam **out, size_t dim, size_t k, const sl_cam_params *p);
void sl_cam_free(sl_cam *c); /* NULL is a no-op */

size_t sl_cam_dim(const sl_cam *c);
size_t sl_cam_size(const sl_cam *c);
/* The crossbar underneath (counters, energy, drift time). */
sl_cim *sl_cam_cim(sl_cam *c);

/* Store all k vectors (k x dim, row-major, values in [-1, 1]; larger
 * magnitudes saturate). Errors: SL_ENUMERIC NaN/Inf. */
int sl_cam_store(sl_cam *c, const float *vectors);

/* Replace stored vector `index` (write-verify of its changed cells only). */
int sl_cam_store_one(sl_cam *c, size_t index, const float *vector);

/* Search n queries (n x dim): for each, the top_k best matches
 * (idx, n x top_k, best first; ties to the lower index) and their
 * similarities (sim, n x top_k, may be NULL). An all-zero query has
 * similarity 0 to everything under cosine. Errors: SL_EINVAL nothing
 * stored / top_k outside 1..k, SL_ENUMERIC NaN/Inf in a query. */
int sl_cam_search(sl_cam *c, const float *queries, size_t n, size_t top_k, size_t *idx,
                  float *sim);

#ifdef __cplusplus
}
#endif
#endif
