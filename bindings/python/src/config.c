/* config.c -- spikeloop.Config: an sl_config (the documented key = value
 * settings of spikeloop/config.h) as a Python mapping of keys to text. Values
 * set from Python are turned into the text sl_config_set parses (bool ->
 * 0/1, float -> repr, list -> comma list), so the library alone decides what
 * is valid and its messages name the key. */
#include "slpy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Text of one value; NULL with TypeError. */
static PyObject *value_text(PyObject *v, const char *key)
{
  if (PyUnicode_Check(v)) {
    Py_INCREF(v);
    return v;
  }
  if (PyBool_Check(v))
    return PyUnicode_FromString(v == Py_True ? "1" : "0");
  if (PyLong_Check(v) || PyFloat_Check(v))
    return PyObject_Repr(v);
  if (PyList_Check(v) || PyTuple_Check(v)) {
    PyObject *parts = PyList_New(0);
    Py_ssize_t n = PySequence_Fast_GET_SIZE(v);
    for (Py_ssize_t i = 0; parts && i < n; i++) {
      PyObject *t = value_text(PySequence_Fast_GET_ITEM(v, i), key);
      if (!t || PyList_Append(parts, t) < 0)
        Py_CLEAR(parts);
      Py_XDECREF(t);
    }
    if (!parts)
      return NULL;
    PyObject *sep = PyUnicode_FromString(",");
    PyObject *r = sep ? PyUnicode_Join(sep, parts) : NULL;
    Py_XDECREF(sep);
    Py_DECREF(parts);
    return r;
  }
  /* numpy scalars and other numbers */
  if (PyNumber_Check(v) && !PyArray_Check(v)) {
    PyObject *f = PyIndex_Check(v) ? PyNumber_Index(v) : PyNumber_Float(v);
    if (!f)
      return NULL;
    PyObject *r = PyObject_Repr(f);
    Py_DECREF(f);
    return r;
  }
  if (PyObject_HasAttrString(v, "__fspath__")) {
    PyObject *p = PyOS_FSPath(v);
    if (p && PyUnicode_Check(p))
      return p;
    Py_XDECREF(p);
    PyErr_Clear();
    return PyErr_Format(PyExc_TypeError, "config key '%s': the path must be text", key);
  }
  return PyErr_Format(PyExc_TypeError,
                      "config key '%s': expected str, int, float, bool or a list of them, got %s",
                      key, Py_TYPE(v)->tp_name);
}

/* cfg[key] = value (key a str). */
static int set_one(sl_config *cfg, PyObject *key, PyObject *value)
{
  if (!PyUnicode_Check(key)) {
    PyErr_Format(PyExc_TypeError, "config keys are str, got %s", Py_TYPE(key)->tp_name);
    return -1;
  }
  const char *k = PyUnicode_AsUTF8(key);
  if (!k)
    return -1;
  PyObject *t = value_text(value, k);
  if (!t)
    return -1;
  const char *v = PyUnicode_AsUTF8(t);
  int rc = v ? sl_config_set(cfg, k, v) : -1;
  Py_DECREF(t);
  if (rc < 0)
    return -1;
  return rc ? slpy_fail(rc) : 0;
}

/* Apply a mapping; a dict value under a key that is not itself a config key
 * is a section: its keys get "key." in front. */
static int apply_mapping(sl_config *cfg, PyObject *map, const char *prefix)
{
  PyObject *items = PyMapping_Items(map);
  if (!items)
    return -1;
  int r = 0;
  for (Py_ssize_t i = 0; !r && i < PyList_GET_SIZE(items); i++) {
    PyObject *kv = PyList_GET_ITEM(items, i);
    PyObject *k = PyTuple_GET_ITEM(kv, 0), *v = PyTuple_GET_ITEM(kv, 1);
    if (!PyUnicode_Check(k)) {
      PyErr_Format(PyExc_TypeError, "config keys are str, got %s", Py_TYPE(k)->tp_name);
      r = -1;
      break;
    }
    PyObject *full = prefix ? PyUnicode_FromFormat("%s.%U", prefix, k) : (Py_INCREF(k), k);
    if (!full) {
      r = -1;
      break;
    }
    if (PyDict_Check(v)) {
      const char *fk = PyUnicode_AsUTF8(full);
      r = fk ? apply_mapping(cfg, v, fk) : -1;
    } else {
      r = set_one(cfg, full, v);
    }
    Py_DECREF(full);
  }
  Py_DECREF(items);
  return r;
}

int slpy_config_from(PyObject *obj, PyObject *overrides, sl_config *cfg)
{
  sl_config c;
  sl_config_defaults(&c);
  if (!obj || obj == Py_None) {
    /* defaults */
  } else if (PyObject_TypeCheck(obj, &slpy_ConfigType)) {
    c = ((slpy_config_obj *)obj)->cfg;
  } else if (PyDict_Check(obj)) {
    if (apply_mapping(&c, obj, NULL) < 0)
      return -1;
  } else if (PyUnicode_Check(obj) || PyBytes_Check(obj) || PyObject_HasAttrString(obj, "__fspath__")) {
    PyObject *p = slpy_path(obj, "config");
    if (!p)
      return -1;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = sl_config_load(&c, PyBytes_AS_STRING(p));
    Py_END_ALLOW_THREADS
    Py_DECREF(p);
    if (rc)
      return slpy_fail(rc);
  } else {
    PyErr_Format(PyExc_TypeError,
                 "config: expected a spikeloop.Config, a dict, a path to an INI file or None, "
                 "got %s", Py_TYPE(obj)->tp_name);
    return -1;
  }
  if (overrides && PyDict_Size(overrides) > 0 && apply_mapping(&c, overrides, NULL) < 0)
    return -1;
  *cfg = c;
  return 0;
}

PyObject *slpy_config_new(const sl_config *cfg)
{
  slpy_config_obj *o = PyObject_New(slpy_config_obj, &slpy_ConfigType);
  if (o)
    o->cfg = *cfg;
  return (PyObject *)o;
}

/* ------------------------------------------------------------ the type */

/* A copy of the keyword dict kw with '__' in keys replaced by '.'
 * (train__epochs=5 is train.epochs); NULL with an exception. */
static PyObject *kw_keys(PyObject *kw)
{
  PyObject *ov = PyDict_New();
  PyObject *from = PyUnicode_FromString("__"), *to = PyUnicode_FromString(".");
  PyObject *k, *v;
  Py_ssize_t pos = 0;
  if (!from || !to)
    Py_CLEAR(ov);
  while (ov && PyDict_Next(kw, &pos, &k, &v)) {
    PyObject *nk = PyUnicode_Replace(k, from, to, -1);
    if (!nk || PyDict_SetItem(ov, nk, v) < 0)
      Py_CLEAR(ov);
    Py_XDECREF(nk);
  }
  Py_XDECREF(from);
  Py_XDECREF(to);
  return ov;
}

int slpy_config_args(PyObject *src, PyObject *kw, sl_config *cfg)
{
  PyObject *ov = NULL;
  if (kw && PyDict_Size(kw) && !(ov = kw_keys(kw)))
    return -1;
  int r = slpy_config_from(src, ov, cfg);
  Py_XDECREF(ov);
  return r;
}

static int cfg_init(PyObject *self, PyObject *args, PyObject *kw)
{
  PyObject *src = Py_None;
  if (!PyArg_ParseTuple(args, "|O:Config", &src))
    return -1;
  return slpy_config_args(src, kw, &((slpy_config_obj *)self)->cfg);
}

static PyObject *cfg_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
  slpy_config_obj *o = (slpy_config_obj *)type->tp_alloc(type, 0);
  if (o)
    sl_config_defaults(&o->cfg);
  return (PyObject *)o;
}

static PyObject *cfg_getitem(PyObject *self, PyObject *key)
{
  if (!PyUnicode_Check(key))
    return PyErr_Format(PyExc_TypeError, "config keys are str, got %s", Py_TYPE(key)->tp_name);
  const char *k = PyUnicode_AsUTF8(key);
  if (!k)
    return NULL;
  char buf[1024];
  int rc = sl_config_get(&((slpy_config_obj *)self)->cfg, k, buf, sizeof buf);
  if (rc == SL_ENOTFOUND) {
    sl_clear_error();
    PyErr_SetObject(PyExc_KeyError, key);
    return NULL;
  }
  if (rc)
    return slpy_raise(rc);
  return PyUnicode_FromString(buf);
}

static int cfg_setitem(PyObject *self, PyObject *key, PyObject *value)
{
  if (!value) {
    PyErr_SetString(PyExc_TypeError, "config keys cannot be deleted (every key has a value)");
    return -1;
  }
  return set_one(&((slpy_config_obj *)self)->cfg, key, value);
}

static Py_ssize_t cfg_len(PyObject *self) { return (Py_ssize_t)sl_config_num_keys(); }

static int cfg_contains(PyObject *self, PyObject *key)
{
  if (!PyUnicode_Check(key))
    return 0;
  const char *k = PyUnicode_AsUTF8(key);
  if (!k)
    return -1;
  for (size_t i = 0; i < sl_config_num_keys(); i++)
    if (strcmp(sl_config_key_name(i), k) == 0)
      return 1;
  return 0;
}

static PyObject *cfg_keys(PyObject *self, PyObject *unused)
{
  size_t n = sl_config_num_keys();
  PyObject *l = PyList_New((Py_ssize_t)n);
  for (size_t i = 0; l && i < n; i++) {
    PyObject *s = PyUnicode_FromString(sl_config_key_name(i));
    if (!s) {
      Py_CLEAR(l);
      break;
    }
    PyList_SET_ITEM(l, (Py_ssize_t)i, s);
  }
  return l;
}

static PyObject *cfg_to_dict(PyObject *self, PyObject *unused)
{
  const sl_config *c = &((slpy_config_obj *)self)->cfg;
  PyObject *d = PyDict_New();
  for (size_t i = 0; d && i < sl_config_num_keys(); i++) {
    char buf[1024];
    int rc = sl_config_get_index(c, i, buf, sizeof buf);
    if (rc) {
      Py_DECREF(d);
      return slpy_raise(rc);
    }
    if (slpy_dict_steal(d, sl_config_key_name(i), PyUnicode_FromString(buf)) < 0)
      Py_CLEAR(d);
  }
  return d;
}

static PyObject *cfg_update(PyObject *self, PyObject *args, PyObject *kw)
{
  PyObject *map = NULL;
  if (!PyArg_ParseTuple(args, "|O:update", &map))
    return NULL;
  sl_config c = ((slpy_config_obj *)self)->cfg; /* all or nothing */
  if (map && map != Py_None) {
    if (!PyMapping_Check(map) || PyUnicode_Check(map))
      return PyErr_Format(PyExc_TypeError, "update: expected a mapping, got %s",
                          Py_TYPE(map)->tp_name);
    if (apply_mapping(&c, map, NULL) < 0)
      return NULL;
  }
  if (kw) {
    PyObject *ov = kw_keys(kw);
    int r = ov ? apply_mapping(&c, ov, NULL) : -1;
    Py_XDECREF(ov);
    if (r < 0)
      return NULL;
  }
  ((slpy_config_obj *)self)->cfg = c;
  Py_RETURN_NONE;
}

static PyObject *cfg_load(PyObject *self, PyObject *path)
{
  PyObject *p = slpy_path(path, "load");
  if (!p)
    return NULL;
  int rc = sl_config_load(&((slpy_config_obj *)self)->cfg, PyBytes_AS_STRING(p));
  Py_DECREF(p);
  if (rc)
    return slpy_raise(rc);
  Py_RETURN_NONE;
}

static PyObject *cfg_validate(PyObject *self, PyObject *unused)
{
  int rc = sl_config_validate(&((slpy_config_obj *)self)->cfg);
  if (rc)
    return slpy_raise(rc);
  Py_RETURN_NONE;
}

static PyObject *cfg_copy(PyObject *self, PyObject *unused)
{
  return slpy_config_new(&((slpy_config_obj *)self)->cfg);
}

static PyObject *cfg_text(PyObject *self, PyObject *unused)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f)
    return PyErr_NoMemory();
  int rc = sl_config_write(&((slpy_config_obj *)self)->cfg, f);
  fclose(f);
  PyObject *r = rc ? slpy_raise(rc) : PyUnicode_FromStringAndSize(buf, (Py_ssize_t)len);
  free(buf);
  return r;
}

static PyObject *cfg_repr(PyObject *self)
{
  const sl_config *c = &((slpy_config_obj *)self)->cfg;
  char hidden[128];
  if (sl_config_get(c, "net.hidden", hidden, sizeof hidden))
    hidden[0] = '\0';
  return PyUnicode_FromFormat("<spikeloop.Config dataset=%s hidden=%s backend=%s epochs=%ld>",
                              c->dataset, hidden, c->backend, c->epochs);
}

static PyObject *cfg_richcompare(PyObject *a, PyObject *b, int op)
{
  if ((op != Py_EQ && op != Py_NE) || !PyObject_TypeCheck(b, &slpy_ConfigType))
    Py_RETURN_NOTIMPLEMENTED;
  PyObject *da = cfg_to_dict(a, NULL), *db = da ? cfg_to_dict(b, NULL) : NULL;
  PyObject *r = db ? PyObject_RichCompare(da, db, op) : NULL;
  Py_XDECREF(da);
  Py_XDECREF(db);
  return r;
}

static PyMethodDef cfg_methods[] = {
    {"keys", cfg_keys, METH_NOARGS, "keys() -> list of every key, in table order."},
    {"to_dict", cfg_to_dict, METH_NOARGS, "to_dict() -> {key: text} of every key."},
    {"update", (PyCFunction)(void (*)(void))cfg_update, METH_VARARGS | METH_KEYWORDS,
     "update(mapping=None, **keys): set keys (nested dicts are sections); all or nothing."},
    {"load", cfg_load, METH_O, "load(path): read an INI file on top of the current values."},
    {"validate", cfg_validate, METH_NOARGS, "validate(): the cross-field checks (raises)."},
    {"copy", cfg_copy, METH_NOARGS, "copy() -> Config."},
    {"text", cfg_text, METH_NOARGS, "text() -> str: every key with its help as a config file."},
    {NULL, NULL, 0, NULL}};

static PyMappingMethods cfg_mapping = {cfg_len, cfg_getitem, cfg_setitem};
static PySequenceMethods cfg_sequence = {.sq_contains = cfg_contains};

PyTypeObject slpy_ConfigType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "spikeloop.Config",
    .tp_basicsize = sizeof(slpy_config_obj),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Config(source=None, **keys): a run configuration.\n\n"
              "source: None (defaults), a dict {key: value} (nested dicts are sections: "
              "{'train': {'epochs': 5}}), a path to an INI file, or a Config (copied). "
              "Keyword keys use '__' for '.': Config(train__epochs=5).\n"
              "c[key] is the value as text; c[key] = value accepts str, int, float, bool or a "
              "list. Bad keys and values raise the library's error naming the key.",
    .tp_new = cfg_new,
    .tp_init = cfg_init,
    .tp_as_mapping = &cfg_mapping,
    .tp_as_sequence = &cfg_sequence,
    .tp_methods = cfg_methods,
    .tp_repr = cfg_repr,
    .tp_richcompare = cfg_richcompare,
};

int slpy_init_config(PyObject *m)
{
  if (PyType_Ready(&slpy_ConfigType) < 0)
    return -1;
  return PyModule_AddObjectRef(m, "Config", (PyObject *)&slpy_ConfigType);
}
