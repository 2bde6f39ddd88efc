/* test_lif_grad.c -- backpropagation through time checked against finite
 * differences.
 *
 * The forward spike is replaced by the surrogate's antiderivative
 * (smooth = 1), so the loss is a smooth function of every weight and time
 * constant and its exact gradient is what backward computes. Central
 * differences in float32 carry rounding noise, so two figures are checked:
 * the relative error of the whole gradient vector (norm of the difference
 * over norm of the gradient) and the worst element among those that are
 * not tiny. The readout path is also checked with Heaviside spikes, where
 * it is exact too. Every check prints its max relative error.
 */
#include "config.h"
#include "spikeloop/spikeloop.h"
#include "testutil.h"

#include <string.h>

typedef struct {
  size_t T, B, n_in, n_out, layers, hidden;
  int recurrent, reset, scale_input, smooth, detach, loss_kind;
  const char *surrogate;
  double reg_spikes, reg_amp;
} case_t;

typedef struct {
  sl_net *net;
  float *x, *gv;
  int32_t *y;
  case_t c;
} fixture;

static void fixture_make(fixture *f, case_t c)
{
  memset(f, 0, sizeof *f);
  f->c = c;
  sl_net_spec s = sl_net_spec_default();
  s.n_in = c.n_in;
  s.n_out = c.n_out;
  s.n_layers = c.layers;
  for (size_t l = 0; l < c.layers; l++) {
    s.n_hidden[l] = c.hidden;
    s.recurrent[l] = c.recurrent;
  }
  s.dt = 1e-3;
  s.hidden.tau_mem = 8e-3;
  s.hidden.tau_syn = 4e-3;
  s.hidden.v_reset = -0.2;
  s.readout.tau_mem = 6e-3;
  s.readout.tau_syn = 3e-3;
  s.lif.reset = c.reset;
  s.lif.detach_reset = c.detach;
  s.lif.scale_input = c.scale_input;
  s.lif.smooth = c.smooth;
  s.lif.surrogate = sl_surrogate_find(c.surrogate);
  s.lif.beta = 4.0;
  s.readout_scale_input = c.scale_input;
  CU_ASSERT_FATAL(sl_net_create(&f->net, &s) == SL_OK);
  sl_mismatch_spec mm = {0.2, 0.2, 0.1, 0.05, 0.0, 0.1};
  for (size_t l = 0; l <= c.layers; l++)
    CU_ASSERT_FATAL(sl_neurons_draw_mismatch(sl_net_neurons(f->net, l), &mm, 11 + l) == SL_OK);
  double scale = c.scale_input ? 12.0 : 2.0;
  CU_ASSERT_FATAL(sl_net_init_weights(f->net, scale, 5) == SL_OK);
  f->x = calloc(c.T * c.B * c.n_in, sizeof(float));
  f->gv = calloc(c.T * c.B * c.n_out, sizeof(float));
  f->y = calloc(c.B, sizeof(int32_t));
  unsigned st = 12345;
  for (size_t i = 0; i < c.T * c.B * c.n_in; i++) {
    st = st * 1103515245u + 12345u;
    f->x[i] = ((st >> 16) % 100) < 30 ? 1.0f : 0.0f;
  }
  for (size_t b = 0; b < c.B; b++)
    f->y[b] = (int32_t)(b % c.n_out);
}

static void fixture_free(fixture *f)
{
  sl_net_free(f->net);
  free(f->x), free(f->gv), free(f->y);
}

/* Loss of the current weights; if grad, also run backward (grads zeroed first). */
static double loss_of(fixture *f, int grad)
{
  const case_t *c = &f->c;
  double loss = 0.0, reg = 0.0;
  CU_ASSERT_FATAL(sl_net_forward(f->net, f->x, c->T, c->B) == SL_OK);
  CU_ASSERT_FATAL(sl_loss_ce(c->loss_kind, c->T, c->B, c->n_out, sl_net_output(f->net), f->y,
                             c->reg_amp, &loss, f->gv, NULL, NULL) == SL_OK);
  float *extra[SL_MAX_LAYERS] = {NULL};
  for (size_t l = 0; l < c->layers && c->reg_spikes > 0; l++) {
    sl_layer_state st;
    CU_ASSERT_FATAL(sl_net_state(f->net, l, &st) == SL_OK);
    extra[l] = calloc(c->T * c->B * c->hidden, sizeof(float));
    double r = 0.0;
    CU_ASSERT_FATAL(sl_reg_spike_count(c->T, c->B, c->hidden, st.s, c->reg_spikes, &r,
                                       extra[l]) == SL_OK);
    reg += r;
  }
  if (grad) {
    sl_net_zero_grad(f->net);
    CU_ASSERT_FATAL(sl_net_backward(f->net, f->gv, (const float *const *)extra) == SL_OK);
  }
  for (size_t l = 0; l < SL_MAX_LAYERS; l++)
    free(extra[l]);
  return loss + reg;
}

/* Central difference of the loss in *p, Richardson-extrapolated over the
 * steps h and h/2 (cancels the h^2 term). */
static double fd_derivative(fixture *f, float *p, float h)
{
  const float p0 = *p;
  double d[2];
  for (int k = 0; k < 2; k++) {
    float hk = k ? h / 2 : h;
    *p = p0 + hk;
    double lp = loss_of(f, 0);
    float up = *p;
    *p = p0 - hk;
    double lm = loss_of(f, 0);
    float dn = *p;
    *p = p0;
    d[k] = (lp - lm) / ((double)up - (double)dn);
  }
  return (4.0 * d[1] - d[0]) / 3.0;
}

/* Compare analytic and central-difference gradients of every weight.
 * Returns the max element relative error over non-tiny elements. */
static double check_weights(fixture *f, const char *label, double tol_norm, double tol_elem)
{
  size_t n = sl_net_num_params(f->net);
  float *w = sl_net_params(f->net);
  loss_of(f, 1);
  float *g = malloc(n * sizeof(float));
  memcpy(g, sl_net_grads(f->net), n * sizeof(float));
  double *fd = malloc(n * sizeof(double));
  double gmax = 0.0;
  for (size_t i = 0; i < n; i++) {
    float h = 1e-2f * (fabsf(w[i]) > 0.1f ? fabsf(w[i]) : 0.1f);
    fd[i] = fd_derivative(f, &w[i], h);
    if (fabs(g[i]) > gmax)
      gmax = fabs(g[i]);
  }
  double num = 0.0, den = 0.0, worst = 0.0;
  for (size_t i = 0; i < n; i++) {
    num += (fd[i] - g[i]) * (fd[i] - g[i]);
    den += (double)g[i] * g[i];
    if (fabs(g[i]) > 1e-2 * gmax) {
      double r = fabs(fd[i] - g[i]) / fabs(g[i]);
      if (r > worst)
        worst = r;
    }
  }
  double rel = sqrt(num / (den > 0 ? den : 1.0));
  printf("\n    %-40s |g| max %.3g  norm rel err %.2e  max elem rel err %.2e ", label, gmax,
         rel, worst);
  CU_ASSERT(gmax > 1e-4); /* the check must see a real gradient */
  CU_ASSERT(rel < tol_norm);
  CU_ASSERT(worst < tol_elem);
  free(g), free(fd);
  return worst;
}

static case_t base_case(void)
{
  case_t c = {10, 3, 4, 3, 1, 6, 0, SL_RESET_TO_VALUE, 0, 1, 0, SL_LOSS_SUM, "superspike", 0, 0};
  return c;
}

static void run_case(case_t c, const char *label)
{
  fixture f;
  fixture_make(&f, c);
  check_weights(&f, label, 2e-3, 5e-2);
  fixture_free(&f);
}

static void test_ff_to_value(void) { run_case(base_case(), "ff, reset to value, superspike"); }

static void test_ff_subtract(void)
{
  case_t c = base_case();
  c.reset = SL_RESET_SUBTRACT;
  run_case(c, "ff, reset by subtraction");
}

static void test_recurrent(void)
{
  case_t c = base_case();
  c.recurrent = 1;
  run_case(c, "recurrent, reset to value");
}

static void test_two_layers_sigmoid(void)
{
  case_t c = base_case();
  c.layers = 2;
  c.surrogate = "sigmoid";
  c.reset = SL_RESET_SUBTRACT;
  c.recurrent = 1;
  run_case(c, "2 recurrent layers, sigmoid, subtract");
}

static void test_arctan_scaled_max(void)
{
  case_t c = base_case();
  c.surrogate = "arctan";
  c.scale_input = 1;
  c.loss_kind = SL_LOSS_MAX;
  run_case(c, "arctan, scaled input, max-over-time loss");
}

static void test_regularisers(void)
{
  case_t c = base_case();
  c.reg_spikes = 0.05;
  c.reg_amp = 0.01;
  c.layers = 2;
  run_case(c, "spike-count and amplitude regularisers");
}

/* With Heaviside spikes the readout weights still have an exact gradient. */
static void test_readout_exact(void)
{
  case_t c = base_case();
  c.smooth = 0;
  c.detach = 1;
  fixture f;
  fixture_make(&f, c);
  loss_of(&f, 1);
  sl_tensor t;
  CU_ASSERT_FATAL(sl_net_find_tensor(f.net, "readout", "w_in", &t) == SL_OK);
  double worst = 0.0, gmax = 0.0;
  for (size_t i = 0; i < t.rows * t.cols; i++) {
    float g = t.grad[i];
    double fd = fd_derivative(&f, &t.data[i], 1e-2f);
    double r = fabs(fd - g) / (fabs(g) > 1e-3 ? fabs(g) : 1e-3);
    if (r > worst)
      worst = r;
    if (fabs(g) > gmax)
      gmax = fabs(g);
  }
  printf("\n    %-40s |g| max %.3g  max elem rel err %.2e ", "LI readout, Heaviside hidden", gmax,
         worst);
  CU_ASSERT(gmax > 1e-4);
  CU_ASSERT(worst < 1e-2);
  fixture_free(&f);
}

/* dL/dtau_mem and dL/dtau_syn of hidden and readout neurons. */
static void test_tau_gradients(void)
{
  case_t c = base_case();
  c.recurrent = 1;
  fixture f;
  fixture_make(&f, c);
  CU_ASSERT_FATAL(sl_net_enable_tau_grad(f.net, 1) == SL_OK);
  loss_of(&f, 1);
  size_t total = 0;
  for (size_t l = 0; l <= c.layers; l++)
    total += 2 * sl_net_neurons(f.net, l)->n;
  double *g = calloc(total, sizeof(double)), *fd = calloc(total, sizeof(double));
  size_t k = 0;
  for (size_t l = 0; l <= c.layers; l++) {
    float *dm, *ds;
    CU_ASSERT_FATAL(sl_net_tau_grad(f.net, l, &dm, &ds) == SL_OK);
    CU_ASSERT_FATAL(dm && ds);
    sl_neurons *p = sl_net_neurons(f.net, l);
    for (size_t j = 0; j < p->n; j++, k += 2) {
      g[k] = dm[j];
      g[k + 1] = ds[j];
    }
  }
  k = 0;
  for (size_t l = 0; l <= c.layers; l++) {
    sl_neurons *p = sl_net_neurons(f.net, l);
    for (size_t j = 0; j < p->n; j++, k += 2) {
      fd[k] = fd_derivative(&f, &p->tau_mem[j], 1e-2f * p->tau_mem[j]);
      fd[k + 1] = fd_derivative(&f, &p->tau_syn[j], 1e-2f * p->tau_syn[j]);
    }
  }
  double gmax = 0.0, num = 0.0, den = 0.0, worst = 0.0;
  for (size_t i = 0; i < total; i++)
    if (fabs(g[i]) > gmax)
      gmax = fabs(g[i]);
  for (size_t i = 0; i < total; i++) {
    num += (fd[i] - g[i]) * (fd[i] - g[i]);
    den += g[i] * g[i];
    if (fabs(g[i]) > 1e-2 * gmax && fabs(fd[i] - g[i]) / fabs(g[i]) > worst)
      worst = fabs(fd[i] - g[i]) / fabs(g[i]);
  }
  double rel = sqrt(num / (den > 0 ? den : 1.0));
  printf("\n    %-40s |g| max %.3g  norm rel err %.2e  max elem rel err %.2e ",
         "tau_mem / tau_syn gradients", gmax, rel, worst);
  CU_ASSERT(gmax > 1.0);
  CU_ASSERT(rel < 2e-3);
  CU_ASSERT(worst < 5e-2);
  free(g), free(fd);
  fixture_free(&f);
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"feed-forward, reset to value", test_ff_to_value},
      {"feed-forward, reset by subtraction", test_ff_subtract},
      {"recurrent layer", test_recurrent},
      {"two recurrent layers, sigmoid surrogate", test_two_layers_sigmoid},
      {"arctan, scaled input, max loss", test_arctan_scaled_max},
      {"spike and amplitude regularisers", test_regularisers},
      {"LI readout exact with Heaviside spikes", test_readout_exact},
      {"time-constant gradients", test_tau_gradients},
      {NULL, NULL}};
  return sl_test_run_paths("lif_grad", cases);
}
