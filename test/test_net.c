/* test_net.c -- the network (lib/core/net.c) on its fast kernels against
 * the same network on the reference kernels (sl_net_use_reference).
 *
 * Outputs and states are compared bit for bit (the fast kernels keep the
 * reference's operation order); gradients, whose sums run in another order,
 * within 1e-5 normwise. Also checked: the result does not depend on the
 * thread count, an event-list input gives the dense input's numbers, the
 * fused hidden-layer backward, tau gradients need the currents kept, the
 * inference path (sl_net_infer) against the forward pass, a pass after the
 * neurons were edited (no stale decay factors), and bad input.
 */
#include "config.h"
#include "spikeloop/error.h"
#include "spikeloop/loss.h"
#include "spikeloop/net.h"
#include "spikeloop/neurons.h"
#include "spikeloop/version.h"

#include <stdint.h>
#include <string.h>

#include "fixtures.h"
#include "testutil.h"

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
  sl_test_seed(4242);
  float *x = sl_test_falloc(T * B * n_in), *gv = sl_test_falloc(T * B * n_out);
  float *extra0 = sl_test_falloc(T * B * s.n_hidden[0]); /* a regulariser's dL/dS of layer 0 */
  sl_test_fill_spikes(x, T * B * n_in, 0.3);
  sl_test_fill_uniform(gv, T * B * n_out, -0.1, 0.1);
  sl_test_fill_uniform(extra0, T * B * s.n_hidden[0], -0.02, 0.02);
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
  res->out = sl_test_fdup(sl_net_output(net), res->n_out);
  res->n_params = sl_net_num_params(net);
  res->grads = sl_test_fdup(sl_net_grads(net), res->n_params);
  size_t hid = s.n_hidden[0] + s.n_hidden[1];
  res->n_states = 4 * T * B * hid; /* h, i_syn, v, s of the hidden layers */
  res->states = sl_test_falloc(res->n_states);
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
  res->tau = sl_test_falloc(res->n_tau);
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
         sl_test_normwise_rel_diff(r2.grads, r1.grads, r1.n_params), same_tau ? "identical" : "DIFFER");
  CU_ASSERT(same_out);
  CU_ASSERT(same_states);
  CU_ASSERT(same_grads);
  CU_ASSERT(same_tau);
  CU_ASSERT(sl_test_max_abs(r1.grads, r1.n_params) > 0.0);
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
  double eg = sl_test_normwise_rel_diff(rf.grads, rr.grads, rf.n_params);
  double et = sl_test_normwise_rel_diff(rf.tau, rr.tau, rf.n_tau);
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
  double eg = sl_test_normwise_rel_diff(rf.grads, rr.grads, rf.n_params);
  int same = memcmp(rf.grads, rt.grads, rf.n_params * sizeof(float)) == 0;
  printf("\n    fused backward: grads vs reference max rel %.3g, vs unfused %s ", eg,
         same ? "identical" : "DIFFER");
  CU_ASSERT(eg < 1e-5);
  CU_ASSERT(same);
  CU_ASSERT(sl_test_max_abs(rf.grads, rf.n_params) > 0.0);
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
  CU_ASSERT(sl_test_max_abs(rs.grads, rs.n_params) > 0.0);
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
  sl_test_seed(777);
  float *x = sl_test_falloc(T * B * n_in);
  sl_test_fill_spikes(x, T * B * n_in, 0.2);
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
  r->out = sl_test_fdup(sl_net_output(net), r->n_out);
  r->n_params = sl_net_num_params(net);
  r->grads = sl_test_fdup(sl_net_grads(net), r->n_params);
  r->n_tau = 0;
  for (size_t l = 0; l <= s->n_layers; l++)
    r->n_tau += 2 * sl_net_neurons(net, l)->n;
  r->tau = sl_test_falloc(r->n_tau);
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
  r->states = sl_test_falloc(r->n_states);
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
  sl_test_seed(77);
  float *x = sl_test_falloc(T * B * 7), *gv = sl_test_falloc(T * B * 3);
  sl_test_fill_spikes(x, T * B * 7, 0.4);
  sl_test_fill_uniform(gv, T * B * 3, -0.1, 0.1);
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

/* ------------------------------------------------------------ bad input */

/* Non-finite input and empty shapes are refused, with a message. */
static void test_bad_input(void)
{
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
      {"network result independent of thread count", test_thread_independence},
      {"network fast vs reference kernels", test_net_reference},
      {"spike-list input: identical to the dense raster", test_net_spike_input},
      {"fused hidden-layer backward vs reference and unfused", test_net_fused_backward},
      {"tau gradients need the currents kept", test_net_currents_needed},
      {"inference path vs forward, bit-identical", test_infer},
      {"edited neurons: the next pass uses them", test_net_neurons_edited},
      {"bad input", test_bad_input},
      {NULL, NULL}};
  return sl_test_run_paths("net", cases);
}
