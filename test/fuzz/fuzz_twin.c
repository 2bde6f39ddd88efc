/* fuzz_twin.c -- libFuzzer harness: digital twins (sl_twin_apply onto the
 * hidden layer and the readout of a network of the twin's 8 neurons, as
 * neuron.twin does), structure-level mutations of the template twin.h5. */
#include <stdint.h>

#include "spikeloop/error.h"
#include "spikeloop/fit.h"
#include "spikeloop/neurons.h"
#include "h5mut.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fz_init();
  const char *path = fz_scratch(".h5");
  if (fz_h5_mutate(fz_named_template("twin.h5"), path, data, size) < 0)
    return 0;
  sl_neurons hid = {0}, ro = {0};
  sl_neuron_nominal nom = sl_neuron_nominal_default();
  if (sl_neurons_alloc(&hid, 6, &nom) == SL_OK && sl_neurons_alloc(&ro, 2, &nom) == SL_OK) {
    if (sl_twin_apply(path, "hidden0", 0, 0, 1e-3, &hid) == SL_OK)
      sl_neurons_check(&hid, 1e-3);
    if (sl_twin_apply(path, "readout", 6, 1, 1e-3, &ro) == SL_OK)
      sl_neurons_check(&ro, 1e-3);
  }
  sl_neurons_free(&hid);
  sl_neurons_free(&ro);
  sl_clear_error();
  return 0;
}
