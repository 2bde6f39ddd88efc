/* spikeloop/pointnet.h -- PointNet++ with single-scale grouping for 3-D
 * point clouds, with semantic exits after its set-abstraction levels,
 * trained in full precision or ternary and deployed level by level on
 * compute-in-memory crossbars (Zhang et al., Sci. Adv. 2024; FACTS.md 5).
 *
 * A cloud is P points (x, y, z), point-major: P * 3 floats. A
 * set-abstraction (SA) level takes points xyz (P_in, 3) with features
 * (P_in, C_in) (none at the first level) and
 *  1. picks npoint centres by farthest point sampling (sl_fps),
 *  2. groups, for each centre, the first k points within `radius` in index
 *     order (sl_ball_query; missing slots repeat the first point found),
 *  3. gives each grouped point the row [xyz - centre, features] (3 + C_in),
 *  4. runs the shared MLP on every row: per layer a 1x1 convolution (a
 *     matrix product, the crossbar's MVM) - BN - ReLU,
 *  5. max-pools each group over its k rows: npoint points with C_out
 *     features, at the centres.
 * The last level is global: one group of every point around the origin
 * (npoint = 0 in its spec), whose pooled vector (C) feeds the FC head.
 * After every level but the last, the mean over the npoint pooled features
 * is that level's semantic feature (exit heads in training, class centres
 * on a CAM in inference), as the ResNet's blocks' (resnet.h).
 *
 * Loss, ternary training, statistics, deployment (BN folded, every matrix
 * product on crossbar tiles, ternary or full-precision mapping) and the
 * dynamic-inference view follow spikeloop/resnet.h; a deployed stage's
 * output per sample is its centres and features packed as [xyz (npoint,
 * 3) | features (npoint, C)] (the global level: its pooled vector).
 * Parameter order: per level, per MLP layer: w (C_in, C_out), gamma, beta;
 * then the level's exit prototypes (n_classes, C) but after the last; FC w
 * (C, n_classes), FC bias.
 *
 * Errors: SL_EINVAL (bad spec or arguments, naming the field), SL_ENUMERIC
 * (non-finite coordinates), SL_ENOMEM.
 */
#ifndef SPIKELOOP_POINTNET_H
#define SPIKELOOP_POINTNET_H

#include <stddef.h>
#include <stdint.h>

#include "spikeloop/dynexit.h"
#include "spikeloop/optim.h"
#include "spikeloop/resnet.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SL_POINTNET_MAX_LEVELS 4
#define SL_POINTNET_MAX_MLP 4

/* ------------------------------------------------------------ geometry */

/* Farthest point sampling of npoint of the P points xyz (P, 3): idx[0] =
 * 0, then each next index is the point farthest (Euclidean) from those
 * chosen so far (the lowest index on ties). npoint <= P. */
int sl_fps(size_t *idx, const float *xyz, size_t P, size_t npoint);
/* The plain definition (distances recomputed from scratch): the oracle. */
int sl_fps_ref(size_t *idx, const float *xyz, size_t P, size_t npoint);

/* Ball query: idx (npoint, k) receives, for each centre (npoint, 3), the
 * first k point indices in index order with |p - centre| <= radius;
 * missing slots repeat the first one found; a centre with no point within
 * the radius gets its nearest point. Returns in *found (npoint; may be
 * NULL) how many were within the radius (<= k). */
int sl_ball_query(size_t *idx, size_t *found, const float *xyz, size_t P, const float *centres,
                  size_t npoint, double radius, size_t k);

/* ------------------------------------------------------------ the network */

typedef struct {
  size_t npoint;                   /* centres; 0: the global level */
  double radius;                   /* ball query radius (unit-sphere clouds) */
  size_t k;                        /* points per group */
  size_t n_mlp;                    /* MLP layers, 1..SL_POINTNET_MAX_MLP */
  size_t mlp[SL_POINTNET_MAX_MLP]; /* their output channels */
} sl_sa_spec;

/* How a level's semantic feature pools its centres' pooled features. */
typedef enum { SL_POINTNET_POOL_MEAN = 0, SL_POINTNET_POOL_MAX = 1 } sl_pointnet_pool;

typedef struct {
  size_t n_points;  /* 512 */
  size_t n_classes; /* 10 */
  size_t n_levels;  /* 3 (2..SL_POINTNET_MAX_LEVELS; the last is global) */
  sl_sa_spec level[SL_POINTNET_MAX_LEVELS];
  /* 128 centres, radius 0.2, k 16, MLP 32-32-64; 32 centres, 0.4, 16,
   * 64-64-128; global, 128-256-512 */
  int ternary;             /* 0 */
  double ternary_t;        /* 0.7 */
  int ternary_prototypes;  /* 0 (as resnet.h) */
  double bn_eps;           /* 1e-5 */
  double bn_momentum;      /* 0.1 */
  double exit_weight;      /* 0.5 */
  double exit_scale;       /* 10 */
  sl_pointnet_pool exit_pool; /* SL_POINTNET_POOL_MEAN: a level's semantic feature is the
                                 mean over its centres (or, POOL_MAX, the maximum) */
} sl_pointnet_spec;

sl_pointnet_spec sl_pointnet_spec_default(void);

typedef struct sl_pointnet sl_pointnet;

int sl_pointnet_create(sl_pointnet **out, const sl_pointnet_spec *spec, uint64_t seed);
void sl_pointnet_free(sl_pointnet *p); /* NULL is a no-op */
const sl_pointnet_spec *sl_pointnet_get_spec(const sl_pointnet *p);
int sl_pointnet_set_ternary(sl_pointnet *p, int ternary);

size_t sl_pointnet_num_params(const sl_pointnet *p);
float *sl_pointnet_params(sl_pointnet *p);
float *sl_pointnet_grads(sl_pointnet *p);
void sl_pointnet_zero_grad(sl_pointnet *p);
size_t sl_pointnet_num_stats(const sl_pointnet *p);
float *sl_pointnet_stats(sl_pointnet *p);
int sl_pointnet_effective_params(sl_pointnet *p, float *out);

/* Output channels of level l; multiply-accumulates per cloud of level l
 * (its MLP) and of the head. */
size_t sl_pointnet_level_channels(const sl_pointnet *p, size_t l);
uint64_t sl_pointnet_level_macs(const sl_pointnet *p, size_t l);
uint64_t sl_pointnet_head_macs(const sl_pointnet *p);

/* Forward of B clouds x (B, n_points * 3); training as resnet.h. */
int sl_pointnet_forward(sl_pointnet *p, const float *x, size_t B, int training);
const float *sl_pointnet_logits(const sl_pointnet *p);
/* Level l's semantic feature (B, C_l) of the last forward. */
const float *sl_pointnet_features(const sl_pointnet *p, size_t l);
int sl_pointnet_loss(sl_pointnet *p, const int32_t *labels, double *loss, size_t *correct);
int sl_pointnet_backward(sl_pointnet *p);
int sl_pointnet_train_epoch(sl_pointnet *p, sl_optim *o, const float *x, const int32_t *y,
                            size_t n, size_t batch, uint64_t seed, double *loss,
                            double *accuracy);
int sl_pointnet_recalibrate(sl_pointnet *p, const float *x, size_t n, size_t batch);
int sl_pointnet_evaluate(sl_pointnet *p, const float *x, const int32_t *y, size_t n,
                         size_t batch, double *accuracy);

/* ------------------------------------------------------------ deployment */

typedef struct sl_pointnet_deployed sl_pointnet_deployed;

/* As sl_resnet_deploy (the same parameters and mappings). */
int sl_pointnet_deploy(sl_pointnet_deployed **out, sl_pointnet *p,
                       const sl_resnet_deploy_params *dp, const float *calib_x, size_t n_calib);
void sl_pointnet_deployed_free(sl_pointnet_deployed *d); /* NULL is a no-op */
int sl_pointnet_deployed_dyn(sl_pointnet_deployed *d, sl_dyn_net *out);
void sl_pointnet_deployed_counters(const sl_pointnet_deployed *d, sl_cim_counters *sum,
                                   double *energy_j);

#ifdef __cplusplus
}
#endif
#endif
