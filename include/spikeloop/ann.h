/* spikeloop/ann.h -- ANN layers for memristor CNNs (Yao et al., Nature 2020)
 * and the dynamic-exit networks: 2-D convolution, max and average pooling,
 * fully connected, ReLU, flatten. Each is a pair of plain kernels over flat
 * arrays (forward, backward) with a reference twin (*_ref, the naive loop
 * nest, the oracle of test/test_ann.c), in the manner of llm.c:
 *   - tensors are (B, C, H, W), row-major (NCHW); flatten of NCHW is the
 *     identity on memory, so a (B, C, H, W) tensor is also (B, C*H*W);
 *   - weights are stored as the matrix a crossbar holds, y = x W:
 *     a convolution's w is (C*kh*kw, K): row (c*kh + i)*kw + j is input
 *     channel c at kernel offset (i, j), column k is output channel k
 *     (im2col layout); a fully connected layer's w is (n_in, n_out);
 *   - backward *adds* into every gradient it is given (dinp, dw, db; any may
 *     be NULL to skip it); the caller zeroes them.
 * Any matrix product can run on CIM tiles instead: the *_cim forward
 * variants take an sl_cim programmed with w (same layout) and compute the
 * product by the noisy tiled MVM (a convolution as the im2col MVM: one
 * crossbar read per output pixel), then add the bias digitally.
 *
 * Errors: SL_EINVAL (NULL, zero sizes, kernel larger than the padded
 * input, stride 0), SL_ESHAPE (a crossbar of another size), SL_ENOMEM,
 * and the crossbar's own (SL_ENUMERIC for NaN/Inf inputs).
 */
#ifndef SPIKELOOP_ANN_H
#define SPIKELOOP_ANN_H

#include <stddef.h>
#include <stdint.h>

#include "spikeloop/cim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Convolution geometry: in (B, C, H, W) -> out (B, K, OH, OW) with
 * OH = (H + 2 pad - kh) / stride + 1 (likewise OW); zero padding. */
typedef struct {
  size_t B, C, H, W; /* input */
  size_t K;          /* output channels (kernels) */
  size_t kh, kw, stride, pad;
} sl_conv2d_shape;

/* Output height and width; 0 if the kernel does not fit. */
size_t sl_conv2d_out_h(const sl_conv2d_shape *s);
size_t sl_conv2d_out_w(const sl_conv2d_shape *s);

/* out (B,K,OH,OW) = conv(in, w) + bias (bias (K) may be NULL). */
int sl_conv2d_forward(float *out, const float *in, const float *w, const float *bias,
                      const sl_conv2d_shape *s);
int sl_conv2d_forward_ref(float *out, const float *in, const float *w, const float *bias,
                          const sl_conv2d_shape *s);
/* dinp (B,C,H,W) +=, dw (C*kh*kw, K) +=, db (K) += from dout (B,K,OH,OW). */
int sl_conv2d_backward(float *dinp, float *dw, float *db, const float *dout, const float *in,
                       const float *w, const sl_conv2d_shape *s);
int sl_conv2d_backward_ref(float *dinp, float *dw, float *db, const float *dout,
                           const float *in, const float *w, const sl_conv2d_shape *s);
/* The im2col rows of in: cols (B*OH*OW, C*kh*kw), row p = output pixel
 * (b*OH + oy)*OW + ox, the inputs a crossbar reads for it (0 in padding). */
int sl_conv2d_im2col(float *cols, const float *in, const sl_conv2d_shape *s);
/* The forward on a crossbar c of C*kh*kw x K (programmed with w): the
 * B*OH*OW im2col rows are MVM inputs. Errors: SL_ESHAPE, crossbar errors. */
int sl_conv2d_forward_cim(float *out, const float *in, sl_cim *c, const float *bias,
                          const sl_conv2d_shape *s);

/* Pooling over k x k windows with stride `stride`, no padding:
 * (B,C,H,W) -> (B,C,OH,OW), OH = (H - k) / stride + 1. */
typedef struct {
  size_t B, C, H, W, k, stride;
} sl_pool_shape;

size_t sl_pool_out_h(const sl_pool_shape *s);
size_t sl_pool_out_w(const sl_pool_shape *s);

/* Max pooling; argmax (B,C,OH,OW) receives the flat input index of each
 * maximum (first one on ties), for backward. */
int sl_maxpool_forward(float *out, size_t *argmax, const float *in, const sl_pool_shape *s);
int sl_maxpool_forward_ref(float *out, size_t *argmax, const float *in, const sl_pool_shape *s);
/* dinp (B,C,H,W) += dout routed to the maxima. */
int sl_maxpool_backward(float *dinp, const float *dout, const size_t *argmax,
                        const sl_pool_shape *s);
int sl_maxpool_backward_ref(float *dinp, const float *dout, const size_t *argmax,
                            const sl_pool_shape *s);
/* Average pooling (mean of each window). */
int sl_avgpool_forward(float *out, const float *in, const sl_pool_shape *s);
int sl_avgpool_forward_ref(float *out, const float *in, const sl_pool_shape *s);
int sl_avgpool_backward(float *dinp, const float *dout, const sl_pool_shape *s);
int sl_avgpool_backward_ref(float *dinp, const float *dout, const sl_pool_shape *s);

/* Fully connected: out (B, n_out) = in (B, n_in) w (n_in, n_out) + bias. */
int sl_fc_forward(float *out, const float *in, const float *w, const float *bias, size_t B,
                  size_t n_in, size_t n_out);
int sl_fc_forward_ref(float *out, const float *in, const float *w, const float *bias, size_t B,
                      size_t n_in, size_t n_out);
/* dinp (B, n_in) +=, dw (n_in, n_out) +=, db (n_out) +=. */
int sl_fc_backward(float *dinp, float *dw, float *db, const float *dout, const float *in,
                   const float *w, size_t B, size_t n_in, size_t n_out);
int sl_fc_backward_ref(float *dinp, float *dw, float *db, const float *dout, const float *in,
                       const float *w, size_t B, size_t n_in, size_t n_out);
/* The forward on a crossbar c of n_in x n_out. */
int sl_fc_forward_cim(float *out, const float *in, sl_cim *c, const float *bias, size_t B);

/* ReLU over n values (out may be in); backward: dinp += dout where in > 0. */
int sl_relu_forward(float *out, const float *in, size_t n);
int sl_relu_backward(float *dinp, const float *dout, const float *in, size_t n);

/* Flatten (B, C, H, W) -> (B, C*H*W): a copy (out may be in); backward
 * adds dout into dinp. Provided so that a network can name the step. */
int sl_flatten_forward(float *out, const float *in, size_t n);
int sl_flatten_backward(float *dinp, const float *dout, size_t n);

/* Softmax cross-entropy of logits (B, n) against labels: returns the mean
 * loss in *loss, adds dL/dlogits (mean over the batch) into dlogits if not
 * NULL, and counts correct argmax predictions in *correct if not NULL.
 * Errors: SL_EINVAL (label out of range), SL_ENUMERIC. */
int sl_softmax_xent(const float *logits, const int32_t *labels, size_t B, size_t n, double *loss,
                    float *dlogits, size_t *correct);

/* ------------------------------------------------------------ residual networks
 * The layers residual and dynamic-exit networks add (lib/cim/ann_blocks.c):
 * batch normalisation, global average pooling, the residual add and the
 * cosine head of a semantic exit. Same conventions: flat arrays, backward
 * adds into the gradients it is given (any may be NULL), a *_ref twin in
 * double precision for every kernel with arithmetic of its own. */

/* Batch normalisation of x (B, C, HW) per channel c over its B*HW values:
 *   y = gamma (x - mean) invstd + beta,  invstd = 1 / sqrt(var + eps),
 * mean and var (biased) from the batch. Caches for backward: xhat
 * (B, C, HW) = (x - mean) invstd, and invstd (C). mean (C) is returned too.
 * If running_mean / running_var (C) are not NULL they move towards the
 * batch's mean and unbiased variance:  r = (1 - momentum) r + momentum v.
 * Errors: SL_EINVAL (NULL, zero sizes, eps <= 0, momentum outside [0, 1]). */
int sl_batchnorm_forward_train(float *y, float *xhat, float *mean, float *invstd, const float *x,
                               const float *gamma, const float *beta, size_t B, size_t C,
                               size_t HW, double eps, float *running_mean, float *running_var,
                               double momentum);
int sl_batchnorm_forward_train_ref(float *y, float *xhat, float *mean, float *invstd,
                                   const float *x, const float *gamma, const float *beta,
                                   size_t B, size_t C, size_t HW, double eps,
                                   float *running_mean, float *running_var, double momentum);
/* Inference with running statistics: y = scale x + shift per channel, with
 * scale = gamma / sqrt(running_var + eps), shift = beta - scale running_mean
 * (sl_batchnorm_fold). y may be x. */
int sl_batchnorm_forward_infer(float *y, const float *x, const float *gamma, const float *beta,
                               const float *running_mean, const float *running_var, size_t B,
                               size_t C, size_t HW, double eps);
/* dx (B,C,HW) +=, dgamma (C) +=, dbeta (C) += from dy and the caches:
 *   dx = gamma invstd / N (N dy - sum dy - xhat sum(dy xhat)),  N = B HW. */
int sl_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                          const float *xhat, const float *gamma, const float *invstd, size_t B,
                          size_t C, size_t HW);
int sl_batchnorm_backward_ref(float *dx, float *dgamma, float *dbeta, const float *dy,
                              const float *xhat, const float *gamma, const float *invstd,
                              size_t B, size_t C, size_t HW);
/* The per-channel affine map of inference: scale (C), shift (C) as above;
 * a convolution or FC column k followed by the norm becomes
 * scale[k] (x w_k) + shift[k] (folded into its weights or its periphery). */
int sl_batchnorm_fold(float *scale, float *shift, const float *gamma, const float *beta,
                      const float *running_mean, const float *running_var, size_t C, double eps);

/* Global average pooling: out (B, C) = mean of in (B, C, HW) over HW;
 * backward: dinp += dout / HW. */
int sl_gap_forward(float *out, const float *in, size_t B, size_t C, size_t HW);
int sl_gap_forward_ref(float *out, const float *in, size_t B, size_t C, size_t HW);
int sl_gap_backward(float *dinp, const float *dout, size_t B, size_t C, size_t HW);

/* Residual add: out = a + b (n values; out may be a or b); backward adds
 * dout into da and db. */
int sl_add_forward(float *out, const float *a, const float *b, size_t n);
int sl_add_backward(float *da, float *db, const float *dout, size_t n);

/* Cosine head: logits (B, K) = scale cos(f_b - m, p_k) for features f
 * (B, D), a fixed offset m (D, may be NULL: 0) and prototypes p (K, D).
 * A zero vector has cosine 0 (and no gradient). Backward adds into df
 * (B, D) and dp (K, D). Errors: SL_EINVAL, SL_ENOMEM. */
int sl_cosine_forward(float *logits, const float *f, const float *m, const float *p, size_t B,
                      size_t D, size_t K, double scale);
int sl_cosine_forward_ref(float *logits, const float *f, const float *m, const float *p,
                          size_t B, size_t D, size_t K, double scale);
int sl_cosine_backward(float *df, float *dp, const float *dlogits, const float *f, const float *m,
                       const float *p, size_t B, size_t D, size_t K, double scale);
int sl_cosine_backward_ref(float *df, float *dp, const float *dlogits, const float *f,
                           const float *m, const float *p, size_t B, size_t D, size_t K,
                           double scale);

#ifdef __cplusplus
}
#endif
#endif
