/* units.h (internal) -- the pieces the dynamic-exit networks (resnet.c,
 * pointnet.c) are built from, written once:
 *  - training: a "unit" is a convolution without bias followed by batch
 *    norm, over a network's flat parameter, gradient and statistics blocks
 *    (a per-point layer of PointNet++ is a 1x1 convolution on (rows, C,
 *    1, 1)); an exit head (cosine to prototypes with a running-mean
 *    offset); the effective (ternarised) parameters;
 *  - deployment: a matrix layer y_k = gain_k (x w_k) + shift_k with the BN
 *    folded, exact in float or on an sl_cim, calibrated on its first batch.
 * Shapes and conventions are those of spikeloop/ann.h.
 */
#ifndef SL_CIM_UNITS_H
#define SL_CIM_UNITS_H

#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"
#include "spikeloop/ann.h"
#include "spikeloop/cim.h"
#include "spikeloop/dynexit.h"
#include "spikeloop/optim.h"
#include "spikeloop/resnet.h" /* sl_resnet_deploy_params: the deploy parameters of both families */

/* ------------------------------------------------------------ training */

/* What units read and write: the network's blocks and scratch space. */
typedef struct {
  const float *eff; /* the parameters the forward pass uses */
  float *grads;     /* gradients of the (latent) parameters */
  float *stats;     /* running statistics */
  float *scratch, *dscratch; /* >= the largest unit output of a batch */
  double eps, momentum;      /* batch norm */
} slu_ctx;

/* A convolution followed by batch norm. */
typedef struct {
  sl_conv2d_shape s;            /* B set per call */
  size_t oh, ow, n_w;
  size_t w, gamma, beta;        /* offsets into the parameters */
  size_t rmean, rvar;           /* offsets into the statistics */
  float *y;                     /* BN output (B, K, oh, ow) */
  float *xhat, *mean, *invstd;  /* BN caches of a training forward */
} slu_unit;

/* Lay out a unit reading (C, H, W) with K kernels k x k (padding k / 2):
 * its parameters at *np and statistics at *ns, both advanced. */
void slu_unit_layout(slu_unit *u, size_t C, size_t H, size_t W, size_t K, size_t k,
                     size_t stride, size_t *np, size_t *ns);
/* Output floats per sample, and multiply-accumulates per sample. */
size_t slu_unit_out(const slu_unit *u);
uint64_t slu_unit_macs(const slu_unit *u);
/* He-normal weights, gamma 1, beta 0, running mean 0 and variance 1. */
void slu_unit_init(const slu_unit *u, float *params, float *stats, sl_rng_state *g);
/* Caches for batches of B samples; free. */
int slu_unit_alloc(slu_unit *u, size_t B);
void slu_unit_free(slu_unit *u);
/* conv(in) -> BN into u->y; training: batch statistics (running ones
 * updated), else running statistics. */
int slu_unit_forward(const slu_ctx *c, slu_unit *u, const float *in, size_t B, int training);
/* From dy (the BN output's gradient, unchanged): din += (may be NULL), the
 * unit's gradients +=. The weights' gradient goes straight to the latent
 * ones (ternary training). */
int slu_unit_backward(const slu_ctx *c, const slu_unit *u, const float *dy, const float *in,
                      float *din, size_t B);

/* g *= (a > 0): a ReLU's backward in place, a its output. */
void slu_relu_mask(float *g, const float *a, size_t n);

/* An exit head: logits (B, K) = scale cos(feat - m, p_k), prototypes p at
 * params offset `proto` (K, C), offset m at stats offset `offset` (C),
 * taken as it was before this batch; training then moves m towards the
 * batch's mean feature (momentum). */
int slu_exit_forward(const slu_ctx *c, size_t proto, size_t offset, const float *feat, size_t B,
                     size_t C, size_t K, double scale, float *logits, int training);
/* dfeat += (zeroed by the caller or not), prototype gradients +=. */
int slu_exit_backward(const slu_ctx *c, size_t proto, size_t offset, const float *feat,
                      const float *dlogits, size_t B, size_t C, size_t K, double scale,
                      float *dfeat);

/* Effective parameters: eff = params, then (ternary) every weight tensor t
 * (offset off[t], n[t] values) ternarised with its magnitude in alpha[t],
 * and (ternary_protos) every prototype row (offsets proto[e] + k dim[e],
 * dim[e] values, k < n_classes) replaced by its ternary codes. */
typedef struct {
  size_t nt;
  const size_t *off, *n;
  float *alpha;
  size_t ne;
  const size_t *proto, *dim;
  size_t n_classes;
} slu_tensors;

int slu_effective(float *eff, const float *params, size_t n_params, const slu_tensors *t,
                  int ternary, int ternary_protos, double ternary_t);

/* ------------------------------------------------------------ deployment */

/* How a network is deployed (mirrors the public deploy parameters). */
typedef struct {
  int on_cim;
  int ternary;         /* the ternary mapping: codes on 2-level devices */
  sl_cim_params device;
  double adc_margin;
  double ternary_t;
  int chip_bn;         /* re-estimate the folded BNs on the chip (slu_layer_apply) */
} slu_deploy;

/* Check deployment parameters p of a network (trained ternary or not, whose
 * ternary threshold is ternary_t; set_ternary names the call that makes it
 * ternary) with its calibration batch, and fill *how. Errors name `who`:
 * SL_EINVAL (unknown mapping, ternary mapping of a float network, crossbars
 * without a calibration batch, adc_margin < 1), sl_cim_params_check's. */
int slu_deploy_setup(const char *who, const sl_resnet_deploy_params *p, int ternary,
                     double ternary_t, const char *set_ternary, const float *calib_x,
                     size_t n_calib, slu_deploy *how);

/* What slu_layer_apply does besides computing. */
enum {
  SLU_RUN = 0,       /* the crossbar if there is one, else exact */
  SLU_CALIBRATE = 1, /* exact; a crossbar not made yet is made from this batch */
  SLU_MEASURE_BN = 2 /* the crossbar; a layer with a BN sets its gain and shift from the
                        mean and variance of the crossbar's outputs on this batch */
};

/* One matrix layer: a convolution (or, as a 1x1 convolution on (B, C, 1,
 * 1), a row layer), its BN folded into a per-column gain and shift. */
typedef struct {
  sl_conv2d_shape s;   /* B set per call */
  size_t n_in, n_out;
  float *w;            /* (n_in, n_out): what the crossbar holds */
  float *gain, *shift; /* (n_out) */
  sl_cim *cim;         /* NULL: exact float */
  unsigned index;      /* its noise seed offset */
  float *gamma, *beta; /* the BN it folds (NULL: none), for SLU_MEASURE_BN */
  double eps;
  float alpha;         /* the ternary magnitude in the gain (1 otherwise) */
} slu_layer;

/* The layer of weights w_eff (the latent ones w_latent give the ternary
 * codes), with column scale and shift (e.g. a folded BN; scale NULL: 1). */
int slu_layer_make(slu_layer *L, const slu_deploy *d, const sl_conv2d_shape *s,
                   const float *w_eff, const float *w_latent, const float *scale,
                   const float *shift, unsigned index);
/* The layer of a unit: its BN folded from the running statistics. */
int slu_layer_from_unit(slu_layer *L, const slu_deploy *d, const slu_unit *u, const float *eff,
                        const float *params, const float *stats, double eps, unsigned index);
/* out = gain (in * w) + shift, for B samples, in `mode` (SLU_*): on the
 * crossbar, or exact (no crossbar, or SLU_CALIBRATE: then a crossbar that
 * does not exist yet is created from this batch: DAC full scale = its
 * largest |input|, programmed, ADC range from its im2col rows). */
int slu_layer_apply(slu_layer *L, const slu_deploy *d, int mode, const float *in, size_t B,
                    float *out);
void slu_layer_free(slu_layer *L);
/* Multiply-accumulates per sample. */
double slu_layer_macs(const slu_layer *L);
/* Counters of n layers added into *sum (not reset), energy (J) into *e. */
void slu_layers_counters(const slu_layer *const *L, size_t n, sl_cim_counters *sum, double *e);
void slu_layers_counters_reset(const slu_layer *const *L, size_t n);

/* One training step of a network family on a batch of B samples: forward,
 * loss (its sum over the batch is *loss times B; *hits right answers),
 * backward and the optimiser's step. */
typedef int (*slu_step_fn)(void *net, sl_optim *o, const float *x, const int32_t *y, size_t B,
                           double *loss, size_t *hits);

/* One epoch of n samples (x rows of dim floats) in shuffled mini-batches of
 * batch (n, batch > 0): the order is a pure function of seed (Fisher-Yates
 * on stream sl_seed_mix(seed, 0xe90c)). Mean loss and accuracy into *loss,
 * *accuracy (either may be NULL). `who` prefixes the out-of-memory error. */
int slu_train_epoch(const char *who, void *net, sl_optim *o, slu_step_fn step, const float *x,
                    const int32_t *y, size_t n, size_t dim, size_t batch, uint64_t seed,
                    double *loss, double *accuracy);

/* The samples of a batch of B whose largest logit (B x nc, the first of
 * ties) is their label y. */
size_t slu_count_hits(const float *logits, const int32_t *y, size_t B, size_t nc);

/* Run n samples x through every stage and the head of net (in batches),
 * discarding the results: with the network in its calibrating mode this
 * creates and calibrates every crossbar on ideal activations. */
int slu_calibration_pass(const sl_dyn_net *net, const float *x, size_t n);

#endif
