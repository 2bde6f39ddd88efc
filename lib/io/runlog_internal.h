/* runlog_internal.h -- the run log's handles, shared by runlog.c (create,
 * metrics, staging, finish, reading) and runlog_ckpt.c (checkpoints,
 * reopening a killed run's log). Not installed. */
#ifndef SPIKELOOP_IO_RUNLOG_INTERNAL_H
#define SPIKELOOP_IO_RUNLOG_INTERNAL_H

#include <hdf5.h>

struct sl_runlog {
  hid_t file;
  char *path;
  long epochs;     /* rows committed to /metrics */
  int finished;    /* sl_runlog_finish succeeded: no more writes */
  long ckpt_epoch; /* epoch of the checkpoint being staged, -1: none */
};

struct sl_runlog_reader {
  hid_t file;
  char *path;
  char *phase; /* sl_runlog_phase_select: the group checkpoint reads use, NULL: the epoch's */
};

#endif
