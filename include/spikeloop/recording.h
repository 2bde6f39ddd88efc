/* spikeloop/recording.h -- record every request and observation of a
 * backend to HDF5, so that loop code can be developed against data taken on
 * a real chip (served back by the "replay" backend).
 *
 * Recording format (HDF5, version 1):
 *   /                      attributes: format = "spikeloop-recording",
 *                          format_version = 1, backend (name), created (UTC)
 *   /setup                 attributes: n_in, n_layers, sizes (int64 array,
 *                          n_layers+1), recurrent (int array), dt, max_steps,
 *                          max_batch, w_unit (double array), options (string)
 *   /caps                  attributes: every sl_backend_caps field by name
 *                          (membrane_gain_readout may be absent: 0)
 *   /weights/<k>           float32 (rows, cols): the k-th write_weights call
 *                          (k = 0, 1, ...), attributes layer, which
 *   /runs/<k>/x            uint8 (T, B, n_in): the input raster of run k
 *   /runs/<k>/weights      int64 (n_layers+1, 2): index into /weights of the
 *                          w_in / w_rec in effect for each layer (-1: none)
 *   /runs/<k>/spike_sample uint32 (n_spikes)
 *   /runs/<k>/spike_neuron uint32 (n_spikes)   global neuron index
 *   /runs/<k>/spike_time   float64 (n_spikes)  hardware s
 *   /runs/<k>/membrane     float32 (n_samples, B, n_neurons), backend units
 *                          attributes: sample_t0, sample_period (hardware s)
 *   /runs                  attribute: count (number of complete runs)
 * A run group is written completely before `count` is raised, and the file
 * is flushed after every run: a recording cut short by a killed process
 * holds every run committed before, and groups past `count` are ignored.
 * Strings are variable-length UTF-8; the root also has library_version.
 * x and membrane may be stored chunked and deflate-compressed (any HDF5
 * reader decompresses them transparently). /weights, /runs and each run
 * group track link creation order, so readers list them in recording order.
 */
#ifndef SPIKELOOP_RECORDING_H
#define SPIKELOOP_RECORDING_H

#include <stddef.h>

#include "spikeloop/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sl_recorder sl_recorder;

/* Create (truncate) a recording and write /, /setup, /caps, empty /weights
 * and /runs; flush. On error *out is NULL and a created file is removed.
 * Errors: SL_EINVAL (NULL or empty argument; setup with n_in == 0,
 * n_layers > SL_MAX_LAYERS, an empty layer or dt not > 0; non-finite caps),
 * SL_EIO naming the path. */
int sl_recorder_create(sl_recorder **out, const char *path, const char *backend_name,
                       const sl_backend_setup *setup, const sl_backend_caps *caps);
/* Append a weight write (hardware units) as /weights/<k>; it is in effect
 * for the runs that follow, until the next write of the same (layer, which).
 * Errors: SL_EINVAL (NULL, layer > n_layers, which not 0/1), SL_ESHAPE
 * (rows x cols is not the network's), SL_EIO. */
int sl_recorder_weights(sl_recorder *r, size_t layer, int which, const float *w, size_t rows,
                        size_t cols);
/* Append a run: its input raster x (T, B, n_in) and what was observed.
 * Checked before anything is written: x holds only 0 and 1 (SL_EINVAL);
 * obs->B == B and obs->n_neurons == the network's (SL_ESHAPE); spike
 * samples and neurons in range (SL_ERANGE); spike times, sample_t0,
 * sample_period and membrane finite (SL_ENUMERIC); T, B > 0 (SL_EINVAL).
 * Then written, committed and flushed; SL_EIO if that fails (a run that
 * was not committed is replaced by the next append). */
int sl_recorder_run(sl_recorder *r, const float *x, size_t T, size_t B,
                    const sl_observations *obs);
/* Close (NULL is a no-op); returns the first error of the final flush. */
int sl_recorder_close(sl_recorder *r);


#ifdef __cplusplus
}
#endif
#endif
