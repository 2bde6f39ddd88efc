/* fixtures.c -- shared setup for the CUnit test programs (see fixtures.h).
 *
 * Each fixture replaces copies that stood in several suites; the data they
 * make are the copies' own (same generator, same formulas), so the suites
 * test what they tested before.
 */
#include "config.h"
#include "fixtures.h"

#include "spikeloop/error.h"
#include "spikeloop/loop.h"
#include "testutil.h"

#include <hdf5.h>
#include <hdf5_hl.h>
#include <string.h>

/* ------------------------------------------------------------ random data */

static uint64_t rng_state = 88172645463325252ull;

void sl_test_seed(uint64_t s) { rng_state = s * 2685821657736338717ull + 1; }

double sl_test_urand(void)
{
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (double)((rng_state * 2685821657736338717ull) >> 11) * 0x1.0p-53;
}

void sl_test_fill_uniform(float *a, size_t n, double lo, double hi)
{
  for (size_t i = 0; i < n; i++)
    a[i] = (float)(lo + (hi - lo) * sl_test_urand());
}

void sl_test_fill_spikes(float *a, size_t n, double p)
{
  for (size_t i = 0; i < n; i++)
    a[i] = sl_test_urand() < p ? 1.0f : 0.0f;
}

float *sl_test_falloc(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

float *sl_test_fdup(const float *a, size_t n)
{
  float *b = sl_test_falloc(n);
  memcpy(b, a, n * sizeof(float));
  return b;
}

double sl_test_max_abs(const float *a, size_t n)
{
  double m = 0.0;
  for (size_t i = 0; i < n; i++)
    if (fabs(a[i]) > m)
      m = fabs(a[i]);
  return m;
}

double sl_test_normwise_rel_diff(const float *a, const float *ref, size_t n)
{
  double scale = sl_test_max_abs(ref, n);
  return sl_test_max_rel_diff(a, ref, n, scale > 0 ? scale : 1e-30);
}

const size_t sl_test_shapes[SL_TEST_N_SHAPES][3] = {
    {1, 1, 1},     {1, 7, 1},     {7, 1, 7},    {7, 33, 5},
    {33, 7, 65},   {64, 100, 17}, {3, 129, 33}, {100, 33, 1}};

/* ------------------------------------------------------------ networks, backends */

sl_net *sl_test_net(size_t n_in, size_t n_hid, size_t n_out, double scale, uint64_t seed)
{
  sl_net_spec s = sl_net_spec_default();
  s.n_in = n_in;
  s.n_out = n_out;
  s.n_hidden[0] = n_hid;
  sl_net *net = NULL;
  CU_ASSERT_FATAL(sl_net_create(&net, &s) == SL_OK);
  CU_ASSERT_FATAL(sl_net_init_weights(net, scale, seed) == SL_OK);
  return net;
}

void sl_test_raster(float *x, size_t n, size_t div, size_t mod)
{
  for (size_t i = 0; i < n; i++)
    x[i] = (i * 7 + i / div) % mod == 0 ? 1.0f : 0.0f;
}

int sl_test_open_hw(sl_hw **hw, const char *name, const char *options, sl_net *net,
                    double w_max, int levels, size_t T, size_t B)
{
  sl_backend_setup setup;
  double w_unit[2] = {1.0, 1.0};
  *hw = NULL;
  for (size_t l = 0; l < 2 && levels > 0; l++)
    w_unit[l] = sl_loop_default_w_unit(net, l, w_max, levels);
  int rc = sl_loop_setup(net, w_unit, options, T, B, &setup);
  if (!rc)
    rc = sl_hw_open(hw, name, &setup);
  return rc;
}

void sl_test_obs_copy(sl_observations *dst, const sl_observations *src)
{
  sl_obs_init(dst);
  CU_ASSERT_EQUAL_FATAL(sl_obs_reset(dst, src->B, src->n_neurons, src->n_samples), SL_OK);
  memcpy(dst->membrane, src->membrane, src->n_samples * src->B * src->n_neurons * sizeof(float));
  dst->sample_t0 = src->sample_t0;
  dst->sample_period = src->sample_period;
  for (size_t i = 0; i < src->n_spikes; i++)
    CU_ASSERT_EQUAL_FATAL(sl_obs_add_spike(dst, src->spike_sample[i], src->spike_neuron[i],
                                           src->spike_time[i]),
                          SL_OK);
}

int sl_test_obs_same(const sl_observations *a, const sl_observations *b)
{
  if (a->B != b->B || a->n_neurons != b->n_neurons || a->n_samples != b->n_samples ||
      a->n_spikes != b->n_spikes)
    return 0;
  if (memcmp(&a->sample_t0, &b->sample_t0, sizeof(double)) ||
      memcmp(&a->sample_period, &b->sample_period, sizeof(double)))
    return 0;
  size_t n = a->n_spikes, m = a->n_samples * a->B * a->n_neurons;
  return (!n || (!memcmp(a->spike_sample, b->spike_sample, n * sizeof(uint32_t)) &&
                 !memcmp(a->spike_neuron, b->spike_neuron, n * sizeof(uint32_t)) &&
                 !memcmp(a->spike_time, b->spike_time, n * sizeof(double)))) &&
         (!m || !memcmp(a->membrane, b->membrane, m * sizeof(float)));
}

sl_backend_setup sl_test_small_setup(const char *options)
{
  sl_backend_setup s;
  memset(&s, 0, sizeof s);
  s.n_in = 6;
  s.n_layers = 2;
  s.size[0] = 5;
  s.size[1] = 4;
  s.size[2] = 3;
  s.recurrent[1] = 1;
  s.dt = 1e-3;
  s.max_steps = 12;
  s.max_batch = 3;
  s.w_unit[0] = s.w_unit[1] = s.w_unit[2] = 0.05;
  s.options = options;
  return s;
}

void sl_test_small_config(sl_config *c, long n_train, long n_val, long n_test, long hidden,
                          long batch)
{
  static const char *const keys[5] = {"data.n_train", "data.n_val", "data.n_test", "net.hidden",
                                      "train.batch"};
  const long values[5] = {n_train, n_val, n_test, hidden, batch};
  sl_config_defaults(c);
  for (int k = 0; k < 5; k++) {
    char text[32];
    snprintf(text, sizeof text, "%ld", values[k]);
    CU_ASSERT_FATAL(sl_config_set(c, keys[k], text) == SL_OK);
  }
}

/* ------------------------------------------------------------ files, HDF5 */

int sl_test_msg_has(const char *needle)
{
  int found = strstr(sl_last_error(), needle) != NULL;
  if (!found)
    fprintf(stderr, "\n  message '%s' lacks '%s'\n", sl_last_error(), needle);
  return found;
}

long sl_test_file_size(const char *path)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return -1;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fclose(f);
  return n;
}

int sl_test_copy_file(const char *src, const char *dst, long limit)
{
  FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
  int ok = in && out;
  char buf[4096];
  long total = 0;
  size_t n;
  while (ok && (limit < 0 || total < limit) && (n = fread(buf, 1, sizeof buf, in)) > 0) {
    if (limit >= 0 && total + (long)n > limit)
      n = (size_t)(limit - total);
    ok = fwrite(buf, 1, n, out) == n;
    total += (long)n;
  }
  if (in)
    fclose(in);
  if (out && fclose(out) != 0)
    ok = 0;
  return ok && (limit < 0 || total == limit) ? 0 : -1;
}

int sl_test_h5_has(const char *path, const char *obj)
{
  int has = -1;
  H5E_BEGIN_TRY
  {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f >= 0) {
      has = H5LTpath_valid(f, obj, 1) > 0;
      H5Fclose(f);
    }
  }
  H5E_END_TRY;
  return has;
}

int sl_test_h5_utf8_attr(hid_t file, const char *obj, const char *name, char *buf, size_t len)
{
  int ok = -1;
  H5E_BEGIN_TRY
  {
    hid_t a = H5Aopen_by_name(file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : -1;
    if (t >= 0 && H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) > 0 &&
        H5Tget_cset(t) == H5T_CSET_UTF8) {
      char *s = NULL;
      if (H5Aread(a, t, &s) >= 0 && s) {
        snprintf(buf, len, "%s", s);
        ok = 0;
      }
      if (s)
        H5free_memory(s);
    }
    if (t >= 0)
      H5Tclose(t);
    if (a >= 0)
      H5Aclose(a);
  }
  H5E_END_TRY;
  return ok;
}

void sl_test_assert_no_open_hdf5(void)
{
  ssize_t n = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
  CU_ASSERT_EQUAL(n, 0);
  if (n != 0)
    fprintf(stderr, "\n  %zd HDF5 objects left open\n", n);
}
