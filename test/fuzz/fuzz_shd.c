/* fuzz_shd.c -- libFuzzer harness: Spiking Heidelberg Digits files
 * (sl_shd_count, sl_shd_load with the default options and with jittered
 * copies), structure-level mutations of the template shd.h5 (written by
 * test/make_shd.py: variable-length times and units, the mutations edit
 * those lists too). */
#include <stdint.h>

#include "spikeloop/dataset.h"
#include "spikeloop/error.h"
#include "spikeloop/shd.h"
#include "h5mut.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fz_init();
  const char *path = fz_scratch(".h5");
  if (fz_h5_mutate(fz_named_template("shd.h5"), path, data, size) < 0)
    return 0;
  size_t n;
  sl_shd_count(path, &n);
  sl_shd_options o = sl_shd_options_default();
  o.t_steps = 20;
  sl_dataset d = {0};
  if (sl_shd_load(&d, path, &o) == SL_OK)
    sl_dataset_free(&d);
  o.copies = 1;
  o.jitter = 3;
  if (sl_shd_load(&d, path, &o) == SL_OK)
    sl_dataset_free(&d);
  sl_clear_error();
  return 0;
}
