/* fuzz_config.c -- libFuzzer harness: INI configuration files
 * (sl_config_load), then sl_config_validate and every key read back and the
 * configuration written (sl_config_get_index, sl_config_write). The input
 * is the file's bytes. */
#include <stdint.h>
#include <stdio.h>

#include "spikeloop/config.h"
#include "spikeloop/error.h"
#include "h5mut.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *path = fz_scratch(".ini");
  if (fz_write(path, data, size) < 0)
    return 0;
  static sl_config cfg;
  sl_config_defaults(&cfg);
  if (sl_config_load(&cfg, path) == SL_OK) {
    char buf[512];
    sl_config_validate(&cfg);
    for (size_t i = 0; sl_config_key_name(i); i++)
      sl_config_get_index(&cfg, i, buf, sizeof buf);
    FILE *null = fopen("/dev/null", "w");
    if (null) {
      sl_config_write(&cfg, null);
      fclose(null);
    }
  }
  sl_clear_error();
  return 0;
}
