/* pointnet_internal.h (internal) -- the layout of an sl_pointnet, shared by
 * pointnet.c (geometry, training) and pointnet_deploy.c.
 */
#ifndef SL_POINTNET_INTERNAL_H
#define SL_POINTNET_INTERNAL_H

#include "spikeloop/pointnet.h"
#include "units.h"

#define SLP_MAX_TENSORS (SL_POINTNET_MAX_LEVELS * SL_POINTNET_MAX_MLP + 1)

/* One set-abstraction level and its buffers for batches up to cap. */
typedef struct {
  sl_sa_spec sp;
  int global;
  size_t pin, cin;  /* points and feature channels in */
  size_t np, k;     /* groups (1 if global) and rows per group */
  size_t cout;      /* channels out (the last MLP layer's) */
  slu_unit mlp[SL_POINTNET_MAX_MLP];
  int is_exit;
  size_t proto, offset; /* exit prototypes (params), offset (stats) */
  size_t *gidx;     /* (B, np, k): the input point of each row */
  float *cxyz;      /* (B, np, 3): the centres */
  float *rows;      /* (B np k, 3 + cin): grouped rows */
  float *act[SL_POINTNET_MAX_MLP]; /* ReLU outputs (B np k, mlp[j]) */
  int feat_max;     /* the spec's exit_pool is SL_POINTNET_POOL_MAX */
  uint32_t *amax;   /* (B np, cout): the row of each group's maximum */
  uint32_t *fmax;   /* (B, cout): with feat_max, the group of each maximum */
  float *pooled;    /* (B, np, cout) */
  float *feat;      /* (B, cout): mean (or max) of pooled over np */
  float *exit_logits, *dexit;
  float *dpooled, *dfeat;
} slp_level;

struct sl_pointnet {
  sl_pointnet_spec spec;
  slp_level lv[SL_POINTNET_MAX_LEVELS];
  size_t fc_w, fc_b, n_params, n_stats;
  float *params, *grads, *stats, *eff;
  float alpha[SLP_MAX_TENSORS];
  size_t cap, batch;
  int trained_forward, have_loss;
  const float *x;
  float *scratch, *dscratch; /* >= the largest unit output of a batch */
  float *dbuf[2];            /* row gradients, ping-pong */
  float *logits, *dlogits;
};

/* Group a batch at level l: centres, group indices and rows, from the
 * level's input points (B, pin, 3) and features (B, pin, cin; NULL at the
 * first level). Buffers are the level's own (capacity >= B). */
int slp_group(slp_level *L, const float *xyz, const float *feat, size_t B);
/* Max-pool level l's last activations (B np k, cout) over each group into
 * pooled and amax; then feat = mean of pooled over the groups (with
 * feat_max: their maximum, the group of each in fmax). */
void slp_pool(slp_level *L, const float *act, size_t B);
int slp_effective(sl_pointnet *p);

#endif
