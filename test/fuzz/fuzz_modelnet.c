/* fuzz_modelnet.c -- libFuzzer harness: ModelNet40 point-cloud files in
 * PointNet's HDF5 layout (sl_modelnet_load, default options and a sampled,
 * normalised subset), structure-level mutations of the template
 * modelnet.h5 (written by sl_modelnet_save). */
#include <stdint.h>

#include "spikeloop/dataset.h"
#include "spikeloop/error.h"
#include "spikeloop/pointcloud.h"
#include "h5mut.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fz_init();
  const char *path = fz_scratch(".h5");
  if (fz_h5_mutate(fz_named_template("modelnet.h5"), path, data, size) < 0)
    return 0;
  sl_modelnet_params p = sl_modelnet_params_default();
  sl_dataset d = {0};
  p.n_points = 16;
  if (sl_modelnet_load(&d, path, &p) == SL_OK)
    sl_dataset_free(&d);
  p.sample = 1;
  p.normalise = 1;
  p.n_points = 5;
  if (sl_modelnet_load(&d, path, &p) == SL_OK)
    sl_dataset_free(&d);
  sl_clear_error();
  return 0;
}
