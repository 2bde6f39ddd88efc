/* neurobench.c -- the NeuroBench metrics of spikeloop/nbmetrics.h, counted
 * from the states a forward pass left in the network.
 *
 * The fast count lists, once per call, the non-zero fan-out of every
 * presynaptic row of every weight tensor; a non-zero input then adds its
 * row's count (effective ops) without touching the weights again. The
 * reference count (sl_nb_count_ref) is the definition itself: the binarised
 * input vector times the binarised weight matrix, summed, for every layer,
 * step and sample. Both append one row per sample to the same columns.
 *
 * Counts are exact integers held in doubles (exact up to 2^53).
 */
#include "config.h"
#include "spikeloop/nbmetrics.h"
#include "spikeloop/error.h"
#include "io/h5.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NB_NAME_MAX 64

enum {
  COL_ACT = 0,
  COL_DENSE,
  COL_MACS,
  COL_ACS,
  COL_MEM,
  COL_NOPS_EFF,
  COL_NOPS_DENSE,
  COL_CORE /* then activation_sparsity.<layer> per hidden layer */
};

static const char *const core_names[COL_CORE] = {
    "activation_sparsity", "synops_dense",     "synops_eff_macs", "synops_eff_acs",
    "membrane_updates",    "neuron_ops_eff", "neuron_ops_dense"};

typedef struct {
  char name[NB_NAME_MAX];
  double *v; /* cap values */
} nb_col;

typedef struct {
  char name[NB_NAME_MAX];
  double value;
} nb_static;

struct sl_nb {
  size_t n_in, n_out, n_layers, n_hidden[SL_MAX_LAYERS];
  int recurrent[SL_MAX_LAYERS];
  int reset;
  nb_col *cols;
  size_t n_cols, rows, cap;
  nb_static *stat;
  size_t n_stat;
  size_t *nnz;     /* non-zero fan-out per presynaptic row, all tensors */
  size_t nnz_cap;
};

/* ------------------------------------------------------------ static */

int sl_nb_static_count(const sl_net *net, sl_nb_static *out)
{
  if (!net || !out)
    return sl_error(SL_EINVAL, "sl_nb_static_count: NULL argument");
  sl_net *n = (sl_net *)net; /* the tensor views are read only here */
  const sl_net_spec *s = sl_net_get_spec(net);
  double weights = 0.0, zeros = 0.0, neurons = (double)s->n_out;
  for (size_t l = 0; l < s->n_layers; l++)
    neurons += (double)s->n_hidden[l];
  for (size_t k = 0; k < sl_net_num_tensors(net); k++) {
    sl_tensor t;
    int rc = sl_net_tensor(n, k, &t);
    if (rc)
      return rc;
    for (size_t i = 0; i < t.rows * t.cols; i++)
      zeros += t.data[i] == 0.0f;
    weights += (double)(t.rows * t.cols);
  }
  out->parameter_count = weights;
  out->zero_weights = zeros;
  out->connection_sparsity = weights > 0 ? zeros / weights : 0.0;
  out->neurons = neurons;
  out->footprint_bytes = 4.0 * weights + (28.0 + 8.0) * neurons;
  return SL_OK;
}

/* ------------------------------------------------------------ columns */

void sl_nb_free(sl_nb *m)
{
  if (!m)
    return;
  for (size_t k = 0; k < m->n_cols; k++)
    free(m->cols[k].v);
  free(m->cols);
  free(m->stat);
  free(m->nnz);
  free(m);
}

static int add_column(sl_nb *m, const char *name)
{
  nb_col *c = realloc(m->cols, (m->n_cols + 1) * sizeof *c);
  if (!c)
    return sl_error(SL_ENOMEM, "nbmetrics: out of memory");
  m->cols = c;
  nb_col *n = &m->cols[m->n_cols];
  memset(n, 0, sizeof *n);
  snprintf(n->name, sizeof n->name, "%s", name);
  if (m->cap) {
    n->v = malloc(m->cap * sizeof(double));
    if (!n->v)
      return sl_error(SL_ENOMEM, "nbmetrics: out of memory");
    for (size_t i = 0; i < m->cap; i++)
      n->v[i] = NAN;
  }
  m->n_cols++;
  return SL_OK;
}

/* Room for `more` rows in every column (new rows NaN). */
static int grow(sl_nb *m, size_t more)
{
  size_t need = m->rows + more;
  if (need <= m->cap)
    return SL_OK;
  size_t cap = m->cap ? m->cap : 256;
  while (cap < need)
    cap *= 2;
  for (size_t k = 0; k < m->n_cols; k++) {
    double *v = realloc(m->cols[k].v, cap * sizeof *v);
    if (!v)
      return sl_error(SL_ENOMEM, "nbmetrics: out of memory for %zu rows", cap);
    for (size_t i = m->cap; i < cap; i++)
      v[i] = NAN;
    m->cols[k].v = v;
  }
  m->cap = cap;
  return SL_OK;
}

int sl_nb_create(sl_nb **out, const sl_net *net)
{
  if (!out || !net)
    return sl_error(SL_EINVAL, "sl_nb_create: NULL argument");
  *out = NULL;
  sl_nb *m = calloc(1, sizeof *m);
  if (!m)
    return sl_error(SL_ENOMEM, "sl_nb_create: out of memory");
  const sl_net_spec *s = sl_net_get_spec(net);
  m->n_in = s->n_in;
  m->n_out = s->n_out;
  m->n_layers = s->n_layers;
  for (size_t l = 0; l < s->n_layers; l++) {
    m->n_hidden[l] = s->n_hidden[l];
    m->recurrent[l] = s->recurrent[l];
  }
  m->reset = s->lif.reset;
  int rc = SL_OK;
  for (size_t k = 0; k < COL_CORE && !rc; k++)
    rc = add_column(m, core_names[k]);
  for (size_t l = 0; l < s->n_layers && !rc; l++) {
    char name[NB_NAME_MAX];
    snprintf(name, sizeof name, "activation_sparsity.%s", sl_net_layer_name(net, l));
    rc = add_column(m, name);
  }
  if (rc) {
    sl_nb_free(m);
    return rc;
  }
  *out = m;
  return SL_OK;
}

size_t sl_nb_rows(const sl_nb *m) { return m ? m->rows : 0; }
size_t sl_nb_columns(const sl_nb *m) { return m ? m->n_cols : 0; }
const char *sl_nb_column_name(const sl_nb *m, size_t k)
{
  return m && k < m->n_cols ? m->cols[k].name : NULL;
}
const double *sl_nb_column(const sl_nb *m, size_t k)
{
  return m && k < m->n_cols ? m->cols[k].v : NULL;
}

int sl_nb_find(const sl_nb *m, const char *name, size_t *k)
{
  if (!m || !name || !k)
    return sl_error(SL_EINVAL, "sl_nb_find: NULL argument");
  for (size_t i = 0; i < m->n_cols; i++)
    if (strcmp(m->cols[i].name, name) == 0) {
      *k = i;
      return SL_OK;
    }
  return sl_error(SL_ENOTFOUND, "nbmetrics: no column '%s'", name);
}

int sl_nb_set_column(sl_nb *m, const char *name, const double *values, size_t B)
{
  if (!m || !name || !*name || (!values && B))
    return sl_error(SL_EINVAL, "sl_nb_set_column: NULL or empty argument");
  if (strlen(name) >= NB_NAME_MAX)
    return sl_error(SL_EINVAL, "sl_nb_set_column: name '%s' longer than %d characters", name,
                    NB_NAME_MAX - 1);
  if (B > m->rows)
    return sl_error(SL_EINVAL, "sl_nb_set_column: %zu values for the last rows but only %zu "
                    "rows counted", B, m->rows);
  size_t k;
  if (sl_nb_find(m, name, &k)) {
    sl_clear_error();
    int rc = add_column(m, name);
    if (rc)
      return rc;
    k = m->n_cols - 1;
  }
  for (size_t b = 0; b < B; b++)
    m->cols[k].v[m->rows - B + b] = values[b];
  return SL_OK;
}

int sl_nb_set_static(sl_nb *m, const char *name, double value)
{
  if (!m || !name || !*name || strlen(name) >= NB_NAME_MAX)
    return sl_error(SL_EINVAL, "sl_nb_set_static: NULL, empty or too long name");
  for (size_t i = 0; i < m->n_stat; i++)
    if (strcmp(m->stat[i].name, name) == 0) {
      m->stat[i].value = value;
      return SL_OK;
    }
  nb_static *p = realloc(m->stat, (m->n_stat + 1) * sizeof *p);
  if (!p)
    return sl_error(SL_ENOMEM, "nbmetrics: out of memory");
  m->stat = p;
  snprintf(p[m->n_stat].name, NB_NAME_MAX, "%s", name);
  p[m->n_stat].value = value;
  m->n_stat++;
  return SL_OK;
}

size_t sl_nb_num_static(const sl_nb *m) { return m ? m->n_stat : 0; }

const char *sl_nb_static_at(const sl_nb *m, size_t i, double *value)
{
  if (!m || i >= m->n_stat)
    return NULL;
  if (value)
    *value = m->stat[i].value;
  return m->stat[i].name;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int sl_nb_stats_get(const sl_nb *m, size_t k, sl_nb_stats *out)
{
  if (!m || !out || k >= m->n_cols)
    return sl_error(SL_EINVAL, "sl_nb_stats_get: no column %zu", k);
  memset(out, 0, sizeof *out);
  out->mean = out->sd = out->min = out->median = out->max = NAN;
  double *tmp = malloc((m->rows ? m->rows : 1) * sizeof *tmp);
  if (!tmp)
    return sl_error(SL_ENOMEM, "sl_nb_stats_get: out of memory");
  size_t n = 0;
  double sum = 0.0;
  for (size_t i = 0; i < m->rows; i++)
    if (!isnan(m->cols[k].v[i])) {
      tmp[n++] = m->cols[k].v[i];
      sum += m->cols[k].v[i];
    }
  out->n = n;
  if (n) {
    out->mean = sum / (double)n;
    double ss = 0.0;
    for (size_t i = 0; i < n; i++)
      ss += (tmp[i] - out->mean) * (tmp[i] - out->mean);
    out->sd = sqrt(ss / (double)n);
    qsort(tmp, n, sizeof *tmp, cmp_double);
    out->min = tmp[0];
    out->max = tmp[n - 1];
    out->median = n % 2 ? tmp[n / 2] : 0.5 * (tmp[n / 2 - 1] + tmp[n / 2]);
  }
  free(tmp);
  return SL_OK;
}

/* ------------------------------------------------------------ counting */

/* The forward's states and weights, checked against m's architecture. */
typedef struct {
  size_t L, T, B;
  size_t size[SL_MAX_LAYERS + 1];
  const float *s[SL_MAX_LAYERS + 1], *v[SL_MAX_LAYERS + 1];
  sl_tensor w_in[SL_MAX_LAYERS + 1], w_rec[SL_MAX_LAYERS];
} nb_view;

static int get_view(const sl_nb *m, sl_net *net, size_t T, size_t B, nb_view *w)
{
  const sl_net_spec *s = sl_net_get_spec(net);
  if (s->n_in != m->n_in || s->n_out != m->n_out || s->n_layers != m->n_layers)
    return sl_error(SL_EINVAL, "sl_nb_count: the network is not the one the counter was made for");
  memset(w, 0, sizeof *w);
  w->L = s->n_layers;
  w->T = T;
  w->B = B;
  for (size_t l = 0; l <= w->L; l++) {
    sl_layer_state st;
    int rc = sl_net_state(net, l, &st);
    if (rc)
      return rc;
    if (st.T != T || st.B != B)
      return sl_error(SL_EINVAL, "sl_nb_count: the last forward ran %zu steps x %zu samples, "
                      "not %zu x %zu", st.T, st.B, T, B);
    if (l < w->L && (st.N != m->n_hidden[l] || s->recurrent[l] != m->recurrent[l]))
      return sl_error(SL_EINVAL, "sl_nb_count: layer %zu differs from the counter's", l);
    w->size[l] = st.N;
    w->s[l] = st.s;
    w->v[l] = st.v;
    const char *name = sl_net_layer_name(net, l);
    rc = sl_net_find_tensor(net, name, "w_in", &w->w_in[l]);
    if (!rc && l < w->L && s->recurrent[l])
      rc = sl_net_find_tensor(net, name, "w_rec", &w->w_rec[l]);
    if (rc)
      return rc;
  }
  return SL_OK;
}

static int is_spike(float x) { return x == 1.0f || x == -1.0f; }

/* Neuron operations per update of layer l. */
static double update_cost(const sl_nb *m, size_t l)
{
  if (l == m->n_layers)
    return SL_NB_COST_LI;
  return m->reset == SL_RESET_SUBTRACT ? SL_NB_COST_LIF_SUBTRACT : SL_NB_COST_LIF_VALUE;
}

/* Rows of sample b: activation sparsity (per layer and overall), membrane
 * updates and neuron ops; the same for the fast and the reference count
 * (a direct scan of the states is already the definition). */
static void count_neurons(sl_nb *m, const nb_view *w, size_t b, size_t row)
{
  const size_t T = w->T, B = w->B;
  double zeros_all = 0.0, total_all = 0.0, mem = 0.0, nops = 0.0, nops_dense = 0.0;
  for (size_t l = 0; l <= w->L; l++) {
    const size_t N = w->size[l];
    if (l < w->L) {
      double zeros = 0.0;
      for (size_t t = 0; t < T; t++) {
        const float *s = w->s[l] + (t * B + b) * N;
        for (size_t n = 0; n < N; n++)
          zeros += s[n] == 0.0f;
      }
      m->cols[COL_CORE + l].v[row] = zeros / (double)(T * N);
      zeros_all += zeros;
      total_all += (double)(T * N);
    }
    double upd = (double)N; /* t = 0: every membrane is written */
    for (size_t t = 1; t < T; t++) {
      const float *v = w->v[l] + (t * B + b) * N, *vp = w->v[l] + ((t - 1) * B + b) * N;
      for (size_t n = 0; n < N; n++)
        upd += v[n] != vp[n];
    }
    mem += upd;
    nops += upd * update_cost(m, l);
    nops_dense += (double)(T * N) * update_cost(m, l);
  }
  m->cols[COL_ACT].v[row] = total_all > 0 ? zeros_all / total_all : 0.0;
  m->cols[COL_MEM].v[row] = mem;
  m->cols[COL_NOPS_EFF].v[row] = nops;
  m->cols[COL_NOPS_DENSE].v[row] = nops_dense;
}

/* The input of synaptic tensor k at step t, sample b (NULL: all zero). k
 * runs over w_in of layers 0..L, then w_rec of recurrent layers. */
static const float *syn_input(const nb_view *w, const float *x, size_t n_in, size_t l, int rec,
                              size_t t, size_t b)
{
  if (rec)
    return t == 0 ? NULL : w->s[l] + ((t - 1) * w->B + b) * w->size[l];
  if (l == 0)
    return x + (t * w->B + b) * n_in;
  return w->s[l - 1] + (t * w->B + b) * w->size[l - 1];
}

static int prepare(sl_nb *m, sl_net *net, const float *x, size_t T, size_t B, nb_view *w)
{
  if (!m || !net || !x)
    return sl_error(SL_EINVAL, "sl_nb_count: NULL argument");
  if (T == 0 || B == 0)
    return sl_error(SL_EINVAL, "sl_nb_count: T = %zu, B = %zu must be positive", T, B);
  int rc = get_view(m, net, T, B, w);
  if (!rc)
    rc = grow(m, B);
  return rc;
}

int sl_nb_count(sl_nb *m, sl_net *net, const float *x, size_t T, size_t B)
{
  nb_view w;
  int rc = prepare(m, net, x, T, B, &w);
  if (rc)
    return rc;
  /* the non-zero fan-out of every presynaptic row, tensor by tensor */
  size_t rows_total = 0;
  for (size_t l = 0; l <= w.L; l++)
    rows_total += w.w_in[l].rows + (l < w.L && m->recurrent[l] ? w.w_rec[l].rows : 0);
  if (rows_total > m->nnz_cap) {
    size_t *p = realloc(m->nnz, rows_total * sizeof *p);
    if (!p)
      return sl_error(SL_ENOMEM, "sl_nb_count: out of memory");
    m->nnz = p;
    m->nnz_cap = rows_total;
  }
  const size_t *off[2 * SL_MAX_LAYERS + 1];
  const sl_tensor *ten[2 * SL_MAX_LAYERS + 1];
  size_t lay[2 * SL_MAX_LAYERS + 1];
  int rec[2 * SL_MAX_LAYERS + 1];
  size_t nt = 0, pos = 0;
  for (int r = 0; r < 2; r++)
    for (size_t l = 0; l <= w.L; l++) {
      if (r && (l == w.L || !m->recurrent[l]))
        continue;
      const sl_tensor *t = r ? &w.w_rec[l] : &w.w_in[l];
      size_t *z = m->nnz + pos;
      for (size_t i = 0; i < t->rows; i++) {
        size_t c = 0;
        for (size_t j = 0; j < t->cols; j++)
          c += t->data[i * t->cols + j] != 0.0f;
        z[i] = c;
      }
      off[nt] = z;
      ten[nt] = t;
      lay[nt] = l;
      rec[nt] = r;
      nt++;
      pos += t->rows;
    }
  const size_t n_in = m->n_in;
#pragma omp parallel for schedule(static)
  for (size_t b = 0; b < B; b++) {
    const size_t row = m->rows + b;
    double dense = 0.0, macs = 0.0, acs = 0.0;
    for (size_t k = 0; k < nt; k++) {
      const size_t K = ten[k]->rows;
      dense += (double)(T * K * ten[k]->cols);
      for (size_t t = 0; t < T; t++) {
        const float *in = syn_input(&w, x, n_in, lay[k], rec[k], t, b);
        if (!in)
          continue;
        double e = 0.0;
        int binary = 1;
        for (size_t i = 0; i < K; i++)
          if (in[i] != 0.0f) {
            e += (double)off[k][i];
            binary &= is_spike(in[i]);
          }
        *(binary ? &acs : &macs) += e;
      }
    }
    m->cols[COL_DENSE].v[row] = dense;
    m->cols[COL_MACS].v[row] = macs;
    m->cols[COL_ACS].v[row] = acs;
    count_neurons(m, &w, b, row);
  }
  m->rows += B;
  return SL_OK;
}

/* sum_j (bin(in) @ bin(W))_j over one tensor: the definition, with
 * bin(z) = 1 if z != 0 else 0 (dense: every entry 1). */
static double binarised_product(const float *in, const sl_tensor *t, int dense)
{
  double sum = 0.0;
  for (size_t j = 0; j < t->cols; j++) {
    double y = 0.0;
    for (size_t i = 0; i < t->rows; i++) {
      double xi = dense ? 1.0 : (in && in[i] != 0.0f ? 1.0 : 0.0);
      double wij = dense ? 1.0 : (t->data[i * t->cols + j] != 0.0f ? 1.0 : 0.0);
      y += xi * wij;
    }
    sum += y;
  }
  return sum;
}

int sl_nb_count_ref(sl_nb *m, sl_net *net, const float *x, size_t T, size_t B)
{
  nb_view w;
  int rc = prepare(m, net, x, T, B, &w);
  if (rc)
    return rc;
  for (size_t b = 0; b < B; b++) {
    const size_t row = m->rows + b;
    double dense = 0.0, macs = 0.0, acs = 0.0;
    for (size_t l = 0; l <= w.L; l++)
      for (int r = 0; r < 2; r++) {
        if (r && (l == w.L || !m->recurrent[l]))
          continue;
        const sl_tensor *ten = r ? &w.w_rec[l] : &w.w_in[l];
        for (size_t t = 0; t < T; t++) {
          const float *in = syn_input(&w, x, m->n_in, l, r, t, b);
          dense += binarised_product(in, ten, 1);
          if (!in)
            continue;
          /* NeuroBench's test: the input vector is binary if every entry
           * is 0 or +-1; its effective ops are then ACs, else MACs */
          int binary = 1;
          for (size_t i = 0; i < ten->rows; i++)
            binary &= in[i] == 0.0f || is_spike(in[i]);
          *(binary ? &acs : &macs) += binarised_product(in, ten, 0);
        }
      }
    m->cols[COL_DENSE].v[row] = dense;
    m->cols[COL_MACS].v[row] = macs;
    m->cols[COL_ACS].v[row] = acs;
    count_neurons(m, &w, b, row);
  }
  m->rows += B;
  return SL_OK;
}

/* ------------------------------------------------------------ run log */

static int put1(sl_runlog *log, const char *group, const char *name, double v)
{
  char path[160];
  snprintf(path, sizeof path, "metrics_nb/%s/%s", group, name);
  return sl_runlog_put_double(log, path, &v, 1);
}

int sl_nb_write(const sl_nb *m, const sl_nb_static *st, double accuracy, sl_runlog *log)
{
  if (!m || !st || !log)
    return sl_error(SL_EINVAL, "sl_nb_write: NULL argument");
  int rc = put1(log, "static", "footprint_bytes", st->footprint_bytes);
  if (!rc)
    rc = put1(log, "static", "parameter_count", st->parameter_count);
  if (!rc)
    rc = put1(log, "static", "zero_weights", st->zero_weights);
  if (!rc)
    rc = put1(log, "static", "connection_sparsity", st->connection_sparsity);
  if (!rc)
    rc = put1(log, "static", "neurons", st->neurons);
  for (size_t i = 0; !rc && i < m->n_stat; i++)
    rc = put1(log, "static", m->stat[i].name, m->stat[i].value);
  for (size_t k = 0; !rc && k < m->n_cols; k++) {
    char path[160];
    snprintf(path, sizeof path, "metrics_nb/per_sample/%s", m->cols[k].name);
    rc = sl_runlog_put_double(log, path, m->cols[k].v, m->rows);
    sl_nb_stats s;
    if (!rc)
      rc = sl_nb_stats_get(m, k, &s);
    if (!rc)
      rc = put1(log, "mean", m->cols[k].name, s.mean);
  }
  if (!rc) {
    double a = accuracy;
    rc = sl_runlog_put_double(log, "metrics_nb/accuracy", &a, 1);
  }
  return rc;
}

/* ------------------------------------------------------------ ANN layers */

int sl_nb_create_empty(sl_nb **out)
{
  if (!out)
    return sl_error(SL_EINVAL, "sl_nb_create_empty: NULL argument");
  *out = calloc(1, sizeof **out);
  return *out ? SL_OK : sl_error(SL_ENOMEM, "sl_nb_create_empty: out of memory");
}

int sl_nb_add_rows(sl_nb *m, size_t B)
{
  if (!m)
    return sl_error(SL_EINVAL, "sl_nb_add_rows: NULL counter");
  int rc = grow(m, B);
  if (!rc)
    m->rows += B;
  return rc;
}

/* Is every entry of x[0..n) 0 or +-1 (a spike input: ACs)? */
static int binary_input(const float *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (x[i] != 0.0f && !is_spike(x[i]))
      return 0;
  return 1;
}

static int conv_check(const float *x, const float *w, const sl_conv2d_shape *s, size_t b,
                      double ops[3])
{
  if (!x || !w || !s || !ops || b >= s->B || sl_conv2d_out_h(s) == 0 || sl_conv2d_out_w(s) == 0)
    return sl_error(SL_EINVAL, "sl_nb_conv2d_ops: NULL argument, sample %zu out of range or a "
                    "kernel that does not fit", b);
  return SL_OK;
}

/* Input pixel of output (oy, ox) at kernel tap (i, j) of channel c, or NULL
 * in the zero padding. */
static const float *tap(const float *x, const sl_conv2d_shape *s, size_t b, size_t c, size_t oy,
                        size_t ox, size_t i, size_t j)
{
  long y = (long)(oy * s->stride + i) - (long)s->pad, xx = (long)(ox * s->stride + j) - (long)s->pad;
  if (y < 0 || xx < 0 || y >= (long)s->H || xx >= (long)s->W)
    return NULL;
  return x + ((b * s->C + c) * s->H + (size_t)y) * s->W + (size_t)xx;
}

int sl_nb_conv2d_ops(const float *x, const float *w, const sl_conv2d_shape *s, size_t b,
                     double ops[3])
{
  int rc = conv_check(x, w, s, b, ops);
  if (rc)
    return rc;
  const size_t OH = sl_conv2d_out_h(s), OW = sl_conv2d_out_w(s), K = s->K;
  const size_t R = s->C * s->kh * s->kw;
  size_t *fan = malloc(R * sizeof *fan);
  if (!fan)
    return sl_error(SL_ENOMEM, "sl_nb_conv2d_ops: out of memory");
  for (size_t r = 0; r < R; r++) {
    size_t c = 0;
    for (size_t k = 0; k < K; k++)
      c += w[r * K + k] != 0.0f;
    fan[r] = c;
  }
  double e = 0.0;
  for (size_t oy = 0; oy < OH; oy++)
    for (size_t ox = 0; ox < OW; ox++)
      for (size_t c = 0; c < s->C; c++)
        for (size_t i = 0; i < s->kh; i++)
          for (size_t j = 0; j < s->kw; j++) {
            const float *p = tap(x, s, b, c, oy, ox, i, j);
            if (!p)
              continue;
            ops[0] += (double)K;
            if (*p != 0.0f)
              e += (double)fan[(c * s->kh + i) * s->kw + j];
          }
  const size_t per = s->C * s->H * s->W;
  ops[binary_input(x + b * per, per) ? 2 : 1] += e;
  free(fan);
  return SL_OK;
}

int sl_nb_conv2d_ops_ref(const float *x, const float *w, const sl_conv2d_shape *s, size_t b,
                         double ops[3])
{
  int rc = conv_check(x, w, s, b, ops);
  if (rc)
    return rc;
  const size_t OH = sl_conv2d_out_h(s), OW = sl_conv2d_out_w(s), K = s->K;
  const size_t per = s->C * s->H * s->W;
  const int bin = binary_input(x + b * per, per);
  for (size_t k = 0; k < K; k++)
    for (size_t oy = 0; oy < OH; oy++)
      for (size_t ox = 0; ox < OW; ox++)
        for (size_t c = 0; c < s->C; c++)
          for (size_t i = 0; i < s->kh; i++)
            for (size_t j = 0; j < s->kw; j++) {
              const float *p = tap(x, s, b, c, oy, ox, i, j);
              if (!p)
                continue;
              ops[0] += 1.0;
              const float wv = w[((c * s->kh + i) * s->kw + j) * K + k];
              if (*p != 0.0f && wv != 0.0f)
                ops[bin ? 2 : 1] += 1.0;
            }
  return SL_OK;
}

int sl_nb_fc_ops(const float *x, const float *w, size_t K, size_t N, size_t b, double ops[3])
{
  if (!x || !w || !ops || K == 0 || N == 0)
    return sl_error(SL_EINVAL, "sl_nb_fc_ops: NULL argument or empty layer");
  const float *row = x + b * K;
  double e = 0.0;
  for (size_t i = 0; i < K; i++) {
    ops[0] += (double)N;
    if (row[i] == 0.0f)
      continue;
    size_t c = 0;
    for (size_t j = 0; j < N; j++)
      c += w[i * N + j] != 0.0f;
    e += (double)c;
  }
  ops[binary_input(row, K) ? 2 : 1] += e;
  return SL_OK;
}

/* ------------------------------------------------------------ reading a log */

typedef struct {
  char (*names)[NB_NAME_MAX];
  size_t n, cap;
} name_list;

static herr_t collect_name(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
  (void)g, (void)info;
  name_list *l = data;
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    char(*p)[NB_NAME_MAX] = realloc(l->names, cap * sizeof *p);
    if (!p)
      return -1;
    l->names = p;
    l->cap = cap;
  }
  snprintf(l->names[l->n++], NB_NAME_MAX, "%s", name);
  return 0;
}

/* Names in group `path` of f, in creation (here: alphabetical) order. */
static int list_group(const slh_file *f, const char *path, name_list *l)
{
  hid_t g = -1;
  int rc = slh_open_group(f, path, &g);
  if (rc)
    return rc;
  hsize_t idx = 0;
  if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_name, l) < 0)
    rc = sl_error(SL_ENOMEM, "%s: '%s': cannot list %s", f->who, f->path, path);
  H5Gclose(g);
  return rc;
}

/* A float64 1-D dataset path of f into a fresh *out with *n values. */
static int read_doubles(const slh_file *f, const char *path, double **out, size_t *n)
{
  hid_t d = -1;
  hsize_t dims[1];
  int rc = slh_open_dataset(f, path, H5T_FLOAT, 1, dims, &d);
  if (rc)
    return rc;
  *n = (size_t)dims[0];
  *out = malloc((*n ? *n : 1) * sizeof **out);
  if (!*out)
    rc = sl_error(SL_ENOMEM, "%s: out of memory", f->who);
  if (!rc)
    rc = slh_read(f, d, path, H5T_NATIVE_DOUBLE, *n, *out);
  H5Dclose(d);
  return rc;
}

static int nb_read(const char *path, sl_nb *m, sl_nb_static *st, double *accuracy)
{
  slh_file f = {-1, path, "sl_nb_read"};
  int rc = slh_open_read(&f, "sl_nb_read", path);
  if (rc)
    return rc;
  if (!slh_exists(&f, "metrics_nb")) {
    slh_close(&f);
    return sl_error(SL_EFORMAT, "%s: no /metrics_nb (a log written before the NeuroBench "
                    "metrics, or a run that does not count them)", path);
  }
  name_list l = {NULL, 0, 0};
  double *v = NULL;
  size_t n = 0;
  char p[2 * NB_NAME_MAX];
  rc = list_group(&f, "metrics_nb/static", &l);
  for (size_t i = 0; !rc && i < l.n; i++) {
    snprintf(p, sizeof p, "metrics_nb/static/%s", l.names[i]);
    rc = read_doubles(&f, p, &v, &n);
    if (!rc && n != 1)
      rc = sl_error(SL_EFORMAT, "%s: %s holds %zu values, not 1", path, p, n);
    if (!rc) {
      const char *k = l.names[i];
      if (!strcmp(k, "footprint_bytes"))
        st->footprint_bytes = v[0];
      else if (!strcmp(k, "parameter_count"))
        st->parameter_count = v[0];
      else if (!strcmp(k, "zero_weights"))
        st->zero_weights = v[0];
      else if (!strcmp(k, "connection_sparsity"))
        st->connection_sparsity = v[0];
      else if (!strcmp(k, "neurons"))
        st->neurons = v[0];
      else
        rc = sl_nb_set_static(m, k, v[0]);
    }
    free(v);
    v = NULL;
  }
  l.n = 0;
  if (!rc)
    rc = list_group(&f, "metrics_nb/per_sample", &l);
  /* the counter's order: the core columns, activation_sparsity.<layer>,
   * then the others (the file lists names alphabetically) */
  for (int pass = 0; pass < COL_CORE + 2 && !rc; pass++)
    for (size_t i = 0; !rc && i < l.n; i++) {
      const char *name = l.names[i];
      int layer = strncmp(name, "activation_sparsity.", 20) == 0, core = -1;
      for (int k = 0; k < COL_CORE; k++)
        if (strcmp(name, core_names[k]) == 0)
          core = k;
      int want = core >= 0 ? core : layer ? COL_CORE : COL_CORE + 1;
      if (want != pass)
        continue;
      snprintf(p, sizeof p, "metrics_nb/per_sample/%s", name);
      rc = read_doubles(&f, p, &v, &n);
      if (!rc && m->rows == 0)
        rc = sl_nb_add_rows(m, n);
      if (!rc && n != m->rows)
        rc = sl_error(SL_EFORMAT, "%s: %s holds %zu samples, others %zu", path, p, n, m->rows);
      if (!rc)
        rc = sl_nb_set_column(m, name, v, n);
      free(v);
      v = NULL;
    }
  if (!rc) {
    rc = read_doubles(&f, "metrics_nb/accuracy", &v, &n);
    if (!rc)
      *accuracy = n ? v[0] : NAN;
    free(v);
  }
  free(l.names);
  slh_close(&f);
  return rc;
}

int sl_nb_read(const char *path, sl_nb **out, sl_nb_static *st, double *accuracy)
{
  if (!path || !out || !st || !accuracy)
    return sl_error(SL_EINVAL, "sl_nb_read: NULL argument");
  *out = NULL;
  memset(st, 0, sizeof *st);
  sl_nb *m = NULL;
  int rc = sl_nb_create_empty(&m);
  if (!rc) {
    H5E_BEGIN_TRY { rc = nb_read(path, m, st, accuracy); }
    H5E_END_TRY;
  }
  if (rc) {
    sl_nb_free(m);
    return rc;
  }
  *out = m;
  return SL_OK;
}
