/* spikeloop/dist.h -- data-parallel training over MPI.
 *
 * Built with ./configure --with-mpi, the library trains data-parallel when
 * the application has initialised MPI (MPI_Init) before training: every
 * rank computes the gradients of its slice of each global batch, they are
 * averaged with MPI_Allreduce and every rank applies the same update. The
 * library never calls MPI_Init or MPI_Finalize itself. Without MPI (or
 * before MPI_Init / after MPI_Finalize) these functions describe a single
 * process: size 1, rank 0, reductions are no-ops.
 */
#ifndef SPIKELOOP_DIST_H
#define SPIKELOOP_DIST_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if the library was built with MPI. */
int sl_dist_available(void);
/* Number of ranks of MPI_COMM_WORLD (1 without MPI). */
int sl_dist_size(void);
/* This process's rank (0 without MPI). */
int sl_dist_rank(void);
/* Sum buf[0..n) over all ranks, in place. Errors: SL_EIO (MPI failed). */
int sl_dist_sum_float(float *buf, size_t n);
int sl_dist_sum_double(double *buf, size_t n);
/* 1 if flag is nonzero on any rank (collective; flag itself without MPI). */
int sl_dist_any(int flag);

#ifdef __cplusplus
}
#endif
#endif
