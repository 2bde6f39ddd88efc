/* ideal.h (internal) -- the "ideal" backend: the exact simulator behind the
 * backend interface. */
#ifndef SL_HW_IDEAL_H
#define SL_HW_IDEAL_H

#include "spikeloop/backend.h"

const sl_backend *slb_ideal_backend(void);

#endif
