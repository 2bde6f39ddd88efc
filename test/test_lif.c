/* test_lif.c -- the LIF and LI kernels (lib/core/lif.c, the fused layer
 * lib/core/lif_layer.c) against their reference twins.
 *
 * The fast kernels promise the reference's floating-point operation order,
 * so most comparisons are memcmp: bit for bit, not "close". The exception:
 * dw_rec is summed over t in the other direction by the fast backward, and
 * the tau gradients are summed per sample first: 1e-5, relative to the
 * largest element (normwise), since single elements may cancel to near zero.
 * Also checked: the LIF semantics of benchmark W1 (WORKLOADS.md) against an
 * independent implementation written here, and argument errors.
 */
#include "config.h"
#include "spikeloop/error.h"
#include "spikeloop/lif.h"
#include "spikeloop/neurons.h"

#include <stdint.h>
#include <string.h>

#include "fixtures.h"
#include "testutil.h"

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
  sl_test_seed(1000 + seed);
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
  float *h = sl_test_falloc(TBN);
  sl_test_fill_uniform(h, TBN, -0.6 * amp, amp);
  float *w_rec = NULL;
  if (c->recurrent) {
    w_rec = sl_test_falloc(N * N);
    sl_test_fill_uniform(w_rec, N * N, -0.5 * amp, 0.25 * amp); /* mostly inhibitory */
  }
  float *h1 = sl_test_fdup(h, TBN), *h2 = sl_test_fdup(h, TBN);
  float *i1 = sl_test_falloc(TBN), *v1 = sl_test_falloc(TBN), *s1 = sl_test_falloc(TBN);
  float *i2 = sl_test_falloc(TBN), *v2 = sl_test_falloc(TBN), *s2 = sl_test_falloc(TBN);
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
  float *gs = sl_test_falloc(TBN), *gv_ext = NULL;
  sl_test_fill_uniform(gs, TBN, -1.0, 1.0);
  if (c->gv_ext) {
    gv_ext = sl_test_falloc(TBN);
    sl_test_fill_uniform(gv_ext, TBN, -0.5, 0.5);
  }
  float *gs1 = sl_test_fdup(gs, TBN), *gs2 = sl_test_fdup(gs, TBN);
  float *gh1 = sl_test_falloc(TBN), *gh2 = sl_test_falloc(TBN);
  float *dwr1 = NULL, *dwr2 = NULL;
  if (c->recurrent) {
    dwr1 = sl_test_falloc(N * N);
    sl_test_fill_uniform(dwr1, N * N, -0.1, 0.1); /* accumulated onto */
    dwr2 = sl_test_fdup(dwr1, N * N);
  }
  float *dm1 = sl_test_falloc(N), *ds1 = sl_test_falloc(N);
  sl_test_fill_uniform(dm1, N, -1.0, 1.0);
  sl_test_fill_uniform(ds1, N, -1.0, 1.0);
  float *dm2 = sl_test_fdup(dm1, N), *ds2 = sl_test_fdup(ds1, N), *dm0 = sl_test_fdup(dm1, N);
  CU_ASSERT_FATAL(sl_lif_backward(&p, &o, dt, T, B, w_rec, i1, v1, s1, c1, gs1, gv_ext, gh1, dwr1,
                                  dm1, ds1) == SL_OK);
  CU_ASSERT_FATAL(sl_lif_backward_ref(&p, &o, dt, T, B, w_rec, i2, v2, s2, c2, gs2, gv_ext, gh2,
                                      dwr2, dm2, ds2) == SL_OK);
  /* again without tau gradients (and dw_rec): for Heaviside spikes with
   * the SuperSpike surrogate this is the vectorised fast path */
  float *gs3 = sl_test_fdup(gs, TBN), *gh3 = sl_test_falloc(TBN);
  CU_ASSERT_FATAL(sl_lif_backward(&p, &o, dt, T, B, w_rec, i1, v1, s1, c1, gs3, gv_ext, gh3, NULL,
                                  NULL, NULL) == SL_OK);
  int bwd_same = memcmp(gh1, gh2, TBN * sizeof(float)) == 0 &&
                 memcmp(gh3, gh2, TBN * sizeof(float)) == 0 &&
                 memcmp(gs3, gs1, TBN * sizeof(float)) == 0;
  free(gs3), free(gh3);
  CU_ASSERT(sl_test_max_abs(gh2, TBN) > 0.0);
  double e_rec = c->recurrent ? sl_test_normwise_rel_diff(dwr1, dwr2, N * N) : 0.0;
  double e_m = sl_test_normwise_rel_diff(dm1, dm2, N), e_s = sl_test_normwise_rel_diff(ds1, ds2, N);
  if (e_rec > tally->dw_rec)
    tally->dw_rec = e_rec;
  if (e_m > tally->dtau_mem)
    tally->dtau_mem = e_m;
  if (e_s > tally->dtau_syn)
    tally->dtau_syn = e_s;
  /* tau gradients were accumulated, not overwritten, and are not zero */
  int tau_moved = sl_test_normwise_rel_diff(dm2, dm0, N) > 1e-3;
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

/* ------------------------------------------------------------ LI readout */

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
  sl_test_seed(4711);
  float *h = sl_test_falloc(TBN), *i_syn = sl_test_falloc(TBN), *v = sl_test_falloc(TBN), *gv = sl_test_falloc(TBN);
  float *gh1 = sl_test_falloc(TBN), *gh2 = sl_test_falloc(TBN), *dm = sl_test_falloc(N), *ds = sl_test_falloc(N);
  sl_test_fill_uniform(h, TBN, -1.0, 1.0);
  sl_test_fill_uniform(gv, TBN, -0.1, 0.1);
  CU_ASSERT_FATAL(sl_li_forward(&p, 0, 1e-3, T, B, h, i_syn, v) == SL_OK);
  CU_ASSERT_FATAL(sl_li_backward(&p, 0, 1e-3, T, B, i_syn, v, gv, gh1, dm, ds) == SL_OK);
  CU_ASSERT_FATAL(sl_li_backward(&p, 0, 1e-3, T, B, i_syn, v, gv, gh2, NULL, NULL) == SL_OK);
  int same = memcmp(gh1, gh2, TBN * sizeof(float)) == 0;
  printf("\n    LI backward with / without tau gradients: gh %s ", same ? "identical" : "DIFFERS");
  CU_ASSERT(same);
  CU_ASSERT(sl_test_max_abs(gh1, TBN) > 0.0);
  sl_neurons_free(&p);
  free(h), free(i_syn), free(v), free(gv), free(gh1), free(gh2), free(dm), free(ds);
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
  sl_test_seed(1234);
  float *h = sl_test_falloc(TBN), *i_syn = sl_test_falloc(TBN), *v = sl_test_falloc(TBN), *s = sl_test_falloc(TBN);
  float *u_ref = sl_test_falloc(TBN), *s_ref = sl_test_falloc(TBN);
  uint8_t *clamp = calloc(TBN, 1);
  sl_test_fill_uniform(h, TBN, -0.25, 0.35);
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
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"LIF forward/backward fast vs reference", test_lif_fast_vs_ref},
      {"W1 (WORKLOADS.md) semantics", test_w1_semantics},
      {"LI backward, parallel path without tau gradients", test_li_backward_paths},
      {"bad input", test_bad_input},
      {NULL, NULL}};
  return sl_test_run_paths("lif", cases);
}
