/* spikeloop/dataset.h -- dense data sets in memory and in HDF5 files (lib/data/dataset.c).
 *
 * A data set is a dense float feature matrix x (n, dim) with integer labels
 * y (n). */
#ifndef SPIKELOOP_DATASET_H
#define SPIKELOOP_DATASET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  size_t n;         /* samples */
  size_t dim;       /* features per sample */
  size_t n_classes; /* labels are 0 .. n_classes-1 */
  float *x;         /* (n, dim), owned */
  int32_t *y;       /* (n), owned */
} sl_dataset;

/* Allocate a data set of n samples x dim features (zeroed). *d is
 * overwritten, not freed; on error it is left zeroed. */
int sl_dataset_alloc(sl_dataset *d, size_t n, size_t dim, size_t n_classes);
void sl_dataset_free(sl_dataset *d); /* safe on zeroed/freed struct */

/* Write /x float (n,dim) and /y int32 (n) (+ attribute n_classes on /).
 * Writes to a temporary name and renames, so a failed write leaves no file.
 * Errors: SL_EIO, SL_EINVAL (NULL arguments, labels outside [0, n_classes)),
 * SL_ENUMERIC (NaN/Inf feature): data that load would reject is not saved. */
int sl_dataset_save_h5(const sl_dataset *d, const char *path);
/* Read a file written by sl_dataset_save_h5 (*d overwritten, not freed;
 * zeroed on error). Without the n_classes attribute, n_classes = max(y) + 1.
 * Errors: SL_EIO (missing, unreadable, non-HDF5 or truncated file), SL_EFORMAT
 * (missing /x or /y, wrong rank or type, lengths differ, labels out of range),
 * SL_ENUMERIC. */
int sl_dataset_load_h5(sl_dataset *d, const char *path);

/* Copy samples [first, first+count) of d into *out (n = count, same dim and
 * n_classes). *out is overwritten, not freed, and zeroed on error. out may
 * be d itself: on success its old arrays are freed, on error it is left
 * unchanged. count 0 gives an empty set.
 * Errors: SL_EINVAL (NULL argument), SL_ERANGE (range beyond d->n),
 * SL_ENOMEM. */
int sl_dataset_split(const sl_dataset *d, size_t first, size_t count, sl_dataset *out);

#ifdef __cplusplus
}
#endif
#endif
