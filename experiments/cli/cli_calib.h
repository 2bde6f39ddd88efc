/* cli_calib.h -- the --calib shortcut of train and experiment (the
 * calibration commands themselves are declared in cli.h). */
#ifndef SL_CLI_CALIB_H
#define SL_CLI_CALIB_H

#include "spikeloop/config.h"

/* Append calib=FILE to cfg's backend.options (`--calib FILE`; call it after
 * every --set so that backend.options given there is kept). Errors:
 * SL_EINVAL (a comma in the name; the options would be too long). */
int cli_append_calib(sl_config *cfg, const char *file);

#endif
