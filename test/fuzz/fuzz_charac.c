/* fuzz_charac.c -- libFuzzer harness: characterisation recordings
 * (sl_charac_read, then sl_charac_check as `spikeloop characterise --check`
 * and `fit` do), structure-level mutations of the template charac.h5. */
#include <stdint.h>

#include "spikeloop/charac.h"
#include "spikeloop/error.h"
#include "h5mut.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fz_init();
  const char *path = fz_scratch(".h5");
  if (fz_h5_mutate(fz_named_template("charac.h5"), path, data, size) < 0)
    return 0;
  sl_charac c = {0};
  if (sl_charac_read(&c, path) == SL_OK) {
    char buf[1024];
    sl_charac_check(&c, buf, sizeof buf);
  }
  sl_charac_free(&c);
  sl_clear_error();
  return 0;
}
