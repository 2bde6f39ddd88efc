/* memristor_twin.c -- experiment `memristor_twin` (issue 13): software
 * weights on an aged memristor crossbar, deployed naively and through the
 * crossbar's twin. On one chip of the memristor backend (default: 2% of
 * the devices stuck on, 2% stuck off, drift exponents spread per device
 * around 0.005 with sd 0.01, read 30 days after programming, global drift
 * compensation; write-verify, programming and read noise at their defaults):
 *   (a) train the Yin-Yang network in the ideal simulator;
 *   (b) deploy (a)'s weights on the crossbar with the naive mapping (one
 *       device of each pair at the weight's level, the other at g_min);
 *   (c) characterise every device of the chip (sl_xbar_run: programmed to
 *       0, 1/2 and 1 of the window, read 8 times right after and at the
 *       age, 8 repeats), fit the map (sl_xbar_fit) and deploy (a)'s weights
 *       through it (backend option twin=MAP: both devices of every pair
 *       chosen so that the predicted weight at the age is the nearest);
 *   (d) train (a) 5 more epochs in the loop on a crossbar that emulates the
 *       map (backend option emulate=MAP: its stuck devices and drift
 *       exponents, deployed through it as well) -- through the twin's
 *       forward model, without the chip -- and deploy that through the map;
 *   (e) the control of (d): the same 5 epochs in the loop on a crossbar
 *       without faults (no stuck device, every device drifting by the map's
 *       median exponent), deployed naively and through the map: what the
 *       loop gains by itself (it adapts to the 15 levels and the noise).
 * Weights are deployed with each layer's largest |w| at the largest level.
 * The map goes to a temporary file for the backend (removed afterwards) and
 * into the log: /xbar/<l>/stuck int32 (2 n_in n_out: G+ then G-, each
 * n_in x n_out row-major) and /xbar/<l>/drift_gain float32 (2 n_in, n_out).
 * /summary: acc_ideal, acc_naive, acc_twin, acc_twin_trained, acc_control_naive,
 * acc_control_twin (test accuracies), stuck_on,
 * stuck_off (devices the fit found), devices, map_prog_sd, map_read_sd,
 * map_drift_gain_sd (medians / sd over the working devices), and the
 * seconds of training, characterisation and fit. /params are (a)'s.
 * Resumable (phase_ckpt.c): each phase's results are stored when it ends
 * ((a)'s network, (c)'s map file), the trainings of (a), (d) and (e)
 * checkpoint every epoch (the crossbar's state included).
 */
#include "config.h"
#include "experiments.h"
#include "spikeloop/xbar.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const defaults[] = {
    "backend.name=memristor",
    "backend.options=seed=1,stuck_on=0.02,stuck_off=0.02,drift_nu_sd=0.01,drift_time=2592000",
    NULL};

#define TWIN_EPOCHS 5 /* (d): epochs in the loop on the emulated twin */
#define LEVELS 7.0 /* the largest weight level of the default 8-level devices */

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int check(const sl_config *cfg)
{
  if (strcmp(cfg->backend, "memristor") != 0)
    return sl_error(SL_EINVAL, "memristor_twin: backend.name must be memristor (got '%s')",
                    cfg->backend);
  if (strstr(cfg->backend_options, "levels="))
    return sl_error(SL_EINVAL, "memristor_twin: the experiment deploys on 8-level devices "
                    "(15 weight levels); backend.options must not set levels=");
  if (strstr(cfg->backend_options, "twin="))
    return sl_error(SL_EINVAL, "memristor_twin: backend.options must not set twin= (the "
                    "experiment fits the map itself)");
  return SL_OK;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Counts and summary figures of the map over its working devices. */
typedef struct {
  double on, off, devices, prog_sd, read_sd, gain_sd;
} map_figures;

static int figures(const sl_xbar_twin *t, map_figures *f)
{
  size_t n = 0;
  for (size_t l = 0; l < t->geo.n_layers; l++)
    n += 2 * t->geo.n_in[l] * t->geo.n_out[l];
  double *ps = malloc(n * sizeof *ps), *rs = malloc(n * sizeof *rs);
  if (!ps || !rs) {
    free(ps);
    free(rs);
    return sl_error(SL_ENOMEM, "memristor_twin: out of memory");
  }
  size_t k = 0;
  double s = 0, s2 = 0;
  memset(f, 0, sizeof *f);
  f->devices = (double)n;
  for (size_t l = 0; l < t->geo.n_layers; l++)
    for (size_t q = 0; q < 2 * t->geo.n_in[l] * t->geo.n_out[l]; q++) {
      f->on += t->stuck[l][q] == 1;
      f->off += t->stuck[l][q] == 2;
      if (t->stuck[l][q] != 0)
        continue;
      ps[k] = t->prog_sd[l][q];
      rs[k] = t->read_sd[l][q];
      s += t->drift_gain[l][q];
      s2 += (double)t->drift_gain[l][q] * t->drift_gain[l][q];
      k++;
    }
  qsort(ps, k, sizeof *ps, cmp_double);
  qsort(rs, k, sizeof *rs, cmp_double);
  f->prog_sd = k ? ps[k / 2] : NAN;
  f->read_sd = k ? rs[k / 2] : NAN;
  double m = k ? s / (double)k : NAN;
  f->gain_sd = k > 1 ? sqrt((s2 / (double)k - m * m) * (double)k / (double)(k - 1)) : NAN;
  free(ps);
  free(rs);
  return SL_OK;
}

/* The map of a faultless chip like the one at map_path: no stuck device,
 * every device drifting by that map's median exponent (over its working
 * devices), written to path. */
static int write_clean_map(const char *map_path, const char *path)
{
  sl_xbar_twin t;
  int rc = sl_xbar_twin_read(&t, map_path);
  if (rc)
    return rc;
  size_t n = 0, k = 0;
  for (size_t l = 0; l < t.geo.n_layers; l++)
    n += 2 * t.geo.n_in[l] * t.geo.n_out[l];
  double *nu = malloc(n * sizeof *nu);
  if (!nu) {
    sl_xbar_twin_free(&t);
    return sl_error(SL_ENOMEM, "memristor_twin: out of memory");
  }
  for (size_t l = 0; l < t.geo.n_layers; l++)
    for (size_t q = 0; q < 2 * t.geo.n_in[l] * t.geo.n_out[l]; q++)
      if (t.stuck[l][q] == 0)
        nu[k++] = t.nu[l][q];
  qsort(nu, k, sizeof *nu, cmp_double);
  const double med = k ? nu[k / 2] : 0.0;
  free(nu);
  const double lr = t.geo.age > t.geo.drift_t0 ? log(t.geo.age / t.geo.drift_t0) : 0.0;
  for (size_t l = 0; l < t.geo.n_layers; l++)
    for (size_t q = 0; q < 2 * t.geo.n_in[l] * t.geo.n_out[l]; q++) {
      t.stuck[l][q] = 0;
      t.g_stuck[l][q] = NAN;
      t.nu[l][q] = (float)med;
      t.drift_gain[l][q] = (float)exp(-med * lr);
    }
  rc = sl_xbar_twin_write(&t, path, "experiment memristor_twin: a faultless chip");
  sl_xbar_twin_free(&t);
  return rc;
}

/* A whole file as bytes (*buf: free it) / bytes as a new file. */
static int slurp(const char *path, uint8_t **buf, size_t *len)
{
  *buf = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f)
    return sl_error(SL_EIO, "memristor_twin: cannot read '%s'", path);
  long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
  if (n > 0 && fseek(f, 0, SEEK_SET) == 0 && (*buf = malloc((size_t)n)) != NULL &&
      fread(*buf, 1, (size_t)n, f) == (size_t)n)
    *len = (size_t)n;
  fclose(f);
  if (!*len) {
    free(*buf);
    *buf = NULL;
    return sl_error(SL_EIO, "memristor_twin: cannot read '%s'", path);
  }
  return SL_OK;
}

static int spill(const char *path, const uint8_t *buf, size_t len)
{
  FILE *f = fopen(path, "wb");
  int bad = !f || fwrite(buf, 1, len, f) != len;
  if (f && fclose(f) != 0)
    bad = 1;
  return bad ? sl_error(SL_EIO, "memristor_twin: cannot write '%s'", path) : SL_OK;
}

/* Phase c_twin: characterise the chip, fit the map into map_path, deploy
 * (a) through it; stored: the map file and {acc_twin, t_char, t_fit}. The
 * map is read back from its file either way. */
static int phase_c(const sl_config *dep, const sl_config *tc, sl_session *a, const char *map_path,
                   sl_runlog *log, sl_xbar_twin *map, double c[3])
{
  sl_runlog_reader *done = NULL;
  uint8_t *bytes = NULL;
  size_t len = 0;
  int found = 0;
  int rc = exp_phase_find("c_twin", &done);
  if (!rc && done) {
    rc = sl_runlog_ckpt_size(done, "map_file", &len, &found);
    if (!rc && !found)
      rc = sl_error(SL_EFORMAT, "memristor_twin: phase c_twin of the log has no map_file");
    if (!rc && !(bytes = malloc(len)))
      rc = sl_error(SL_ENOMEM, "memristor_twin: out of memory");
    if (!rc)
      rc = sl_runlog_ckpt_get_bytes(done, "map_file", bytes, len);
    if (!rc)
      rc = sl_runlog_ckpt_get_double(done, "result", c, 3);
    if (!rc)
      rc = spill(map_path, bytes, len);
    sl_runlog_reader_close(done);
    free(bytes);
    return rc ? rc : sl_xbar_twin_read(map, map_path);
  }
  printf("[c: twin] characterising every device of the chip\n");
  fflush(stdout);
  sl_session *chip = NULL;
  sl_xbar_charac rec;
  memset(&rec, 0, sizeof rec);
  double t1 = now();
  if (!rc)
    rc = sl_session_create(&chip, dep);
  if (!rc)
    rc = sl_xbar_run(sl_loop_hw(sl_session_loop(chip)), NULL, 0, NULL, &rec);
  c[1] = now() - t1;
  t1 = now();
  if (!rc)
    rc = sl_xbar_fit(&rec, map);
  if (!rc)
    rc = sl_xbar_twin_write(map, map_path, "experiment memristor_twin");
  c[2] = now() - t1;
  sl_xbar_twin_free(map);
  sl_xbar_charac_free(&rec);
  sl_session_free(chip);
  if (!rc)
    rc = sl_xbar_twin_read(map, map_path);
  if (!rc)
    rc = exp_deploy(tc, sl_session_net(a), &c[0]);
  if (!rc)
    rc = slurp(map_path, &bytes, &len);
  if (!rc)
    rc = sl_runlog_phase_begin(log);
  if (!rc)
    rc = sl_runlog_ckpt_put_bytes(log, "map_file", bytes, len);
  if (!rc)
    rc = sl_runlog_ckpt_put_double(log, "result", c, 3);
  if (!rc)
    rc = sl_runlog_phase_commit(log, "c_twin");
  free(bytes);
  return rc;
}

/* (a)'s weights trained TWIN_EPOCHS epochs in the loop on cfg. */
static int loop_train(const sl_config *cfg, sl_session *a, const char *label, sl_runlog *log,
                      sl_session **out)
{
  sl_run_result r;
  int rc = sl_session_create(out, cfg);
  if (!rc)
    rc = sl_session_set_weights(*out, sl_session_net(a));
  return rc ? rc : exp_phase_train(*out, TWIN_EPOCHS, log, label, &r);
}

/* backend.options of cfg with ",<key>=<path>" appended. */
static int with_option(sl_config *cfg, const char *key, const char *path)
{
  size_t len = strlen(cfg->backend_options);
  int n = snprintf(cfg->backend_options + len, sizeof cfg->backend_options - len, "%s%s=%s",
                   len ? "," : "", key, path);
  if (n < 0 || (size_t)n >= sizeof cfg->backend_options - len || strchr(path, ','))
    return sl_error(SL_EINVAL, "memristor_twin: the map's path '%s' does not fit into "
                    "backend.options (too long, or a comma)", path);
  return SL_OK;
}

/* Phases a-e (see the top); resumable: a_ideal, b_naive, c_twin,
 * d_twin_trained and e_control are stored when finished (phase_ckpt.c). */
static int run(const sl_config *cfg, sl_runlog *log)
{
  const double t0 = now();
  sl_config sim = exp_simulation(cfg);
  sl_session *a = NULL, *d = NULL, *e = NULL;
  double ra[3] = {0}, b[1] = {0}, c[3] = {0}, dd[1] = {0}, ee[2] = {0};
  sl_xbar_twin map;
  map_figures mf;
  memset(&map, 0, sizeof map);
  memset(&mf, 0, sizeof mf);
  char map_path[512];
  const char *tmp = getenv("TMPDIR");
  snprintf(map_path, sizeof map_path, "%s/spikeloop_memristor_twin_%ld.h5",
           tmp && *tmp ? tmp : "/tmp", (long)getpid());
  char clean_path[sizeof map_path + 16];
  snprintf(clean_path, sizeof clean_path, "%s.clean.h5", map_path);
  char w_unit[128];
  sl_config dep = *cfg, tc, em, cl;
  int done = 0;
  int rc = exp_phase_session(&sim, "a_ideal", "a: ideal", log, &a, ra);
  if (!rc)
    rc = exp_deploy_units(sl_session_net(a), LEVELS, "memristor_twin", w_unit, sizeof w_unit);
  if (!rc)
    rc = sl_config_set(&dep, "loop.w_unit", w_unit);
  tc = em = cl = dep;
  if (!rc)
    rc = with_option(&tc, "twin", map_path);
  em = tc;
  if (!rc)
    rc = with_option(&em, "emulate", map_path);
  if (!rc)
    rc = with_option(&cl, "emulate", clean_path);
  if (!rc)
    rc = exp_phase_result("b_naive", b, 1, &done);
  if (!rc && !done) {
    printf("[b: naive] weights of (a) on memristor %s, weight units %s\n", cfg->backend_options,
           w_unit);
    rc = exp_deploy(&dep, sl_session_net(a), &b[0]);
    if (!rc)
      rc = exp_phase_store_result(log, "b_naive", b, 1);
  }
  if (!rc)
    rc = phase_c(&dep, &tc, a, map_path, log, &map, c);
  if (!rc)
    rc = figures(&map, &mf);
  if (!rc) {
    printf("[c: twin] %.0f devices: %.0f stuck on, %.0f stuck off; median prog_sd %.4f of the "
           "window, read_sd %.4f; drift gain sd %.4f at %.3g s (characterised in %.1f s, "
           "fitted in %.2f s)\n", mf.devices, mf.on, mf.off, mf.prog_sd, mf.read_sd, mf.gain_sd,
           map.geo.age, c[1], c[2]);
    fflush(stdout);
  }
  /* (d) through the twin's forward model: (a) trained on, in the loop, a
   * crossbar that has the map's stuck devices and drift, then deployed
   * through the map on the chip */
  if (!rc)
    rc = exp_phase_result("d_twin_trained", dd, 1, &done);
  if (!rc && !done) {
    printf("[d: through the twin] (a) trained %d epochs in the loop on a crossbar emulating "
           "the map\n", TWIN_EPOCHS);
    fflush(stdout);
    rc = loop_train(&em, a, "d: twin-trained", log, &d);
    if (!rc)
      rc = exp_deploy(&tc, sl_session_net(d), &dd[0]);
    if (!rc)
      rc = exp_phase_store_result(log, "d_twin_trained", dd, 1);
  }
  /* (e) the control of (d): the same loop on a crossbar without the map's
   * faults (no stuck device, every device drifting by the map's median
   * exponent), deployed naively and through the map */
  if (!rc)
    rc = exp_phase_result("e_control", ee, 2, &done);
  if (!rc && !done) {
    rc = write_clean_map(map_path, clean_path);
    if (!rc) {
      printf("[e: control] (a) trained %d epochs in the loop on a crossbar without faults\n",
             TWIN_EPOCHS);
      fflush(stdout);
      rc = loop_train(&cl, a, "e: control", log, &e);
    }
    if (!rc)
      rc = exp_deploy(&dep, sl_session_net(e), &ee[0]);
    if (!rc)
      rc = exp_deploy(&tc, sl_session_net(e), &ee[1]);
    if (!rc)
      rc = exp_phase_store_result(log, "e_control", ee, 2);
  }
  if (!rc) {
    printf("\n  %-34s %8s\n", "memristor_twin", "test acc");
    printf("  %-34s %7.2f%%\n", "(a) ideal simulator", 100 * ra[0]);
    printf("  %-34s %7.2f%%\n", "(b) deployed naively", 100 * b[0]);
    printf("  %-34s %7.2f%%\n", "(c) deployed through the twin", 100 * c[0]);
    printf("  %-34s %7.2f%%\n", "(d) trained through the twin", 100 * dd[0]);
    printf("  %-34s %7.2f%%\n", "(e) loop without faults, naive", 100 * ee[0]);
    printf("  %-34s %7.2f%%\n", "(e) loop without faults, twin", 100 * ee[1]);
    const char *names[] = {"acc_ideal",   "acc_naive",   "acc_twin", "acc_twin_trained",
                           "acc_control_naive", "acc_control_twin",
                           "stuck_on",    "stuck_off",   "devices",
                           "map_prog_sd", "map_read_sd", "map_drift_gain_sd",
                           "seconds_ideal", "seconds_characterise", "seconds_fit"};
    const double values[] = {ra[0], b[0], c[0], dd[0], ee[0], ee[1], mf.on, mf.off, mf.devices,
                             mf.prog_sd, mf.read_sd, mf.gain_sd, ra[1], c[1], c[2]};
    for (size_t k = 0; !rc && k < sizeof values / sizeof values[0]; k++)
      rc = sl_runlog_put_summary(log, names[k], values[k]);
  }
  for (size_t l = 0; !rc && l < map.geo.n_layers; l++) {
    const size_t n = 2 * map.geo.n_in[l] * map.geo.n_out[l];
    int32_t *st = malloc(n * sizeof *st);
    char path[64];
    if (!st) {
      rc = sl_error(SL_ENOMEM, "memristor_twin: out of memory");
      break;
    }
    for (size_t q = 0; q < n; q++)
      st[q] = map.stuck[l][q];
    snprintf(path, sizeof path, "xbar/%zu/stuck", l);
    rc = sl_runlog_put_int(log, path, st, n);
    free(st);
    snprintf(path, sizeof path, "xbar/%zu/drift_gain", l);
    if (!rc)
      rc = sl_runlog_put_float(log, path, map.drift_gain[l], 2 * map.geo.n_in[l],
                               map.geo.n_out[l]);
  }
  if (!rc)
    rc = sl_session_log_network(a, log);
  if (!rc)
    rc = sl_runlog_finish(log, dd[0], (long)ra[2] + TWIN_EPOCHS, now() - t0);
  remove(map_path);
  sl_xbar_twin_free(&map);
  sl_session_free(d);
  sl_session_free(e);
  remove(clean_path);
  sl_session_free(a);
  return rc;
}

const experiment exp_memristor_twin = {
    "memristor_twin",
    "Yin-Yang on an aged memristor crossbar: software weights deployed naively vs through the "
    "crossbar's twin",
    defaults, run, check, 1};
