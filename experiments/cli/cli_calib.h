/* cli_calib.h -- the calibration commands of the spikeloop tool (issue 4):
 * characterise, fit, calibrate, and the --calib shortcut of train and
 * experiment. Kept apart from cli.h so that wiring them is two lines per
 * file. Each command returns 0, 1 (runtime error) or 2 (usage error). */
#ifndef SL_CLI_CALIB_H
#define SL_CLI_CALIB_H

#include "spikeloop/config.h"

int cmd_characterise(int argc, char **argv);
int cmd_fit(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);

/* Append calib=FILE to cfg's backend.options (`--calib FILE`; call it after
 * every --set so that backend.options given there is kept). Errors:
 * SL_EINVAL (a comma in the name; the options would be too long). */
int cli_append_calib(sl_config *cfg, const char *file);

#endif
