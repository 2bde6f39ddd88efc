/* twin_merge.c -- sl_twin_merge: one twin from twins of disjoint neuron
 * sets (a chip characterised in parts, or several labs' sessions), for
 * `spikeloop twin merge A.h5 B.h5 ... --out T.h5`. Each input's neurons
 * are those its /flags does not mark as not characterised (bit 31); they
 * must not overlap and every input must be for the same dt. Values are
 * copied as stored (float32 parameters, int32 steps, float64 seconds);
 * neurons no input characterised take the medians, as in a fitted twin. */
#include "config.h"
#include "spikeloop/fit.h"
#include "spikeloop/error.h"

#include "calib/twin.h"
#include "io/h5.h"

#include <hdf5.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WHO "twin merge"

static const char *const names[TWIN_NPARAM] = {"tau_mem", "tau_syn", "v_th", "v_leak", "v_reset",
                                               "gain"};

/* One input twin, read whole. */
typedef struct {
  double dt;
  size_t N;
  slc_twin t;
} input;

/* Dataset `path` of f as N doubles into out (optional: NaN when missing). */
static int read_vec(const slh_file *f, const char *path, size_t N, int optional, double *out)
{
  if (optional && !slh_exists(f, path)) {
    for (size_t g = 0; g < N; g++)
      out[g] = NAN;
    return SL_OK;
  }
  hsize_t len;
  double *buf;
  int rc = slh_read_alloc(f, path, H5T_NO_CLASS, H5T_NATIVE_DOUBLE, 1, &len, (void **)&buf);
  if (rc != SL_OK)
    return rc;
  if (len != N)
    rc = sl_error(SL_EFORMAT, WHO ": '%s': %s has %llu entries, n_neurons is %zu", f->path, path,
                  (unsigned long long)len, N);
  else
    memcpy(out, buf, N * sizeof *out);
  free(buf);
  return rc;
}

static int read_input(const char *path, input *in)
{
  slh_file f;
  hid_t root = -1;
  long long nn = 0;
  char *fmt = NULL;
  char name[96];
  double *tmp = NULL;
  int rc;
  memset(in, 0, sizeof *in);
  H5E_BEGIN_TRY
  {
    rc = slh_open_read(&f, WHO, path);
    if (rc == SL_OK) {
      rc = slh_open_group(&f, "/", &root);
      if (rc == SL_OK && (rc = slh_get_attr_str_opt(&f, root, "/", "format", "", &fmt)) == SL_OK &&
          strncmp(fmt, "spikeloop-twin", 14) != 0)
        rc = sl_error(SL_EFORMAT, WHO ": '%s': not a twin file (root attribute format must be "
                      "'spikeloop-twin')", path);
      if (rc == SL_OK)
        rc = slh_get_attr(&f, root, "/", "dt", H5T_NATIVE_DOUBLE, 1, &in->dt);
      if (rc == SL_OK)
        rc = slh_get_attr(&f, root, "/", "n_neurons", H5T_NATIVE_LLONG, 1, &nn);
      if (rc == SL_OK && nn <= 0)
        rc = sl_error(SL_EFORMAT, WHO ": '%s': n_neurons = %lld", path, nn);
      if (root >= 0)
        H5Oclose(root);
      if (rc == SL_OK && !slh_exists(&f, "/flags"))
        rc = sl_error(SL_EFORMAT, WHO ": '%s': /flags is missing: which neurons the twin "
                      "characterised is unknown", path);
      if (rc == SL_OK) {
        in->N = (size_t)nn;
        rc = slc_twin_alloc(&in->t, in->N);
        if (rc == SL_OK && !(tmp = malloc(in->N * sizeof *tmp)))
          rc = sl_error(SL_ENOMEM, WHO ": out of memory");
      }
      for (int k = 0; k < TWIN_NPARAM && rc == SL_OK; k++) {
        snprintf(name, sizeof name, "/mismatch/global/%s", names[k]);
        rc = read_vec(&f, name, in->N, 0, in->t.model[k]);
        snprintf(name, sizeof name, "/se/global/%s", names[k]);
        if (rc == SL_OK)
          rc = read_vec(&f, name, in->N, 1, in->t.mse[k]);
      }
      if (rc == SL_OK)
        rc = read_vec(&f, "/mismatch/global/refrac_s", in->N, 1, in->t.refrac_s);
      if (rc == SL_OK && (rc = read_vec(&f, "/mismatch/global/refrac", in->N, 0, tmp)) == SL_OK)
        for (size_t g = 0; g < in->N; g++)
          in->t.refrac[g] = (int32_t)tmp[g];
      if (rc == SL_OK && (rc = read_vec(&f, "/flags", in->N, 0, tmp)) == SL_OK)
        for (size_t g = 0; g < in->N; g++)
          in->t.flags[g] = (uint32_t)tmp[g];
      slh_close(&f);
    }
  }
  H5E_END_TRY;
  free(tmp);
  free(fmt);
  if (rc)
    slc_twin_free(&in->t);
  return rc;
}

int sl_twin_merge(const char *const *paths, size_t n_paths, const char *out)
{
  if (!paths || !out || !*out)
    return sl_error(SL_EINVAL, "sl_twin_merge: NULL argument");
  if (n_paths < 2)
    return sl_error(SL_EINVAL, WHO ": needs at least two twins (got %zu)", n_paths);
  input *in = calloc(n_paths, sizeof *in);
  size_t *owner = NULL;
  slc_twin m;
  memset(&m, 0, sizeof m);
  if (!in)
    return sl_error(SL_ENOMEM, WHO ": out of memory");
  int rc = SL_OK;
  size_t N = 0, got = 0;
  for (size_t a = 0; a < n_paths && rc == SL_OK; a++, got++) {
    rc = read_input(paths[a], &in[a]);
    if (rc == SL_OK && fabs(in[a].dt - in[0].dt) > 1e-9 * in[0].dt)
      rc = sl_error(SL_EINVAL, WHO ": '%s' is for dt = %g s, '%s' for dt = %g s: refit one "
                    "with --dt", paths[a], in[a].dt, paths[0], in[0].dt);
    if (rc == SL_OK && in[a].N > N)
      N = in[a].N;
  }
  if (rc == SL_OK)
    rc = slc_twin_alloc(&m, N);
  if (rc == SL_OK && !(owner = malloc(N * sizeof *owner)))
    rc = sl_error(SL_ENOMEM, WHO ": out of memory");
  for (size_t g = 0; rc == SL_OK && g < N; g++)
    owner[g] = n_paths;
  size_t present = 0;
  for (size_t a = 0; a < n_paths && rc == SL_OK; a++)
    for (size_t g = 0; g < in[a].N && rc == SL_OK; g++) {
      const slc_twin *t = &in[a].t;
      if (t->flags[g] & TWIN_ABSENT)
        continue;
      if (owner[g] < n_paths) {
        rc = sl_error(SL_EINVAL, WHO ": neuron %zu is characterised in both '%s' and '%s' (the "
                      "twins must cover disjoint neurons)", g, paths[owner[g]], paths[a]);
        break;
      }
      owner[g] = a;
      present++;
      for (int k = 0; k < TWIN_NPARAM; k++) {
        m.model[k][g] = t->model[k][g];
        m.mse[k][g] = t->mse[k][g];
      }
      m.refrac[g] = t->refrac[g];
      m.refrac_s[g] = t->refrac_s[g];
      m.flags[g] = t->flags[g];
    }
  if (rc == SL_OK && !present)
    rc = sl_error(SL_EINVAL, WHO ": no input characterised any neuron");
  if (rc == SL_OK) {
    /* absent neurons: medians (refrac: the median of the present steps) */
    double *steps = malloc(N * sizeof *steps);
    if (!steps) {
      rc = sl_error(SL_ENOMEM, WHO ": out of memory");
    } else {
      size_t k = 0;
      for (size_t g = 0; g < N; g++)
        if (owner[g] < n_paths)
          steps[k++] = m.refrac[g];
      for (size_t a = 1; a < k; a++) /* insertion sort: few distinct values */
        for (size_t b = a; b > 0 && steps[b] < steps[b - 1]; b--) {
          double x = steps[b];
          steps[b] = steps[b - 1];
          steps[b - 1] = x;
        }
      int32_t med = (int32_t)steps[k / 2];
      for (size_t g = 0; g < N; g++)
        if (owner[g] == n_paths)
          m.refrac[g] = med;
      free(steps);
      slc_twin_fill_unfitted(&m);
      char source[1024] = "spikeloop twin merge";
      for (size_t a = 0; a < n_paths; a++)
        snprintf(source + strlen(source), sizeof source - strlen(source), " %s", paths[a]);
      rc = slc_twin_save(&m, in[0].dt, out, source);
    }
  }
  for (size_t a = 0; a < got; a++)
    slc_twin_free(&in[a].t);
  free(in);
  free(owner);
  slc_twin_free(&m);
  return rc;
}
