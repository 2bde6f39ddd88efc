/* cim.c -- spikeloop.Cim and spikeloop.Cam (placeholder). */
#include "slpy.h"
int slpy_init_cim(PyObject *m) { return 0; }
