/* test_loop.c -- training in the loop: injection of measurements into the
 * host model, weight quantisation, the conversion of observations (time
 * bins, membrane interpolation and normalisation), and the trainer driving
 * a backend.
 *
 * The ideal backend measures exactly what the model computes, so with it
 * the injected forward and backward must reproduce the plain simulation.
 * A scripted backend defined here returns hand-made observations to check
 * the conversion rules of loop.h one by one.
 */
#include "config.h"
#include "spikeloop/spikeloop.h"
#include "testutil.h"

#include <string.h>

static sl_net *small_net(int recurrent)
{
  sl_net_spec s = sl_net_spec_default();
  s.n_in = 6;
  s.n_out = 3;
  s.n_layers = 2;
  s.n_hidden[0] = 10;
  s.n_hidden[1] = 8;
  s.recurrent[1] = recurrent;
  s.hidden.refrac = 0;
  sl_net *net = NULL;
  CU_ASSERT_FATAL(sl_net_create(&net, &s) == SL_OK);
  sl_mismatch_spec mm = {0.2, 0.2, 0.2, 0.0, 0.0, 0.1};
  for (size_t l = 0; l < 3; l++)
    CU_ASSERT_FATAL(sl_neurons_draw_mismatch(sl_net_neurons(net, l), &mm, 3 + l) == SL_OK);
  CU_ASSERT_FATAL(sl_net_init_weights(net, 3.0, 17) == SL_OK);
  return net;
}

static float *random_raster(size_t T, size_t B, size_t n, unsigned seed)
{
  float *x = calloc(T * B * n, sizeof(float));
  for (size_t i = 0; i < T * B * n; i++) {
    seed = seed * 1103515245u + 12345u;
    x[i] = ((seed >> 16) % 100) < 25 ? 1.0f : 0.0f;
  }
  return x;
}

/* Loss + backward on the current states; returns a copy of the gradients. */
static float *grads_after_backward(sl_net *net, size_t T, size_t B, const int32_t *y)
{
  const sl_net_spec *s = sl_net_get_spec(net);
  float *gv = calloc(T * B * s->n_out, sizeof(float));
  double loss;
  CU_ASSERT_FATAL(sl_loss_ce(SL_LOSS_MAX, T, B, s->n_out, sl_net_output(net), y, 0.0, &loss, gv,
                             NULL, NULL) == SL_OK);
  sl_net_zero_grad(net);
  CU_ASSERT_FATAL(sl_net_backward(net, gv, NULL) == SL_OK);
  size_t n = sl_net_num_params(net);
  float *g = malloc(n * sizeof(float));
  memcpy(g, sl_net_grads(net), n * sizeof(float));
  free(gv);
  return g;
}

/* Injecting what the ideal backend measured gives the model's own forward
 * and gradient. */
static void check_injection(int recurrent)
{
  const size_t T = 25, B = 4;
  sl_net *net = small_net(recurrent);
  float *x = random_raster(T, B, 6, 99);
  int32_t y[4] = {0, 1, 2, 1};
  CU_ASSERT_FATAL(sl_net_forward(net, x, T, B) == SL_OK);
  size_t nout = T * B * 3;
  float *v_plain = malloc(nout * sizeof(float));
  memcpy(v_plain, sl_net_output(net), nout * sizeof(float));
  float *g_plain = grads_after_backward(net, T, B, y);
  sl_layer_state st;
  sl_net_state(net, 0, &st);
  double spikes = 0;
  for (size_t i = 0; i < T * B * st.N; i++)
    spikes += st.s[i];

  sl_backend_setup setup;
  sl_hw *hw = NULL;
  sl_loop *loop = NULL;
  CU_ASSERT_FATAL(sl_loop_setup(net, NULL, NULL, T, B, &setup) == SL_OK);
  CU_ASSERT_FATAL(sl_hw_open(&hw, "ideal", &setup) == SL_OK);
  CU_ASSERT_FATAL(sl_loop_create(&loop, net, hw) == SL_OK);
  CU_ASSERT_FATAL(sl_loop_forward(loop, x, T, B) == SL_OK);
  double dv = sl_test_max_rel_diff(sl_net_output(net), v_plain, nout, 1.0);
  float *g_loop = grads_after_backward(net, T, B, y);
  double dg = sl_test_max_rel_diff(g_loop, g_plain, sl_net_num_params(net), 1e-3);
  printf("\n    %s: %.0f hidden spikes, readout max rel diff %.2e, gradient max rel diff %.2e ",
         recurrent ? "recurrent" : "feed-forward", spikes, dv, dg);
  CU_ASSERT(spikes > 10);
  CU_ASSERT(dv < 1e-5);
  CU_ASSERT(dg < 1e-4);
  sl_loop_free(loop);
  sl_hw_close(hw);
  sl_net_free(net);
  free(x), free(v_plain), free(g_plain), free(g_loop);
}

static void test_injection_ff(void) { check_injection(0); }
static void test_injection_recurrent(void) { check_injection(1); }

/* ------------------------------------------------------------ scripted backend */

/* Holds written weights; each run returns the spikes and samples set up by
 * the test. 63 weight levels, ADC-like units (gain 50, baseline 100),
 * 1000x time scale, samples every 1.7 model steps. */
typedef struct {
  sl_backend_setup setup;
  float w[4][64 * 64];
  size_t n_total;
} scripted_state;

static const double SCRIPT_GAIN = 50.0, SCRIPT_BASE = 100.0, SCRIPT_TS = 1e-3, SCRIPT_P = 1.7;

static int sc_open(void *st, const sl_backend_setup *s)
{
  scripted_state *ss = st;
  ss->setup = *s;
  ss->n_total = 0;
  for (size_t l = 0; l <= s->n_layers; l++)
    ss->n_total += s->size[l];
  return SL_OK;
}
static void sc_close(void *st) { (void)st; }
static int sc_caps(void *st, sl_backend_caps *c)
{
  scripted_state *ss = st;
  memset(c, 0, sizeof *c);
  c->max_neurons = 1000;
  c->max_fan_in = 1000;
  c->weight_levels = 63;
  c->sample_period = SCRIPT_P * ss->setup.dt * SCRIPT_TS;
  c->time_scale = SCRIPT_TS;
  c->membrane_gain = SCRIPT_GAIN;
  c->membrane_units = "adc";
  c->observables = SL_OBS_SPIKES | SL_OBS_MEMBRANE;
  return SL_OK;
}
static int sc_write(void *st, size_t layer, int which, const float *w, size_t rows, size_t cols)
{
  scripted_state *ss = st;
  if (which || rows * cols > 64 * 64)
    return sl_error(SL_EINVAL, "scripted: unexpected weights");
  memcpy(ss->w[layer], w, rows * cols * sizeof(float));
  return SL_OK;
}
/* Membrane of global neuron g in sample b at hardware time t: a ramp
 * baseline + gain * (g + 1) * t / (dt_hw), so the model value at step k is
 * v_leak + (g + 1) * (k + 1). One spike: neuron 0 of sample 1 at
 * hardware time 2.5 dt_hw (step 2); neuron 1 at exactly 3 dt_hw (step 2). */
static int sc_run(void *st, const float *x, size_t T, size_t B, sl_observations *o)
{
  scripted_state *ss = st;
  (void)x;
  const double dt_hw = ss->setup.dt * SCRIPT_TS, period = SCRIPT_P * dt_hw;
  size_t n_samples = (size_t)(T * dt_hw / period) + 2;
  int rc = sl_obs_reset(o, B, ss->n_total, n_samples);
  if (rc)
    return rc;
  o->sample_t0 = 0.0;
  o->sample_period = period;
  for (size_t j = 0; j < n_samples; j++)
    for (size_t b = 0; b < B; b++)
      for (size_t g = 0; g < ss->n_total; g++)
        o->membrane[(j * B + b) * ss->n_total + g] =
            (float)(SCRIPT_BASE + SCRIPT_GAIN * (double)(g + 1) * (j * period) / dt_hw);
  if (B > 1) {
    sl_obs_add_spike(o, 1, 0, 2.5 * dt_hw);
    sl_obs_add_spike(o, 1, 1, 3.0 * dt_hw);
  }
  return SL_OK;
}
static const sl_backend scripted = {SL_BACKEND_VERSION, "scripted", "test", sizeof(scripted_state),
                                    sc_open, sc_close, sc_caps, sc_write, sc_run, NULL};

static void test_conversion(void)
{
  CU_ASSERT_FATAL(sl_backend_register(&scripted) == SL_OK);
  sl_net *net = small_net(0);
  const size_t T = 6, B = 2;
  sl_backend_setup setup;
  sl_hw *hw = NULL;
  sl_loop *loop = NULL;
  double w_unit[3] = {0.05, 0.05, 0.01};
  CU_ASSERT_FATAL(sl_loop_setup(net, w_unit, NULL, T, B, &setup) == SL_OK);
  CU_ASSERT_FATAL(sl_hw_open(&hw, "scripted", &setup) == SL_OK);
  CU_ASSERT_FATAL(sl_loop_create(&loop, net, hw) == SL_OK);
  float *x = random_raster(T, B, 6, 5);
  CU_ASSERT_FATAL(sl_loop_forward(loop, x, T, B) == SL_OK);
  /* spikes: both land in step 2 of sample 1, nothing else */
  sl_layer_state st;
  sl_net_state(net, 0, &st);
  double total = 0;
  for (size_t i = 0; i < T * B * st.N; i++)
    total += st.s[i];
  CU_ASSERT_EQUAL(total, 2.0);
  CU_ASSERT_EQUAL(st.s[(2 * B + 1) * st.N + 0], 1.0f);
  CU_ASSERT_EQUAL(st.s[(2 * B + 1) * st.N + 1], 1.0f);
  /* membrane: v_leak + (g + 1)(k + 1), interpolated between samples 1.7 steps apart */
  double worst = 0;
  size_t g = 0;
  for (size_t l = 0; l < 3; l++) {
    sl_net_state(net, l, &st);
    const sl_neurons *p = sl_net_neurons(net, l);
    for (size_t k = 0; k < T; k++)
      for (size_t b = 0; b < B; b++)
        for (size_t n = 0; n < st.N; n++) {
          double want = p->v_leak[n] + (double)(g + n + 1) * (double)(k + 1);
          double got = st.v[(k * B + b) * st.N + n];
          if (fabs(got - want) > worst)
            worst = fabs(got - want);
        }
    g += st.N;
  }
  printf("\n    membrane conversion max abs error %.2e ", worst);
  CU_ASSERT(worst < 1e-3);
  free(x);
  sl_loop_free(loop);
  sl_hw_close(hw);
  sl_net_free(net);
}

/* The master weights are quantised to 63 levels of w_unit, clipped, written, and the
 * model gets the quantised values. */
static void test_quantisation(void)
{
  CU_ASSERT_FATAL(sl_backend_register(&scripted) == SL_OK);
  sl_net *net = small_net(0);
  sl_backend_setup setup;
  sl_hw *hw = NULL;
  sl_loop *loop = NULL;
  double w_unit[3] = {0.05, 0.05, 0.01};
  CU_ASSERT_FATAL(sl_loop_setup(net, w_unit, NULL, 5, 2, &setup) == SL_OK);
  CU_ASSERT_FATAL(sl_hw_open(&hw, "scripted", &setup) == SL_OK);
  CU_ASSERT_FATAL(sl_loop_create(&loop, net, hw) == SL_OK);
  float *master = sl_net_master(net);
  master[0] = 0.123f;  /* 2.46 units -> 2 */
  master[1] = -0.126f; /* -2.52 -> -3 */
  master[2] = 10.0f;   /* 200 -> clipped to 63 */
  size_t clipped = 0;
  CU_ASSERT_FATAL(sl_loop_sync_weights(loop, &clipped) == SL_OK);
  CU_ASSERT(clipped >= 1);
  const float *p = sl_net_params(net);
  CU_ASSERT_DOUBLE_EQUAL(p[0], 0.10, 1e-6);
  CU_ASSERT_DOUBLE_EQUAL(p[1], -0.15, 1e-6);
  CU_ASSERT_DOUBLE_EQUAL(p[2], 63 * 0.05, 1e-5);
  CU_ASSERT(master[2] == 10.0f); /* the master keeps its value */
  /* every model weight is an integer multiple of its layer's unit, within +-63 */
  int all_ok = 1;
  for (size_t i = 0; i < sl_net_num_tensors(net); i++) {
    sl_tensor t;
    sl_net_tensor(net, i, &t);
    for (size_t j = 0; j < t.rows * t.cols; j++) {
      double u = t.data[j] / w_unit[t.layer_index];
      if (fabs(u - rint(u)) > 1e-3 || fabs(u) > 63.0 + 1e-3)
        all_ok = 0;
    }
  }
  CU_ASSERT(all_ok);
  master[3] = NAN;
  CU_ASSERT(sl_loop_sync_weights(loop, NULL) == SL_ENUMERIC);
  sl_loop_free(loop);
  sl_hw_close(hw);
  sl_net_free(net);
}

/* A whole run through the backend interface with the ideal backend learns
 * like the plain simulator. */
static void test_trainer_in_the_loop(void)
{
  sl_config c;
  sl_config_defaults(&c);
  sl_config_set(&c, "data.n_train", "400");
  sl_config_set(&c, "data.n_val", "0");
  sl_config_set(&c, "data.n_test", "200");
  sl_config_set(&c, "net.hidden", "30");
  sl_config_set(&c, "train.batch", "20");
  sl_config_set(&c, "train.epochs", "10");
  sl_config_set(&c, "train.lr", "0.005");
  sl_dataset train = {0}, test = {0};
  sl_encoder enc;
  CU_ASSERT_FATAL(sl_data_from_config(&c, &train, NULL, &test) == SL_OK);
  CU_ASSERT_FATAL(sl_encoder_from_config(&c, &enc) == SL_OK);
  double acc[2];
  float *final_w[2] = {NULL, NULL};
  size_t n_params = 0;
  for (int use_loop = 0; use_loop < 2; use_loop++) {
    sl_net *net = NULL;
    sl_trainer *tr = NULL;
    sl_hw *hw = NULL;
    sl_loop *loop = NULL;
    CU_ASSERT_FATAL(sl_net_from_config(&net, &c, 5, 3) == SL_OK);
    CU_ASSERT_FATAL(sl_trainer_create(&tr, net, &c) == SL_OK);
    if (use_loop) {
      strcpy(c.backend, "ideal");
      CU_ASSERT_FATAL(sl_hw_from_config(&hw, &loop, &c, net, enc.t_steps, 20) == SL_OK);
      CU_ASSERT_FATAL(sl_trainer_set_loop(tr, loop) == SL_OK);
    }
    size_t D = sl_encoder_out_dim(&enc, 4);
    float *raster = malloc(enc.t_steps * 20 * D * sizeof(float));
    for (int e = 0; e < 10; e++)
      for (size_t start = 0; start + 20 <= train.n; start += 20) {
        CU_ASSERT_FATAL(sl_encode(&enc, train.x + start * 4, 20, 4, NULL, 0, raster) == SL_OK);
        CU_ASSERT_FATAL(sl_trainer_step(tr, raster, train.y + start, enc.t_steps, 20, NULL) ==
                        SL_OK);
      }
    sl_eval_result r;
    int rc = use_loop ? sl_evaluate_loop(loop, &enc, &test, 20, SL_LOSS_MAX, &r)
                      : sl_evaluate(net, &enc, &test, 20, SL_LOSS_MAX, &r);
    CU_ASSERT_FATAL(rc == SL_OK);
    acc[use_loop] = r.accuracy;
    n_params = sl_net_num_params(net);
    final_w[use_loop] = malloc(n_params * sizeof(float));
    memcpy(final_w[use_loop], sl_net_params(net), n_params * sizeof(float));
    free(raster);
    sl_trainer_free(tr);
    sl_loop_free(loop);
    sl_hw_close(hw);
    sl_net_free(net);
  }
  double dw = sl_test_max_rel_diff(final_w[1], final_w[0], n_params, 1e-2);
  printf("\n    accuracy plain %.3f, through the ideal backend %.3f; final weights max rel "
         "diff %.2e ", acc[0], acc[1], dw);
  CU_ASSERT(acc[0] > 0.45); /* chance is 1/3 */
  CU_ASSERT(fabs(acc[0] - acc[1]) < 0.02);
  CU_ASSERT(dw < 1e-3);
  free(final_w[0]), free(final_w[1]);
  sl_dataset_free(&train);
  sl_dataset_free(&test);
}

static void test_bad_backend(void)
{
  sl_net *net = small_net(0);
  sl_backend_setup setup;
  sl_hw *hw = NULL;
  CU_ASSERT_FATAL(sl_loop_setup(net, NULL, NULL, 5, 2, &setup) == SL_OK);
  CU_ASSERT(sl_hw_open(&hw, "no-such-chip", &setup) == SL_ENOTFOUND);
  CU_ASSERT(strstr(sl_last_error(), "ideal") != NULL); /* lists what is available */
  setup.dt = 0;
  CU_ASSERT(sl_hw_open(&hw, "ideal", &setup) == SL_EINVAL);
  CU_ASSERT(hw == NULL);
  sl_net_free(net);
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"injection reproduces the model (feed-forward)", test_injection_ff},
      {"injection reproduces the model (recurrent)", test_injection_recurrent},
      {"observations -> time bins and normalised membrane", test_conversion},
      {"weights are quantised, clipped and written", test_quantisation},
      {"trainer in the loop with the ideal backend", test_trainer_in_the_loop},
      {"unknown backend and bad setup", test_bad_backend},
      {NULL, NULL}};
  return sl_test_run("loop", cases);
}
