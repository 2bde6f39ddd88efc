/* test_skipped.c -- stands in for the test program of a backend that
 * configure left out (Makefile.am builds it under that program's name):
 * it exits 77, automake's "skipped", naming the backend. */
#include <stdio.h>

int main(void)
{
  printf("SKIP: backend '%s' not built in this build (configure --enable-%s)\n",
         SL_SKIPPED_BACKEND, SL_SKIPPED_BACKEND);
  return 77;
}
