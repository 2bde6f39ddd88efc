/* fuzz_nir.c -- libFuzzer harness: NIR graphs (sl_nir_read_config and
 * sl_nir_read as `spikeloop import` calls them), structure-level mutations
 * of the template net.nir (a 5-8-3 network written by `spikeloop export`). */
#include <stdint.h>

#include "spikeloop/config.h"
#include "spikeloop/error.h"
#include "spikeloop/net.h"
#include "spikeloop/nir.h"
#include "h5mut.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fz_init();
  const char *path = fz_scratch(".h5");
  if (fz_h5_mutate(fz_named_template("net.nir"), path, data, size) < 0)
    return 0;
  static sl_config cfg;
  sl_config_defaults(&cfg);
  int found = 0;
  sl_nir_read_config(path, &cfg, &found);
  sl_clear_error();
  sl_config_defaults(&cfg);
  sl_net *net = NULL;
  if (sl_nir_read(path, &cfg, 1, &net) == SL_OK)
    sl_net_check(net);
  sl_net_free(net);
  sl_clear_error();
  return 0;
}
