/* dynexit.c -- dynamic inference with semantic exits (spikeloop/dynexit.h):
 * true early exit with batch compaction, the exit table of a threshold
 * search, scoring thresholds on it, and the Pareto front.
 */
#include "config.h"
#include "spikeloop/dynexit.h"
#include "spikeloop/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double sl_dyn_full_macs(const sl_dyn_net *net)
{
  if (!net)
    return 0.0;
  double m = net->head_macs;
  for (size_t s = 0; s < net->n_stages; s++)
    m += net->stage_macs[s];
  return m;
}

static int net_check(const sl_dyn_net *net, sl_semantic *mem)
{
  if (!net || !mem || !net->stage || !net->head)
    return sl_error(SL_EINVAL, "dynexit: NULL network, memory or callback");
  if (!net->n_stages || net->n_stages > SL_DYN_MAX_STAGES)
    return sl_error(SL_EINVAL, "dynexit: %zu stages (1..%d)", net->n_stages, SL_DYN_MAX_STAGES);
  if (sl_semantic_num_exits(mem) != net->n_stages - 1 ||
      sl_semantic_num_classes(mem) != net->n_classes)
    return sl_error(SL_EINVAL, "dynexit: the memory has %zu exits for %zu classes, the network "
                    "%zu exits for %zu classes", sl_semantic_num_exits(mem),
                    sl_semantic_num_classes(mem), net->n_stages - 1, net->n_classes);
  for (size_t e = 0; e + 1 < net->n_stages; e++)
    if (sl_semantic_dim(mem, e) != net->feat_dim[e])
      return sl_error(SL_EINVAL, "dynexit: exit %zu: memory of dimension %zu, feature of %zu", e,
                      sl_semantic_dim(mem, e), net->feat_dim[e]);
  return SL_OK;
}

/* MACs of one CAM search at exit e: every row of its CAM */
static double check_macs(const sl_dyn_net *net, const sl_semantic *mem, size_t e)
{
  return (double)net->feat_dim[e] * (double)sl_semantic_rows(mem);
}

static size_t argmax(const float *v, size_t n)
{
  size_t a = 0;
  for (size_t j = 1; j < n; j++)
    if (v[j] > v[a])
      a = j;
  return a;
}

/* Buffers of one batch: stage outputs (two, alternating), features,
 * logits, the exits' answers, the active samples' indices and their
 * classes at the exit before. */
typedef struct {
  float *a, *b, *feat, *logits, *sim;
  int32_t *cls, *before;
  size_t *active;
} dyn_buffers;

static void buffers_free(dyn_buffers *w)
{
  free(w->a), free(w->b), free(w->feat), free(w->logits), free(w->sim), free(w->cls);
  free(w->before), free(w->active);
}

static int buffers_alloc(dyn_buffers *w, const sl_dyn_net *net, size_t batch)
{
  size_t big = 0, fbig = 0;
  for (size_t s = 0; s < net->n_stages; s++) {
    big = net->out_dim[s] > big ? net->out_dim[s] : big;
    fbig = net->feat_dim[s] > fbig ? net->feat_dim[s] : fbig;
  }
  memset(w, 0, sizeof *w);
  w->a = malloc(batch * big * sizeof(float));
  w->b = malloc(batch * big * sizeof(float));
  w->feat = malloc(batch * fbig * sizeof(float));
  w->logits = malloc(batch * net->n_classes * sizeof(float));
  w->sim = malloc(batch * sizeof(float));
  w->cls = malloc(batch * sizeof(int32_t));
  w->before = malloc(batch * sizeof(int32_t));
  w->active = malloc(batch * sizeof(size_t));
  if (!w->a || !w->b || !w->feat || !w->logits || !w->sim || !w->cls || !w->before ||
      !w->active) {
    buffers_free(w);
    return sl_error(SL_ENOMEM, "dynexit: out of memory for a batch of %zu", batch);
  }
  return SL_OK;
}

static int args_check(const sl_dyn_net *net, sl_semantic *mem, const float *x, size_t n,
                      size_t batch)
{
  int rc = net_check(net, mem);
  if (!rc && !x)
    rc = sl_error(SL_EINVAL, "dynexit: NULL input");
  if (!rc && (!n || !batch))
    rc = sl_error(SL_EINVAL, "dynexit: n = %zu, batch = %zu (need > 0)", n, batch);
  return rc;
}

static int policy_check(const sl_dyn_policy *p, size_t n_exits)
{
  if (!p || (!p->thresholds && n_exits))
    return sl_error(SL_EINVAL, "dynexit: NULL policy or thresholds");
  for (size_t e = 0; e < n_exits; e++)
    if (isnan(p->thresholds[e]))
      return sl_error(SL_EINVAL, "dynexit: threshold %zu is NaN", e);
  return SL_OK;
}

/* Whether exit e takes a sample of similarity sim and class cls there;
 * before: its class at exit e - 1 (unused at e = 0). */
static int leaves(const sl_dyn_policy *p, size_t e, float sim, int32_t cls, int32_t before)
{
  return sim > p->thresholds[e] && (!p->agree || e == 0 || cls == before);
}

/* Where sl_dyn_infer writes its decisions. */
typedef struct {
  int32_t *pred, *stage;
  const int32_t *y;
  size_t hits;
  double macs;
  sl_dyn_result *res;
} outcome;

static void decide(outcome *o, size_t j, int32_t cls, size_t s, double macs)
{
  if (o->pred)
    o->pred[j] = cls;
  if (o->stage)
    o->stage[j] = (int32_t)s;
  o->hits += o->y && o->y[j] == cls;
  o->macs += macs;
  o->res->decided[s]++;
}

int sl_dyn_infer(const sl_dyn_net *net, sl_semantic *mem, const sl_dyn_policy *policy,
                 const float *x, const int32_t *y, size_t n, size_t batch, int32_t *pred,
                 int32_t *stage, sl_dyn_result *res)
{
  int rc = args_check(net, mem, x, n, batch);
  if (rc)
    return rc;
  if (!res)
    return sl_error(SL_EINVAL, "dynexit: NULL result");
  if ((rc = policy_check(policy, net->n_stages - 1)))
    return rc;
  dyn_buffers w;
  if ((rc = buffers_alloc(&w, net, batch)))
    return rc;
  memset(res, 0, sizeof *res);
  const size_t S = net->n_stages;
  outcome o = {pred, stage, y, 0, 0.0, res};
  double e0 = 0.0;
  sl_semantic_counters(mem, NULL, &e0);
  if (net->energy)
    e0 += net->energy(net->net);
  for (size_t first = 0; !rc && first < n; first += batch) {
    size_t B = n - first < batch ? n - first : batch;
    for (size_t i = 0; i < B; i++)
      w.active[i] = first + i, w.before[i] = -1;
    const float *in = x + first * net->in_dim;
    float *out = w.a, *spare = w.b;
    double spent = 0.0; /* MACs of every sample still active */
    for (size_t s = 0; !rc && s < S && B; s++) {
      rc = net->stage(net->net, s, in, B, out, w.feat);
      spent += net->stage_macs[s];
      if (rc)
        break;
      if (s + 1 < S) {
        spent += check_macs(net, mem, s);
        rc = sl_semantic_query(mem, s, w.feat, B, w.cls, w.sim);
        size_t keep = 0;
        for (size_t i = 0; !rc && i < B; i++) {
          if (leaves(policy, s, w.sim[i], w.cls[i], w.before[i])) {
            decide(&o, w.active[i], w.cls[i], s, spent);
            continue;
          }
          /* still active: its output row and this exit's class move up */
          if (keep != i)
            memmove(out + keep * net->out_dim[s], out + i * net->out_dim[s],
                    net->out_dim[s] * sizeof(float));
          w.before[keep] = w.cls[i];
          w.active[keep++] = w.active[i];
        }
        B = keep;
      } else {
        rc = net->head(net->net, w.feat, B, w.logits);
        for (size_t i = 0; !rc && i < B; i++)
          decide(&o, w.active[i], (int32_t)argmax(w.logits + i * net->n_classes, net->n_classes),
                 s, spent + net->head_macs);
      }
      in = out;
      float *t = out;
      out = spare;
      spare = t;
    }
  }
  buffers_free(&w);
  if (rc)
    return rc;
  res->n = n;
  res->macs = o.macs / (double)n;
  res->compute = res->macs / sl_dyn_full_macs(net);
  res->accuracy = y ? (double)o.hits / (double)n : 0.0;
  double e1 = 0.0;
  sl_semantic_counters(mem, NULL, &e1);
  if (net->energy)
    e1 += net->energy(net->net);
  res->energy_j = (e1 - e0) / (double)n;
  return SL_OK;
}

void sl_dyn_table_free(sl_dyn_table *t)
{
  if (!t)
    return;
  free(t->sim), free(t->cls), free(t->head), free(t->label);
  memset(t, 0, sizeof *t);
}

int sl_dyn_record(sl_dyn_table *t, const sl_dyn_net *net, sl_semantic *mem, const float *x,
                  const int32_t *y, size_t n, size_t batch)
{
  if (!t || !y)
    return sl_error(SL_EINVAL, "dyn_record: NULL table or labels");
  int rc = args_check(net, mem, x, n, batch);
  if (rc)
    return rc;
  memset(t, 0, sizeof *t);
  const size_t S = net->n_stages, E = S - 1;
  t->n = n;
  t->n_exits = E;
  t->n_classes = net->n_classes;
  t->sim = malloc((E ? n * E : 1) * sizeof(float));
  t->cls = malloc((E ? n * E : 1) * sizeof(int32_t));
  t->head = malloc(n * sizeof(int32_t));
  t->label = malloc(n * sizeof(int32_t));
  dyn_buffers w;
  memset(&w, 0, sizeof w);
  if (!t->sim || !t->cls || !t->head || !t->label)
    rc = sl_error(SL_ENOMEM, "dyn_record: out of memory for %zu samples", n);
  if (!rc)
    rc = buffers_alloc(&w, net, batch);
  for (size_t s = 0; s < S; s++) {
    t->stage_macs[s] = net->stage_macs[s];
    t->check_macs[s] = s < E ? check_macs(net, mem, s) : 0.0;
  }
  t->head_macs = net->head_macs;
  for (size_t first = 0; !rc && first < n; first += batch) {
    const size_t B = n - first < batch ? n - first : batch;
    const float *in = x + first * net->in_dim;
    float *out = w.a, *spare = w.b;
    for (size_t s = 0; !rc && s < S; s++) {
      rc = net->stage(net->net, s, in, B, out, w.feat);
      if (!rc && s < E) {
        rc = sl_semantic_query(mem, s, w.feat, B, w.cls, w.sim);
        for (size_t i = 0; !rc && i < B; i++) {
          t->sim[(first + i) * E + s] = w.sim[i];
          t->cls[(first + i) * E + s] = w.cls[i];
        }
      }
      in = out;
      float *tmp = out;
      out = spare;
      spare = tmp;
    }
    if (!rc)
      rc = net->head(net->net, w.feat, B, w.logits);
    for (size_t i = 0; !rc && i < B; i++) {
      t->head[first + i] = (int32_t)argmax(w.logits + i * net->n_classes, net->n_classes);
      t->label[first + i] = y[first + i];
    }
  }
  buffers_free(&w);
  if (rc)
    sl_dyn_table_free(t);
  return rc;
}

int sl_dyn_evaluate(const sl_dyn_table *t, const sl_dyn_policy *policy, sl_dyn_result *res)
{
  if (!t || !res)
    return sl_error(SL_EINVAL, "dyn_evaluate: NULL argument");
  if (!t->n)
    return sl_error(SL_EINVAL, "dyn_evaluate: empty table");
  int rc = policy_check(policy, t->n_exits);
  if (rc)
    return rc;
  memset(res, 0, sizeof *res);
  const size_t E = t->n_exits;
  double full = t->head_macs;
  for (size_t s = 0; s <= E; s++)
    full += t->stage_macs[s];
  double macs = 0.0;
  size_t hits = 0, changed = 0;
  for (size_t i = 0; i < t->n; i++) {
    double m = 0.0;
    int32_t cls = t->head[i];
    size_t at = E;
    for (size_t e = 0; e < E; e++) {
      m += t->stage_macs[e] + t->check_macs[e];
      if (leaves(policy, e, t->sim[i * E + e], t->cls[i * E + e],
                 e ? t->cls[i * E + e - 1] : -1)) {
        cls = t->cls[i * E + e];
        at = e;
        break;
      }
    }
    if (at == E)
      m += t->stage_macs[E] + t->head_macs;
    macs += m;
    hits += cls == t->label[i];
    changed += cls != t->head[i];
    res->decided[at]++;
  }
  res->n = t->n;
  res->macs = macs / (double)t->n;
  res->compute = res->macs / full;
  res->accuracy = (double)hits / (double)t->n;
  res->changed = (double)changed / (double)t->n;
  return SL_OK;
}

typedef struct {
  double acc, compute;
  size_t i;
} point;

static int by_compute(const void *a, const void *b)
{
  const point *x = a, *y = b;
  if (x->compute != y->compute)
    return x->compute < y->compute ? -1 : 1;
  if (x->acc != y->acc)
    return x->acc > y->acc ? -1 : 1;
  return (x->i > y->i) - (x->i < y->i);
}

size_t sl_dyn_pareto(const double *accuracy, const double *compute, size_t n, size_t *idx)
{
  if (!accuracy || !compute || !idx || !n)
    return 0;
  point *p = malloc(n * sizeof *p);
  if (!p) {
    sl_error(SL_ENOMEM, "dyn_pareto: out of memory");
    return 0;
  }
  for (size_t i = 0; i < n; i++)
    p[i] = (point){accuracy[i], compute[i], i};
  qsort(p, n, sizeof *p, by_compute);
  size_t k = 0;
  double best = -INFINITY;
  for (size_t i = 0; i < n; i++)
    if (p[i].acc > best) {
      best = p[i].acc;
      idx[k++] = p[i].i;
    }
  free(p);
  return k;
}
