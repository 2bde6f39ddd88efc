/* twin_loop.c -- experiment `twin_loop` (issue 4): which route to a working
 * network costs the least chip time? Yin-Yang on one uncalibrated emulated
 * BrainScaleS-2 chip (the settings of yinyang_loop):
 *   (a) train in the ideal simulator, deploy on the chip;
 *   (b) characterise the chip, fit a digital twin, train on the twin (plain
 *       simulation with the fitted per-neuron parameters), deploy;
 *   (c) (b)'s weights, then TWIN_LOOP_EPOCHS epochs in the loop (the host
 *       model is the twin, the chip keeps its nominal configuration);
 *   (d) in the loop from scratch (train.epochs epochs);
 *   (e) calibrate the chip to the model's nominal targets, deploy (a).
 * "Loop epochs needed": the in-the-loop epochs until the test accuracy
 * first reaches acc_ideal - 0.02 (0 if the starting point already does, -1
 * if not within the epochs run).
 *
 * It also checks the tools against the emulator's hidden truth (read with
 * the bss2 truth functions, which training never sees): the relative error
 * of every fitted parameter of all 512 circuits (median, 95th percentile),
 * and the spread (sd/mean) of the true parameters before and after
 * calibration. v_reset is not calibrated (sl_calib_targets_default: the
 * fitted reset is an effective one). The calibration file deployed in (e) keeps the readout
 * circuits' leak and reset words at the backend's own (uncalibrated)
 * choice: the calibration targets are the hidden neurons' voltages, while
 * the readout rests lower (bss2.c); its time constants are calibrated.
 *
 * /summary: acc_ideal, acc_ideal_deployed, acc_twin, acc_twin_deployed,
 * acc_twin_then_loop, acc_loop, acc_calibrated_deployed,
 * loop_epochs_twin_then_loop, loop_epochs_loop, loop_epochs_run_*,
 * seconds_characterise, seconds_fit, seconds_calibrate, seconds_*,
 * fit_<param>_median / _p95, truth_spread_<param>_before / _after,
 * measured_spread_<param>_before / _after. /metrics, /params are (d)'s. */
#include "config.h"
#include "experiments.h"
#include "spikeloop/bss2.h"

#include <hdf5.h>
#include <hdf5_hl.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TWIN_LOOP_EPOCHS 5
#define MAX_EPOCHS 1000

static const char *const defaults[] = {"backend.name=bss2",
                                       "backend.options=chip_seed=1,sample_period=1e-6",
                                       "train.reg_amp=0.1", "train.epochs=12",
                                       "train.lr_decay=0.97", NULL};

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Progress that also keeps the test accuracy of every epoch. */
typedef struct {
  const char *label;
  long n;
  double acc[MAX_EPOCHS];
} track;

static void track_epoch(const sl_epoch_metrics *m, void *user)
{
  track *t = user;
  exp_progress(m, (void *)t->label);
  if (t->n < MAX_EPOCHS)
    t->acc[t->n++] = m->test_accuracy;
}

/* Epochs until acc >= target: 0 if start already does, -1 if never. */
static long epochs_needed(double start, const track *t, double target)
{
  if (start >= target)
    return 0;
  for (long e = 0; e < t->n; e++)
    if (t->acc[e] >= target)
      return e + 1;
  return -1;
}

static int cmpd(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* sd / mean of v[0..n) */
static double spread(const double *v, size_t n)
{
  double s = 0, s2 = 0;
  for (size_t i = 0; i < n; i++)
    s += v[i];
  double m = s / (double)n;
  for (size_t i = 0; i < n; i++)
    s2 += (v[i] - m) * (v[i] - m);
  return sqrt(s2 / (double)(n - 1)) / fabs(m);
}

/* The fitted parameters and the truth parameter they estimate. */
static const int fit_fp[SL_FP_N] = {SL_FP_TAU_MEM, SL_FP_TAU_SYN, SL_FP_V_TH, SL_FP_V_LEAK,
                                    SL_FP_GAIN,    SL_FP_V_RESET, SL_FP_REFRAC};
static const int fit_tp[SL_FP_N] = {SL_BSS2_TAU_MEM, SL_BSS2_TAU_SYN, SL_BSS2_THRESHOLD,
                                    SL_BSS2_LEAK,    SL_BSS2_GAIN,    SL_BSS2_RESET,
                                    SL_BSS2_REFRAC};

/* Relative errors of the fit of every circuit against the truth at the
 * words of the recording; prints them and stages the summary. */
static int fit_vs_truth(uint64_t seed, const sl_charac *rec, const sl_fit_result *fit,
                        sl_runlog *log)
{
  sl_bss2_words *w = malloc(sizeof *w);
  sl_bss2_truth *t = malloc(sizeof *t);
  double *e = malloc(fit->n * sizeof *e);
  int rc = w && t && e ? SL_OK : sl_error(SL_ENOMEM, "twin_loop: out of memory");
  if (!rc) {
    sl_bss2_words_default(w);
    for (int p = 0; p < SL_BSS2_NPARAM && p < SL_CHARAC_NDAC; p++)
      for (size_t i = 0; rec->dac[p] && i < rec->n; i++)
        w->word[p][rec->neurons[i]] = rec->dac[p][i];
    rc = sl_bss2_truth_fill(seed, w, t);
  }
  if (!rc)
    printf("\n  fit of %zu circuits vs the hidden truth: relative error\n"
           "  %-10s %8s %8s %8s\n",
           fit->n, "param", "median", "95th", "unfit");
  for (int k = 0; !rc && k < SL_FP_N; k++) {
    size_t bad = 0;
    for (size_t i = 0; i < fit->n; i++) {
      double f = sl_fit_to_hw(fit, fit_fp[k], i), tv = t->value[fit_tp[k]][fit->neurons[i]];
      e[i] = isfinite(f) ? fabs(f - tv) / fabs(tv) : INFINITY;
      bad += !isfinite(f);
    }
    qsort(e, fit->n, sizeof *e, cmpd);
    double med = e[fit->n / 2], p95 = e[(size_t)(0.95 * (double)(fit->n - 1))];
    printf("  %-10s %7.2f%% %7.2f%% %8zu%s\n", sl_fit_param_name(fit_fp[k]), 100 * med, 100 * p95,
           bad, fit_fp[k] == SL_FP_V_RESET || fit_fp[k] == SL_FP_REFRAC
                    ? "   (effective: the fit absorbs the reset hold)"
                    : "");
    char name[64];
    snprintf(name, sizeof name, "fit_%s_median", sl_fit_param_name(fit_fp[k]));
    rc = sl_runlog_put_summary(log, name, med);
    snprintf(name, sizeof name, "fit_%s_p95", sl_fit_param_name(fit_fp[k]));
    if (!rc)
      rc = sl_runlog_put_summary(log, name, p95);
  }
  free(w);
  free(t);
  free(e);
  return rc;
}

/* Spread of the true tau_mem, tau_syn, v_th, v_leak, v_reset over all
 * circuits at the nominal words and at the calibrated ones. */
static const int cal_tp[5] = {SL_BSS2_TAU_MEM, SL_BSS2_TAU_SYN, SL_BSS2_THRESHOLD, SL_BSS2_LEAK,
                              SL_BSS2_RESET};
static const int cal_fp[5] = {SL_FP_TAU_MEM, SL_FP_TAU_SYN, SL_FP_V_TH, SL_FP_V_LEAK,
                              SL_FP_V_RESET};

static int spreads(uint64_t seed, const char *calib, const sl_calib_report *rep, sl_runlog *log)
{
  sl_bss2_words *w = malloc(sizeof *w);
  sl_bss2_truth *t0 = malloc(sizeof *t0), *t1 = malloc(sizeof *t1);
  int rc = w && t0 && t1 ? SL_OK : sl_error(SL_ENOMEM, "twin_loop: out of memory");
  if (!rc)
    rc = sl_bss2_truth_fill(seed, NULL, t0);
  if (!rc) {
    sl_bss2_words_default(w);
    rc = sl_bss2_words_load(w, calib, NULL);
  }
  if (!rc)
    rc = sl_bss2_truth_fill(seed, w, t1);
  if (!rc)
    printf("\n  spread (sd/mean) across the 512 circuits    truth          measured by calibrate\n"
           "  %-10s %14s %9s %11s %9s\n",
           "param", "before", "after", "before", "after");
  for (int k = 0; !rc && k < 5; k++) {
    const int p = cal_tp[k], f = cal_fp[k];
    double b = spread(t0->value[p], SL_BSS2_CIRCUITS), a = spread(t1->value[p], SL_BSS2_CIRCUITS);
    double mb = rep->sd_before[f] / fabs(rep->mean_before[f]);
    double ma = rep->sd_after[f] / fabs(rep->mean_after[f]);
    printf("  %-10s %13.2f%% %8.2f%% %10.2f%% %8.2f%%\n", sl_bss2_param_name(p), 100 * b, 100 * a,
           100 * mb, 100 * ma);
    char name[64];
    snprintf(name, sizeof name, "truth_spread_%s_before", sl_bss2_param_name(p));
    rc = sl_runlog_put_summary(log, name, b);
    snprintf(name, sizeof name, "truth_spread_%s_after", sl_bss2_param_name(p));
    if (!rc)
      rc = sl_runlog_put_summary(log, name, a);
    snprintf(name, sizeof name, "measured_spread_%s_before", sl_bss2_param_name(p));
    if (!rc)
      rc = sl_runlog_put_summary(log, name, mb);
    snprintf(name, sizeof name, "measured_spread_%s_after", sl_bss2_param_name(p));
    if (!rc)
      rc = sl_runlog_put_summary(log, name, ma);
  }
  free(w);
  free(t0);
  free(t1);
  return rc;
}

/* The calibration file for the network of `hw` (bss2, uncalibrated): the
 * calibrated words, but the readout circuits' leak and reset words as the
 * backend chose them. */
static int deploy_calib(const char *calib, sl_hw *hw, const char *out)
{
  sl_bss2_words *w = malloc(sizeof *w);
  int rc = w ? SL_OK : sl_error(SL_ENOMEM, "twin_loop: out of memory");
  if (!rc) {
    sl_bss2_words_default(w);
    rc = sl_bss2_words_load(w, calib, NULL);
  }
  const sl_backend_setup *su = sl_hw_setup(hw);
  size_t first = 0;
  for (size_t l = 0; l < su->n_layers; l++)
    first += su->size[l];
  const int keep[2] = {SL_BSS2_LEAK, SL_BSS2_RESET};
  for (size_t c = first; !rc && c < first + su->size[su->n_layers]; c++)
    for (int k = 0; !rc && k < 2; k++) {
      char key[64], buf[64];
      snprintf(key, sizeof key, "dac.%s.%zu", sl_bss2_word_name(keep[k]), c);
      rc = sl_hw_read_config(hw, key, buf, sizeof buf);
      if (!rc)
        w->word[keep[k]][c] = (int32_t)atoi(buf);
    }
  hid_t f = -1, g = -1;
  H5E_BEGIN_TRY
  {
    f = rc ? -1 : H5Fcreate(out, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    g = f < 0 ? -1 : H5Gcreate2(f, "/dac", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t n = SL_BSS2_CIRCUITS;
    for (int p = 0; g >= 0 && p < SL_BSS2_NPARAM; p++) {
      char name[64];
      snprintf(name, sizeof name, "/dac/%s", sl_bss2_word_name(p));
      if (p != SL_BSS2_GAIN && p != SL_BSS2_REFRAC &&
          H5LTmake_dataset(f, name, 1, &n, H5T_STD_I32LE, w->word[p]) < 0) {
        H5Gclose(g);
        g = -1;
      }
    }
    if (!rc && g < 0)
      rc = sl_error(SL_EIO, "twin_loop: cannot write '%s'", out);
    if (g >= 0)
      H5Gclose(g);
    if (f >= 0 && H5Fclose(f) < 0 && !rc)
      rc = sl_error(SL_EIO, "twin_loop: cannot write '%s'", out);
  }
  H5E_END_TRY;
  free(w);
  return rc;
}

static int put(sl_runlog *log, const char *name, double v, int rc)
{
  return rc ? rc : sl_runlog_put_summary(log, name, v);
}

/* Everything one twin_loop run builds, measures and finally frees. */
typedef struct {
  uint64_t seed;
  char twin[160], calib[160], calib_deploy[160]; /* temporary files */
  sl_session *a, *b, *c, *d;
  sl_run_result ra, rb, rc_res, rd;
  sl_charac rec;
  sl_fit_result fit;
  track tc, td;
  sl_calib_report rep;
  double acc_ideal_dep, acc_twin_dep, acc_cal_dep, target;
  double sec_char, sec_fit, sec_c;
  long need_c, need_d;
} twin_run;

static int temp_paths(twin_run *st)
{
  const char *tmpdir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  if (strlen(tmpdir) > 100)
    return sl_error(SL_EINVAL, "twin_loop: TMPDIR '%s' is too long", tmpdir);
  snprintf(st->twin, sizeof st->twin, "%s/twin_loop_twin.%ld.h5", tmpdir, (long)getpid());
  snprintf(st->calib, sizeof st->calib, "%s/twin_loop_calib.%ld.h5", tmpdir, (long)getpid());
  snprintf(st->calib_deploy, sizeof st->calib_deploy, "%s/twin_loop_calib_net.%ld.h5", tmpdir,
           (long)getpid());
  return SL_OK;
}

/* Characterise the whole chip as it runs the network (same options), fit
 * every circuit, compare with the truth and write the twin of the network's
 * neurons (global ids 0 .. N-1). */
static int characterise_fit_twin(const sl_config *cfg, twin_run *st, sl_runlog *log)
{
  printf("[characterise] all %d circuits of bss2 %s\n", SL_BSS2_CIRCUITS, cfg->backend_options);
  fflush(stdout);
  double t0 = now();
  int rc = sl_calib_characterise_bss2(cfg->backend_options, NULL, 0, &st->rec, NULL);
  st->sec_char = now() - t0;
  t0 = now();
  if (!rc)
    rc = sl_fit_run(&st->rec, &st->fit);
  st->sec_fit = now() - t0;
  if (!rc) {
    printf("  characterised in %.1f s, fitted in %.1f s (%d thread(s))\n", st->sec_char,
           st->sec_fit, sl_get_num_threads());
    rc = fit_vs_truth(st->seed, &st->rec, &st->fit, log);
  }
  size_t n_net = 3; /* Yin-Yang classes: the readout */
  for (size_t l = 0; l < cfg->n_layers; l++)
    n_net += (size_t)cfg->hidden[l];
  uint32_t *ids = malloc(n_net * sizeof *ids);
  if (!rc && !ids)
    rc = sl_error(SL_ENOMEM, "twin_loop: out of memory");
  for (size_t i = 0; !rc && i < n_net; i++)
    ids[i] = (uint32_t)i;
  if (!rc)
    rc = sl_fit_result_select(&st->fit, ids, n_net);
  free(ids);
  if (!rc)
    rc = sl_twin_write(&st->fit, cfg->dt, st->twin, "experiment twin_loop");
  return rc;
}

/* (a) ideal and (b) twin-trained, each deployed; (c) (b)'s weights, then a
 * few epochs in the loop with the twin as host; (d) in the loop from
 * scratch. */
static int train_four_ways(const sl_config *cfg, twin_run *st, sl_runlog *log)
{
  sl_config sim = exp_simulation(cfg), sim_twin = sim, chip_twin = *cfg;
  snprintf(sim_twin.twin, sizeof sim_twin.twin, "%s", st->twin);
  snprintf(chip_twin.twin, sizeof chip_twin.twin, "%s", st->twin);
  int rc = exp_train(&sim, "a: ideal", NULL, &st->a, &st->ra);
  if (!rc)
    rc = exp_deploy(cfg, sl_session_net(st->a), &st->acc_ideal_dep);
  st->target = st->ra.test_accuracy - 0.02;
  if (!rc)
    rc = exp_train(&sim_twin, "b: twin", NULL, &st->b, &st->rb);
  if (!rc)
    rc = exp_deploy(cfg, sl_session_net(st->b), &st->acc_twin_dep);
  if (!rc) {
    printf("[%s] backend bss2 %s, twin host model, %d epochs\n", st->tc.label,
           cfg->backend_options, TWIN_LOOP_EPOCHS);
    rc = sl_session_create(&st->c, &chip_twin);
  }
  if (!rc)
    rc = sl_session_set_weights(st->c, sl_session_net(st->b));
  double t0 = now();
  if (!rc)
    rc = sl_session_train(st->c, TWIN_LOOP_EPOCHS, NULL, track_epoch, &st->tc, &st->rc_res);
  st->sec_c = now() - t0;
  if (!rc) {
    printf("[%s] backend bss2 %s, %ld epochs\n", st->td.label, cfg->backend_options, cfg->epochs);
    rc = sl_session_create(&st->d, cfg);
  }
  if (!rc)
    rc = sl_session_train(st->d, cfg->epochs, log, track_epoch, &st->td, &st->rd);
  return rc;
}

/* (e) calibrate every circuit to the network's nominal targets, then deploy
 * (a) on the calibrated chip. */
static int calibrate_deploy(const sl_config *cfg, twin_run *st, sl_runlog *log)
{
  sl_calib_targets tg = sl_calib_targets_default();
  tg.tau_mem = cfg->tau_mem * 1e-3; /* bss2: hardware s = model s * 1e-3 */
  tg.tau_syn = cfg->tau_syn * 1e-3;
  tg.v_th = 0.5 + 0.3 * cfg->v_th;  /* volts(v) = 0.5 + 0.3 v */
  tg.v_leak = 0.5 + 0.3 * cfg->v_leak;
  printf("[e: calibrate] all circuits to tau_mem %g s, tau_syn %g s, v_th %g V, v_leak %g V "
         "(v_reset: nominal word)\n",
         tg.tau_mem, tg.tau_syn, tg.v_th, tg.v_leak);
  fflush(stdout);
  int rc = sl_calib_run(cfg->backend_options, &tg, st->calib, &st->rep);
  if (!rc)
    rc = spreads(st->seed, st->calib, &st->rep, log);
  if (!rc)
    rc = deploy_calib(st->calib, sl_loop_hw(sl_session_loop(st->d)), st->calib_deploy);
  if (!rc) {
    sl_config cal = *cfg;
    size_t len = strlen(cal.backend_options);
    if (snprintf(cal.backend_options + len, sizeof cal.backend_options - len, "%scalib=%s",
                 len ? "," : "", st->calib_deploy) >= (int)(sizeof cal.backend_options - len))
      rc = sl_error(SL_EINVAL, "twin_loop: backend.options too long to add calib=");
    if (!rc)
      rc = exp_deploy(&cal, sl_session_net(st->a), &st->acc_cal_dep);
  }
  return rc;
}

static void print_table(const twin_run *st)
{
  printf("\n  %-44s %9s %12s\n", "twin_loop (Yin-Yang, bss2 uncalibrated)", "test acc",
         "loop epochs");
  printf("  %-44s %8.2f%% %12s\n", "ideal simulator (reference)", 100 * st->ra.test_accuracy, "-");
  printf("  %-44s %8.2f%% %12s\n", "(a) ideal, deployed", 100 * st->acc_ideal_dep, "0");
  printf("  %-44s %8.2f%% %12s\n", "(b) twin-trained, deployed", 100 * st->acc_twin_dep, "0");
  printf("  %-44s %8.2f%% %12d\n", "(c) twin-trained, then in the loop",
         100 * st->rc_res.test_accuracy, TWIN_LOOP_EPOCHS);
  printf("  %-44s %8.2f%% %12ld\n", "(d) in the loop from scratch", 100 * st->rd.test_accuracy,
         st->rd.epochs);
  printf("  %-44s %8.2f%% %12s\n", "(e) calibrated chip, (a) deployed", 100 * st->acc_cal_dep, "0");
  printf("  loop epochs needed to reach %.2f%% (ideal - 2 points; -1: not reached): "
         "(c) %ld, (d) %ld\n",
         100 * st->target, st->need_c, st->need_d);
  printf("  chip-side seconds: characterise %.1f, fit %.1f, calibrate %.1f, loop (c) %.1f, "
         "loop (d) %.1f\n",
         st->sec_char, st->sec_fit, st->rep.seconds, st->sec_c, st->rd.seconds);
}

static int put_summary(const twin_run *st, sl_runlog *log, int rc)
{
  rc = put(log, "acc_ideal", st->ra.test_accuracy, rc);
  rc = put(log, "acc_ideal_deployed", st->acc_ideal_dep, rc);
  rc = put(log, "acc_twin", st->rb.test_accuracy, rc);
  rc = put(log, "acc_twin_deployed", st->acc_twin_dep, rc);
  rc = put(log, "acc_twin_then_loop", st->rc_res.test_accuracy, rc);
  rc = put(log, "acc_loop", st->rd.test_accuracy, rc);
  rc = put(log, "acc_calibrated_deployed", st->acc_cal_dep, rc);
  rc = put(log, "loop_epochs_target", st->target, rc);
  rc = put(log, "loop_epochs_twin_then_loop", (double)st->need_c, rc);
  rc = put(log, "loop_epochs_run_twin_then_loop", TWIN_LOOP_EPOCHS, rc);
  rc = put(log, "loop_epochs_run_loop", (double)st->rd.epochs, rc);
  rc = put(log, "seconds_characterise", st->sec_char, rc);
  rc = put(log, "seconds_fit", st->sec_fit, rc);
  rc = put(log, "seconds_calibrate", st->rep.seconds, rc);
  rc = put(log, "seconds_ideal", st->ra.seconds, rc);
  rc = put(log, "seconds_twin", st->rb.seconds, rc);
  rc = put(log, "seconds_twin_then_loop", st->sec_c, rc);
  rc = put(log, "seconds_loop", st->rd.seconds, rc);
  rc = put(log, "loop_epochs_loop", (double)st->need_d, rc);
  return rc;
}

static int run(const sl_config *cfg, sl_runlog *log)
{
  if (strcmp(cfg->backend, "bss2") != 0)
    return sl_error(SL_EINVAL, "twin_loop: backend.name must be bss2 (the tools characterise "
                    "and calibrate the emulated chip), not '%s'", cfg->backend);
  static twin_run st; /* ~ the size of two tracks of MAX_EPOCHS: off the stack */
  memset(&st, 0, sizeof st);
  char sbuf[32] = "1";
  sl_backend_option(cfg->backend_options, "chip_seed", sbuf, sizeof sbuf);
  st.seed = strtoull(sbuf, NULL, 10);
  int rc = temp_paths(&st);
  if (rc)
    return rc;
  st.tc.label = "c: twin, then loop";
  st.td.label = "d: loop from scratch";

  rc = characterise_fit_twin(cfg, &st, log);
  if (!rc)
    rc = train_four_ways(cfg, &st, log);
  if (!rc)
    rc = calibrate_deploy(cfg, &st, log);
  st.need_c = epochs_needed(st.acc_twin_dep, &st.tc, st.target);
  st.need_d = epochs_needed(0.0, &st.td, st.target);
  if (!rc)
    print_table(&st);
  rc = put_summary(&st, log, rc);
  if (!rc)
    rc = sl_session_log_network(st.d, log);
  if (!rc)
    rc = sl_runlog_finish(log, st.rd.test_accuracy, st.rd.epochs,
                          st.ra.seconds + st.rb.seconds + st.sec_c + st.rd.seconds +
                              st.sec_char + st.sec_fit + st.rep.seconds);
  sl_session_free(st.a);
  sl_session_free(st.b);
  sl_session_free(st.c);
  sl_session_free(st.d);
  sl_fit_result_free(&st.fit);
  sl_charac_free(&st.rec);
  remove(st.twin);
  remove(st.calib);
  remove(st.calib_deploy);
  return rc;
}

const experiment exp_twin_loop = {
    "twin_loop",
    "Yin-Yang on an uncalibrated bss2 chip: ideal, twin, twin+loop, loop, calibrated",
    defaults, run, NULL};
