/* calib.c -- characterisation, fits, calibration (placeholder). */
#include "slpy.h"
int slpy_init_calib(PyObject *m) { return 0; }
