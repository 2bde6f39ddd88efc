/* slpy.h -- what the files of the spikeloop extension module (_core) share.
 *
 * The module wraps the public C API of libspikeloop; it holds no library
 * logic. Choices every file follows:
 *  - errors: a nonzero status becomes the Python exception of its code
 *    (spikeloop.Error and one subclass per SL_E* code) carrying
 *    sl_last_error(); bad Python input raises TypeError / ValueError before
 *    the library is called;
 *  - handles: every wrapped C object sits in an slpy_handle. close() marks it
 *    closed (every later call raises spikeloop.ClosedError); the C object is
 *    freed only once no call is running on it (busy) and no NumPy array
 *    views its memory (pins), so neither a closed object nor a view that
 *    outlives it can crash the interpreter. A call that releases the GIL
 *    marks the handle busy, so a second thread using the same object gets
 *    a RuntimeError instead of racing it;
 *  - arrays in: any real numeric array-like (bool, int, float) is accepted
 *    and converted to the library's dtype; a C-contiguous, aligned array of
 *    that dtype is used in place (no copy);
 *  - arrays out: memory the library allocated is handed to NumPy (freed
 *    with the array); results are written by the library straight into
 *    new NumPy arrays; views into a live object are read-only and pin it.
 */
#ifndef SLPY_H
#define SLPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL slpy_ARRAY_API
#ifndef SLPY_MODULE_C
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>

#include "spikeloop/spikeloop.h"

/* ------------------------------------------------------------ errors */

/* Raise the exception of status code (message: sl_last_error(), else
 * sl_strerror(code)); returns NULL so callers can `return slpy_raise(rc);`. */
PyObject *slpy_raise(int code);
/* The same for int-returning helpers: returns -1. */
int slpy_fail(int code);

/* ------------------------------------------------------------ handles */

typedef struct slpy_handle slpy_handle;
struct slpy_handle {
  PyObject_HEAD
  void *ptr;                         /* the C object (NULL once freed) */
  void (*destroy)(slpy_handle *h);   /* frees ptr and whatever the type adds */
  int closed;                        /* close() was called */
  int busy;                          /* a call is running on it */
  Py_ssize_t pins;                   /* NumPy arrays viewing its memory */
};

/* Start a call: raises ClosedError / RuntimeError and returns -1 if the
 * handle is closed or busy; else marks it busy. */
int slpy_enter(slpy_handle *h, const char *what);
/* End a call (frees the object if it was closed meanwhile and is unpinned). */
void slpy_leave(slpy_handle *h);
/* close(): mark closed; free now if possible. */
void slpy_close(slpy_handle *h);
/* tp_dealloc helper of handle types. */
void slpy_handle_dealloc(PyObject *self);
/* Whether h is usable (not closed, not busy) for a quick call that keeps
 * the GIL; raises and returns 0 if not. */
int slpy_usable(slpy_handle *h, const char *what);
/* Generic close / __enter__ / __exit__ / closed methods for handle types. */
PyObject *slpy_meth_close(PyObject *self, PyObject *unused);
PyObject *slpy_meth_enter(PyObject *self, PyObject *unused);
PyObject *slpy_meth_exit(PyObject *self, PyObject *args);
PyObject *slpy_get_closed(PyObject *self, void *unused);

/* ------------------------------------------------------------ arrays */

/* Convert obj to a C-contiguous aligned array of typenum (NPY_FLOAT32,
 * NPY_INT32, NPY_FLOAT64, NPY_UINT32) with ndim in [nd_min, nd_max]. A
 * matching array is returned as is (new reference), other real numeric
 * input is converted; integer typenums refuse float input. Raises
 * TypeError / ValueError naming `name`. */
PyArrayObject *slpy_array_in(PyObject *obj, int typenum, int nd_min, int nd_max,
                             const char *name);
/* A (rows, cols) float32 matrix argument of a call on handle h: converts
 * obj, checks the shape (SL_ESHAPE naming `fn` and `name`) and enters h
 * (slpy_enter). NULL: raised, h not entered; else the caller runs the call,
 * then slpy_leave(h) and drops the array. */
PyArrayObject *slpy_matrix_enter(slpy_handle *h, const char *what, const char *fn, PyObject *obj,
                                 const char *name, size_t rows, size_t cols);
/* A read-only view of data owned by handle h (pins h). */
PyObject *slpy_view(slpy_handle *h, void *data, int nd, const npy_intp *dims, int typenum);
/* An array that takes over malloc'ed data (freed with the array). On error
 * data is freed. data may be NULL only if the size is 0. */
PyObject *slpy_adopt(void *data, int nd, const npy_intp *dims, int typenum);
/* A new C-contiguous zeroed array. */
PyArrayObject *slpy_new(int nd, const npy_intp *dims, int typenum);

/* ------------------------------------------------------------ helpers */

/* A filesystem path (str, bytes or os.PathLike) as a new bytes object;
 * use PyBytes_AS_STRING. NULL with TypeError. */
PyObject *slpy_path(PyObject *obj, const char *name);
/* d[key] = value, stealing value (NULL value: error already set). */
int slpy_dict_steal(PyObject *d, const char *key, PyObject *value);

/* ------------------------------------------------------------ parts */

typedef struct {
  PyObject_HEAD
  sl_config cfg;
} slpy_config_obj;

extern PyTypeObject slpy_ConfigType;
/* Fill cfg from a Config, a dict (nested dicts allowed: {"train":
 * {"epochs": 5}}), a path to an INI file, or None (defaults); then apply
 * the overrides dict (may be NULL). */
int slpy_config_from(PyObject *obj, PyObject *overrides, sl_config *cfg);
/* slpy_config_from(src) with keyword keys (train__epochs=5 -> train.epochs). */
int slpy_config_args(PyObject *src, PyObject *kw, sl_config *cfg);
/* A new Config object holding a copy of cfg. */
PyObject *slpy_config_new(const sl_config *cfg);

extern PyTypeObject slpy_RunLogType;
/* The sl_runlog of a RunLog object after slpy_enter (NULL: raised). */
sl_runlog *slpy_runlog_enter(PyObject *obj, slpy_handle **h);

int slpy_init_config(PyObject *m);
int slpy_init_session(PyObject *m);
int slpy_init_runlog(PyObject *m);
int slpy_init_cim(PyObject *m);
int slpy_init_calib(PyObject *m);

#endif
