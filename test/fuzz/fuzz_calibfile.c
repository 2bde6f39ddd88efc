/* fuzz_calibfile.c -- libFuzzer harness: bss2 calibration files (the
 * configuration words /dac/<word> that `calibrate` writes and the bss2
 * backend's calib= option reads: sl_bss2_words_load), structure-level
 * mutations of the template calib.h5. */
#include <stdint.h>

#include "spikeloop/bss2.h"
#include "spikeloop/error.h"
#include "h5mut.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fz_init();
  const char *path = fz_scratch(".h5");
  if (fz_h5_mutate(fz_named_template("calib.h5"), path, data, size) < 0)
    return 0;
  static sl_bss2_words w;
  unsigned present = 0;
  sl_bss2_words_default(&w);
  sl_bss2_words_load(&w, path, &present);
  sl_clear_error();
  return 0;
}
