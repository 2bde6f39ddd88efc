/* xbar_io.h -- inside lib/calib: the geometry attributes the crossbar
 * recording (xbar_charac.c) and the crossbar twin (xbar_twin.c) share.
 * Layout in spikeloop/xbar.h. Not exported (the library exports sl_* only). */
#ifndef SPIKELOOP_CALIB_XBAR_IO_H
#define SPIKELOOP_CALIB_XBAR_IO_H

#include "spikeloop/xbar.h"
#include "io/h5.h"

/* Write the root attributes g_min, g_max, levels, drift_t0, age, n_layers
 * and /layers/<l>@n_in, n_out. < 0 on failure. */
herr_t slx_write_geometry(hid_t f, const sl_xbar_geometry *g);
/* Read them back, checked. SL_EFORMAT naming the file and attribute. */
int slx_read_geometry(const slh_file *f, sl_xbar_geometry *g);

#endif
