/* fuzz_calib_args.c -- libFuzzer harness: the text arguments of the
 * calibration commands: calibration targets ("tau_mem=6e-6,v_th=0.8",
 * sl_calib_targets_parse) and neuron lists ("0-7,12", sl_calib_parse_neurons
 * with a limit of 512), and the SPIKELOOP_ISA name (sl_isa_parse). The input
 * is the text (a NUL is added). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spikeloop/calibrate.h"
#include "spikeloop/error.h"
#include "spikeloop/fit.h"
#include "spikeloop/version.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *text = malloc(size + 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  static sl_calib_targets t;
  t = sl_calib_targets_default();
  sl_calib_targets_parse(&t, text);
  uint32_t *ids = NULL;
  size_t n = 0;
  if (sl_calib_parse_neurons(text, 512, &ids, &n) == SL_OK)
    free(ids);
  sl_isa isa;
  sl_isa_parse(text, &isa);
  free(text);
  sl_clear_error();
  return 0;
}
