/* session_internal.h (internal) -- the session's fields, shared by
 * session.c (building, training, whole runs) and session_ckpt.c
 * (checkpoints and resuming). */
#ifndef SL_SESSION_INTERNAL_H
#define SL_SESSION_INTERNAL_H

#include "spikeloop/session.h"
#include "train_internal.h"

struct sl_session {
  sl_config cfg;
  sl_dataset train, val, test;
  sl_encoder enc;
  sl_net *net;
  sl_trainer *tr;
  sl_hw *hw;
  sl_loop *loop;
  sli_batch bb;
  long epoch;
  double *pulses;  /* programming pulses spent by the end of each epoch */
  size_t n_pulses;
  int checkpointing;     /* sl_session_train checkpoints into its log */
  int no_metrics;        /* sl_session_train appends no /metrics rows */
  double last[3];        /* train, val, test accuracy of the last epoch */
  double seconds_before; /* training seconds before the restored checkpoint */
  double t0;             /* start of the current sl_session_train */
  int restored;          /* restored from a checkpoint, no epoch trained since */
};

#endif
