/* spikeloop/shd.h -- the Spiking Heidelberg Digits (SHD) HDF5 layout
 * (lib/data/shd.c): loading, binning to the simulation grid, channel
 * subsampling and channel-jitter augmentation.
 *
 * The file (Cramer, Stradmann, Schemmel, Zenke 2020; FACTS.md section 3):
 *   /spikes/times  (N) variable-length float arrays (float16, float32 or
 *                  float64), spike times in seconds, >= 0
 *   /spikes/units  (N) variable-length integer arrays, channel ids
 *                  0 .. n_channels-1 (700), times[i] and units[i] of equal length
 *   /labels        (N) integers 0 .. n_classes-1 (20)
 *   /extra/...     ignored
 *
 * A loaded sample is a dense raster stored as one feature row of a
 * sl_dataset: x[i] is (t_steps, n_kept) time-major, the number of spikes of
 * kept channel c in bin t = floor(time / dt) (times at or after
 * t_steps*dt are dropped). The encoder kind "raster" (encode.h) turns such
 * rows into the (T, B, n_kept) input of a network.
 */
#ifndef SPIKELOOP_SHD_H
#define SPIKELOOP_SHD_H

#include <stddef.h>
#include <stdint.h>

#include "spikeloop/dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  size_t t_steps;    /* bins (T) */
  double dt;         /* bin width, s */
  size_t n_channels; /* channel ids in the file: 0 .. n_channels-1 (700) */
  size_t n_classes;  /* labels: 0 .. n_classes-1 (20) */
  /* Kept channels: ch_first + k*ch_step, k = 0 .. ch_count-1 (Cramer et al.
   * 2022: every 9th of the 700 after the first 70, i.e. 70, 9, 70). */
  size_t ch_first, ch_step, ch_count;
  size_t first, count; /* samples [first, first+count) of the file; count 0: all from first */
  /* Augmentation: `copies` extra copies of every sample, each with all its
   * channel ids shifted by one integer drawn uniformly from
   * [-jitter, jitter] (ids that leave 0 .. n_channels-1 are dropped) before
   * subsampling; the draw of copy j of file sample i is fixed by
   * (seed, i, j). Copies follow the originals: rows 0 .. n-1 are the
   * samples, then copy 1 of each, ... 0 copies: none. */
  size_t copies;
  long jitter;
  uint64_t seed;
} sl_shd_options;

/* T 100, dt 10 ms, 700 channels, 20 classes, channels 70 + 9k (70 of
 * them), every sample, no augmentation (jitter 0, seed 1). */
sl_shd_options sl_shd_options_default(void);

/* Load samples of the SHD file at path into *d (overwritten, not freed;
 * zeroed on error): n = kept samples x (1 + copies), dim = t_steps x
 * ch_count, n_classes from the options.
 * Errors (each message names the file and the dataset, and the sample and
 * element at fault): SL_EINVAL (options: zero sizes, dt, kept channels
 * beyond n_channels, jitter < 0), SL_EIO (missing, not HDF5, truncated,
 * unreadable data), SL_EFORMAT (a missing dataset; times or units not
 * variable-length arrays of floats / integers; labels not integers; ranks
 * other than 1; counts of times, units and labels that differ; times[i] and
 * units[i] of different lengths; a unit outside 0 .. n_channels-1; a label
 * outside 0 .. n_classes-1; [first, first+count) beyond the file),
 * SL_ENUMERIC (a time that is NaN, infinite or negative), SL_ENOMEM. */
int sl_shd_load(sl_dataset *d, const char *path, const sl_shd_options *o);

/* Number of samples in the file (the length of /labels); SL_EIO, SL_EFORMAT. */
int sl_shd_count(const char *path, size_t *n);

#ifdef __cplusplus
}
#endif
#endif
