/* cmd_fit.c -- `spikeloop fit --recording rec.h5 --out twin.h5 [--dt S]
 * [--neurons LIST]`: fit every neuron of a characterisation recording (GSL
 * trust region, OpenMP over neurons) and write the digital twin that
 * neuron.twin (or --set neuron.twin=FILE) gives the simulator and the
 * in-the-loop host model. Prints per-parameter medians, standard errors
 * and the flag counts; --values OUT.h5 writes every neuron's fit at full
 * precision. */
#include "config.h"
#include "cli.h"
#include "commands.h"
#include "spikeloop/spikeloop.h"
#include "spikeloop/charac.h"
#include "spikeloop/fit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(void)
{
  printf("usage: spikeloop fit --recording REC.h5 --out TWIN.h5 [--dt S] [--neurons LIST]\n"
         "                     [--values VALUES.h5]\n"
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
         "                      not fitted (the twin fills those with medians)\n");
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

int cmd_fit(int argc, char **argv)
{
  const char *rec_path = NULL, *out = NULL, *values = NULL;
  double dt = 1e-3;
  cli_shared sh = {NULL, NULL, NULL, NULL, NULL, 0};
  const cli_option own[] = {
      {.name = "--recording", .kind = CLI_TEXT, .out = &rec_path, .needs = "a file name"},
      {.name = "--out", .kind = CLI_TEXT, .out = &out, .needs = "a file name"},
      {.name = "--dt", .kind = CLI_CALL, .out = &dt, .needs = "a time step", .call = parse_dt},
      {.name = "--values", .kind = CLI_TEXT, .out = &values, .needs = "a file name"},
      {0}};
  const cli_spec spec = {"fit", usage, CLI_NEURONS, 1, own, NULL};
  int rc = cli_parse(&spec, &sh, argc, argv);
  if (rc != CLI_RUN)
    return rc;
  const char *neurons = sh.neurons;
  if (!rec_path)
    return cli_usage_error("fit", "--recording REC.h5 is required");
  if (!out)
    return cli_usage_error("fit", "--out TWIN.h5 is required");
  uint32_t *ids = NULL;
  size_t n_ids = 0;
  if (neurons && sl_calib_parse_neurons(neurons, 1u << 16, &ids, &n_ids))
    return cli_fail("--neurons");
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  sl_charac rec;
  sl_fit_result fit;
  memset(&rec, 0, sizeof rec);
  memset(&fit, 0, sizeof fit);
  rc = sl_charac_read(&rec, rec_path);
  const char *ctx = rec_path;
  if (!rc)
    rc = sl_fit_run(&rec, &fit);
  if (!rc && ids) {
    ctx = "--neurons";
    rc = sl_fit_result_select(&fit, ids, n_ids);
  }
  if (!rc) {
    ctx = out;
    char source[512];
    snprintf(source, sizeof source, "spikeloop fit --recording %s", rec_path);
    rc = sl_twin_write(&fit, dt, out, source);
    if (!rc && values) {
      ctx = values;
      rc = sl_fit_values_write(&fit, values, source);
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (!rc) {
    double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("fitted %zu neuron(s) of %s in %.1f s (%d thread(s))\n", fit.n, rec_path, sec,
           sl_get_num_threads());
    report(&fit);
    printf("twin for dt = %g s written to %s\n", dt, out);
    if (values)
      printf("fitted values of %zu neuron(s) written to %s\n", fit.n, values);
  }
  free(ids);
  sl_fit_result_free(&fit);
  sl_charac_free(&rec);
  return rc ? cli_fail(ctx) : 0;
}
