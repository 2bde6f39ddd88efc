/* xbar_twin.c -- the twin of a crossbar: fitting every device of a
 * crossbar recording (stuck state, programming error, read noise, drift),
 * the map file, and the two things the map is for: predicting the weights a
 * programmed crossbar holds at the deployment age, and choosing the device
 * levels that hold given weights best (the deployment's pre-compensation).
 * Equations and the file layout are in spikeloop/xbar.h. */
#include "config.h"
#include "spikeloop/xbar.h"
#include "spikeloop/error.h"
#include "xbar_io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WHO "crossbar twin"
#define FORMAT_NAME "spikeloop-xbar-twin"
#define FORMAT_VERSION 1

#define MAX_PROTO 16 /* protocols the fit takes */
#define N_FLOAT 6 /* g_stuck, drift_gain, nu, prog_bias, prog_sd, read_sd */
static const char *const float_names[N_FLOAT] = {"g_stuck", "drift_gain", "nu",
                                                 "prog_bias", "prog_sd",    "read_sd"};

static float **float_array(sl_xbar_twin *t, int k, size_t l)
{
  float **a[N_FLOAT] = {t->g_stuck, t->drift_gain, t->nu, t->prog_bias, t->prog_sd, t->read_sd};
  return &a[k][l];
}

void sl_xbar_twin_free(sl_xbar_twin *t)
{
  if (!t)
    return;
  for (size_t l = 0; l < SL_XBAR_MAX_LAYERS; l++) {
    free(t->stuck[l]);
    for (int k = 0; k < N_FLOAT; k++)
      free(*float_array(t, k, l));
  }
  memset(t, 0, sizeof *t);
}

/* Arrays of every layer of geometry g: not characterised, gain 1. */
static int twin_alloc(sl_xbar_twin *t, const sl_xbar_geometry *g)
{
  memset(t, 0, sizeof *t);
  t->geo = *g;
  for (size_t l = 0; l < g->n_layers; l++) {
    const size_t n = 2 * g->n_in[l] * g->n_out[l];
    t->stuck[l] = malloc(n);
    int ok = t->stuck[l] != NULL;
    for (int k = 0; k < N_FLOAT; k++)
      ok &= (*float_array(t, k, l) = malloc(n * sizeof(float))) != NULL;
    if (!ok) {
      sl_xbar_twin_free(t);
      return sl_error(SL_ENOMEM, WHO ": out of memory for layer %zu", l);
    }
    memset(t->stuck[l], SL_XBAR_UNKNOWN, n);
    for (size_t q = 0; q < n; q++) {
      t->g_stuck[l][q] = t->prog_bias[l][q] = t->prog_sd[l][q] = t->read_sd[l][q] = NAN;
      t->drift_gain[l][q] = 1.0f;
      t->nu[l][q] = 0.0f;
    }
  }
  return SL_OK;
}

/* ------------------------------------------------------------ the fit */

int sl_xbar_fit(const sl_xbar_charac *c, sl_xbar_twin *out)
{
  if (!c || !out)
    return sl_error(SL_EINVAL, "sl_xbar_fit: NULL argument");
  memset(out, 0, sizeof *out);
  const size_t P = c->n_protocols;
  if (P > MAX_PROTO)
    return sl_error(SL_EFORMAT, WHO ": %zu protocols; the fit takes at most %d", P, MAX_PROTO);
  size_t lo = 0, hi = 0;
  for (size_t p = 0; p < P; p++) {
    if (c->proto[p].level < c->proto[lo].level)
      lo = p;
    if (c->proto[p].level > c->proto[hi].level)
      hi = p;
    if (c->proto[p].time[0] != 0.0)
      return sl_error(SL_EFORMAT, WHO ": protocol %s reads first at %g s, not at 0 (right "
                      "after programming)", c->proto[p].name, c->proto[p].time[0]);
  }
  if (!P || c->proto[hi].level - c->proto[lo].level < 0.5)
    return sl_error(SL_EFORMAT, WHO ": stuck devices need two protocols at least half a window "
                    "apart (levels %g and %g)", P ? c->proto[lo].level : NAN,
                    P ? c->proto[hi].level : NAN);
  int rc = twin_alloc(out, &c->geo);
  if (rc)
    return rc;
  const double gmin = c->geo.g_min, grange = c->geo.g_max - c->geo.g_min;
  const double age = c->geo.age, t0 = c->geo.drift_t0;
  const double lr = age > t0 ? log(age / t0) : 0.0;
#pragma omp parallel for schedule(static)
  for (size_t d = 0; d < c->n_dev; d++) {
    double mean0[MAX_PROTO] = {0}; /* per protocol: mean right after programming */
    double s_var = 0, s_m2 = 0, s0 = 0, sT = 0, e_sum = 0, e_sq = 0, var_reads = 0;
    size_t n_var = 0, n_e = 0, n_T = 0;
    for (size_t p = 0; p < P; p++) {
      const sl_xbar_protocol *q = &c->proto[p];
      const size_t ns = q->times * q->reads, R = q->reads;
      double m_p = 0;
      for (size_t b = 0; b < q->repeats; b++) {
        const float *x = q->g + (d * q->repeats + b) * ns;
        double m = 0, v = 0;
        for (size_t r = 0; r < R; r++)
          m += x[r];
        m /= (double)R;
        for (size_t r = 0; r < R; r++)
          v += (x[r] - m) * (x[r] - m);
        if (R > 1) {
          s_var += v / (double)(R - 1);
          s_m2 += m * m;
          var_reads += v / (double)(R - 1) / (double)R;
          n_var++;
        }
        m_p += m;
        double e = m - q->g_target;
        e_sum += e;
        e_sq += e * e;
        n_e++;
        if (q->times >= 2) { /* the last instant against the first */
          double mT = 0;
          for (size_t r = 0; r < R; r++)
            mT += x[(q->times - 1) * R + r];
          s0 += m;
          sT += mT / (double)R;
          n_T++;
        }
      }
      mean0[p] = m_p / (double)q->repeats;
    }
    const size_t l = c->dev_layer[d];
    const size_t q = (size_t)c->dev_sign[d] * c->geo.n_in[l] * c->geo.n_out[l] +
                     (size_t)c->dev_row[d] * c->geo.n_out[l] + c->dev_col[d];
    const double m_lo = mean0[lo], m_hi = mean0[hi];
    const double span = grange * (c->proto[hi].level - c->proto[lo].level);
    int stuck = 0;
    if (m_hi - m_lo < 0.5 * span)
      stuck = 0.5 * (m_lo + m_hi) > gmin + 0.5 * grange ? 1 : 2;
    out->stuck[l][q] = (uint8_t)stuck;
    double g_all = 0;
    for (size_t p = 0; p < P; p++)
      g_all += mean0[p];
    out->g_stuck[l][q] = stuck ? (float)(g_all / (double)P) : NAN;
    out->read_sd[l][q] = n_var && s_m2 > 0 ? (float)sqrt(s_var / s_m2) : NAN;
    if (!stuck && n_e) {
      double bias = e_sum / (double)n_e;
      double var = e_sq / (double)n_e - bias * bias - (n_var ? var_reads / (double)n_var : 0.0);
      out->prog_bias[l][q] = (float)(bias / grange);
      out->prog_sd[l][q] = (float)(sqrt(var > 0 ? var : 0) / grange);
    }
    double gain = n_T && s0 > 0 ? sT / s0 : 1.0;
    out->drift_gain[l][q] = (float)gain;
    out->nu[l][q] = lr > 0 && gain > 0 ? (float)(-log(gain) / lr) : 0.0f;
  }
  return SL_OK;
}

/* ------------------------------------------------------------ the file */

static herr_t write_twin(hid_t f, const void *arg, const char **what)
{
  const void *const *a = arg;
  const sl_xbar_twin *t = a[0];
  const char *source = a[1];
  *what = "root attributes";
  if (slh_attr_str(f, "/", "format", FORMAT_NAME) < 0 ||
      slh_attr_int(f, "/", "format_version", FORMAT_VERSION) < 0 ||
      slh_attr_str(f, "/", "source", source ? source : "") < 0 ||
      slx_write_geometry(f, &t->geo) < 0)
    return -1;
  for (size_t l = 0; l < t->geo.n_layers; l++) {
    const hsize_t dims[3] = {2, t->geo.n_in[l], t->geo.n_out[l]};
    char name[64];
    snprintf(name, sizeof name, "/layers/%zu/stuck", l);
    *what = "/layers";
    if (slh_dataset(f, name, H5T_STD_U8LE, H5T_NATIVE_UINT8, 3, dims, t->stuck[l],
                    SLH_SHUFFLE) < 0)
      return -1;
    for (int k = 0; k < N_FLOAT; k++) {
      snprintf(name, sizeof name, "/layers/%zu/%s", l, float_names[k]);
      if (slh_dataset(f, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dims,
                      *float_array((sl_xbar_twin *)t, k, l), SLH_DEFLATE) < 0)
        return -1;
    }
  }
  return 0;
}

int sl_xbar_twin_write(const sl_xbar_twin *t, const char *path, const char *source)
{
  if (!t || !path || !*path)
    return sl_error(SL_EINVAL, "sl_xbar_twin_write: NULL argument");
  const void *arg[2] = {t, source};
  return slh_write_file(WHO, path, write_twin, arg);
}

int sl_xbar_twin_read(sl_xbar_twin *t, const char *path)
{
  if (!t || !path)
    return sl_error(SL_EINVAL, "sl_xbar_twin_read: NULL argument");
  memset(t, 0, sizeof *t);
  slh_file f;
  int rc;
  H5E_BEGIN_TRY
  {
    rc = slh_open_read(&f, WHO, path);
    if (!rc) {
      sl_xbar_geometry g;
      rc = slh_check_format(&f, FORMAT_NAME, FORMAT_VERSION, "crossbar twin");
      if (!rc)
        rc = slx_read_geometry(&f, &g);
      if (!rc)
        rc = twin_alloc(t, &g);
      for (size_t l = 0; !rc && l < g.n_layers; l++) {
        const hsize_t dims[3] = {2, g.n_in[l], g.n_out[l]};
        char name[64];
        snprintf(name, sizeof name, "/layers/%zu/stuck", l);
        rc = slh_read_exact(&f, name, H5T_INTEGER, H5T_NATIVE_UINT8, 3, dims, t->stuck[l]);
        for (int k = 0; k < N_FLOAT && !rc; k++) {
          snprintf(name, sizeof name, "/layers/%zu/%s", l, float_names[k]);
          hid_t ds = -1;
          hsize_t got[3];
          rc = slh_open_dataset(&f, name, H5T_FLOAT, 3, got, &ds);
          if (!rc && (got[0] != 2 || got[1] != g.n_in[l] || got[2] != g.n_out[l]))
            rc = slh_bad_shape(&f, name, 3, got, dims);
          if (!rc) /* NaN marks what was not fitted: read as it is */
            rc = slh_read(&f, ds, name, H5T_NATIVE_FLOAT, 2 * g.n_in[l] * g.n_out[l],
                          *float_array(t, k, l));
          if (ds >= 0)
            H5Dclose(ds);
        }
        const size_t n = 2 * g.n_in[l] * g.n_out[l];
        for (size_t q = 0; !rc && q < n; q++)
          if ((t->stuck[l][q] > 2 && t->stuck[l][q] != SL_XBAR_UNKNOWN) ||
              !(t->drift_gain[l][q] > 0) || !isfinite(t->drift_gain[l][q]))
            rc = sl_error(SL_EFORMAT, WHO ": '%s': layer %zu device %zu: stuck = %u, drift_gain "
                          "= %g (need 0, 1, 2 or 255 and a finite gain > 0)", path, l, q,
                          (unsigned)t->stuck[l][q], (double)t->drift_gain[l][q]);
      }
      slh_close(&f);
    }
  }
  H5E_END_TRY;
  if (rc)
    sl_xbar_twin_free(t);
  return rc;
}

/* ------------------------------------------------- predict and choose */

/* Drift gain of device q of layer l; a device not characterised takes the
 * layer's mean over the characterised ones. */
static double gain_of(const sl_xbar_twin *t, size_t l, size_t q, double mean_gain)
{
  return t->stuck[l][q] == SL_XBAR_UNKNOWN ? mean_gain : (double)t->drift_gain[l][q];
}

static double mean_gain(const sl_xbar_twin *t, size_t l)
{
  const size_t n = 2 * t->geo.n_in[l] * t->geo.n_out[l];
  double s = 0;
  size_t k = 0;
  for (size_t q = 0; q < n; q++)
    if (t->stuck[l][q] != SL_XBAR_UNKNOWN) {
      s += t->drift_gain[l][q];
      k++;
    }
  return k ? s / (double)k : 1.0;
}

/* The conductance device q holds right after programming towards g. */
static double held(const sl_xbar_twin *t, size_t l, size_t q, double g)
{
  uint8_t s = t->stuck[l][q];
  return (s == 1 || s == 2) && isfinite(t->g_stuck[l][q]) ? (double)t->g_stuck[l][q] : g;
}

static int check_layer(const sl_xbar_twin *t, size_t layer, double w_max, const char *who)
{
  if (!t || layer >= t->geo.n_layers)
    return sl_error(SL_EINVAL, "%s: no layer %zu in the twin (%zu layers)", who, layer,
                    t ? t->geo.n_layers : 0);
  if (!(w_max > 0) || !isfinite(w_max))
    return sl_error(SL_EINVAL, "%s: w_max = %g must be > 0", who, w_max);
  return SL_OK;
}

/* The global compensation the chip computes for the programmed gp, gm:
 * sum of conductances at t = 0 over their sum at the age (spikeloop/cim.h
 * step 5); 1 when the twin's geometry has no drift (age <= drift_t0). */
static double compensation(const sl_xbar_twin *t, size_t l, const float *gp, const float *gm,
                           double mg)
{
  const size_t nio = t->geo.n_in[l] * t->geo.n_out[l];
  if (!t->geo.compensation)
    return 1.0;
  double s0 = 0, s1 = 0;
  for (size_t k = 0; k < nio; k++) {
    double a = held(t, l, k, gp[k]), b = held(t, l, nio + k, gm[k]);
    s0 += a + b;
    s1 += a * gain_of(t, l, k, mg) + b * gain_of(t, l, nio + k, mg);
  }
  return s1 > 0 ? s0 / s1 : 1.0;
}

int sl_xbar_predict(const sl_xbar_twin *t, size_t layer, double w_max, const float *gp,
                    const float *gm, float *w)
{
  int rc = check_layer(t, layer, w_max, "sl_xbar_predict");
  if (rc)
    return rc;
  if (!gp || !gm || !w)
    return sl_error(SL_EINVAL, "sl_xbar_predict: NULL argument");
  const size_t l = layer, nio = t->geo.n_in[l] * t->geo.n_out[l];
  const double mg = mean_gain(t, l);
  const double scale = compensation(t, l, gp, gm, mg) * w_max / (t->geo.g_max - t->geo.g_min);
  for (size_t k = 0; k < nio; k++) {
    double a = held(t, l, k, gp[k]) * gain_of(t, l, k, mg);
    double b = held(t, l, nio + k, gm[k]) * gain_of(t, l, nio + k, mg);
    w[k] = (float)((a - b) * scale);
  }
  return SL_OK;
}

/* One pass of the choice under a fixed compensation factor comp. */
static void choose_pass(const sl_xbar_twin *t, size_t l, double w_max, const float *w,
                        double comp, double mg, float *gp, float *gm)
{
  const size_t nio = t->geo.n_in[l] * t->geo.n_out[l];
  const int L = t->geo.levels;
  const double gmin = t->geo.g_min, step = (t->geo.g_max - gmin) / (L - 1);
  const double scale = comp * w_max / (t->geo.g_max - gmin);
#pragma omp parallel for schedule(static)
  for (size_t k = 0; k < nio; k++) {
    const double ap = gain_of(t, l, k, mg), am = gain_of(t, l, nio + k, mg);
    const int sp = t->stuck[l][k] == 1 || t->stuck[l][k] == 2;
    const int sm = t->stuck[l][nio + k] == 1 || t->stuck[l][nio + k] == 2;
    /* read noise, relative to the conductance read (0 where not measured) */
    const double rp = isfinite(t->read_sd[l][k]) ? t->read_sd[l][k] : 0.0;
    const double rm = isfinite(t->read_sd[l][nio + k]) ? t->read_sd[l][nio + k] : 0.0;
    double best = INFINITY;
    int bp = 0, bm = 0;
    for (int i = 0; i < (sp ? 1 : L); i++)      /* a stuck device: any level, it holds */
      for (int j = 0; j < (sm ? 1 : L); j++) {  /* its own; level 0 costs least */
        double g1 = held(t, l, k, gmin + i * step), g2 = held(t, l, nio + k, gmin + j * step);
        /* expected squared error: the predicted one plus the read noise of
         * the pair (the programming noise is the same for every level) */
        double e = (g1 * ap - g2 * am) * scale - (double)w[k];
        double n1 = rp * g1 * ap * scale, n2 = rm * g2 * am * scale;
        e = e * e + n1 * n1 + n2 * n2;
        if (e < best * (1 - 1e-12) || (e <= best * (1 + 1e-12) && i + j < bp + bm)) {
          best = e;
          bp = i;
          bm = j;
        }
      }
    gp[k] = (float)(gmin + bp * step);
    gm[k] = (float)(gmin + bm * step);
  }
}

int sl_xbar_choose(const sl_xbar_twin *t, size_t layer, double w_max, const float *w, float *gp,
                   float *gm)
{
  int rc = check_layer(t, layer, w_max, "sl_xbar_choose");
  if (rc)
    return rc;
  if (!w || !gp || !gm)
    return sl_error(SL_EINVAL, "sl_xbar_choose: NULL argument");
  if (t->geo.levels < 2)
    return sl_error(SL_EUNSUPPORTED, "sl_xbar_choose: continuous devices (levels = %d) are not "
                    "supported; the choice searches the device levels", t->geo.levels);
  const size_t l = layer;
  const double mg = mean_gain(t, l);
  /* the compensation depends on the choice: start from the mean gain's,
   * then choose again under the one the last choice gives, until it stays
   * (a few passes; the choice is discrete, so stop after 6 in any case) */
  double comp = t->geo.compensation && mg > 0 ? 1.0 / mg : 1.0;
  for (int pass = 0; pass < 6; pass++) {
    choose_pass(t, l, w_max, w, comp, mg, gp, gm);
    double next = compensation(t, l, gp, gm, mg);
    if (fabs(next - comp) <= 1e-12 * comp)
      break;
    comp = next;
  }
  return SL_OK;
}
