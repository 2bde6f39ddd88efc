/* calib.c -- chips from Python: spikeloop.Charac over sl_charac (a
 * characterisation recording, spikeloop/charac.h), spikeloop.FitResult over
 * sl_fit_result (per-neuron fits, spikeloop/fit.h), and the module functions
 * characterise_bss2, calibrate_bss2 (spikeloop/calibrate.h), read_twin and
 * parse_neurons. Recordings and fits are exposed as read-only NumPy views
 * of the library's arrays (they pin the object). Long calls release the GIL. */
#include "slpy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ FitResult */

typedef struct {
  slpy_handle h; /* ptr: the sl_fit_result below, once filled */
  sl_fit_result r;
} fit_obj;

static void fit_destroy(slpy_handle *h) { sl_fit_result_free(&((fit_obj *)h)->r); }

static PyTypeObject fit_type;

/* A FitResult taking over *r (zeroed afterwards). */
static PyObject *fit_wrap(sl_fit_result *r)
{
  fit_obj *o = (fit_obj *)fit_type.tp_alloc(&fit_type, 0);
  if (!o) {
    sl_fit_result_free(r);
    return NULL;
  }
  o->h.destroy = fit_destroy;
  o->r = *r;
  memset(r, 0, sizeof *r);
  o->h.ptr = &o->r;
  return (PyObject *)o;
}

static PyObject *fit_arrays(fit_obj *o, int se)
{
  if (!slpy_usable(&o->h, "FitResult"))
    return NULL;
  npy_intp n = (npy_intp)o->r.n;
  PyObject *d = PyDict_New();
  for (int p = 0; d && p < SL_FP_N; p++)
    if (slpy_dict_steal(d, sl_fit_param_name(p),
                        slpy_view(&o->h, se ? o->r.se[p] : o->r.value[p], 1, &n, NPY_FLOAT64)) < 0)
      Py_CLEAR(d);
  return d;
}

static PyObject *fit_get_values(PyObject *self, void *u) { return fit_arrays((fit_obj *)self, 0); }
static PyObject *fit_get_se(PyObject *self, void *u) { return fit_arrays((fit_obj *)self, 1); }

static PyObject *fit_get_array(PyObject *self, void *which)
{
  fit_obj *o = (fit_obj *)self;
  if (!slpy_usable(&o->h, "FitResult"))
    return NULL;
  npy_intp n = (npy_intp)o->r.n;
  const char *w = which;
  if (strcmp(w, "neurons") == 0)
    return slpy_view(&o->h, o->r.neurons, 1, &n, NPY_UINT32);
  if (strcmp(w, "flags") == 0)
    return slpy_view(&o->h, o->r.flags, 1, &n, NPY_UINT32);
  if (strcmp(w, "residual") == 0)
    return slpy_view(&o->h, o->r.residual, 1, &n, NPY_FLOAT64);
  return slpy_view(&o->h, o->r.gain_nominal, 1, &n, NPY_FLOAT64);
}

static PyObject *fit_to_hw(PyObject *self, PyObject *name_o)
{
  fit_obj *o = (fit_obj *)self;
  const char *name = PyUnicode_Check(name_o) ? PyUnicode_AsUTF8(name_o) : NULL;
  int p = 0;
  while (name && p < SL_FP_N && strcmp(sl_fit_param_name(p), name) != 0)
    p++;
  if (!name || p == SL_FP_N) {
    PyErr_Clear();
    return slpy_raise(sl_error(SL_ENOTFOUND, "to_hw: unknown parameter (one of the keys of values)"));
  }
  if (!slpy_usable(&o->h, "FitResult"))
    return NULL;
  npy_intp n = (npy_intp)o->r.n;
  PyArrayObject *a = slpy_new(1, &n, NPY_FLOAT64);
  if (!a)
    return NULL;
  double *d = PyArray_DATA(a);
  for (size_t i = 0; i < o->r.n; i++)
    d[i] = sl_fit_to_hw(&o->r, p, i);
  return (PyObject *)a;
}

static PyObject *fit_select(PyObject *self, PyObject *ids_o)
{
  fit_obj *o = (fit_obj *)self;
  PyArrayObject *ids = slpy_array_in(ids_o, NPY_UINT32, 1, 1, "ids");
  if (!ids)
    return NULL;
  if (PyArray_SIZE(ids) == 0) {
    Py_DECREF(ids);
    return slpy_raise(sl_error(SL_EINVAL, "select: no ids"));
  }
  if (o->h.pins) {
    Py_DECREF(ids);
    PyErr_SetString(PyExc_RuntimeError,
                    "select: arrays still view this FitResult (select replaces them); delete them "
                    "or copy them first");
    return NULL;
  }
  if (slpy_enter(&o->h, "FitResult") < 0) {
    Py_DECREF(ids);
    return NULL;
  }
  int rc = sl_fit_result_select(&o->r, PyArray_DATA(ids), (size_t)PyArray_SIZE(ids));
  slpy_leave(&o->h);
  Py_DECREF(ids);
  if (rc)
    return slpy_raise(rc);
  Py_RETURN_NONE;
}

static PyObject *fit_write_twin(PyObject *self, PyObject *args, PyObject *kw)
{
  static char *kwlist[] = {"path", "dt", "source", NULL};
  fit_obj *o = (fit_obj *)self;
  PyObject *path_o;
  double dt;
  const char *source = "python";
  if (!PyArg_ParseTupleAndKeywords(args, kw, "Od|s:write_twin", kwlist, &path_o, &dt, &source))
    return NULL;
  PyObject *p = slpy_path(path_o, "path");
  if (!p)
    return NULL;
  if (slpy_enter(&o->h, "FitResult") < 0) {
    Py_DECREF(p);
    return NULL;
  }
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = sl_twin_write(&o->r, dt, PyBytes_AS_STRING(p), source);
  Py_END_ALLOW_THREADS
  slpy_leave(&o->h);
  Py_DECREF(p);
  if (rc)
    return slpy_raise(rc);
  Py_RETURN_NONE;
}

static PyObject *fit_get_n(PyObject *self, void *u)
{
  fit_obj *o = (fit_obj *)self;
  return slpy_usable(&o->h, "FitResult") ? PyLong_FromSize_t(o->r.n) : NULL;
}

static PyMethodDef fit_methods[] = {
    {"to_hw", fit_to_hw, METH_O, "to_hw(name) -> the fitted parameter in hardware units (s, V, V/s per unit)."},
    {"select", fit_select, METH_O, "select(ids): keep only the neurons whose id is in ids (in the fit's order)."},
    {"write_twin", (PyCFunction)(void (*)(void))fit_write_twin, METH_VARARGS | METH_KEYWORDS,
     "write_twin(path, dt, source='python'): the digital twin file for a host model with step dt "
     "(config key neuron.twin)."},
    {"close", slpy_meth_close, METH_NOARGS, "close(): free the arrays (views keep them)."},
    {"__enter__", slpy_meth_enter, METH_NOARGS, NULL},
    {"__exit__", slpy_meth_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef fit_getset[] = {
    {"n", fit_get_n, NULL, "neurons fitted", NULL},
    {"values", fit_get_values, NULL, "{param: float64 (n)} fitted values, model units (NaN: not fitted)", NULL},
    {"se", fit_get_se, NULL, "{param: float64 (n)} standard errors", NULL},
    {"neurons", fit_get_array, NULL, "uint32 (n) neuron ids", "neurons"},
    {"flags", fit_get_array, NULL, "uint32 (n) SL_FIT_* bits (0: every parameter fitted)", "flags"},
    {"residual", fit_get_array, NULL, "float64 (n) rms residual, model units", "residual"},
    {"gain_nominal", fit_get_array, NULL, "float64 (n) from the recording", "gain_nominal"},
    {"closed", slpy_get_closed, NULL, "whether close() was called", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject fit_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "spikeloop.FitResult",
    .tp_basicsize = sizeof(fit_obj),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Per-neuron fits of a characterisation (Charac.fit(), characterise_bss2()).",
    .tp_dealloc = slpy_handle_dealloc,
    .tp_methods = fit_methods,
    .tp_getset = fit_getset,
};

/* ------------------------------------------------------------ Charac */

typedef struct {
  slpy_handle h; /* ptr: &c once filled */
  sl_charac c;
} charac_obj;

static void charac_destroy(slpy_handle *h) { sl_charac_free(&((charac_obj *)h)->c); }

static PyTypeObject charac_type;

static PyObject *charac_wrap(sl_charac *c)
{
  charac_obj *o = (charac_obj *)charac_type.tp_alloc(&charac_type, 0);
  if (!o) {
    sl_charac_free(c);
    return NULL;
  }
  o->h.destroy = charac_destroy;
  o->c = *c;
  memset(c, 0, sizeof *c);
  o->h.ptr = &o->c;
  return (PyObject *)o;
}

static PyObject *charac_read(PyObject *cls, PyObject *path_o)
{
  PyObject *p = slpy_path(path_o, "path");
  if (!p)
    return NULL;
  sl_charac c;
  memset(&c, 0, sizeof c);
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = sl_charac_read(&c, PyBytes_AS_STRING(p));
  Py_END_ALLOW_THREADS
  Py_DECREF(p);
  if (rc) {
    sl_charac_free(&c);
    return slpy_raise(rc);
  }
  return charac_wrap(&c);
}

static PyObject *charac_write(PyObject *self, PyObject *path_o)
{
  charac_obj *o = (charac_obj *)self;
  PyObject *p = slpy_path(path_o, "path");
  if (!p)
    return NULL;
  if (slpy_enter(&o->h, "Charac") < 0) {
    Py_DECREF(p);
    return NULL;
  }
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = sl_charac_write(&o->c, PyBytes_AS_STRING(p));
  Py_END_ALLOW_THREADS
  slpy_leave(&o->h);
  Py_DECREF(p);
  if (rc)
    return slpy_raise(rc);
  Py_RETURN_NONE;
}

static PyObject *charac_fit(PyObject *self, PyObject *unused)
{
  charac_obj *o = (charac_obj *)self;
  if (slpy_enter(&o->h, "Charac") < 0)
    return NULL;
  sl_fit_result r;
  memset(&r, 0, sizeof r);
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = sl_fit_run(&o->c, &r);
  Py_END_ALLOW_THREADS
  slpy_leave(&o->h);
  if (rc) {
    sl_fit_result_free(&r);
    return slpy_raise(rc);
  }
  return fit_wrap(&r);
}

static const char *protocol_name(int p)
{
  return p == SL_STIM_DECAY     ? "decay"
         : p == SL_STIM_PSP     ? "psp"
         : p == SL_STIM_CURRENT ? "current"
         : p == SL_CHARAC_RAMP  ? "ramp"
                                : "?";
}

/* A per-neuron stimulus array (n) as a view, or None when the protocol
 * gives one value for every neuron. */
static PyObject *per_neuron(charac_obj *o, double *v)
{
  npy_intp n = (npy_intp)o->c.n;
  if (!v)
    Py_RETURN_NONE;
  return slpy_view(&o->h, v, 1, &n, NPY_FLOAT64);
}

static PyObject *charac_get_protocols(PyObject *self, void *u)
{
  charac_obj *o = (charac_obj *)self;
  if (!slpy_usable(&o->h, "Charac"))
    return NULL;
  PyObject *l = PyList_New(0);
  for (size_t i = 0; l && i < o->c.n_protocols; i++) {
    sl_charac_protocol *p = &o->c.proto[i];
    npy_intp ns = (npy_intp)p->n_samples, nsp = (npy_intp)p->n_spikes;
    npy_intp md[3] = {(npy_intp)p->n_rows, (npy_intp)p->repeats, ns}; /* the rows it recorded */
    PyObject *d = Py_BuildValue(
        "{s:s,s:s,s:d,s:d,s:d,s:d,s:d,s:n,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N}", "name", p->name,
        "protocol",
        protocol_name(p->protocol), "level", p->level, "weight", p->weight, "current", p->current,
        "pre", p->pre, "duration", p->duration, "repeats", (Py_ssize_t)p->repeats, "time",
        slpy_view(&o->h, p->time, 1, &ns, NPY_FLOAT64), "membrane",
        slpy_view(&o->h, p->membrane, 3, md, NPY_FLOAT32), "spike_neuron",
        slpy_view(&o->h, p->spike_neuron, 1, &nsp, NPY_UINT32), "spike_trial",
        slpy_view(&o->h, p->spike_trial, 1, &nsp, NPY_UINT32), "spike_time",
        slpy_view(&o->h, p->spike_time, 1, &nsp, NPY_FLOAT64), "level_per_neuron",
        per_neuron(o, p->level_n), "weight_per_neuron", per_neuron(o, p->weight_n),
        "current_per_neuron", per_neuron(o, p->current_n));
    if (!d || PyList_Append(l, d) < 0)
      Py_CLEAR(l);
    Py_XDECREF(d);
  }
  return l;
}

static PyObject *charac_get_info(PyObject *self, void *u)
{
  charac_obj *o = (charac_obj *)self;
  if (!slpy_usable(&o->h, "Charac"))
    return NULL;
  const sl_charac *c = &o->c;
  return Py_BuildValue("{s:s,s:s,s:s,s:d,s:d,s:d,s:d,s:d,s:i,s:n}", "backend", c->backend,
                       "options", c->options, "membrane_units", c->membrane_units, "time_scale",
                       c->time_scale, "volt_at_zero", c->volt_at_zero, "volt_per_unit",
                       c->volt_per_unit, "spike_delay", c->spike_delay, "dt", c->dt, "adc_bits",
                       c->adc_bits, "n", (Py_ssize_t)c->n);
}

static PyObject *charac_get_neurons(PyObject *self, void *u)
{
  charac_obj *o = (charac_obj *)self;
  if (!slpy_usable(&o->h, "Charac"))
    return NULL;
  npy_intp n = (npy_intp)o->c.n;
  return slpy_view(&o->h, o->c.neurons, 1, &n, NPY_UINT32);
}

static PyObject *charac_get_gain_nominal(PyObject *self, void *u)
{
  charac_obj *o = (charac_obj *)self;
  if (!slpy_usable(&o->h, "Charac"))
    return NULL;
  npy_intp n = (npy_intp)o->c.n;
  return slpy_view(&o->h, o->c.gain_nominal, 1, &n, NPY_FLOAT64);
}

static PyMethodDef charac_methods[] = {
    {"read", charac_read, METH_O | METH_STATIC, "Charac.read(path) -> Charac: read a characterisation recording."},
    {"write", charac_write, METH_O, "write(path): save the recording (HDF5, spikeloop/charac.h)."},
    {"fit", charac_fit, METH_NOARGS, "fit() -> FitResult: fit every neuron (GIL released)."},
    {"close", slpy_meth_close, METH_NOARGS, "close(): free the recording (views keep it)."},
    {"__enter__", slpy_meth_enter, METH_NOARGS, NULL},
    {"__exit__", slpy_meth_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef charac_getset[] = {
    {"info", charac_get_info, NULL, "backend, options, units and mapping of the recording", NULL},
    {"neurons", charac_get_neurons, NULL, "uint32 (n) neuron ids", NULL},
    {"gain_nominal", charac_get_gain_nominal, NULL, "float64 (n)", NULL},
    {"protocols", charac_get_protocols, NULL,
     "list of dicts: name, protocol, level, weight, current (NaN when per neuron), "
     "level_per_neuron, weight_per_neuron, current_per_neuron (arrays by /neurons row, or None), "
     "pre, duration, repeats, time "
     "(n_samples), membrane (rows it recorded, repeats, n_samples), spike_neuron (/neurons row), "
     "spike_trial, spike_time", NULL},
    {"closed", slpy_get_closed, NULL, "whether close() was called", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject charac_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "spikeloop.Charac",
    .tp_basicsize = sizeof(charac_obj),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A characterisation recording: raw observations of the standard protocols "
              "(Charac.read(path), characterise_bss2()).",
    .tp_dealloc = slpy_handle_dealloc,
    .tp_methods = charac_methods,
    .tp_getset = charac_getset,
};

/* ------------------------------------------------------------ module functions */

/* neurons: None (all 512 circuits), a text list "0-99,200" or an array of ids. */
static int neuron_ids(PyObject *o, uint32_t **ids, size_t *n)
{
  *ids = NULL;
  *n = 0;
  if (!o || o == Py_None)
    o = NULL;
  if (!o || PyUnicode_Check(o)) {
    const char *t = o ? PyUnicode_AsUTF8(o) : "0-511";
    if (!t)
      return -1;
    int rc = sl_calib_parse_neurons(t, 512, ids, n);
    return rc ? slpy_fail(rc) : 0;
  }
  PyArrayObject *a = slpy_array_in(o, NPY_UINT32, 1, 1, "neurons");
  if (!a)
    return -1;
  *n = (size_t)PyArray_SIZE(a);
  *ids = malloc((*n ? *n : 1) * sizeof **ids);
  if (!*ids) {
    Py_DECREF(a);
    PyErr_NoMemory();
    return -1;
  }
  memcpy(*ids, PyArray_DATA(a), *n * sizeof **ids);
  Py_DECREF(a);
  if (*n == 0) {
    free(*ids);
    *ids = NULL;
    return slpy_fail(sl_error(SL_EINVAL, "neurons: empty list"));
  }
  return 0;
}

static PyObject *mod_characterise_bss2(PyObject *m, PyObject *args, PyObject *kw)
{
  static char *kwlist[] = {"options", "neurons", "fit", NULL};
  const char *options = "";
  PyObject *neurons = Py_None;
  int fit = 1;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|sOp:characterise_bss2", kwlist, &options, &neurons, &fit))
    return NULL;
  uint32_t *ids;
  size_t n;
  if (neuron_ids(neurons, &ids, &n) < 0)
    return NULL;
  sl_charac c;
  sl_fit_result r;
  memset(&c, 0, sizeof c);
  memset(&r, 0, sizeof r);
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = sl_calib_characterise_bss2(options, ids, n, &c, fit ? &r : NULL);
  Py_END_ALLOW_THREADS
  free(ids);
  if (rc) {
    sl_charac_free(&c);
    sl_fit_result_free(&r);
    return slpy_raise(rc);
  }
  PyObject *co = charac_wrap(&c);
  PyObject *fo = fit ? fit_wrap(&r) : (Py_INCREF(Py_None), Py_None);
  if (!co || !fo) {
    Py_XDECREF(co);
    Py_XDECREF(fo);
    return NULL;
  }
  return Py_BuildValue("(NN)", co, fo);
}

static PyObject *report_params(const double *v)
{
  PyObject *d = PyDict_New();
  for (int p = 0; d && p < SL_FP_N; p++)
    if (slpy_dict_steal(d, sl_fit_param_name(p), PyFloat_FromDouble(v[p])) < 0)
      Py_CLEAR(d);
  return d;
}

static PyObject *mod_calibrate_bss2(PyObject *m, PyObject *args, PyObject *kw)
{
  static char *kwlist[] = {"out", "options", "targets", "circuits", "iterations", NULL};
  PyObject *out_o, *targets = Py_None, *circuits = Py_None;
  const char *options = "";
  int iterations = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O|sOOi:calibrate_bss2", kwlist, &out_o, &options,
                                   &targets, &circuits, &iterations))
    return NULL;
  sl_calib_targets t = sl_calib_targets_default();
  if (iterations < 0)
    return PyErr_Format(PyExc_ValueError, "calibrate_bss2: iterations must be >= 0");
  if (iterations)
    t.iterations = iterations;
  if (PyUnicode_Check(targets) || PyDict_Check(targets)) {
    PyObject *text = targets;
    Py_INCREF(text);
    if (PyDict_Check(targets)) { /* {"tau_mem": 6e-6} -> "tau_mem=6e-06" */
      PyObject *parts = PyList_New(0), *k, *v;
      Py_ssize_t pos = 0;
      while (parts && PyDict_Next(targets, &pos, &k, &v)) {
        PyObject *s = PyUnicode_FromFormat("%S=%R", k, v);
        if (!s || PyList_Append(parts, s) < 0)
          Py_CLEAR(parts);
        Py_XDECREF(s);
      }
      PyObject *sep = PyUnicode_FromString(",");
      Py_DECREF(text);
      text = parts && sep ? PyUnicode_Join(sep, parts) : NULL;
      Py_XDECREF(parts);
      Py_XDECREF(sep);
      if (!text)
        return NULL;
    }
    const char *tt = PyUnicode_AsUTF8(text);
    int rc = tt ? sl_calib_targets_parse(&t, tt) : -1;
    Py_DECREF(text);
    if (rc < 0)
      return NULL;
    if (rc)
      return slpy_raise(rc);
  } else if (targets != Py_None) {
    return PyErr_Format(PyExc_TypeError, "calibrate_bss2: targets must be a dict or 'k=v,...' text");
  }
  uint32_t *ids = NULL;
  size_t n = 0;
  if (circuits != Py_None && neuron_ids(circuits, &ids, &n) < 0)
    return NULL;
  t.circuits = ids;
  t.n_circuits = n;
  PyObject *p = slpy_path(out_o, "out");
  if (!p) {
    free(ids);
    return NULL;
  }
  sl_calib_report rep;
  memset(&rep, 0, sizeof rep);
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = sl_calib_run(options, &t, PyBytes_AS_STRING(p), &rep);
  Py_END_ALLOW_THREADS
  free(ids);
  Py_DECREF(p);
  if (rc)
    return slpy_raise(rc);
  return Py_BuildValue("{s:N,s:N,s:N,s:N,s:n,s:n,s:d}", "mean_before", report_params(rep.mean_before),
                       "sd_before", report_params(rep.sd_before), "mean_after",
                       report_params(rep.mean_after), "sd_after", report_params(rep.sd_after),
                       "n_fitted_before", (Py_ssize_t)rep.n_fitted_before, "n_fitted_after",
                       (Py_ssize_t)rep.n_fitted_after, "seconds", rep.seconds);
}

static PyObject *mod_read_twin(PyObject *m, PyObject *args, PyObject *kw)
{
  static char *kwlist[] = {"path", "n", "dt", "layer", "offset", "readout", NULL};
  PyObject *path_o;
  Py_ssize_t n, offset = 0;
  double dt;
  const char *layer = "global";
  int readout = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "Ond|snp:read_twin", kwlist, &path_o, &n, &dt, &layer,
                                   &offset, &readout))
    return NULL;
  if (n <= 0 || offset < 0)
    return PyErr_Format(PyExc_ValueError, "read_twin: n must be > 0 and offset >= 0");
  PyObject *p = slpy_path(path_o, "path");
  if (!p)
    return NULL;
  sl_neurons nr;
  int rc = sl_neurons_alloc(&nr, (size_t)n, NULL);
  if (!rc) {
    Py_BEGIN_ALLOW_THREADS
    rc = sl_twin_apply(PyBytes_AS_STRING(p), layer, (size_t)offset, readout, dt, &nr);
    Py_END_ALLOW_THREADS
  }
  Py_DECREF(p);
  if (rc) {
    sl_neurons_free(&nr);
    return slpy_raise(rc);
  }
  npy_intp dn = n;
  PyObject *d = PyDict_New();
  for (size_t i = 0; d && i < SL_NEURON_NFLOAT; i++) {
    const char *name = sl_neurons_float_name(i);
    float *src = sl_neurons_param(&nr, name);
    PyArrayObject *a = slpy_new(1, &dn, NPY_FLOAT32);
    if (a)
      memcpy(PyArray_DATA(a), src, (size_t)n * sizeof(float));
    if (slpy_dict_steal(d, name, (PyObject *)a) < 0)
      Py_CLEAR(d);
  }
  PyArrayObject *a = d ? slpy_new(1, &dn, NPY_INT32) : NULL;
  if (a)
    memcpy(PyArray_DATA(a), nr.refrac, (size_t)n * sizeof(int32_t));
  if (d && slpy_dict_steal(d, "refrac", (PyObject *)a) < 0)
    Py_CLEAR(d);
  sl_neurons_free(&nr);
  return d;
}

static PyObject *mod_parse_neurons(PyObject *m, PyObject *args)
{
  const char *text;
  unsigned long limit = 512;
  if (!PyArg_ParseTuple(args, "s|k:parse_neurons", &text, &limit))
    return NULL;
  if (limit == 0 || limit > UINT32_MAX)
    return PyErr_Format(PyExc_ValueError, "parse_neurons: limit must be in 1..2^32-1");
  uint32_t *ids = NULL;
  size_t n = 0;
  int rc = sl_calib_parse_neurons(text, (uint32_t)limit, &ids, &n);
  if (rc)
    return slpy_raise(rc);
  npy_intp dn = (npy_intp)n;
  return slpy_adopt(ids, 1, &dn, NPY_UINT32);
}

static PyMethodDef calib_module_methods[] = {
    {"characterise_bss2", (PyCFunction)(void (*)(void))mod_characterise_bss2, METH_VARARGS | METH_KEYWORDS,
     "characterise_bss2(options='', neurons=None, fit=True) -> (Charac, FitResult or None): run the "
     "standard protocols on circuits of an emulated bss2 chip (options as for the backend, e.g. "
     "'chip_seed=2'; neurons: '0-99,200', ids, or None for all 512) and fit them."},
    {"calibrate_bss2", (PyCFunction)(void (*)(void))mod_calibrate_bss2, METH_VARARGS | METH_KEYWORDS,
     "calibrate_bss2(out, options='', targets=None, circuits=None, iterations=0) -> report: "
     "search per-circuit DAC words meeting the targets (dict or 'tau_mem=6e-6,...', hardware "
     "units) and write the calib file `out` (backend option calib=). The report holds mean/sd "
     "of each fitted parameter before and after (hardware units)."},
    {"read_twin", (PyCFunction)(void (*)(void))mod_read_twin, METH_VARARGS | METH_KEYWORDS,
     "read_twin(path, n, dt, layer='global', offset=0, readout=False) -> {param: array (n)}: the "
     "per-neuron parameters a twin file gives n neurons starting at global id offset (dt must be "
     "the twin's)."},
    {"parse_neurons", mod_parse_neurons, METH_VARARGS,
     "parse_neurons(text, limit=512) -> uint32 array: '0-99,200' as ids."},
    {NULL, NULL, 0, NULL}};

int slpy_init_calib(PyObject *m)
{
  if (PyType_Ready(&fit_type) < 0 || PyType_Ready(&charac_type) < 0)
    return -1;
  if (PyModule_AddObjectRef(m, "Charac", (PyObject *)&charac_type) < 0 ||
      PyModule_AddObjectRef(m, "FitResult", (PyObject *)&fit_type) < 0)
    return -1;
  return PyModule_AddFunctions(m, calib_module_methods);
}
