/* test_nir.c -- NIR graphs (lib/io/nir.c): export -> import gives the same
 * network (every weight and per-neuron parameter) and the same outputs on a
 * fixed input, bit for bit, for recurrent and feed-forward networks with
 * mismatch, refractory steps, scale_input and reset by subtraction; a graph
 * written without the /spikeloop extras still loads (defaults). Foreign
 * files (h5py, per the spec) are tested by test_nir_cli.sh. */
#include <hdf5.h>
#include <string.h>

#include "spikeloop/spikeloop.h"
#include "spikeloop/nir.h"
#include "testutil.h"

static sl_net *make_net(sl_config *cfg, const char *const *sets)
{
  sl_config_defaults(cfg);
  for (const char *const *s = sets; *s; s++)
    CU_ASSERT_EQUAL_FATAL(sl_config_set_pair(cfg, *s), SL_OK);
  sl_net *net = NULL;
  CU_ASSERT_EQUAL_FATAL(sl_net_from_config(&net, cfg, 5, 3), SL_OK);
  return net;
}

/* A fixed random raster (T, B, 5). */
static float *raster(size_t T, size_t B)
{
  float *x = calloc(T * B * 5, sizeof *x);
  uint64_t s = 12345;
  for (size_t i = 0; i < T * B * 5; i++) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    x[i] = (s >> 60) < 3 ? 1.0f : 0.0f;
  }
  return x;
}

/* Max |difference| of every parameter and per-neuron array. */
static double max_param_diff(sl_net *a, sl_net *b)
{
  double m = 0.0;
  CU_ASSERT_EQUAL_FATAL(sl_net_num_params(a), sl_net_num_params(b));
  const float *pa = sl_net_params(a), *pb = sl_net_params(b);
  for (size_t i = 0; i < sl_net_num_params(a); i++)
    m = fmax(m, fabs((double)pa[i] - pb[i]));
  for (size_t l = 0; l <= sl_net_get_spec(a)->n_layers; l++) {
    sl_neurons *na = sl_net_neurons(a, l), *nb = sl_net_neurons(b, l);
    CU_ASSERT_EQUAL_FATAL(na->n, nb->n);
    for (size_t k = 0; k < SL_NEURON_NFLOAT; k++) {
      const char *name = sl_neurons_float_name(k);
      if (l == sl_net_get_spec(a)->n_layers && (!strcmp(name, "v_th") || !strcmp(name, "v_reset")))
        continue; /* the readout has neither */
      const float *x = sl_neurons_param(na, name), *y = sl_neurons_param(nb, name);
      for (size_t i = 0; i < na->n; i++)
        m = fmax(m, fabs((double)x[i] - y[i]) / fmax(1.0, fabs(x[i])));
    }
    for (size_t i = 0; i < na->n; i++)
      m = fmax(m, fabs((double)na->refrac[i] - nb->refrac[i]));
  }
  return m;
}

static void round_trip(const char *const *sets)
{
  sl_config cfg, back;
  sl_net *a = make_net(&cfg, sets), *b = NULL;
  char path[256];
  sl_test_tmpfile("nir_rt", path, sizeof path);
  int rc = sl_nir_write(path, a, &cfg);
  if (rc)
    printf("\n  %s\n", sl_last_error());
  CU_ASSERT_EQUAL_FATAL(rc, SL_OK);
  sl_config_defaults(&back);
  int found = 0;
  CU_ASSERT_EQUAL_FATAL(sl_nir_read_config(path, &back, &found), SL_OK);
  CU_ASSERT_EQUAL(found, 1);
  rc = sl_nir_read(path, &back, 0, &b);
  if (rc)
    printf("\n  %s\n", sl_last_error());
  CU_ASSERT_EQUAL_FATAL(rc, SL_OK);
  double dp = max_param_diff(a, b);
  printf("\n    max parameter difference %.3g", dp);
  CU_ASSERT_EQUAL(dp, 0.0);
  const size_t T = 60, B = 7, K = 3;
  float *x = raster(T, B);
  CU_ASSERT_EQUAL_FATAL(sl_net_forward(a, x, T, B), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_net_forward(b, x, T, B), SL_OK);
  double dv = sl_test_max_rel_diff(sl_net_output(b), sl_net_output(a), T * B * K, 1e-6);
  double sa, sb;
  sl_net_spike_count(a, 0, &sa);
  sl_net_spike_count(b, 0, &sb);
  printf(", readout max rel. difference %.3g, hidden spikes %.0f / %.0f", dv, sa, sb);
  CU_ASSERT_EQUAL(dv, 0.0);
  CU_ASSERT_EQUAL(sa, sb);
  CU_ASSERT(sa > 0);
  free(x);
  sl_net_free(a);
  sl_net_free(b);
  remove(path);
}

static void test_recurrent_mismatch(void)
{
  static const char *const sets[] = {"net.hidden=24", "net.recurrent=1", "mismatch.tau_mem=0.3",
                                     "mismatch.tau_syn=0.2", "mismatch.v_th=0.2",
                                     "mismatch.v_leak=0.1", "mismatch.gain=0.2",
                                     "mismatch.readout=1", "train.init_scale=3", NULL};
  round_trip(sets);
}

static void test_two_layers_refrac_scale(void)
{
  static const char *const sets[] = {"net.hidden=16,12", "net.recurrent=0,1",
                                     "neuron.scale_input=1", "neuron.refrac=2",
                                     "mismatch.tau_mem=0.25", "mismatch.gain=0.3",
                                     "train.init_scale=20", NULL};
  round_trip(sets);
}

static void test_subtract_reset(void)
{
  static const char *const sets[] = {"net.hidden=20", "neuron.reset=subtract",
                                     "neuron.v_reset=-0.2", "mismatch.v_reset=0.1",
                                     "train.init_scale=3", NULL};
  round_trip(sets);
}

/* Without /spikeloop the graph still loads, with the caller's config. */
static void test_without_extras(void)
{
  sl_config cfg;
  static const char *const sets[] = {"net.hidden=10", "net.recurrent=1", NULL};
  sl_net *a = make_net(&cfg, sets), *b = NULL;
  char path[256];
  sl_test_tmpfile("nir_plain", path, sizeof path);
  CU_ASSERT_EQUAL_FATAL(sl_nir_write(path, a, &cfg), SL_OK);
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  CU_ASSERT_FATAL(f >= 0);
  CU_ASSERT(H5Ldelete(f, "spikeloop", H5P_DEFAULT) >= 0);
  H5Fclose(f);
  sl_config c2;
  sl_config_defaults(&c2);
  int found = 1;
  CU_ASSERT_EQUAL(sl_nir_read_config(path, &c2, &found), SL_OK);
  CU_ASSERT_EQUAL(found, 0);
  CU_ASSERT_EQUAL_FATAL(sl_nir_read(path, &c2, 1, &b), SL_OK);
  CU_ASSERT_EQUAL(sl_net_get_spec(b)->n_hidden[0], 10);
  CU_ASSERT_EQUAL(sl_net_get_spec(b)->recurrent[0], 1);
  CU_ASSERT_EQUAL(c2.hidden[0], 10);
  CU_ASSERT_EQUAL(max_param_diff(a, b), 0.0);
  sl_net_free(a);
  sl_net_free(b);
  /* a different dt reads the same graph into other gains: dt matters */
  sl_config_set(&c2, "net.dt", "0.002");
  CU_ASSERT_EQUAL_FATAL(sl_nir_read(path, &c2, 1, &b), SL_OK);
  CU_ASSERT(fabs(sl_net_neurons(b, 0)->gain[0] - 4.0f) < 1e-5); /* (2 dt/dt0)^2 */
  sl_net_free(b);
  remove(path);
  sl_config_defaults(&c2);
  CU_ASSERT_EQUAL(sl_nir_read(path, &c2, 1, &b), SL_EIO);
  CU_ASSERT_PTR_NULL(b);
}

/* A field declared but never written (HDF5 would read fill values: a file
 * of a few KB could declare gigabytes) is refused, naming node and field
 * (found by test/fuzz/fuzz_nir). */
static void test_unwritten_field(void)
{
  sl_config cfg;
  static const char *const sets[] = {"net.hidden=6", NULL};
  sl_net *a = make_net(&cfg, sets), *b = NULL;
  char path[256];
  sl_test_tmpfile("nir_unwritten", path, sizeof path);
  CU_ASSERT_EQUAL_FATAL(sl_nir_write(path, a, &cfg), SL_OK);
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  CU_ASSERT_FATAL(f >= 0);
  CU_ASSERT(H5Ldelete(f, "/node/nodes/hidden0_w_in/weight", H5P_DEFAULT) >= 0);
  hsize_t dims[2] = {(hsize_t)1 << 20, 5};
  hid_t s = H5Screate_simple(2, dims, NULL);
  hid_t d = H5Dcreate2(f, "/node/nodes/hidden0_w_in/weight", H5T_IEEE_F32LE, s, H5P_DEFAULT,
                       H5P_DEFAULT, H5P_DEFAULT);
  CU_ASSERT(d >= 0);
  H5Dclose(d);
  H5Sclose(s);
  H5Fclose(f);
  CU_ASSERT_EQUAL(sl_nir_read(path, &cfg, 1, &b), SL_EFORMAT);
  CU_ASSERT(strstr(sl_last_error(), "node 'hidden0_w_in': field 'weight'") != NULL);
  CU_ASSERT(strstr(sl_last_error(), "holds none of them") != NULL);
  CU_ASSERT_PTR_NULL(b);
  sl_net_free(a);
  remove(path);
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"round trip: recurrent, mismatch", test_recurrent_mismatch},
      {"round trip: two layers, refrac, scale_input", test_two_layers_refrac_scale},
      {"round trip: reset by subtraction", test_subtract_reset},
      {"a graph without /spikeloop", test_without_extras},
      {"a field declared but not written", test_unwritten_field},
      {NULL, NULL}};
  return sl_test_run("nir", cases);
}
