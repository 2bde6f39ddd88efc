/* cmd_fit.c -- `spikeloop fit --recording rec.h5 --out twin.h5 [--dt S]
 * [--neurons LIST] [--chip-seed 1-8]`: fit every neuron of a
 * characterisation recording (GSL trust region, OpenMP over neurons) and
 * write the digital twin that neuron.twin (or --set neuron.twin=FILE) gives
 * the simulator and the in-the-loop host model. Prints per-parameter
 * medians, standard errors and the flag counts; --values OUT.h5 writes
 * every neuron's fit at full precision. A crossbar recording (characterise
 * --backend memristor) is fitted device by device into the crossbar's map
 * (spikeloop/xbar.h) instead. With a list of chip seeds, REC.chip<S>.h5 is
 * fitted into TWIN.chip<S>.h5 for every chip, the ranks of an mpirun
 * splitting the chips. */
#include "config.h"
#include "cli.h"
#include "commands.h"
#include "spikeloop/spikeloop.h"
#include "spikeloop/charac.h"
#include "spikeloop/fit.h"
#include "spikeloop/xbar.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(void)
{
  printf("usage: spikeloop fit --recording REC.h5 --out TWIN.h5 [--dt S] [--neurons LIST]\n"
         "                     [--values VALUES.h5] [--chip-seed A-B,...] [--threads N]\n"
         "\n"
         "Fit the discrete LIF model to every neuron of a characterisation recording\n"
         "(spikeloop characterise, or a lab's own file in the documented format) and\n"
         "write the twin: /mismatch/global/<param> in model units, /se/global/<param>,\n"
         "/mismatch/global/refrac_s (the fitted hold, model s), /flags. Use it with\n"
         "--set neuron.twin=TWIN.h5. 'spikeloop characterise --check REC.h5' says first\n"
         "whether a recording can be fitted.\n"
         "\n"
         "  --recording REC.h5  the recording (required)\n"
         "  --out TWIN.h5       the twin to write (required)\n"
         "  --dt S              time step of the host model the twin is for, model s\n"
         "                      (default 0.001, as net.dt)\n"
         "  --neurons LIST      keep only these neuron ids, e.g. 0-122 for a network of\n"
         "                      123 neurons (the twin's count must equal the network's)\n"
         "  --values VALUES.h5  also write every neuron's fitted values, standard errors,\n"
         "                      residual and flags as float64: /value/<param> (model\n"
         "                      units), /se/<param>, /hw/<param> (V, s), /flags, NaN where\n"
         "                      not fitted (the twin fills those with medians)\n"
         "  --chip-seed LIST    several chips (1-8, 1,3,5): fit REC.chip<S>.h5 into\n"
         "                      TWIN.chip<S>.h5 (and VALUES.chip<S>.h5) for each, as\n"
         "                      'characterise --chip-seed LIST' wrote them; under mpirun\n"
         "                      the ranks split the chips\n"
         "\n"
         "A crossbar recording (characterise --backend memristor) becomes the map of\n"
         "every device instead: /layers/<l>/stuck, g_stuck, drift_gain, nu, prog_bias,\n"
         "prog_sd, read_sd (README.md); the memristor backend deploys through it with\n"
         "--set backend.options=twin=MAP.h5,...\n");
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median of the finite values of v[0..n) (NaN if none); sorts a copy. */
static double median(const double *v, size_t n, double *tmp)
{
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (isfinite(v[i]))
      tmp[m++] = v[i];
  if (!m)
    return NAN;
  qsort(tmp, m, sizeof *tmp, cmp_double);
  return m % 2 ? tmp[m / 2] : 0.5 * (tmp[m / 2 - 1] + tmp[m / 2]);
}

static void report(const sl_fit_result *r)
{
  double *tmp = malloc((r->n ? r->n : 1) * sizeof *tmp);
  double *hw = malloc((r->n ? r->n : 1) * sizeof *hw);
  if (!tmp || !hw) {
    free(tmp);
    free(hw);
    return;
  }
  printf("  %-10s %14s %14s   (medians over the fitted neurons, hardware units)\n", "param",
         "value", "std. error");
  for (int p = 0; p < SL_FP_N; p++) {
    for (size_t i = 0; i < r->n; i++)
      hw[i] = sl_fit_to_hw(r, p, i);
    double v = median(hw, r->n, tmp);
    for (size_t i = 0; i < r->n; i++)
      hw[i] = isfinite(r->value[p][i]) && r->value[p][i] != 0
                  ? fabs(r->se[p][i] * sl_fit_to_hw(r, p, i) / r->value[p][i])
                  : NAN;
    double se = p == SL_FP_V_LEAK || p == SL_FP_V_TH || p == SL_FP_V_RESET
                    ? median(r->se[p], r->n, tmp) * r->volt_per_unit
                    : median(hw, r->n, tmp);
    printf("  %-10s %14.6g %14.3g\n", sl_fit_param_name(p), v, se);
  }
  static const char *const why[] = {"NaN samples", "saturated", "silent", "always firing",
                                    "leak above threshold", "no convergence", "no readout",
                                    "no reset", "not recorded by every protocol"};
  size_t ok = 0;
  for (size_t i = 0; i < r->n; i++)
    ok += r->flags[i] == 0;
  printf("  %zu of %zu neurons fitted without flags", ok, r->n);
  for (int b = 0; b < 9; b++) {
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++)
      k += (r->flags[i] >> b) & 1u;
    if (k)
      printf("; %zu %s", k, why[b]);
  }
  printf("\n");
  free(tmp);
  free(hw);
}

/* --dt S: a time step in (0, 1) s */
static int parse_dt(void *out, const char *value, const char *command)
{
  char *end;
  double dt = strtod(value, &end);
  if (end == value || *end || !(dt > 0) || !(dt < 1))
    return cli_usage_error(command, "--dt needs a time step in (0, 1) s, not '%s'", value);
  *(double *)out = dt;
  return 0;
}

static double seconds_since(const struct timespec *t0)
{
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0->tv_nsec);
}

/* The crossbar map's summary: stuck devices, medians of the rest. */
static void xbar_report(const sl_xbar_twin *t)
{
  size_t n = 0, on = 0, off = 0, unknown = 0;
  for (size_t l = 0; l < t->geo.n_layers; l++)
    n += 2 * t->geo.n_in[l] * t->geo.n_out[l];
  double *v[4], *tmp = malloc((n ? n : 1) * sizeof *tmp);
  for (int k = 0; k < 4; k++)
    v[k] = malloc((n ? n : 1) * sizeof *v[k]);
  if (!tmp || !v[0] || !v[1] || !v[2] || !v[3])
    goto out;
  size_t q = 0;
  for (size_t l = 0; l < t->geo.n_layers; l++)
    for (size_t i = 0; i < 2 * t->geo.n_in[l] * t->geo.n_out[l]; i++, q++) {
      uint8_t s = t->stuck[l][i];
      on += s == 1;
      off += s == 2;
      unknown += s == SL_XBAR_UNKNOWN;
      int ok = s == 0;
      v[0][q] = ok ? t->prog_sd[l][i] : NAN;
      v[1][q] = ok ? t->read_sd[l][i] : NAN;
      v[2][q] = ok ? t->drift_gain[l][i] : NAN;
      v[3][q] = ok ? t->nu[l][i] : NAN;
    }
  printf("  %zu device(s): %zu stuck on, %zu stuck off, %zu not characterised\n", n, on, off,
         unknown);
  printf("  medians over the working devices: prog_sd %.4g (of the window), read_sd %.4g, "
         "drift gain at %.3g s %.4g, nu %.4g\n", median(v[0], n, tmp), median(v[1], n, tmp),
         t->geo.age, median(v[2], n, tmp), median(v[3], n, tmp));
out:
  free(tmp);
  for (int k = 0; k < 4; k++)
    free(v[k]);
}

/* Fit one crossbar recording into its map. */
static int fit_xbar(const char *rec_path, const char *out, size_t *n_out)
{
  sl_xbar_charac rec;
  sl_xbar_twin t;
  memset(&rec, 0, sizeof rec);
  memset(&t, 0, sizeof t);
  const char *ctx = rec_path;
  int rc = sl_xbar_charac_read(&rec, rec_path);
  if (!rc)
    rc = sl_xbar_fit(&rec, &t);
  if (!rc) {
    char source[1100];
    snprintf(source, sizeof source, "spikeloop fit --recording %s", rec_path);
    ctx = out;
    rc = sl_xbar_twin_write(&t, out, source);
  }
  *n_out = rec.n_dev;
  if (!rc)
    xbar_report(&t);
  sl_xbar_twin_free(&t);
  sl_xbar_charac_free(&rec);
  return rc ? cli_fail(ctx) : 0;
}

/* Fit one neuron recording into its twin (and values). */
static int fit_neurons(const char *rec_path, const char *out, const char *values, double dt,
                       const uint32_t *ids, size_t n_ids, size_t *n_out)
{
  sl_charac rec;
  sl_fit_result fit;
  memset(&rec, 0, sizeof rec);
  memset(&fit, 0, sizeof fit);
  int rc = sl_charac_read(&rec, rec_path);
  const char *ctx = rec_path;
  if (!rc)
    rc = sl_fit_run(&rec, &fit);
  if (!rc && ids) {
    ctx = "--neurons";
    rc = sl_fit_result_select(&fit, ids, n_ids);
  }
  if (!rc) {
    ctx = out;
    char source[1100];
    snprintf(source, sizeof source, "spikeloop fit --recording %s", rec_path);
    rc = sl_twin_write(&fit, dt, out, source);
    if (!rc && values) {
      ctx = values;
      rc = sl_fit_values_write(&fit, values, source);
    }
  }
  *n_out = fit.n;
  if (!rc)
    report(&fit);
  sl_fit_result_free(&fit);
  sl_charac_free(&rec);
  return rc ? cli_fail(ctx) : 0;
}

int cmd_fit(int argc, char **argv)
{
  const char *rec_path = NULL, *out = NULL, *values = NULL, *seeds_text = NULL;
  double dt = 1e-3;
  cli_shared sh = {NULL, NULL, NULL, NULL, NULL, 0};
  const cli_option own[] = {
      {.name = "--recording", .kind = CLI_TEXT, .out = &rec_path, .needs = "a file name"},
      {.name = "--out", .kind = CLI_TEXT, .out = &out, .needs = "a file name"},
      {.name = "--dt", .kind = CLI_CALL, .out = &dt, .needs = "a time step", .call = parse_dt},
      {.name = "--values", .kind = CLI_TEXT, .out = &values, .needs = "a file name"},
      {.name = "--chip-seed", .kind = CLI_TEXT, .out = &seeds_text, .needs = "seeds (1-8)"},
      {0}};
  const cli_spec spec = {"fit", usage, CLI_NEURONS | CLI_THREADS, 1, own, NULL};
  int rc = cli_parse(&spec, &sh, argc, argv);
  if (rc != CLI_RUN)
    return rc;
  const char *neurons = sh.neurons;
  if (!rec_path)
    return cli_usage_error("fit", "--recording REC.h5 is required");
  if (!out)
    return cli_usage_error("fit", "--out TWIN.h5 is required");
  if ((rc = cli_apply_threads(&sh)))
    return rc;
  uint32_t *seeds = NULL, *ids = NULL;
  size_t n_seeds = 1, n_ids = 0;
  if (seeds_text && (rc = cli_parse_seeds("fit", seeds_text, &seeds, &n_seeds)))
    return rc;
  if (neurons && sl_calib_parse_neurons(neurons, 1u << 16, &ids, &n_ids)) {
    free(seeds);
    return cli_fail("--neurons");
  }
  const int rank = sl_dist_rank(), ranks = sl_dist_size();
  struct timespec t_all;
  clock_gettime(CLOCK_MONOTONIC, &t_all);
  for (size_t k = 0; k < n_seeds && !rc; k++) {
    if ((int)(k % (size_t)ranks) != rank)
      continue;
    uint32_t seed = seeds ? seeds[k] : 0;
    char rp[1024], op[1024], vp[1024];
    cli_chip_path(rec_path, seed, n_seeds, rp, sizeof rp);
    cli_chip_path(out, seed, n_seeds, op, sizeof op);
    if (values)
      cli_chip_path(values, seed, n_seeds, vp, sizeof vp);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const int xbar = sl_xbar_is_recording(rp);
    if (n_seeds > 1)
      printf("[chip %u: %zu/%zu on rank %d] %s\n", (unsigned)seed, k + 1, n_seeds, rank, rp);
    size_t n = 0;
    rc = xbar ? fit_xbar(rp, op, &n)
              : fit_neurons(rp, op, values ? vp : NULL, dt, ids, n_ids, &n);
    if (!rc) {
      printf("fitted %zu %s of %s in %.2f s (%d thread(s))\n", n,
             xbar ? "device(s)" : "neuron(s)", rp, seconds_since(&t0), sl_get_num_threads());
      if (xbar)
        printf("crossbar map written to %s\n", op);
      else
        printf("twin for dt = %g s written to %s\n", dt, op);
      if (values && !xbar)
        printf("fitted values of %zu neuron(s) written to %s\n", n, vp);
      fflush(stdout);
    }
  }
  int failed = sl_dist_any(rc != 0);
  if (!failed && n_seeds > 1 && rank == 0)
    printf("fitted %zu chip(s) in %.1f s on %d rank(s)\n", n_seeds, seconds_since(&t_all), ranks);
  free(seeds);
  free(ids);
  return rc ? rc : failed ? 1 : 0;
}
