/* test_dynexit.c -- semantic memory (lib/cim/semantic.c) and dynamic
 * inference with exits (lib/cim/dynexit.c): centres, offsets and codes of
 * hand-made features; cosine answers of a noise-free ternary CAM and their
 * margins over the second best; several centres per class (k-means of
 * clustered classes against their cluster means); the exit
 * logic and compute accounting of early-exit inference (with batch
 * compaction, several batch sizes, with and without the rule that an exit
 * agree with the one before) against a per-sample reference; the
 * exit table scored for any threshold gives the same decisions; the Pareto
 * front; bad input.
 */
#include "config.h"
#include "spikeloop/dynexit.h"
#include "spikeloop/error.h"
#include "spikeloop/semantic.h"

#include <string.h>

#include "fixtures.h"
#include "testutil.h"

static sl_semantic_params quiet_params(int centre)
{
  sl_semantic_params p = sl_semantic_params_default();
  p.cam.device.read_sd = 0.0;
  p.cam.device.prog_sd = 0.0;
  p.cam.device.drift_nu = 0.0;
  p.centre = centre;
  return p;
}

/* class k: a bump on channel k, channel 3 always 1 */
static void hand_features(float *f, int32_t *y, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    y[i] = (int32_t)(i % 3);
    for (size_t d = 0; d < 4; d++)
      f[i * 4 + d] = d == 3 ? 1.0f : d == (size_t)y[i] ? 2.0f + 0.1f * (float)(i % 2) : 0.0f;
  }
}

static void test_centres_and_query(void)
{
  const size_t dim = 4, n = 12;
  float f[48];
  int32_t y[12];
  hand_features(f, y, n);
  for (int centre = 0; centre < 2; centre++) {
    sl_semantic *m = NULL;
    sl_semantic_params p = quiet_params(centre);
    CU_ASSERT_FATAL(sl_semantic_create(&m, 1, &dim, 3, &p) == SL_OK);
    CU_ASSERT(sl_semantic_stored(m, 0) == NULL); /* not built yet */
    CU_ASSERT_FATAL(sl_semantic_build(m, 0, f, y, n) == SL_OK);
    const float *o = sl_semantic_offset(m, 0), *c = sl_semantic_stored(m, 0);
    /* class means (2.05, 0, 0, 1) etc.; offset = their mean */
    const float mo = centre ? 2.05f / 3 : 0.0f, m3 = centre ? 1.0f : 0.0f;
    CU_ASSERT(fabsf(o[0] - mo) < 1e-6f && fabsf(o[2] - mo) < 1e-6f && fabsf(o[3] - m3) < 1e-6f);
    /* centre k - offset = (4.1/3 at k, -2.05/3 elsewhere, 0): codes 1 at
     * k, -1 elsewhere, 0 on channel 3; without the offset (2.05 at k, 1 on
     * channel 3): delta = 0.7 * 3.05/4 = 0.53 -> 1 at k and on channel 3 */
    for (size_t k = 0; k < 3; k++)
      for (size_t d = 0; d < dim; d++) {
        const float want = centre ? (d == 3 ? 0.0f : d == k ? 1.0f : -1.0f)
                                  : (d == 3 || d == k ? 1.0f : 0.0f);
        CU_ASSERT(c[k * dim + d] == want);
      }
    /* the training features find their class; the similarity is the
     * cosine of (f - offset) with the code */
    int32_t cls[12];
    float sim[12];
    CU_ASSERT_FATAL(sl_semantic_query(m, 0, f, n, cls, sim) == SL_OK);
    for (size_t i = 0; i < n; i++) {
      CU_ASSERT(cls[i] == y[i]);
      double dot = 0, uu = 0, cc = 0;
      for (size_t d = 0; d < dim; d++) {
        const double u = f[i * dim + d] - o[d], q = c[y[i] * dim + d];
        dot += u * q, uu += u * u, cc += q * q;
      }
      const double want = dot / sqrt(uu * cc);
      if (!(fabs(sim[i] - want) < 0.02))
        printf("\n    centre %d sample %zu: sim %g, cosine %g ", centre, i, sim[i], want);
      CU_ASSERT(fabs(sim[i] - want) < 0.02);
    }
    sl_cim_counters k;
    double e = 0;
    sl_semantic_counters(m, &k, &e);
    CU_ASSERT(k.mvms == n && e > 0.0);
    sl_semantic_free(m);
  }
}

/* per_class = 2: each class's samples lie in two clusters, (3, 1) or
 * (1, 3) on its own two channels, with per-sample jitter on channel 4.
 * Stored without ternary codes, a class's two rows are its clusters' means
 * minus the offset (k-means recovers these clusters exactly), scaled by the
 * largest magnitude. With ternary codes, a sample's second best row is its
 * class's other cluster; the margin must be taken against the best row of
 * the other class. */
static void test_centres_per_class(void)
{
  const size_t dim = 5, n = 24, P = 2;
  float f[24 * 5];
  int32_t y[24];
  for (size_t i = 0; i < n; i++) { /* cluster g = i % 4 of class g / 2 */
    const size_t g = i % 4, k = g / 2;
    y[i] = (int32_t)k;
    for (size_t d = 0; d < dim; d++)
      f[i * dim + d] = d == 4 ? 0.2f * (float)(i % 3)
                       : d / 2 != k ? 0.0f
                       : d == g ? 3.0f : 1.0f;
  }
  sl_semantic *m = NULL;
  sl_semantic_params p = quiet_params(1);
  p.score = SL_SEMANTIC_MARGIN;
  p.per_class = P;
  p.ternary = 0;
  CU_ASSERT_FATAL(sl_semantic_create(&m, 1, &dim, 2, &p) == SL_OK);
  CU_ASSERT_FATAL(sl_semantic_build(m, 0, f, y, n) == SL_OK);
  const float *o = sl_semantic_offset(m, 0), *c = sl_semantic_stored(m, 0);
  double ref[4 * 5], big = 0.0; /* the cluster means minus the offset */
  for (size_t g = 0; g < 4; g++)
    for (size_t d = 0; d < dim; d++) {
      double s = 0.0;
      for (size_t i = g; i < n; i += 4)
        s += f[i * dim + d];
      ref[g * dim + d] = s / (double)(n / 4) - o[d];
      big = fmax(big, fabs(ref[g * dim + d]));
    }
  for (size_t k = 0; k < 2; k++) { /* class k's rows: clusters 2k and 2k + 1, either order */
    const float *r0 = c + (k * P) * dim, *r1 = c + (k * P + 1) * dim;
    const double *a = ref + 2 * k * dim, *b = ref + (2 * k + 1) * dim;
    int same = 1, swapped = 1;
    for (size_t d = 0; d < dim; d++) {
      same &= fabs(r0[d] - a[d] / big) < 1e-5 && fabs(r1[d] - b[d] / big) < 1e-5;
      swapped &= fabs(r0[d] - b[d] / big) < 1e-5 && fabs(r1[d] - a[d] / big) < 1e-5;
    }
    CU_ASSERT(same || swapped);
  }
  sl_semantic_free(m);
  p.ternary = 1;
  CU_ASSERT_FATAL(sl_semantic_create(&m, 1, &dim, 2, &p) == SL_OK);
  CU_ASSERT_FATAL(sl_semantic_build(m, 0, f, y, n) == SL_OK);
  o = sl_semantic_offset(m, 0), c = sl_semantic_stored(m, 0);
  int32_t cls[24];
  float sim[24];
  CU_ASSERT_FATAL(sl_semantic_query(m, 0, f, n, cls, sim) == SL_OK);
  for (size_t i = 0; i < n; i++) {
    double best[2] = {-2.0, -2.0}; /* per class, the best cosine of its rows */
    for (size_t r = 0; r < 2 * P; r++) {
      double dot = 0, uu = 0, cc = 0;
      for (size_t d = 0; d < dim; d++) {
        const double u = f[i * dim + d] - o[d], q = c[r * dim + d];
        dot += u * q, uu += u * u, cc += q * q;
      }
      best[r / P] = fmax(best[r / P], dot / sqrt(uu * cc));
    }
    CU_ASSERT(cls[i] == y[i]);
    const double want = fabs(best[0] - best[1]);
    if (!(fabs(sim[i] - want) < 0.03))
      printf("\n    sample %zu: margin %g, want %g ", i, sim[i], want);
    CU_ASSERT(fabs(sim[i] - want) < 0.03);
  }
  sl_semantic_free(m);
  /* a class with fewer samples than centres: its rows repeat its one sample */
  p.per_class = 3;
  CU_ASSERT_FATAL(sl_semantic_create(&m, 1, &dim, 2, &p) == SL_OK);
  int32_t one[2] = {0, 1};
  CU_ASSERT_FATAL(sl_semantic_build(m, 0, f + 4 * dim, one, 2) == SL_OK);
  c = sl_semantic_stored(m, 0);
  for (size_t r = 1; r < 3; r++)
    CU_ASSERT(memcmp(c + r * dim, c, dim * sizeof(float)) == 0);
  sl_semantic_free(m);
  for (size_t bad = 0; bad <= SL_SEMANTIC_MAX_PER_CLASS + 1; bad += SL_SEMANTIC_MAX_PER_CLASS + 1) {
    p.per_class = bad;
    CU_ASSERT(sl_semantic_create(&m, 1, &dim, 2, &p) == SL_EINVAL && m == NULL);
  }
}

/* score = margin: the best class as before, the score its cosine minus the
 * second best's, against cosines computed here for every class */
static void test_margin_score(void)
{
  const size_t dim = 4, n = 12;
  float f[48];
  int32_t y[12];
  hand_features(f, y, n);
  for (size_t i = 0; i < n; i++) /* some samples lean towards another class */
    f[i * dim + (i + 1) % 3] += 0.3f * (float)(i % 4);
  sl_semantic *m = NULL;
  sl_semantic_params p = quiet_params(1);
  p.score = SL_SEMANTIC_MARGIN;
  CU_ASSERT_FATAL(sl_semantic_create(&m, 1, &dim, 3, &p) == SL_OK);
  CU_ASSERT_FATAL(sl_semantic_build(m, 0, f, y, n) == SL_OK);
  const float *o = sl_semantic_offset(m, 0), *c = sl_semantic_stored(m, 0);
  int32_t cls[12];
  float sim[12];
  CU_ASSERT_FATAL(sl_semantic_query(m, 0, f, n, cls, sim) == SL_OK);
  for (size_t i = 0; i < n; i++) {
    double cosk[3], best = -2.0, second = -2.0;
    size_t arg = 0;
    for (size_t k = 0; k < 3; k++) {
      double dot = 0, uu = 0, cc = 0;
      for (size_t d = 0; d < dim; d++) {
        const double u = f[i * dim + d] - o[d], q = c[k * dim + d];
        dot += u * q, uu += u * u, cc += q * q;
      }
      cosk[k] = dot / sqrt(uu * cc);
      if (cosk[k] > best)
        second = best, best = cosk[k], arg = k;
      else if (cosk[k] > second)
        second = cosk[k];
    }
    CU_ASSERT(cls[i] == (int32_t)arg);
    if (!(fabs(sim[i] - (best - second)) < 0.03))
      printf("\n    sample %zu: margin %g, want %g ", i, sim[i], best - second);
    CU_ASSERT(fabs(sim[i] - (best - second)) < 0.03);
  }
  sl_semantic_free(m);
  p.score = (sl_semantic_score)7;
  CU_ASSERT(sl_semantic_create(&m, 1, &dim, 3, &p) == SL_EINVAL && m == NULL);
}

/* ------------------------------------------------------------ a staged network */

/* Three stages on 2 features: stage s adds (s, -s) to its input, its
 * feature is its output; the head's logits are the last output. */
static int toy_stage(void *net, size_t s, const float *in, size_t B, float *out, float *feat)
{
  int *calls = net;
  calls[s] += (int)B;
  for (size_t b = 0; b < B; b++) {
    out[2 * b] = in[2 * b] + (float)s;
    out[2 * b + 1] = in[2 * b + 1] - (float)s;
    feat[2 * b] = out[2 * b];
    feat[2 * b + 1] = out[2 * b + 1];
  }
  return SL_OK;
}

static int toy_head(void *net, const float *feat, size_t B, float *logits)
{
  (void)net;
  memcpy(logits, feat, 2 * B * sizeof(float));
  return SL_OK;
}

static sl_dyn_net toy_net(int *calls)
{
  sl_dyn_net n;
  memset(&n, 0, sizeof n);
  n.n_stages = 3;
  n.n_classes = 2;
  n.in_dim = 2;
  for (size_t s = 0; s < 3; s++)
    n.out_dim[s] = n.feat_dim[s] = 2;
  n.stage_macs[0] = 10, n.stage_macs[1] = 20, n.stage_macs[2] = 40;
  n.head_macs = 5;
  n.net = calls;
  n.stage = toy_stage;
  n.head = toy_head;
  return n;
}

/* Memory of the toy network: class 0 ~ (1, 0), class 1 ~ (0, 1) shifted
 * by each stage; per_class centres per class. */
static sl_semantic *toy_memory(size_t per_class)
{
  const size_t dims[2] = {2, 2};
  sl_semantic *m = NULL;
  sl_semantic_params p = quiet_params(1);
  p.per_class = per_class;
  CU_ASSERT_FATAL(sl_semantic_create(&m, 2, dims, 2, &p) == SL_OK);
  for (size_t e = 0; e < 2; e++) {
    /* after stage e the shift is (sum s, -sum s); exit 1 is built 0.3 further
     * off, so near the diagonal its class and exit 0's differ */
    const float a = e == 0 ? 0.0f : 1.3f;
    float f[8] = {1 + a, -a, 0 + a, 1 - a, 1.2f + a, 0.1f - a, -0.1f + a, 0.9f - a};
    int32_t y[4] = {0, 1, 0, 1};
    CU_ASSERT_FATAL(sl_semantic_build(m, e, f, y, 4) == SL_OK);
  }
  return m;
}

/* The exit logic per sample, written out: the reference. With agree, an
 * exit after the first also needs the class the exit before found. */
static void reference(sl_semantic *m, double search, const double *thr, int agree,
                      const float *x, size_t n, int32_t *pred, int32_t *stage, double *macs)
{
  const double sm[3] = {10, 20, 40};
  *macs = 0;
  for (size_t i = 0; i < n; i++) {
    float v[2] = {x[2 * i], x[2 * i + 1]};
    double spent = 0;
    int32_t before = -1;
    for (size_t s = 0; s < 3; s++) {
      v[0] += (float)s, v[1] -= (float)s;
      spent += sm[s];
      if (s < 2) {
        int32_t c;
        float sim;
        sl_semantic_query(m, s, v, 1, &c, &sim);
        spent += search;
        if (sim > thr[s] && (!agree || s == 0 || c == before)) {
          pred[i] = c, stage[i] = (int32_t)s;
          break;
        }
        before = c;
      } else {
        pred[i] = v[1] > v[0] ? 1 : 0, stage[i] = 2;
        spent += 5;
      }
    }
    *macs += spent;
  }
  *macs /= (double)n;
}

static void exits_vs_reference(size_t per_class, int agree)
{
  enum { N = 40 };
  float x[2 * N];
  int32_t y[N];
  sl_test_seed(3);
  sl_test_fill_uniform(x, 2 * N, -0.5, 1.5);
  for (size_t i = 0; i < N; i++)
    y[i] = x[2 * i + 1] > x[2 * i] ? 1 : 0;
  int calls[3] = {0};
  sl_dyn_net net = toy_net(calls);
  sl_semantic *m = toy_memory(per_class);
  /* one CAM search: 2 dims x 2 classes x per_class rows */
  const double search = 2.0 * 2.0 * (double)per_class;
  CU_ASSERT(sl_semantic_rows(m) == 2 * per_class);
  /* the last set sends every sample to exit 1, where agree turns some away */
  const double thr_sets[5][2] = {{0.9, 0.9}, {0.5, 0.99}, {1.0, 1.0}, {-1.1, 0.0}, {1.0, -1.1}};
  size_t vetoed = 0; /* exits at stage 1 that agree turned away */
  for (size_t t = 0; t < 5; t++) {
    const sl_dyn_policy policy = {thr_sets[t], agree};
    int32_t pr[N], st[N], pr_any[N], st_any[N];
    double macs, macs_any;
    reference(m, search, thr_sets[t], agree, x, N, pr, st, &macs);
    reference(m, search, thr_sets[t], 0, x, N, pr_any, st_any, &macs_any);
    for (size_t i = 0; i < N; i++)
      vetoed += st_any[i] == 1 && st[i] == 2;
    const size_t batches[3] = {1, 7, N};
    for (size_t bi = 0; bi < 3; bi++) {
      int32_t p2[N], s2[N];
      sl_dyn_result r;
      memset(calls, 0, sizeof calls);
      CU_ASSERT_FATAL(sl_dyn_infer(&net, m, &policy, x, y, N, batches[bi], p2, s2, &r) == SL_OK);
      CU_ASSERT(memcmp(p2, pr, sizeof pr) == 0);
      CU_ASSERT(memcmp(s2, st, sizeof st) == 0);
      CU_ASSERT(fabs(r.macs - macs) < 1e-9);
      CU_ASSERT(fabs(r.compute - macs / 75.0) < 1e-12);
      /* compaction: a stage ran only for the samples still active */
      size_t left[3] = {N, 0, 0};
      for (size_t i = 0; i < N; i++)
        left[1] += st[i] >= 1, left[2] += st[i] >= 2;
      CU_ASSERT(calls[0] == N && calls[1] == (int)left[1] && calls[2] == (int)left[2]);
      size_t hits = 0;
      for (size_t i = 0; i < N; i++)
        hits += pr[i] == y[i];
      CU_ASSERT(fabs(r.accuracy - (double)hits / N) < 1e-12);
      CU_ASSERT(r.decided[0] + r.decided[1] + r.decided[2] == N);
      if (t < 2) /* these thresholds split the samples over the stages */
        CU_ASSERT((r.decided[0] > 0) + (r.decided[1] > 0) + (r.decided[2] > 0) >= 2);
    }
    /* the table gives the same decisions for these thresholds */
    sl_dyn_table tab;
    sl_dyn_result q, r;
    CU_ASSERT_FATAL(sl_dyn_record(&tab, &net, m, x, y, N, 9) == SL_OK);
    CU_ASSERT_FATAL(sl_dyn_evaluate(&tab, &policy, &q) == SL_OK);
    CU_ASSERT_FATAL(sl_dyn_infer(&net, m, &policy, x, y, N, N, NULL, NULL, &r) == SL_OK);
    CU_ASSERT(q.accuracy == r.accuracy && fabs(q.macs - r.macs) < 1e-9);
    CU_ASSERT(memcmp(q.decided, r.decided, sizeof q.decided) == 0);
    size_t changed = 0; /* exits that answered other than the head */
    for (size_t i = 0; i < N; i++)
      changed += pr[i] != tab.head[i];
    CU_ASSERT(fabs(q.changed - (double)changed / N) < 1e-12);
    if (t < 2)
      CU_ASSERT(changed > 0);
    sl_dyn_table_free(&tab);
  }
  /* the toy's classes change between its exits for some samples, so the
   * agreement rule has something to turn away */
  CU_ASSERT(agree ? vetoed > 0 : vetoed == 0);
  /* threshold 1: no cosine exceeds it, every sample reaches the head */
  sl_dyn_result r;
  const sl_dyn_policy none = {thr_sets[2], agree}, all = {thr_sets[3], agree};
  CU_ASSERT(sl_dyn_infer(&net, m, &none, x, y, N, 8, NULL, NULL, &r) == SL_OK);
  CU_ASSERT(r.decided[2] == N && fabs(r.compute - (75.0 + 2.0 * search) / 75.0) < 1e-12);
  /* threshold below -1: everything exits at the first block */
  CU_ASSERT(sl_dyn_infer(&net, m, &all, x, y, N, 8, NULL, NULL, &r) == SL_OK);
  CU_ASSERT(r.decided[0] == N && fabs(r.compute - (10.0 + search) / 75.0) < 1e-12);
  sl_semantic_free(m);
}

/* one centre per class, and two (the CAM's rows, and so a search's MACs,
 * double); exits on their own, and asking the exit before to agree */
static void test_exits_vs_reference(void)
{
  for (int agree = 0; agree < 2; agree++) {
    exits_vs_reference(1, agree);
    exits_vs_reference(2, agree);
  }
}

static void test_pareto(void)
{
  /* (acc, compute): 1 and 4 are dominated, 5 ties 2 on compute */
  const double acc[6] = {0.90, 0.95, 0.97, 0.93, 0.99, 0.96};
  const double cmp[6] = {0.30, 0.50, 0.60, 0.55, 0.90, 0.50};
  size_t idx[6];
  const size_t k = sl_dyn_pareto(acc, cmp, 6, idx);
  CU_ASSERT(k == 4);
  const size_t want[4] = {0, 5, 2, 4};
  for (size_t i = 0; i < 4 && i < k; i++)
    CU_ASSERT(idx[i] == want[i]);
  CU_ASSERT(sl_dyn_pareto(acc, cmp, 0, idx) == 0);
}

static void test_bad_input(void)
{
  const size_t dims[2] = {2, 3};
  sl_semantic *m = NULL;
  sl_semantic_params p = quiet_params(1);
  CU_ASSERT_FATAL(sl_semantic_create(&m, 2, dims, 2, &p) == SL_OK);
  float f[6] = {1, 0, 0, 1, NAN, 0};
  int32_t y[3] = {0, 1, 0}, c[3];
  sl_clear_error();
  CU_ASSERT(sl_semantic_build(m, 0, f, y, 3) == SL_ENUMERIC);
  CU_ASSERT(sl_semantic_build(m, 0, f, y, 0) == SL_EINVAL); /* no samples */
  CU_ASSERT(sl_test_msg_has("no samples"));
  /* a class without samples: a zero centre, never above a threshold >= 0 */
  CU_ASSERT_FATAL(sl_semantic_build(m, 0, f, y, 1) == SL_OK);
  CU_ASSERT(sl_semantic_stored(m, 0)[2] == 0.0f && sl_semantic_stored(m, 0)[3] == 0.0f);
  y[1] = 7;
  CU_ASSERT(sl_semantic_build(m, 0, f, y, 2) == SL_EINVAL);
  CU_ASSERT(sl_semantic_query(m, 1, f, 1, c, NULL) == SL_EINVAL); /* never built */
  CU_ASSERT(sl_semantic_build(m, 2, f, y, 1) == SL_EINVAL);
  int calls[3];
  sl_dyn_net net = toy_net(calls);
  sl_dyn_result r;
  double thr[2] = {0.5, NAN};
  const sl_dyn_policy pol = {thr, 0}, no_thr = {NULL, 0};
  float x[2] = {0, 0};
  CU_ASSERT(sl_dyn_infer(&net, m, &pol, x, NULL, 1, 1, NULL, NULL, &r) == SL_EINVAL); /* dims */
  sl_semantic_free(m);
  const size_t d2[2] = {2, 2};
  CU_ASSERT_FATAL(sl_semantic_create(&m, 2, d2, 2, &p) == SL_OK);
  CU_ASSERT(sl_dyn_infer(&net, m, &pol, x, NULL, 1, 1, NULL, NULL, &r) == SL_EINVAL); /* NaN */
  CU_ASSERT(sl_test_msg_has("threshold 1 is NaN"));
  CU_ASSERT(sl_dyn_infer(&net, m, &pol, x, NULL, 0, 1, NULL, NULL, &r) == SL_EINVAL);
  CU_ASSERT(sl_dyn_infer(&net, m, NULL, x, NULL, 1, 1, NULL, NULL, &r) == SL_EINVAL);
  CU_ASSERT(sl_dyn_infer(&net, m, &no_thr, x, NULL, 1, 1, NULL, NULL, &r) == SL_EINVAL);
  sl_semantic_free(m);
  CU_ASSERT(sl_semantic_create(&m, 0, d2, 2, &p) == SL_EINVAL && m == NULL);
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"centres, offsets, codes and cosine answers on hand-made features", test_centres_and_query},
      {"margin score: best cosine minus the second best", test_margin_score},
      {"several centres per class: k-means codes, margin against other classes",
       test_centres_per_class},
      {"early exit and compute vs a per-sample reference (1 and 2 centres per class, with and "
       "without agreeing exits); table agrees",
       test_exits_vs_reference},
      {"Pareto front", test_pareto},
      {"bad input", test_bad_input},
      {NULL, NULL}};
  return sl_test_run("dynexit", cases);
}
