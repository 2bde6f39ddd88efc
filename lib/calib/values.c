/* values.c -- sl_fit_values_write: every neuron's fitted values, standard
 * errors, flags and residual at full precision (float64), in model and in
 * hardware units, for a lab to compare with its own numbers (`spikeloop
 * fit --values`). The twin (fit.c) holds what the host model can use
 * (float32, medians for unfit neurons, the hold folded into whole steps);
 * this file holds what the fit found, NaN where it found nothing. Layout
 * in spikeloop/fit.h. */
#include "config.h"
#include "spikeloop/fit.h"
#include "spikeloop/error.h"

#include "io/h5.h"

#include <hdf5.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WHO "fit values"

static const char *const model_units[SL_FP_N] = {
    "model units", "model s", "model s", "model units per model s per weight unit",
    "model units", "model units", "model s"};
static const char *const hw_units[SL_FP_N] = {"V", "s", "s", "V per s per weight unit",
                                              "V", "V", "s"};

typedef struct {
  const sl_fit_result *r;
  const char *source;
  double *buf;
} values_file;

static herr_t values_fill(hid_t f, const void *arg, const char **what)
{
  const values_file *w = arg;
  const sl_fit_result *r = w->r;
  const hsize_t n = r->n;
  const int version = 1;
  static const char *const groups[3] = {"/value", "/se", "/hw"};
  *what = "root attributes";
  if (slh_plain_groups(f, groups, 3) < 0 ||
      slh_attr_ascii(f, "/", "format", "spikeloop-fit-values") < 0 ||
      slh_attr_ints(f, "/", "format_version", &version, 1) < 0 ||
      slh_attr_ascii(f, "/", "source", w->source ? w->source : "") < 0 ||
      slh_attr_doubles(f, "/", "time_scale", &r->time_scale, 1) < 0 ||
      slh_attr_doubles(f, "/", "volt_at_zero", &r->volt_at_zero, 1) < 0 ||
      slh_attr_doubles(f, "/", "volt_per_unit", &r->volt_per_unit, 1) < 0)
    return -1;
  *what = "/neurons, /flags, /residual";
  if (slh_dataset(f, "/neurons", H5T_STD_U32LE, H5T_NATIVE_UINT32, 1, &n, r->neurons,
                  SLH_PLAIN) < 0 ||
      slh_dataset(f, "/flags", H5T_STD_U32LE, H5T_NATIVE_UINT32, 1, &n, r->flags, SLH_PLAIN) < 0 ||
      slh_dataset(f, "/residual", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &n, r->residual,
                  SLH_PLAIN) < 0 ||
      slh_attr_ascii(f, "/residual", "units", "model units") < 0 ||
      slh_dataset(f, "/gain_nominal", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &n, r->gain_nominal,
                  SLH_PLAIN) < 0)
    return -1;
  if (r->current_rate &&
      (slh_dataset(f, "/current_rate", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &n,
                   r->current_rate, SLH_PLAIN) < 0 ||
       slh_attr_ascii(f, "/current_rate", "units", "model units per model s") < 0))
    return -1;
  char name[64];
  for (int p = 0; p < SL_FP_N; p++) {
    *what = sl_fit_param_name(p);
    snprintf(name, sizeof name, "/value/%s", sl_fit_param_name(p));
    if (slh_dataset(f, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &n, r->value[p], SLH_PLAIN) <
            0 ||
        slh_attr_ascii(f, name, "units", model_units[p]) < 0)
      return -1;
    snprintf(name, sizeof name, "/se/%s", sl_fit_param_name(p));
    if (slh_dataset(f, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &n, r->se[p], SLH_PLAIN) < 0 ||
        slh_attr_ascii(f, name, "units", model_units[p]) < 0)
      return -1;
    for (size_t i = 0; i < r->n; i++)
      w->buf[i] = sl_fit_to_hw(r, p, i);
    snprintf(name, sizeof name, "/hw/%s", sl_fit_param_name(p));
    if (slh_dataset(f, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &n, w->buf, SLH_PLAIN) < 0 ||
        slh_attr_ascii(f, name, "units", hw_units[p]) < 0)
      return -1;
  }
  return 0;
}

int sl_fit_values_write(const sl_fit_result *r, const char *path, const char *source)
{
  if (!r || !path || !*path || !r->n)
    return sl_error(SL_EINVAL, "sl_fit_values_write: NULL argument or no neurons");
  values_file w = {r, source, malloc(r->n * sizeof(double))};
  if (!w.buf)
    return sl_error(SL_ENOMEM, "sl_fit_values_write: out of memory");
  int rc = slh_write_file(WHO, path, values_fill, &w);
  free(w.buf);
  return rc;
}
