/* fuzz_recording.c -- libFuzzer harness: backend recordings as the replay
 * backend reads them: open (root, /setup, /caps, the index of every run)
 * and one request served (the weights and raster of the template's first
 * run, so that an unmutated file serves it). Structure-level mutations of
 * the template recording.h5 (a bss2 training of 2 steps, recorded). The
 * setup and the request are read once from the unmutated template. */
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spikeloop/backend.h"
#include "spikeloop/error.h"
#include "spikeloop/registry.h"
#include "h5mut.h"

static sl_backend_setup setup;
static char options[600];
static float *x, *w[SL_MAX_LAYERS + 1][2];
static size_t T, B, rows[SL_MAX_LAYERS + 1][2], cols[SL_MAX_LAYERS + 1][2];

static int attr_i64(hid_t loc, const char *name, int64_t *v, size_t n)
{
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  int rc = a >= 0 && H5Aread(a, H5T_NATIVE_INT64, v) >= 0 ? 0 : -1;
  (void)n;
  if (a >= 0)
    H5Aclose(a);
  return rc;
}

static float *read_floats(hid_t file, const char *name, size_t *d0, size_t *d1, size_t *d2)
{
  hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
  if (d < 0)
    return NULL;
  hid_t s = H5Dget_space(d);
  hsize_t dims[3] = {1, 1, 1};
  H5Sget_simple_extent_dims(s, dims, NULL);
  hssize_t np = H5Sget_simple_extent_npoints(s);
  float *v = malloc((size_t)np * sizeof *v);
  if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
    free(v);
    v = NULL;
  }
  *d0 = dims[0];
  *d1 = dims[1];
  if (d2)
    *d2 = dims[2];
  H5Sclose(s);
  H5Dclose(d);
  return v;
}

/* The setup and the first run's request, from the unmutated template. */
static void read_request(const char *tmpl)
{
  hid_t f = H5Fopen(tmpl, H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t g = H5Gopen2(f, "/setup", H5P_DEFAULT);
  int64_t v[SL_MAX_LAYERS + 1] = {0};
  attr_i64(g, "n_in", v, 1);
  setup.n_in = (size_t)v[0];
  attr_i64(g, "n_layers", v, 1);
  setup.n_layers = (size_t)v[0];
  attr_i64(g, "sizes", v, setup.n_layers + 1);
  for (size_t l = 0; l <= setup.n_layers; l++)
    setup.size[l] = (size_t)v[l];
  attr_i64(g, "recurrent", v, setup.n_layers + 1);
  for (size_t l = 0; l <= setup.n_layers; l++)
    setup.recurrent[l] = (int)v[l];
  attr_i64(g, "max_steps", v, 1);
  setup.max_steps = (size_t)v[0];
  attr_i64(g, "max_batch", v, 1);
  setup.max_batch = (size_t)v[0];
  hid_t a = H5Aopen(g, "dt", H5P_DEFAULT);
  H5Aread(a, H5T_NATIVE_DOUBLE, &setup.dt);
  H5Aclose(a);
  a = H5Aopen(g, "w_unit", H5P_DEFAULT);
  H5Aread(a, H5T_NATIVE_DOUBLE, setup.w_unit);
  H5Aclose(a);
  H5Gclose(g);
  size_t d2;
  x = read_floats(f, "/runs/0/x", &T, &B, &d2);
  hid_t d = H5Dopen2(f, "/runs/0/weights", H5P_DEFAULT);
  int64_t idx[SL_MAX_LAYERS + 1][2];
  H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, idx);
  H5Dclose(d);
  for (size_t l = 0; l <= setup.n_layers; l++)
    for (int k = 0; k < 2; k++)
      if (idx[l][k] >= 0) {
        char name[64];
        snprintf(name, sizeof name, "/weights/%lld", (long long)idx[l][k]);
        w[l][k] = read_floats(f, name, &rows[l][k], &cols[l][k], NULL);
      }
  H5Fclose(f);
  if (!x) {
    fprintf(stderr, "fuzz_recording: the template '%s' has no /runs/0\n", tmpl);
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fz_init();
  static int ready;
  if (!ready) {
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/recording.h5", fz_template_dir());
    fz_named_template("recording.h5");
    read_request(tmpl);
    ready = 1;
  }
  const char *path = fz_scratch(".h5");
  if (fz_h5_mutate(fz_named_template("recording.h5"), path, data, size) < 0)
    return 0;
  snprintf(options, sizeof options, "file=%s", path);
  setup.options = options;
  sl_hw *hw = NULL;
  if (sl_hw_open(&hw, "replay", &setup) == SL_OK) {
    sl_observations obs;
    sl_obs_init(&obs);
    int rc = SL_OK;
    for (size_t l = 0; l <= setup.n_layers && !rc; l++)
      for (int k = 0; k < 2 && !rc; k++)
        if (w[l][k])
          rc = sl_hw_write_weights(hw, l, k, w[l][k], rows[l][k], cols[l][k]);
    if (!rc)
      sl_hw_run(hw, x, T, B, &obs);
    sl_obs_free(&obs);
  }
  sl_hw_close(hw);
  sl_clear_error();
  return 0;
}
