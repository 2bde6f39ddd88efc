/* module.c -- the extension module spikeloop._core: its exceptions, the
 * handle life cycle (slpy.h), NumPy array helpers and the small module
 * functions (version, threads, backends, config keys). The types live in
 * config.c, session.c, runlog.c, cim.c and calib.c. */
#define SLPY_MODULE_C
#include "slpy.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ errors */

static PyObject *exc_base;      /* spikeloop.Error */
static PyObject *exc_closed;    /* spikeloop.ClosedError */
static PyObject *exc_code[10];  /* by SL_E* code; [0] unused */

static const struct {
  int code;
  const char *name, *doc;
  PyObject **extra; /* the builtin it also derives from */
} exc_table[] = {
    {SL_EINVAL, "InvalidArgument", "SL_EINVAL: invalid argument or parameter value.", &PyExc_ValueError},
    {SL_ENOMEM, "OutOfMemory", "SL_ENOMEM: an allocation failed.", &PyExc_MemoryError},
    {SL_EIO, "FileError", "SL_EIO: a file could not be opened, read or written.", &PyExc_OSError},
    {SL_EFORMAT, "FormatError", "SL_EFORMAT: file content malformed or missing.", &PyExc_ValueError},
    {SL_ENOTFOUND, "NotFoundError", "SL_ENOTFOUND: unknown name (key, backend, ...).", &PyExc_LookupError},
    {SL_ESHAPE, "ShapeError", "SL_ESHAPE: array shapes do not agree.", &PyExc_ValueError},
    {SL_ENUMERIC, "NumericError", "SL_ENUMERIC: NaN or Inf where a finite number is required.", &PyExc_ValueError},
    {SL_EUNSUPPORTED, "UnsupportedError", "SL_EUNSUPPORTED: not supported by this build or backend.", &PyExc_NotImplementedError},
    {SL_ERANGE, "RangeError", "SL_ERANGE: value outside the allowed range.", &PyExc_ValueError},
};

PyObject *slpy_raise(int code)
{
  const char *msg = sl_last_error();
  if (!msg || !*msg)
    msg = sl_strerror(code);
  PyObject *cls = (code > 0 && code < 10 && exc_code[code]) ? exc_code[code] : exc_base;
  PyObject *inst = PyObject_CallFunction(cls, "s", msg);
  if (inst) {
    PyObject *c = PyLong_FromLong(code);
    if (c) {
      PyObject_SetAttrString(inst, "code", c);
      Py_DECREF(c);
    }
    PyErr_SetObject(cls, inst);
    Py_DECREF(inst);
  }
  sl_clear_error();
  return NULL;
}

int slpy_fail(int code)
{
  slpy_raise(code);
  return -1;
}

/* ------------------------------------------------------------ handles */

static void handle_free(slpy_handle *h)
{
  if (h->ptr && h->destroy)
    h->destroy(h);
  h->ptr = NULL;
}

int slpy_enter(slpy_handle *h, const char *what)
{
  if (!slpy_usable(h, what))
    return -1;
  h->busy = 1;
  return 0;
}

void slpy_leave(slpy_handle *h)
{
  h->busy = 0;
  if (h->closed && h->pins == 0)
    handle_free(h);
}

int slpy_usable(slpy_handle *h, const char *what)
{
  if (h->closed || !h->ptr) {
    PyErr_Format(exc_closed, "%s is closed", what);
    return 0;
  }
  if (h->busy) {
    PyErr_Format(PyExc_RuntimeError, "%s is in use by another call (another thread, or a "
                 "callback of its own training)", what);
    return 0;
  }
  return 1;
}

void slpy_close(slpy_handle *h)
{
  h->closed = 1;
  if (!h->busy && h->pins == 0)
    handle_free(h);
}

void slpy_handle_dealloc(PyObject *self)
{
  slpy_handle *h = (slpy_handle *)self;
  /* no view can be alive (each holds a reference) and no call is running */
  handle_free(h);
  Py_TYPE(self)->tp_free(self);
}

PyObject *slpy_meth_close(PyObject *self, PyObject *unused)
{
  slpy_close((slpy_handle *)self);
  Py_RETURN_NONE;
}

PyObject *slpy_meth_enter(PyObject *self, PyObject *unused)
{
  Py_INCREF(self);
  return self;
}

PyObject *slpy_meth_exit(PyObject *self, PyObject *args)
{
  slpy_close((slpy_handle *)self);
  Py_RETURN_FALSE;
}

PyObject *slpy_get_closed(PyObject *self, void *unused)
{
  return PyBool_FromLong(((slpy_handle *)self)->closed);
}

/* A pin: the base object of a view; keeps its handle alive and unfreed. */
typedef struct {
  PyObject_HEAD
  slpy_handle *h;
} pin_obj;

static void pin_dealloc(PyObject *self)
{
  pin_obj *p = (pin_obj *)self;
  if (p->h) {
    p->h->pins--;
    if (p->h->closed && p->h->pins == 0 && !p->h->busy)
      handle_free(p->h);
    Py_DECREF((PyObject *)p->h);
  }
  Py_TYPE(self)->tp_free(self);
}

static PyTypeObject pin_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "spikeloop._core._Pin",
    .tp_basicsize = sizeof(pin_obj),
    .tp_dealloc = pin_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "keeps a spikeloop object's memory alive while a NumPy array views it",
};

/* ------------------------------------------------------------ arrays */

PyArrayObject *slpy_array_in(PyObject *obj, int typenum, int nd_min, int nd_max,
                             const char *name)
{
  PyArrayObject *a = NULL;
  if (PyArray_Check(obj)) {
    a = (PyArrayObject *)obj;
    Py_INCREF(a);
  } else {
    a = (PyArrayObject *)PyArray_FROM_O(obj);
    if (!a) {
      PyErr_Clear();
      PyErr_Format(PyExc_TypeError, "%s: expected a numeric array, got %s", name,
                   Py_TYPE(obj)->tp_name);
      return NULL;
    }
  }
  char kind = PyArray_DESCR(a)->kind;
  int want_int = typenum == NPY_INT32 || typenum == NPY_UINT32 || typenum == NPY_INT64;
  /* an empty list is float64 to NumPy: fine for integers too */
  int ok = kind == 'b' || kind == 'i' || kind == 'u' || (kind == 'f' && (!want_int || PyArray_SIZE(a) == 0));
  if (!ok) {
    PyErr_Format(PyExc_TypeError, "%s: expected a%s array, got dtype %R", name,
                 want_int ? "n integer" : " real numeric", (PyObject *)PyArray_DESCR(a));
    Py_DECREF(a);
    return NULL;
  }
  int nd = PyArray_NDIM(a);
  if (nd < nd_min || nd > nd_max) {
    if (nd_min == nd_max)
      PyErr_Format(PyExc_ValueError, "%s: expected %d dimension%s, got %d", name, nd_min,
                   nd_min == 1 ? "" : "s", nd);
    else
      PyErr_Format(PyExc_ValueError, "%s: expected %d to %d dimensions, got %d", name, nd_min,
                   nd_max, nd);
    Py_DECREF(a);
    return NULL;
  }
  PyArrayObject *c = (PyArrayObject *)PyArray_FROM_OTF(
      (PyObject *)a, typenum, NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST);
  Py_DECREF(a);
  return c;
}

PyArrayObject *slpy_matrix_enter(slpy_handle *h, const char *what, const char *fn, PyObject *obj,
                                 const char *name, size_t rows, size_t cols)
{
  PyArrayObject *a = slpy_array_in(obj, NPY_FLOAT32, 2, 2, name);
  if (!a)
    return NULL;
  if ((size_t)PyArray_DIM(a, 0) != rows || (size_t)PyArray_DIM(a, 1) != cols) {
    slpy_raise(sl_error(SL_ESHAPE, "%s: %s must be (%zu, %zu), got (%ld, %ld)", fn, name, rows, cols,
                        (long)PyArray_DIM(a, 0), (long)PyArray_DIM(a, 1)));
    Py_DECREF(a);
    return NULL;
  }
  /* the conversion may have run Python code: the handle is checked only now */
  if (slpy_enter(h, what) < 0) {
    Py_DECREF(a);
    return NULL;
  }
  return a;
}

PyObject *slpy_view(slpy_handle *h, void *data, int nd, const npy_intp *dims, int typenum)
{
  if (!data) /* an empty list (no spikes): nothing to view */
    return PyArray_ZEROS(nd, (npy_intp *)dims, typenum, 0);
  pin_obj *p = PyObject_New(pin_obj, &pin_type);
  if (!p)
    return NULL;
  p->h = h;
  Py_INCREF((PyObject *)h);
  h->pins++;
  PyObject *a = PyArray_New(&PyArray_Type, nd, (npy_intp *)dims, typenum, NULL, data, 0,
                            NPY_ARRAY_CARRAY_RO, NULL);
  if (!a || PyArray_SetBaseObject((PyArrayObject *)a, (PyObject *)p) < 0) {
    Py_XDECREF(a);
    Py_DECREF(p);
    return NULL;
  }
  return a;
}

static void capsule_free(PyObject *cap)
{
  free(PyCapsule_GetPointer(cap, "spikeloop.buffer"));
}

PyObject *slpy_adopt(void *data, int nd, const npy_intp *dims, int typenum)
{
  if (!data) {
    /* an empty result: NumPy's own allocation */
    return PyArray_ZEROS(nd, (npy_intp *)dims, typenum, 0);
  }
  PyObject *cap = PyCapsule_New(data, "spikeloop.buffer", capsule_free);
  if (!cap) {
    free(data);
    return NULL;
  }
  PyObject *a = PyArray_New(&PyArray_Type, nd, (npy_intp *)dims, typenum, NULL, data, 0,
                            NPY_ARRAY_CARRAY, NULL);
  if (!a || PyArray_SetBaseObject((PyArrayObject *)a, cap) < 0) {
    Py_XDECREF(a);
    Py_DECREF(cap);
    return NULL;
  }
  return a;
}

PyArrayObject *slpy_new(int nd, const npy_intp *dims, int typenum)
{
  return (PyArrayObject *)PyArray_ZEROS(nd, (npy_intp *)dims, typenum, 0);
}

/* ------------------------------------------------------------ helpers */

PyObject *slpy_path(PyObject *obj, const char *name)
{
  PyObject *b = NULL;
  if (!PyUnicode_FSConverter(obj, &b)) {
    PyErr_Clear();
    PyErr_Format(PyExc_TypeError, "%s: expected a path (str, bytes or os.PathLike), got %s",
                 name, Py_TYPE(obj)->tp_name);
    return NULL;
  }
  return b;
}

int slpy_dict_steal(PyObject *d, const char *key, PyObject *value)
{
  if (!value)
    return -1;
  int r = PyDict_SetItemString(d, key, value);
  Py_DECREF(value);
  return r;
}

/* ------------------------------------------------------------ module functions */

static PyObject *mod_version(PyObject *m, PyObject *unused)
{
  return PyUnicode_FromString(sl_version());
}

static PyObject *mod_git_revision(PyObject *m, PyObject *unused)
{
  return PyUnicode_FromString(sl_git_revision());
}

static PyObject *mod_get_num_threads(PyObject *m, PyObject *unused)
{
  return PyLong_FromLong(sl_get_num_threads());
}

static PyObject *mod_set_num_threads(PyObject *m, PyObject *arg)
{
  long n = PyLong_AsLong(arg);
  if (n == -1 && PyErr_Occurred())
    return NULL;
  if (n < 1 || n > 4096) {
    PyErr_Format(PyExc_ValueError, "set_num_threads: n must be in 1..4096, got %ld", n);
    return NULL;
  }
  int rc = sl_set_num_threads((int)n);
  if (rc)
    return slpy_raise(rc);
  Py_RETURN_NONE;
}

static PyObject *mod_backends(PyObject *m, PyObject *unused)
{
  char buf[2048];
  sl_backend_names(buf, sizeof buf);
  /* "a, b, c" -> "a,b,c" */
  size_t j = 0;
  for (size_t i = 0; buf[i]; i++)
    if (buf[i] != ' ')
      buf[j++] = buf[i];
  buf[j] = '\0';
  PyObject *s = PyUnicode_FromString(buf);
  if (!s)
    return NULL;
  PyObject *sep = PyUnicode_FromString(",");
  PyObject *l = sep ? PyUnicode_Split(s, sep, -1) : NULL;
  Py_XDECREF(sep);
  Py_DECREF(s);
  return l;
}

static PyObject *mod_builtin_backends(PyObject *m, PyObject *unused)
{
  PyObject *d = PyDict_New();
  for (size_t i = 0; d; i++) {
    int built = 0;
    const char *name = sl_backend_builtin(i, &built);
    if (!name)
      break;
    if (PyDict_SetItemString(d, name, built ? Py_True : Py_False) < 0)
      Py_CLEAR(d);
  }
  return d;
}

static PyObject *mod_config_keys(PyObject *m, PyObject *unused)
{
  size_t n = sl_config_num_keys();
  PyObject *l = PyList_New((Py_ssize_t)n);
  for (size_t i = 0; l && i < n; i++) {
    PyObject *t = Py_BuildValue("(sss)", sl_config_key_name(i), sl_config_key_default(i),
                                sl_config_key_help(i));
    if (!t) {
      Py_CLEAR(l);
      break;
    }
    PyList_SET_ITEM(l, (Py_ssize_t)i, t);
  }
  return l;
}

static PyMethodDef module_methods[] = {
    {"version", mod_version, METH_NOARGS, "version() -> str: the library version."},
    {"git_revision", mod_git_revision, METH_NOARGS, "git_revision() -> str: revision at configure time."},
    {"get_num_threads", mod_get_num_threads, METH_NOARGS, "get_num_threads() -> int: OpenMP threads."},
    {"set_num_threads", mod_set_num_threads, METH_O, "set_num_threads(n): OpenMP threads (>= 1)."},
    {"backends", mod_backends, METH_NOARGS, "backends() -> list of str: registered backends (plugins of SPIKELOOP_BACKEND_PATH included)."},
    {"builtin_backends", mod_builtin_backends, METH_NOARGS, "builtin_backends() -> dict: built-in backend name -> compiled into this build."},
    {"config_keys", mod_config_keys, METH_NOARGS, "config_keys() -> list of (key, default, help)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_core",
    "spikeloop._core: the C extension over libspikeloop (use the package spikeloop).", -1,
    module_methods};

static int add_exceptions(PyObject *m)
{
  PyObject *dict = Py_BuildValue("{s:i}", "code", 0);
  if (!dict)
    return -1;
  exc_base = PyErr_NewExceptionWithDoc(
      "spikeloop.Error", "Base of the errors the library reports; .code is the SL_E* status "
      "and str() the library's message.", NULL, dict);
  Py_DECREF(dict);
  if (!exc_base || PyModule_AddObjectRef(m, "Error", exc_base) < 0)
    return -1;
  PyObject *bases = PyTuple_Pack(2, exc_base, PyExc_ValueError);
  exc_closed = bases ? PyErr_NewExceptionWithDoc("spikeloop.ClosedError",
                                                 "The object was closed.", bases, NULL)
                     : NULL;
  Py_XDECREF(bases);
  if (!exc_closed || PyModule_AddObjectRef(m, "ClosedError", exc_closed) < 0)
    return -1;
  for (size_t i = 0; i < sizeof exc_table / sizeof exc_table[0]; i++) {
    char qual[64];
    snprintf(qual, sizeof qual, "spikeloop.%s", exc_table[i].name);
    bases = PyTuple_Pack(2, exc_base, *exc_table[i].extra);
    PyObject *e = bases ? PyErr_NewExceptionWithDoc(qual, exc_table[i].doc, bases, NULL) : NULL;
    Py_XDECREF(bases);
    if (!e || PyModule_AddObjectRef(m, exc_table[i].name, e) < 0)
      return -1;
    exc_code[exc_table[i].code] = e;
  }
  return 0;
}

PyMODINIT_FUNC PyInit__core(void)
{
  import_array();
  if (PyType_Ready(&pin_type) < 0)
    return NULL;
  PyObject *m = PyModule_Create(&module_def);
  if (!m)
    return NULL;
  if (add_exceptions(m) < 0 || slpy_init_config(m) < 0 || slpy_init_session(m) < 0 ||
      slpy_init_runlog(m) < 0 || slpy_init_cim(m) < 0 || slpy_init_calib(m) < 0) {
    Py_DECREF(m);
    return NULL;
  }
  return m;
}
