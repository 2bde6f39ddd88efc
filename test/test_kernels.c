/* test_kernels.c -- fast kernels checked against their reference twins.
 *
 * The matrix kernels (lib/kernels.h) and the LIF layer kernels
 * (spikeloop/lif.h) promise that the fast version keeps the reference's
 * floating-point operation order, so most comparisons here are memcmp:
 * bit for bit, not "close". The exceptions, and why:
 *   - slk_matmul_nt sends large products with more than 32 columns of g to
 *     the CBLAS (different summation order): 1e-5.
 *   - dw_rec is summed over t in the other direction by the fast LIF
 *     backward, and the tau gradients are summed per sample first: 1e-5,
 *     relative to the largest element (normwise), since single elements may
 *     cancel to near zero.
 * The event-driven products (lib/events.c) and the inference path
 * (sl_net_infer) keep the reference order too: memcmp.
 * Also checked: the result of a whole network does not depend on the
 * thread count, the LIF semantics of benchmark W1 (WORKLOADS.md) against an
 * independent implementation written here, and argument errors.
 */
#include "config.h"
#include "spikeloop/error.h"
#include "spikeloop/lif.h"
#include "spikeloop/loss.h"
#include "spikeloop/net.h"
#include "spikeloop/neurons.h"
#include "spikeloop/version.h"
#include "core/kernels.h"

#include <stdint.h>
#include <string.h>

#include "testutil.h"

/* ------------------------------------------------------------ helpers */

/* xorshift64*: a small deterministic generator for test data. */
static uint64_t rng_state = 88172645463325252ull;
static void rng_seed(uint64_t s) { rng_state = s * 2685821657736338717ull + 1; }
static double urand(void) /* [0, 1) */
{
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (double)((rng_state * 2685821657736338717ull) >> 11) * 0x1.0p-53;
}
static void fill_uniform(float *a, size_t n, double lo, double hi)
{
  for (size_t i = 0; i < n; i++)
    a[i] = (float)(lo + (hi - lo) * urand());
}
static void fill_spikes(float *a, size_t n, double p)
{
  for (size_t i = 0; i < n; i++)
    a[i] = urand() < p ? 1.0f : 0.0f;
}
static float *falloc(size_t n) { return calloc(n ? n : 1, sizeof(float)); }
static float *fdup(const float *a, size_t n)
{
  float *b = falloc(n);
  memcpy(b, a, n * sizeof(float));
  return b;
}
static double max_abs(const float *a, size_t n)
{
  double m = 0.0;
  for (size_t i = 0; i < n; i++)
    if (fabs(a[i]) > m)
      m = fabs(a[i]);
  return m;
}
/* Relative difference with the floor at a fraction of the largest reference
 * element (normwise): single sums that cancel to ~0 are not judged alone. */
static double normwise_rel_diff(const float *a, const float *ref, size_t n)
{
  double scale = max_abs(ref, n);
  return sl_test_max_rel_diff(a, ref, n, scale > 0 ? scale : 1e-30);
}

/* ------------------------------------------------------------ matrix kernels */

static const size_t shapes[][3] = {/* R, K, N */
                                   {1, 1, 1},   {1, 7, 1},   {7, 1, 7},    {7, 33, 5},
                                   {33, 7, 65}, {64, 100, 17}, {3, 129, 33}, {100, 33, 1}};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

static void check_matmul(double density)
{
  double worst = 0.0;
  int all_same = 1;
  for (size_t c = 0; c < N_SHAPES; c++) {
    size_t R = shapes[c][0], K = shapes[c][1], N = shapes[c][2];
    rng_seed(100 + c);
    float *x = falloc(R * K), *w = falloc(K * N), *y = falloc(R * N), *yr = falloc(R * N);
    if (density < 1.0)
      fill_spikes(x, R * K, density);
    else
      fill_uniform(x, R * K, -1.0, 1.0);
    fill_uniform(w, K * N, -1.0, 1.0);
    for (size_t i = 0; i < R * N; i++) /* both must overwrite */
      y[i] = 123.0f, yr[i] = -7.0f;
    slk_matmul(y, x, w, R, K, N);
    slk_matmul_ref(yr, x, w, R, K, N);
    int same = memcmp(y, yr, R * N * sizeof(float)) == 0;
    if (!same)
      printf("\n    matmul %zux%zux%zu differs", R, K, N);
    all_same &= same;
    double d = sl_test_max_rel_diff(y, yr, R * N, 1e-6);
    if (d > worst)
      worst = d;
    free(x), free(w), free(y), free(yr);
  }
  printf("\n    matmul (%s x) vs ref: max rel diff %.3g ", density < 1.0 ? "0/1" : "dense", worst);
  CU_ASSERT(all_same);
  CU_ASSERT(worst == 0.0);
}

static void test_matmul_sparse(void) { check_matmul(0.15); }
static void test_matmul_dense(void) { check_matmul(1.0); }

static void check_matmul_tn(double density)
{
  double worst = 0.0;
  int all_same = 1;
  for (size_t c = 0; c < N_SHAPES; c++) {
    size_t R = shapes[c][0], K = shapes[c][1], N = shapes[c][2];
    rng_seed(200 + c);
    float *x = falloc(R * K), *g = falloc(R * N), *dw = falloc(K * N);
    if (density < 1.0)
      fill_spikes(x, R * K, density);
    else
      fill_uniform(x, R * K, -1.0, 1.0);
    fill_uniform(g, R * N, -1.0, 1.0);
    fill_uniform(dw, K * N, -2.0, 2.0); /* accumulate onto a nonzero gradient */
    float *dw_ref = fdup(dw, K * N), *dw0 = fdup(dw, K * N);
    slk_matmul_tn_acc(dw, x, g, R, K, N);
    slk_matmul_tn_acc_ref(dw_ref, x, g, R, K, N);
    int same = memcmp(dw, dw_ref, K * N * sizeof(float)) == 0;
    if (!same)
      printf("\n    matmul_tn_acc %zux%zux%zu differs", R, K, N);
    all_same &= same;
    /* the reference itself must accumulate: compare with an independent sum */
    double acc_err = 0.0;
    for (size_t k = 0; k < K; k++)
      for (size_t n = 0; n < N; n++) {
        double s = dw0[k * N + n];
        for (size_t r = 0; r < R; r++)
          s += (double)x[r * K + k] * g[r * N + n];
        double e = fabs(s - dw_ref[k * N + n]) / (fabs(s) > 1.0 ? fabs(s) : 1.0);
        if (e > acc_err)
          acc_err = e;
      }
    CU_ASSERT(acc_err < 1e-4);
    double d = sl_test_max_rel_diff(dw, dw_ref, K * N, 1e-6);
    if (d > worst)
      worst = d;
    free(x), free(g), free(dw), free(dw_ref), free(dw0);
  }
  printf("\n    matmul_tn_acc (%s x) vs ref: max rel diff %.3g ", density < 1.0 ? "0/1" : "dense",
         worst);
  CU_ASSERT(all_same);
  CU_ASSERT(worst == 0.0);
}

static void test_matmul_tn_sparse(void) { check_matmul_tn(0.15); }
static void test_matmul_tn_dense(void) { check_matmul_tn(1.0); }

static void test_matmul_nt(void)
{
  /* small products stay in the library's own loop; one large enough
   * (R K N >= 2^22) to go to the CBLAS */
  static const size_t big[3] = {300, 130, 120};
  double worst = 0.0;
  int few_same = 1;
  for (size_t c = 0; c <= N_SHAPES; c++) {
    const size_t *sh = c < N_SHAPES ? shapes[c] : big;
    size_t R = sh[0], K = sh[1], N = sh[2];
    rng_seed(300 + c);
    float *g = falloc(R * N), *w = falloc(K * N), *gx = falloc(R * K), *gxr = falloc(R * K);
    fill_uniform(g, R * N, -1.0, 1.0);
    fill_uniform(w, K * N, -1.0, 1.0);
    for (size_t i = 0; i < R * K; i++)
      gx[i] = 55.0f, gxr[i] = -55.0f;
    slk_matmul_nt(gx, g, w, R, K, N);
    slk_matmul_nt_ref(gxr, g, w, R, K, N);
    /* floor 1: the terms are O(1), so single sums that cancel are judged
     * against the size of their terms, not their tiny result */
    double d = sl_test_max_rel_diff(gx, gxr, R * K, 1.0);
    if (d > worst)
      worst = d;
    if (N <= 32) /* few columns: the library's axpy loop, same order as the reference */
      few_same &= memcmp(gx, gxr, R * K * sizeof(float)) == 0;
    free(g), free(w), free(gx), free(gxr);
  }
  printf("\n    matmul_nt (own loops and CBLAS) vs ref: max rel diff %.3g; with <= 32 columns %s ",
         worst, few_same ? "bit-identical" : "DIFFERENT");
  CU_ASSERT(worst < 1e-5);
  CU_ASSERT(few_same);
}

/* ------------------------------------------------------------ event lists */

/* Event-driven products against the dense reference: 0/1 rasters, and
 * rasters with other values (counts, -0.0, negative) that must also be kept. */
static void test_events(void)
{
  int all_same = 1;
  size_t events = 0;
  for (size_t c = 0; c < N_SHAPES; c++)
    for (int kind = 0; kind < 2; kind++) {
      size_t R = shapes[c][0], K = shapes[c][1], N = shapes[c][2];
      rng_seed(500 + 2 * c + kind);
      float *x = falloc(R * K), *w = falloc(K * N), *g = falloc(R * N);
      float *y = falloc(R * N), *yr = falloc(R * N), *dw = falloc(K * N);
      fill_spikes(x, R * K, 0.1);
      if (kind == 1)
        for (size_t i = 0; i < R * K; i++)
          x[i] = x[i] != 0.0f ? (float)(urand() < 0.5 ? -2.5 : 3.0) : (urand() < 0.3 ? -0.0f : 0.0f);
      fill_uniform(w, K * N, -1.0, 1.0);
      fill_uniform(g, R * N, -1.0, 1.0);
      fill_uniform(dw, K * N, -2.0, 2.0);
      float *dwr = fdup(dw, K * N);
      slk_events ev;
      memset(&ev, 0, sizeof ev);
      CU_ASSERT_FATAL(slk_events_build(&ev, x, R, K) == SL_OK);
      events += ev.nnz;
      for (size_t i = 0; i < R * N; i++)
        y[i] = 99.0f;
      slk_matmul_ev(y, &ev, w, N);
      slk_matmul_ref(yr, x, w, R, K, N);
      slk_matmul_tn_acc_ev(dw, &ev, g, N);
      slk_matmul_tn_acc_ref(dwr, x, g, R, K, N);
      int same = memcmp(y, yr, R * N * sizeof(float)) == 0 &&
                 memcmp(dw, dwr, K * N * sizeof(float)) == 0;
      if (!same)
        printf("\n    events %zux%zux%zu kind %d: y max rel %.3g, dw max rel %.3g", R, K, N, kind,
               sl_test_max_rel_diff(y, yr, R * N, 1e-6), sl_test_max_rel_diff(dw, dwr, K * N, 1e-6));
      all_same &= same;
      /* the list is reused: a second, emptier raster */
      memset(x, 0, R * K * sizeof(float));
      x[R * K - 1] = 1.0f;
      CU_ASSERT(slk_events_build(&ev, x, R, K) == SL_OK);
      CU_ASSERT(ev.nnz == 1 && ev.ptr[R] == 1 && ev.idx[0] == K - 1);
      x[0] = NAN;
      CU_ASSERT(slk_events_build(&ev, x, R, K) == SL_ENUMERIC);
      x[0] = -INFINITY;
      CU_ASSERT(slk_events_build(&ev, x, R, K) == SL_ENUMERIC);
      x[0] = 0.0f;
      x[R * K - 1] = NAN; /* in the last row's tail */
      CU_ASSERT(slk_events_build(&ev, x, R, K) == SL_ENUMERIC);
      slk_events_free(&ev);
      slk_events_free(&ev); /* twice is harmless */
      free(x), free(w), free(g), free(y), free(yr), free(dw), free(dwr);
    }
  printf("\n    event products vs dense reference (%zu events): %s ", events,
         all_same ? "bit-identical" : "DIFFER");
  CU_ASSERT(all_same);
  CU_ASSERT(events > 0);
}

/* slk_dense_rows_add (the recurrent back-projection) against the plain
 * loop: every element sums n in ascending order from its start value. */
static void test_dense_rows(void)
{
  static const size_t rs[] = {1, 3, 4, 5, 9}, ks[] = {16, 64, 130, 256}, ns[] = {1, 7, 64};
  int all_same = 1;
  for (size_t a = 0; a < 5; a++)
    for (size_t c = 0; c < 4; c++)
      for (size_t e = 0; e < 3; e++) {
        const size_t R = rs[a], K = ks[c], N = ns[e];
        rng_seed(900 + 16 * a + 4 * c + e);
        float *y = falloc(R * K), *g = falloc(R * N), *wt = falloc(N * K);
        fill_uniform(y, R * K, -1.0, 1.0);
        fill_uniform(g, R * N, -1.0, 1.0);
        fill_uniform(wt, N * K, -1.0, 1.0);
        float *yr = fdup(y, R * K);
        for (size_t i = 0; i < R; i++)
          for (size_t j = 0; j < K; j++) {
            float acc = yr[i * K + j];
            for (size_t n = 0; n < N; n++)
              acc += g[i * N + n] * wt[n * K + j];
            yr[i * K + j] = acc;
          }
        slk_dense_rows_add(y, g, R, wt, K, N);
        if (memcmp(y, yr, R * K * sizeof(float)) != 0) {
          all_same = 0;
          printf("\n    dense rows %zux%zux%zu differ (max rel %.3g)", R, K, N,
                 sl_test_max_rel_diff(y, yr, R * K, 1e-6));
        }
        free(y), free(g), free(wt), free(yr);
      }
  printf("\n    dense row products (4-row blocks and leftovers) vs plain loop: %s ",
         all_same ? "bit-identical" : "DIFFER");
  CU_ASSERT(all_same);
}

/* LI readout backward: without tau gradients it runs in parallel over the
 * batch; gh must be the same bits as the serial pass with tau gradients. */
static void test_li_backward_paths(void)
{
  const size_t T = 31, B = 7, N = 5, TBN = T * B * N;
  sl_neurons p;
  sl_neuron_nominal nom = sl_neuron_nominal_default();
  nom.tau_mem = 10e-3;
  nom.tau_syn = 5e-3;
  CU_ASSERT_FATAL(sl_neurons_alloc(&p, N, &nom) == SL_OK);
  rng_seed(4711);
  float *h = falloc(TBN), *i_syn = falloc(TBN), *v = falloc(TBN), *gv = falloc(TBN);
  float *gh1 = falloc(TBN), *gh2 = falloc(TBN), *dm = falloc(N), *ds = falloc(N);
  fill_uniform(h, TBN, -1.0, 1.0);
  fill_uniform(gv, TBN, -0.1, 0.1);
  CU_ASSERT_FATAL(sl_li_forward(&p, 0, 1e-3, T, B, h, i_syn, v) == SL_OK);
  CU_ASSERT_FATAL(sl_li_backward(&p, 0, 1e-3, T, B, i_syn, v, gv, gh1, dm, ds) == SL_OK);
  CU_ASSERT_FATAL(sl_li_backward(&p, 0, 1e-3, T, B, i_syn, v, gv, gh2, NULL, NULL) == SL_OK);
  int same = memcmp(gh1, gh2, TBN * sizeof(float)) == 0;
  printf("\n    LI backward with / without tau gradients: gh %s ", same ? "identical" : "DIFFERS");
  CU_ASSERT(same);
  CU_ASSERT(max_abs(gh1, TBN) > 0.0);
  sl_neurons_free(&p);
  free(h), free(i_syn), free(v), free(gv), free(gh1), free(gh2), free(dm), free(ds);
}

/* ------------------------------------------------------------ LIF kernels */

typedef struct {
  int reset, detach, scale, recurrent, refrac, smooth, gv_ext;
  const sl_surrogate *sg;
} lif_case;

typedef struct {
  double fwd_h, dw_rec, dtau_mem, dtau_syn; /* worst differences */
  size_t n_cases, n_fwd_fail, n_bwd_fail, n_heaviside, n_spiking;
} lif_tally;

static void run_lif_case(const lif_case *c, size_t seed, lif_tally *tally)
{
  const size_t T = 23, B = 3, N = 9, TBN = T * B * N;
  const double dt = 1e-3;
  rng_seed(1000 + seed);
  sl_neuron_nominal nom = sl_neuron_nominal_default();
  nom.tau_mem = 8e-3;
  nom.tau_syn = 4e-3;
  nom.v_leak = 0.1;
  nom.v_reset = c->reset == SL_RESET_TO_VALUE ? -0.2 : 0.0;
  nom.gain = 1.3;
  nom.refrac = c->refrac;
  sl_neurons p;
  CU_ASSERT_FATAL(sl_neurons_alloc(&p, N, &nom) == SL_OK);
  sl_mismatch_spec mm = {0.2, 0.2, 0.1, 0.05, 0.05, 0.1};
  CU_ASSERT_FATAL(sl_neurons_draw_mismatch(&p, &mm, 77 + seed) == SL_OK);
  CU_ASSERT_FATAL(sl_neurons_check(&p, dt) == SL_OK);

  sl_lif_options o = sl_lif_options_default();
  o.reset = c->reset;
  o.detach_reset = c->detach;
  o.scale_input = c->scale;
  o.smooth = c->smooth;
  o.surrogate = c->sg;
  o.beta = 5.0;

  /* drive large enough for a fair share of spikes with either input scale */
  double amp = c->scale ? 3.0 : 0.35;
  float *h = falloc(TBN);
  fill_uniform(h, TBN, -0.6 * amp, amp);
  float *w_rec = NULL;
  if (c->recurrent) {
    w_rec = falloc(N * N);
    fill_uniform(w_rec, N * N, -0.5 * amp, 0.25 * amp); /* mostly inhibitory */
  }
  float *h1 = fdup(h, TBN), *h2 = fdup(h, TBN);
  float *i1 = falloc(TBN), *v1 = falloc(TBN), *s1 = falloc(TBN);
  float *i2 = falloc(TBN), *v2 = falloc(TBN), *s2 = falloc(TBN);
  uint8_t *c1 = calloc(TBN, 1), *c2 = calloc(TBN, 1);
  CU_ASSERT_FATAL(sl_lif_forward(&p, &o, dt, T, B, w_rec, h1, i1, v1, s1, c1) == SL_OK);
  CU_ASSERT_FATAL(sl_lif_forward_ref(&p, &o, dt, T, B, w_rec, h2, i2, v2, s2, c2) == SL_OK);
  int fwd_same = memcmp(h1, h2, TBN * sizeof(float)) == 0 &&
                 memcmp(i1, i2, TBN * sizeof(float)) == 0 &&
                 memcmp(v1, v2, TBN * sizeof(float)) == 0 &&
                 memcmp(s1, s2, TBN * sizeof(float)) == 0 && memcmp(c1, c2, TBN) == 0;
  double d = sl_test_max_rel_diff(v1, v2, TBN, 1e-6);
  if (d > tally->fwd_h)
    tally->fwd_h = d;
  size_t spikes = 0, clamped = 0;
  for (size_t i = 0; i < TBN; i++) {
    spikes += s2[i] >= 0.5f;
    clamped += c2[i];
  }
  if (!c->smooth) {
    tally->n_heaviside++;
    if (spikes > 0 && spikes < TBN / 2)
      tally->n_spiking++;
  }
  if (c->refrac > 0 && !c->smooth)
    CU_ASSERT(clamped > 0); /* refractoriness is exercised */

  /* backward: same upstream gradient, each call its own copy of gs */
  float *gs = falloc(TBN), *gv_ext = NULL;
  fill_uniform(gs, TBN, -1.0, 1.0);
  if (c->gv_ext) {
    gv_ext = falloc(TBN);
    fill_uniform(gv_ext, TBN, -0.5, 0.5);
  }
  float *gs1 = fdup(gs, TBN), *gs2 = fdup(gs, TBN);
  float *gh1 = falloc(TBN), *gh2 = falloc(TBN);
  float *dwr1 = NULL, *dwr2 = NULL;
  if (c->recurrent) {
    dwr1 = falloc(N * N);
    fill_uniform(dwr1, N * N, -0.1, 0.1); /* accumulated onto */
    dwr2 = fdup(dwr1, N * N);
  }
  float *dm1 = falloc(N), *ds1 = falloc(N);
  fill_uniform(dm1, N, -1.0, 1.0);
  fill_uniform(ds1, N, -1.0, 1.0);
  float *dm2 = fdup(dm1, N), *ds2 = fdup(ds1, N), *dm0 = fdup(dm1, N);
  CU_ASSERT_FATAL(sl_lif_backward(&p, &o, dt, T, B, w_rec, i1, v1, s1, c1, gs1, gv_ext, gh1, dwr1,
                                  dm1, ds1) == SL_OK);
  CU_ASSERT_FATAL(sl_lif_backward_ref(&p, &o, dt, T, B, w_rec, i2, v2, s2, c2, gs2, gv_ext, gh2,
                                      dwr2, dm2, ds2) == SL_OK);
  /* again without tau gradients (and dw_rec): for Heaviside spikes with
   * the SuperSpike surrogate this is the vectorised fast path */
  float *gs3 = fdup(gs, TBN), *gh3 = falloc(TBN);
  CU_ASSERT_FATAL(sl_lif_backward(&p, &o, dt, T, B, w_rec, i1, v1, s1, c1, gs3, gv_ext, gh3, NULL,
                                  NULL, NULL) == SL_OK);
  int bwd_same = memcmp(gh1, gh2, TBN * sizeof(float)) == 0 &&
                 memcmp(gh3, gh2, TBN * sizeof(float)) == 0 &&
                 memcmp(gs3, gs1, TBN * sizeof(float)) == 0;
  free(gs3), free(gh3);
  CU_ASSERT(max_abs(gh2, TBN) > 0.0);
  double e_rec = c->recurrent ? normwise_rel_diff(dwr1, dwr2, N * N) : 0.0;
  double e_m = normwise_rel_diff(dm1, dm2, N), e_s = normwise_rel_diff(ds1, ds2, N);
  if (e_rec > tally->dw_rec)
    tally->dw_rec = e_rec;
  if (e_m > tally->dtau_mem)
    tally->dtau_mem = e_m;
  if (e_s > tally->dtau_syn)
    tally->dtau_syn = e_s;
  /* tau gradients were accumulated, not overwritten, and are not zero */
  int tau_moved = normwise_rel_diff(dm2, dm0, N) > 1e-3;
  CU_ASSERT(tau_moved);

  tally->n_cases++;
  if (!fwd_same)
    tally->n_fwd_fail++;
  if (!bwd_same || e_rec >= 1e-5 || e_m >= 1e-5 || e_s >= 1e-5)
    tally->n_bwd_fail++;
  if (!fwd_same || !bwd_same || e_rec >= 1e-5 || e_m >= 1e-5 || e_s >= 1e-5 || !tau_moved)
    printf("\n    FAIL reset %d detach %d scale %d rec %d refrac %d smooth %d %s gv_ext %d: "
           "fwd %s, gh %s, dw_rec %.2e, dtau_mem %.2e, dtau_syn %.2e",
           c->reset, c->detach, c->scale, c->recurrent, c->refrac, c->smooth, c->sg->name,
           c->gv_ext, fwd_same ? "same" : "DIFFERS", bwd_same ? "same" : "DIFFERS", e_rec, e_m,
           e_s);

  sl_neurons_free(&p);
  free(h), free(w_rec), free(h1), free(h2), free(i1), free(v1), free(s1), free(i2), free(v2);
  free(s2), free(c1), free(c2), free(gs), free(gv_ext), free(gs1), free(gs2), free(gh1);
  free(gh2), free(dwr1), free(dwr2), free(dm1), free(ds1), free(dm2), free(ds2), free(dm0);
}

static void test_lif_fast_vs_ref(void)
{
  lif_tally t = {0};
  const sl_surrogate *const *sgs = sl_surrogate_list();
  size_t seed = 0, n_sg = 0;
  for (size_t k = 0; sgs[k]; k++, n_sg++)
    for (int reset = 0; reset < 2; reset++)
      for (int detach = 0; detach < 2; detach++)
        for (int scale = 0; scale < 2; scale++)
          for (int rec = 0; rec < 2; rec++)
            for (int mode = 0; mode < 3; mode++) { /* refrac 0, refrac 2, smooth */
              lif_case c = {reset == 0 ? SL_RESET_TO_VALUE : SL_RESET_SUBTRACT,
                            detach,
                            scale,
                            rec,
                            mode == 1 ? 2 : 0,
                            mode == 2,
                            (int)(seed % 2),
                            sgs[k]};
              run_lif_case(&c, seed++, &t);
            }
  printf("\n    %zu LIF cases (%zu surrogates): forward differs in %zu, backward in %zu; "
         "%zu of %zu Heaviside cases with 0 < spikes < 50%%\n    max rel diff v %.3g, dw_rec %.3g, dtau_mem %.3g, "
         "dtau_syn %.3g ",
         t.n_cases, n_sg, t.n_fwd_fail, t.n_bwd_fail, t.n_spiking, t.n_heaviside, t.fwd_h, t.dw_rec, t.dtau_mem,
         t.dtau_syn);
  CU_ASSERT(n_sg >= 3);
  CU_ASSERT(t.n_cases == n_sg * 48);
  CU_ASSERT(t.n_fwd_fail == 0);
  CU_ASSERT(t.n_bwd_fail == 0);
  /* every Heaviside case exercises spikes and resets */
  CU_ASSERT(t.n_heaviside == n_sg * 32);
  CU_ASSERT(t.n_spiking == t.n_heaviside);
}

/* ------------------------------------------------------------ whole network */

typedef struct {
  float *out, *grads, *states, *tau;
  size_t n_out, n_params, n_states, n_tau;
  double spikes; /* hidden spikes, sl_net_spike_count */
} net_result;

static void net_result_free(net_result *r)
{
  free(r->out), free(r->grads), free(r->states), free(r->tau);
}

/* Forward + backward of a 2-layer net (the 2nd recurrent); everything the
 * network computed, copied out. input: the dense raster, or (RUN_SPIKES) the
 * same raster as an event list. */
enum { RUN_FAST, RUN_REF, RUN_SPIKES };
static int g_lean; /* run_net_tau: sl_net_keep_currents(net, 0) */
static void run_net_tau(int mode, int tau, net_result *res)
{
  const size_t T = 25, B = 6, n_in = 13, n_out = 4;
  sl_net_spec s = sl_net_spec_default();
  s.n_in = n_in;
  s.n_out = n_out;
  s.n_layers = 2;
  s.n_hidden[0] = 17;
  s.n_hidden[1] = 11;
  s.recurrent[1] = 1;
  s.hidden.tau_mem = 8e-3;
  s.hidden.tau_syn = 4e-3;
  s.hidden.refrac = 1;
  s.lif.reset = SL_RESET_SUBTRACT;
  s.lif.detach_reset = 0;
  sl_net *net = NULL;
  CU_ASSERT_FATAL(sl_net_create(&net, &s) == SL_OK);
  sl_mismatch_spec mm = {0.2, 0.2, 0.1, 0.05, 0.0, 0.1};
  for (size_t l = 0; l <= s.n_layers; l++)
    CU_ASSERT_FATAL(sl_neurons_draw_mismatch(sl_net_neurons(net, l), &mm, 40 + l) == SL_OK);
  CU_ASSERT_FATAL(sl_net_init_weights(net, 3.0, 9) == SL_OK);
  CU_ASSERT_FATAL(sl_net_enable_tau_grad(net, tau) == SL_OK);
  sl_net_keep_currents(net, !g_lean);
  sl_net_use_reference(net, mode == RUN_REF);
  rng_seed(4242);
  float *x = falloc(T * B * n_in), *gv = falloc(T * B * n_out);
  float *extra0 = falloc(T * B * s.n_hidden[0]); /* a regulariser's dL/dS of layer 0 */
  fill_spikes(x, T * B * n_in, 0.3);
  fill_uniform(gv, T * B * n_out, -0.1, 0.1);
  fill_uniform(extra0, T * B * s.n_hidden[0], -0.02, 0.02);
  const float *extra[SL_MAX_LAYERS] = {extra0};
  sl_net_zero_grad(net);
  sl_spikes *sp = NULL;
  if (mode == RUN_SPIKES) {
    CU_ASSERT_FATAL(sl_spikes_from_dense(&sp, x, T, B, n_in) == SL_OK);
    memset(x, 0, T * B * n_in * sizeof(float)); /* the list alone must do */
    CU_ASSERT_FATAL(sl_net_forward_spikes(net, sp) == SL_OK);
  } else {
    CU_ASSERT_FATAL(sl_net_forward(net, x, T, B) == SL_OK);
  }
  CU_ASSERT_FATAL(sl_net_backward(net, gv, extra) == SL_OK);
  sl_spikes_free(sp);
  free(extra0);

  memset(res, 0, sizeof *res);
  for (size_t l = 0; l < s.n_layers; l++) { /* spike counts: from events and from S */
    sl_layer_state st;
    double c = -1.0, dense = 0.0;
    CU_ASSERT_FATAL(sl_net_state(net, l, &st) == SL_OK);
    CU_ASSERT_FATAL(sl_net_spike_count(net, l, &c) == SL_OK);
    for (size_t i = 0; i < st.T * st.B * st.N; i++)
      dense += st.s[i];
    CU_ASSERT(c == dense);
    res->spikes += c;
  }
  double dummy;
  CU_ASSERT(sl_net_spike_count(net, s.n_layers, &dummy) == SL_EINVAL); /* the readout */
  res->n_out = T * B * n_out;
  res->out = fdup(sl_net_output(net), res->n_out);
  res->n_params = sl_net_num_params(net);
  res->grads = fdup(sl_net_grads(net), res->n_params);
  size_t hid = s.n_hidden[0] + s.n_hidden[1];
  res->n_states = 4 * T * B * hid; /* h, i_syn, v, s of the hidden layers */
  res->states = falloc(res->n_states);
  float *dst = res->states;
  for (size_t l = 0; l < s.n_layers; l++) {
    sl_layer_state st;
    CU_ASSERT_FATAL(sl_net_state(net, l, &st) == SL_OK);
    size_t n = st.T * st.B * st.N;
    if (g_lean && !tau) { /* not kept: zeros in their place */
      CU_ASSERT(st.h == NULL && st.i_syn == NULL);
      memset(dst, 0, 2 * n * sizeof(float)), dst += 2 * n;
    } else {
      memcpy(dst, st.h, n * sizeof(float)), dst += n;
      memcpy(dst, st.i_syn, n * sizeof(float)), dst += n;
    }
    memcpy(dst, st.v, n * sizeof(float)), dst += n;
    memcpy(dst, st.s, n * sizeof(float)), dst += n;
  }
  res->n_tau = 2 * (hid + n_out);
  res->tau = falloc(res->n_tau);
  dst = res->tau;
  for (size_t l = 0; l <= s.n_layers && tau; l++) {
    float *dm, *ds;
    CU_ASSERT_FATAL(sl_net_tau_grad(net, l, &dm, &ds) == SL_OK);
    size_t n = sl_net_neurons(net, l)->n;
    memcpy(dst, dm, n * sizeof(float)), dst += n;
    memcpy(dst, ds, n * sizeof(float)), dst += n;
  }
  free(x), free(gv);
  sl_net_free(net);
}

static void run_net(int mode, net_result *res) { run_net_tau(mode, 1, res); }

static void test_thread_independence(void)
{
  int saved = sl_get_num_threads();
  net_result r1, r2;
  CU_ASSERT_FATAL(sl_set_num_threads(1) == SL_OK);
  CU_ASSERT(sl_get_num_threads() == 1);
  run_net(RUN_FAST, &r1);
#ifdef _OPENMP
  CU_ASSERT_FATAL(sl_set_num_threads(2) == SL_OK);
  CU_ASSERT(sl_get_num_threads() == 2);
#else
  CU_ASSERT(sl_set_num_threads(2) == SL_EUNSUPPORTED);
#endif
  run_net(RUN_FAST, &r2);
  int same_out = memcmp(r1.out, r2.out, r1.n_out * sizeof(float)) == 0;
  int same_states = memcmp(r1.states, r2.states, r1.n_states * sizeof(float)) == 0;
  int same_grads = memcmp(r1.grads, r2.grads, r1.n_params * sizeof(float)) == 0;
  int same_tau = memcmp(r1.tau, r2.tau, r1.n_tau * sizeof(float)) == 0;
  printf("\n    1 vs 2 threads: output %s (max rel %.3g), states %s, grads %s (max rel %.3g), "
         "tau grads %s ",
         same_out ? "identical" : "DIFFER", sl_test_max_rel_diff(r2.out, r1.out, r1.n_out, 1e-6),
         same_states ? "identical" : "DIFFER", same_grads ? "identical" : "DIFFER",
         normwise_rel_diff(r2.grads, r1.grads, r1.n_params), same_tau ? "identical" : "DIFFER");
  CU_ASSERT(same_out);
  CU_ASSERT(same_states);
  CU_ASSERT(same_grads);
  CU_ASSERT(same_tau);
  CU_ASSERT(max_abs(r1.grads, r1.n_params) > 0.0);
  net_result_free(&r1), net_result_free(&r2);
  sl_set_num_threads(saved);
}

static void test_net_reference(void)
{
  net_result rf, rr;
  run_net(RUN_FAST, &rf);
  run_net(RUN_REF, &rr);
  int same_out = memcmp(rf.out, rr.out, rf.n_out * sizeof(float)) == 0;
  int same_states = memcmp(rf.states, rr.states, rf.n_states * sizeof(float)) == 0;
  double eg = normwise_rel_diff(rf.grads, rr.grads, rf.n_params);
  double et = normwise_rel_diff(rf.tau, rr.tau, rf.n_tau);
  size_t spikes = 0;
  for (size_t i = 0; i < rr.n_states; i++) /* the s blocks hold 0/1, others rarely */
    spikes += rr.states[i] == 1.0f;
  printf("\n    fast vs reference net: output %s, states %s, grads max rel %.3g, tau grads max "
         "rel %.3g ",
         same_out ? "identical" : "DIFFER", same_states ? "identical" : "DIFFER", eg, et);
  CU_ASSERT(same_out);
  CU_ASSERT(same_states);
  CU_ASSERT(eg < 1e-5);
  CU_ASSERT(et < 1e-5);
  CU_ASSERT(spikes > 0);
  net_result_free(&rf), net_result_free(&rr);
}

/* Without tau gradients the fast path runs the fused hidden-layer backward
 * (lib/lif_layer.c): against the reference, and against the fused path
 * with tau gradients (the unfused one), whose weight gradients it must
 * give bit for bit. */
static void test_net_fused_backward(void)
{
  net_result rf, rr, rt;
  run_net_tau(RUN_FAST, 0, &rf);
  run_net_tau(RUN_REF, 0, &rr);
  run_net_tau(RUN_FAST, 1, &rt);
  double eg = normwise_rel_diff(rf.grads, rr.grads, rf.n_params);
  int same = memcmp(rf.grads, rt.grads, rf.n_params * sizeof(float)) == 0;
  printf("\n    fused backward: grads vs reference max rel %.3g, vs unfused %s ", eg,
         same ? "identical" : "DIFFER");
  CU_ASSERT(eg < 1e-5);
  CU_ASSERT(same);
  CU_ASSERT(max_abs(rf.grads, rf.n_params) > 0.0);
  /* without keeping the currents: the same output, V, S and gradients */
  net_result rl;
  g_lean = 1;
  run_net_tau(RUN_FAST, 0, &rl);
  g_lean = 0;
  int same_lean = memcmp(rl.grads, rf.grads, rf.n_params * sizeof(float)) == 0 &&
                  memcmp(rl.out, rf.out, rf.n_out * sizeof(float)) == 0;
  size_t compared = 0, differ = 0; /* the states it kept (h and i_syn are zeros here) */
  for (size_t i = 0; i < rf.n_states; i++)
    if (rl.states[i] != 0.0f) {
      compared++;
      differ += rl.states[i] != rf.states[i];
    }
  printf("lean (no currents kept) %s ", same_lean && differ == 0 ? "identical" : "DIFFERS");
  CU_ASSERT(same_lean);
  CU_ASSERT(differ == 0 && compared > 0);
  net_result_free(&rf), net_result_free(&rr), net_result_free(&rt), net_result_free(&rl);
}

/* Tau gradients after a forward that did not keep the currents: refused. */
static void test_net_currents_needed(void)
{
  sl_net_spec s = sl_net_spec_default();
  s.n_in = 3, s.n_out = 2, s.n_hidden[0] = 5;
  sl_net *net = NULL;
  CU_ASSERT_FATAL(sl_net_create(&net, &s) == SL_OK);
  CU_ASSERT_FATAL(sl_net_init_weights(net, 2.0, 1) == SL_OK);
  sl_net_keep_currents(net, 0);
  float x[4 * 2 * 3] = {1, 0, 1, 0, 1, 1, 1, 1, 0, 0, 0, 1}, gv[4 * 2 * 2] = {0.1f, -0.2f};
  CU_ASSERT_FATAL(sl_net_forward(net, x, 4, 2) == SL_OK);
  sl_layer_state st;
  CU_ASSERT(sl_net_state(net, 0, &st) == SL_OK && st.h == NULL && st.v != NULL);
  CU_ASSERT(sl_net_backward(net, gv, NULL) == SL_OK);
  CU_ASSERT_FATAL(sl_net_enable_tau_grad(net, 1) == SL_OK);
  CU_ASSERT(sl_net_backward(net, gv, NULL) == SL_EINVAL);
  CU_ASSERT_FATAL(sl_net_forward(net, x, 4, 2) == SL_OK); /* tau gradients keep them */
  CU_ASSERT(sl_net_state(net, 0, &st) == SL_OK && st.h != NULL && st.i_syn != NULL);
  CU_ASSERT(sl_net_backward(net, gv, NULL) == SL_OK);
  sl_net_free(net);
}

/* An event-list input (sl_net_forward_spikes) gives the dense input's
 * numbers bit for bit. */
static void test_net_spike_input(void)
{
  net_result rd, rs;
  run_net(RUN_FAST, &rd);
  run_net(RUN_SPIKES, &rs);
  CU_ASSERT(memcmp(rd.out, rs.out, rd.n_out * sizeof(float)) == 0);
  CU_ASSERT(memcmp(rd.states, rs.states, rd.n_states * sizeof(float)) == 0);
  CU_ASSERT(memcmp(rd.grads, rs.grads, rd.n_params * sizeof(float)) == 0);
  CU_ASSERT(memcmp(rd.tau, rs.tau, rd.n_tau * sizeof(float)) == 0);
  CU_ASSERT(rd.spikes == rs.spikes && rd.spikes > 0);
  CU_ASSERT(max_abs(rs.grads, rs.n_params) > 0.0);
  printf("\n    spike-list input: %.0f hidden spikes, everything identical to the dense input ",
         rs.spikes);
  net_result_free(&rd), net_result_free(&rs);
}

/* ------------------------------------------------------------ inference */

/* sl_net_infer against sl_net_forward on a 3-layer net (the 2nd recurrent):
 * logits (max over time), last readout membrane and spike count. */
static void check_infer(int reset, int smooth, int threads)
{
  const size_t T = 37, B = 5, n_in = 19, n_out = 3;
  sl_net_spec s = sl_net_spec_default();
  s.n_in = n_in;
  s.n_out = n_out;
  s.n_layers = 2;
  s.n_hidden[0] = 23;
  s.n_hidden[1] = 17;
  s.recurrent[1] = 1;
  s.hidden.tau_mem = 8e-3;
  s.hidden.tau_syn = 4e-3;
  s.hidden.refrac = smooth || reset == SL_RESET_SUBTRACT ? 0 : 2; /* subtract: no refractory time, so that the reset matters */
  s.lif.reset = reset;
  s.lif.smooth = smooth;
  sl_net *net = NULL;
  CU_ASSERT_FATAL(sl_net_create(&net, &s) == SL_OK);
  sl_mismatch_spec mm = {0.2, 0.2, 0.1, 0.05, 0.0, 0.1};
  for (size_t l = 0; l <= s.n_layers; l++)
    CU_ASSERT_FATAL(sl_neurons_draw_mismatch(sl_net_neurons(net, l), &mm, 60 + l) == SL_OK);
  CU_ASSERT_FATAL(sl_net_init_weights(net, 4.0, 11) == SL_OK);
  rng_seed(777);
  float *x = falloc(T * B * n_in);
  fill_spikes(x, T * B * n_in, 0.2);
  x[3] = 2.0f; /* a count, not a spike */
  sl_set_num_threads(threads);
  CU_ASSERT_FATAL(sl_net_forward(net, x, T, B) == SL_OK);
  float lg_fwd[5 * 3], lg_inf[5 * 3];
  double loss;
  int32_t y[5] = {0, 1, 2, 0, 1};
  CU_ASSERT_FATAL(sl_loss_ce(SL_LOSS_MAX, T, B, n_out, sl_net_output(net), y, 0.0, &loss, NULL,
                             lg_fwd, NULL) == SL_OK);
  const float *last_fwd = sl_net_output(net) + (T - 1) * B * n_out;
  double spikes_fwd = 0.0;
  for (size_t l = 0; l < s.n_layers; l++) {
    sl_layer_state st;
    CU_ASSERT_FATAL(sl_net_state(net, l, &st) == SL_OK);
    for (size_t i = 0; i < T * B * st.N; i++)
      spikes_fwd += st.s[i];
  }
  sl_infer_stats is;
  CU_ASSERT(sl_net_infer_last(net) == NULL);
  CU_ASSERT_FATAL(sl_net_infer(net, x, T, B, lg_inf, &is) == SL_OK);
  int same = memcmp(lg_fwd, lg_inf, sizeof lg_fwd) == 0 &&
             memcmp(last_fwd, sl_net_infer_last(net), B * n_out * sizeof(float)) == 0;
  /* spike counts: exact for 0/1 spikes; smooth values are summed in
   * another order */
  double ds = fabs(is.hidden_spikes - spikes_fwd) / (spikes_fwd > 1 ? spikes_fwd : 1);
  printf("\n    infer vs forward (reset %d, smooth %d, %d thread(s)): logits and last "
         "readout %s, spikes %.6g vs %.6g ",
         reset, smooth, threads, same ? "identical" : "DIFFER", is.hidden_spikes, spikes_fwd);
  CU_ASSERT(same);
  CU_ASSERT(smooth ? ds < 1e-12 : ds == 0.0);
  CU_ASSERT(spikes_fwd > 0.0);
  /* the states of the forward pass are untouched */
  CU_ASSERT(sl_net_output(net) + (T - 1) * B * n_out == last_fwd);
  /* the same from an event list, made from the float or a uint8 raster */
  sl_spikes *sp = NULL, *sp8 = NULL;
  uint8_t *x8 = malloc(T * B * n_in);
  for (size_t i = 0; i < T * B * n_in; i++)
    x8[i] = (uint8_t)x[i];
  CU_ASSERT_FATAL(sl_spikes_from_dense(&sp, x, T, B, n_in) == SL_OK);
  CU_ASSERT_FATAL(sl_spikes_from_u8(&sp8, x8, T, B, n_in) == SL_OK);
  CU_ASSERT(sl_spikes_count(sp) == sl_spikes_count(sp8) && sl_spikes_count(sp) > 0);
  for (int k = 0; k < 2; k++) {
    float lg_sp[5 * 3];
    sl_infer_stats is2;
    CU_ASSERT_FATAL(sl_net_infer_spikes(net, k ? sp8 : sp, lg_sp, &is2) == SL_OK);
    CU_ASSERT(memcmp(lg_sp, lg_fwd, sizeof lg_sp) == 0);
    CU_ASSERT(memcmp(last_fwd, sl_net_infer_last(net), B * n_out * sizeof(float)) == 0);
    CU_ASSERT(is2.hidden_spikes == is.hidden_spikes);
  }
  sl_spikes_free(sp8);
  CU_ASSERT(sl_spikes_from_dense(&sp8, x, T, B, n_in - 1) == SL_OK); /* wrong width */
  CU_ASSERT(sl_net_infer_spikes(net, sp8, lg_inf, &is) == SL_ESHAPE);
  sl_spikes_free(sp8);
  sl_spikes_free(sp);
  sl_spikes_free(NULL);
  CU_ASSERT(sl_spikes_from_u8(&sp, x8, 0, B, n_in) == SL_EINVAL && sp == NULL);
  free(x8);
  x[7] = NAN;
  CU_ASSERT(sl_spikes_from_dense(&sp, x, T, B, n_in) == SL_ENUMERIC && sp == NULL);
  CU_ASSERT(sl_net_infer(net, x, T, B, lg_inf, &is) == SL_ENUMERIC);
  CU_ASSERT(sl_net_infer(net, x, 0, B, lg_inf, &is) == SL_EINVAL);
  free(x);
  sl_net_free(net);
}

static void test_infer(void)
{
  int saved = sl_get_num_threads();
  for (int threads = 1; threads <= 2; threads++) {
    check_infer(SL_RESET_TO_VALUE, 0, threads);
    check_infer(SL_RESET_SUBTRACT, 0, threads);
    check_infer(SL_RESET_SUBTRACT, 1, threads);
  }
  sl_set_num_threads(saved);
}

/* ------------------------------------------------------------ edited neurons */

/* A network's decay factors are computed once per layer and kept: a pass
 * after its neurons were edited must use the new parameters, exactly as a
 * network that had them from the start. */
enum { EDIT_FUSED, EDIT_TAU, EDIT_SMOOTH }; /* fused layers; tau gradients; smooth spikes */
static sl_net *edit_test_net(int mode)
{
  sl_net_spec s = sl_net_spec_default();
  s.n_in = 7;
  s.n_out = 3;
  s.n_layers = 2;
  s.n_hidden[0] = 12;
  s.n_hidden[1] = 9;
  s.recurrent[1] = 1;
  s.lif.scale_input = 1;
  s.readout_scale_input = 1;
  s.lif.smooth = mode == EDIT_SMOOTH;
  sl_net *net = NULL;
  CU_ASSERT_FATAL(sl_net_create(&net, &s) == SL_OK);
  CU_ASSERT_FATAL(sl_net_init_weights(net, 4.0, 5) == SL_OK);
  CU_ASSERT_FATAL(sl_net_enable_tau_grad(net, mode == EDIT_TAU) == SL_OK);
  return net;
}

/* The edits the library makes after a network exists: a mismatch draw
 * (fromconfig.c, ideal.c), a twin's fitted values written into the arrays
 * (fit.c), arrays replaced by a copy (ideal.c), and a single time constant. */
static void edit_neurons(sl_net *net)
{
  sl_mismatch_spec mm = {0.3, 0.3, 0.0, 0.0, 0.0, 0.0};
  CU_ASSERT_FATAL(sl_neurons_draw_mismatch(sl_net_neurons(net, 0), &mm, 11) == SL_OK);
  sl_neurons copy, *h1 = sl_net_neurons(net, 1);
  CU_ASSERT_FATAL(sl_neurons_copy(&copy, h1) == SL_OK);
  copy.tau_syn[2] *= 0.5f;
  sl_neurons_free(h1);
  CU_ASSERT_FATAL(sl_neurons_copy(h1, &copy) == SL_OK);
  sl_neurons_free(&copy);
  sl_neurons *ro = sl_net_neurons(net, 2);
  ro->tau_mem[1] *= 3.0f;
  ro->tau_syn[0] *= 2.0f;
}

/* Forward, backward and inference; out: readout membrane, gradients
 * (weights, then tau if on), logits. */
static void edit_pass(sl_net *net, const float *x, const float *gv, size_t T, size_t B,
                      net_result *r)
{
  const sl_net_spec *s = sl_net_get_spec(net);
  sl_net_zero_grad(net);
  CU_ASSERT_FATAL(sl_net_forward(net, x, T, B) == SL_OK);
  CU_ASSERT_FATAL(sl_net_backward(net, gv, NULL) == SL_OK);
  memset(r, 0, sizeof *r);
  r->n_out = T * B * s->n_out;
  r->out = fdup(sl_net_output(net), r->n_out);
  r->n_params = sl_net_num_params(net);
  r->grads = fdup(sl_net_grads(net), r->n_params);
  r->n_tau = 0;
  for (size_t l = 0; l <= s->n_layers; l++)
    r->n_tau += 2 * sl_net_neurons(net, l)->n;
  r->tau = falloc(r->n_tau);
  float *t = r->tau;
  for (size_t l = 0; l <= s->n_layers; l++) {
    float *dm, *ds;
    const size_t n = sl_net_neurons(net, l)->n;
    CU_ASSERT_FATAL(sl_net_tau_grad(net, l, &dm, &ds) == SL_OK);
    if (dm)
      memcpy(t, dm, n * sizeof(float)), memcpy(t + n, ds, n * sizeof(float));
    t += 2 * n;
  }
  r->n_states = B * s->n_out;
  r->states = falloc(r->n_states);
  CU_ASSERT_FATAL(sl_net_infer(net, x, T, B, r->states, NULL) == SL_OK);
}

static int same_result(const net_result *a, const net_result *b)
{
  return memcmp(a->out, b->out, a->n_out * sizeof(float)) == 0 &&
         memcmp(a->grads, b->grads, a->n_params * sizeof(float)) == 0 &&
         memcmp(a->tau, b->tau, a->n_tau * sizeof(float)) == 0 &&
         memcmp(a->states, b->states, a->n_states * sizeof(float)) == 0;
}

static void test_net_neurons_edited(void)
{
  const size_t T = 30, B = 5;
  rng_seed(77);
  float *x = falloc(T * B * 7), *gv = falloc(T * B * 3);
  fill_spikes(x, T * B * 7, 0.4);
  fill_uniform(gv, T * B * 3, -0.1, 0.1);
  for (int mode = EDIT_FUSED; mode <= EDIT_SMOOTH; mode++) {
    net_result before, after, fresh;
    sl_net *a = edit_test_net(mode), *b = edit_test_net(mode);
    edit_pass(a, x, gv, T, B, &before); /* a's decay factors are now cached */
    edit_neurons(a);
    edit_pass(a, x, gv, T, B, &after);
    edit_neurons(b); /* b never saw the old parameters */
    edit_pass(b, x, gv, T, B, &fresh);
    CU_ASSERT(same_result(&after, &fresh));
    CU_ASSERT(memcmp(before.out, after.out, before.n_out * sizeof(float)) != 0);
    CU_ASSERT(memcmp(before.states, after.states, before.n_states * sizeof(float)) != 0);
    net_result_free(&before), net_result_free(&after), net_result_free(&fresh);
    sl_net_free(a), sl_net_free(b);
  }
  free(x), free(gv);
}

/* ------------------------------------------------------------ W1 semantics */

/* WORKLOADS.md W1 hidden layer, written out independently:
 *   I[t] = alpha I[t-1] + h[t];  U[t] = (beta U[t-1] + I[t]) (1 - S[t-1]);
 *   S[t] = U[t] > theta,  all states zero at t = -1. */
static void w1_reference(const float *h, size_t T, size_t B, size_t N, float *u, float *s)
{
  const float alpha = 0.8187307531f, beta = 0.9048374180f, theta = 1.0f;
  for (size_t b = 0; b < B; b++)
    for (size_t n = 0; n < N; n++) {
      float I = 0.0f, U = 0.0f, S = 0.0f;
      for (size_t t = 0; t < T; t++) {
        size_t i = (t * B + b) * N + n;
        I = alpha * I + h[i];
        U = (beta * U + I) * (1.0f - S);
        S = U > theta ? 1.0f : 0.0f;
        u[i] = U;
        s[i] = S;
      }
    }
}

static void test_w1_semantics(void)
{
  const size_t T = 100, B = 4, N = 32, TBN = T * B * N;
  sl_neuron_nominal nom = {10e-3, 5e-3, 1.0, 0.0, 0.0, 1.0, 1};
  sl_neurons p;
  CU_ASSERT_FATAL(sl_neurons_alloc(&p, N, &nom) == SL_OK);
  sl_lif_options o = sl_lif_options_default();
  o.reset = SL_RESET_TO_VALUE;
  o.detach_reset = 1;
  o.scale_input = 0;
  o.smooth = 0;
  rng_seed(1234);
  float *h = falloc(TBN), *i_syn = falloc(TBN), *v = falloc(TBN), *s = falloc(TBN);
  float *u_ref = falloc(TBN), *s_ref = falloc(TBN);
  uint8_t *clamp = calloc(TBN, 1);
  fill_uniform(h, TBN, -0.25, 0.35);
  w1_reference(h, T, B, N, u_ref, s_ref);
  CU_ASSERT_FATAL(sl_lif_forward(&p, &o, 1e-3, T, B, NULL, h, i_syn, v, s, clamp) == SL_OK);
  size_t spike_diff = 0, spikes = 0;
  for (size_t i = 0; i < TBN; i++) {
    spike_diff += s[i] != s_ref[i];
    spikes += s_ref[i] != 0.0f;
  }
  double dv = sl_test_max_rel_diff(v, u_ref, TBN, 1.0);
  printf("\n    W1 semantics: %zu reference spikes (%.1f%%), %zu differ; membrane max diff %.3g ",
         spikes, 100.0 * spikes / TBN, spike_diff, dv);
  CU_ASSERT(spikes > TBN / 100 && spikes < TBN / 2);
  CU_ASSERT(spike_diff == 0);
  CU_ASSERT(dv < 1e-6);
  sl_neurons_free(&p);
  free(h), free(i_syn), free(v), free(s), free(u_ref), free(s_ref), free(clamp);
}

/* ------------------------------------------------------------ bad input */

typedef int (*fwd_fn)(const sl_neurons *, const sl_lif_options *, double, size_t, size_t,
                      const float *, float *, float *, float *, float *, uint8_t *);
typedef int (*bwd_fn)(const sl_neurons *, const sl_lif_options *, double, size_t, size_t,
                      const float *, const float *, const float *, const float *,
                      const uint8_t *, float *, const float *, float *, float *, float *,
                      float *);

enum { BUF = 64 };
static float bh[BUF], bi[BUF], bv[BUF], bs[BUF], bg[BUF], bgh[BUF];
static uint8_t bc[BUF];

/* Both fast and reference forward and backward reject the arguments. */
static void expect_einval(const char *what, const sl_neurons *p, const sl_lif_options *o,
                          double dt, size_t T, size_t B)
{
  const fwd_fn fwd[2] = {sl_lif_forward, sl_lif_forward_ref};
  const bwd_fn bwd[2] = {sl_lif_backward, sl_lif_backward_ref};
  int ok = 1;
  for (int k = 0; k < 2; k++) {
    sl_clear_error();
    int rc = fwd[k](p, o, dt, T, B, NULL, bh, bi, bv, bs, bc);
    int good = rc == SL_EINVAL && sl_last_error()[0] != '\0';
    sl_clear_error();
    int rc2 = bwd[k](p, o, dt, T, B, NULL, bi, bv, bs, bc, bg, NULL, bgh, NULL, NULL, NULL);
    good = good && rc2 == SL_EINVAL && sl_last_error()[0] != '\0';
    if (!good)
      printf("\n    %s (%s): forward rc %d, backward rc %d, message '%s'", what,
             k ? "ref" : "fast", rc, rc2, sl_last_error());
    ok &= good;
  }
  CU_ASSERT(ok);
}

static void test_bad_input(void)
{
  sl_neurons p;
  CU_ASSERT_FATAL(sl_neurons_alloc(&p, 4, NULL) == SL_OK);
  sl_lif_options o = sl_lif_options_default();
  /* the valid call works, so the failures below are due to the one change */
  CU_ASSERT(sl_lif_forward(&p, &o, 1e-3, 2, 2, NULL, bh, bi, bv, bs, bc) == SL_OK);
  CU_ASSERT(sl_lif_forward_ref(&p, &o, 1e-3, 2, 2, NULL, bh, bi, bv, bs, bc) == SL_OK);
  expect_einval("T = 0", &p, &o, 1e-3, 0, 2);
  expect_einval("B = 0", &p, &o, 1e-3, 2, 0);
  expect_einval("dt = 0", &p, &o, 0.0, 2, 2);
  expect_einval("dt < 0", &p, &o, -1e-3, 2, 2);
  expect_einval("dt = NaN", &p, &o, NAN, 2, 2);
  sl_lif_options bad = o;
  bad.surrogate = NULL;
  expect_einval("NULL surrogate", &p, &bad, 1e-3, 2, 2);
  bad = o;
  bad.reset = 7;
  expect_einval("unknown reset mode", &p, &bad, 1e-3, 2, 2);
  bad = o;
  bad.smooth = 1;
  CU_ASSERT(sl_lif_forward(&p, &bad, 1e-3, 2, 2, NULL, bh, bi, bv, bs, bc) == SL_OK);
  p.refrac[2] = 1;
  expect_einval("smooth with refrac > 0", &p, &bad, 1e-3, 2, 2);
  sl_neurons_free(&p);

  /* non-finite network input */
  sl_net_spec s = sl_net_spec_default();
  s.n_in = 3;
  s.n_hidden[0] = 5;
  s.n_out = 2;
  sl_net *net = NULL;
  CU_ASSERT_FATAL(sl_net_create(&net, &s) == SL_OK);
  CU_ASSERT_FATAL(sl_net_init_weights(net, 1.0, 1) == SL_OK);
  float x[4 * 2 * 3] = {0};
  CU_ASSERT(sl_net_forward(net, x, 4, 2) == SL_OK);
  x[17] = NAN;
  sl_clear_error();
  CU_ASSERT(sl_net_forward(net, x, 4, 2) == SL_ENUMERIC);
  CU_ASSERT(sl_last_error()[0] != '\0');
  x[17] = INFINITY;
  CU_ASSERT(sl_net_forward(net, x, 4, 2) == SL_ENUMERIC);
  x[17] = 0.0f;
  sl_clear_error();
  CU_ASSERT(sl_net_forward(net, x, 0, 2) == SL_EINVAL);
  CU_ASSERT(sl_last_error()[0] != '\0');
  CU_ASSERT(sl_net_forward(net, x, 4, 0) == SL_EINVAL);
  sl_net_free(net);
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"matmul, 0/1 input, bit-identical", test_matmul_sparse},
      {"matmul, dense input, bit-identical", test_matmul_dense},
      {"matmul_tn_acc, 0/1 input, bit-identical", test_matmul_tn_sparse},
      {"matmul_tn_acc, dense input, bit-identical", test_matmul_tn_dense},
      {"matmul_nt (CBLAS) within 1e-5", test_matmul_nt},
      {"LIF forward/backward fast vs reference", test_lif_fast_vs_ref},
      {"network result independent of thread count", test_thread_independence},
      {"network fast vs reference kernels", test_net_reference},
      {"W1 (WORKLOADS.md) semantics", test_w1_semantics},
      {"event-driven products vs dense reference, bit-identical", test_events},
      {"dense row products (recurrent back-projection), bit-identical", test_dense_rows},
      {"spike-list input: identical to the dense raster", test_net_spike_input},
      {"fused hidden-layer backward vs reference and unfused", test_net_fused_backward},
      {"tau gradients need the currents kept", test_net_currents_needed},
      {"LI backward, parallel path without tau gradients", test_li_backward_paths},
      {"inference path vs forward, bit-identical", test_infer},
      {"edited neurons: the next pass uses them", test_net_neurons_edited},
      {"bad input", test_bad_input},
      {NULL, NULL}};
  return sl_test_run("kernels", cases);
}
