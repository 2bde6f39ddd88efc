/* spikeloop/memest.h -- how much memory a training run will need, before
 * it allocates any of it, and how much the machine has available.
 *
 * sl_mem_estimate_config adds up what a run of sl_run_train keeps resident
 * at its peak, from the configuration alone (no data set is loaded, nothing
 * large is allocated): the weights (parameters, gradients, the float master
 * copy), the optimiser's moments, the network states over T x B x N that
 * backpropagation through time stores, the input raster of one batch, the
 * data sets in memory, the measured states of an in-the-loop backend, and
 * the process's own baseline (libraries loaded). The CLI refuses a run whose
 * estimate exceeds the memory available (`spikeloop train --dry-run`). */
#ifndef SPIKELOOP_MEMEST_H
#define SPIKELOOP_MEMEST_H

#include "spikeloop/config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes, by what holds them; total is their sum. */
typedef struct {
  double weights;   /* parameters, gradients and the float master copy */
  double optimiser; /* Adam's two moments, SGD's momentum */
  double states;    /* per (step, sample) row: V, S, dL/dh, spike lists of every layer */
  double batch;     /* the input raster of one batch (T x B x inputs) */
  double data;      /* train, validation and test sets in memory */
  double backend;   /* the measured spikes and membranes of an in-the-loop backend */
  double baseline;  /* the process before training: code and libraries */
  double total;
  /* the sizes the estimate was made for */
  size_t n_in, n_out, n_params, steps, batch_size, neurons;
} sl_mem_estimate;

/* The estimate of sl_run_train's peak resident memory for cfg (validated
 * first). The data set's input and class counts come from its kind
 * (yinyang, fashion16, fashion, mnist, shd) without reading any file.
 * Errors: SL_EINVAL (NULL or invalid cfg), SL_ENOTFOUND (unknown data set). */
int sl_mem_estimate_config(const sl_config *cfg, sl_mem_estimate *est);

/* Memory the kernel says is available to a new process (MemAvailable of
 * /proc/meminfo, in bytes). SL_EUNSUPPORTED where there is no such file,
 * SL_EIO when it cannot be read or parsed. */
int sl_mem_available(double *bytes);

/* A byte count as text with a binary unit ("1.5 GiB"), into buf. */
const char *sl_mem_format(double bytes, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
