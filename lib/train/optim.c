/* optim.c -- Adam and SGD (with momentum) over one flat parameter block,
 * as a table of strategies found by name.
 *
 * Adam follows Kingma & Ba with bias correction, as PyTorch's Adam (eps
 * added after the square root of the corrected second moment). Large
 * blocks are updated by all OpenMP threads (elementwise, so the result
 * does not depend on their number).
 */
#include "config.h"
#include "spikeloop/optim.h"
#include "spikeloop/error.h"
#include "base/names.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Below this many parameters one thread is faster than starting a team. */
#define PARALLEL_MIN 65536

typedef struct {
  const char *name;
  size_t n_moments; /* state arrays of n_params floats */
  void (*step)(sl_optim *o, float *params, const float *grads);
} optim_type;

struct sl_optim {
  const optim_type *type;
  sl_optim_params p;
  size_t n, t;
  double lr;
  float *m, *v;
};

static void adam_step(sl_optim *o, float *w, const float *g)
{
  const double b1 = o->p.beta1, b2 = o->p.beta2;
  const double c1 = 1.0 - pow(b1, (double)o->t), c2 = 1.0 - pow(b2, (double)o->t);
  const float lr = (float)(o->lr / c1), eps = (float)o->p.eps, sc2 = (float)(1.0 / sqrt(c2));
  /* 1 - beta in double first: (1.0f - 0.999f) is 1.3e-5 off 0.001 */
  const float fb1 = (float)b1, fb2 = (float)b2, cb1 = (float)(1.0 - b1), cb2 = (float)(1.0 - b2);
  float *m = o->m, *v = o->v;
  /* elementwise: the same bits for any thread count */
#pragma omp parallel for schedule(static) if (o->n >= PARALLEL_MIN)
  for (size_t i = 0; i < o->n; i++) {
    m[i] = fb1 * m[i] + cb1 * g[i];
    v[i] = fb2 * v[i] + cb2 * g[i] * g[i];
    w[i] -= lr * m[i] / (sqrtf(v[i]) * sc2 + eps);
  }
}

static void sgd_step(sl_optim *o, float *w, const float *g)
{
  const float lr = (float)o->lr, mu = (float)o->p.momentum;
  for (size_t i = 0; i < o->n; i++) {
    float d = g[i];
    if (mu > 0.0f) {
      o->m[i] = mu * o->m[i] + d;
      d = o->m[i];
    }
    w[i] -= lr * d;
  }
}

static const optim_type adam = {"adam", 2, adam_step};
static const optim_type sgd = {"sgd", 1, sgd_step};
static const optim_type *const types[] = {&adam, &sgd, NULL};
static const char *const names[] = {"adam", "sgd", NULL};

const char *const *sl_optim_list(void) { return names; }

sl_optim_params sl_optim_params_default(void)
{
  sl_optim_params p = {1e-3, 1.0, 1, 0.9, 0.999, 1e-8, 0.0};
  return p;
}

int sl_optim_create(sl_optim **out, const char *name, size_t n, const sl_optim_params *p)
{
  if (!out || !p)
    return sl_error(SL_EINVAL, "sl_optim_create: NULL argument");
  *out = NULL;
  const optim_type *type = NULL;
  for (size_t i = 0; types[i]; i++)
    if (name && strcmp(types[i]->name, name) == 0)
      type = types[i];
  if (!type) {
    char known[64];
    return sl_error(SL_ENOTFOUND, "unknown optimiser '%s' (known: %s)", name ? name : "(null)",
                    sli_names_join(names, ", ", known, sizeof known));
  }
  if (n == 0)
    return sl_error(SL_EINVAL, "optimiser over zero parameters");
  if (!(p->lr > 0) || !isfinite(p->lr))
    return sl_error(SL_EINVAL, "learning rate %g must be positive", p->lr);
  if (!(p->lr_decay > 0 && p->lr_decay <= 1))
    return sl_error(SL_EINVAL, "learning-rate decay %g must be in (0, 1]", p->lr_decay);
  if (p->lr_step == 0)
    return sl_error(SL_EINVAL, "learning-rate step must be >= 1 epoch");
  if (!(p->beta1 >= 0 && p->beta1 < 1) || !(p->beta2 >= 0 && p->beta2 < 1) || !(p->eps > 0))
    return sl_error(SL_EINVAL, "Adam needs 0 <= beta1, beta2 < 1 and eps > 0");
  if (!(p->momentum >= 0 && p->momentum < 1))
    return sl_error(SL_EINVAL, "momentum %g must be in [0, 1)", p->momentum);
  sl_optim *o = calloc(1, sizeof *o);
  if (!o)
    return sl_error(SL_ENOMEM, "sl_optim_create: out of memory");
  o->type = type;
  o->p = *p;
  o->n = n;
  o->lr = p->lr;
  o->m = calloc(n, sizeof(float));
  if (type->n_moments > 1)
    o->v = calloc(n, sizeof(float));
  if (!o->m || (type->n_moments > 1 && !o->v)) {
    sl_optim_free(o);
    return sl_error(SL_ENOMEM, "sl_optim_create: out of memory for %zu parameters", n);
  }
  *out = o;
  return SL_OK;
}

void sl_optim_free(sl_optim *o)
{
  if (!o)
    return;
  free(o->m);
  free(o->v);
  free(o);
}

const char *sl_optim_name(const sl_optim *o) { return o ? o->type->name : NULL; }

int sl_optim_step(sl_optim *o, float *params, const float *grads)
{
  if (!o || !params || !grads)
    return sl_error(SL_EINVAL, "sl_optim_step: NULL argument");
  int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad) if (o->n >= PARALLEL_MIN)
  for (size_t i = 0; i < o->n; i++)
    bad |= !isfinite(grads[i]);
  for (size_t i = 0; bad && i < o->n; i++) /* the first one, for the message */
    if (!isfinite(grads[i]))
      return sl_error(SL_ENUMERIC, "gradient %zu is not finite; parameters left unchanged", i);
  o->t++;
  o->type->step(o, params, grads);
  return SL_OK;
}

void sl_optim_set_epoch(sl_optim *o, size_t epoch)
{
  if (o)
    o->lr = o->p.lr * pow(o->p.lr_decay, (double)(epoch / o->p.lr_step));
}

double sl_optim_lr(const sl_optim *o) { return o ? o->lr : 0.0; }

int sl_optim_state(const sl_optim *o, size_t *step, const float **m, const float **v)
{
  if (!o)
    return sl_error(SL_EINVAL, "sl_optim_state: NULL optimiser");
  if (step)
    *step = o->t;
  if (m)
    *m = o->m;
  if (v)
    *v = o->v;
  return SL_OK;
}

int sl_optim_set_state(sl_optim *o, size_t step, const float *m, const float *v)
{
  if (!o || !m || (o->type->n_moments > 1 && !v))
    return sl_error(SL_EINVAL, "sl_optim_set_state: NULL %s",
                    !o ? "optimiser" : !m ? "first moment" : "second moment");
  o->t = step;
  memcpy(o->m, m, o->n * sizeof(float));
  if (o->type->n_moments > 1)
    memcpy(o->v, v, o->n * sizeof(float));
  return SL_OK;
}

size_t sl_optim_num_moments(const sl_optim *o) { return o ? o->type->n_moments : 0; }
size_t sl_optim_num_params(const sl_optim *o) { return o ? o->n : 0; }
