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

#ifdef __cplusplus
}
#endif
#endif
