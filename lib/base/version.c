/* version.c -- version strings and the thread count of the OpenMP kernels. */
#include "config.h"
#include "spikeloop/version.h"
#include "spikeloop/error.h"

#ifdef _OPENMP
#include <omp.h>
#endif

const char *sl_version(void) { return PACKAGE_VERSION; }

const char *sl_git_revision(void) { return SL_GIT_REVISION; }

int sl_get_num_threads(void)
{
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

int sl_set_num_threads(int n)
{
  if (n < 1)
    return sl_error(SL_EINVAL, "thread count %d must be >= 1", n);
#ifdef _OPENMP
  omp_set_num_threads(n);
  return SL_OK;
#else
  if (n != 1)
    return sl_error(SL_EUNSUPPORTED, "built without OpenMP: only 1 thread is available");
  return SL_OK;
#endif
}
