/* cam.c -- content-addressable memory on a crossbar (see spikeloop/cam.h).
 *
 * The stored vectors are the columns of an sl_cim (dim x k), so the CAM
 * shares the crossbar's device model, counters and energy. A cosine search
 * is one noisy MVM per query batch; a Hamming search reads every cell once
 * per query (sl_cim_weights(SL_CIM_READ)) and decodes it to the nearest
 * stored level. Queries are processed in order; the noise streams are
 * counter-seeded, so results do not depend on the thread count.
 */
#include "config.h"
#include "spikeloop/cam.h"
#include "spikeloop/error.h"
#include "base/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct sl_cam {
  sl_cam_params p;
  size_t dim, k;
  sl_cim *cim;
  float *stored; /* dim x k, the matrix given to the crossbar */
  float *norms;  /* k: norms of the level-quantised targets */
  float *scratch; /* dim x k */
  int have;
  uint64_t searches;
};

sl_cam_params sl_cam_params_default(void)
{
  sl_cam_params p;
  memset(&p, 0, sizeof p);
  p.metric = SL_CAM_COSINE;
  p.device = sl_cim_params_default();
  p.device.levels = 2;
  p.device.w_max = 1.0;
  p.device.dac_mode = SL_CIM_DAC_LEVEL;
  p.device.dac_bits = 8;
  p.device.adc_bits = 0;
  p.query_sd = 0.0;
  p.query_seed = 1;
  return p;
}

int sl_cam_alloc(sl_cam **out, size_t dim, size_t k, const sl_cam_params *p)
{
  if (!out || !p)
    return sl_error(SL_EINVAL, "cam: NULL argument");
  *out = NULL;
  if (p->metric != SL_CAM_COSINE && p->metric != SL_CAM_HAMMING)
    return sl_error(SL_EINVAL, "cam: unknown metric %d (0 cosine, 1 hamming)", (int)p->metric);
  if (!(p->query_sd >= 0.0) || !isfinite(p->query_sd))
    return sl_error(SL_EINVAL, "cam: query_sd = %g must be finite and >= 0", p->query_sd);
  if (p->metric == SL_CAM_HAMMING && p->device.levels < 2)
    return sl_error(SL_EINVAL, "cam: the Hamming metric needs discrete levels (device.levels >= 2)");
  sl_cam_params q = *p;
  if (q.device.w_max == 0.0)
    q.device.w_max = 1.0; /* values live in [-1, 1] */
  sl_cam *c = calloc(1, sizeof *c);
  if (!c)
    return sl_error(SL_ENOMEM, "cam: out of memory");
  c->p = q;
  c->dim = dim;
  c->k = k;
  int rc = sl_cim_alloc(&c->cim, dim, k, &q.device);
  if (rc) {
    free(c);
    return rc;
  }
  c->stored = calloc(dim * k, sizeof(float));
  c->scratch = calloc(dim * k, sizeof(float));
  c->norms = calloc(k, sizeof(float));
  if (!c->stored || !c->scratch || !c->norms) {
    sl_cam_free(c);
    return sl_error(SL_ENOMEM, "cam: out of memory for %zu x %zu", k, dim);
  }
  *out = c;
  return SL_OK;
}

void sl_cam_free(sl_cam *c)
{
  if (!c)
    return;
  sl_cim_free(c->cim);
  free(c->stored);
  free(c->scratch);
  free(c->norms);
  free(c);
}

size_t sl_cam_dim(const sl_cam *c) { return c ? c->dim : 0; }
size_t sl_cam_size(const sl_cam *c) { return c ? c->k : 0; }
sl_cim *sl_cam_cim(sl_cam *c) { return c ? c->cim : NULL; }

static void update_norms(sl_cam *c)
{
  sl_cim_weights(c->cim, SL_CIM_TARGET, c->scratch);
  for (size_t j = 0; j < c->k; j++) {
    double s = 0.0;
    for (size_t i = 0; i < c->dim; i++)
      s += (double)c->scratch[i * c->k + j] * c->scratch[i * c->k + j];
    c->norms[j] = (float)sqrt(s);
  }
}

int sl_cam_store(sl_cam *c, const float *vectors)
{
  if (!c || !vectors)
    return sl_error(SL_EINVAL, "cam_store: NULL argument");
  for (size_t j = 0; j < c->k; j++)
    for (size_t i = 0; i < c->dim; i++) {
      float v = vectors[j * c->dim + i];
      if (!isfinite(v))
        return sl_error(SL_ENUMERIC, "cam_store: vector %zu element %zu = %g is not finite", j,
                        i, (double)v);
      c->stored[i * c->k + j] = v;
    }
  int rc = sl_cim_program(c->cim, c->stored);
  if (rc)
    return rc;
  update_norms(c);
  c->have = 1;
  return SL_OK;
}

int sl_cam_store_one(sl_cam *c, size_t index, const float *vector)
{
  if (!c || !vector)
    return sl_error(SL_EINVAL, "cam_store_one: NULL argument");
  if (!c->have)
    return sl_error(SL_EINVAL, "cam_store_one: store all vectors first (sl_cam_store)");
  if (index >= c->k)
    return sl_error(SL_ERANGE, "cam_store_one: index %zu >= %zu stored vectors", index, c->k);
  for (size_t i = 0; i < c->dim; i++) {
    if (!isfinite(vector[i]))
      return sl_error(SL_ENUMERIC, "cam_store_one: element %zu = %g is not finite", i,
                      (double)vector[i]);
    c->stored[i * c->k + index] = vector[i];
  }
  int rc = sl_cim_reprogram(c->cim, c->stored, 0.0, NULL);
  if (rc)
    return rc;
  update_norms(c);
  return SL_OK;
}

/* keep the top_k best of sim[0..k) in idx/best (descending, ties to lower index) */
static void top_k_select(const float *sim, size_t k, size_t top, size_t *idx, float *best)
{
  size_t n = 0;
  for (size_t j = 0; j < k; j++) {
    float s = sim[j];
    if (n == top && !(s > best[n - 1]))
      continue;
    size_t pos = n < top ? n++ : top - 1;
    while (pos > 0 && s > best[pos - 1]) {
      best[pos] = best[pos - 1];
      idx[pos] = idx[pos - 1];
      pos--;
    }
    best[pos] = s;
    idx[pos] = j;
  }
}

int sl_cam_search(sl_cam *c, const float *queries, size_t n, size_t top_k, size_t *idx,
                  float *sim)
{
  if (!c || !queries || !idx)
    return sl_error(SL_EINVAL, "cam_search: NULL argument");
  if (!c->have)
    return sl_error(SL_EINVAL, "cam_search: nothing stored (sl_cam_store)");
  if (top_k < 1 || top_k > c->k)
    return sl_error(SL_EINVAL, "cam_search: top_k = %zu outside 1..%zu", top_k, c->k);
  for (size_t q = 0; q < n * c->dim; q++)
    if (!isfinite(queries[q]))
      return sl_error(SL_ENUMERIC, "cam_search: query %zu element %zu = %g is not finite",
                      q / c->dim, q % c->dim, (double)queries[q]);
  size_t dim = c->dim, k = c->k;
  float *qn = malloc(n * dim * sizeof(float));
  float *dots = malloc(n * k * sizeof(float));
  float *simq = malloc(k * sizeof(float)), *best = malloc(top_k * sizeof(float));
  double *qmax = malloc(n * sizeof(double));
  if (!qn || !dots || !simq || !best || !qmax) {
    free(qn);
    free(dots);
    free(simq);
    free(best);
    free(qmax);
    return sl_error(SL_ENOMEM, "cam_search: out of memory");
  }
  const sl_cim_params *dp = sl_cim_params_get(c->cim);
  /* scale each query to max |q| = 1 and add search noise */
  for (size_t b = 0; b < n; b++) {
    const float *q = queries + b * dim;
    double m = 0.0;
    for (size_t i = 0; i < dim; i++)
      m = fabs(q[i]) > m ? fabs(q[i]) : m;
    if (c->p.metric == SL_CAM_HAMMING)
      m = 1.0; /* levels are absolute: compare on the stored value scale */
    qmax[b] = m;
    sl_rng_state rs;
    sl_rng_seed(&rs, sl_seed_mix(c->p.query_seed, c->searches + b));
    for (size_t i = 0; i < dim; i++) {
      double v = m > 0.0 ? q[i] / m : 0.0;
      if (c->p.query_sd > 0.0 && m > 0.0)
        v += c->p.query_sd * sl_rng_normal(&rs);
      if (c->p.metric == SL_CAM_COSINE && dp->dac_bits) {
        /* the levels the DAC applies, so that |q| is the norm of the applied query */
        double L = (double)((1u << dp->dac_bits) - 1), a = fabs(v) / dp->x_max;
        v = copysign(rint((a > 1.0 ? 1.0 : a) * L) / L * dp->x_max, v);
      }
      qn[b * dim + i] = (float)v;
    }
  }
  int rc = SL_OK;
  if (c->p.metric == SL_CAM_COSINE) {
    rc = sl_cim_mvm(c->cim, qn, n, dots);
    for (size_t b = 0; rc == SL_OK && b < n; b++) {
      double qq = 0.0;
      for (size_t i = 0; i < dim; i++)
        qq += (double)qn[b * dim + i] * qn[b * dim + i];
      double nq = sqrt(qq);
      for (size_t j = 0; j < k; j++) {
        double den = nq * c->norms[j];
        simq[j] = den > 0.0 ? (float)(dots[b * k + j] / den) : 0.0f;
      }
      top_k_select(simq, k, top_k, idx + b * top_k, best);
      if (sim)
        memcpy(sim + b * top_k, best, top_k * sizeof(float));
    }
  } else {
    double L = (double)(dp->levels - 1);
    for (size_t b = 0; rc == SL_OK && b < n; b++) {
      rc = sl_cim_weights(c->cim, SL_CIM_READ, c->scratch);
      if (rc)
        break;
      for (size_t j = 0; j < k; j++)
        simq[j] = 0.0f;
      for (size_t i = 0; i < dim; i++) {
        double qv = qn[b * dim + i];
        qv = qv > 1.0 ? 1.0 : qv < -1.0 ? -1.0 : qv;
        long ql = lrint(qv * L);
        for (size_t j = 0; j < k; j++) {
          double s = c->scratch[i * k + j] / dp->w_max;
          s = s > 1.0 ? 1.0 : s < -1.0 ? -1.0 : s;
          if (lrint(s * L) == ql)
            simq[j] += 1.0f;
        }
      }
      for (size_t j = 0; j < k; j++)
        simq[j] /= (float)dim;
      top_k_select(simq, k, top_k, idx + b * top_k, best);
      if (sim)
        memcpy(sim + b * top_k, best, top_k * sizeof(float));
    }
  }
  c->searches += n;
  free(qn);
  free(dots);
  free(simq);
  free(best);
  free(qmax);
  return rc;
}
