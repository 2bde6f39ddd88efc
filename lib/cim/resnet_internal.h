/* resnet_internal.h (internal) -- the layout of an sl_resnet, shared by
 * resnet.c (training) and resnet_deploy.c (folding and crossbars).
 */
#ifndef SL_RESNET_INTERNAL_H
#define SL_RESNET_INTERNAL_H

#include "spikeloop/ann.h"
#include "spikeloop/resnet.h"
#include "units.h"

/* units: stem + 3 per block; tensors: units + FC */
#define SLR_MAX_UNITS (1 + 3 * SL_RESNET_MAX_BLOCKS)
#define SLR_MAX_TENSORS (SLR_MAX_UNITS + 1)

typedef struct {
  slu_unit c1, c2, proj;
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
  slu_unit stem;
  slr_block blocks[SL_RESNET_MAX_BLOCKS];
  slu_unit *units[SLR_MAX_UNITS]; /* stem, then c1, c2, [proj] of each block */
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
/* The unit context of r (its blocks and scratch). */
slu_ctx slr_ctx(sl_resnet *r);

#endif
