/* mcnn_hybrid_main.c -- `mcnn_hybrid_run [--set key=value ...] [--log FILE.h5]`:
 * the mcnn_hybrid experiment as a standalone program, the same code as
 * `spikeloop experiment mcnn_hybrid`, so that it can be run before the
 * command-line tool's registry lists it. */
#include "config.h"
#include "experiments.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
  const experiment *e = &exp_mcnn_hybrid;
  const char *log_path = "mcnn_hybrid.h5";
  sl_config cfg;
  sl_config_defaults(&cfg);
  for (const char *const *d = e->defaults; *d; d++)
    if (sl_config_set_pair(&cfg, *d)) {
      fprintf(stderr, "mcnn_hybrid_run: %s\n", sl_last_error());
      return 1;
    }
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--set") == 0 && i + 1 < argc) {
      if (sl_config_set_pair(&cfg, argv[++i])) {
        fprintf(stderr, "mcnn_hybrid_run: %s\n", sl_last_error());
        return 2;
      }
    } else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc) {
      log_path = argv[++i];
    } else {
      fprintf(stderr, "usage: mcnn_hybrid_run [--set key=value ...] [--log FILE.h5]\n");
      return strcmp(argv[i], "--help") == 0 ? 0 : 2;
    }
  }
  sl_runlog *log = NULL;
  sl_run_meta meta = {"experiment mcnn_hybrid", cfg.seed, sl_get_num_threads()};
  int rc = sl_runlog_create(&log, log_path, &cfg, &meta);
  if (!rc)
    rc = e->run(&cfg, log);
  int rc2 = sl_runlog_close(log);
  if (!rc)
    rc = rc2;
  if (rc) {
    fprintf(stderr, "mcnn_hybrid_run: %s\n", sl_last_error());
    return 1;
  }
  printf("log written to %s\n", log_path);
  return 0;
}
