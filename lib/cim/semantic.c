/* semantic.c -- class centres per exit in a CAM (spikeloop/semantic.h).
 * The class means are summed in double; the offset and the query
 * subtraction are digital; the similarity is the CAM's noisy cosine.
 * With several centres per class, each class's offset features are split
 * by spherical k-means (k-means++ seeding, seeded by exit and class).
 */
#include "config.h"
#include "spikeloop/semantic.h"
#include "spikeloop/error.h"
#include "spikeloop/ternary.h"
#include "../base/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  size_t dim;
  sl_cam *cam;
  float *stored; /* (n_classes * per_class, dim): class k's centres are rows k * per_class.. */
  float *offset; /* (dim) */
  float *query;  /* scratch, (cap, dim) */
  size_t cap;
  size_t *idx;   /* scratch, (cap, per_class + 1) */
  float *top;    /* scratch, (cap, per_class + 1): the best cosines */
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
  p.per_class = 1;
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
  if (p->per_class < 1 || p->per_class > SL_SEMANTIC_MAX_PER_CLASS)
    return sl_error(SL_EINVAL, "semantic: per_class = %zu centres (1..%d)", p->per_class,
                    SL_SEMANTIC_MAX_PER_CLASS);
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
    rc = sl_cam_alloc(&x->cam, dim[e], n_classes * p->per_class, &cp);
    if (!rc) {
      x->stored = calloc(n_classes * p->per_class * dim[e], sizeof(float));
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
size_t sl_semantic_rows(const sl_semantic *m) { return m ? m->n_classes * m->p.per_class : 0; }
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

/* Spherical k-means of one class's n offset features x (n, D) into K <= n
 * centres c (K, D): directions u_i = x_i / |x_i|; k-means++ seeding on
 * 1 - cosine; then up to 25 rounds of "each sample to its most similar
 * centre, each centre the mean of its members' x" (a centre without members
 * stays). */
static void class_kmeans(const double *x, size_t n, size_t D, size_t K, uint64_t seed,
                         double *u, double *dist, size_t *who, double *c)
{
  for (size_t i = 0; i < n; i++) {
    double nn = 0.0;
    for (size_t d = 0; d < D; d++)
      nn += x[i * D + d] * x[i * D + d];
    nn = nn > 0.0 ? 1.0 / sqrt(nn) : 0.0;
    for (size_t d = 0; d < D; d++)
      u[i * D + d] = x[i * D + d] * nn;
  }
  sl_rng_state r;
  sl_rng_seed(&r, seed);
  size_t pick = (size_t)(sl_rng_uniform(&r) * (double)n);
  for (size_t j = 0; j < K; j++) {
    memcpy(c + j * D, x + pick * D, D * sizeof(double));
    double total = 0.0; /* k-means++: the next seed drawn in proportion to 1 - cosine */
    for (size_t i = 0; i < n; i++) {
      double cs = 0.0;
      for (size_t d = 0; d < D; d++)
        cs += u[i * D + d] * u[pick * D + d];
      const double di = fmax(0.0, 1.0 - cs);
      dist[i] = j ? fmin(dist[i], di) : di;
      total += dist[i];
    }
    double t = sl_rng_uniform(&r) * total;
    for (pick = 0; pick + 1 < n; pick++)
      if ((t -= dist[pick]) < 0.0)
        break;
  }
  for (size_t i = 0; i < n; i++)
    who[i] = (size_t)-1;
  for (int round = 0; round < 25; round++) {
    double norm[SL_SEMANTIC_MAX_PER_CLASS]; /* |c_j|, once per round */
    for (size_t j = 0; j < K; j++) {
      double cn = 0.0;
      for (size_t d = 0; d < D; d++)
        cn += c[j * D + d] * c[j * D + d];
      norm[j] = sqrt(cn);
    }
    int moved = 0;
    for (size_t i = 0; i < n; i++) {
      size_t best = 0;
      double bs = -HUGE_VAL;
      for (size_t j = 0; j < K; j++) {
        double cs = 0.0;
        for (size_t d = 0; d < D; d++)
          cs += u[i * D + d] * c[j * D + d];
        cs = norm[j] > 0.0 ? cs / norm[j] : 0.0;
        if (cs > bs)
          bs = cs, best = j;
      }
      moved |= who[i] != best;
      who[i] = best;
    }
    if (!moved)
      break;
    for (size_t j = 0; j < K; j++) {
      size_t m = 0;
      for (size_t i = 0; i < n; i++)
        m += who[i] == j;
      if (!m)
        continue;
      for (size_t d = 0; d < D; d++) {
        double s = 0.0;
        for (size_t i = 0; i < n; i++)
          s += who[i] == j ? x[i * D + d] : 0.0;
        c[j * D + d] = s / (double)m;
      }
    }
  }
}

/* The per_class centres of every class (K, per_class, D) from the features
 * minus the offset: the class means, or each class's k-means; a class with
 * fewer samples than centres repeats its mean in the centres past them. */
static int class_centres(const sl_semantic *m, size_t e, const float *feat,
                         const int32_t *labels, size_t n, const size_t *count,
                         const double *mean, double *c)
{
  const exit_memory *x = &m->ex[e];
  const size_t D = x->dim, K = m->n_classes, P = m->p.per_class;
  for (size_t k = 0; k < K; k++) /* every centre starts as its class's mean */
    for (size_t j = 0; j < P; j++)
      for (size_t d = 0; d < D; d++)
        c[(k * P + j) * D + d] = count[k] ? mean[k * D + d] - x->offset[d] : 0.0;
  if (P == 1)
    return SL_OK;
  size_t most = 0;
  for (size_t k = 0; k < K; k++)
    most = count[k] > most ? count[k] : most;
  double *xs = malloc(most * D * sizeof(double)), *u = malloc(most * D * sizeof(double));
  double *dist = malloc(most * sizeof(double));
  size_t *who = malloc(most * sizeof(size_t));
  int rc = xs && u && dist && who ? SL_OK : sl_error(SL_ENOMEM, "semantic_build: out of memory");
  for (size_t k = 0; !rc && k < K; k++) {
    if (!count[k])
      continue;
    size_t r = 0;
    for (size_t i = 0; i < n; i++) {
      if (labels[i] != (int32_t)k)
        continue;
      for (size_t d = 0; d < D; d++)
        xs[r * D + d] = (double)feat[i * D + d] - x->offset[d];
      r++;
    }
    class_kmeans(xs, r, D, r < P ? r : P, sl_seed_mix(0x5e3a971cULL + e, k), u, dist, who,
                 c + k * P * D);
  }
  free(xs), free(u), free(dist), free(who);
  return rc;
}

int sl_semantic_build(sl_semantic *m, size_t e, const float *feat, const int32_t *labels,
                      size_t n)
{
  if (!m || !feat || !labels)
    return sl_error(SL_EINVAL, "semantic_build: NULL argument");
  if (e >= m->n_exits)
    return sl_error(SL_EINVAL, "semantic_build: exit %zu of %zu", e, m->n_exits);
  exit_memory *x = &m->ex[e];
  const size_t D = x->dim, K = m->n_classes, R = K * m->p.per_class;
  double *sum = calloc(K * D, sizeof(double)), *cen = malloc(R * D * sizeof(double));
  size_t *count = calloc(K, sizeof(size_t));
  if (!sum || !count || !cen) {
    free(sum), free(count), free(cen);
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
    rc = class_centres(m, e, feat, labels, n, count, sum, cen);
  }
  if (!rc) {
    float *c = x->stored, big = 0.0f;
    for (size_t j = 0; j < R * D; j++) {
      c[j] = (float)cen[j];
      big = fmaxf(big, fabsf(c[j]));
    }
    for (size_t k = 0; !rc && k < R; k++) {
      if (m->p.ternary)
        rc = sl_ternary_codes(c + k * D, c + k * D, D, m->p.ternary_t, NULL);
      else
        for (size_t d = 0; d < D; d++)
          c[k * D + d] = big > 0.0f ? c[k * D + d] / big : 0.0f;
    }
  }
  if (!rc)
    rc = sl_cam_store(x->cam, x->stored);
  free(sum), free(count), free(cen);
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
  const size_t P = m->p.per_class;
  /* the margin needs the best centre of a second class: among the best P + 1 */
  const size_t k = m->p.score == SL_SEMANTIC_MARGIN ? P + 1 : 1;
  if (B > x->cap) {
    free(x->query), free(x->idx), free(x->top);
    x->query = malloc(B * D * sizeof(float));
    x->idx = malloc(k * B * sizeof(size_t));
    x->top = malloc(k * B * sizeof(float));
    x->cap = x->query && x->idx && x->top ? B : 0;
    if (!x->cap)
      return sl_error(SL_ENOMEM, "semantic_query: out of memory for %zu queries", B);
  }
  for (size_t b = 0; b < B; b++)
    for (size_t d = 0; d < D; d++)
      x->query[b * D + d] = feat[b * D + d] - x->offset[d];
  int rc = sl_cam_search(x->cam, x->query, B, k, x->idx, x->top);
  for (size_t b = 0; !rc && b < B; b++) {
    const size_t *idx = x->idx + b * k;
    const float *top = x->top + b * k;
    cls[b] = (int32_t)(idx[0] / P);
    size_t second = 1;
    while (second + 1 < k && idx[second] / P == idx[0] / P)
      second++;
    if (sim)
      sim[b] = k > 1 ? top[0] - top[second] : top[0];
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
