/* memest.c -- the peak memory of a training run estimated from its
 * configuration, and the memory available (spikeloop/memest.h).
 *
 * The terms follow what the code allocates and then touches (untouched
 * malloc'd pages cost no memory): lib/core/net.c (grow: V, S, dL/dh, the
 * clamp byte and the spike lists per hidden neuron and (step, sample) row;
 * h and I are not kept while training, except in the loop, where the
 * measured spikes rebuild them; the readout keeps h, I, V, dL/dh),
 * lib/train/train.c (trainer_grow: dL/dV of the readout, the spike
 * regulariser's dL/dS per hidden neuron; the batch raster), lib/train/optim.c
 * (moments), lib/hw/loop.c (measured V and S per layer). Evaluation runs
 * batches of train.batch through the same buffers, so it adds nothing. */
#include "config.h"
#include "spikeloop/memest.h"
#include "spikeloop/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The process before training (code, HDF5, GSL, OpenBLAS, OpenMP, MPI
 * loaded, their heaps): 12-16 MB measured with `/usr/bin/time -v` on
 * `spikeloop train` of 1 epoch on 10 samples, and 13 MB in README's
 * benchmark section. */
#define BASELINE_BYTES (16.0 * 1024 * 1024)

/* Input dimension (features per sample as stored), classes and in-memory
 * sample count of cfg's data set. */
static int data_shape(const sl_config *cfg, size_t *dim, size_t *classes, size_t *samples)
{
  size_t n_train = (size_t)cfg->n_train;
  if (strcmp(cfg->dataset, "yinyang") == 0)
    *dim = 4, *classes = 3;
  else if (strcmp(cfg->dataset, "fashion16") == 0)
    *dim = 16 * 16, *classes = 10;
  else if (strcmp(cfg->dataset, "fashion") == 0 || strcmp(cfg->dataset, "mnist") == 0)
    *dim = 28 * 28, *classes = 10;
  else if (strcmp(cfg->dataset, "shd") == 0) {
    *dim = (size_t)cfg->t_steps * (size_t)cfg->ch_count, *classes = 20;
    n_train *= 1 + (size_t)cfg->copies;
  } else
    return sl_error(SL_ENOTFOUND, "memory estimate: unknown data set '%s'", cfg->dataset);
  *samples = n_train + (size_t)cfg->n_val + (size_t)cfg->n_test;
  return SL_OK;
}

int sl_mem_estimate_config(const sl_config *cfg, sl_mem_estimate *est)
{
  if (!cfg || !est)
    return sl_error(SL_EINVAL, "sl_mem_estimate_config: NULL argument");
  memset(est, 0, sizeof *est);
  int rc = sl_config_validate(cfg);
  if (rc)
    return rc;
  size_t dim = 0, classes = 0, samples = 0;
  if ((rc = data_shape(cfg, &dim, &classes, &samples)))
    return rc;
  const int raster = strcmp(cfg->encoder, "raster") == 0;
  const size_t T = (size_t)cfg->t_steps, B = (size_t)cfg->batch;
  const size_t n_in = (raster && T ? dim / T : dim) + (cfg->bias ? 1 : 0);
  const size_t n_out = classes;
  const int in_loop = strcmp(cfg->backend, "ideal") != 0 || cfg->backend_options[0];
  const double f = sizeof(float), rows = (double)T * (double)B;

  double params = 0.0, neurons = 0.0;
  size_t pre = n_in;
  for (size_t l = 0; l < cfg->n_layers; l++) {
    const double n = (double)cfg->hidden[l];
    params += (double)pre * n + (cfg->recurrent[l] ? n * n : 0.0);
    neurons += n;
    /* V, S, dL/dh, the regulariser's dL/dS; clamp byte; spike list + count */
    double per_row = n * (4 * f + (in_loop ? 2 * f : 0.0)) + n + (n + 16) * 4 + 4;
    est->states += per_row * rows;
    est->backend += in_loop ? 2 * f * n * rows : 0.0;
    pre = (size_t)cfg->hidden[l];
  }
  params += (double)pre * (double)n_out;
  neurons += (double)n_out;
  est->states += rows * (double)n_out * 5 * f; /* readout h, I, V, dL/dh; loss dL/dV */
  est->backend += in_loop ? 2 * f * (double)n_out * rows : 0.0;
  est->weights = 3 * f * params;
  est->optimiser = (strcmp(cfg->optimizer, "adam") == 0 ? 2 : 1) * f * params;
  est->batch = f * ((double)B * (double)dim + rows * (double)n_in);
  est->data = (double)samples * ((double)dim * f + sizeof(int32_t));
  est->baseline = BASELINE_BYTES;
  est->total = est->weights + est->optimiser + est->states + est->batch + est->data +
               est->backend + est->baseline;
  est->n_in = n_in;
  est->n_out = n_out;
  est->n_params = (size_t)params;
  est->steps = T;
  est->batch_size = B;
  est->neurons = (size_t)neurons;
  return SL_OK;
}

int sl_mem_available(double *bytes)
{
  if (!bytes)
    return sl_error(SL_EINVAL, "sl_mem_available: NULL argument");
  FILE *f = fopen("/proc/meminfo", "r");
  if (!f)
    return sl_error(errno == ENOENT ? SL_EUNSUPPORTED : SL_EIO,
                    "/proc/meminfo: %s (the memory available is unknown)", strerror(errno));
  char line[256];
  int found = 0;
  unsigned long long kb = 0;
  while (!found && fgets(line, sizeof line, f))
    found = sscanf(line, "MemAvailable: %llu kB", &kb) == 1;
  fclose(f);
  if (!found)
    return sl_error(SL_EIO, "/proc/meminfo: no line 'MemAvailable: N kB'");
  *bytes = (double)kb * 1024.0;
  return SL_OK;
}

const char *sl_mem_format(double bytes, char *buf, size_t size)
{
  static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  size_t u = 0;
  while (bytes >= 1024.0 && u + 1 < sizeof unit / sizeof unit[0])
    bytes /= 1024.0, u++;
  if (buf && size)
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
  return buf;
}
