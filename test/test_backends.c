/* test_backends.c -- every backend runs the same suite: each built-in the
 * registry lists (sl_backend_builtin; replay serves a recording of ideal),
 * one test case per backend, and the example plugin loaded from
 * SPIKELOOP_BACKEND_PATH. A built-in that configure left out is not run;
 * asking for it must give the "not built in this build" error.
 *
 * The suite drives a backend only through sl_hw_* and the loop, as the
 * training code does: capabilities are sane, weights within the stated
 * resolution are accepted, observations have the promised shape and
 * ranges, two instances opened alike give identical observations for the
 * same requests, the loop turns them into finite model states, and
 * requests beyond the declared limits fail cleanly.
 */
#include "config.h"
#include "spikeloop/spikeloop.h"
#include "fixtures.h"
#include "testutil.h"

#include <string.h>
#include <unistd.h>

enum { T = 12, B = 3, N_IN = 5, N_HID = 20, N_OUT = 3 };

static char recording[256];

static sl_net *make_net(void) { return sl_test_net(N_IN, N_HID, N_OUT, 2.0, 7); }

static float *raster(void)
{
  static float x[T * B * N_IN];
  sl_test_raster(x, T * B * N_IN, 13, 5);
  return x;
}

/* Open `name` for net with options; weights are synced by the loop. */
static int open_loop(const char *name, const char *options, sl_net *net, sl_hw **hw,
                     sl_loop **loop)
{
  *hw = NULL;
  *loop = NULL;
  const sl_backend *b = sl_backend_find(name);
  if (!b)
    return sl_error(SL_ENOTFOUND, "no backend %s", name);
  /* weight units that fit the initial weights into the levels */
  int rc = sl_test_open_hw(hw, name, options, net, 2.0, b->weight_levels, T, B);
  if (rc)
    return rc;
  rc = sl_loop_create(loop, net, *hw);
  if (rc) {
    sl_hw_close(*hw);
    *hw = NULL;
  }
  return rc;
}

/* The suite. Requests: sync weights, run x twice, in two instances. */
static void backend_suite(const char *name, const char *options)
{
  sl_net *net = make_net();
  sl_hw *hw = NULL;
  sl_loop *loop = NULL;
  int rc = open_loop(name, options, net, &hw, &loop);
  if (rc)
    printf("\n    %s: %s ", name, sl_last_error());
  CU_ASSERT_FATAL(rc == SL_OK);
  const sl_backend_caps *c = sl_hw_caps(hw);
  CU_ASSERT(c->time_scale > 0);
  CU_ASSERT(c->membrane_gain > 0);
  CU_ASSERT(c->sample_period > 0);
  CU_ASSERT(c->observables & SL_OBS_MEMBRANE);
  CU_ASSERT(c->max_neurons >= N_HID + N_OUT);
  CU_ASSERT(c->membrane_units != NULL);
  const float *x = raster();
  sl_observations first;
  sl_obs_init(&first);
  CU_ASSERT_FATAL(sl_loop_forward(loop, x, T, B) == SL_OK);
  const sl_observations *o = sl_loop_observations(loop);
  CU_ASSERT(o->B == B && o->n_neurons == N_HID + N_OUT && o->n_samples >= 2);
  const double t_end = T * sl_net_get_spec(net)->dt * c->time_scale;
  int spikes_ok = 1;
  for (size_t k = 0; k < o->n_spikes; k++)
    if (o->spike_sample[k] >= B || o->spike_neuron[k] >= N_HID + N_OUT ||
        !(o->spike_time[k] >= 0 && o->spike_time[k] <= t_end + o->sample_period))
      spikes_ok = 0;
  CU_ASSERT(spikes_ok);
  size_t m = o->n_samples * o->B * o->n_neurons, finite = 0;
  for (size_t i = 0; i < m; i++)
    finite += isfinite(o->membrane[i]) != 0;
  CU_ASSERT(finite == m);
  sl_test_obs_copy(&first, o);
  CU_ASSERT(sl_loop_forward(loop, x, T, B) == SL_OK);
  sl_layer_state st;
  CU_ASSERT_FATAL(sl_net_state(net, 1, &st) == SL_OK);
  size_t ok = 0;
  for (size_t i = 0; i < T * B * N_OUT; i++)
    ok += isfinite(st.v[i]) != 0;
  CU_ASSERT(ok == T * B * N_OUT);
  printf("\n    %-8s %zu spikes, %zu samples of %s, time scale %g ", name, first.n_spikes,
         first.n_samples, c->membrane_units, c->time_scale);

  /* a second instance opened alike sees the same thing */
  sl_net *net2 = make_net();
  sl_hw *hw2 = NULL;
  sl_loop *loop2 = NULL;
  CU_ASSERT_FATAL(open_loop(name, options, net2, &hw2, &loop2) == SL_OK);
  CU_ASSERT_FATAL(sl_loop_forward(loop2, x, T, B) == SL_OK);
  CU_ASSERT(sl_test_obs_same(sl_loop_observations(loop2), &first));

  /* limits: too long a run, a weight matrix of the wrong shape */
  sl_observations tmp;
  sl_obs_init(&tmp);
  float big[(T + 1) * B * N_IN];
  memset(big, 0, sizeof big);
  CU_ASSERT(sl_hw_run(hw, big, T + 1, B, &tmp) == SL_ERANGE);
  float w[N_IN * N_HID];
  memset(w, 0, sizeof w);
  CU_ASSERT(sl_hw_write_weights(hw, 0, 0, w, N_IN - 1, N_HID) != SL_OK);
  CU_ASSERT(sl_last_error()[0] != '\0');
  sl_obs_free(&tmp);
  sl_obs_free(&first);
  sl_loop_free(loop2);
  sl_hw_close(hw2);
  sl_net_free(net2);
  sl_loop_free(loop);
  sl_hw_close(hw);
  sl_net_free(net);
}

/* Record the suite's requests on the ideal backend into `recording`. */
static void record_ideal(void)
{
  sl_net *net = make_net();
  sl_hw *hw = NULL;
  sl_loop *loop = NULL;
  sl_backend_setup setup;
  CU_ASSERT_FATAL(sl_loop_setup(net, NULL, NULL, T, B, &setup) == SL_OK);
  CU_ASSERT_FATAL(sl_hw_open(&hw, "ideal", &setup) == SL_OK);
  CU_ASSERT_FATAL(sl_hw_record(hw, recording) == SL_OK);
  CU_ASSERT_FATAL(sl_loop_create(&loop, net, hw) == SL_OK);
  CU_ASSERT_FATAL(sl_loop_forward(loop, raster(), T, B) == SL_OK);
  sl_loop_free(loop);
  sl_hw_close(hw);
  sl_net_free(net);
}

/* The options the suite opens built-in `name` with (NULL: none). */
static const char *suite_options(const char *name, char *buf, size_t len)
{
  if (strcmp(name, "bss2") == 0)
    return "chip_seed=3,noise=0.002";
  if (strcmp(name, "memristor") == 0)
    return "seed=3,read_sd=0.02";
  if (strcmp(name, "replay") == 0) {
    record_ideal();
    snprintf(buf, len, "file=%s", recording);
    return buf;
  }
  return NULL;
}

/* One case per compiled-in built-in, named after it. */
static void test_builtin(void)
{
  const char *name = CU_get_current_test()->pName;
  char buf[300];
  const char *options = suite_options(name, buf, sizeof buf);
  backend_suite(name, options);
}

/* A built-in that configure left out is not found, and naming it says so. */
static void test_left_out(void)
{
  const char *name;
  int built;
  size_t n_left_out = 0;
  for (size_t i = 0; (name = sl_backend_builtin(i, &built)); i++) {
    if (built)
      continue;
    n_left_out++;
    printf("\n    %-8s not built in this build ", name);
    const sl_backend *b = (const sl_backend *)1;
    CU_ASSERT(sl_backend_find(name) == NULL);
    CU_ASSERT(sl_backend_lookup(name, &b) == SL_EUNSUPPORTED);
    CU_ASSERT(b == NULL);
    CU_ASSERT(strstr(sl_last_error(), "not built in this build (configure --enable-") != NULL);
  }
  if (!n_left_out)
    printf("\n    every built-in is built ");
  name = sl_backend_builtin(0, &built); /* the default backend, always built */
  CU_ASSERT(name && strcmp(name, "ideal") == 0 && built);
}

static void test_plugin(void)
{
  const sl_backend *b = sl_backend_find("example");
  if (!b)
    printf("\n    plugin not found: SPIKELOOP_BACKEND_PATH=%s ",
           getenv("SPIKELOOP_BACKEND_PATH") ? getenv("SPIKELOOP_BACKEND_PATH") : "(unset)");
  CU_ASSERT_FATAL(b != NULL);
  CU_ASSERT(b->version >= 1);
  char names[256];
  sl_backend_names(names, sizeof names);
  CU_ASSERT(strstr(names, "example") != NULL);
  backend_suite("example", NULL);
}

static void test_registry_errors(void)
{
  sl_net *net = make_net();
  sl_hw *hw = NULL;
  sl_backend_setup setup;
  CU_ASSERT_FATAL(sl_loop_setup(net, NULL, NULL, T, B, &setup) == SL_OK);
  CU_ASSERT(sl_hw_open(&hw, "nonexistent", &setup) == SL_ENOTFOUND);
  CU_ASSERT(strstr(sl_last_error(), "bss2") != NULL);
  CU_ASSERT(sl_backend_load_plugin("/nonexistent/plugin.so") == SL_EIO);
  static const sl_backend future = {SL_BACKEND_VERSION + 1, "future", "", 0, NULL, NULL, NULL,
                                    NULL, NULL, NULL};
  CU_ASSERT(sl_backend_register(&future) == SL_EINVAL);
  sl_net_free(net);
}

/* The shared options checks every backend uses for its keys. */
static void test_check_options(void)
{
  static const char *const known[] = {"alpha", "beta", NULL};
  CU_ASSERT(sl_backend_check_options(NULL, known, "t") == SL_OK);
  CU_ASSERT(sl_backend_check_options("", known, "t") == SL_OK);
  CU_ASSERT(sl_backend_check_options(" alpha=1, beta=x,", known, "t") == SL_OK);
  CU_ASSERT(sl_backend_check_options("alpha=1,gamma=2", known, "tb") == SL_EINVAL);
  CU_ASSERT(strstr(sl_last_error(), "tb: unknown option 'gamma' (known: alpha, beta)") != NULL);
  CU_ASSERT(sl_backend_check_options("alpha=1,beta", known, "tb") == SL_EINVAL);
  CU_ASSERT(strstr(sl_last_error(), "option 'beta' has no '=value'") != NULL);
  CU_ASSERT(sl_backend_check_options("alphabet=1", known, "tb") == SL_EINVAL);
}

enum { MAX_CASES = 16 };

int main(void)
{
  /* the plugin directory of the build tree (set by make check) */
  const char *dir = getenv("SPIKELOOP_PLUGIN_DIR");
  if (dir && !getenv("SPIKELOOP_BACKEND_PATH"))
    setenv("SPIKELOOP_BACKEND_PATH", dir, 1);
  sl_test_tmpfile("backends_rec", recording, sizeof recording);
  static const sl_test_case fixed[] = {{"left-out built-ins", test_left_out},
                                       {"example plugin", test_plugin},
                                       {"registry errors", test_registry_errors},
                                       {"option checks", test_check_options}};
  sl_test_case cases[MAX_CASES];
  size_t n = 0;
  const char *name;
  int built;
  for (size_t i = 0; (name = sl_backend_builtin(i, &built)) && n < MAX_CASES - 5; i++)
    if (built)
      cases[n++] = (sl_test_case){name, test_builtin};
  for (size_t k = 0; k < sizeof fixed / sizeof fixed[0]; k++)
    cases[n++] = fixed[k];
  cases[n] = (sl_test_case){NULL, NULL};
  int rc = sl_test_run("backends", cases);
  unlink(recording);
  return rc;
}
