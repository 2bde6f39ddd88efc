/* kernels.h (internal) -- matrix kernels shared by the layers.
 *
 * Row-major throughout. x is (R, K), W is (K, N). Each fast kernel has a
 * plain reference twin (*_ref), the oracle of the tests; with the same
 * inputs both produce bit-identical results, because the fast ones keep
 * the reference's summation order and only skip exact zeros of x
 * (spike rasters are mostly zeros).
 *
 * Internal symbols use the slk_ prefix: they are not exported from the
 * shared library (which exports ^sl_ only).
 */
#ifndef SL_KERNELS_H
#define SL_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "spikeloop/lif.h"
#include "spikeloop/neurons.h"

/* Files with hot loops start with SLK_VECTORIZE: loops are vectorised
 * with the dynamic cost model, and a*b + c is never fused into one FMA, so
 * every vector path rounds exactly as the reference loops do (the
 * bit-identity tests rely on it). Vectorising only ever runs independent
 * elements side by side; no sum is reordered (no -ffast-math).
 * no-trapping-math lets GCC compute both sides of a select (the AVX2 and
 * baseline paths have no masked lanes): it changes no value, only assumes
 * that floating-point exceptions do not trap. The row kernels themselves
 * are built once per vector path and chosen at each call (core/paths.h). */
#if defined(__GNUC__) && !defined(__clang__)
#define SLK_VECTORIZE _Pragma("GCC optimize(\"fp-contract=off\", \"vect-cost-model=dynamic\", \"no-trapping-math\")")
#define SLK_GCC_PRAGMAS 1
#else
#define SLK_VECTORIZE
#endif

/* y (R, N) = x (R, K) @ W (K, N)   (overwrites y) */
void slk_matmul(float *y, const float *x, const float *w, size_t R, size_t K, size_t N);
void slk_matmul_ref(float *y, const float *x, const float *w, size_t R, size_t K, size_t N);

/* dw (K, N) += x^T (K, R) @ g (R, N) */
void slk_matmul_tn_acc(float *dw, const float *x, const float *g, size_t R, size_t K, size_t N);
void slk_matmul_tn_acc_ref(float *dw, const float *x, const float *g, size_t R, size_t K, size_t N);

/* gx (R, K) = g (R, N) @ W^T (N, K)   (overwrites gx) */
void slk_matmul_nt(float *gx, const float *g, const float *w, size_t R, size_t K, size_t N);
void slk_matmul_nt_ref(float *gx, const float *g, const float *w, size_t R, size_t K, size_t N);

/* Event list (CSR) of a sparse (R, K) matrix: the nonzeros of row r are
 * idx[ptr[r] .. ptr[r+1]) (columns, ascending) with values val[...]. The
 * arrays grow as needed and are reused from call to call. */
typedef struct {
  size_t R, K, nnz;
  size_t *ptr;     /* (R + 1) */
  uint32_t *idx;   /* (nnz) */
  float *val;      /* (nnz) */
  size_t cap_rows, cap_nnz;
} slk_events;

/* List the nonzeros of x (R, K). Errors: SL_ENUMERIC (NaN or Inf in x;
 * this is the input check of the network), SL_ENOMEM, SL_EINVAL. */
int slk_events_build(slk_events *ev, const float *x, size_t R, size_t K);
void slk_events_free(slk_events *ev); /* leaves *ev empty; NULL is a no-op */

/* The public event list (spikeloop/net.h): a (T, B, n) raster's events. */
struct sl_spikes {
  size_t T, B;
  slk_events ev;
};

/* List the nonzeros of one row x (K) into idx/val (room for K), ascending;
 * returns their number, or -1 if a value is NaN or Inf. */
int slk_row_events(const float *x, size_t K, uint32_t *idx, float *val);

/* The columns of the nonzeros of one row x (K), ascending, into idx, which
 * must have room for K + SLK_ROW_PAD (whole vectors are stored); returns
 * their number. x must be free of NaN (a NaN counts as nonzero). */
#define SLK_ROW_PAD 16
size_t slk_row_list(const float *x, size_t K, uint32_t *idx);
/* The event list of a Heaviside spike raster (every value 1) from per-row
 * lists: row r's count[r] columns are at rows + r * (K + SLK_ROW_PAD) (from
 * slk_row_list). */
int slk_events_from_rows(slk_events *ev, size_t R, size_t K, const uint32_t *rows,
                         const uint32_t *count);

/* y (R, N) = x @ W (K, N) over the events of x; bit-identical to slk_matmul_ref. */
void slk_matmul_ev(float *y, const slk_events *ev, const float *w, size_t N);
/* dw (K, N) += x^T @ g (R, N) over the events of x; bit-identical to
 * slk_matmul_tn_acc_ref, for any thread count. */
void slk_matmul_tn_acc_ev(float *dw, const slk_events *ev, const float *g, size_t N);

/* The LIF and LI kernels of a network's layers. Each takes the layer's
 * decay factors d (lib/core/lif_row.h), computed for p, dt and the layer's
 * scale_input by the caller, which keeps them from call to call; the
 * public kernels of spikeloop/lif.h make them per call and call these. */
struct slk_decay;

/* The forward of one LIF layer (lib/core/lif_layer.c), the one time loop of
 * every LIF forward: per sample and step, the drive h = x W_in over the
 * input events `in` (rows (t, b)) -- or, if in is NULL, the drive already
 * in h --, plus, if w_rec, the layer's own spikes of the step before
 * through W_rec (added into h), then the LIF step, then, if rows is not
 * NULL, the row's spikes listed (slk_row_list) into rows/count, which
 * slk_events_from_rows turns into the next layer's input. The states h,
 * i_syn, v, s, clamp (T, B, N) are those of slk_matmul_ev + sl_lif_forward,
 * bit for bit. With input events, h and i_syn may be NULL: then they are
 * not kept (a row of each lives in cache while it is needed). rows:
 * (T B) x (N + SLK_ROW_PAD), count: T B, both or neither; listing needs
 * Heaviside spikes (o->smooth 0). sl_lif_forward is this with in = rows =
 * NULL. Errors: SL_EINVAL, SL_ENOMEM. */
int slk_lif_layer_forward(const sl_neurons *p, const struct slk_decay *d,
                          const sl_lif_options *o, double dt, size_t T, size_t B,
                          const slk_events *in, const float *w_in, const float *w_rec, float *h,
                          float *i_syn, float *v, float *s, uint8_t *clamp, uint32_t *rows,
                          uint32_t *count);

/* The backward of that layer, fused (lib/core/lif_layer.c), for Heaviside
 * spikes, SuperSpike and no tau gradients: per sample (four at a time if
 * recurrent, sharing W_rec^T) and step, descending, the row's dL/dS, then
 * the adjoint row step (slk_lif_bwd_row), writing gh (T, B, N). dL/dS comes
 * from gs (T, B, N) if not NULL, to which the recurrence gh[t+1] W_rec^T is
 * added in place (sl_lif_backward's contract); else from the layer above,
 * gh_above (T, B, n_above) through w_above (N, n_above), plus gs_extra
 * (T, B, N) if not NULL, plus the recurrence, a row at a time. gv_ext: an
 * extra dL/dV (T, B, N) or NULL. The sums are those of slk_matmul_nt_ref,
 * the regulariser's addition and sl_lif_backward, in their order: the same
 * bits as the separate passes. dW_rec is left to the caller. */
int slk_lif_layer_backward(const sl_neurons *p, const struct slk_decay *d,
                           const sl_lif_options *o, double dt, size_t T, size_t B,
                           const float *gh_above, size_t n_above, const float *w_above,
                           const float *gs_extra, float *gs, const float *gv_ext,
                           const float *w_rec, const float *v, const float *s,
                           const uint8_t *clamp, float *gh);

/* sl_lif_backward, sl_lif_currents (which reads only d's a_syn), sl_li_forward
 * and sl_li_backward of spikeloop/lif.h with the layer's decay factors d. */
int slk_lif_backward(const sl_neurons *p, const struct slk_decay *d, const sl_lif_options *o,
                     double dt, size_t T, size_t B, const float *w_rec, const float *i_syn,
                     const float *v, const float *s, const uint8_t *clamp, float *gs,
                     const float *gv_ext, float *gh, float *dw_rec, float *dtau_mem,
                     float *dtau_syn);
int slk_lif_currents(const sl_neurons *p, const struct slk_decay *d, double dt, size_t T,
                     size_t B, const float *w_rec, const float *s, float *h, float *i_syn);
int slk_li_forward(const sl_neurons *p, const struct slk_decay *d, double dt, size_t T, size_t B,
                   const float *h, float *i_syn, float *v);
int slk_li_backward(const sl_neurons *p, const struct slk_decay *d, int scale_input, double dt,
                    size_t T, size_t B, const float *i_syn, const float *v, const float *gv,
                    float *gh, float *dtau_mem, float *dtau_syn);

/* y (N) = sum over n events (ascending) of val[e] * W[idx[e], :] (overwrites y). */
void slk_gather_row(float *y, const uint32_t *idx, const float *val, size_t n, const float *w,
                    size_t N);
/* y (N) += the same sum (accumulates). */
void slk_gather_add_row(float *y, const uint32_t *idx, const float *val, size_t n, const float *w,
                        size_t N);

/* y (R, K) += g (R, N) @ wt (N, K), rows of y and g contiguous; each
 * element sums n in ascending order (bit-identical to one
 * slk_gather_add_row per row with all n listed), four rows sharing every
 * load of wt. */
void slk_dense_rows_add(float *y, const float *g, size_t R, const float *wt, size_t K, size_t N);

/* 1 if every one of n values is finite. */
int slk_all_finite(const float *a, size_t n);

#endif
