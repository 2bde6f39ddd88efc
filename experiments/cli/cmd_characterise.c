/* cmd_characterise.c -- `spikeloop characterise --backend bss2|memristor
 * [--chip-seed S|1-8] [--neurons LIST] --out rec.h5`: run the
 * characterisation protocols on the circuits of an emulated bss2 chip
 * (membrane decays from two clamp levels, a PSP, a constant current; format
 * in include/spikeloop/charac.h and README.md) or on the devices of a
 * memristor crossbar (programming, repeated reads, drift; format in
 * include/spikeloop/xbar.h), and write the HDF5 recording that `spikeloop
 * fit` reads. Several chips in one run (--chip-seed 1-8) write one file
 * each; started by mpirun, the ranks split the chips. A lab with another
 * chip writes the bss2 recording from its own measurements, and `spikeloop
 * characterise --check REC.h5` says whether the fit can use it (exit 0) or
 * what is missing or inconsistent (exit 1). */
#include "config.h"
#include "cli.h"
#include "commands.h"
#include "spikeloop/spikeloop.h"
#include "spikeloop/calibrate.h"
#include "spikeloop/charac.h"
#include "spikeloop/fit.h"
#include "spikeloop/xbar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(void)
{
  printf("usage: spikeloop characterise --backend bss2|memristor [--chip-seed S|A-B,...]\n"
         "                              [--neurons LIST] [--options K=V,...] --out REC.h5\n"
         "                              [--config FILE] [--set key=value ...] (memristor)\n"
         "       spikeloop characterise --check REC.h5\n"
         "\n"
         "Drive every chosen neuron circuit with the characterisation protocols (decay\n"
         "after a clamp at two levels, one PSP of a known weight, a constant current) and\n"
         "write the recording: stimuli, sampled traces with time base and units, spikes\n"
         "and the backend's configuration words. 'spikeloop fit' turns it into a twin.\n"
         "\n"
         "  --backend bss2    the emulated BrainScaleS-2 chip (the recording format is in\n"
         "                    README.md)\n"
         "  --backend memristor  the crossbars of the memristor backend for the network\n"
         "                    of --config/--set (default 5-120-3 Yin-Yang): every device\n"
         "                    of the chosen neurons' input columns is programmed to 0, 1/2\n"
         "                    and 1 of its window, read 8 times right after and at the\n"
         "                    deployment age (drift_time, default 30 days), 8 repeats\n"
         "  --chip-seed S     which emulated chip (default 1; memristor: its seed); a list\n"
         "                    (1-8, 1,3,5) characterises each chip into its own file,\n"
         "                    REC.chip<S>.h5; under mpirun the ranks split the chips\n"
         "  --neurons LIST    circuits, e.g. 0-511 (default), 0-122 or 0-9,100-109;\n"
         "                    memristor: the neurons whose input devices (default all)\n"
         "  --options K=V,... further backend options (bss2: noise, noise_seed, calib=FILE,\n"
         "                    ...; memristor: stuck_on, drift_nu_sd, drift_time, ...);\n"
         "                    without substeps=K the chip is emulated at 32 substeps per\n"
         "                    step (noise scaled to the same noise per unit time), so the\n"
         "                    refractory hold is not cut to whole 250 ns substeps\n"
         "  --out REC.h5      the recording to write (required)\n"
         "  --check REC.h5    validate a recording (yours or the tool's) instead: read it\n"
         "                    as the fitter does and list every problem (exit 1) or\n"
         "                    none (exit 0), with notes on what the fit will not get\n"
         "\n"
         "Conventions of a recording (format in README.md, 'Recording format'): times in\n"
         "hardware seconds; each protocol's time axis has the stimulus onset at 0;\n"
         "spike times are seconds since that onset; at least 8 samples after the onset;\n"
         "decays need samples at or before the onset (the clamp) unless the readout is\n"
         "known (membrane_units V, or adc with adc_volts_per_code); a PSP fits better\n"
         "with a pre-onset baseline; windows of a few tau_mem after the onset.\n");
}

/* --check REC.h5: read, check, print the findings. */
static int check_recording(const char *path)
{
  sl_charac rec;
  memset(&rec, 0, sizeof rec);
  if (sl_charac_read(&rec, path)) {
    fprintf(stderr, "spikeloop: %s\n", sl_last_error());
    printf("%s: not usable (the first problem is above)\n", path);
    return 1;
  }
  char report[8192];
  int rc = sl_charac_check(&rec, report, sizeof report);
  size_t decay = 0, psp = 0, cur = 0, ramp = 0;
  for (size_t k = 0; k < rec.n_protocols; k++) {
    decay += rec.proto[k].protocol == SL_STIM_DECAY;
    psp += rec.proto[k].protocol == SL_STIM_PSP;
    cur += rec.proto[k].protocol == SL_STIM_CURRENT;
    ramp += rec.proto[k].protocol == SL_CHARAC_RAMP;
  }
  printf("%s: %zu neuron(s); %zu decay, %zu psp, %zu current, %zu ramp protocol(s); membrane "
         "in %s%s\n", path, rec.n, decay, psp, cur, ramp, rec.membrane_units,
         rec.readout_known ? " (readout known)" : !strcmp(rec.membrane_units, "adc")
                                                    ? " (readout from the clamp levels)" : "");
  fputs(report, stdout);
  if (rc)
    fprintf(stderr, "spikeloop: %s\n", sl_last_error());
  else
    printf("ok: the fit can use every neuron of %s\n", path);
  sl_charac_free(&rec);
  return rc ? 1 : 0;
}

/* Characterise bss2 chip `seed` into path; *n_out gets the circuits. */
static int run_bss2(long seed, const char *extra, const uint32_t *ids, size_t n, const char *path,
                    size_t *n_out)
{
  char opts[1024];
  int rc = cli_chip_options("characterise", seed, extra, opts, sizeof opts);
  if (rc)
    return rc;
  sl_charac rec;
  memset(&rec, 0, sizeof rec);
  rc = sl_calib_characterise_bss2(opts, ids, n, &rec, NULL);
  if (!rc)
    rc = sl_charac_write(&rec, path);
  *n_out = rec.n;
  sl_charac_free(&rec);
  return rc ? cli_fail(rc == SL_EIO ? path : "characterise") : 0;
}

/* Characterise the crossbars of the memristor backend opened for cfg's
 * network with seed `seed` into path; *n_out gets the devices. */
static int run_memristor(const sl_config *cfg0, long seed, const char *extra,
                         const uint32_t *ids, size_t n, const char *path, size_t *n_out)
{
  if (strstr(extra, "seed="))
    return cli_usage_error("characterise", "give the chip as --chip-seed, not seed= in "
                           "--options");
  sl_config cfg = *cfg0;
  snprintf(cfg.backend, sizeof cfg.backend, "memristor");
  snprintf(cfg.backend_options, sizeof cfg.backend_options, "seed=%ld%s%s", seed,
           *extra ? "," : "", extra);
  sl_session *s = NULL;
  sl_xbar_charac rec;
  memset(&rec, 0, sizeof rec);
  int rc = sl_session_create(&s, &cfg);
  if (!rc)
    rc = sl_xbar_run(sl_loop_hw(sl_session_loop(s)), ids, n, NULL, &rec);
  if (!rc)
    rc = sl_xbar_charac_write(&rec, path);
  *n_out = rec.n_dev;
  sl_xbar_charac_free(&rec);
  sl_session_free(s);
  return rc ? cli_fail(rc == SL_EIO ? path : "characterise") : 0;
}

static double seconds_since(const struct timespec *t0)
{
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0->tv_nsec);
}

int cmd_characterise(int argc, char **argv)
{
  const char *out = NULL, *extra = "", *check = NULL, *seeds_text = "1";
  sl_config cfg;
  sl_config_defaults(&cfg);
  cli_shared sh = {&cfg, NULL, NULL, NULL, NULL, 0};
  const cli_option own[] = {
      {.name = "--chip-seed", .kind = CLI_TEXT, .out = &seeds_text, .needs = "seeds (1, 1-8)"},
      {.name = "--options", .kind = CLI_TEXT, .out = &extra, .needs = "K=V,..."},
      {.name = "--out", .kind = CLI_TEXT, .out = &out, .needs = "a file name"},
      {.name = "--check", .kind = CLI_TEXT, .out = &check, .needs = "a file name"},
      {0}};
  const cli_spec spec = {"characterise", usage,
                         CLI_BACKEND | CLI_NEURONS | CLI_CONFIG | CLI_SET | CLI_THREADS, 1, own,
                         NULL};
  int rc = cli_parse(&spec, &sh, argc, argv);
  if (rc != CLI_RUN)
    return rc;
  if (check) {
    if (out || sh.backend)
      return cli_usage_error("characterise", "--check REC.h5 takes no --out or --backend");
    return check_recording(check);
  }
  const int memristor = sh.backend && strcmp(sh.backend, "memristor") == 0;
  if (!memristor &&
      (rc = cli_need_bss2("characterise", sh.backend,
                          "cannot be characterised by the tool (bss2 and memristor; write the "
                          "recording format of README.md instead)")))
    return rc;
  if (!out)
    return cli_usage_error("characterise", "--out REC.h5 is required");
  if ((rc = cli_apply_threads(&sh)))
    return rc;
  uint32_t *seeds = NULL, *ids = NULL;
  size_t n_seeds = 0, n = 0;
  if ((rc = cli_parse_seeds("characterise", seeds_text, &seeds, &n_seeds)))
    return rc;
  const char *neurons = sh.neurons ? sh.neurons : memristor ? NULL : "0-511";
  if (neurons && sl_calib_parse_neurons(neurons, memristor ? UINT32_MAX : SL_BSS2_CIRCUITS,
                                        &ids, &n)) {
    free(seeds);
    return cli_fail("--neurons");
  }
  const int rank = sl_dist_rank(), ranks = sl_dist_size();
  struct timespec t_all;
  clock_gettime(CLOCK_MONOTONIC, &t_all);
  size_t done = 0;
  for (size_t k = 0; k < n_seeds && !rc; k++) {
    if ((int)(k % (size_t)ranks) != rank)
      continue;
    char path[1024];
    cli_chip_path(out, seeds[k], n_seeds, path, sizeof path);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t got = 0;
    rc = memristor ? run_memristor(&cfg, seeds[k], extra, ids, n, path, &got)
                   : run_bss2(seeds[k], extra, ids, n, path, &got);
    if (!rc) {
      done++;
      if (n_seeds > 1)
        printf("[chip %u: %zu/%zu on rank %d] ", (unsigned)seeds[k], k + 1, n_seeds, rank);
      printf("characterised %zu %s of %s chip %u in %.1f s (%d thread(s)); recording written to "
             "%s\n", got, memristor ? "device(s)" : "neuron circuit(s)",
             memristor ? "memristor" : "bss2", (unsigned)seeds[k], seconds_since(&t0),
             sl_get_num_threads(), path);
      fflush(stdout);
    }
  }
  int failed = sl_dist_any(rc != 0);
  if (!failed && n_seeds > 1 && rank == 0)
    printf("characterised %zu chip(s) in %.1f s on %d rank(s)\n", n_seeds, seconds_since(&t_all),
           ranks);
  (void)done;
  free(seeds);
  free(ids);
  return rc ? rc : failed ? 1 : 0;
}
