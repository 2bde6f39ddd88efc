/* session.c -- spikeloop.Session over sl_session (spikeloop/session.h): a
 * run built from a configuration (data, encoder, network, trainer, and the
 * backend with its loop when backend.name is not the plain simulator).
 * Training runs one epoch per library call with the GIL released, so that
 * the Python callback runs between epochs and can stop the run (the library
 * continues the schedule and shuffling across calls, so N calls of one
 * epoch are the run of N epochs). Also the module functions make_data and
 * encode (the data sets and the encoder of a configuration). */
#include "slpy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  slpy_handle h; /* ptr: sl_session * */
} session_obj;

#define SESSION(o) ((sl_session *)((session_obj *)(o))->h.ptr)

static void session_destroy(slpy_handle *h) { sl_session_free(h->ptr); }

static PyObject *session_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
  session_obj *o = (session_obj *)type->tp_alloc(type, 0);
  if (o)
    o->h.destroy = session_destroy;
  return (PyObject *)o;
}

static int session_init(PyObject *self, PyObject *args, PyObject *kw)
{
  session_obj *o = (session_obj *)self;
  PyObject *src = Py_None;
  if (!PyArg_ParseTuple(args, "|O:Session", &src))
    return -1;
  if (o->h.ptr || o->h.busy) {
    PyErr_SetString(PyExc_RuntimeError, "Session.__init__ called twice");
    return -1;
  }
  sl_config cfg;
  if (slpy_config_args(src, kw, &cfg) < 0)
    return -1;
  sl_session *s = NULL;
  int rc;
  o->h.busy = 1;
  Py_BEGIN_ALLOW_THREADS
  rc = sl_session_create(&s, &cfg);
  Py_END_ALLOW_THREADS
  o->h.busy = 0;
  if (rc)
    return slpy_fail(rc);
  o->h.ptr = s;
  o->h.closed = 0;
  return 0;
}

/* ------------------------------------------------------------ training */

static void capture(const sl_epoch_metrics *m, void *user) { *(sl_epoch_metrics *)user = *m; }

static PyObject *metrics_dict(const sl_epoch_metrics *m)
{
  return Py_BuildValue("{s:l,s:d,s:d,s:d,s:d,s:d,s:d}", "epoch", m->epoch, "loss", m->loss,
                       "train_accuracy", m->train_accuracy, "val_accuracy", m->val_accuracy,
                       "test_accuracy", m->test_accuracy, "hidden_rate", m->hidden_rate,
                       "seconds", m->seconds);
}

static PyObject *session_train(PyObject *self, PyObject *args, PyObject *kw)
{
  static char *kwlist[] = {"epochs", "callback", "log", NULL};
  session_obj *o = (session_obj *)self;
  PyObject *epochs_o = Py_None, *callback = Py_None, *log_o = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|OOO:train", kwlist, &epochs_o, &callback, &log_o))
    return NULL;
  if (!slpy_usable(&o->h, "Session"))
    return NULL;
  long epochs = sl_session_config(SESSION(o))->epochs;
  if (epochs_o != Py_None) {
    epochs = PyLong_AsLong(epochs_o);
    if (epochs == -1 && PyErr_Occurred())
      return NULL;
    if (epochs < 0)
      return PyErr_Format(PyExc_ValueError, "train: epochs must be >= 0, got %ld", epochs);
  }
  if (callback != Py_None && !PyCallable_Check(callback))
    return PyErr_Format(PyExc_TypeError, "train: callback must be callable, got %s",
                        Py_TYPE(callback)->tp_name);
  slpy_handle *lh = NULL;
  sl_runlog *log = NULL;
  if (log_o != Py_None && !(log = slpy_runlog_enter(log_o, &lh)))
    return NULL;

  sl_run_result res = {0};
  double seconds = 0.0;
  int stopped = 0, failed = 0;
  long e = 0;
  do {
    sl_epoch_metrics m;
    memset(&m, 0, sizeof m);
    if (slpy_enter(&o->h, "Session") < 0) {
      failed = 1;
      break;
    }
    sl_session *s = SESSION(o);
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = sl_session_train(s, epochs > 0 ? 1 : 0, log, capture, &m, &res);
    Py_END_ALLOW_THREADS
    slpy_leave(&o->h);
    if (rc) {
      slpy_raise(rc);
      failed = 1;
      break;
    }
    seconds += res.seconds;
    if (epochs == 0)
      break;
    if (callback != Py_None) {
      PyObject *d = metrics_dict(&m);
      PyObject *r = d ? PyObject_CallOneArg(callback, d) : NULL;
      Py_XDECREF(d);
      if (!r) {
        failed = 1;
        break;
      }
      stopped = PyObject_IsTrue(r);
      Py_DECREF(r);
      if (stopped < 0) {
        failed = 1;
        break;
      }
    }
    if (PyErr_CheckSignals() < 0) {
      failed = 1;
      break;
    }
    if (lh && lh->closed) {
      PyErr_SetString(PyExc_RuntimeError, "train: the run log was closed by the callback");
      failed = 1;
      break;
    }
  } while (!stopped && ++e < epochs);
  if (lh)
    slpy_leave(lh);
  if (failed)
    return NULL;
  return Py_BuildValue("{s:d,s:d,s:d,s:d,s:l,s:O}", "test_accuracy", res.test_accuracy,
                       "val_accuracy", res.val_accuracy, "train_accuracy", res.train_accuracy,
                       "seconds", seconds, "epochs", res.epochs, "stopped",
                       stopped ? Py_True : Py_False);
}

static int set_from(PyObject *o)
{
  if (PyLong_Check(o)) {
    long v = PyLong_AsLong(o);
    if (v >= SL_SET_TRAIN && v <= SL_SET_TEST)
      return (int)v;
  } else if (PyUnicode_Check(o)) {
    const char *t = PyUnicode_AsUTF8(o);
    if (t && strcmp(t, "train") == 0)
      return SL_SET_TRAIN;
    if (t && (strcmp(t, "val") == 0 || strcmp(t, "validation") == 0))
      return SL_SET_VAL;
    if (t && strcmp(t, "test") == 0)
      return SL_SET_TEST;
  }
  PyErr_Clear();
  PyErr_Format(PyExc_ValueError, "expected 'train', 'val' or 'test', got %R", o);
  return -1;
}

static PyObject *session_evaluate(PyObject *self, PyObject *args, PyObject *kw)
{
  static char *kwlist[] = {"which", NULL};
  session_obj *o = (session_obj *)self;
  PyObject *which_o = NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:evaluate", kwlist, &which_o))
    return NULL;
  int which = which_o ? set_from(which_o) : SL_SET_TEST;
  if (which < 0 || slpy_enter(&o->h, "Session") < 0)
    return NULL;
  sl_eval_result r;
  int rc;
  sl_session *s = SESSION(o);
  Py_BEGIN_ALLOW_THREADS
  rc = sl_session_evaluate(s, which, &r);
  Py_END_ALLOW_THREADS
  slpy_leave(&o->h);
  if (rc)
    return slpy_raise(rc);
  return Py_BuildValue("{s:d,s:d,s:d}", "accuracy", r.accuracy, "loss", r.loss, "hidden_rate",
                       r.hidden_rate);
}

/* ------------------------------------------------------------ simulation */

/* x as a (T, B, n_in) float32 raster for the session's network. */
static PyArrayObject *raster_in(sl_session *s, PyObject *x_o)
{
  PyArrayObject *x = slpy_array_in(x_o, NPY_FLOAT32, 3, 3, "x");
  if (!x)
    return NULL;
  const sl_net_spec *sp = sl_net_get_spec(sl_session_net(s));
  npy_intp *d = PyArray_DIMS(x);
  if ((size_t)d[2] != sp->n_in || d[0] == 0 || d[1] == 0) {
    slpy_raise(sl_error(SL_ESHAPE, "x: expected shape (T, B, %zu) with T, B > 0, got (%ld, %ld, %ld)",
                        sp->n_in, (long)d[0], (long)d[1], (long)d[2]));
    Py_DECREF(x);
    return NULL;
  }
  return x;
}

static PyObject *session_simulate(PyObject *self, PyObject *args, PyObject *kw)
{
  static char *kwlist[] = {"x", NULL};
  session_obj *o = (session_obj *)self;
  PyObject *x_o;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O:simulate", kwlist, &x_o))
    return NULL;
  if (!slpy_usable(&o->h, "Session"))
    return NULL;
  PyArrayObject *x = raster_in(SESSION(o), x_o);
  if (!x || slpy_enter(&o->h, "Session") < 0) {
    Py_XDECREF(x);
    return NULL;
  }
  sl_session *s = SESSION(o);
  sl_net *net = sl_session_net(s);
  sl_loop *loop = sl_session_loop(s);
  const float *xd = PyArray_DATA(x);
  size_t T = (size_t)PyArray_DIM(x, 0), B = (size_t)PyArray_DIM(x, 1);
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = loop ? sl_loop_forward(loop, xd, T, B) : sl_net_forward(net, xd, T, B);
  Py_END_ALLOW_THREADS
  Py_DECREF(x);
  PyObject *v = NULL, *sp = NULL, *out = NULL;
  if (rc) {
    slpy_leave(&o->h);
    return slpy_raise(rc);
  }
  /* the states are views the next forward overwrites: copied out */
  size_t L = sl_net_get_spec(net)->n_layers;
  v = PyList_New(0);
  sp = PyList_New(0);
  for (size_t l = 0; v && sp && l <= L; l++) {
    sl_layer_state st;
    if ((rc = sl_net_state(net, l, &st))) {
      slpy_raise(rc);
      Py_CLEAR(v);
      break;
    }
    npy_intp dims[3] = {(npy_intp)st.T, (npy_intp)st.B, (npy_intp)st.N};
    PyArrayObject *a = slpy_new(3, dims, NPY_FLOAT32);
    if (!a || PyList_Append(v, (PyObject *)a) < 0) {
      Py_XDECREF(a);
      Py_CLEAR(v);
      break;
    }
    memcpy(PyArray_DATA(a), st.v, st.T * st.B * st.N * sizeof(float));
    Py_DECREF(a);
    if (l < L) {
      a = slpy_new(3, dims, NPY_FLOAT32);
      if (!a || PyList_Append(sp, (PyObject *)a) < 0) {
        Py_XDECREF(a);
        Py_CLEAR(v);
        break;
      }
      memcpy(PyArray_DATA(a), st.s, st.T * st.B * st.N * sizeof(float));
      Py_DECREF(a);
    }
  }
  slpy_leave(&o->h);
  if (v && sp)
    out = Py_BuildValue("{s:O,s:O,s:O,s:O}", "spikes", sp, "v", v, "output",
                        PyList_GET_ITEM(v, (Py_ssize_t)L), "measured", loop ? Py_True : Py_False);
  Py_XDECREF(v);
  Py_XDECREF(sp);
  return out;
}

static PyObject *session_infer(PyObject *self, PyObject *args, PyObject *kw)
{
  static char *kwlist[] = {"x", NULL};
  session_obj *o = (session_obj *)self;
  PyObject *x_o;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O:infer", kwlist, &x_o))
    return NULL;
  if (!slpy_usable(&o->h, "Session"))
    return NULL;
  PyArrayObject *x = raster_in(SESSION(o), x_o);
  if (!x)
    return NULL;
  sl_net *net = sl_session_net(SESSION(o));
  size_t T = (size_t)PyArray_DIM(x, 0), B = (size_t)PyArray_DIM(x, 1);
  npy_intp dims[2] = {(npy_intp)B, (npy_intp)sl_net_get_spec(net)->n_out};
  PyArrayObject *logits = slpy_new(2, dims, NPY_FLOAT32);
  if (!logits || slpy_enter(&o->h, "Session") < 0) {
    Py_DECREF(x);
    Py_XDECREF(logits);
    return NULL;
  }
  const float *xd = PyArray_DATA(x);
  float *ld = PyArray_DATA(logits);
  sl_infer_stats st;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = sl_net_infer(net, xd, T, B, ld, &st);
  Py_END_ALLOW_THREADS
  slpy_leave(&o->h);
  Py_DECREF(x);
  if (rc) {
    Py_DECREF(logits);
    return slpy_raise(rc);
  }
  return (PyObject *)logits;
}

/* ------------------------------------------------------------ weights and neurons */

static PyObject *session_weights(PyObject *self, PyObject *args, PyObject *kw)
{
  static char *kwlist[] = {"master", NULL};
  session_obj *o = (session_obj *)self;
  int master = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|p:weights", kwlist, &master))
    return NULL;
  if (!slpy_usable(&o->h, "Session"))
    return NULL;
  sl_net *net = sl_session_net(SESSION(o));
  PyObject *d = PyDict_New();
  for (size_t i = 0; d && i < sl_net_num_tensors(net); i++) {
    sl_tensor t;
    int rc = sl_net_tensor(net, i, &t);
    if (rc) {
      Py_DECREF(d);
      return slpy_raise(rc);
    }
    float *data = master ? sl_net_master(net) + (t.data - sl_net_params(net)) : t.data;
    npy_intp dims[2] = {(npy_intp)t.rows, (npy_intp)t.cols};
    char key[96];
    snprintf(key, sizeof key, "%s/%s", t.layer, t.name);
    if (slpy_dict_steal(d, key, slpy_view(&o->h, data, 2, dims, NPY_FLOAT32)) < 0)
      Py_CLEAR(d);
  }
  return d;
}

static PyObject *session_set_weights(PyObject *self, PyObject *map)
{
  session_obj *o = (session_obj *)self;
  if (!PyDict_Check(map))
    return PyErr_Format(PyExc_TypeError, "set_weights: expected a dict {'layer/name': array}, got %s",
                        Py_TYPE(map)->tp_name);
  if (!slpy_usable(&o->h, "Session"))
    return NULL;
  sl_net *net = sl_session_net(SESSION(o));
  size_t nt = sl_net_num_tensors(net);
  /* check every entry before changing anything */
  PyObject *arrays = PyList_New((Py_ssize_t)nt);
  if (!arrays)
    return NULL;
  PyObject *k, *v;
  Py_ssize_t pos = 0;
  while (PyDict_Next(map, &pos, &k, &v)) {
    const char *key = PyUnicode_Check(k) ? PyUnicode_AsUTF8(k) : NULL;
    size_t i = nt;
    for (size_t j = 0; key && j < nt; j++) {
      sl_tensor t;
      char name[96];
      if (sl_net_tensor(net, j, &t) == SL_OK) {
        snprintf(name, sizeof name, "%s/%s", t.layer, t.name);
        if (strcmp(name, key) == 0)
          i = j;
      }
    }
    if (i == nt) {
      Py_DECREF(arrays);
      return slpy_raise(sl_error(SL_ENOTFOUND, "set_weights: no tensor %s (keys are those of weights())",
                                 key ? key : "(not a str)"));
    }
    sl_tensor t;
    sl_net_tensor(net, i, &t);
    PyArrayObject *a = slpy_array_in(v, NPY_FLOAT32, 2, 2, key);
    if (!a) {
      Py_DECREF(arrays);
      return NULL;
    }
    if ((size_t)PyArray_DIM(a, 0) != t.rows || (size_t)PyArray_DIM(a, 1) != t.cols) {
      slpy_raise(sl_error(SL_ESHAPE, "set_weights: %s must be (%zu, %zu), got (%ld, %ld)", key,
                          t.rows, t.cols, (long)PyArray_DIM(a, 0), (long)PyArray_DIM(a, 1)));
      Py_DECREF(a);
      Py_DECREF(arrays);
      return NULL;
    }
    const float *f = PyArray_DATA(a);
    for (size_t j = 0; j < t.rows * t.cols; j++)
      if (!isfinite(f[j])) {
        slpy_raise(sl_error(SL_ENUMERIC, "set_weights: %s[%zu, %zu] is not finite", key,
                            j / t.cols, j % t.cols));
        Py_DECREF(a);
        Py_DECREF(arrays);
        return NULL;
      }
    PyList_SetItem(arrays, (Py_ssize_t)i, (PyObject *)a);
  }
  if (slpy_enter(&o->h, "Session") < 0) {
    Py_DECREF(arrays);
    return NULL;
  }
  /* the weights in use become: the new ones where given, the float master
   * elsewhere; sl_session_set_weights takes them as the master and syncs */
  float *params = sl_net_params(net), *mast = sl_net_master(net);
  for (size_t i = 0; i < nt; i++) {
    sl_tensor t;
    sl_net_tensor(net, i, &t);
    PyObject *a = PyList_GET_ITEM(arrays, (Py_ssize_t)i);
    const float *src = a && a != Py_None ? PyArray_DATA((PyArrayObject *)a)
                                         : mast + (t.data - params);
    memmove(t.data, src, t.rows * t.cols * sizeof(float));
  }
  sl_session *s = SESSION(o);
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = sl_session_set_weights(s, net);
  Py_END_ALLOW_THREADS
  slpy_leave(&o->h);
  Py_DECREF(arrays);
  if (rc)
    return slpy_raise(rc);
  Py_RETURN_NONE;
}

static PyObject *session_neurons(PyObject *self, PyObject *arg)
{
  session_obj *o = (session_obj *)self;
  if (!slpy_usable(&o->h, "Session"))
    return NULL;
  sl_net *net = sl_session_net(SESSION(o));
  size_t L = sl_net_get_spec(net)->n_layers, layer = L + 1;
  if (PyLong_Check(arg)) {
    long l = PyLong_AsLong(arg);
    if (l >= 0 && (size_t)l <= L)
      layer = (size_t)l;
  } else if (PyUnicode_Check(arg)) {
    const char *name = PyUnicode_AsUTF8(arg);
    for (size_t l = 0; name && l <= L; l++)
      if (strcmp(sl_net_layer_name(net, l), name) == 0)
        layer = l;
  }
  PyErr_Clear();
  if (layer > L)
    return slpy_raise(sl_error(SL_ENOTFOUND, "neurons: no layer %s (hidden0..hidden%zu, readout, or 0..%zu)",
                               PyUnicode_Check(arg) ? PyUnicode_AsUTF8(arg) : "of that index",
                               L - 1, L));
  sl_neurons *p = sl_net_neurons(net, layer);
  npy_intp n = (npy_intp)p->n;
  PyObject *d = PyDict_New();
  for (size_t i = 0; d && i < SL_NEURON_NFLOAT; i++) {
    const char *name = sl_neurons_float_name(i);
    if (slpy_dict_steal(d, name, slpy_view(&o->h, sl_neurons_param(p, name), 1, &n, NPY_FLOAT32)) < 0)
      Py_CLEAR(d);
  }
  if (d && slpy_dict_steal(d, "refrac", slpy_view(&o->h, p->refrac, 1, &n, NPY_INT32)) < 0)
    Py_CLEAR(d);
  return d;
}

static PyObject *session_log_network(PyObject *self, PyObject *log_o)
{
  session_obj *o = (session_obj *)self;
  slpy_handle *lh;
  sl_runlog *log = slpy_runlog_enter(log_o, &lh);
  if (!log)
    return NULL;
  if (slpy_enter(&o->h, "Session") < 0) {
    slpy_leave(lh);
    return NULL;
  }
  int rc = sl_session_log_network(SESSION(o), log);
  slpy_leave(&o->h);
  slpy_leave(lh);
  if (rc)
    return slpy_raise(rc);
  Py_RETURN_NONE;
}

static PyObject *session_backend_config(PyObject *self, PyObject *key)
{
  session_obj *o = (session_obj *)self;
  if (!PyUnicode_Check(key))
    return PyErr_Format(PyExc_TypeError, "backend_config: key must be str");
  if (!slpy_usable(&o->h, "Session"))
    return NULL;
  sl_loop *loop = sl_session_loop(SESSION(o));
  if (!loop)
    return slpy_raise(sl_error(SL_EUNSUPPORTED, "backend_config: the session runs in plain "
                                                "simulation (no backend instance)"));
  char buf[1024];
  int rc = sl_hw_read_config(sl_loop_hw(loop), PyUnicode_AsUTF8(key), buf, sizeof buf);
  if (rc)
    return slpy_raise(rc);
  return PyUnicode_FromString(buf);
}

/* ------------------------------------------------------------ properties */

static PyObject *session_get_config(PyObject *self, void *unused)
{
  session_obj *o = (session_obj *)self;
  return slpy_usable(&o->h, "Session") ? slpy_config_new(sl_session_config(SESSION(o))) : NULL;
}

static PyObject *session_get_epochs(PyObject *self, void *unused)
{
  session_obj *o = (session_obj *)self;
  return slpy_usable(&o->h, "Session") ? PyLong_FromLong(sl_session_epochs(SESSION(o))) : NULL;
}

static PyObject *session_get_layers(PyObject *self, void *unused)
{
  session_obj *o = (session_obj *)self;
  if (!slpy_usable(&o->h, "Session"))
    return NULL;
  sl_net *net = sl_session_net(SESSION(o));
  const sl_net_spec *sp = sl_net_get_spec(net);
  PyObject *l = PyList_New(0);
  for (size_t i = 0; l && i <= sp->n_layers; i++) {
    PyObject *t = Py_BuildValue("(sn)", sl_net_layer_name(net, i),
                                (Py_ssize_t)(i < sp->n_layers ? sp->n_hidden[i] : sp->n_out));
    if (!t || PyList_Append(l, t) < 0)
      Py_CLEAR(l);
    Py_XDECREF(t);
  }
  return l;
}

static PyObject *session_get_n_in(PyObject *self, void *unused)
{
  session_obj *o = (session_obj *)self;
  return slpy_usable(&o->h, "Session")
             ? PyLong_FromSize_t(sl_net_get_spec(sl_session_net(SESSION(o)))->n_in)
             : NULL;
}

static PyObject *session_get_backend(PyObject *self, void *unused)
{
  session_obj *o = (session_obj *)self;
  if (!slpy_usable(&o->h, "Session"))
    return NULL;
  sl_loop *loop = sl_session_loop(SESSION(o));
  if (!loop)
    Py_RETURN_NONE;
  return PyUnicode_FromString(sl_hw_name(sl_loop_hw(loop)));
}

static PyMethodDef session_methods[] = {
    {"train", (PyCFunction)(void (*)(void))session_train, METH_VARARGS | METH_KEYWORDS,
     "train(epochs=None, callback=None, log=None) -> dict\n\n"
     "Train `epochs` more epochs (default: train.epochs of the config), continuing the "
     "schedule. After every epoch callback(metrics) is called with a dict (epoch, loss, "
     "train_accuracy, val_accuracy, test_accuracy, hidden_rate, seconds); a true return value "
     "stops training, an exception stops it and propagates. log: a RunLog the metrics are "
     "appended to. Returns test/val/train_accuracy of the last epoch, seconds, epochs (total "
     "trained), stopped."},
    {"evaluate", (PyCFunction)(void (*)(void))session_evaluate, METH_VARARGS | METH_KEYWORDS,
     "evaluate(which='test') -> dict(accuracy, loss, hidden_rate), through the backend if any."},
    {"simulate", (PyCFunction)(void (*)(void))session_simulate, METH_VARARGS | METH_KEYWORDS,
     "simulate(x) -> dict\n\nForward pass of the raster x (T, B, n_in) (float32 used in "
     "place; other numeric dtypes converted) through the session's forward path: the backend "
     "if the session has one (then the states are the measured ones), else the simulator. "
     "Returns spikes: list of (T, B, N) per hidden layer, v: list of membrane traces (T, B, N) "
     "per layer (readout last), output: the readout trace, measured: bool."},
    {"infer", (PyCFunction)(void (*)(void))session_infer, METH_VARARGS | METH_KEYWORDS,
     "infer(x) -> logits (B, n_out): max over time of the readout membrane, in the host "
     "simulator (with the quantised weights in use on a backend)."},
    {"weights", (PyCFunction)(void (*)(void))session_weights, METH_VARARGS | METH_KEYWORDS,
     "weights(master=False) -> {'hidden0/w_in': array, ...}: read-only views of the weights "
     "in use (on a backend: quantised), or of the float master weights training steps."},
    {"set_weights", session_set_weights, METH_O,
     "set_weights({'layer/name': array, ...}): new master weights for the given tensors, "
     "synced (quantised and written to the backend, if any)."},
    {"neurons", session_neurons, METH_O,
     "neurons(layer) -> dict of read-only per-neuron arrays (tau_mem, ..., refrac) of a layer "
     "('hidden0', ..., 'readout' or its index)."},
    {"log_network", session_log_network, METH_O,
     "log_network(log): stage the weights (/params) and neurons (/mismatch) into a RunLog."},
    {"backend_config", session_backend_config, METH_O,
     "backend_config(key) -> str: a configuration value of the backend instance."},
    {"close", slpy_meth_close, METH_NOARGS, "close(): free the session (views keep its memory until they die)."},
    {"__enter__", slpy_meth_enter, METH_NOARGS, NULL},
    {"__exit__", slpy_meth_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef session_getset[] = {
    {"config", session_get_config, NULL, "a copy of the session's Config", NULL},
    {"epochs", session_get_epochs, NULL, "epochs trained so far", NULL},
    {"layers", session_get_layers, NULL, "[(name, size), ...], readout last", NULL},
    {"n_in", session_get_n_in, NULL, "inputs of the network (encoder output)", NULL},
    {"backend", session_get_backend, NULL, "the backend's name, or None in plain simulation", NULL},
    {"closed", slpy_get_closed, NULL, "whether close() was called", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject session_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "spikeloop.Session",
    .tp_basicsize = sizeof(session_obj),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Session(config=None, **keys): a run built from a configuration (a Config, a dict, "
              "an INI path or None; keyword keys use '__' for '.'): data sets, encoder, network, "
              "trainer and, unless backend.name is the plain simulator, the backend in the loop.",
    .tp_new = session_new,
    .tp_init = session_init,
    .tp_dealloc = slpy_handle_dealloc,
    .tp_methods = session_methods,
    .tp_getset = session_getset,
};

/* ------------------------------------------------------------ data and encoder */

static PyObject *set_tuple(sl_dataset *d)
{
  npy_intp dx[2] = {(npy_intp)d->n, (npy_intp)d->dim}, dy[1] = {(npy_intp)d->n};
  PyObject *x = slpy_adopt(d->x, 2, dx, NPY_FLOAT32);
  d->x = NULL;
  PyObject *y = slpy_adopt(d->y, 1, dy, NPY_INT32);
  d->y = NULL;
  if (!x || !y) {
    Py_XDECREF(x);
    Py_XDECREF(y);
    return NULL;
  }
  return Py_BuildValue("(NN)", x, y);
}

static PyObject *mod_make_data(PyObject *m, PyObject *args, PyObject *kw)
{
  PyObject *src = Py_None;
  if (!PyArg_ParseTuple(args, "|O:make_data", &src))
    return NULL;
  sl_config cfg;
  if (slpy_config_args(src, kw, &cfg) < 0)
    return NULL;
  sl_dataset tr = {0}, va = {0}, te = {0};
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = sl_data_from_config(&cfg, &tr, &va, &te);
  Py_END_ALLOW_THREADS
  if (rc) {
    sl_dataset_free(&tr);
    sl_dataset_free(&va);
    sl_dataset_free(&te);
    return slpy_raise(rc);
  }
  size_t nc = tr.n_classes;
  PyObject *r = Py_BuildValue("{s:N,s:N,s:N,s:n}", "train", set_tuple(&tr), "val", set_tuple(&va),
                              "test", set_tuple(&te), "n_classes", (Py_ssize_t)nc);
  sl_dataset_free(&tr);
  sl_dataset_free(&va);
  sl_dataset_free(&te);
  return r;
}

static PyObject *mod_encode(PyObject *m, PyObject *args, PyObject *kw)
{
  static char *kwlist[] = {"config", "x", "seed", NULL};
  PyObject *src, *x_o;
  unsigned long long seed = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|K:encode", kwlist, &src, &x_o, &seed))
    return NULL;
  sl_config cfg;
  sl_encoder enc;
  if (slpy_config_from(src, NULL, &cfg) < 0)
    return NULL;
  int rc = sl_encoder_from_config(&cfg, &enc);
  if (rc)
    return slpy_raise(rc);
  PyArrayObject *x = slpy_array_in(x_o, NPY_FLOAT32, 2, 2, "x");
  if (!x)
    return NULL;
  size_t B = (size_t)PyArray_DIM(x, 0), dim = (size_t)PyArray_DIM(x, 1);
  if (B == 0 || dim == 0) {
    Py_DECREF(x);
    return slpy_raise(sl_error(SL_ESHAPE, "encode: x must be (B, dim) with B, dim > 0"));
  }
  npy_intp dims[3] = {(npy_intp)enc.t_steps, (npy_intp)B, (npy_intp)sl_encoder_out_dim(&enc, dim)};
  PyArrayObject *out = slpy_new(3, dims, NPY_FLOAT32);
  uint64_t *ids = malloc(B * sizeof *ids);
  if (!out || !ids) {
    Py_DECREF(x);
    Py_XDECREF(out);
    free(ids);
    return PyErr_NoMemory();
  }
  for (size_t b = 0; b < B; b++)
    ids[b] = b;
  const float *xd = PyArray_DATA(x);
  float *od = PyArray_DATA(out);
  Py_BEGIN_ALLOW_THREADS
  rc = sl_encode(&enc, xd, B, dim, ids, seed, od);
  Py_END_ALLOW_THREADS
  free(ids);
  Py_DECREF(x);
  if (rc) {
    Py_DECREF(out);
    return slpy_raise(rc);
  }
  return (PyObject *)out;
}

static PyObject *mod_run_eval(PyObject *m, PyObject *path_o)
{
  PyObject *p = slpy_path(path_o, "run_eval");
  if (!p)
    return NULL;
  sl_eval_result r;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = sl_run_eval(PyBytes_AS_STRING(p), &r);
  Py_END_ALLOW_THREADS
  Py_DECREF(p);
  if (rc)
    return slpy_raise(rc);
  return Py_BuildValue("{s:d,s:d,s:d}", "accuracy", r.accuracy, "loss", r.loss, "hidden_rate",
                       r.hidden_rate);
}

static PyMethodDef session_module_methods[] = {
    {"make_data", (PyCFunction)(void (*)(void))mod_make_data, METH_VARARGS | METH_KEYWORDS,
     "make_data(config=None, **keys) -> {'train': (x, y), 'val': ..., 'test': ..., "
     "'n_classes': n}: the data sets of a configuration (x float32 (n, dim), y int32 (n))."},
    {"encode", (PyCFunction)(void (*)(void))mod_encode, METH_VARARGS | METH_KEYWORDS,
     "encode(config, x, seed=0) -> raster (T, B, n_in): features x (B, dim) through the "
     "config's encoder (sample ids 0..B-1 for rate coding)."},
    {"run_eval", mod_run_eval, METH_O,
     "run_eval(path) -> dict(accuracy, loss, hidden_rate): rebuild a finished run log's "
     "network and evaluate it on its test set (as `spikeloop eval`)."},
    {NULL, NULL, 0, NULL}};

int slpy_init_session(PyObject *m)
{
  if (PyType_Ready(&session_type) < 0 ||
      PyModule_AddObjectRef(m, "Session", (PyObject *)&session_type) < 0)
    return -1;
  return PyModule_AddFunctions(m, session_module_methods);
}
