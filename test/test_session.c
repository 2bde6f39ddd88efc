/* test_session.c -- CUnit suite for building a run from a configuration
 * (spikeloop/fromconfig.h, lib/train/fromconfig.c) and for sessions
 * (spikeloop/session.h, lib/train/session.c).
 *
 * Covers: the network spec and network of a config (sizes, per-layer lists,
 * mismatch, weights) and the configs they refuse; the encoder, the data
 * sets (sizes, seeds, determinism) and the weight units of a config; the
 * backend of a config (an unknown name keeps its "backend.name: " prefix,
 * the ideal backend with neutral options opens a loop); a session's
 * create / train / evaluate / set_weights / log_network, bit-identical
 * weights for the same seed, training continued over several calls, the
 * ideal backend through the interface against the direct path; and
 * sl_run_train -> sl_run_eval through a real run log, with missing,
 * damaged and unfinished logs refused with a message.
 *
 * Everything runs on tiny Yin-Yang problems (tens of samples, ten hidden
 * neurons) so the suite takes well under a second or two.
 */
#include "config.h"
#include "spikeloop/spikeloop.h"
#include "fixtures.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

/* The tiny run of this suite: Yin-Yang 60 / 20 / 40 rows, 10 hidden
 * neurons, batches of 10, 2 epochs at a learning rate that makes them
 * count (the training loss falls from about 1.3 to 1.1). */
static void tiny_config(sl_config *c)
{
  sl_test_small_config(c, 60, 20, 40, 10, 10);
  CU_ASSERT_FATAL(sl_config_set(c, "train.epochs", "2") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(c, "train.lr", "0.02") == SL_OK);
}

/* The ideal backend's options with every hidden-mismatch sd 0: the
 * simulated chip is the model, but the options take the session through
 * the backend interface. */
static const char NEUTRAL_IDEAL[] =
    "mismatch_seed=1,tau_mem_sd=0,tau_syn_sd=0,v_th_sd=0,v_leak_sd=0,gain_sd=0";

/* A copy of the network's weights (sl_net_params), to compare later. */
static float *weights_copy(sl_net *net)
{
  return sl_test_fdup(sl_net_params(net), sl_net_num_params(net));
}

/* Number of weights that differ bit for bit. */
static size_t n_bits_differ(const float *a, const float *b, size_t n)
{
  size_t d = 0;
  for (size_t i = 0; i < n; i++)
    d += memcmp(&a[i], &b[i], sizeof(float)) != 0;
  return d;
}

/* Create a session of c and train it for `epochs` epochs; the caller frees
 * it. */
static sl_session *trained_session(const sl_config *c, long epochs, sl_run_result *res)
{
  sl_session *s = NULL;
  CU_ASSERT_FATAL(sl_session_create(&s, c) == SL_OK);
  CU_ASSERT_FATAL(s != NULL);
  CU_ASSERT_FATAL(sl_session_train(s, epochs, NULL, NULL, NULL, res) == SL_OK);
  return s;
}

/* ------------------------------------------------------------ fromconfig: networks */

/* Every field the spec takes from the config, with per-layer lists. */
static void test_net_spec_from_config(void)
{
  sl_config c;
  tiny_config(&c);
  CU_ASSERT_FATAL(sl_config_set(&c, "net.hidden", "7,5") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(&c, "net.recurrent", "0,1") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(&c, "neuron.tau_mem", "0.008") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(&c, "neuron.tau_syn", "0.004") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(&c, "neuron.v_th", "1.5") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(&c, "neuron.refrac", "2") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(&c, "neuron.reset", "subtract") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(&c, "readout.tau_mem", "0.02") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(&c, "train.surrogate", "sigmoid") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(&c, "train.surrogate_beta", "4") == SL_OK);
  sl_net_spec s;
  memset(&s, 0xab, sizeof s);
  CU_ASSERT_FATAL(sl_net_spec_from_config(&c, 5, 3, &s) == SL_OK);
  CU_ASSERT(s.n_in == 5);
  CU_ASSERT(s.n_out == 3);
  CU_ASSERT(s.n_layers == 2);
  CU_ASSERT(s.n_hidden[0] == 7 && s.n_hidden[1] == 5);
  CU_ASSERT(s.recurrent[0] == 0 && s.recurrent[1] == 1);
  CU_ASSERT(s.dt == c.dt);
  CU_ASSERT(s.hidden.tau_mem == 0.008);
  CU_ASSERT(s.hidden.tau_syn == 0.004);
  CU_ASSERT(s.hidden.v_th == 1.5);
  CU_ASSERT(s.hidden.refrac == 2);
  CU_ASSERT(s.readout.tau_mem == 0.02);
  CU_ASSERT(s.readout.tau_syn == c.ro_tau_syn);
  CU_ASSERT(s.readout.v_leak == 0.0);
  CU_ASSERT(s.lif.reset == SL_RESET_SUBTRACT);
  CU_ASSERT(s.lif.surrogate == sl_surrogate_find("sigmoid"));
  CU_ASSERT(s.lif.surrogate != NULL);
  CU_ASSERT(s.lif.beta == 4.0);
  /* one net.recurrent value applies to every layer */
  CU_ASSERT_FATAL(sl_config_set(&c, "net.recurrent", "1") == SL_OK);
  CU_ASSERT_FATAL(sl_net_spec_from_config(&c, 5, 3, &s) == SL_OK);
  CU_ASSERT(s.recurrent[0] == 1 && s.recurrent[1] == 1);
}

/* The network of a config: layer sizes, tensors, parameter count,
 * mismatch where the config asks for it, weights from train.seed. */
static void test_net_from_config(void)
{
  sl_config c;
  tiny_config(&c);
  CU_ASSERT_FATAL(sl_config_set(&c, "net.hidden", "7,5") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(&c, "net.recurrent", "0,1") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(&c, "mismatch.tau_mem", "0.2") == SL_OK);
  sl_net *net = NULL;
  CU_ASSERT_FATAL(sl_net_from_config(&net, &c, 5, 3) == SL_OK);
  CU_ASSERT(sl_net_neurons(net, 0)->n == 7);
  CU_ASSERT(sl_net_neurons(net, 1)->n == 5);
  CU_ASSERT(sl_net_neurons(net, 2)->n == 3);
  CU_ASSERT(sl_net_neurons(net, 3) == NULL);
  /* hidden0 w_in 5x7, hidden1 w_in 7x5 and w_rec 5x5, readout w_in 5x3 */
  CU_ASSERT(sl_net_num_tensors(net) == 4);
  CU_ASSERT(sl_net_num_params(net) == 5 * 7 + 7 * 5 + 5 * 5 + 5 * 3);
  sl_tensor t;
  CU_ASSERT_FATAL(sl_net_find_tensor(net, "hidden1", "w_rec", &t) == SL_OK);
  CU_ASSERT(t.rows == 5 && t.cols == 5);
  CU_ASSERT(sl_net_find_tensor(net, "hidden0", "w_rec", &t) == SL_ENOTFOUND);
  /* mismatch on the hidden layers, each drawn on its own, not the readout */
  const sl_neurons *h0 = sl_net_neurons(net, 0), *h1 = sl_net_neurons(net, 1);
  const sl_neurons *ro = sl_net_neurons(net, 2);
  size_t off_nominal = 0;
  for (size_t j = 0; j < h0->n; j++)
    off_nominal += h0->tau_mem[j] != (float)c.tau_mem;
  CU_ASSERT(off_nominal == h0->n);
  CU_ASSERT(h0->tau_mem[0] != h1->tau_mem[0]);
  for (size_t j = 0; j < ro->n; j++)
    CU_ASSERT(ro->tau_mem[j] == (float)c.ro_tau_mem);
  /* tau_syn had no mismatch */
  CU_ASSERT(h0->tau_syn[3] == (float)c.tau_syn);
  /* mismatch.readout = 1 moves the readout too; another mismatch.seed
   * another chip */
  sl_config d = c;
  CU_ASSERT_FATAL(sl_config_set(&d, "mismatch.readout", "1") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(&d, "mismatch.seed", "8") == SL_OK);
  sl_net *other = NULL;
  CU_ASSERT_FATAL(sl_net_from_config(&other, &d, 5, 3) == SL_OK);
  CU_ASSERT(sl_net_neurons(other, 2)->tau_mem[0] != (float)c.ro_tau_mem);
  CU_ASSERT(memcmp(sl_net_neurons(other, 0)->tau_mem, h0->tau_mem, 7 * sizeof(float)) != 0);
  /* weights depend on train.seed only, and start equal to the master */
  size_t n = sl_net_num_params(net);
  CU_ASSERT(n_bits_differ(sl_net_params(other), sl_net_params(net), n) == 0);
  CU_ASSERT(n_bits_differ(sl_net_master(net), sl_net_params(net), n) == 0);
  CU_ASSERT(sl_test_max_abs(sl_net_params(net), n) > 0.0);
  sl_net_free(other);
  other = NULL;
  d = c;
  CU_ASSERT_FATAL(sl_config_set(&d, "train.seed", "12345") == SL_OK);
  CU_ASSERT_FATAL(sl_net_from_config(&other, &d, 5, 3) == SL_OK);
  CU_ASSERT(n_bits_differ(sl_net_params(other), sl_net_params(net), n) > n / 2);
  sl_net_free(other);
  sl_net_free(net);
}

/* Configs the network builders refuse: the code, a message naming the
 * key, and no network. */
static void test_net_from_config_refused(void)
{
  sl_config c, d;
  tiny_config(&c);
  sl_net *net = NULL;
  sl_net_spec s;

  d = c; /* per-layer list of the wrong length */
  CU_ASSERT_FATAL(sl_config_set(&d, "net.hidden", "7,5") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(&d, "net.recurrent", "0,1,1") == SL_OK);
  CU_ASSERT(sl_net_spec_from_config(&d, 5, 3, &s) == SL_EINVAL);
  CU_ASSERT(sl_test_msg_has("net.recurrent"));
  CU_ASSERT(sl_net_from_config(&net, &d, 5, 3) == SL_EINVAL);
  CU_ASSERT(net == NULL);

  d = c; /* threshold below reset */
  d.v_th = -0.5;
  CU_ASSERT(sl_net_from_config(&net, &d, 5, 3) == SL_EINVAL);
  CU_ASSERT(sl_test_msg_has("neuron.v_th"));
  CU_ASSERT(net == NULL);

  d = c; /* batch larger than the training set */
  d.batch = 61;
  CU_ASSERT(sl_net_from_config(&net, &d, 5, 3) == SL_EINVAL);
  CU_ASSERT(sl_test_msg_has("train.batch"));

  d = c; /* a field edited directly past its key's limits */
  d.tau_mem = -1.0;
  CU_ASSERT(sl_net_from_config(&net, &d, 5, 3) == SL_ERANGE);
  CU_ASSERT(sl_test_msg_has("neuron.tau_mem"));
  CU_ASSERT(net == NULL);

  d = c; /* an unknown surrogate: the config check finds it first */
  strcpy(d.surrogate, "nope");
  CU_ASSERT(sl_net_spec_from_config(&d, 5, 3, &s) == SL_EINVAL);
  CU_ASSERT(sl_test_msg_has("train.surrogate: 'nope'"));
  CU_ASSERT(sl_test_msg_has("superspike")); /* lists the known ones */

  d = c; /* a twin file that does not exist */
  strcpy(d.twin, "/nonexistent-dir/twin.h5");
  CU_ASSERT(sl_net_from_config(&net, &d, 5, 3) == SL_EIO);
  CU_ASSERT(sl_test_msg_has("/nonexistent-dir/twin.h5"));
  CU_ASSERT(net == NULL);

  /* no network without inputs */
  CU_ASSERT(sl_net_from_config(&net, &c, 0, 3) == SL_EINVAL);
  CU_ASSERT(sl_test_msg_has("n_in"));
  CU_ASSERT(net == NULL);
  CU_ASSERT(sl_net_spec_from_config(NULL, 5, 3, &s) == SL_EINVAL);
  CU_ASSERT(sl_net_spec_from_config(&c, 5, 3, NULL) == SL_EINVAL);
}

/* ------------------------------------------------------------ fromconfig: encoder, data */

static void test_encoder_from_config(void)
{
  sl_config c;
  tiny_config(&c);
  CU_ASSERT_FATAL(sl_config_set(&c, "encoder.kind", "rate") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(&c, "encoder.t_steps", "25") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(&c, "encoder.rate_max", "0.3") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(&c, "encoder.bias", "0") == SL_OK);
  sl_encoder e;
  CU_ASSERT_FATAL(sl_encoder_from_config(&c, &e) == SL_OK);
  CU_ASSERT(e.kind == SL_ENCODE_RATE);
  CU_ASSERT(e.t_steps == 25);
  CU_ASSERT(e.rate_max == 0.3);
  CU_ASSERT(e.bias == 0);
  CU_ASSERT(e.dt == c.dt);
  CU_ASSERT(e.t_early == c.t_early && e.t_late == c.t_late);
  CU_ASSERT(sl_encoder_out_dim(&e, 4) == 4);
  /* the defaults: linear latency with a bias input */
  sl_config_defaults(&c);
  CU_ASSERT_FATAL(sl_encoder_from_config(&c, &e) == SL_OK);
  CU_ASSERT(e.kind == SL_ENCODE_LATENCY_LINEAR);
  CU_ASSERT(e.t_steps == (size_t)c.t_steps);
  CU_ASSERT(sl_encoder_out_dim(&e, 4) == 5);
  /* an unknown kind set directly */
  strcpy(c.encoder, "morse");
  CU_ASSERT(sl_encoder_from_config(&c, &e) == SL_ENOTFOUND);
  CU_ASSERT(sl_test_msg_has("morse"));
  CU_ASSERT(sl_encoder_from_config(NULL, &e) == SL_EINVAL);
}

/* 1 if two data sets are equal bit for bit. */
static int same_data(const sl_dataset *a, const sl_dataset *b)
{
  return a->n == b->n && a->dim == b->dim && a->n_classes == b->n_classes &&
         memcmp(a->x, b->x, a->n * a->dim * sizeof(float)) == 0 &&
         memcmp(a->y, b->y, a->n * sizeof(int32_t)) == 0;
}

static void test_data_from_config(void)
{
  sl_config c;
  tiny_config(&c);
  sl_dataset tr = {0}, va = {0}, te = {0}, tr2 = {0}, te2 = {0};
  CU_ASSERT_FATAL(sl_data_from_config(&c, &tr, &va, &te) == SL_OK);
  CU_ASSERT(tr.n == 60 && va.n == 20 && te.n == 40);
  CU_ASSERT(tr.dim == 4 && va.dim == 4 && te.dim == 4);
  CU_ASSERT(tr.n_classes == 3 && te.n_classes == 3);
  size_t bad = 0, seen[3] = {0, 0, 0};
  for (size_t i = 0; i < tr.n; i++) {
    if (tr.y[i] < 0 || tr.y[i] > 2)
      bad++;
    else
      seen[tr.y[i]]++;
    for (size_t k = 0; k < tr.dim; k++)
      bad += !(tr.x[i * tr.dim + k] >= 0.0f && tr.x[i * tr.dim + k] <= 1.0f);
  }
  CU_ASSERT(bad == 0);
  CU_ASSERT(seen[0] > 0 && seen[1] > 0 && seen[2] > 0);
  /* the three sets come from their own seeds: different rows */
  CU_ASSERT(memcmp(tr.x, te.x, te.n * te.dim * sizeof(float)) != 0);
  CU_ASSERT(memcmp(tr.x, va.x, va.n * va.dim * sizeof(float)) != 0);
  /* deterministic: the same config gives the same sets; outputs may be NULL */
  CU_ASSERT_FATAL(sl_data_from_config(&c, &tr2, NULL, &te2) == SL_OK);
  CU_ASSERT(same_data(&tr, &tr2));
  CU_ASSERT(same_data(&te, &te2));
  sl_dataset_free(&tr2);
  sl_dataset_free(&te2);
  /* data.seed_test = data.seed_train: the test set is the training
   * generator's (same size); another seed_train: other training rows */
  sl_config d = c;
  d.n_test = d.n_train;
  d.seed_test = d.seed_train;
  d.seed_train = 99;
  CU_ASSERT_FATAL(sl_data_from_config(&d, &tr2, NULL, &te2) == SL_OK);
  CU_ASSERT(same_data(&te2, &tr));
  CU_ASSERT(!same_data(&tr2, &tr));
  sl_dataset_free(&tr2);
  sl_dataset_free(&te2);
  /* no validation set when data.n_val = 0: the output is left alone */
  d = c;
  d.n_val = 0;
  sl_dataset v0 = {0};
  CU_ASSERT_FATAL(sl_data_from_config(&d, NULL, &v0, NULL) == SL_OK);
  CU_ASSERT(v0.n == 0 && v0.x == NULL);
  /* refused: an unknown data set, more Fashion-MNIST than there is */
  d = c;
  strcpy(d.dataset, "iris");
  CU_ASSERT(sl_data_from_config(&d, &tr2, NULL, NULL) == SL_ENOTFOUND);
  CU_ASSERT(sl_test_msg_has("iris"));
  CU_ASSERT(sl_test_msg_has("yinyang"));
  d = c;
  strcpy(d.dataset, "fashion16");
  d.n_train = 60000;
  d.n_val = 1;
  CU_ASSERT(sl_data_from_config(&d, &tr2, &v0, NULL) == SL_ERANGE);
  CU_ASSERT(sl_test_msg_has("60000"));
  CU_ASSERT(sl_data_from_config(NULL, &tr2, NULL, NULL) == SL_EINVAL);
  sl_dataset_free(&tr);
  sl_dataset_free(&va);
  sl_dataset_free(&te);
}

/* ------------------------------------------------------------ fromconfig: backends */

static void test_w_unit_from_config(void)
{
  sl_config c;
  tiny_config(&c);
  sl_net *net = NULL;
  CU_ASSERT_FATAL(sl_net_from_config(&net, &c, 5, 3) == SL_OK);
  double w[SL_MAX_LAYERS + 1];
  /* auto: 1 for a float backend; 4 sd of the initial weights over the
   * levels otherwise */
  CU_ASSERT_FATAL(sl_w_unit_from_config(&c, net, 0, w) == SL_OK);
  CU_ASSERT(w[0] == 1.0 && w[1] == 1.0);
  CU_ASSERT_FATAL(sl_w_unit_from_config(&c, net, 63, w) == SL_OK);
  CU_ASSERT_DOUBLE_EQUAL(w[0], 4.0 * c.init_scale / sqrt(5.0) / 63.0, 1e-15);
  CU_ASSERT_DOUBLE_EQUAL(w[1], 4.0 * c.init_scale / sqrt(10.0) / 63.0, 1e-15);
  /* a list, one per layer, readout last */
  CU_ASSERT_FATAL(sl_config_set(&c, "loop.w_unit", "0.5,0.25") == SL_OK);
  CU_ASSERT_FATAL(sl_w_unit_from_config(&c, net, 63, w) == SL_OK);
  CU_ASSERT(w[0] == 0.5 && w[1] == 0.25);
  static const char *const bad[][2] = {{"0.5", "fewer than 2"},
                                       {"0.5,0.25,1", "more than 2"},
                                       {"0.5,-1", "positive"},
                                       {"0.5,x", "positive"},
                                       {"0,1", "positive"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CU_ASSERT_FATAL(sl_config_set(&c, "loop.w_unit", bad[i][0]) == SL_OK);
    CU_ASSERT(sl_w_unit_from_config(&c, net, 63, w) == SL_EINVAL);
    CU_ASSERT(sl_test_msg_has("loop.w_unit"));
    CU_ASSERT(sl_test_msg_has(bad[i][1]));
  }
  sl_net_free(net);
}

static void test_hw_from_config(void)
{
  sl_config c;
  tiny_config(&c);
  sl_net *net = NULL;
  CU_ASSERT_FATAL(sl_net_from_config(&net, &c, 5, 3) == SL_OK);
  sl_hw *hw = (sl_hw *)&c; /* must be reset to NULL on failure */
  sl_loop *loop = (sl_loop *)&c;
  /* an unknown backend: the message starts with the key */
  strcpy(c.backend, "no-such-chip");
  CU_ASSERT(sl_hw_from_config(&hw, &loop, &c, net, 40, 10) == SL_ENOTFOUND);
  CU_ASSERT(strncmp(sl_last_error(), "backend.name: ", 14) == 0);
  CU_ASSERT(sl_test_msg_has("no-such-chip"));
  CU_ASSERT(hw == NULL && loop == NULL);
  /* ... and so does a left-out name */
  c.backend[0] = '\0';
  CU_ASSERT(sl_hw_from_config(&hw, &loop, &c, net, 40, 10) == SL_ENOTFOUND);
  CU_ASSERT(strncmp(sl_last_error(), "backend.name: ", 14) == 0);
  CU_ASSERT(hw == NULL && loop == NULL);
  /* a bad option of the ideal backend names the option */
  strcpy(c.backend, "ideal");
  strcpy(c.backend_options, "tau_mem_sd=2");
  CU_ASSERT(sl_hw_from_config(&hw, &loop, &c, net, 40, 10) == SL_EINVAL);
  CU_ASSERT(sl_test_msg_has("tau_mem_sd"));
  CU_ASSERT(hw == NULL && loop == NULL);
  /* the ideal backend with neutral options opens a loop over net */
  strcpy(c.backend_options, NEUTRAL_IDEAL);
  CU_ASSERT_FATAL(sl_hw_from_config(&hw, &loop, &c, net, 40, 10) == SL_OK);
  CU_ASSERT_FATAL(hw != NULL && loop != NULL);
  CU_ASSERT(strcmp(sl_hw_name(hw), "ideal") == 0);
  CU_ASSERT(sl_loop_hw(loop) == hw);
  CU_ASSERT(sl_loop_net(loop) == net);
  const sl_backend_setup *su = sl_hw_setup(hw);
  CU_ASSERT(su->n_in == 5 && su->n_layers == 1 && su->size[0] == 10 && su->size[1] == 3);
  CU_ASSERT(su->max_steps == 40 && su->max_batch == 10);
  CU_ASSERT(su->w_unit[0] == 1.0 && su->w_unit[1] == 1.0); /* float backend, auto */
  CU_ASSERT(su->options && strcmp(su->options, NEUTRAL_IDEAL) == 0);
  CU_ASSERT(sl_hw_caps(hw)->weight_levels == 0);
  sl_loop_free(loop);
  sl_hw_close(hw);
  /* loop.w_unit given: the backend is opened with it */
  CU_ASSERT_FATAL(sl_config_set(&c, "loop.w_unit", "0.5,0.25") == SL_OK);
  CU_ASSERT_FATAL(sl_hw_from_config(&hw, &loop, &c, net, 40, 10) == SL_OK);
  CU_ASSERT(sl_hw_setup(hw)->w_unit[0] == 0.5 && sl_hw_setup(hw)->w_unit[1] == 0.25);
  sl_loop_free(loop);
  sl_hw_close(hw);
  CU_ASSERT(sl_hw_from_config(NULL, &loop, &c, net, 40, 10) == SL_EINVAL);
  sl_net_free(net);
}

/* ------------------------------------------------------------ sessions */

typedef struct {
  int calls;
  long epochs[4];
  double loss[4], test_accuracy[4], hidden_rate[4];
} progress_log;

static void on_epoch(const sl_epoch_metrics *m, void *user)
{
  progress_log *p = user;
  if (p->calls < 4) {
    p->epochs[p->calls] = m->epoch;
    p->loss[p->calls] = m->loss;
    p->test_accuracy[p->calls] = m->test_accuracy;
    p->hidden_rate[p->calls] = m->hidden_rate;
  }
  p->calls++;
}

/* Create, train two epochs, evaluate: the session reports what it did,
 * and its evaluations agree with what training reported. */
static void test_session_train_evaluate(void)
{
  sl_config c;
  tiny_config(&c);
  sl_session *s = NULL;
  CU_ASSERT_FATAL(sl_session_create(&s, &c) == SL_OK);
  CU_ASSERT(sl_session_loop(s) == NULL); /* ideal, no options: the direct path */
  CU_ASSERT(sl_session_epochs(s) == 0);
  CU_ASSERT(sl_session_config(s)->n_train == 60);
  sl_net *net = sl_session_net(s);
  CU_ASSERT_FATAL(net != NULL);
  CU_ASSERT(sl_net_get_spec(net)->n_in == 5); /* 4 features + bias */
  CU_ASSERT(sl_net_get_spec(net)->n_hidden[0] == 10);
  CU_ASSERT(sl_net_get_spec(net)->n_out == 3);
  float *w0 = weights_copy(net);
  const size_t n = sl_net_num_params(net);

  progress_log p = {0};
  sl_run_result res = {0};
  CU_ASSERT_FATAL(sl_session_train(s, 2, NULL, on_epoch, &p, &res) == SL_OK);
  CU_ASSERT(res.epochs == 2);
  CU_ASSERT(sl_session_epochs(s) == 2);
  CU_ASSERT(p.calls == 2);
  CU_ASSERT(p.epochs[0] == 1 && p.epochs[1] == 2);
  CU_ASSERT(p.test_accuracy[1] == res.test_accuracy);
  CU_ASSERT(res.test_accuracy >= 0.0 && res.test_accuracy <= 1.0);
  CU_ASSERT(res.seconds >= 0.0);
  /* accuracies are multiples of 1/40 (test) and 1/20 (validation) */
  CU_ASSERT_DOUBLE_EQUAL(res.test_accuracy * 40.0, round(res.test_accuracy * 40.0), 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(res.val_accuracy * 20.0, round(res.val_accuracy * 20.0), 1e-9);
  double dw = 0.0;
  for (size_t i = 0; i < n; i++)
    dw = fmax(dw, fabs((double)sl_net_params(net)[i] - (double)w0[i]));
  printf("\n    epochs 1, 2: loss %.4f, %.4f; hidden spikes/neuron %.3f, %.3f; after 2: test %.3f, "
         "val %.3f, train %.3f; max weight change %.3g ", p.loss[0], p.loss[1], p.hidden_rate[0],
         p.hidden_rate[1], res.test_accuracy, res.val_accuracy, res.train_accuracy, dw);
  CU_ASSERT(dw > 1e-3);             /* training moved the weights */
  CU_ASSERT(p.loss[1] < p.loss[0]); /* and learned */
  CU_ASSERT(res.train_accuracy > 0.45); /* chance is 1/3 */
  CU_ASSERT(p.hidden_rate[1] > 0.1);    /* the hidden layer spikes */

  /* evaluating again gives what training reported, exactly */
  sl_eval_result ev;
  CU_ASSERT_FATAL(sl_session_evaluate(s, SL_SET_TEST, &ev) == SL_OK);
  CU_ASSERT(ev.accuracy == res.test_accuracy);
  CU_ASSERT(isfinite(ev.loss) && ev.loss > 0.0);
  CU_ASSERT_FATAL(sl_session_evaluate(s, SL_SET_VAL, &ev) == SL_OK);
  CU_ASSERT(ev.accuracy == res.val_accuracy);
  CU_ASSERT_FATAL(sl_session_evaluate(s, SL_SET_TRAIN, &ev) == SL_OK);
  CU_ASSERT(ev.accuracy >= 0.0 && ev.accuracy <= 1.0);
  CU_ASSERT(ev.hidden_rate >= 0.0);
  CU_ASSERT(sl_session_evaluate(s, 7, &ev) == SL_EINVAL);
  CU_ASSERT(sl_session_evaluate(s, -1, &ev) == SL_EINVAL);
  CU_ASSERT(sl_session_evaluate(s, SL_SET_TEST, NULL) == SL_EINVAL);

  /* zero epochs: evaluates, trains nothing */
  float *w2 = weights_copy(net);
  sl_run_result r0 = {0};
  CU_ASSERT_FATAL(sl_session_train(s, 0, NULL, NULL, NULL, &r0) == SL_OK);
  CU_ASSERT(r0.epochs == 2);
  CU_ASSERT(r0.test_accuracy == res.test_accuracy);
  CU_ASSERT(n_bits_differ(sl_net_params(net), w2, n) == 0);
  free(w0);
  free(w2);
  sl_session_free(s);

  /* a session without a validation set reports NaN for it */
  CU_ASSERT_FATAL(sl_config_set(&c, "data.n_val", "0") == SL_OK);
  s = trained_session(&c, 1, &res);
  CU_ASSERT(isnan(res.val_accuracy));
  CU_ASSERT(sl_session_evaluate(s, SL_SET_VAL, &ev) == SL_EINVAL);
  sl_session_free(s);
  sl_session_free(NULL);
  CU_ASSERT(sl_session_net(NULL) == NULL && sl_session_epochs(NULL) == 0);
}

/* What sl_session_create refuses: the code, the message, no session. */
static void test_session_create_refused(void)
{
  sl_config c, d;
  tiny_config(&c);
  sl_session *s = (sl_session *)&c;
  d = c;
  d.batch = 100;
  CU_ASSERT(sl_session_create(&s, &d) == SL_EINVAL);
  CU_ASSERT(sl_test_msg_has("train.batch"));
  CU_ASSERT(s == NULL);
  d = c;
  strcpy(d.backend, "no-such-chip");
  CU_ASSERT(sl_session_create(&s, &d) == SL_ENOTFOUND);
  CU_ASSERT(strncmp(sl_last_error(), "backend.name: ", 14) == 0);
  CU_ASSERT(s == NULL);
  d = c;
  strcpy(d.backend_options, "gain_sd=abc");
  CU_ASSERT(sl_session_create(&s, &d) == SL_EINVAL);
  CU_ASSERT(sl_test_msg_has("gain_sd"));
  CU_ASSERT(s == NULL);
  CU_ASSERT(sl_session_create(&s, NULL) == SL_EINVAL);
  CU_ASSERT(sl_session_create(NULL, &c) == SL_EINVAL);
}

/* The same seed twice gives bit-identical weights and results, the
 * second time on one thread; another train.seed does not. Two calls of one
 * epoch continue where the first stopped: the same weights as one call of
 * two. */
static void test_session_reproducible(void)
{
  sl_config c;
  tiny_config(&c);
  CU_ASSERT_FATAL(sl_config_set(&c, "mismatch.tau_mem", "0.2") == SL_OK);
  sl_run_result ra, rb, rc_;
  sl_session *a = trained_session(&c, 2, &ra);
  const int threads = sl_get_num_threads();
  sl_set_num_threads(1);
  sl_session *b = trained_session(&c, 2, &rb);
  sl_set_num_threads(threads);
  sl_net *na = sl_session_net(a), *nb = sl_session_net(b);
  const size_t n = sl_net_num_params(na);
  size_t differ = n_bits_differ(sl_net_params(na), sl_net_params(nb), n);
  CU_ASSERT(differ == 0);
  CU_ASSERT(n_bits_differ(sl_net_master(na), sl_net_master(nb), n) == 0);
  CU_ASSERT(ra.test_accuracy == rb.test_accuracy);
  CU_ASSERT(ra.val_accuracy == rb.val_accuracy);
  CU_ASSERT(ra.train_accuracy == rb.train_accuracy);
  sl_session_free(b);

  /* 1 + 1 epochs = 2 epochs */
  sl_session *s = NULL;
  CU_ASSERT_FATAL(sl_session_create(&s, &c) == SL_OK);
  CU_ASSERT_FATAL(sl_session_train(s, 1, NULL, NULL, NULL, NULL) == SL_OK);
  CU_ASSERT_FATAL(sl_session_train(s, 1, NULL, NULL, NULL, &rc_) == SL_OK);
  CU_ASSERT(rc_.epochs == 2);
  size_t differ_split = n_bits_differ(sl_net_params(sl_session_net(s)), sl_net_params(na), n);
  CU_ASSERT(differ_split == 0);
  CU_ASSERT(rc_.test_accuracy == ra.test_accuracy);
  sl_session_free(s);

  /* another seed: other weights */
  CU_ASSERT_FATAL(sl_config_set(&c, "train.seed", "777") == SL_OK);
  b = trained_session(&c, 2, &rb);
  size_t differ_seed = n_bits_differ(sl_net_params(sl_session_net(b)), sl_net_params(na), n);
  printf("\n    %zu weights: same seed (%d thread(s), then 1) %zu differ, 1+1 epochs %zu, "
         "another seed %zu ", n, threads, differ, differ_split, differ_seed);
  CU_ASSERT(differ_seed > n / 2);
  sl_session_free(b);
  sl_session_free(a);
}

/* Checkpoints: a session trained 1 epoch with a checkpoint, restored into a
 * fresh session and trained 2 more, ends bit-identical (weights, master
 * weights, accuracies) to one trained 3 epochs straight; in simulation, on
 * the ideal backend's interface and (if built) in the memristor loop, whose
 * programming noise and pulses come from its saved state. Restoring into
 * another network, or from a log without checkpoint, is refused. */
static void check_restore(const sl_config *c, const char *what)
{
  char path[512];
  sl_test_tmpfile("session_ckpt", path, sizeof path);
  sl_run_result ra, rb;
  sl_session *a = trained_session(c, 3, &ra);
  sl_session *b = NULL, *r = NULL;
  sl_runlog *log = NULL;
  sl_run_meta meta = {"test_session", c->seed, 1};
  CU_ASSERT_FATAL(sl_session_create(&b, c) == SL_OK);
  CU_ASSERT_FATAL(sl_runlog_create(&log, path, c, &meta) == SL_OK);
  sl_session_set_checkpointing(b, 1);
  CU_ASSERT_FATAL(sl_session_train(b, 1, log, NULL, NULL, NULL) == SL_OK);
  CU_ASSERT(sl_runlog_close(log) == SL_OK);
  sl_session_free(b);

  sl_runlog_reader *rd = NULL;
  CU_ASSERT_FATAL(sl_runlog_open(&rd, path) == SL_OK);
  CU_ASSERT_FATAL(sl_session_create(&r, c) == SL_OK);
  CU_ASSERT_FATAL(sl_session_restore(r, rd) == SL_OK);
  sl_runlog_reader_close(rd);
  CU_ASSERT(sl_session_epochs(r) == 1);
  CU_ASSERT_FATAL(sl_session_train(r, 2, NULL, NULL, NULL, &rb) == SL_OK);
  sl_net *na = sl_session_net(a), *nr = sl_session_net(r);
  const size_t n = sl_net_num_params(na);
  size_t d = n_bits_differ(sl_net_params(na), sl_net_params(nr), n);
  size_t dm = n_bits_differ(sl_net_master(na), sl_net_master(nr), n);
  printf("\n    %s: 3 epochs vs 1 + checkpoint + 2: %zu of %zu weights differ, %zu master ", what,
         d, n, dm);
  CU_ASSERT(d == 0);
  CU_ASSERT(dm == 0);
  CU_ASSERT(rb.epochs == 3);
  CU_ASSERT(ra.test_accuracy == rb.test_accuracy);
  CU_ASSERT(ra.train_accuracy == rb.train_accuracy);
  sl_session_free(r);
  sl_session_free(a);

  /* another network: a clear error */
  sl_config other = *c;
  CU_ASSERT_FATAL(sl_config_set(&other, "net.hidden", "11") == SL_OK);
  CU_ASSERT_FATAL(sl_session_create(&r, &other) == SL_OK);
  CU_ASSERT_FATAL(sl_runlog_open(&rd, path) == SL_OK);
  CU_ASSERT(sl_session_restore(r, rd) == SL_EFORMAT);
  CU_ASSERT(strstr(sl_last_error(), "parameters") != NULL);
  sl_runlog_reader_close(rd);
  sl_session_free(r);
  remove(path);
}

static void test_session_checkpoint_restore(void)
{
  sl_config c;
  tiny_config(&c);
  check_restore(&c, "simulation");
  CU_ASSERT_FATAL(sl_config_set(&c, "backend.name", "ideal") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(&c, "backend.options", NEUTRAL_IDEAL) == SL_OK);
  check_restore(&c, "ideal backend");
#if SL_WITH_MEMRISTOR
  tiny_config(&c);
  CU_ASSERT_FATAL(sl_config_set(&c, "backend.name", "memristor") == SL_OK);
  check_restore(&c, "memristor loop");
#endif
  /* a log without checkpoint */
  char path[512];
  sl_test_tmpfile("session_nockpt", path, sizeof path);
  sl_runlog *log = NULL;
  sl_run_meta meta = {"test_session", c.seed, 1};
  tiny_config(&c);
  CU_ASSERT_FATAL(sl_runlog_create(&log, path, &c, &meta) == SL_OK);
  CU_ASSERT(sl_runlog_close(log) == SL_OK);
  sl_session *s = NULL;
  sl_runlog_reader *rd = NULL;
  CU_ASSERT_FATAL(sl_session_create(&s, &c) == SL_OK);
  CU_ASSERT_FATAL(sl_runlog_open(&rd, path) == SL_OK);
  CU_ASSERT(sl_session_restore(s, rd) == SL_EFORMAT);
  CU_ASSERT(strstr(sl_last_error(), "no checkpoint") != NULL);
  CU_ASSERT(sl_run_resume(path, NULL, NULL, NULL, NULL) == SL_EFORMAT);
  sl_runlog_reader_close(rd);
  sl_session_free(s);
  remove(path);
}

/* set_weights: a fresh session given a trained session's weights
 * evaluates exactly as the trained one; another architecture is refused. */
static void test_session_set_weights(void)
{
  sl_config c;
  tiny_config(&c);
  sl_run_result ra;
  sl_session *a = trained_session(&c, 2, &ra);
  sl_session *b = NULL;
  CU_ASSERT_FATAL(sl_session_create(&b, &c) == SL_OK);
  sl_net *na = sl_session_net(a), *nb = sl_session_net(b);
  const size_t n = sl_net_num_params(na);
  CU_ASSERT(n_bits_differ(sl_net_params(nb), sl_net_params(na), n) > n / 2); /* before */
  sl_eval_result ea, eb;
  CU_ASSERT_FATAL(sl_session_set_weights(b, na) == SL_OK);
  CU_ASSERT(n_bits_differ(sl_net_params(nb), sl_net_params(na), n) == 0);
  CU_ASSERT(n_bits_differ(sl_net_master(nb), sl_net_params(na), n) == 0);
  CU_ASSERT_FATAL(sl_session_evaluate(a, SL_SET_TEST, &ea) == SL_OK);
  CU_ASSERT_FATAL(sl_session_evaluate(b, SL_SET_TEST, &eb) == SL_OK);
  CU_ASSERT(ea.accuracy == eb.accuracy);
  CU_ASSERT(ea.loss == eb.loss);
  CU_ASSERT(ea.accuracy == ra.test_accuracy);
  /* another architecture */
  sl_config d = c;
  CU_ASSERT_FATAL(sl_config_set(&d, "net.hidden", "11") == SL_OK);
  sl_net *other = NULL;
  CU_ASSERT_FATAL(sl_net_from_config(&other, &d, 5, 3) == SL_OK);
  float *before = weights_copy(nb);
  CU_ASSERT(sl_session_set_weights(b, other) == SL_ESHAPE);
  CU_ASSERT(sl_test_msg_has("architecture"));
  CU_ASSERT(n_bits_differ(sl_net_params(nb), before, n) == 0);
  CU_ASSERT(sl_session_set_weights(b, NULL) == SL_EINVAL);
  free(before);
  sl_net_free(other);
  sl_session_free(b);
  sl_session_free(a);
}

/* log_network stages every weight tensor (/params) and every layer's
 * per-neuron parameters (/mismatch), bit for bit. */
static void test_session_log_network(void)
{
  sl_config c;
  tiny_config(&c);
  CU_ASSERT_FATAL(sl_config_set(&c, "mismatch.v_th", "0.1") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(&c, "neuron.refrac", "2") == SL_OK);
  sl_run_result r;
  sl_session *s = trained_session(&c, 1, &r);
  sl_net *net = sl_session_net(s);
  char path[256];
  sl_test_tmpfile("session_lognet", path, sizeof path);
  sl_runlog *log = NULL;
  sl_run_meta meta = {"test_session", c.seed, 1};
  CU_ASSERT_FATAL(sl_runlog_create(&log, path, &c, &meta) == SL_OK);
  CU_ASSERT(sl_session_log_network(s, log) == SL_OK);
  CU_ASSERT(sl_session_log_network(s, NULL) == SL_EINVAL);
  CU_ASSERT(sl_runlog_finish(log, r.test_accuracy, r.epochs, r.seconds) == SL_OK);
  CU_ASSERT(sl_runlog_close(log) == SL_OK);

  sl_runlog_reader *rd = NULL;
  CU_ASSERT_FATAL(sl_runlog_open(&rd, path) == SL_OK);
  float w_in[5 * 10], w_ro[10 * 3], v_th[10];
  int32_t refrac[10];
  sl_tensor t;
  CU_ASSERT_FATAL(sl_net_find_tensor(net, "hidden0", "w_in", &t) == SL_OK);
  CU_ASSERT(sl_runlog_get_float(rd, "params/hidden0/w_in", w_in, 5, 10) == SL_OK);
  CU_ASSERT(n_bits_differ(w_in, t.data, 50) == 0);
  CU_ASSERT_FATAL(sl_net_find_tensor(net, "readout", "w_in", &t) == SL_OK);
  CU_ASSERT(sl_runlog_get_float(rd, "params/readout/w_in", w_ro, 10, 3) == SL_OK);
  CU_ASSERT(n_bits_differ(w_ro, t.data, 30) == 0);
  CU_ASSERT(sl_runlog_get_float(rd, "mismatch/hidden0/v_th", v_th, 10, 0) == SL_OK);
  CU_ASSERT(n_bits_differ(v_th, sl_net_neurons(net, 0)->v_th, 10) == 0);
  CU_ASSERT(v_th[0] != (float)c.v_th); /* the drawn mismatch, not the nominal value */
  CU_ASSERT(sl_runlog_get_int(rd, "mismatch/hidden0/refrac", refrac, 10) == SL_OK);
  CU_ASSERT(refrac[0] == 2 && refrac[9] == 2);
  float ro_tau[3];
  CU_ASSERT(sl_runlog_get_float(rd, "mismatch/readout/tau_mem", ro_tau, 3, 0) == SL_OK);
  CU_ASSERT(ro_tau[2] == (float)c.ro_tau_mem);
  sl_runlog_reader_close(rd);
  sl_session_free(s);
  sl_test_assert_no_open_hdf5();
  unlink(path);
}

/* The ideal backend through the interface (neutral options, so the
 * session opens a loop) learns exactly as the direct path. */
static void test_session_ideal_interface(void)
{
  sl_config c;
  tiny_config(&c);
  sl_run_result rd, ri;
  sl_session *direct = trained_session(&c, 2, &rd);
  CU_ASSERT(sl_session_loop(direct) == NULL);
  strcpy(c.backend_options, NEUTRAL_IDEAL);
  sl_session *iface = trained_session(&c, 2, &ri);
  CU_ASSERT_FATAL(sl_session_loop(iface) != NULL);
  CU_ASSERT(strcmp(sl_hw_name(sl_loop_hw(sl_session_loop(iface))), "ideal") == 0);
  const size_t n = sl_net_num_params(sl_session_net(direct));
  const float *wd = sl_net_params(sl_session_net(direct));
  const float *wi = sl_net_params(sl_session_net(iface));
  size_t differ = n_bits_differ(wi, wd, n);
  double rel = sl_test_max_rel_diff(wi, wd, n, 1e-2);
  printf("\n    accuracy direct %.4f, through the interface %.4f; %zu of %zu weights differ, "
         "max rel diff %.2e ", rd.test_accuracy, ri.test_accuracy, differ, n, rel);
  CU_ASSERT(differ == 0);
  CU_ASSERT(ri.test_accuracy == rd.test_accuracy);
  CU_ASSERT(ri.val_accuracy == rd.val_accuracy);
  CU_ASSERT(ri.train_accuracy == rd.train_accuracy);
  sl_eval_result ed, ei;
  CU_ASSERT_FATAL(sl_session_evaluate(direct, SL_SET_TRAIN, &ed) == SL_OK);
  CU_ASSERT_FATAL(sl_session_evaluate(iface, SL_SET_TRAIN, &ei) == SL_OK);
  CU_ASSERT(ei.accuracy == ed.accuracy);
  sl_session_free(iface);
  sl_session_free(direct);
}

/* ------------------------------------------------------------ run log round trip */

/* sl_run_train writes a complete log; sl_run_eval rebuilds the model from
 * it and finds the accuracy training reported, exactly. */
static void test_run_train_eval(void)
{
  sl_config c;
  tiny_config(&c);
  CU_ASSERT_FATAL(sl_config_set(&c, "mismatch.tau_mem", "0.2") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(&c, "net.hidden", "8,6") == SL_OK);
  char path[256];
  sl_test_tmpfile("session_run", path, sizeof path);
  progress_log p = {0};
  sl_run_result res = {0};
  CU_ASSERT_FATAL(sl_run_train(&c, path, NULL, on_epoch, &p, &res) == SL_OK);
  CU_ASSERT(res.epochs == 2 && p.calls == 2);
  sl_eval_result ev = {0};
  CU_ASSERT_FATAL(sl_run_eval(path, &ev) == SL_OK);
  printf("\n    run: test %.3f, eval of its log %.3f ", res.test_accuracy, ev.accuracy);
  CU_ASSERT(ev.accuracy == res.test_accuracy);

  /* the log: epochs, summary, config, the final weights */
  sl_runlog_reader *rd = NULL;
  CU_ASSERT_FATAL(sl_runlog_open(&rd, path) == SL_OK);
  long epochs = -1;
  double v = -1.0;
  CU_ASSERT(sl_runlog_get_epochs(rd, &epochs) == SL_OK && epochs == 2);
  CU_ASSERT(sl_runlog_get_summary(rd, "test_accuracy", &v) == SL_OK && v == res.test_accuracy);
  CU_ASSERT(sl_runlog_get_summary(rd, "val_accuracy", &v) == SL_OK && v == res.val_accuracy);
  CU_ASSERT(sl_runlog_get_summary(rd, "epochs", &v) == SL_OK && v == 2.0);
  sl_config back;
  sl_config_defaults(&back);
  CU_ASSERT(sl_runlog_read_config(rd, &back) == SL_OK);
  CU_ASSERT(back.n_layers == 2 && back.hidden[0] == 8 && back.hidden[1] == 6);
  CU_ASSERT(back.mm_tau_mem == 0.2);
  float w[6 * 3];
  CU_ASSERT(sl_runlog_get_float(rd, "params/readout/w_in", w, 6, 3) == SL_OK);
  CU_ASSERT(sl_runlog_get_float(rd, "params/readout/w_in", w, 3, 6) == SL_EFORMAT);
  sl_runlog_reader_close(rd);

  /* the same training as a session, without a log: the same result */
  sl_run_result again;
  sl_session *s = trained_session(&c, 2, &again);
  CU_ASSERT(again.test_accuracy == res.test_accuracy);
  sl_session_free(s);
  sl_test_assert_no_open_hdf5();
  unlink(path);
}

/* sl_run_eval of files it cannot use: an error with a message, no crash,
 * no HDF5 handle left open. */
static void test_run_eval_bad_files(void)
{
  sl_eval_result ev;
  char good[256], bad[256];
  sl_test_tmpfile("session_good", good, sizeof good);
  sl_test_tmpfile("session_bad", bad, sizeof bad);

  /* missing */
  CU_ASSERT(sl_run_eval("/nonexistent-dir/run.h5", &ev) == SL_EIO);
  CU_ASSERT(sl_test_msg_has("/nonexistent-dir/run.h5"));
  CU_ASSERT(sl_run_eval(NULL, &ev) == SL_EINVAL);
  CU_ASSERT(sl_run_eval(good, NULL) == SL_EINVAL);

  /* not HDF5 */
  FILE *f = fopen(bad, "w");
  CU_ASSERT_FATAL(f != NULL);
  fputs("this is not an HDF5 file\n", f);
  fclose(f);
  CU_ASSERT(sl_run_eval(bad, &ev) == SL_EIO);
  CU_ASSERT(sl_test_msg_has(bad));

  /* a real log cut in half */
  sl_config c;
  tiny_config(&c);
  CU_ASSERT_FATAL(sl_config_set(&c, "train.epochs", "1") == SL_OK);
  CU_ASSERT_FATAL(sl_run_train(&c, good, NULL, NULL, NULL, NULL) == SL_OK);
  CU_ASSERT_FATAL(sl_run_eval(good, &ev) == SL_OK);
  long size = sl_test_file_size(good);
  CU_ASSERT_FATAL(size > 0);
  CU_ASSERT_FATAL(sl_test_copy_file(good, bad, size / 2) == 0);
  int rc = sl_run_eval(bad, &ev);
  printf("\n    a log cut at %ld of %ld bytes: %s (%s) ", size / 2, size, sl_strerror(rc),
         sl_last_error());
  CU_ASSERT(rc == SL_EIO || rc == SL_EFORMAT);
  CU_ASSERT(sl_last_error()[0] != '\0');

  /* an unfinished run: /config and /metrics, no /summary */
  sl_runlog *log = NULL;
  sl_run_meta meta = {"test_session", c.seed, 1};
  CU_ASSERT_FATAL(sl_runlog_create(&log, bad, &c, &meta) == SL_OK);
  CU_ASSERT(sl_runlog_close(log) == SL_OK);
  CU_ASSERT(sl_run_eval(bad, &ev) == SL_EFORMAT);
  CU_ASSERT(sl_test_msg_has("did not finish"));

  /* a finished log without the network's arrays */
  log = NULL;
  CU_ASSERT_FATAL(sl_runlog_create(&log, bad, &c, &meta) == SL_OK);
  CU_ASSERT(sl_runlog_finish(log, 0.5, 1, 1.0) == SL_OK);
  CU_ASSERT(sl_runlog_close(log) == SL_OK);
  CU_ASSERT(sl_run_eval(bad, &ev) == SL_EFORMAT);
  CU_ASSERT(sl_test_msg_has("params/hidden0/w_in"));

  /* a log whose weights are for another network than its config says */
  sl_config d = c;
  CU_ASSERT_FATAL(sl_config_set(&d, "net.hidden", "11") == SL_OK);
  sl_session *s = NULL;
  CU_ASSERT_FATAL(sl_session_create(&s, &d) == SL_OK);
  log = NULL;
  CU_ASSERT_FATAL(sl_runlog_create(&log, bad, &c, &meta) == SL_OK);
  CU_ASSERT(sl_session_log_network(s, log) == SL_OK);
  CU_ASSERT(sl_runlog_finish(log, 0.5, 1, 1.0) == SL_OK);
  CU_ASSERT(sl_runlog_close(log) == SL_OK);
  sl_session_free(s);
  CU_ASSERT(sl_run_eval(bad, &ev) == SL_EFORMAT);
  CU_ASSERT(sl_test_msg_has("params/hidden0/w_in"));

  sl_test_assert_no_open_hdf5();
  unlink(good);
  unlink(bad);
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"network spec from a config", test_net_spec_from_config},
      {"network from a config: sizes, mismatch, weights", test_net_from_config},
      {"network builders refuse bad configs", test_net_from_config_refused},
      {"encoder from a config", test_encoder_from_config},
      {"data sets from a config: sizes, seeds, determinism", test_data_from_config},
      {"weight units from a config", test_w_unit_from_config},
      {"backend and loop from a config", test_hw_from_config},
      {"session: create, train, evaluate", test_session_train_evaluate},
      {"session: checkpoint and restore", test_session_checkpoint_restore},
      {"session: create refuses bad configs", test_session_create_refused},
      {"session: same seed, same weights; continued training", test_session_reproducible},
      {"session: set_weights", test_session_set_weights},
      {"session: log_network", test_session_log_network},
      {"session: ideal through the interface = direct", test_session_ideal_interface},
      {"run: train -> log -> eval", test_run_train_eval},
      {"run: eval of missing and damaged logs", test_run_eval_bad_files},
      {NULL, NULL}};
  return sl_test_run("session", cases);
}
