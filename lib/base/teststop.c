/* teststop.c -- the SPIKELOOP_TEST_STOP_AT hook (base/teststop.h). raise,
 * not kill: the library never ends the process itself; a stopped process
 * continues on SIGCONT as if nothing happened. */
#include "config.h"
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "base/teststop.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sli_test_stop(const char *stage, long n)
{
  const char *at = getenv("SPIKELOOP_TEST_STOP_AT");
  if (!at)
    return;
  char want[96];
  snprintf(want, sizeof want, "%s:%ld", stage, n);
  if (strcmp(at, want) == 0)
    raise(SIGSTOP);
}
