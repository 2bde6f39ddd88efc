/* lif_layer.c -- the forward and backward of one LIF layer: the time loop
 * of every fast LIF kernel (sl_lif_forward and sl_lif_backward run here
 * too) around the row kernels of lib/core/lif_row.c.
 *
 * Separately, a network layer's forward is three passes over (T, B, N)
 * arrays that do not fit in cache: the input product writes h, the LIF
 * kernel reads it back, and listing the spikes for the next layer reads S
 * again. Here each sample runs through time doing all three for one row
 * while it is in L1: gather the input drive (unless h already holds it),
 * add the recurrent drive of the step before, step the neurons, list the
 * row's spikes (if asked). The operations and their order are those of
 * the separate passes, so the numbers are the same bit for bit (tested).
 */
#include "config.h"
#include "core/kernels.h"
#include "core/lif_row.h"
#include "spikeloop/error.h"

#include <stdlib.h>
#include <string.h>

/* One forward: the arguments of slk_lif_layer_forward and the shared rows
 * I[-1] = 0 and the value of every listed spike (Heaviside spikes are 1). */
typedef struct {
  const sl_neurons *p;
  const slk_decay *d;
  const sl_lif_options *o;
  size_t T, B, N;
  const slk_events *in;
  const float *w_in, *w_rec;
  float *h, *i_syn, *v, *s;
  uint8_t *clamp;
  uint32_t *rows, *count;
  const float *zero, *ones;
} layer_fwd;

/* Per sample: refractory counters, Vp; without h / i_syn arrays a row of h
 * and a ring of two I rows; without spike lists, a scratch list of the
 * step before's spikes (indices, values) for the recurrence. */
typedef struct {
  int32_t *left;
  float *vp, *roll;
  uint32_t *ev_idx;
  float *ev_val;
} sample_state;

/* h[t] += S[t-1] @ W_rec for row r of sample st: over the spikes the
 * layer listed at step t-1, or listed here from S[t-1] with their values
 * (smooth spikes included). */
static void add_recurrent(const layer_fwd *f, const sample_state *st, size_t r, float *hr)
{
  const size_t N = f->N, stride = N + SLK_ROW_PAD, prev = r - f->B;
  if (f->rows) {
    if (f->count[prev] > 0)
      slk_gather_add_row(hr, f->rows + prev * stride, f->ones, f->count[prev], f->w_rec, N);
    return;
  }
  int n = slk_row_events(f->s + prev * N, N, st->ev_idx, st->ev_val); /* finite: n >= 0 */
  if (n > 0)
    slk_gather_add_row(hr, st->ev_idx, st->ev_val, (size_t)n, f->w_rec, N);
}

/* Sample b through all T steps. */
static void forward_sample(const layer_fwd *f, const sample_state *st, size_t b)
{
  const size_t N = f->N, B = f->B, stride = N + SLK_ROW_PAD;
  for (size_t n = 0; n < N; n++)
    st->vp[n] = f->p->v_leak[n];
  for (size_t t = 0; t < f->T; t++) {
    const size_t r = t * B + b, row = r * N;
    float *roll = st->roll;
    float *hr = f->h ? f->h + row : roll;
    float *ir = f->i_syn ? f->i_syn + row : roll + (1 + (t & 1)) * N;
    const float *ip = t == 0      ? f->zero
                      : f->i_syn ? f->i_syn + row - B * N
                                 : roll + (2 - (t & 1)) * N;
    if (f->in)
      slk_gather_row(hr, f->in->idx + f->in->ptr[r], f->in->val + f->in->ptr[r],
                     f->in->ptr[r + 1] - f->in->ptr[r], f->w_in, N);
    if (f->w_rec && t > 0)
      add_recurrent(f, st, r, hr);
    slk_lif_step(f->p, f->d, f->o, N, hr, ip, ir, st->vp, st->left, f->v + row, f->s + row,
                 f->clamp + row);
    if (f->rows)
      f->count[r] = (uint32_t)slk_row_list(f->s + row, N, f->rows + r * stride);
  }
}

static int check_forward(const sl_lif_options *o, size_t T, size_t B, const slk_events *in,
                         const float *h, const float *i_syn, const uint32_t *rows,
                         const uint32_t *count)
{
  if (in ? in->R != T * B : !h || !i_syn)
    return sl_error(SL_EINVAL, "LIF layer forward: needs T B input rows, or the drive in h");
  if (!rows != !count || (rows && o->smooth))
    return sl_error(SL_EINVAL, "LIF layer forward: listing spikes needs Heaviside spikes and "
                               "both rows and count");
  return SL_OK;
}

int slk_lif_layer_forward(const sl_neurons *p, const slk_decay *d, const sl_lif_options *o,
                          double dt, size_t T, size_t B, const slk_events *in, const float *w_in,
                          const float *w_rec, float *h, float *i_syn, float *v, float *s,
                          uint8_t *clamp, uint32_t *rows, uint32_t *count)
{
  int rc = slk_lif_check_args(p, o, dt, T, B);
  if (rc || (rc = check_forward(o, T, B, in, h, i_syn, rows, count)))
    return rc;
  const size_t N = p->n;
  const int lean = !h || !i_syn, listed_rec = w_rec && !rows;
  int32_t *left_all = calloc(B * N, sizeof *left_all);
  float *vp_all = malloc(B * N * sizeof *vp_all), *zero = calloc(N, sizeof *zero);
  float *ones = malloc(N * sizeof *ones);
  float *roll_all = lean ? malloc(3 * B * N * sizeof *roll_all) : NULL;
  float *ev_all = listed_rec ? malloc(2 * B * N * sizeof *ev_all) : NULL;
  if (!left_all || !vp_all || !zero || !ones || (lean && !roll_all) || (listed_rec && !ev_all)) {
    free(left_all), free(vp_all), free(zero), free(ones), free(roll_all), free(ev_all);
    return sl_error(SL_ENOMEM, "LIF layer forward: out of memory");
  }
  for (size_t n = 0; n < N; n++)
    ones[n] = 1.0f;
  const layer_fwd f = {p, d, o, T, B, N, in, w_in, w_rec, h, i_syn, v, s, clamp, rows, count,
                       zero, ones};
#pragma omp parallel for schedule(static)
  for (size_t b = 0; b < B; b++) {
    const sample_state st = {left_all + b * N, vp_all + b * N, lean ? roll_all + 3 * b * N : NULL,
                             listed_rec ? (uint32_t *)(ev_all + 2 * b * N) : NULL,
                             listed_rec ? ev_all + (2 * b + 1) * N : NULL};
    forward_sample(&f, &st, b);
  }
  free(left_all), free(vp_all), free(zero), free(ones), free(roll_all), free(ev_all);
  return SL_OK;
}

/* ------------------------------------------------------------ backward */

/* Rows gs (nb, N) = dL/dS of sample rows r0 .. r0+nb-1 from the layer
 * above: gh_above[r] (n_above) through W_above^T (wt: n_above x N, summed in
 * ascending k from zero as slk_matmul_nt_ref does), plus the regulariser's
 * extra[r] if any. */
static void gs_from_above(float *gs, size_t r0, size_t nb, size_t N, const float *gh_above,
                          size_t n_above, const float *wt, const uint32_t *iota,
                          const float *extra)
{
  for (size_t i = 0; i < nb; i++) {
    const size_t r = r0 + i;
    slk_gather_row(gs + i * N, iota, gh_above + r * n_above, n_above, wt, N);
    if (extra)
      for (size_t n = 0; n < N; n++)
        gs[i * N + n] += extra[r * N + n];
  }
}

/* dL/dS of a group's rows of step t (rows b0 .. b0+G-1, N apart): in the
 * given gs (T, B, N), or in the ring gsb of two steps. */
static inline float *group_rows(float *gs, float *gsb, size_t t, size_t B, size_t b0, size_t N,
                                size_t G)
{
  return gs ? gs + (t * B + b0) * N : gsb + (t & 1) * G * N;
}

int slk_lif_layer_backward(const sl_neurons *p, const slk_decay *d, const sl_lif_options *o,
                           double dt, size_t T, size_t B, const float *gh_above,
                           size_t n_above, const float *w_above, const float *gs_extra,
                           float *gs, const float *gv_ext,
                           const float *w_rec, const float *v, const float *s,
                           const uint8_t *clamp, float *gh)
{
  int rc = slk_lif_check_args(p, o, dt, T, B);
  if (rc)
    return rc;
  if (o->smooth || o->surrogate->id != SL_SURROGATE_SUPERSPIKE || (!gs && n_above == 0))
    return sl_error(SL_EINVAL, "LIF layer backward: needs Heaviside spikes, SuperSpike and a "
                               "source of dL/dS");
  if (gs) /* dL/dS given: nothing comes from above */
    n_above = 0;
  const size_t N = p->n, G = w_rec ? 4 : 1; /* samples per group */
  float *wt = n_above ? malloc(n_above * N * sizeof *wt) : NULL; /* W_above^T */
  float *w_rec_t = w_rec ? malloc(N * N * sizeof *w_rec_t) : NULL; /* W_rec^T */
  uint32_t *iota = n_above ? malloc(n_above * sizeof *iota) : NULL;
  int32_t *ones = malloc(N * sizeof *ones); /* "clamped" after the last step */
  if ((n_above && (!wt || !iota)) || (w_rec && !w_rec_t) || !ones) {
    free(wt), free(w_rec_t), free(iota), free(ones);
    return sl_error(SL_ENOMEM, "LIF layer backward: out of memory");
  }
  for (size_t n = 0; n < N && n_above; n++)
    for (size_t k = 0; k < n_above; k++)
      wt[k * N + n] = w_above[n * n_above + k];
  for (size_t m = 0; w_rec && m < N; m++)
    for (size_t n = 0; n < N; n++)
      w_rec_t[n * N + m] = w_rec[m * N + n];
  for (size_t k = 0; k < n_above; k++)
    iota[k] = (uint32_t)k;
  for (size_t n = 0; n < N; n++)
    ones[n] = 1;
  const int to_value = o->reset == SL_RESET_TO_VALUE;
  int nomem = 0;
#pragma omp parallel
  {
    /* per group: gV and gI carried back, clamp rows of steps t and t+1 as
     * int32, and unless gs is given, its rows of steps t and t-1 */
    float *gsb = gs ? NULL : malloc(2 * G * N * sizeof *gsb);
    float *carry = malloc(2 * G * N * sizeof *carry);
    int32_t *cl32 = malloc(2 * G * N * sizeof *cl32);
    const int ok = (gs || gsb) && carry && cl32;
    if (!ok) {
#pragma omp atomic write
      nomem = 1;
    }
#pragma omp for schedule(static)
    for (size_t b0 = 0; b0 < B; b0 += G) {
      const size_t nb = B - b0 < G ? B - b0 : G;
      if (!ok)
        continue;
      memset(carry, 0, 2 * G * N * sizeof *carry);
      if (!gs)
        gs_from_above(group_rows(gs, gsb, T - 1, B, b0, N, G), (T - 1) * B + b0, nb, N, gh_above,
                      n_above, wt, iota, gs_extra);
      for (size_t t = T; t-- > 0;) {
        float *gs_t = group_rows(gs, gsb, t, B, b0, N, G);
        for (size_t i = 0; i < nb; i++) {
          const size_t row = (t * B + b0 + i) * N;
          int32_t *cl = cl32 + (t & 1) * G * N + i * N;
          const int32_t *ncl = t + 1 < T ? cl32 + ((t + 1) & 1) * G * N + i * N : ones;
          for (size_t n = 0; n < N; n++)
            cl[n] = clamp[row + n];
          slk_lif_bwd_row(p, d, N, (float)o->beta, to_value, o->detach_reset, cl, ncl,
                          gs_t + i * N, v + row, s + row, gv_ext ? gv_ext + row : NULL, gh + row,
                          carry + 2 * i * N, carry + (2 * i + 1) * N);
        }
        if (t == 0)
          break;
        float *gs_prev = group_rows(gs, gsb, t - 1, B, b0, N, G);
        if (!gs) /* dL/dS of step t-1: from above ... */
          gs_from_above(gs_prev, (t - 1) * B + b0, nb, N, gh_above, n_above, wt, iota, gs_extra);
        if (w_rec) /* ... and through the recurrence, gh[t] W_rec^T */
          slk_dense_rows_add(gs_prev, gh + (t * B + b0) * N, nb, w_rec_t, N, N);
      }
    }
    free(gsb), free(carry), free(cl32);
  }
  free(wt), free(w_rec_t), free(iota), free(ones);
  return nomem ? sl_error(SL_ENOMEM, "LIF layer backward: out of memory") : SL_OK;
}
