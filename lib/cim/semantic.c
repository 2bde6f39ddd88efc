/* semantic.c -- class centres per exit in a CAM (spikeloop/semantic.h).
 * The class means are summed in double; the offset and the query
 * subtraction are digital; the similarity is the CAM's noisy cosine.
 */
#include "config.h"
#include "spikeloop/semantic.h"
#include "spikeloop/error.h"
#include "spikeloop/ternary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  size_t dim;
  sl_cam *cam;
  float *stored; /* (n_classes, dim) */
  float *offset; /* (dim) */
  float *query;  /* scratch, (cap, dim) */
  size_t cap;
  size_t *idx;   /* scratch, (cap, 2) */
  float *top;    /* scratch, (cap, 2): the two best cosines */
  int built;
} exit_memory;

struct sl_semantic {
  sl_semantic_params p;
  size_t n_exits, n_classes;
  exit_memory *ex;
};

sl_semantic_params sl_semantic_params_default(void)
{
  sl_semantic_params p;
  memset(&p, 0, sizeof p);
  p.cam = sl_cam_params_default();
  p.ternary = 1;
  p.ternary_t = SL_TERNARY_T;
  p.centre = 1;
  p.score = SL_SEMANTIC_COSINE;
  return p;
}

void sl_semantic_free(sl_semantic *m)
{
  if (!m)
    return;
  for (size_t e = 0; m->ex && e < m->n_exits; e++) {
    sl_cam_free(m->ex[e].cam);
    free(m->ex[e].stored), free(m->ex[e].offset), free(m->ex[e].query), free(m->ex[e].idx);
    free(m->ex[e].top);
  }
  free(m->ex);
  free(m);
}

int sl_semantic_create(sl_semantic **out, size_t n_exits, const size_t *dim, size_t n_classes,
                       const sl_semantic_params *p)
{
  if (!out || !dim || !p)
    return sl_error(SL_EINVAL, "semantic: NULL argument");
  *out = NULL;
  if (!n_exits || n_classes < 2)
    return sl_error(SL_EINVAL, "semantic: %zu exits, %zu classes (need >= 1 and >= 2)", n_exits,
                    n_classes);
  if (!(p->ternary_t >= 0.0) || !isfinite(p->ternary_t))
    return sl_error(SL_EINVAL, "semantic: ternary_t = %g must be >= 0", p->ternary_t);
  if (p->score != SL_SEMANTIC_COSINE && p->score != SL_SEMANTIC_MARGIN)
    return sl_error(SL_EINVAL, "semantic: unknown score %d (cosine 0, margin 1)", (int)p->score);
  sl_semantic *m = calloc(1, sizeof *m);
  if (!m || !(m->ex = calloc(n_exits, sizeof *m->ex))) {
    free(m);
    return sl_error(SL_ENOMEM, "semantic: out of memory");
  }
  m->p = *p;
  m->n_exits = n_exits;
  m->n_classes = n_classes;
  int rc = SL_OK;
  for (size_t e = 0; !rc && e < n_exits; e++) {
    exit_memory *x = &m->ex[e];
    if (!dim[e]) {
      rc = sl_error(SL_EINVAL, "semantic: exit %zu has dimension 0", e);
      break;
    }
    x->dim = dim[e];
    sl_cam_params cp = p->cam;
    cp.device.noise_seed += e;
    cp.device.chip_seed += e;
    cp.query_seed += e;
    rc = sl_cam_alloc(&x->cam, dim[e], n_classes, &cp);
    if (!rc) {
      x->stored = calloc(n_classes * dim[e], sizeof(float));
      x->offset = calloc(dim[e], sizeof(float));
      if (!x->stored || !x->offset)
        rc = sl_error(SL_ENOMEM, "semantic: out of memory");
    }
  }
  if (rc) {
    sl_semantic_free(m);
    return rc;
  }
  *out = m;
  return SL_OK;
}

size_t sl_semantic_num_exits(const sl_semantic *m) { return m ? m->n_exits : 0; }
size_t sl_semantic_num_classes(const sl_semantic *m) { return m ? m->n_classes : 0; }
size_t sl_semantic_dim(const sl_semantic *m, size_t e)
{
  return m && e < m->n_exits ? m->ex[e].dim : 0;
}

const float *sl_semantic_stored(const sl_semantic *m, size_t e)
{
  return m && e < m->n_exits && m->ex[e].built ? m->ex[e].stored : NULL;
}

const float *sl_semantic_offset(const sl_semantic *m, size_t e)
{
  return m && e < m->n_exits && m->ex[e].built ? m->ex[e].offset : NULL;
}

int sl_semantic_build(sl_semantic *m, size_t e, const float *feat, const int32_t *labels,
                      size_t n)
{
  if (!m || !feat || !labels)
    return sl_error(SL_EINVAL, "semantic_build: NULL argument");
  if (e >= m->n_exits)
    return sl_error(SL_EINVAL, "semantic_build: exit %zu of %zu", e, m->n_exits);
  exit_memory *x = &m->ex[e];
  const size_t D = x->dim, K = m->n_classes;
  double *sum = calloc(K * D, sizeof(double));
  size_t *count = calloc(K, sizeof(size_t));
  if (!sum || !count) {
    free(sum), free(count);
    return sl_error(SL_ENOMEM, "semantic_build: out of memory");
  }
  int rc = SL_OK;
  for (size_t i = 0; !rc && i < n; i++) {
    if (labels[i] < 0 || (size_t)labels[i] >= K) {
      rc = sl_error(SL_EINVAL, "semantic_build: label %d of sample %zu outside 0..%zu",
                    (int)labels[i], i, K - 1);
      break;
    }
    for (size_t d = 0; d < D; d++) {
      if (!isfinite(feat[i * D + d])) {
        rc = sl_error(SL_ENUMERIC, "semantic_build: feature %zu of sample %zu is not finite", d,
                      i);
        break;
      }
      sum[labels[i] * D + d] += feat[i * D + d];
    }
    count[labels[i]]++;
  }
  size_t present = 0;
  for (size_t k = 0; k < K; k++)
    present += count[k] > 0;
  if (!rc && !present)
    rc = sl_error(SL_EINVAL, "semantic_build: exit %zu: no samples", e);
  if (!rc) {
    for (size_t k = 0; k < K; k++)
      for (size_t d = 0; d < D && count[k]; d++)
        sum[k * D + d] /= (double)count[k];
    for (size_t d = 0; d < D; d++) { /* the mean of the present classes' means */
      double o = 0.0;
      for (size_t k = 0; k < K && m->p.centre; k++)
        o += count[k] ? sum[k * D + d] : 0.0;
      x->offset[d] = (float)(o / (double)present);
    }
    float *c = x->stored, big = 0.0f;
    for (size_t k = 0; k < K; k++)
      for (size_t d = 0; d < D; d++) {
        c[k * D + d] = count[k] ? (float)(sum[k * D + d] - x->offset[d]) : 0.0f;
        big = fmaxf(big, fabsf(c[k * D + d]));
      }
    for (size_t k = 0; !rc && k < K; k++) {
      if (m->p.ternary)
        rc = sl_ternary_codes(c + k * D, c + k * D, D, m->p.ternary_t, NULL);
      else
        for (size_t d = 0; d < D; d++)
          c[k * D + d] = big > 0.0f ? c[k * D + d] / big : 0.0f;
    }
  }
  if (!rc)
    rc = sl_cam_store(x->cam, x->stored);
  free(sum), free(count);
  x->built = rc == SL_OK;
  return rc;
}

int sl_semantic_query(sl_semantic *m, size_t e, const float *feat, size_t B, int32_t *cls,
                      float *sim)
{
  if (!m || !feat || !cls)
    return sl_error(SL_EINVAL, "semantic_query: NULL argument");
  if (e >= m->n_exits || !m->ex[e].built)
    return sl_error(SL_EINVAL, "semantic_query: exit %zu is not built", e);
  if (!B)
    return SL_OK;
  exit_memory *x = &m->ex[e];
  const size_t D = x->dim;
  if (B > x->cap) {
    free(x->query), free(x->idx), free(x->top);
    x->query = malloc(B * D * sizeof(float));
    x->idx = malloc(2 * B * sizeof(size_t));
    x->top = malloc(2 * B * sizeof(float));
    x->cap = x->query && x->idx && x->top ? B : 0;
    if (!x->cap)
      return sl_error(SL_ENOMEM, "semantic_query: out of memory for %zu queries", B);
  }
  for (size_t b = 0; b < B; b++)
    for (size_t d = 0; d < D; d++)
      x->query[b * D + d] = feat[b * D + d] - x->offset[d];
  const size_t k = m->p.score == SL_SEMANTIC_MARGIN ? 2 : 1;
  int rc = sl_cam_search(x->cam, x->query, B, k, x->idx, x->top);
  for (size_t b = 0; !rc && b < B; b++) {
    cls[b] = (int32_t)x->idx[b * k];
    if (sim)
      sim[b] = k == 2 ? x->top[2 * b] - x->top[2 * b + 1] : x->top[b];
  }
  return rc;
}

void sl_semantic_counters(const sl_semantic *m, sl_cim_counters *sum, double *energy_j)
{
  sl_cim_counters t;
  memset(&t, 0, sizeof t);
  double en = 0.0;
  for (size_t e = 0; m && e < m->n_exits; e++) {
    sl_cim *c = sl_cam_cim(m->ex[e].cam);
    sl_cim_counters k;
    sl_cim_counters_get(c, &k);
    sl_cim_counters_add(&t, &k);
    en += sl_cim_energy(sl_cim_params_get(c), &k);
  }
  if (sum)
    *sum = t;
  if (energy_j)
    *energy_j = en;
}

void sl_semantic_counters_reset(sl_semantic *m)
{
  for (size_t e = 0; m && e < m->n_exits; e++)
    sl_cim_counters_reset(sl_cam_cim(m->ex[e].cam));
}
