/* memristor.h (internal) -- the "memristor" backend: synaptic weights on
 * CIM crossbar tiles (lib/cim.c), digital LIF neurons. */
#ifndef SL_HW_MEMRISTOR_H
#define SL_HW_MEMRISTOR_H

#include "spikeloop/backend.h"

const sl_backend *slb_memristor_backend(void);

#endif
