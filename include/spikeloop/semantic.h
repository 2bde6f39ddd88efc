/* spikeloop/semantic.h -- the semantic memory of a dynamic network (Zhang
 * et al., Sci. Adv. 2024): for each exit, one centre per class, held in a
 * content-addressable memory (spikeloop/cam.h) and searched by cosine
 * similarity.
 *
 * Building exit e from labelled features f (n, dim):
 *   offset o  = the mean over classes of the class means (kept digitally);
 *   centre c_k = mean over the samples of class k of (f - o)   (centre = 1)
 *             or mean over the samples of class k of f         (centre = 0);
 *             with per_class > 1, class k has per_class centres instead:
 *             its samples' (f - o) split by spherical k-means (k-means++
 *             seeding from a fixed seed per exit and class; 25 rounds at
 *             most), each centre the mean of its part, so a class whose
 *             features lie in several clusters (poses, sub-shapes) is not
 *             one blurred mean;
 *   stored    = ternary codes of c_k (spikeloop/ternary.h, factor
 *               ternary_t over each centre) on a ternary CAM, or c_k / max|c|
 *               on a CAM of more levels (ternary = 0).
 * The offset matters for features after a ReLU: their class means are all
 * non-negative, so without it a ternary centre can only say "on"/"off" per
 * channel; with it, -1 marks the channels a class keeps below average.
 * A query subtracts the same offset (digitally), then searches the CAM:
 * one noisy cosine read against every centre of that exit. Its score, the
 * value an exit threshold is compared with, is the best cosine
 * (SL_SEMANTIC_COSINE, Zhang et al.) or the best minus the second best
 * (SL_SEMANTIC_MARGIN: the CAM's winner-take-all reports its leaders;
 * the margin is the best centre's cosine minus that of the best centre of
 * another class, so a sample close to two classes is not taken for sure). A class without
 * samples gets a zero centre (cosine 0: it never passes a threshold >= 0)
 * and is left out of the offset.
 *
 * Errors: SL_EINVAL (bad sizes, no samples at all, labels out of range,
 * exit out of range), SL_ENUMERIC, SL_ENOMEM, and the CAM's.
 */
#ifndef SPIKELOOP_SEMANTIC_H
#define SPIKELOOP_SEMANTIC_H

#include <stddef.h>
#include <stdint.h>

#include "spikeloop/cam.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { SL_SEMANTIC_COSINE = 0, SL_SEMANTIC_MARGIN = 1 } sl_semantic_score;

typedef struct {
  sl_cam_params cam; /* sl_cam_params_default(): ternary cosine CAM */
  int ternary;       /* 1: store ternary codes (cam.device.levels should be 2) */
  double ternary_t;  /* 0.7 */
  int centre;        /* 1: subtract the offset (see above) */
  sl_semantic_score score; /* SL_SEMANTIC_COSINE */
  size_t per_class;  /* 1: centres per class, 1..SL_SEMANTIC_MAX_PER_CLASS (CAM rows:
                        n_classes * per_class) */
} sl_semantic_params;

#define SL_SEMANTIC_MAX_PER_CLASS 16

sl_semantic_params sl_semantic_params_default(void);

typedef struct sl_semantic sl_semantic;

/* n_exits memories for n_classes classes; exit e holds dim[e]-dimensional
 * centres. Each exit's CAM gets its own noise seeds (+ e). */
int sl_semantic_create(sl_semantic **out, size_t n_exits, const size_t *dim, size_t n_classes,
                       const sl_semantic_params *p);
void sl_semantic_free(sl_semantic *m); /* NULL is a no-op */

size_t sl_semantic_num_exits(const sl_semantic *m);
size_t sl_semantic_dim(const sl_semantic *m, size_t e);
size_t sl_semantic_num_classes(const sl_semantic *m);
/* The CAM rows of every exit: n_classes * per_class (a search costs dim[e]
 * multiply-accumulates per row). */
size_t sl_semantic_rows(const sl_semantic *m);

/* Build exit e from n labelled features (n, dim[e]) as above. */
int sl_semantic_build(sl_semantic *m, size_t e, const float *feat, const int32_t *labels,
                      size_t n);

/* Best class and its score (above: the cosine, or its margin over the
 * second best) for B features (B, dim[e]); sim may be NULL. Errors:
 * SL_EINVAL if exit e was never built. */
int sl_semantic_query(sl_semantic *m, size_t e, const float *feat, size_t B, int32_t *cls,
                      float *sim);

/* What exit e stores: the values written to its CAM (n_classes *
 * per_class, dim; class k's centres are rows k * per_class onwards) and
 * its offset (dim); NULL before it is built. */
const float *sl_semantic_stored(const sl_semantic *m, size_t e);
const float *sl_semantic_offset(const sl_semantic *m, size_t e);

/* Counters summed over every exit's CAM crossbar, and their energy (J). */
void sl_semantic_counters(const sl_semantic *m, sl_cim_counters *sum, double *energy_j);
void sl_semantic_counters_reset(sl_semantic *m);

#ifdef __cplusplus
}
#endif
#endif
