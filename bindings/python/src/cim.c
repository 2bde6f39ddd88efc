/* cim.c -- spikeloop.Cim over sl_cim (a weight matrix on memristor
 * crossbar tiles, spikeloop/cim.h) and spikeloop.Cam over sl_cam
 * (content-addressable memory, spikeloop/cam.h). Device parameters are the
 * fields of sl_cim_params by name (keyword arguments or a dict, over the
 * library's defaults); sl_cim_params_check decides what is valid. MVMs,
 * programming and searches run with the GIL released; results are written
 * by the library into new NumPy arrays. */
#include "slpy.h"

#include <limits.h>
#include <stddef.h>
#include <string.h>

/* ------------------------------------------------------------ parameters */

enum { P_SIZE, P_DOUBLE, P_UNSIGNED, P_INT, P_U64, P_DAC };
static const struct {
  const char *name;
  int type;
  size_t off;
} cim_fields[] = {
#define F(n, t) {#n, t, offsetof(sl_cim_params, n)}
    F(tile_rows, P_SIZE),       F(tile_cols, P_SIZE),        F(max_tiles, P_SIZE),
    F(g_min, P_DOUBLE),         F(g_max, P_DOUBLE),          F(levels, P_UNSIGNED),
    F(w_max, P_DOUBLE),         F(prog_sd, P_DOUBLE),        F(verify_tol, P_DOUBLE),
    F(max_pulses, P_UNSIGNED),  F(read_sd, P_DOUBLE),        F(drift_nu, P_DOUBLE),
    F(drift_nu_sd, P_DOUBLE),   F(drift_t0, P_DOUBLE),       F(drift_compensation, P_INT),
    F(stuck_on_rate, P_DOUBLE), F(stuck_off_rate, P_DOUBLE), F(chip_seed, P_U64),
    F(noise_seed, P_U64),       F(dac_mode, P_DAC),          F(dac_bits, P_UNSIGNED),
    F(x_max, P_DOUBLE),         F(adc_bits, P_UNSIGNED),     F(adc_range, P_DOUBLE),
    F(v_read, P_DOUBLE),        F(e_cell_read, P_DOUBLE),    F(e_dac, P_DOUBLE),
    F(e_adc, P_DOUBLE),         F(e_prog_pulse, P_DOUBLE),   F(prog_relative, P_INT),
#undef F
};
#define N_FIELDS (sizeof cim_fields / sizeof cim_fields[0])

/* An integer in [0, max] (bool refused, so that a typo like True is seen). */
static int get_uint(PyObject *v, const char *name, unsigned long long max, unsigned long long *out)
{
  if (!PyLong_Check(v) || PyBool_Check(v)) {
    PyErr_Format(PyExc_TypeError, "parameter %s: expected an int, got %s", name, Py_TYPE(v)->tp_name);
    return -1;
  }
  int overflow = 0;
  long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
  if (overflow > 0) {
    unsigned long long u = PyLong_AsUnsignedLongLong(v);
    if (PyErr_Occurred())
      return -1;
    if (u <= max) {
      *out = u;
      return 0;
    }
  }
  if (x == -1 && PyErr_Occurred())
    return -1;
  if (overflow || x < 0 || (unsigned long long)x > max) {
    PyErr_Format(PyExc_ValueError, "parameter %s: %R is outside 0..%llu", name, v, max);
    return -1;
  }
  *out = (unsigned long long)x;
  return 0;
}

static int set_field(sl_cim_params *p, size_t i, PyObject *v)
{
  char *base = (char *)p + cim_fields[i].off;
  const char *name = cim_fields[i].name;
  unsigned long long u;
  switch (cim_fields[i].type) {
  case P_DOUBLE: {
    if (!PyNumber_Check(v) || PyUnicode_Check(v)) {
      PyErr_Format(PyExc_TypeError, "parameter %s: expected a number, got %s", name, Py_TYPE(v)->tp_name);
      return -1;
    }
    double d = PyFloat_AsDouble(v);
    if (d == -1.0 && PyErr_Occurred())
      return -1;
    *(double *)base = d;
    return 0;
  }
  case P_SIZE:
    if (get_uint(v, name, SIZE_MAX, &u) < 0)
      return -1;
    *(size_t *)base = (size_t)u;
    return 0;
  case P_UNSIGNED:
    if (get_uint(v, name, UINT_MAX, &u) < 0)
      return -1;
    *(unsigned *)base = (unsigned)u;
    return 0;
  case P_U64:
    if (get_uint(v, name, UINT64_MAX, &u) < 0)
      return -1;
    *(uint64_t *)base = (uint64_t)u;
    return 0;
  case P_INT:
    if (PyBool_Check(v)) {
      *(int *)base = v == Py_True;
      return 0;
    }
    if (get_uint(v, name, INT_MAX, &u) < 0)
      return -1;
    *(int *)base = (int)u;
    return 0;
  case P_DAC: {
    const char *t = PyUnicode_Check(v) ? PyUnicode_AsUTF8(v) : NULL;
    if (t && strcmp(t, "level") == 0)
      *(sl_cim_dac_mode *)base = SL_CIM_DAC_LEVEL;
    else if (t && strcmp(t, "bitserial") == 0)
      *(sl_cim_dac_mode *)base = SL_CIM_DAC_BITSERIAL;
    else {
      PyErr_Clear();
      PyErr_Format(PyExc_ValueError, "parameter dac_mode: expected 'level' or 'bitserial', got %R", v);
      return -1;
    }
    return 0;
  }
  }
  return 0;
}

/* Apply a dict {field: value} over *p; unknown names are NotFoundError. */
static int params_apply(sl_cim_params *p, PyObject *d, const char *who)
{
  if (!d)
    return 0;
  PyObject *k, *v;
  Py_ssize_t pos = 0;
  while (PyDict_Next(d, &pos, &k, &v)) {
    const char *name = PyUnicode_Check(k) ? PyUnicode_AsUTF8(k) : NULL;
    size_t i = 0;
    while (name && i < N_FIELDS && strcmp(cim_fields[i].name, name) != 0)
      i++;
    if (!name || i == N_FIELDS) {
      PyErr_Clear();
      slpy_raise(sl_error(SL_ENOTFOUND, "%s: unknown device parameter '%s' (see Cim.default_params())",
                          who, name ? name : "?"));
      return -1;
    }
    if (set_field(p, i, v) < 0)
      return -1;
  }
  return 0;
}

static PyObject *params_dict(const sl_cim_params *p)
{
  PyObject *d = PyDict_New();
  for (size_t i = 0; d && i < N_FIELDS; i++) {
    const char *base = (const char *)p + cim_fields[i].off;
    PyObject *v = NULL;
    switch (cim_fields[i].type) {
    case P_DOUBLE: v = PyFloat_FromDouble(*(const double *)base); break;
    case P_SIZE: v = PyLong_FromSize_t(*(const size_t *)base); break;
    case P_UNSIGNED: v = PyLong_FromUnsignedLong(*(const unsigned *)base); break;
    case P_U64: v = PyLong_FromUnsignedLongLong(*(const uint64_t *)base); break;
    case P_INT: v = PyLong_FromLong(*(const int *)base); break;
    case P_DAC:
      v = PyUnicode_FromString(*(const sl_cim_dac_mode *)base == SL_CIM_DAC_LEVEL ? "level" : "bitserial");
      break;
    }
    if (slpy_dict_steal(d, cim_fields[i].name, v) < 0)
      Py_CLEAR(d);
  }
  return d;
}

static PyObject *counters_dict(const sl_cim_counters *k, double energy)
{
  return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:d}", "mvms", (unsigned long long)k->mvms,
                       "tile_reads", (unsigned long long)k->tile_reads, "cell_reads",
                       (unsigned long long)k->cell_reads, "dac_conversions",
                       (unsigned long long)k->dac_conversions, "adc_conversions",
                       (unsigned long long)k->adc_conversions, "prog_pulses",
                       (unsigned long long)k->prog_pulses, "cells_programmed",
                       (unsigned long long)k->cells_programmed, "digital_adds",
                       (unsigned long long)k->digital_adds, "energy", energy);
}

/* x as (batch, n) float32; a 1-D x is one vector (*vector = 1). */
static PyArrayObject *vectors_in(PyObject *x_o, size_t n, const char *name, int *vector)
{
  PyArrayObject *x = slpy_array_in(x_o, NPY_FLOAT32, 1, 2, name);
  if (!x)
    return NULL;
  *vector = PyArray_NDIM(x) == 1;
  size_t cols = (size_t)PyArray_DIM(x, PyArray_NDIM(x) - 1);
  size_t rows = *vector ? 1 : (size_t)PyArray_DIM(x, 0);
  if (cols != n || rows == 0) {
    slpy_raise(sl_error(SL_ESHAPE, "%s: expected (batch, %zu) or (%zu,) with batch > 0, got %zu columns%s",
                        name, n, n, cols, rows ? "" : " and no rows"));
    Py_DECREF(x);
    return NULL;
  }
  return x;
}

static size_t rows_of(PyArrayObject *x, int vector) { return vector ? 1 : (size_t)PyArray_DIM(x, 0); }

/* ------------------------------------------------------------ Cim */

typedef struct {
  slpy_handle h; /* ptr: sl_cim * */
} cim_obj;

static void cim_destroy(slpy_handle *h) { sl_cim_free(h->ptr); }

static PyObject *cim_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
  cim_obj *o = (cim_obj *)type->tp_alloc(type, 0);
  if (o)
    o->h.destroy = cim_destroy;
  return (PyObject *)o;
}

static int cim_init(PyObject *self, PyObject *args, PyObject *kw)
{
  cim_obj *o = (cim_obj *)self;
  Py_ssize_t n_in, n_out;
  if (!PyArg_ParseTuple(args, "nn:Cim", &n_in, &n_out))
    return -1;
  if (o->h.ptr || o->h.busy) {
    PyErr_SetString(PyExc_RuntimeError, "Cim.__init__ called twice");
    return -1;
  }
  if (n_in < 0 || n_out < 0) {
    PyErr_SetString(PyExc_ValueError, "Cim: n_in and n_out must be >= 0");
    return -1;
  }
  sl_cim_params p = sl_cim_params_default();
  if (params_apply(&p, kw, "Cim") < 0)
    return -1;
  sl_cim *c = NULL;
  int rc = sl_cim_alloc(&c, (size_t)n_in, (size_t)n_out, &p);
  if (rc)
    return slpy_fail(rc);
  o->h.ptr = c;
  return 0;
}

#define CIM(o) ((sl_cim *)((cim_obj *)(o))->h.ptr)

static PyObject *cim_program(PyObject *self, PyObject *w_o)
{
  cim_obj *o = (cim_obj *)self;
  if (!slpy_usable(&o->h, "Cim"))
    return NULL;
  PyArrayObject *w =
      slpy_matrix_enter(&o->h, "Cim", "program", w_o, "w", sl_cim_n_in(CIM(o)), sl_cim_n_out(CIM(o)));
  if (!w)
    return NULL;
  sl_cim *c = CIM(o);
  const float *wd = PyArray_DATA(w);
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = sl_cim_program(c, wd);
  Py_END_ALLOW_THREADS
  slpy_leave(&o->h);
  Py_DECREF(w);
  if (rc)
    return slpy_raise(rc);
  Py_RETURN_NONE;
}

static PyObject *cim_reprogram(PyObject *self, PyObject *args, PyObject *kw)
{
  static char *kwlist[] = {"w", "threshold", NULL};
  cim_obj *o = (cim_obj *)self;
  PyObject *w_o;
  double threshold = 0.0;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O|d:reprogram", kwlist, &w_o, &threshold))
    return NULL;
  if (!slpy_usable(&o->h, "Cim"))
    return NULL;
  PyArrayObject *w =
      slpy_matrix_enter(&o->h, "Cim", "reprogram", w_o, "w", sl_cim_n_in(CIM(o)), sl_cim_n_out(CIM(o)));
  if (!w)
    return NULL;
  sl_cim *c = CIM(o);
  const float *wd = PyArray_DATA(w);
  size_t pairs = 0;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = sl_cim_reprogram(c, wd, threshold, &pairs);
  Py_END_ALLOW_THREADS
  slpy_leave(&o->h);
  Py_DECREF(w);
  if (rc)
    return slpy_raise(rc);
  return PyLong_FromSize_t(pairs);
}

static PyObject *cim_set_time(PyObject *self, PyObject *t_o)
{
  cim_obj *o = (cim_obj *)self;
  double t = PyFloat_AsDouble(t_o);
  if (t == -1.0 && PyErr_Occurred())
    return NULL;
  if (!slpy_usable(&o->h, "Cim"))
    return NULL;
  int rc = sl_cim_set_time(CIM(o), t);
  if (rc)
    return slpy_raise(rc);
  Py_RETURN_NONE;
}

static PyObject *cim_calibrate_adc(PyObject *self, PyObject *args, PyObject *kw)
{
  static char *kwlist[] = {"x", "margin", NULL};
  cim_obj *o = (cim_obj *)self;
  PyObject *x_o;
  double margin = 1.0;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O|d:calibrate_adc", kwlist, &x_o, &margin))
    return NULL;
  if (!slpy_usable(&o->h, "Cim"))
    return NULL;
  sl_cim *c = CIM(o);
  int vector;
  PyArrayObject *x = vectors_in(x_o, sl_cim_n_in(c), "x", &vector);
  if (!x)
    return NULL;
  if (slpy_enter(&o->h, "Cim") < 0) {
    Py_DECREF(x);
    return NULL;
  }
  c = CIM(o); /* the conversion ran Python code */
  const float *xd = PyArray_DATA(x);
  size_t B = rows_of(x, vector);
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = sl_cim_calibrate_adc(c, xd, B, margin);
  Py_END_ALLOW_THREADS
  slpy_leave(&o->h);
  Py_DECREF(x);
  if (rc)
    return slpy_raise(rc);
  return PyFloat_FromDouble(sl_cim_params_get(c)->adc_range);
}

enum { MVM = 0, MVM_REF = 1, MVM_PARTIALS = 2 };

static PyObject *cim_mvm_kind(PyObject *self, PyObject *x_o, int kind)
{
  cim_obj *o = (cim_obj *)self;
  if (!slpy_usable(&o->h, "Cim"))
    return NULL;
  sl_cim *c = CIM(o);
  int vector;
  PyArrayObject *x = vectors_in(x_o, sl_cim_n_in(c), "x", &vector);
  if (!x)
    return NULL;
  size_t B = rows_of(x, vector), n_out = sl_cim_n_out(c), rt = sl_cim_row_tiles(c);
  npy_intp dims[3];
  int nd = 0;
  if (!vector)
    dims[nd++] = (npy_intp)B;
  if (kind == MVM_PARTIALS)
    dims[nd++] = (npy_intp)rt;
  dims[nd++] = (npy_intp)n_out;
  PyArrayObject *y = slpy_new(nd, dims, NPY_FLOAT32);
  if (!y) {
    Py_DECREF(x);
    return NULL;
  }
  if (slpy_enter(&o->h, "Cim") < 0) {
    Py_DECREF(x); Py_DECREF(y);
    return NULL;
  }
  c = CIM(o); /* the conversion ran Python code */
  const float *xd = PyArray_DATA(x);
  float *yd = PyArray_DATA(y);
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = kind == MVM ? sl_cim_mvm(c, xd, B, yd)
       : kind == MVM_REF ? sl_cim_mvm_ref(c, xd, B, yd)
                         : sl_cim_mvm_partials(c, xd, B, yd);
  Py_END_ALLOW_THREADS
  slpy_leave(&o->h);
  Py_DECREF(x);
  if (rc) {
    Py_DECREF(y);
    return slpy_raise(rc);
  }
  return (PyObject *)y;
}

static PyObject *cim_mvm(PyObject *self, PyObject *x) { return cim_mvm_kind(self, x, MVM); }
static PyObject *cim_mvm_ref(PyObject *self, PyObject *x) { return cim_mvm_kind(self, x, MVM_REF); }
static PyObject *cim_mvm_partials(PyObject *self, PyObject *x) { return cim_mvm_kind(self, x, MVM_PARTIALS); }

static PyObject *cim_weights(PyObject *self, PyObject *args, PyObject *kw)
{
  static char *kwlist[] = {"kind", NULL};
  cim_obj *o = (cim_obj *)self;
  const char *kind = "target";
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|s:weights", kwlist, &kind))
    return NULL;
  sl_cim_weight_kind k;
  if (strcmp(kind, "target") == 0)
    k = SL_CIM_TARGET;
  else if (strcmp(kind, "programmed") == 0)
    k = SL_CIM_PROGRAMMED;
  else if (strcmp(kind, "read") == 0)
    k = SL_CIM_READ;
  else
    return PyErr_Format(PyExc_ValueError, "weights: kind must be 'target', 'programmed' or 'read', got '%s'", kind);
  if (!slpy_usable(&o->h, "Cim"))
    return NULL;
  sl_cim *c = CIM(o);
  npy_intp dims[2] = {(npy_intp)sl_cim_n_in(c), (npy_intp)sl_cim_n_out(c)};
  PyArrayObject *w = slpy_new(2, dims, NPY_FLOAT32);
  if (!w)
    return NULL;
  int rc = sl_cim_weights(c, k, PyArray_DATA(w));
  if (rc) {
    Py_DECREF(w);
    return slpy_raise(rc);
  }
  return (PyObject *)w;
}

static PyObject *counters_of(slpy_handle *h, sl_cim *c)
{
  sl_cim_counters k;
  sl_cim_counters_get(c, &k);
  return counters_dict(&k, sl_cim_energy(sl_cim_params_get(c), &k));
}

static PyObject *cim_counters(PyObject *self, PyObject *unused)
{
  cim_obj *o = (cim_obj *)self;
  return slpy_usable(&o->h, "Cim") ? counters_of(&o->h, CIM(o)) : NULL;
}

static PyObject *cim_reset_counters(PyObject *self, PyObject *unused)
{
  cim_obj *o = (cim_obj *)self;
  if (!slpy_usable(&o->h, "Cim"))
    return NULL;
  sl_cim_counters_reset(CIM(o));
  Py_RETURN_NONE;
}

static PyObject *cim_energy_per_mvm(PyObject *self, PyObject *unused)
{
  cim_obj *o = (cim_obj *)self;
  return slpy_usable(&o->h, "Cim") ? PyFloat_FromDouble(sl_cim_energy_per_mvm(CIM(o))) : NULL;
}

static PyObject *cim_get_params(PyObject *self, void *unused)
{
  cim_obj *o = (cim_obj *)self;
  return slpy_usable(&o->h, "Cim") ? params_dict(sl_cim_params_get(CIM(o))) : NULL;
}

static PyObject *cim_get_shape(PyObject *self, void *unused)
{
  cim_obj *o = (cim_obj *)self;
  if (!slpy_usable(&o->h, "Cim"))
    return NULL;
  return Py_BuildValue("(nn)", (Py_ssize_t)sl_cim_n_in(CIM(o)), (Py_ssize_t)sl_cim_n_out(CIM(o)));
}

static PyObject *cim_get_tiles(PyObject *self, void *unused)
{
  cim_obj *o = (cim_obj *)self;
  if (!slpy_usable(&o->h, "Cim"))
    return NULL;
  sl_cim *c = CIM(o);
  PyObject *rows = PyList_New(0), *cols = PyList_New(0);
  for (size_t k = 0; rows && cols && k < sl_cim_row_tiles(c); k++) {
    size_t b, e;
    sl_cim_row_tile_bounds(c, k, &b, &e);
    PyObject *t = Py_BuildValue("(nn)", (Py_ssize_t)b, (Py_ssize_t)e);
    if (!t || PyList_Append(rows, t) < 0)
      Py_CLEAR(rows);
    Py_XDECREF(t);
  }
  for (size_t k = 0; rows && cols && k < sl_cim_col_tiles(c); k++) {
    size_t b, e;
    sl_cim_col_tile_bounds(c, k, &b, &e);
    PyObject *t = Py_BuildValue("(nn)", (Py_ssize_t)b, (Py_ssize_t)e);
    if (!t || PyList_Append(cols, t) < 0)
      Py_CLEAR(cols);
    Py_XDECREF(t);
  }
  if (!rows || !cols) {
    Py_XDECREF(rows);
    Py_XDECREF(cols);
    return NULL;
  }
  return Py_BuildValue("{s:N,s:N}", "rows", rows, "cols", cols);
}

static PyObject *cim_default_params(PyObject *cls, PyObject *unused)
{
  sl_cim_params p = sl_cim_params_default();
  return params_dict(&p);
}

static PyMethodDef cim_methods[] = {
    {"program", cim_program, METH_O,
     "program(w): program every device for w (n_in, n_out): mapping, levels, write-verify, faults."},
    {"reprogram", (PyCFunction)(void (*)(void))cim_reprogram, METH_VARARGS | METH_KEYWORDS,
     "reprogram(w, threshold=0.0) -> pairs rewritten: only the pairs whose target moved more "
     "than threshold."},
    {"set_time", cim_set_time, METH_O, "set_time(seconds): time since programming (drift)."},
    {"calibrate_adc", (PyCFunction)(void (*)(void))cim_calibrate_adc, METH_VARARGS | METH_KEYWORDS,
     "calibrate_adc(x, margin=1.0) -> adc_range set from the batch x (batch, n_in)."},
    {"mvm", cim_mvm, METH_O,
     "mvm(x) -> y: x (batch, n_in) or (n_in,) times W as the hardware computes it (noise, "
     "DAC, ADC, tiles); fresh read noise per call."},
    {"mvm_ref", cim_mvm_ref, METH_O, "mvm_ref(x) -> y = x W_q exactly (level-quantised targets)."},
    {"mvm_partials", cim_mvm_partials, METH_O,
     "mvm_partials(x) -> (batch, row_tiles, n_out): each row tile's digital partial sum."},
    {"weights", (PyCFunction)(void (*)(void))cim_weights, METH_VARARGS | METH_KEYWORDS,
     "weights(kind='target') -> (n_in, n_out): 'target' (level-quantised), 'programmed' "
     "(with faults and drift) or 'read' (one noisy read)."},
    {"counters", cim_counters, METH_NOARGS,
     "counters() -> dict of operation counts since creation or reset, and their energy (J)."},
    {"reset_counters", cim_reset_counters, METH_NOARGS, "reset_counters()"},
    {"energy_per_mvm", cim_energy_per_mvm, METH_NOARGS, "energy_per_mvm() -> J per input vector."},
    {"default_params", cim_default_params, METH_NOARGS | METH_STATIC,
     "default_params() -> dict: the library's default device parameters."},
    {"close", slpy_meth_close, METH_NOARGS, "close(): free the crossbar."},
    {"__enter__", slpy_meth_enter, METH_NOARGS, NULL},
    {"__exit__", slpy_meth_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef cim_getset[] = {
    {"params", cim_get_params, NULL, "the device parameters in use (dict)", NULL},
    {"shape", cim_get_shape, NULL, "(n_in, n_out)", NULL},
    {"tiles", cim_get_tiles, NULL, "{'rows': [(begin, end), ...], 'cols': [...]}", NULL},
    {"closed", slpy_get_closed, NULL, "whether close() was called", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject cim_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "spikeloop.Cim",
    .tp_basicsize = sizeof(cim_obj),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Cim(n_in, n_out, **params): a weight matrix on memristor crossbar tiles "
              "(spikeloop/cim.h). params: fields of sl_cim_params by name over the defaults "
              "(Cim.default_params()); dac_mode is 'level' or 'bitserial'.",
    .tp_new = cim_new,
    .tp_init = cim_init,
    .tp_dealloc = slpy_handle_dealloc,
    .tp_methods = cim_methods,
    .tp_getset = cim_getset,
};

/* ------------------------------------------------------------ Cam */

typedef struct {
  slpy_handle h; /* ptr: sl_cam * */
} cam_obj;

#define CAM(o) ((sl_cam *)((cam_obj *)(o))->h.ptr)

static void cam_destroy(slpy_handle *h) { sl_cam_free(h->ptr); }

static PyObject *cam_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
  cam_obj *o = (cam_obj *)type->tp_alloc(type, 0);
  if (o)
    o->h.destroy = cam_destroy;
  return (PyObject *)o;
}

static int cam_init(PyObject *self, PyObject *args, PyObject *kw)
{
  static char *kwlist[] = {"dim", "k", "metric", "query_sd", "query_seed", "device", NULL};
  cam_obj *o = (cam_obj *)self;
  Py_ssize_t dim, k;
  const char *metric = "cosine";
  double query_sd = 0.0;
  unsigned long long seed = 1;
  PyObject *device = NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "nn|sdKO!:Cam", kwlist, &dim, &k, &metric, &query_sd,
                                   &seed, &PyDict_Type, &device))
    return -1;
  if (o->h.ptr || o->h.busy) {
    PyErr_SetString(PyExc_RuntimeError, "Cam.__init__ called twice");
    return -1;
  }
  if (dim < 0 || k < 0) {
    PyErr_SetString(PyExc_ValueError, "Cam: dim and k must be >= 0");
    return -1;
  }
  sl_cam_params p = sl_cam_params_default();
  if (strcmp(metric, "cosine") == 0)
    p.metric = SL_CAM_COSINE;
  else if (strcmp(metric, "hamming") == 0)
    p.metric = SL_CAM_HAMMING;
  else {
    PyErr_Format(PyExc_ValueError, "Cam: metric must be 'cosine' or 'hamming', got '%s'", metric);
    return -1;
  }
  p.query_sd = query_sd;
  p.query_seed = seed;
  if (params_apply(&p.device, device, "Cam") < 0)
    return -1;
  sl_cam *c = NULL;
  int rc = sl_cam_alloc(&c, (size_t)dim, (size_t)k, &p);
  if (rc)
    return slpy_fail(rc);
  o->h.ptr = c;
  return 0;
}

static PyObject *cam_store(PyObject *self, PyObject *v_o)
{
  cam_obj *o = (cam_obj *)self;
  if (!slpy_usable(&o->h, "Cam"))
    return NULL;
  PyArrayObject *v =
      slpy_matrix_enter(&o->h, "Cam", "store", v_o, "vectors", sl_cam_size(CAM(o)), sl_cam_dim(CAM(o)));
  if (!v)
    return NULL;
  sl_cam *c = CAM(o);
  const float *vd = PyArray_DATA(v);
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = sl_cam_store(c, vd);
  Py_END_ALLOW_THREADS
  slpy_leave(&o->h);
  Py_DECREF(v);
  if (rc)
    return slpy_raise(rc);
  Py_RETURN_NONE;
}

static PyObject *cam_store_one(PyObject *self, PyObject *args)
{
  cam_obj *o = (cam_obj *)self;
  Py_ssize_t index;
  PyObject *v_o;
  if (!PyArg_ParseTuple(args, "nO:store_one", &index, &v_o))
    return NULL;
  if (!slpy_usable(&o->h, "Cam"))
    return NULL;
  sl_cam *c = CAM(o);
  if (index < 0 || (size_t)index >= sl_cam_size(c))
    return slpy_raise(sl_error(SL_ERANGE, "store_one: index %zd outside 0..%zu", index, sl_cam_size(c) - 1));
  PyArrayObject *v = slpy_array_in(v_o, NPY_FLOAT32, 1, 1, "vector");
  if (!v)
    return NULL;
  if ((size_t)PyArray_DIM(v, 0) != sl_cam_dim(c)) {
    slpy_raise(sl_error(SL_ESHAPE, "store_one: vector must be (%zu,)", sl_cam_dim(c)));
    Py_DECREF(v);
    return NULL;
  }
  if (!slpy_usable(&o->h, "Cam")) { /* the conversion ran Python code */
    Py_DECREF(v);
    return NULL;
  }
  int rc = sl_cam_store_one(CAM(o), (size_t)index, PyArray_DATA(v));
  Py_DECREF(v);
  if (rc)
    return slpy_raise(rc);
  Py_RETURN_NONE;
}

static PyObject *cam_search(PyObject *self, PyObject *args, PyObject *kw)
{
  static char *kwlist[] = {"queries", "top_k", NULL};
  cam_obj *o = (cam_obj *)self;
  PyObject *q_o;
  Py_ssize_t top_k = 1;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O|n:search", kwlist, &q_o, &top_k))
    return NULL;
  if (!slpy_usable(&o->h, "Cam"))
    return NULL;
  sl_cam *c = CAM(o);
  if (top_k < 1 || (size_t)top_k > sl_cam_size(c))
    return slpy_raise(sl_error(SL_ERANGE, "search: top_k %zd outside 1..%zu", top_k, sl_cam_size(c)));
  int vector;
  PyArrayObject *q = vectors_in(q_o, sl_cam_dim(c), "queries", &vector);
  if (!q)
    return NULL;
  size_t n = rows_of(q, vector);
  npy_intp dims[2] = {(npy_intp)n, (npy_intp)top_k};
  int nd = 2;
  if (vector) {
    dims[0] = (npy_intp)top_k;
    nd = 1;
  }
  PyArrayObject *idx = slpy_new(nd, dims, NPY_UINTP), *sim = slpy_new(nd, dims, NPY_FLOAT32);
  if (!idx || !sim) {
    Py_DECREF(q);
    Py_XDECREF(idx);
    Py_XDECREF(sim);
    return NULL;
  }
  if (slpy_enter(&o->h, "Cam") < 0) {
    Py_DECREF(q); Py_DECREF(idx); Py_DECREF(sim);
    return NULL;
  }
  c = CAM(o); /* the conversion ran Python code */
  const float *qd = PyArray_DATA(q);
  size_t *id = PyArray_DATA(idx);
  float *sd = PyArray_DATA(sim);
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = sl_cam_search(c, qd, n, (size_t)top_k, id, sd);
  Py_END_ALLOW_THREADS
  slpy_leave(&o->h);
  Py_DECREF(q);
  if (rc) {
    Py_DECREF(idx);
    Py_DECREF(sim);
    return slpy_raise(rc);
  }
  PyObject *idx64 = PyArray_Cast(idx, NPY_INT64);
  Py_DECREF(idx);
  if (!idx64) {
    Py_DECREF(sim);
    return NULL;
  }
  return Py_BuildValue("(NN)", idx64, (PyObject *)sim);
}

static PyObject *cam_set_time(PyObject *self, PyObject *t_o)
{
  cam_obj *o = (cam_obj *)self;
  double t = PyFloat_AsDouble(t_o);
  if (t == -1.0 && PyErr_Occurred())
    return NULL;
  if (!slpy_usable(&o->h, "Cam"))
    return NULL;
  int rc = sl_cim_set_time(sl_cam_cim(CAM(o)), t);
  if (rc)
    return slpy_raise(rc);
  Py_RETURN_NONE;
}

static PyObject *cam_counters(PyObject *self, PyObject *unused)
{
  cam_obj *o = (cam_obj *)self;
  return slpy_usable(&o->h, "Cam") ? counters_of(&o->h, sl_cam_cim(CAM(o))) : NULL;
}

static PyObject *cam_get_shape(PyObject *self, void *unused)
{
  cam_obj *o = (cam_obj *)self;
  if (!slpy_usable(&o->h, "Cam"))
    return NULL;
  return Py_BuildValue("(nn)", (Py_ssize_t)sl_cam_size(CAM(o)), (Py_ssize_t)sl_cam_dim(CAM(o)));
}

static PyObject *cam_get_params(PyObject *self, void *unused)
{
  cam_obj *o = (cam_obj *)self;
  return slpy_usable(&o->h, "Cam") ? params_dict(sl_cim_params_get(sl_cam_cim(CAM(o)))) : NULL;
}

static PyMethodDef cam_methods[] = {
    {"store", cam_store, METH_O, "store(vectors): all k vectors (k, dim), values in [-1, 1]."},
    {"store_one", cam_store_one, METH_VARARGS, "store_one(index, vector): replace one stored vector."},
    {"search", (PyCFunction)(void (*)(void))cam_search, METH_VARARGS | METH_KEYWORDS,
     "search(queries, top_k=1) -> (idx int64, sim float32), each (n, top_k) (or (top_k,) for one "
     "query): the best matches, best first."},
    {"set_time", cam_set_time, METH_O, "set_time(seconds): drift of the stored values."},
    {"counters", cam_counters, METH_NOARGS, "counters() -> dict of the crossbar's operations and energy."},
    {"close", slpy_meth_close, METH_NOARGS, "close(): free the CAM."},
    {"__enter__", slpy_meth_enter, METH_NOARGS, NULL},
    {"__exit__", slpy_meth_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef cam_getset[] = {
    {"shape", cam_get_shape, NULL, "(k, dim)", NULL},
    {"params", cam_get_params, NULL, "the device parameters of the crossbar (dict)", NULL},
    {"closed", slpy_get_closed, NULL, "whether close() was called", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject cam_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "spikeloop.Cam",
    .tp_basicsize = sizeof(cam_obj),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Cam(dim, k, metric='cosine', query_sd=0.0, query_seed=1, device=None): a "
              "content-addressable memory of k vectors on a crossbar (spikeloop/cam.h); device: "
              "a dict of Cim parameters over the CAM's defaults (ternary levels).",
    .tp_new = cam_new,
    .tp_init = cam_init,
    .tp_dealloc = slpy_handle_dealloc,
    .tp_methods = cam_methods,
    .tp_getset = cam_getset,
};

int slpy_init_cim(PyObject *m)
{
  if (PyType_Ready(&cim_type) < 0 || PyType_Ready(&cam_type) < 0)
    return -1;
  if (PyModule_AddObjectRef(m, "Cim", (PyObject *)&cim_type) < 0 ||
      PyModule_AddObjectRef(m, "Cam", (PyObject *)&cam_type) < 0)
    return -1;
  return 0;
}
