/* runlog.c -- spikeloop.RunLog (writing, sl_runlog) and
 * spikeloop.RunLogReader (reading, sl_runlog_reader) over the HDF5 run log
 * of spikeloop/runlog.h. HDF5 calls run with the GIL released. */
#include "slpy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ writer */

typedef struct {
  slpy_handle h; /* ptr: sl_runlog * */
} runlog_obj;

static void runlog_destroy(slpy_handle *h) { sl_runlog_close(h->ptr); }

static PyObject *runlog_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
  runlog_obj *o = (runlog_obj *)type->tp_alloc(type, 0);
  if (o)
    o->h.destroy = runlog_destroy;
  return (PyObject *)o;
}

static int runlog_init(PyObject *self, PyObject *args, PyObject *kw)
{
  static char *kwlist[] = {"path", "config", "command", "seed", "threads", NULL};
  runlog_obj *o = (runlog_obj *)self;
  PyObject *path_o, *cfg_o = Py_None, *seed_o = Py_None;
  const char *command = "python";
  int threads = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OzOi:RunLog", kwlist, &path_o, &cfg_o, &command,
                                   &seed_o, &threads))
    return -1;
  if (o->h.ptr || o->h.busy) {
    PyErr_SetString(PyExc_RuntimeError, "RunLog.__init__ called twice");
    return -1;
  }
  sl_config cfg;
  if (slpy_config_from(cfg_o, NULL, &cfg) < 0)
    return -1;
  sl_run_meta meta = {command, cfg.seed, threads > 0 ? threads : sl_get_num_threads()};
  if (seed_o != Py_None) {
    meta.seed = PyLong_AsUnsignedLongLong(seed_o);
    if (PyErr_Occurred())
      return -1;
  }
  PyObject *p = slpy_path(path_o, "path");
  if (!p)
    return -1;
  sl_runlog *log = NULL;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = sl_runlog_create(&log, PyBytes_AS_STRING(p), &cfg, &meta);
  Py_END_ALLOW_THREADS
  Py_DECREF(p);
  if (rc)
    return slpy_fail(rc);
  o->h.ptr = log;
  return 0;
}

sl_runlog *slpy_runlog_enter(PyObject *obj, slpy_handle **h)
{
  if (!PyObject_TypeCheck(obj, &slpy_RunLogType)) {
    PyErr_Format(PyExc_TypeError, "expected a spikeloop.RunLog, got %s", Py_TYPE(obj)->tp_name);
    return NULL;
  }
  *h = &((runlog_obj *)obj)->h;
  if (slpy_enter(*h, "RunLog") < 0)
    return NULL;
  return (*h)->ptr;
}

static double metric(PyObject *d, const char *key, double dflt, int *err)
{
  PyObject *v = PyDict_GetItemString(d, key);
  if (!v)
    return dflt;
  double x = PyFloat_AsDouble(v);
  if (x == -1.0 && PyErr_Occurred())
    *err = 1;
  return x;
}

static PyObject *runlog_append_epoch(PyObject *self, PyObject *args, PyObject *kw)
{
  runlog_obj *o = (runlog_obj *)self;
  PyObject *d = NULL;
  if (!PyArg_ParseTuple(args, "|O!:append_epoch", &PyDict_Type, &d))
    return NULL;
  PyObject *all = PyDict_New();
  if (!all || (d && PyDict_Update(all, d) < 0) || (kw && PyDict_Update(all, kw) < 0)) {
    Py_XDECREF(all);
    return NULL;
  }
  int err = 0;
  sl_epoch_metrics m;
  m.epoch = (long)metric(all, "epoch", 0, &err);
  m.loss = metric(all, "loss", NAN, &err);
  m.train_accuracy = metric(all, "train_accuracy", NAN, &err);
  m.val_accuracy = metric(all, "val_accuracy", NAN, &err);
  m.test_accuracy = metric(all, "test_accuracy", NAN, &err);
  m.hidden_rate = metric(all, "hidden_rate", NAN, &err);
  m.seconds = metric(all, "seconds", NAN, &err);
  Py_DECREF(all);
  if (err || slpy_enter(&o->h, "RunLog") < 0)
    return NULL;
  sl_runlog *log = o->h.ptr;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = sl_runlog_append_epoch(log, &m);
  Py_END_ALLOW_THREADS
  slpy_leave(&o->h);
  if (rc)
    return slpy_raise(rc);
  Py_RETURN_NONE;
}

static PyObject *runlog_put(PyObject *self, PyObject *args, int is_int)
{
  runlog_obj *o = (runlog_obj *)self;
  const char *path;
  PyObject *a_o;
  if (!PyArg_ParseTuple(args, is_int ? "sO:put_int" : "sO:put_float", &path, &a_o))
    return NULL;
  PyArrayObject *a = slpy_array_in(a_o, is_int ? NPY_INT32 : NPY_FLOAT32, 1, is_int ? 1 : 2,
                                   "array");
  if (!a)
    return NULL;
  if (PyArray_SIZE(a) == 0) {
    Py_DECREF(a);
    return slpy_raise(sl_error(SL_ESHAPE, "put: the array at %s is empty", path));
  }
  if (slpy_enter(&o->h, "RunLog") < 0) {
    Py_DECREF(a);
    return NULL;
  }
  sl_runlog *log = o->h.ptr;
  size_t rows = (size_t)PyArray_DIM(a, 0), cols = PyArray_NDIM(a) == 2 ? (size_t)PyArray_DIM(a, 1) : 0;
  void *data = PyArray_DATA(a);
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = is_int ? sl_runlog_put_int(log, path, data, rows)
              : sl_runlog_put_float(log, path, data, rows, cols);
  Py_END_ALLOW_THREADS
  slpy_leave(&o->h);
  Py_DECREF(a);
  if (rc)
    return slpy_raise(rc);
  Py_RETURN_NONE;
}

static PyObject *runlog_put_float(PyObject *self, PyObject *args) { return runlog_put(self, args, 0); }
static PyObject *runlog_put_int(PyObject *self, PyObject *args) { return runlog_put(self, args, 1); }

static PyObject *runlog_put_summary(PyObject *self, PyObject *args)
{
  runlog_obj *o = (runlog_obj *)self;
  const char *name;
  PyObject *v;
  if (!PyArg_ParseTuple(args, "sO:put_summary", &name, &v))
    return NULL;
  PyArrayObject *a = NULL;
  double x = 0;
  const char *text = NULL;
  if (PyUnicode_Check(v)) {
    text = PyUnicode_AsUTF8(v);
    if (!text)
      return NULL;
  } else if (PyFloat_Check(v) || PyLong_Check(v) || (PyArray_IsScalar(v, Number))) {
    x = PyFloat_AsDouble(v);
    if (x == -1.0 && PyErr_Occurred())
      return NULL;
  } else {
    a = slpy_array_in(v, NPY_FLOAT64, 1, 1, "value");
    if (!a)
      return NULL;
  }
  if (slpy_enter(&o->h, "RunLog") < 0) {
    Py_XDECREF(a);
    return NULL;
  }
  sl_runlog *log = o->h.ptr;
  int rc;
  if (text)
    rc = sl_runlog_put_summary_string(log, name, text);
  else if (a)
    rc = sl_runlog_put_summary_array(log, name, PyArray_DATA(a), (size_t)PyArray_DIM(a, 0));
  else
    rc = sl_runlog_put_summary(log, name, x);
  slpy_leave(&o->h);
  Py_XDECREF(a);
  if (rc)
    return slpy_raise(rc);
  Py_RETURN_NONE;
}

static PyObject *runlog_finish(PyObject *self, PyObject *args, PyObject *kw)
{
  static char *kwlist[] = {"test_accuracy", "epochs", "seconds", NULL};
  runlog_obj *o = (runlog_obj *)self;
  double acc, seconds;
  long epochs;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "dld:finish", kwlist, &acc, &epochs, &seconds))
    return NULL;
  if (slpy_enter(&o->h, "RunLog") < 0)
    return NULL;
  sl_runlog *log = o->h.ptr;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = sl_runlog_finish(log, acc, epochs, seconds);
  Py_END_ALLOW_THREADS
  slpy_leave(&o->h);
  if (rc)
    return slpy_raise(rc);
  Py_RETURN_NONE;
}

static PyMethodDef runlog_methods[] = {
    {"append_epoch", (PyCFunction)(void (*)(void))runlog_append_epoch, METH_VARARGS | METH_KEYWORDS,
     "append_epoch(metrics=None, **metrics): one /metrics row (epoch, loss, train_accuracy, "
     "val_accuracy, test_accuracy, hidden_rate, seconds; missing values are NaN)."},
    {"put_float", runlog_put_float, METH_VARARGS,
     "put_float(path, array): stage a float32 1-D or 2-D array (moved into place by finish)."},
    {"put_int", runlog_put_int, METH_VARARGS, "put_int(path, array): stage an int32 1-D array."},
    {"put_summary", runlog_put_summary, METH_VARARGS,
     "put_summary(name, value): a /summary attribute: a number, a 1-D sequence or a str."},
    {"finish", (PyCFunction)(void (*)(void))runlog_finish, METH_VARARGS | METH_KEYWORDS,
     "finish(test_accuracy, epochs, seconds): move staged arrays, write /summary."},
    {"close", slpy_meth_close, METH_NOARGS, "close(): close the file."},
    {"__enter__", slpy_meth_enter, METH_NOARGS, NULL},
    {"__exit__", slpy_meth_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef runlog_getset[] = {
    {"closed", slpy_get_closed, NULL, "whether close() was called", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject slpy_RunLogType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "spikeloop.RunLog",
    .tp_basicsize = sizeof(runlog_obj),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "RunLog(path, config=None, command='python', seed=None, threads=0): create "
              "(truncate) an HDF5 run log with /config, /meta and empty /metrics. A file "
              "without /summary is an unfinished run; call finish() to complete it.",
    .tp_new = runlog_new,
    .tp_init = runlog_init,
    .tp_dealloc = slpy_handle_dealloc,
    .tp_methods = runlog_methods,
    .tp_getset = runlog_getset,
};

/* ------------------------------------------------------------ reader */

typedef struct {
  slpy_handle h; /* ptr: sl_runlog_reader * */
} reader_obj;

static void reader_destroy(slpy_handle *h) { sl_runlog_reader_close(h->ptr); }

static PyObject *reader_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
  reader_obj *o = (reader_obj *)type->tp_alloc(type, 0);
  if (o)
    o->h.destroy = reader_destroy;
  return (PyObject *)o;
}

static int reader_init(PyObject *self, PyObject *args, PyObject *kw)
{
  reader_obj *o = (reader_obj *)self;
  PyObject *path_o;
  if (!PyArg_ParseTuple(args, "O:RunLogReader", &path_o))
    return -1;
  if (o->h.ptr || o->h.busy) {
    PyErr_SetString(PyExc_RuntimeError, "RunLogReader.__init__ called twice");
    return -1;
  }
  PyObject *p = slpy_path(path_o, "path");
  if (!p)
    return -1;
  sl_runlog_reader *r = NULL;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = sl_runlog_open(&r, PyBytes_AS_STRING(p));
  Py_END_ALLOW_THREADS
  Py_DECREF(p);
  if (rc)
    return slpy_fail(rc);
  o->h.ptr = r;
  return 0;
}

static PyObject *reader_config(PyObject *self, PyObject *unused)
{
  reader_obj *o = (reader_obj *)self;
  if (slpy_enter(&o->h, "RunLogReader") < 0)
    return NULL;
  sl_config cfg;
  sl_config_defaults(&cfg);
  int rc = sl_runlog_read_config(o->h.ptr, &cfg);
  slpy_leave(&o->h);
  return rc ? slpy_raise(rc) : slpy_config_new(&cfg);
}

static PyObject *reader_epochs(PyObject *self, PyObject *unused)
{
  reader_obj *o = (reader_obj *)self;
  if (slpy_enter(&o->h, "RunLogReader") < 0)
    return NULL;
  long n = 0;
  int rc = sl_runlog_get_epochs(o->h.ptr, &n);
  slpy_leave(&o->h);
  return rc ? slpy_raise(rc) : PyLong_FromLong(n);
}

static PyObject *reader_summary(PyObject *self, PyObject *name_o)
{
  reader_obj *o = (reader_obj *)self;
  const char *name = PyUnicode_Check(name_o) ? PyUnicode_AsUTF8(name_o) : NULL;
  if (!name)
    return PyErr_Format(PyExc_TypeError, "summary: name must be str");
  if (slpy_enter(&o->h, "RunLogReader") < 0)
    return NULL;
  double v = 0;
  int rc = sl_runlog_get_summary(o->h.ptr, name, &v);
  slpy_leave(&o->h);
  return rc ? slpy_raise(rc) : PyFloat_FromDouble(v);
}

/* shape: an int (1-D) or a (rows, cols) tuple. */
static int parse_shape(PyObject *s, size_t *rows, size_t *cols)
{
  Py_ssize_t r = -1, c = 0;
  if (PyLong_Check(s)) {
    r = PyLong_AsSsize_t(s);
  } else if (PyTuple_Check(s) && PyTuple_GET_SIZE(s) == 1) {
    r = PyLong_AsSsize_t(PyTuple_GET_ITEM(s, 0));
  } else if (PyTuple_Check(s) && PyTuple_GET_SIZE(s) == 2) {
    r = PyLong_AsSsize_t(PyTuple_GET_ITEM(s, 0));
    c = PyLong_AsSsize_t(PyTuple_GET_ITEM(s, 1));
  }
  if (PyErr_Occurred())
    PyErr_Clear();
  if (r <= 0 || c < 0 || (PyTuple_Check(s) && PyTuple_GET_SIZE(s) == 2 && c == 0) ||
      (size_t)r > ((size_t)1 << 40) || (size_t)c > ((size_t)1 << 40)) {
    PyErr_Format(PyExc_ValueError, "shape: expected n or (rows, cols) of positive ints, got %R", s);
    return -1;
  }
  *rows = (size_t)r;
  *cols = (size_t)c;
  return 0;
}

static PyObject *reader_get(PyObject *self, PyObject *args, int is_int)
{
  reader_obj *o = (reader_obj *)self;
  const char *path;
  PyObject *shape;
  if (!PyArg_ParseTuple(args, is_int ? "sO:get_int" : "sO:get_float", &path, &shape))
    return NULL;
  size_t rows, cols;
  if (parse_shape(shape, &rows, &cols) < 0)
    return NULL;
  if (is_int && cols) {
    PyErr_SetString(PyExc_ValueError, "get_int: int arrays are 1-D");
    return NULL;
  }
  npy_intp dims[2] = {(npy_intp)rows, (npy_intp)cols};
  PyArrayObject *a = slpy_new(cols ? 2 : 1, dims, is_int ? NPY_INT32 : NPY_FLOAT32);
  if (!a || slpy_enter(&o->h, "RunLogReader") < 0) {
    Py_XDECREF(a);
    return NULL;
  }
  sl_runlog_reader *r = o->h.ptr;
  void *data = PyArray_DATA(a);
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = is_int ? sl_runlog_get_int(r, path, data, rows) : sl_runlog_get_float(r, path, data, rows, cols);
  Py_END_ALLOW_THREADS
  slpy_leave(&o->h);
  if (rc) {
    Py_DECREF(a);
    return slpy_raise(rc);
  }
  return (PyObject *)a;
}

static PyObject *reader_get_float(PyObject *self, PyObject *args) { return reader_get(self, args, 0); }
static PyObject *reader_get_int(PyObject *self, PyObject *args) { return reader_get(self, args, 1); }

static PyMethodDef reader_methods[] = {
    {"config", reader_config, METH_NOARGS, "config() -> Config of the run (/config over the defaults)."},
    {"epochs", reader_epochs, METH_NOARGS, "epochs() -> complete /metrics rows."},
    {"summary", reader_summary, METH_O, "summary(name) -> float: a /summary attribute."},
    {"get_float", reader_get_float, METH_VARARGS,
     "get_float(path, shape) -> float32 array; shape n or (rows, cols) must match the file."},
    {"get_int", reader_get_int, METH_VARARGS, "get_int(path, n) -> int32 array of length n."},
    {"close", slpy_meth_close, METH_NOARGS, "close(): close the file."},
    {"__enter__", slpy_meth_enter, METH_NOARGS, NULL},
    {"__exit__", slpy_meth_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyTypeObject reader_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "spikeloop.RunLogReader",
    .tp_basicsize = sizeof(reader_obj),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "RunLogReader(path): read a run log through the library (shapes are checked).",
    .tp_new = reader_new,
    .tp_init = reader_init,
    .tp_dealloc = slpy_handle_dealloc,
    .tp_methods = reader_methods,
    .tp_getset = runlog_getset,
};

int slpy_init_runlog(PyObject *m)
{
  if (PyType_Ready(&slpy_RunLogType) < 0 || PyType_Ready(&reader_type) < 0)
    return -1;
  if (PyModule_AddObjectRef(m, "RunLog", (PyObject *)&slpy_RunLogType) < 0 ||
      PyModule_AddObjectRef(m, "RunLogReader", (PyObject *)&reader_type) < 0)
    return -1;
  return 0;
}
