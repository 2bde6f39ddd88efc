/* spikeloop/version.h -- library version and build information. */
#ifndef SPIKELOOP_VERSION_H
#define SPIKELOOP_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

/* "0.1.0" */
const char *sl_version(void);
/* git revision at configure time, or "unknown" */
const char *sl_git_revision(void);

/* Threads used by the OpenMP kernels (1 if built without OpenMP). */
int sl_get_num_threads(void);
/* Set the number of threads (>= 1). Errors: SL_EINVAL. Without OpenMP only
 * 1 is accepted (SL_EUNSUPPORTED otherwise). */
int sl_set_num_threads(int n);

#ifdef __cplusplus
}
#endif
#endif
