/* mpi.c -- the only module that talks to MPI (spikeloop/dist.h). Without
 * HAVE_MPI every function describes a single process. */
#include "config.h"
#include "spikeloop/dist.h"
#include "spikeloop/error.h"

#ifdef HAVE_MPI
#include <limits.h>
#include <mpi.h>

/* MPI is usable: initialised by the application and not yet finalised. */
static int active(void)
{
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  if (!init)
    return 0;
  MPI_Finalized(&fin);
  return !fin;
}

int sl_dist_available(void) { return 1; }

int sl_dist_size(void)
{
  int n = 1;
  if (active())
    MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

int sl_dist_rank(void)
{
  int r = 0;
  if (active())
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

static int sum(void *buf, size_t n, size_t elem, MPI_Datatype type)
{
  if (!active() || sl_dist_size() == 1 || n == 0)
    return SL_OK;
  char *p = buf;
  while (n > 0) {
    int chunk = n > (size_t)INT_MAX ? INT_MAX : (int)n;
    if (MPI_Allreduce(MPI_IN_PLACE, p, chunk, type, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
      return sl_error(SL_EIO, "MPI_Allreduce failed");
    p += (size_t)chunk * elem;
    n -= (size_t)chunk;
  }
  return SL_OK;
}

int sl_dist_sum_float(float *buf, size_t n) { return sum(buf, n, sizeof *buf, MPI_FLOAT); }
int sl_dist_sum_double(double *buf, size_t n) { return sum(buf, n, sizeof *buf, MPI_DOUBLE); }

int sl_dist_any(int flag)
{
  int v = flag != 0;
  if (active() && sl_dist_size() > 1)
    MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD);
  return v;
}

#else /* single process */

int sl_dist_available(void) { return 0; }
int sl_dist_size(void) { return 1; }
int sl_dist_rank(void) { return 0; }
int sl_dist_sum_float(float *buf, size_t n) { (void)buf, (void)n; return SL_OK; }
int sl_dist_sum_double(double *buf, size_t n) { (void)buf, (void)n; return SL_OK; }
int sl_dist_any(int flag) { return flag != 0; }

#endif
