/* kernels.h (internal) -- matrix kernels shared by the layers.
 *
 * Row-major throughout. x is (R, K), W is (K, N). Each fast kernel has a
 * plain reference twin (*_ref), the oracle of the tests; with the same
 * inputs both produce bit-identical results, because the fast ones keep
 * the reference's summation order and only skip exact zeros of x
 * (spike rasters are mostly zeros).
 *
 * Internal symbols use the slk_ prefix: they are not exported from the
 * shared library (which exports ^sl_ only).
 */
#ifndef SL_KERNELS_H
#define SL_KERNELS_H

#include <stddef.h>

/* y (R, N) = x (R, K) @ W (K, N)   (overwrites y) */
void slk_matmul(float *y, const float *x, const float *w, size_t R, size_t K, size_t N);
void slk_matmul_ref(float *y, const float *x, const float *w, size_t R, size_t K, size_t N);

/* dw (K, N) += x^T (K, R) @ g (R, N) */
void slk_matmul_tn_acc(float *dw, const float *x, const float *g, size_t R, size_t K, size_t N);
void slk_matmul_tn_acc_ref(float *dw, const float *x, const float *g, size_t R, size_t K, size_t N);

/* gx (R, K) = g (R, N) @ W^T (N, K)   (overwrites gx) */
void slk_matmul_nt(float *gx, const float *g, const float *w, size_t R, size_t K, size_t N);
void slk_matmul_nt_ref(float *gx, const float *g, const float *w, size_t R, size_t K, size_t N);

/* 1 if every one of n values is finite. */
int slk_all_finite(const float *a, size_t n);

#endif
