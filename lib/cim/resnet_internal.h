/* resnet_internal.h (internal) -- the layout of an sl_resnet, shared by
 * resnet.c (training) and resnet_deploy.c (folding and crossbars).
 */
#ifndef SL_RESNET_INTERNAL_H
#define SL_RESNET_INTERNAL_H

#include "spikeloop/ann.h"
#include "spikeloop/resnet.h"

/* units: stem + 3 per block; tensors: units + FC */
#define SLR_MAX_UNITS (1 + 3 * SL_RESNET_MAX_BLOCKS)
#define SLR_MAX_TENSORS (SLR_MAX_UNITS + 1)

/* A convolution and the batch norm after it. */
typedef struct {
  sl_conv2d_shape s;        /* B set per call */
  size_t oh, ow, n_w;
  size_t w, gamma, beta;    /* offsets into params */
  size_t rmean, rvar;       /* offsets into stats */
  float *y;                 /* BN output (B, K, oh, ow) */
  float *xhat, *mean, *invstd; /* BN caches of a training forward */
} slr_unit;

typedef struct {
  slr_unit c1, c2, proj;
  int has_proj, is_exit;
  size_t cin, hin, win; /* input */
  size_t c, h, w;       /* output */
  size_t proto;         /* params offset of the exit prototypes (n_classes, c) */
  size_t offset;        /* stats offset of the exit offset m (c) */
  float *r1;            /* ReLU(BN1) (B, c, h, w) */
  float *out;           /* the block's output */
  float *feat;          /* pooled (B, c) */
  float *exit_logits, *dexit;
  float *dout, *dr1, *dfeat; /* gradients */
} slr_block;

struct sl_resnet {
  sl_resnet_spec spec;
  slr_unit stem;
  slr_block blocks[SL_RESNET_MAX_BLOCKS];
  slr_unit *units[SLR_MAX_UNITS]; /* stem, then c1, c2, [proj] of each block */
  size_t n_units;
  size_t fc_w, fc_b;
  size_t n_params, n_stats;
  float *params, *grads, *stats;
  float *eff;                     /* effective (ternarised) params of the last forward */
  float alpha[SLR_MAX_TENSORS];   /* ternary magnitude per weight tensor (units, then FC) */
  /* buffers for batches up to cap */
  size_t cap, batch;
  int trained_forward, have_loss;
  const float *x; /* input of the last forward */
  float *h0, *dh0; /* stem output and its gradient */
  float *scratch, *dscratch;
  float *logits, *dlogits;
};

/* r->eff and r->alpha from r->params (ternarised when spec.ternary). */
int slr_effective(sl_resnet *r);

#endif
