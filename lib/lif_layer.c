/* lif_layer.c -- the fused forward of one hidden LIF layer of a network.
 *
 * Separately, the layer's forward is three passes over (T, B, N) arrays
 * that do not fit in cache: the input product writes h, the LIF kernel
 * reads it back, and listing the spikes for the next layer reads S again.
 * Here each sample runs through time doing all three for one row while it
 * is in L1: gather the input drive, add the recurrent drive of the step
 * before, step the neurons (slk_lif_row, shared with sl_lif_forward), list
 * the row's spikes. The operations and their order are those of the
 * separate passes, so the numbers are the same bit for bit (tested).
 */
#include "config.h"
#include "kernels.h"
#include "spikeloop/error.h"

#include <stdlib.h>

int slk_lif_layer_forward(const sl_neurons *p, const sl_lif_options *o, double dt, size_t T,
                          size_t B, const slk_events *in, const float *w_in, const float *w_rec,
                          float *h, float *i_syn, float *v, float *s, uint8_t *clamp,
                          uint32_t *rows, uint32_t *count)
{
  int rc = slk_lif_check_args(p, o, dt, T, B);
  if (rc)
    return rc;
  if (o->smooth || !in || in->R != T * B)
    return sl_error(SL_EINVAL, "LIF layer forward: needs Heaviside spikes and T B input rows");
  const size_t N = p->n, stride = N + SLK_ROW_PAD;
  slk_decay d;
  if ((rc = slk_decay_make(&d, p, o->scale_input, dt)))
    return rc;
  /* per sample: refractory counters and Vp; shared: I[-1] = 0 and the
   * value of every listed spike (Heaviside spikes are 1) */
  int32_t *left_all = calloc(B * N, sizeof *left_all);
  float *vp_all = malloc(B * N * sizeof *vp_all), *zero = calloc(N, sizeof *zero);
  float *ones = malloc(N * sizeof *ones);
  if (!left_all || !vp_all || !zero || !ones) {
    free(left_all), free(vp_all), free(zero), free(ones);
    slk_decay_free(&d);
    return sl_error(SL_ENOMEM, "LIF layer forward: out of memory");
  }
  for (size_t n = 0; n < N; n++)
    ones[n] = 1.0f;
#pragma omp parallel for schedule(static)
  for (size_t b = 0; b < B; b++) {
    int32_t *left = left_all + b * N;
    float *vp = vp_all + b * N;
    for (size_t n = 0; n < N; n++)
      vp[n] = p->v_leak[n];
    for (size_t t = 0; t < T; t++) {
      const size_t r = t * B + b, row = r * N;
      slk_gather_row(h + row, in->idx + in->ptr[r], in->val + in->ptr[r],
                     in->ptr[r + 1] - in->ptr[r], w_in, N);
      if (w_rec && t > 0 && count[r - B] > 0)
        slk_gather_add_row(h + row, rows + (r - B) * stride, ones, count[r - B], w_rec, N);
      slk_lif_row(p, &d, o->reset, N, h + row, t > 0 ? i_syn + row - B * N : zero, i_syn + row,
                  vp, left, v + row, s + row, clamp + row);
      count[r] = (uint32_t)slk_row_list(s + row, N, rows + r * stride);
    }
  }
  free(left_all), free(vp_all), free(zero), free(ones);
  slk_decay_free(&d);
  return SL_OK;
}
