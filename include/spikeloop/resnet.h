/* spikeloop/resnet.h -- a residual network for small images with semantic
 * exits, trained in full precision or ternary (quantisation-aware), and
 * deployed block by block on compute-in-memory crossbars (Zhang et al.,
 * Sci. Adv. 2024; FACTS.md 5).
 *
 * Architecture (x: (B, in_c, in_h, in_w), NCHW):
 *   stem:    conv 3x3 (in_c -> stem_c, stride stem_stride, pad 1) - BN - ReLU
 *   block b: conv 3x3 (stride block_stride[b]) - BN - ReLU - conv 3x3 - BN,
 *            plus the skip (identity, or conv 1x1 with that stride - BN when
 *            the shape changes), then ReLU: the block's output; its global
 *            average pool is the block's feature f_b (B, block_c[b]).
 *   head:    FC (block_c[last] -> n_classes) with bias on the last feature.
 * Convolutions have no bias (the BN that follows has one).
 *
 * Exits: after every block but the last, the pooled feature is compared
 * with class centres (spikeloop/semantic.h). Training makes those features
 * separable by cosine: each exit has a cosine head (ann.h sl_cosine_*,
 * learnable prototypes p_b (n_classes, C_b), offset m_b = running mean of
 * f_b) whose cross-entropy enters the loss with weight exit_weight:
 *   L = CE(head) + exit_weight sum_b CE(exit_scale cos(f_b - m_b, p_b)).
 * The prototypes only shape the features; inference uses the class means.
 *
 * Ternary training (spec.ternary or sl_resnet_set_ternary): every
 * convolution and the FC use q = ternary(w) per layer (spikeloop/ternary.h)
 * in the forward pass, and each exit prototype its ternary codes (what a
 * ternary CAM holds; ternary_prototypes); the gradient goes straight
 * through to the floats.
 *
 * Parameters are one flat block (sl_resnet_params; the optimiser steps it
 * whole), in this order: stem conv w, stem BN gamma, beta; per block: conv1
 * w, BN1 gamma, beta, conv2 w, BN2 gamma, beta, [projection w, BN gamma,
 * beta], [exit prototypes]; FC w (C_last, n_classes), FC bias. Weights are
 * in the crossbar layout of ann.h. Statistics (BN running mean and variance
 * per norm, the exit offsets m_b) are a second flat block, not trained.
 *
 * Errors: SL_EINVAL (bad spec or arguments; the message names the field),
 * SL_ESHAPE (a batch larger than the input given), SL_ENUMERIC, SL_ENOMEM.
 */
#ifndef SPIKELOOP_RESNET_H
#define SPIKELOOP_RESNET_H

#include <stddef.h>
#include <stdint.h>

#include "spikeloop/cim.h"
#include "spikeloop/dynexit.h"
#include "spikeloop/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SL_RESNET_MAX_BLOCKS 8

typedef struct {
  size_t in_c, in_h, in_w;                   /* 1, 28, 28 */
  size_t n_classes;                          /* 10 */
  size_t stem_c;                             /* 16 */
  size_t stem_stride;                        /* 2 (1 or 2) */
  size_t n_blocks;                           /* 4 (1..SL_RESNET_MAX_BLOCKS) */
  size_t block_c[SL_RESNET_MAX_BLOCKS];      /* 32, 32, 64, 64 */
  size_t block_stride[SL_RESNET_MAX_BLOCKS]; /* 2, 1, 2, 1 (1 or 2) */
  int ternary;                               /* 0: full precision; 1: ternary weights */
  double ternary_t;                          /* 0.7 (SL_TERNARY_T) */
  int ternary_prototypes;                    /* 1: ternary training uses the prototypes'
                                                ternary codes too (0: float prototypes) */
  double bn_eps;                             /* 1e-5 */
  double bn_momentum;                        /* 0.1: running statistics and exit offsets */
  double exit_weight;                        /* 0.5 */
  double exit_scale;                         /* 10 */
} sl_resnet_spec;

sl_resnet_spec sl_resnet_spec_default(void);

typedef struct sl_resnet sl_resnet;

/* A network with He-normal weights (seeded), BN gamma 1 and beta 0, unit
 * normal prototypes, running means 0 and variances 1. */
int sl_resnet_create(sl_resnet **out, const sl_resnet_spec *spec, uint64_t seed);
void sl_resnet_free(sl_resnet *r); /* NULL is a no-op */

const sl_resnet_spec *sl_resnet_get_spec(const sl_resnet *r);
/* Switch ternary training on or off (fine-tuning a float network). */
int sl_resnet_set_ternary(sl_resnet *r, int ternary);

size_t sl_resnet_num_params(const sl_resnet *r);
float *sl_resnet_params(sl_resnet *r);
float *sl_resnet_grads(sl_resnet *r);
void sl_resnet_zero_grad(sl_resnet *r);
size_t sl_resnet_num_stats(const sl_resnet *r);
float *sl_resnet_stats(sl_resnet *r);
/* The parameters the forward pass uses (n_params): a copy of the params
 * with every weight tensor ternarised when ternary is on. */
int sl_resnet_effective_params(sl_resnet *r, float *out);

/* Geometry of block b's output: channels, height, width. */
void sl_resnet_block_shape(const sl_resnet *r, size_t b, size_t *c, size_t *h, size_t *w);
/* Multiply-accumulates per sample: of block b (block 0 includes the stem),
 * of the FC head, and of the whole network. */
uint64_t sl_resnet_block_macs(const sl_resnet *r, size_t b);
uint64_t sl_resnet_head_macs(const sl_resnet *r);
uint64_t sl_resnet_total_macs(const sl_resnet *r);

/* Forward pass of B samples x (B, in_c*in_h*in_w). training 1: batch
 * statistics, running statistics and exit offsets updated (momentum), the
 * caches for backward kept; 0: running statistics (the unfolded inference
 * of the float network). */
int sl_resnet_forward(sl_resnet *r, const float *x, size_t B, int training);
/* After a forward: logits (B, n_classes), block b's pooled feature
 * (B, C_b), exit e's cosine logits (B, n_classes; e < n_blocks - 1). */
const float *sl_resnet_logits(const sl_resnet *r);
const float *sl_resnet_features(const sl_resnet *r, size_t b);
const float *sl_resnet_exit_logits(const sl_resnet *r, size_t e);

/* After a training forward: the loss above (mean over the batch) and the
 * head's correct predictions; keeps dL/dlogits for backward. */
int sl_resnet_loss(sl_resnet *r, const int32_t *labels, double *loss, size_t *correct);
/* Gradients of that loss, added into sl_resnet_grads. */
int sl_resnet_backward(sl_resnet *r);

/* One epoch of minibatch training over x (n, in_dim), labels y: shuffled
 * by `seed`, each batch forward (training) - loss - backward - o's step;
 * a last partial batch is used too. Mean loss and accuracy (may be NULL). */
int sl_resnet_train_epoch(sl_resnet *r, sl_optim *o, const float *x, const int32_t *y, size_t n,
                          size_t batch, uint64_t seed, double *loss, double *accuracy);
/* Re-estimate the running statistics (every BN's mean and variance, the
 * exit offsets) of the current weights from n samples: a training-mode
 * forward per batch, each batch weighted equally (the cumulative average
 * of the batch statistics). Training averages them over weights that were
 * still moving; after ternary training that lag costs accuracy. Parameters
 * and gradients are not touched. */
int sl_resnet_recalibrate(sl_resnet *r, const float *x, size_t n, size_t batch);

/* Accuracy of the head in inference mode over n samples. */
int sl_resnet_evaluate(sl_resnet *r, const float *x, const int32_t *y, size_t n, size_t batch,
                       double *accuracy);

/* ------------------------------------------------------------ deployment
 * The trained network for inference, block by block: every BN folded into
 * the matrix layer before it (sl_batchnorm_fold): column k computes
 * gain[k] (x w_k) + shift[k], the crossbar the product, its periphery the
 * gain and shift (digitally, per output channel); every matrix product
 * either exact in float or on CIM tiles (spikeloop/cim.h). Mappings:
 *  - SL_RESNET_MAP_FP: the crossbar holds the effective weights (as many
 *    levels as device.levels; w_max = max |w| of the layer unless set);
 *    gain = the BN scale.
 *  - SL_RESNET_MAP_TERNARY: the crossbar holds the ternary codes {-1, 0, 1}
 *    on 2-level devices (device.levels is set to 2, w_max 1); gain = alpha
 *    times the BN scale.
 * Both keep the BN scale out of the devices, so the two mappings differ
 * only in what the devices hold.
 * Inputs enter through the DAC with x_max = the largest input the layer saw
 * on the calibration batch; every ADC range is calibrated on that batch
 * (sl_cim_calibrate_adc, adc_margin). Each matrix layer has its own noise
 * seed (device.noise_seed + its index). */
typedef enum { SL_RESNET_MAP_TERNARY = 0, SL_RESNET_MAP_FP = 1 } sl_resnet_mapping;

typedef struct {
  int on_cim;              /* 0: exact float (folded); 1: crossbar tiles */
  sl_resnet_mapping mapping;
  sl_cim_params device;    /* sl_cim_params_default() with DAC one 8-bit level */
  double adc_margin;       /* 1.25 */
  int chip_bn;             /* 0; 1: after programming, every folded BN's gain and shift
                              are re-estimated from the chip's own outputs on the
                              calibration batch (the mean and variance its columns
                              really produce, programming errors included) */
} sl_resnet_deploy_params;

sl_resnet_deploy_params sl_resnet_deploy_params_default(void);

typedef struct sl_resnet_deployed sl_resnet_deployed;

/* Fold and (on_cim) program every layer, calibrating the DACs and ADCs on
 * the n_calib samples calib_x (ignored for float). The ternary mapping
 * needs a network in ternary mode. */
int sl_resnet_deploy(sl_resnet_deployed **out, sl_resnet *r, const sl_resnet_deploy_params *p,
                     const float *calib_x, size_t n_calib);
void sl_resnet_deployed_free(sl_resnet_deployed *d); /* NULL is a no-op */

/* Run stage s (= block s; stage 0 includes the stem) on B samples: in is
 * the network input (s = 0) or stage s-1's out; out (B, C_s H_s W_s) and
 * feat (B, C_s), the pooled feature (feat may be NULL). */
int sl_resnet_deployed_stage(sl_resnet_deployed *d, size_t s, const float *in, size_t B,
                             float *out, float *feat);
/* The FC head on the last stage's features: logits (B, n_classes). */
int sl_resnet_deployed_head(sl_resnet_deployed *d, const float *feat, size_t B, float *logits);
/* Counters summed over every crossbar (zero for float) and their energy. */
void sl_resnet_deployed_counters(const sl_resnet_deployed *d, sl_cim_counters *sum,
                                 double *energy_j);
void sl_resnet_deployed_counters_reset(sl_resnet_deployed *d);
/* The deployed network as dynamic inference sees it (its stages, head and
 * MACs); valid while d lives. */
int sl_resnet_deployed_dyn(sl_resnet_deployed *d, sl_dyn_net *out);

#ifdef __cplusplus
}
#endif
#endif
