/* nir.c -- networks as NIR graphs in HDF5 (spikeloop/nir.h): the reader
 * (any graph the reference `nir` package or another framework writes, of
 * the node types listed there), the conversion of a chain-shaped graph into
 * an sl_net, and the writer.
 *
 * Reading happens in three passes, each naming what it refuses:
 * 1. load: every node group into a flat list of nodes with their numeric
 *    fields as doubles (HDF5 converts float16/32/64 and integers; a 0-d
 *    dataset is one value), nested graphs flattened with dotted names
 *    ("sub.lif"), their Input/Output nodes kept as pass-through nodes.
 * 2. edges: both ends resolved (a subgraph's name means its Input as a
 *    target, its Output as a source), each end must exist.
 * 3. chain: walk from the graph's Input, composing synapse nodes into one
 *    matrix per layer, and take each neuron node's parameters with every
 *    array either one value (broadcast) or one per neuron.
 * Choices: parameters are converted in double and rounded to float once,
 * so an exported network reads back with the same numbers (the export ->
 * import test compares outputs bit for bit). The library's own extras live
 * under /spikeloop, which other readers never open.
 */
#include "config.h"

#include "spikeloop/nir.h"
#include "spikeloop/error.h"
#include "spikeloop/fromconfig.h"
#include "io/h5.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const WHO = "nir";

/* ------------------------------------------------------------ node types */

enum {
  NT_INPUT, NT_OUTPUT, NT_AFFINE, NT_LINEAR, NT_SCALE, NT_FLATTEN, NT_THRESHOLD,
  NT_LIF, NT_CUBALIF, NT_IF, NT_LI, NT_CUBALI, NT_GRAPH, NT_PASS /* nested Input/Output */
};

typedef struct {
  const char *name;
  int type;
  const char *required[6]; /* NULL-terminated */
} node_type;

static const node_type node_types[] = {
    {"Input", NT_INPUT, {"shape", NULL}},
    {"Output", NT_OUTPUT, {"shape", NULL}},
    {"Affine", NT_AFFINE, {"weight", "bias", NULL}},
    {"Linear", NT_LINEAR, {"weight", NULL}},
    {"Scale", NT_SCALE, {"scale", NULL}},
    {"Flatten", NT_FLATTEN, {"start_dim", "end_dim", NULL}},
    {"Threshold", NT_THRESHOLD, {"threshold", NULL}},
    {"LIF", NT_LIF, {"tau", "r", "v_leak", "v_threshold", NULL}},
    {"CubaLIF", NT_CUBALIF, {"tau_mem", "tau_syn", "r", "v_leak", "v_threshold", NULL}},
    {"IF", NT_IF, {"r", "v_threshold", NULL}},
    {"LI", NT_LI, {"tau", "r", "v_leak", NULL}},
    {"CubaLI", NT_CUBALI, {"tau_mem", "tau_syn", "r", "v_leak", NULL}},
    {"NIRGraph", NT_GRAPH, {NULL}},
};
#define N_TYPES (sizeof node_types / sizeof node_types[0])

static const char *type_name(int t)
{
  if (t == NT_PASS)
    return "Input/Output of a subgraph";
  for (size_t i = 0; i < N_TYPES; i++)
    if (node_types[i].type == t)
      return node_types[i].name;
  return "?";
}

static int is_spiking(int t) { return t == NT_LIF || t == NT_CUBALIF || t == NT_IF; }
static int is_integrator(int t) { return t == NT_LI || t == NT_CUBALI; }
static int is_synapse(int t)
{
  return t == NT_AFFINE || t == NT_LINEAR || t == NT_SCALE || t == NT_FLATTEN || t == NT_PASS;
}

/* ------------------------------------------------------------ the graph in memory */

typedef struct {
  char name[64];
  int rank;
  hsize_t dims[H5S_MAX_RANK];
  size_t n;
  double *v;
} field;

typedef struct {
  char *name; /* dotted path: "lif", "sub.lif" */
  int type;
  int orig;   /* the type as written (NT_INPUT / NT_OUTPUT of a subgraph become NT_PASS) */
  field *f;
  size_t nf;
  size_t sub_in, sub_out; /* NT_GRAPH: its Input and Output nodes (SIZE_MAX: none or several) */
} node;

typedef struct {
  size_t from, to;
} edge;

typedef struct {
  const slh_file *file;
  node *nodes;
  size_t n, cap;
  edge *e;
  size_t ne, cape;
} graph;

static void graph_free(graph *g)
{
  for (size_t i = 0; i < g->n; i++) {
    for (size_t j = 0; j < g->nodes[i].nf; j++)
      free(g->nodes[i].f[j].v);
    free(g->nodes[i].f);
    free(g->nodes[i].name);
  }
  free(g->nodes);
  free(g->e);
  memset(g, 0, sizeof *g);
}

static const field *get_field(const node *nd, const char *name)
{
  for (size_t j = 0; j < nd->nf; j++)
    if (strcmp(nd->f[j].name, name) == 0)
      return &nd->f[j];
  return NULL;
}

static int oom(const graph *g)
{
  return sl_error(SL_ENOMEM, "%s: '%s': out of memory", WHO, g->file->path);
}

/* Read the scalar string dataset loc/name (fixed or variable length) into
 * buf. SL_OK, or SL_EFORMAT naming `what` (the caller's path). */
static int read_string(const graph *g, hid_t loc, const char *name, const char *what, char *buf,
                       size_t len)
{
  hid_t d = H5Dopen2(loc, name, H5P_DEFAULT), t = -1, m = -1, s = -1;
  int rc = SL_EFORMAT;
  if (d < 0)
    return sl_error(SL_EFORMAT, "%s: '%s': %s: no dataset '%s'", WHO, g->file->path, what, name);
  t = H5Dget_type(d);
  s = H5Dget_space(d);
  if (t < 0 || s < 0 || H5Tget_class(t) != H5T_STRING || H5Sget_simple_extent_npoints(s) != 1) {
    rc = sl_error(SL_EFORMAT, "%s: '%s': %s: '%s' must be one string", WHO, g->file->path, what,
                  name);
    goto out;
  }
  if (H5Tis_variable_str(t) > 0) {
    char *p = NULL;
    m = H5Tcopy(H5T_C_S1);
    H5Tset_size(m, H5T_VARIABLE);
    H5Tset_cset(m, H5Tget_cset(t));
    if (H5Dread(d, m, H5S_ALL, H5S_ALL, H5P_DEFAULT, &p) < 0 || !p) {
      rc = sl_error(SL_EIO, "%s: '%s': %s: cannot read '%s'", WHO, g->file->path, what, name);
      goto out;
    }
    snprintf(buf, len, "%s", p);
    H5free_memory(p);
  } else {
    size_t sz = H5Tget_size(t);
    char *p = calloc(sz + 1, 1);
    m = H5Tcopy(t);
    if (!p || H5Dread(d, m, H5S_ALL, H5S_ALL, H5P_DEFAULT, p) < 0) {
      free(p);
      rc = p ? sl_error(SL_EIO, "%s: '%s': %s: cannot read '%s'", WHO, g->file->path, what, name)
             : oom(g);
      goto out;
    }
    snprintf(buf, len, "%s", p);
    free(p);
  }
  rc = SL_OK;
out:
  if (m >= 0)
    H5Tclose(m);
  if (s >= 0)
    H5Sclose(s);
  if (t >= 0)
    H5Tclose(t);
  H5Dclose(d);
  return rc;
}

/* Read numeric dataset loc/name of node nd into a new field. */
static int read_field(graph *g, node *nd, hid_t loc, const char *name)
{
  hid_t d = H5Dopen2(loc, name, H5P_DEFAULT), t = -1, s = -1;
  int rc = SL_OK;
  if (d < 0)
    return sl_error(SL_EIO, "%s: '%s': node '%s': cannot open field '%s'", WHO, g->file->path,
                    nd->name, name);
  t = H5Dget_type(d);
  s = H5Dget_space(d);
  H5T_class_t c = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
  if (c != H5T_INTEGER && c != H5T_FLOAT) {
    rc = sl_error(SL_EFORMAT, "%s: '%s': node '%s' (%s): field '%s' must be numeric (found %s)",
                  WHO, g->file->path, nd->name, type_name(nd->type), name,
                  c == H5T_STRING ? "a string" : "a non-numeric type");
    goto out;
  }
  field fl = {{0}, 0, {0}, 1, NULL};
  snprintf(fl.name, sizeof fl.name, "%s", name);
  fl.rank = H5Sget_simple_extent_ndims(s);
  if (fl.rank < 0 || H5Sget_simple_extent_dims(s, fl.dims, NULL) < 0) {
    rc = sl_error(SL_EIO, "%s: '%s': node '%s': cannot read the shape of '%s'", WHO,
                  g->file->path, nd->name, name);
    goto out;
  }
  for (int i = 0; i < fl.rank; i++) {
    if (fl.dims[i] > SIZE_MAX || (fl.dims[i] && fl.n > SIZE_MAX / (size_t)fl.dims[i])) {
      rc = sl_error(SL_EFORMAT, "%s: '%s': node '%s': field '%s' is too large to read", WHO,
                    g->file->path, nd->name, name);
      goto out;
    }
    fl.n *= (size_t)fl.dims[i];
  }
  /* a field declared but not written would be read as fill values */
  char what[192];
  snprintf(what, sizeof what, "node '%s': field '%s'", nd->name, name);
  if ((rc = slh_check_stored(g->file, d, what, fl.n)) != SL_OK)
    goto out;
  field *nf = realloc(nd->f, (nd->nf + 1) * sizeof *nf);
  if (!nf || !(fl.v = calloc(fl.n ? fl.n : 1, sizeof(double)))) {
    if (nf)
      nd->f = nf;
    rc = oom(g);
    goto out;
  }
  nd->f = nf;
  if (fl.n && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, fl.v) < 0) {
    free(fl.v);
    rc = sl_error(SL_EIO, "%s: '%s': node '%s': cannot read field '%s' (damaged file?)", WHO,
                  g->file->path, nd->name, name);
    goto out;
  }
  for (size_t i = 0; i < fl.n; i++)
    if (!isfinite(fl.v[i])) {
      rc = sl_error(SL_ENUMERIC, "%s: '%s': node '%s': field '%s'[%zu] = %g is not finite", WHO,
                    g->file->path, nd->name, name, i, fl.v[i]);
      free(fl.v);
      goto out;
    }
  nd->f[nd->nf++] = fl;
out:
  if (s >= 0)
    H5Sclose(s);
  if (t >= 0)
    H5Tclose(t);
  H5Dclose(d);
  return rc;
}

static int load_graph(graph *g, hid_t grp, const char *prefix, const char *what);

/* Names of the links of a group, in name order. */
typedef struct {
  char **names;
  size_t n;
  int failed;
} link_list;

static herr_t collect_link(hid_t loc, const char *name, const H5L_info_t *info, void *data)
{
  (void)loc;
  (void)info;
  link_list *l = data;
  char **p = realloc(l->names, (l->n + 1) * sizeof *p);
  if (!p || !(p[l->n] = strdup(name))) {
    if (p)
      l->names = p;
    l->failed = 1;
    return -1;
  }
  l->names = p;
  l->n++;
  return 0;
}

static void link_list_free(link_list *l)
{
  for (size_t i = 0; l->names && i < l->n; i++)
    free(l->names[i]);
  free(l->names);
}

/* Add the node of group grp (its dotted name full) and its fields. */
static int load_node(graph *g, hid_t grp, const char *full, int nested)
{
  char tname[64];
  char what[540];
  snprintf(what, sizeof what, "node '%s'", full);
  int rc = read_string(g, grp, "type", what, tname, sizeof tname);
  if (rc)
    return rc;
  const node_type *nt = NULL;
  for (size_t i = 0; i < N_TYPES; i++)
    if (strcmp(node_types[i].name, tname) == 0)
      nt = &node_types[i];
  if (!nt)
    return sl_error(SL_EUNSUPPORTED, "%s: '%s': node '%s': type '%s' is not supported (read: "
                    "Input, Output, Affine, Linear, Scale, Flatten, Threshold, LIF, CubaLIF, IF, "
                    "LI, CubaLI, NIRGraph)", WHO, g->file->path, full, tname);
  if (g->n == g->cap) {
    size_t cap = g->cap ? 2 * g->cap : 16;
    node *p = realloc(g->nodes, cap * sizeof *p);
    if (!p)
      return oom(g);
    g->nodes = p;
    g->cap = cap;
  }
  size_t me = g->n;
  node *nd = &g->nodes[g->n++];
  memset(nd, 0, sizeof *nd);
  nd->sub_in = nd->sub_out = SIZE_MAX;
  nd->orig = nt->type;
  nd->type = (nested && (nt->type == NT_INPUT || nt->type == NT_OUTPUT)) ? NT_PASS : nt->type;
  if (!(nd->name = strdup(full)))
    return oom(g);
  if (nt->type == NT_GRAPH) {
    size_t first = g->n;
    rc = load_graph(g, grp, full, what);
    if (rc)
      return rc;
    /* the subgraph's own Input and Output (direct children only) */
    size_t plen = strlen(full);
    int n_in = 0, n_out = 0;
    for (size_t i = first; i < g->n; i++) {
      const char *rest = g->nodes[i].name + plen + 1;
      if (strchr(rest, '.') || g->nodes[i].type != NT_PASS)
        continue;
      if (g->nodes[i].orig == NT_INPUT) {
        g->nodes[me].sub_in = i;
        n_in++;
      } else {
        g->nodes[me].sub_out = i;
        n_out++;
      }
    }
    if (n_in != 1)
      g->nodes[me].sub_in = SIZE_MAX;
    if (n_out != 1)
      g->nodes[me].sub_out = SIZE_MAX;
    return SL_OK;
  }
  /* every dataset but type is a field; groups (metadata, input_type, ...) are skipped */
  link_list l = {NULL, 0, 0};
  hsize_t idx = 0;
  if (H5Literate(grp, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_link, &l) < 0 || l.failed) {
    link_list_free(&l);
    return l.failed ? oom(g) : sl_error(SL_EIO, "%s: '%s': %s: cannot list its fields", WHO,
                                        g->file->path, what);
  }
  for (size_t i = 0; !rc && i < l.n; i++) {
    if (strcmp(l.names[i], "type") == 0)
      continue;
    H5O_info_t oi;
    if (H5Oget_info_by_name(grp, l.names[i], &oi, H5P_DEFAULT) < 0) {
      rc = sl_error(SL_EIO, "%s: '%s': %s: cannot open '%s'", WHO, g->file->path, what,
                    l.names[i]);
      break;
    }
    if (oi.type == H5O_TYPE_DATASET)
      rc = read_field(g, &g->nodes[me], grp, l.names[i]);
  }
  link_list_free(&l);
  for (size_t k = 0; !rc && nt->required[k]; k++)
    if (!get_field(&g->nodes[me], nt->required[k]))
      rc = sl_error(SL_EFORMAT, "%s: '%s': node '%s' (%s): missing field '%s'", WHO,
                    g->file->path, full, nt->name, nt->required[k]);
  return rc;
}

/* Index of the node named `name` (resolved for a subgraph: its Input when
 * `as_target`, else its Output), or SIZE_MAX. */
static size_t find_node(const graph *g, const char *name, int as_target)
{
  for (size_t i = 0; i < g->n; i++)
    if (strcmp(g->nodes[i].name, name) == 0)
      return g->nodes[i].type == NT_GRAPH ? (as_target ? g->nodes[i].sub_in : g->nodes[i].sub_out)
                                          : i;
  return SIZE_MAX;
}

/* Read one end of edge k ("edges"[k][j]) as a string. */
static int edge_end(const graph *g, hid_t d, hid_t t, size_t k, int j, const char *what, char *buf,
                    size_t len)
{
  hid_t fs = H5Dget_space(d), ms = -1, m = -1;
  hsize_t start[2] = {k, (hsize_t)j}, cnt[2] = {1, 1}, one = 1;
  int rc = SL_OK;
  if (fs < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL) < 0 ||
      (ms = H5Screate_simple(1, &one, NULL)) < 0) {
    rc = sl_error(SL_EIO, "%s: '%s': %s: cannot read edge %zu", WHO, g->file->path, what, k);
    goto out;
  }
  if (H5Tis_variable_str(t) > 0) {
    char *p = NULL;
    m = H5Tcopy(H5T_C_S1);
    H5Tset_size(m, H5T_VARIABLE);
    H5Tset_cset(m, H5Tget_cset(t));
    if (H5Dread(d, m, ms, fs, H5P_DEFAULT, &p) < 0 || !p)
      rc = sl_error(SL_EIO, "%s: '%s': %s: cannot read edge %zu", WHO, g->file->path, what, k);
    else {
      snprintf(buf, len, "%s", p);
      H5free_memory(p);
    }
  } else {
    size_t sz = H5Tget_size(t);
    char *p = calloc(sz + 1, 1);
    m = H5Tcopy(t);
    if (!p || H5Dread(d, m, ms, fs, H5P_DEFAULT, p) < 0)
      rc = p ? sl_error(SL_EIO, "%s: '%s': %s: cannot read edge %zu", WHO, g->file->path, what, k)
             : oom(g);
    else
      snprintf(buf, len, "%s", p);
    free(p);
  }
out:
  if (m >= 0)
    H5Tclose(m);
  if (ms >= 0)
    H5Sclose(ms);
  if (fs >= 0)
    H5Sclose(fs);
  return rc;
}

/* Load the nodes and edges of graph group grp; names get `prefix.`. */
static int load_graph(graph *g, hid_t grp, const char *prefix, const char *what)
{
  int rc = SL_OK;
  if (H5Lexists(grp, "nodes", H5P_DEFAULT) <= 0)
    return sl_error(SL_EFORMAT, "%s: '%s': %s: a NIRGraph without 'nodes'", WHO, g->file->path,
                    what);
  hid_t nodes = H5Gopen2(grp, "nodes", H5P_DEFAULT);
  if (nodes < 0)
    return sl_error(SL_EFORMAT, "%s: '%s': %s: 'nodes' is not a group", WHO, g->file->path, what);
  link_list l = {NULL, 0, 0};
  hsize_t idx = 0;
  if (H5Literate(nodes, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_link, &l) < 0 || l.failed)
    rc = l.failed ? oom(g) : sl_error(SL_EIO, "%s: '%s': %s: cannot list its nodes", WHO,
                                      g->file->path, what);
  for (size_t i = 0; !rc && i < l.n; i++) {
    char full[512];
    snprintf(full, sizeof full, "%s%s%s", prefix, *prefix ? "." : "", l.names[i]);
    hid_t c = H5Gopen2(nodes, l.names[i], H5P_DEFAULT);
    if (c < 0) {
      rc = sl_error(SL_EFORMAT, "%s: '%s': node '%s' is not a group", WHO, g->file->path, full);
      break;
    }
    rc = load_node(g, c, full, *prefix != '\0');
    H5Gclose(c);
  }
  link_list_free(&l);
  H5Gclose(nodes);
  if (rc)
    return rc;
  /* edges: (E, 2) strings; (0,) or absent when there are none */
  if (H5Lexists(grp, "edges", H5P_DEFAULT) <= 0)
    return sl_error(SL_EFORMAT, "%s: '%s': %s: a NIRGraph without 'edges'", WHO, g->file->path,
                    what);
  hid_t d = H5Dopen2(grp, "edges", H5P_DEFAULT), t = -1, s = -1;
  if (d < 0)
    return sl_error(SL_EFORMAT, "%s: '%s': %s: 'edges' is not a dataset", WHO, g->file->path,
                    what);
  t = H5Dget_type(d);
  s = H5Dget_space(d);
  hsize_t dims[H5S_MAX_RANK] = {0};
  int rank = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
  if (rank >= 0)
    H5Sget_simple_extent_dims(s, dims, NULL);
  size_t ne = rank == 2 ? (size_t)dims[0] : 0;
  if (t < 0 || H5Tget_class(t) != H5T_STRING || (!(rank == 2 && dims[1] == 2) &&
                                                    !(rank == 1 && dims[0] == 0))) {
    char shape[96];
    slh_format_shape(shape, sizeof shape, rank < 0 ? 0 : rank, dims);
    rc = sl_error(SL_EFORMAT, "%s: '%s': %s: 'edges' must be (E, 2) strings (found %s%s)", WHO,
                  g->file->path, what, t >= 0 && H5Tget_class(t) == H5T_STRING ? "shape " : "",
                  t >= 0 && H5Tget_class(t) == H5T_STRING ? shape : "non-strings");
  }
  for (size_t k = 0; !rc && k < ne; k++) {
    char a[256], b[256], fa[512], fb[512];
    rc = edge_end(g, d, t, k, 0, what, a, sizeof a);
    if (!rc)
      rc = edge_end(g, d, t, k, 1, what, b, sizeof b);
    if (rc)
      break;
    snprintf(fa, sizeof fa, "%s%s%s", prefix, *prefix ? "." : "", a);
    snprintf(fb, sizeof fb, "%s%s%s", prefix, *prefix ? "." : "", b);
    size_t ia = find_node(g, fa, 0), ib = find_node(g, fb, 1);
    if (ia == SIZE_MAX || ib == SIZE_MAX) {
      const char *bad = ia == SIZE_MAX ? fa : fb;
      int is_graph = 0;
      for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->nodes[i].name, bad) == 0 && g->nodes[i].type == NT_GRAPH)
          is_graph = 1;
      rc = sl_error(SL_EFORMAT, "%s: '%s': %s: edge %zu (%s -> %s): %s '%s'%s", WHO,
                    g->file->path, what, k, a, b, is_graph ? "subgraph" : "no node", bad,
                    is_graph ? " has not exactly one Input and one Output node"
                             : " (a dangling edge)");
      break;
    }
    if (g->ne == g->cape) {
      size_t cap = g->cape ? 2 * g->cape : 16;
      edge *p = realloc(g->e, cap * sizeof *p);
      if (!p) {
        rc = oom(g);
        break;
      }
      g->e = p;
      g->cape = cap;
    }
    g->e[g->ne].from = ia;
    g->e[g->ne].to = ib;
    g->ne++;
  }
  if (s >= 0)
    H5Sclose(s);
  if (t >= 0)
    H5Tclose(t);
  H5Dclose(d);
  return rc;
}

/* ------------------------------------------------------------ chain */

/* Successors / predecessors of node i (at most max, count returned). */
static size_t succ(const graph *g, size_t i, size_t *out, size_t max)
{
  size_t n = 0;
  for (size_t k = 0; k < g->ne; k++)
    if (g->e[k].from == i) {
      if (n < max)
        out[n] = g->e[k].to;
      n++;
    }
  return n;
}

static size_t pred_count(const graph *g, size_t i)
{
  size_t n = 0;
  for (size_t k = 0; k < g->ne; k++)
    n += g->e[k].to == i;
  return n;
}

/* A field of node nd as n_want values: one value broadcast, or exactly
 * n_want. def (if not NULL) for a missing optional field. */
static int values(const graph *g, const node *nd, const char *name, size_t n_want, const double *def,
                  double *out)
{
  const field *f = get_field(nd, name);
  if (!f) {
    if (!def)
      return sl_error(SL_EFORMAT, "%s: '%s': node '%s' (%s): missing field '%s'", WHO,
                      g->file->path, nd->name, type_name(nd->type), name);
    for (size_t i = 0; i < n_want; i++)
      out[i] = *def;
    return SL_OK;
  }
  if (f->n == 1) {
    for (size_t i = 0; i < n_want; i++)
      out[i] = f->v[0];
    return SL_OK;
  }
  if (f->n != n_want || f->rank != 1) {
    char shape[96];
    slh_format_shape(shape, sizeof shape, f->rank, f->dims);
    return sl_error(SL_EFORMAT, "%s: '%s': node '%s' (%s): field '%s' has shape %s; the layer "
                    "has %zu neurons (one value, or one per neuron)", WHO, g->file->path,
                    nd->name, type_name(nd->type), name, shape, n_want);
  }
  memcpy(out, f->v, n_want * sizeof *out);
  return SL_OK;
}

/* Follow the synapses from node `start` (whose input has `width` values)
 * to the next neuron / Threshold / Output node *end, composing them into M
 * (width, *out_w), row-major, our (N_pre, N_post) layout. */
static int follow(const graph *g, size_t start, size_t width, double **M, size_t *out_w,
                  size_t *end)
{
  double *m = calloc(width * width, sizeof *m);
  if (!m)
    return oom(g);
  for (size_t i = 0; i < width; i++)
    m[i * width + i] = 1.0;
  size_t w = width, cur = start;
  int rc = SL_OK;
  for (size_t steps = 0; !rc; steps++) {
    const node *nd = &g->nodes[cur];
    if (!is_synapse(nd->type))
      break;
    if (steps > g->n) {
      rc = sl_error(SL_EFORMAT, "%s: '%s': node '%s': a cycle of synapse nodes without a neuron",
                    WHO, g->file->path, nd->name);
      break;
    }
    if (nd->type == NT_LINEAR || nd->type == NT_AFFINE) {
      const field *W = get_field(nd, "weight");
      if (W->rank != 2 || (size_t)W->dims[1] != w) {
        char shape[96];
        slh_format_shape(shape, sizeof shape, W->rank, W->dims);
        rc = sl_error(SL_EFORMAT, "%s: '%s': node '%s' (%s): field 'weight' has shape %s; its "
                      "input has %zu values: expected (out, %zu)", WHO, g->file->path, nd->name,
                      type_name(nd->type), shape, w, w);
        break;
      }
      if (nd->type == NT_AFFINE) {
        const field *b = get_field(nd, "bias");
        for (size_t i = 0; i < b->n && !rc; i++)
          if (b->v[i] != 0.0)
            rc = sl_error(SL_EUNSUPPORTED, "%s: '%s': node '%s' (Affine): field 'bias'[%zu] = %g: "
                          "spikeloop's neurons have no bias input (only zero biases load)", WHO,
                          g->file->path, nd->name, i, b->v[i]);
        if (!rc && b->n != 1 && b->n != (size_t)W->dims[0])
          rc = sl_error(SL_EFORMAT, "%s: '%s': node '%s' (Affine): field 'bias' has %zu values, "
                        "'weight' %zu outputs", WHO, g->file->path, nd->name, b->n,
                        (size_t)W->dims[0]);
        if (rc)
          break;
      }
      size_t o = (size_t)W->dims[0];
      double *m2 = calloc(width * (o ? o : 1), sizeof *m2);
      if (!m2) {
        rc = oom(g);
        break;
      }
      /* m2 = m @ W^T: (width, w) x (w, o) */
      for (size_t i = 0; i < width; i++)
        for (size_t k = 0; k < w; k++) {
          double a = m[i * w + k];
          if (a != 0.0)
            for (size_t j = 0; j < o; j++)
              m2[i * o + j] += a * W->v[j * w + k];
        }
      free(m);
      m = m2;
      w = o;
    } else if (nd->type == NT_SCALE) {
      const field *s = get_field(nd, "scale");
      if (s->n != 1 && s->n != w) {
        rc = sl_error(SL_EFORMAT, "%s: '%s': node '%s' (Scale): field 'scale' has %zu values; "
                      "its input has %zu", WHO, g->file->path, nd->name, s->n, w);
        break;
      }
      for (size_t i = 0; i < width; i++)
        for (size_t j = 0; j < w; j++)
          m[i * w + j] *= s->v[s->n == 1 ? 0 : j];
    }
    size_t nx[2];
    size_t ns = succ(g, cur, nx, 2);
    if (ns != 1) {
      rc = sl_error(SL_EFORMAT, "%s: '%s': node '%s' (%s) has %zu outgoing edges; a synapse node "
                    "must lead to exactly one node", WHO, g->file->path, nd->name,
                    type_name(nd->type), ns);
      break;
    }
    cur = nx[0];
  }
  if (rc) {
    free(m);
    return rc;
  }
  *M = m;
  *out_w = w;
  *end = cur;
  return SL_OK;
}

/* One layer of the chain. */
typedef struct {
  size_t node;          /* its neuron node */
  size_t n;             /* neurons */
  double *w_in, *w_rec; /* (n_pre, n), (n, n) or NULL */
} layer;

static int check_neuron_node(const graph *g, size_t ni, int readout)
{
  const node *nd = &g->nodes[ni];
  if (readout ? is_integrator(nd->type) : is_spiking(nd->type))
    return SL_OK;
  if (nd->type == NT_THRESHOLD)
    return sl_error(SL_EUNSUPPORTED, "%s: '%s': node '%s' (Threshold): a threshold outside a "
                    "neuron node is not a network spikeloop runs (use LIF, CubaLIF or IF)", WHO,
                    g->file->path, nd->name);
  if (nd->type == NT_OUTPUT)
    return sl_error(SL_EFORMAT, "%s: '%s': node '%s' (Output): the graph reaches its output "
                    "without %s", WHO, g->file->path, nd->name,
                    readout ? "a leaky-integrator readout (LI or CubaLI)"
                            : "a spiking layer (LIF, CubaLIF or IF)");
  return sl_error(SL_EFORMAT, "%s: '%s': node '%s' (%s): expected %s here", WHO, g->file->path,
                  nd->name, type_name(nd->type),
                  readout ? "the readout (LI or CubaLI) or a further spiking layer"
                          : "a spiking layer (LIF, CubaLIF or IF)");
}

/* Walk the chain from the Input: layers[0 .. *n_layers] (the readout
 * last), *n_in. */
static int walk(const graph *g, layer *layers, size_t *n_layers, size_t *n_in)
{
  size_t input = SIZE_MAX, n_inputs = 0, n_outputs = 0;
  for (size_t i = 0; i < g->n; i++) {
    if (g->nodes[i].type == NT_INPUT) {
      input = i;
      n_inputs++;
    }
    n_outputs += g->nodes[i].type == NT_OUTPUT;
  }
  if (n_inputs != 1 || n_outputs != 1)
    return sl_error(SL_EFORMAT, "%s: '%s': the graph has %zu Input and %zu Output nodes; "
                    "spikeloop runs graphs with one of each", WHO, g->file->path, n_inputs,
                    n_outputs);
  const field *shape = get_field(&g->nodes[input], "shape");
  size_t width = 1;
  for (size_t i = 0; i < shape->n; i++)
    width *= shape->v[i] >= 1 ? (size_t)shape->v[i] : 0;
  if (width == 0)
    return sl_error(SL_EFORMAT, "%s: '%s': node '%s' (Input): field 'shape' gives no inputs", WHO,
                    g->file->path, g->nodes[input].name);
  *n_in = width;
  size_t cur = input, L = 0;
  int rc = SL_OK;
  for (;;) {
    size_t nx[4];
    size_t ns = succ(g, cur, nx, 4), fwd = SIZE_MAX;
    double *rec = NULL;
    /* a neuron's successors: one forward chain, at most one back to itself */
    for (size_t k = 0; k < ns && k < 4 && !rc; k++) {
      double *M = NULL;
      size_t w = 0, end = 0;
      if ((rc = follow(g, nx[k], width, &M, &w, &end)))
        break;
      if (cur != input && end == cur) {
        if (rec)
          rc = sl_error(SL_EFORMAT, "%s: '%s': node '%s' has two recurrent paths", WHO,
                        g->file->path, g->nodes[cur].name);
        else if (w != width)
          rc = sl_error(SL_EFORMAT, "%s: '%s': node '%s': its recurrent weights map %zu "
                        "neurons to %zu", WHO, g->file->path, g->nodes[cur].name, width, w);
        if (rc)
          free(M);
        else
          rec = M;
        continue;
      }
      if (fwd != SIZE_MAX) {
        free(M);
        rc = sl_error(SL_EFORMAT, "%s: '%s': node '%s' (%s) feeds several layers; spikeloop "
                      "runs chains of layers", WHO, g->file->path, g->nodes[cur].name,
                      type_name(g->nodes[cur].type));
        break;
      }
      fwd = k;
      layers[L].w_in = M;
      layers[L].node = end;
      layers[L].n = w;
    }
    if (cur != input)
      layers[L - 1].w_rec = rec;
    else
      free(rec);
    if (rc)
      break;
    if (fwd == SIZE_MAX) {
      rc = sl_error(SL_EFORMAT, "%s: '%s': node '%s' (%s) leads nowhere: the chain does not "
                    "reach the Output", WHO, g->file->path, g->nodes[cur].name,
                    type_name(g->nodes[cur].type));
      break;
    }
    size_t nn = layers[L].node;
    L++;
    const node *nd = &g->nodes[nn];
    if (is_integrator(nd->type)) {
      size_t o[2];
      size_t no = succ(g, nn, o, 2);
      size_t cur_o = no == 1 ? o[0] : SIZE_MAX;
      while (cur_o != SIZE_MAX && g->nodes[cur_o].type == NT_PASS) {
        size_t o2[2];
        cur_o = succ(g, cur_o, o2, 2) == 1 ? o2[0] : SIZE_MAX;
      }
      if (cur_o == SIZE_MAX || g->nodes[cur_o].type != NT_OUTPUT)
        rc = sl_error(SL_EFORMAT, "%s: '%s': node '%s' (%s): the readout must lead to the "
                      "Output node only", WHO, g->file->path, nd->name, type_name(nd->type));
      else if (pred_count(g, nn) != 1)
        rc = sl_error(SL_EFORMAT, "%s: '%s': node '%s' (%s) has %zu incoming edges; the "
                      "readout takes one", WHO, g->file->path, nd->name, type_name(nd->type),
                      pred_count(g, nn));
      if (!rc && L < 2)
        rc = sl_error(SL_EFORMAT, "%s: '%s': node '%s' (%s): no spiking layer before the "
                      "readout", WHO, g->file->path, nd->name, type_name(nd->type));
      break;
    }
    if ((rc = check_neuron_node(g, nn, 0)))
      break;
    if (L > SL_MAX_LAYERS) {
      rc = sl_error(SL_EFORMAT, "%s: '%s': node '%s': more than %d spiking layers", WHO,
                    g->file->path, nd->name, SL_MAX_LAYERS);
      break;
    }
    width = layers[L - 1].n;
    cur = nn;
  }
  *n_layers = L;
  /* no other edges into a layer than its chain and its own cycle */
  for (size_t l = 0; !rc && l + 1 < L; l++) {
    size_t want = 1 + (layers[l].w_rec != NULL), got = pred_count(g, layers[l].node);
    if (got != want)
      rc = sl_error(SL_EFORMAT, "%s: '%s': node '%s' (%s) has %zu incoming edges, expected %zu "
                    "(its input chain%s)", WHO, g->file->path, g->nodes[layers[l].node].name,
                    type_name(g->nodes[layers[l].node].type), got, want,
                    want == 2 ? " and its recurrent cycle" : "");
  }
  return rc;
}

/* ------------------------------------------------------------ neurons */

/* Fill p (layer neurons, n) from neuron node nd; flip (n) gets -1 where
 * the node's r*w_in is negative. */
static int neuron_params(const graph *g, const node *nd, const sl_config *cfg, int readout,
                         sl_neurons *p, double *flip)
{
  const size_t n = p->n;
  const double dt = cfg->dt, zero = 0.0, one = 1.0;
  double *a = malloc(7 * n * sizeof *a);
  if (!a)
    return oom(g);
  double *tm = a, *ts = a + n, *r = a + 2 * n, *vl = a + 3 * n, *vt = a + 4 * n, *vr = a + 5 * n,
         *wi = a + 6 * n;
  int rc = SL_OK, t = nd->type;
  if (t == NT_CUBALIF || t == NT_CUBALI) {
    rc = values(g, nd, "tau_mem", n, NULL, tm);
    if (!rc)
      rc = values(g, nd, "tau_syn", n, NULL, ts);
  } else if (t == NT_LIF || t == NT_LI) {
    rc = values(g, nd, "tau", n, NULL, tm);
  }
  if (!rc)
    rc = values(g, nd, "r", n, NULL, r);
  if (!rc)
    rc = values(g, nd, "v_leak", n, t == NT_IF ? &zero : NULL, vl);
  if (!rc)
    rc = values(g, nd, "v_threshold", n, readout ? &one : NULL, vt);
  if (!rc)
    rc = values(g, nd, "v_reset", n, &zero, vr);
  if (!rc)
    rc = values(g, nd, "w_in", n, &one, wi);
  const char *tau_field = (t == NT_CUBALIF || t == NT_CUBALI) ? "tau_mem" : "tau";
  for (size_t i = 0; !rc && i < n; i++) {
    double tau_m = t == NT_IF ? 1e30 : tm[i];
    double tau_s = (t == NT_CUBALIF || t == NT_CUBALI) ? ts[i] : dt * 1e-3;
    if (!(tau_m > 0.0) || !(tau_s > 0.0)) {
      rc = sl_error(SL_EINVAL, "%s: '%s': node '%s' (%s): field '%s'[%zu] = %g must be > 0", WHO,
                    g->file->path, nd->name, type_name(t), tau_m > 0.0 ? "tau_syn" : tau_field, i,
                    tau_m > 0.0 ? tau_s : tau_m);
      break;
    }
    double syn = (t == NT_CUBALIF || t == NT_CUBALI) ? wi[i] * dt / tau_s : wi[i];
    double mem = t == NT_IF ? r[i] * dt : r[i] * dt / tau_m;
    double k = cfg->scale_input ? -expm1(-dt / tau_m) : 1.0;
    double gain = syn * mem / k;
    if (!(fabs(gain) > 0.0) || !isfinite(gain) || fabs(gain) > 3e38) {
      rc = sl_error(SL_EINVAL, "%s: '%s': node '%s' (%s): neuron %zu: r = %g, w_in = %g give an "
                    "input gain of %g, which no neuron can have", WHO, g->file->path, nd->name,
                    type_name(t), i, r[i], wi[i], gain);
      break;
    }
    flip[i] = gain < 0.0 ? -1.0 : 1.0;
    p->tau_mem[i] = (float)tau_m;
    p->tau_syn[i] = (float)tau_s;
    p->gain[i] = (float)fabs(gain);
    p->v_leak[i] = (float)vl[i];
    p->v_th[i] = (float)vt[i];
    p->v_reset[i] = (float)vr[i];
    if (!readout && !(vt[i] > vr[i]))
      rc = sl_error(SL_EINVAL, "%s: '%s': node '%s' (%s): neuron %zu: v_threshold = %g must be "
                    "above v_reset = %g", WHO, g->file->path, nd->name, type_name(t), i, vt[i],
                    vr[i]);
  }
  free(a);
  return rc;
}

static double mean_of(const float *v, size_t n)
{
  double s = 0.0;
  for (size_t i = 0; i < n; i++)
    s += v[i];
  return s / (double)n;
}

/* The refractory steps /spikeloop/refrac/<node> if present. */
static int read_refrac(const slh_file *f, const char *node_name, sl_neurons *p)
{
  char path[600];
  snprintf(path, sizeof path, "/spikeloop/refrac/%s", node_name);
  if (!slh_exists(f, path))
    return SL_OK;
  hsize_t dims[1] = {p->n};
  return slh_read_exact(f, path, H5T_INTEGER, H5T_NATIVE_INT32, 1, dims, p->refrac);
}

static int set_key(sl_config *cfg, const char *key, const char *fmt, double v)
{
  char buf[64];
  snprintf(buf, sizeof buf, fmt, v);
  return sl_config_set(cfg, key, buf);
}

/* Build the network from the walked layers. */
static int build(const graph *g, layer *layers, size_t n_layers, size_t n_in, sl_config *cfg,
                 int set_nominal, sl_net **out)
{
  char list[512] = "", rec[64] = "";
  for (size_t l = 0; l + 1 < n_layers; l++) {
    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%zu", l ? "," : "", layers[l].n);
    snprintf(rec + strlen(rec), sizeof rec - strlen(rec), "%s%d", l ? "," : "",
             layers[l].w_rec != NULL);
  }
  int rc = sl_config_set(cfg, "net.hidden", list);
  if (!rc)
    rc = sl_config_set(cfg, "net.recurrent", rec);
  sl_net *net = NULL;
  sl_config c0 = *cfg;
  c0.twin[0] = '\0';
  c0.init[0] = '\0';
  if (!rc)
    rc = sl_net_from_config(&net, &c0, n_in, layers[n_layers - 1].n);
  double *flip = NULL;
  for (size_t l = 0; !rc && l < n_layers; l++) {
    sl_neurons *p = sl_net_neurons(net, l);
    free(flip);
    if (!(flip = malloc(p->n * sizeof *flip))) {
      rc = oom(g);
      break;
    }
    rc = neuron_params(g, &g->nodes[layers[l].node], cfg, l + 1 == n_layers, p, flip);
    for (size_t i = 0; !rc && i < p->n; i++)
      p->refrac[i] = 0;
    if (!rc && l + 1 < n_layers)
      rc = read_refrac(g->file, g->nodes[layers[l].node].name, p);
    sl_tensor t;
    const char *ln = sl_net_layer_name(net, l);
    if (!rc)
      rc = sl_net_find_tensor(net, ln, "w_in", &t);
    for (size_t i = 0; !rc && i < t.rows * t.cols; i++)
      t.data[i] = (float)(layers[l].w_in[i] * flip[i % t.cols]);
    if (!rc && layers[l].w_rec && !(rc = sl_net_find_tensor(net, ln, "w_rec", &t)))
      for (size_t i = 0; i < t.rows * t.cols; i++)
        t.data[i] = (float)(layers[l].w_rec[i] * flip[i % t.cols]);
  }
  free(flip);
  if (!rc) {
    memcpy(sl_net_master(net), sl_net_params(net), sl_net_num_params(net) * sizeof(float));
    rc = sl_net_check(net);
  }
  if (!rc && set_nominal) {
    const sl_neurons *h = sl_net_neurons(net, 0), *ro = sl_net_neurons(net, n_layers - 1);
    rc = set_key(cfg, "neuron.tau_mem", "%.9g", mean_of(h->tau_mem, h->n));
    if (!rc)
      rc = set_key(cfg, "neuron.tau_syn", "%.9g", mean_of(h->tau_syn, h->n));
    if (!rc)
      rc = set_key(cfg, "neuron.v_th", "%.9g", mean_of(h->v_th, h->n));
    if (!rc)
      rc = set_key(cfg, "neuron.v_leak", "%.9g", mean_of(h->v_leak, h->n));
    if (!rc)
      rc = set_key(cfg, "neuron.v_reset", "%.9g", mean_of(h->v_reset, h->n));
    if (!rc)
      rc = set_key(cfg, "neuron.gain", "%.9g", mean_of(h->gain, h->n));
    if (!rc)
      rc = set_key(cfg, "readout.tau_mem", "%.9g", mean_of(ro->tau_mem, ro->n));
    if (!rc)
      rc = set_key(cfg, "readout.tau_syn", "%.9g", mean_of(ro->tau_syn, ro->n));
  }
  if (rc) {
    sl_net_free(net);
    return rc;
  }
  *out = net;
  return SL_OK;
}

int sl_nir_read(const char *path, sl_config *cfg, int set_nominal, sl_net **out)
{
  if (!path || !cfg || !out)
    return sl_error(SL_EINVAL, "sl_nir_read: NULL argument");
  *out = NULL;
  slh_file f = {-1, path, WHO};
  graph g = {0};
  g.file = &f;
  layer layers[SL_MAX_LAYERS + 2];
  memset(layers, 0, sizeof layers);
  size_t n_layers = 0, n_in = 0;
  sl_config c = *cfg;
  int rc;
  H5E_BEGIN_TRY
  {
    rc = slh_open_read(&f, WHO, path);
    char version[64];
    if (!rc && !slh_exists(&f, "/version"))
      rc = sl_error(SL_EFORMAT, "%s: '%s': no dataset /version: not a NIR file", WHO, path);
    if (!rc)
      rc = read_string(&g, f.id, "version", "the root", version, sizeof version);
    hid_t root = -1;
    if (!rc && (!slh_exists(&f, "/node") || (root = H5Gopen2(f.id, "/node", H5P_DEFAULT)) < 0))
      rc = sl_error(SL_EFORMAT, "%s: '%s': no group /node: not a NIR file", WHO, path);
    char tname[64];
    if (!rc)
      rc = read_string(&g, root, "type", "/node", tname, sizeof tname);
    if (!rc && strcmp(tname, "NIRGraph") != 0)
      rc = sl_error(SL_EFORMAT, "%s: '%s': /node is a '%s', not a NIRGraph", WHO, path, tname);
    if (!rc)
      rc = load_graph(&g, root, "", "/node");
    if (root >= 0)
      H5Gclose(root);
    if (!rc)
      rc = walk(&g, layers, &n_layers, &n_in);
    if (!rc)
      rc = build(&g, layers, n_layers, n_in, &c, set_nominal, out);
    slh_close(&f);
  }
  H5E_END_TRY;
  for (size_t l = 0; l < SL_MAX_LAYERS + 2; l++) {
    free(layers[l].w_in);
    free(layers[l].w_rec);
  }
  graph_free(&g);
  if (!rc)
    *cfg = c;
  return rc;
}

/* ------------------------------------------------------------ /spikeloop config */

typedef struct {
  sl_config *cfg;
  int rc;
  char name[256], message[512];
} cfg_walk;

static herr_t apply_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
  (void)info;
  cfg_walk *w = data;
  hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
  char *value = NULL;
  int rc = attr >= 0 ? slh_attr_string(attr, &value) : SL_EIO;
  if (attr >= 0)
    H5Aclose(attr);
  if (rc == SL_OK && (rc = sl_config_set(w->cfg, name, value)) != SL_OK)
    snprintf(w->message, sizeof w->message, "%s", sl_last_error());
  else if (rc != SL_OK)
    snprintf(w->message, sizeof w->message, "not a single string");
  free(value);
  if (rc == SL_OK)
    return 0;
  w->rc = rc;
  snprintf(w->name, sizeof w->name, "%s", name);
  return -1;
}

int sl_nir_read_config(const char *path, sl_config *cfg, int *found)
{
  if (!path || !cfg || !found)
    return sl_error(SL_EINVAL, "sl_nir_read_config: NULL argument");
  *found = 0;
  slh_file f = {-1, path, WHO};
  int rc;
  sl_config c = *cfg;
  cfg_walk w = {&c, SL_OK, "", ""};
  H5E_BEGIN_TRY
  {
    rc = slh_open_read(&f, WHO, path);
    if (!rc && !slh_exists(&f, "/node"))
      rc = sl_error(SL_EFORMAT, "%s: '%s': no group /node: not a NIR file", WHO, path);
    if (!rc && slh_exists(&f, "/spikeloop")) {
      hid_t grp = H5Gopen2(f.id, "/spikeloop", H5P_DEFAULT), gcpl = -1;
      unsigned order = 0;
      if (grp >= 0)
        gcpl = H5Gget_create_plist(grp);
      if (gcpl >= 0)
        H5Pget_attr_creation_order(gcpl, &order);
      H5_index_t index = (order & H5P_CRT_ORDER_INDEXED) ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
      if (grp < 0 || H5Aiterate2(grp, index, H5_ITER_INC, NULL, apply_attr, &w) < 0)
        rc = w.rc ? sl_error(w.rc, "%s: '%s': /spikeloop@%s: %s", WHO, path, w.name, w.message)
                  : sl_error(SL_EIO, "%s: '%s': cannot read /spikeloop", WHO, path);
      else
        *found = 1;
      if (gcpl >= 0)
        H5Pclose(gcpl);
      if (grp >= 0)
        H5Gclose(grp);
    }
    slh_close(&f);
  }
  H5E_END_TRY;
  if (!rc)
    *cfg = c;
  return rc;
}

/* ------------------------------------------------------------ writing */

/* A scalar variable-length UTF-8 string dataset (h5py's string_dtype()). */
static herr_t put_string(hid_t loc, const char *name, const char *value)
{
  hid_t t = H5Tcopy(H5T_C_S1), s = H5Screate(H5S_SCALAR), d = -1;
  herr_t st = -1;
  if (t >= 0 && s >= 0 && H5Tset_size(t, H5T_VARIABLE) >= 0 &&
      H5Tset_cset(t, H5T_CSET_UTF8) >= 0 &&
      (d = H5Dcreate2(loc, name, t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0)
    st = H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value);
  if (d >= 0)
    H5Dclose(d);
  if (s >= 0)
    H5Sclose(s);
  if (t >= 0)
    H5Tclose(t);
  return st;
}

static herr_t put_doubles(hid_t loc, const char *name, const double *v, size_t n)
{
  hsize_t d = n;
  return slh_dataset(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &d, v, SLH_PLAIN);
}

/* Weight W (rows = in, cols = out) as NIR's (out, in) float32. */
static herr_t put_weight(hid_t loc, const char *name, const sl_tensor *t)
{
  float *wt = malloc(t->rows * t->cols * sizeof *wt);
  if (!wt)
    return -1;
  for (size_t i = 0; i < t->rows; i++)
    for (size_t j = 0; j < t->cols; j++)
      wt[j * t->rows + i] = t->data[i * t->cols + j];
  hsize_t d[2] = {t->cols, t->rows};
  herr_t st = slh_dataset(loc, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d, wt, SLH_PLAIN);
  free(wt);
  return st;
}

typedef struct {
  sl_net *net;
  const sl_config *cfg;
} write_arg;

/* One node group nodes/<name> with its type. */
static hid_t node_group(hid_t nodes, const char *name, const char *type)
{
  hid_t g = H5Gcreate2(nodes, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g >= 0 && put_string(g, "type", type) < 0) {
    H5Gclose(g);
    return -1;
  }
  return g;
}

static herr_t fill(hid_t file, const void *argp, const char **what)
{
  const write_arg *a = argp;
  sl_net *net = a->net;
  const sl_net_spec *s = sl_net_get_spec(net);
  const double dt = s->dt;
  const int scale = s->lif.scale_input;
  hid_t root = -1, nodes = -1, g = -1, ext = -1;
  herr_t st = -1;
  char (*edges)[2][48] = NULL;
  size_t ne = 0;
  double *buf = NULL;
  *what = "/version";
  if (put_string(file, "version", "1.0.0") < 0)
    goto out;
  *what = "/node";
  if ((root = H5Gcreate2(file, "node", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
      put_string(root, "type", "NIRGraph") < 0 ||
      (nodes = H5Gcreate2(root, "nodes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0)
    goto out;
  edges = calloc(4 * (s->n_layers + 2), sizeof *edges);
  size_t maxn = s->n_in > s->n_out ? s->n_in : s->n_out;
  for (size_t l = 0; l < s->n_layers; l++)
    maxn = s->n_hidden[l] > maxn ? s->n_hidden[l] : maxn;
  buf = malloc(2 * maxn * sizeof *buf);
  if (!edges || !buf)
    goto out;
  long long shape = (long long)s->n_in;
  hsize_t one = 1;
  *what = "/node/nodes/input";
  if ((g = node_group(nodes, "input", "Input")) < 0 ||
      slh_dataset(g, "shape", H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, &one, &shape, SLH_PLAIN) < 0)
    goto out;
  H5Gclose(g);
  g = -1;
  const char *prev = "input";
  char names[SL_MAX_LAYERS + 1][3][48];
  for (size_t l = 0; l <= s->n_layers; l++) {
    const int ro = l == s->n_layers;
    const char *ln = sl_net_layer_name(net, l);
    sl_neurons *p = sl_net_neurons(net, l);
    sl_tensor t;
    snprintf(names[l][0], 48, "%s_w_in", ln);
    snprintf(names[l][1], 48, "%s", ln);
    snprintf(names[l][2], 48, "%s_w_rec", ln);
    *what = names[l][0];
    if (sl_net_find_tensor(net, ln, "w_in", &t) || (g = node_group(nodes, names[l][0], "Linear")) < 0 ||
        put_weight(g, "weight", &t) < 0)
      goto out;
    H5Gclose(g);
    g = -1;
    snprintf(edges[ne][0], 48, "%s", prev);
    snprintf(edges[ne++][1], 48, "%s", names[l][0]);
    snprintf(edges[ne][0], 48, "%s", names[l][0]);
    snprintf(edges[ne++][1], 48, "%s", names[l][1]);
    *what = names[l][1];
    if ((g = node_group(nodes, names[l][1], ro ? "CubaLI" : "CubaLIF")) < 0)
      goto out;
    const size_t n = p->n;
    double *r = buf, *w = buf + n;
    for (size_t i = 0; i < n; i++) {
      double tm = p->tau_mem[i], ts = p->tau_syn[i];
      double k = scale ? -expm1(-dt / tm) : 1.0;
      r[i] = k * tm / dt;
      w[i] = (double)p->gain[i] * ts / dt;
    }
    double *tmp = malloc(4 * n * sizeof *tmp);
    if (!tmp)
      goto out;
    for (size_t i = 0; i < n; i++) {
      tmp[i] = p->tau_mem[i];
      tmp[n + i] = p->tau_syn[i];
      tmp[2 * n + i] = p->v_leak[i];
      tmp[3 * n + i] = p->v_th[i];
    }
    herr_t e = put_doubles(g, "tau_mem", tmp, n);
    if (e >= 0)
      e = put_doubles(g, "tau_syn", tmp + n, n);
    if (e >= 0)
      e = put_doubles(g, "r", r, n);
    if (e >= 0)
      e = put_doubles(g, "v_leak", tmp + 2 * n, n);
    if (e >= 0)
      e = put_doubles(g, "w_in", w, n);
    if (e >= 0 && !ro)
      e = put_doubles(g, "v_threshold", tmp + 3 * n, n);
    for (size_t i = 0; i < n; i++)
      tmp[i] = p->v_reset[i];
    if (e >= 0 && !ro)
      e = put_doubles(g, "v_reset", tmp, n);
    free(tmp);
    if (e < 0)
      goto out;
    H5Gclose(g);
    g = -1;
    if (!ro && s->recurrent[l]) {
      *what = names[l][2];
      if (sl_net_find_tensor(net, ln, "w_rec", &t) ||
          (g = node_group(nodes, names[l][2], "Linear")) < 0 || put_weight(g, "weight", &t) < 0)
        goto out;
      H5Gclose(g);
      g = -1;
      snprintf(edges[ne][0], 48, "%s", names[l][1]);
      snprintf(edges[ne++][1], 48, "%s", names[l][2]);
      snprintf(edges[ne][0], 48, "%s", names[l][2]);
      snprintf(edges[ne++][1], 48, "%s", names[l][1]);
    }
    prev = names[l][1];
  }
  shape = (long long)s->n_out;
  *what = "/node/nodes/output";
  if ((g = node_group(nodes, "output", "Output")) < 0 ||
      slh_dataset(g, "shape", H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, &one, &shape, SLH_PLAIN) < 0)
    goto out;
  H5Gclose(g);
  g = -1;
  snprintf(edges[ne][0], 48, "%s", prev);
  snprintf(edges[ne++][1], 48, "output");
  *what = "/node/edges";
  {
    const char **ptr = malloc(2 * ne * sizeof *ptr);
    hid_t t = H5Tcopy(H5T_C_S1);
    hsize_t d[2] = {ne, 2};
    herr_t e = ptr && t >= 0 && H5Tset_size(t, H5T_VARIABLE) >= 0 &&
                       H5Tset_cset(t, H5T_CSET_UTF8) >= 0 ? 0 : -1;
    for (size_t k = 0; ptr && k < ne; k++) {
      ptr[2 * k] = edges[k][0];
      ptr[2 * k + 1] = edges[k][1];
    }
    if (e >= 0)
      e = slh_dataset(root, "edges", t, t, 2, d, ptr, SLH_PLAIN);
    if (t >= 0)
      H5Tclose(t);
    free(ptr);
    if (e < 0)
      goto out;
  }
  /* /spikeloop: the configuration, the refractory steps */
  *what = "/spikeloop";
  if ((ext = slh_group(file, "spikeloop")) < 0)
    goto out;
  for (size_t i = 0; i < sl_config_num_keys(); i++) {
    char value[1024];
    if (sl_config_get_index(a->cfg, i, value, sizeof value) ||
        slh_attr_str(ext, ".", sl_config_key_name(i), value) < 0)
      goto out;
  }
  for (size_t l = 0; l < s->n_layers; l++) {
    char path[96];
    snprintf(path, sizeof path, "refrac/%s", sl_net_layer_name(net, l));
    hsize_t n = sl_net_neurons(net, l)->n;
    if (slh_dataset(ext, path, H5T_STD_I32LE, H5T_NATIVE_INT32, 1, &n,
                    sl_net_neurons(net, l)->refrac, SLH_PLAIN) < 0)
      goto out;
  }
  st = 0;
out:
  free(edges);
  free(buf);
  if (g >= 0)
    H5Gclose(g);
  if (ext >= 0)
    H5Gclose(ext);
  if (nodes >= 0)
    H5Gclose(nodes);
  if (root >= 0)
    H5Gclose(root);
  return st;
}

int sl_nir_write(const char *path, sl_net *net, const sl_config *cfg)
{
  if (!path || !net || !cfg)
    return sl_error(SL_EINVAL, "sl_nir_write: NULL argument");
  /* reset by subtraction and scale_input are not NIR's: the /spikeloop
   * configuration carries them (neuron.reset, neuron.scale_input) */
  write_arg a = {net, cfg};
  return slh_write_file("sl_nir_write", path, fill, &a);
}
