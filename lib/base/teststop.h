/* teststop.h (internal) -- a test hook that lets a shell test kill a writer
 * at an exact point: with SPIKELOOP_TEST_STOP_AT="<stage>:<n>" in the
 * environment, sli_test_stop(stage, n) stops the process (SIGSTOP) so that
 * the test can SIGKILL it there (test/test_resume.sh). Unset, it costs one
 * getenv. Used by the run log's checkpoint commit and calibration rounds. */
#ifndef SL_BASE_TESTSTOP_H
#define SL_BASE_TESTSTOP_H

void sli_test_stop(const char *stage, long n);

#endif
