/* bench_cim_main.c -- `cim_bench C1|C2 --data DIR`: the CIM benchmark as a
 * standalone program (the same code as `spikeloop cim-bench`), so that it
 * can be run before the command-line tool dispatches it. */
#include "config.h"
#include "bench_cim.h"
#include "spikeloop/error.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
  const char *dir = "../shared/bench/cim-data";
  if (argc < 2 || strcmp(argv[1], "--help") == 0) {
    fprintf(argc < 2 ? stderr : stdout, "usage: cim_bench C1|C2 [--data DIR]\n");
    return argc < 2 ? 2 : 0;
  }
  if (argc == 4 && strcmp(argv[2], "--data") == 0)
    dir = argv[3];
  else if (argc != 2) {
    fprintf(stderr, "usage: cim_bench C1|C2 [--data DIR]\n");
    return 2;
  }
  if (sl_cim_bench(argv[1], dir, stdout)) {
    fprintf(stderr, "cim_bench: %s\n", sl_last_error());
    return 1;
  }
  return 0;
}
