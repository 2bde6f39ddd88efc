/* fuzz_dataset.c -- libFuzzer harness: data-set files (`spikeloop dataset`,
 * data.file: sl_dataset_load_h5), structure-level mutations of the template
 * dataset.h5 (a Yin-Yang set of 40 rows). */
#include <stdint.h>

#include "spikeloop/dataset.h"
#include "spikeloop/error.h"
#include "h5mut.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fz_init();
  const char *path = fz_scratch(".h5");
  if (fz_h5_mutate(fz_named_template("dataset.h5"), path, data, size) < 0)
    return 0;
  sl_dataset d = {0};
  if (sl_dataset_load_h5(&d, path) == SL_OK)
    sl_dataset_free(&d);
  sl_clear_error();
  return 0;
}
