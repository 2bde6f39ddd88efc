/* fuzz_idx.c -- libFuzzer harness: IDX files, plain or gzip (Fashion-MNIST's
 * format): sl_idx_load_images and sl_idx_load_labels on the input's bytes. */
#include <stdint.h>
#include <stdlib.h>

#include "spikeloop/error.h"
#include "spikeloop/idx.h"
#include "h5mut.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *path = fz_scratch(".idx");
  if (fz_write(path, data, size) < 0)
    return 0;
  uint8_t *px = NULL, *lab = NULL;
  size_t n, rows, cols;
  if (sl_idx_load_images(path, &px, &n, &rows, &cols) == SL_OK)
    free(px);
  if (sl_idx_load_labels(path, &lab, &n) == SL_OK)
    free(lab);
  sl_clear_error();
  return 0;
}
