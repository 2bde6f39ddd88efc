/* paths.h (internal) -- the hot row kernels, one set per vector path, and
 * the choice between them.
 *
 * The kernels of lib/core/hot_body.h are compiled three times: for
 * AVX-512F (hot_avx512.c), AVX2 + FMA (hot_avx2.c) and the baseline x86-64
 * instruction set (hot_baseline.c; the only one off x86-64 or without
 * GCC). Each build fills a table of the same functions, with vector widths
 * and register blocking of its own. slk_path() returns the table of
 * sl_isa_active() at each call, so SPIKELOOP_ISA and sl_isa_set() take
 * effect at once (the tests force each path in turn). All three give the
 * same bits: they keep the reference loops' order of every sum.
 *
 * The public names of these kernels (slk_lif_row, slk_gather_row, ... in
 * kernels.h and lif_row.h) call through the table.
 */
#ifndef SL_PATHS_H
#define SL_PATHS_H

#include "core/kernels.h"
#include "core/lif_row.h"
#include "spikeloop/version.h"

typedef struct {
  /* slk_lif_row, slk_li_row, slk_lif_bwd_row (lif_row.h) */
  void (*lif_row)(const sl_neurons *p, const slk_decay *d, int reset, size_t N, const float *h,
                  const float *i_prev, float *i_out, float *vp, int32_t *left, float *v,
                  float *s, uint8_t *clamp);
  void (*li_row)(const sl_neurons *p, const slk_decay *d, size_t N, const float *h, float *i,
                 float *v);
  void (*lif_bwd_row)(const sl_neurons *p, const slk_decay *d, size_t N, float beta,
                      int to_value, int detach, const int32_t *clamp, const int32_t *nclamp,
                      const float *gs, const float *v, const float *s, const float *ext,
                      float *gh, float *gvn, float *gin);
  /* slk_gather_row / slk_gather_add_row, slk_dense_rows_add (kernels.h) */
  void (*gather_row)(float *y, const uint32_t *idx, const float *val, size_t n, const float *w,
                     size_t N);
  void (*gather_add_row)(float *y, const uint32_t *idx, const float *val, size_t n,
                         const float *w, size_t N);
  void (*dense_rows_add)(float *y, const float *g, size_t R, const float *wt, size_t K,
                         size_t N);
  /* dW[k, :] += val * g[r, :] for the events (r, k) of ev with k0 <= k < k1,
   * r ascending (the rows of dW of one thread, slk_matmul_tn_acc_ev) */
  void (*scatter_rows)(float *dw, const slk_events *ev, const float *g, size_t N, size_t k0,
                       size_t k1);
  /* slk_row_events (returns -1 on NaN or Inf), slk_row_list */
  long (*row_scan)(const float *x, size_t K, uint32_t *idx, float *val);
  size_t (*row_list)(const float *x, size_t K, uint32_t *idx);
} slk_paths;

/* x86-64 GCC builds all three paths; elsewhere there is only the baseline */
#if defined(__x86_64__) && defined(SLK_GCC_PRAGMAS)
#define SLK_X86_PATHS 1
#endif

extern const slk_paths slk_paths_baseline;
#ifdef SLK_X86_PATHS
extern const slk_paths slk_paths_avx2, slk_paths_avx512;
#endif

/* The kernels of the active path. */
static inline const slk_paths *slk_path(void)
{
#ifndef SLK_X86_PATHS
  return &slk_paths_baseline;
#else
  switch (sl_isa_active()) {
  case SL_ISA_AVX512:
    return &slk_paths_avx512;
  case SL_ISA_AVX2:
    return &slk_paths_avx2;
  default:
    return &slk_paths_baseline;
  }
#endif
}

#endif
