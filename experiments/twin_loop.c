/* twin_loop.c -- experiment `twin_loop` (issues 4 and 13): which route to
 * a working network costs the least chip time, and does calibration make
 * software-trained weights work on the chip? Yin-Yang on one emulated
 * BrainScaleS-2 chip (the settings of yinyang_loop, but 12 epochs and time
 * constants of 6.5 us, which every circuit of every chip can reach: the
 * fastest a circuit gets is 3 ms / 1023 x its mismatch, up to exp(0.75),
 * i.e. 6.21 us, so 6 us is out of reach for a few circuits of most chips):
 *   (a) train in the ideal simulator, deploy on the uncalibrated chip;
 *   (b) characterise the chip at the words it runs the network with (but
 *       the gain word, and the readout's threshold), fit a digital twin,
 *       train on the twin (plain simulation with the fitted per-neuron
 *       parameters), deploy;
 *   (c) (b)'s weights, then TWIN_LOOP_EPOCHS epochs in the loop (the host
 *       model is the twin, the chip keeps its nominal configuration);
 *   (d) in the loop from scratch (train.epochs epochs);
 *   (e) calibrate the chip for (a)'s network, deploy (a).
 * "Loop epochs needed": the in-the-loop epochs until the test accuracy
 * first reaches acc_ideal - 0.02 (0 if the starting point already does, -1
 * if not within the epochs run).
 *
 * (e) calibrates every word of all 512 circuits (leak, reset, threshold,
 * tau_mem, tau_syn, synaptic gain, refractory time) to the targets the
 * backend derives for the network (sl_calib_targets_from_hw): hidden and
 * readout circuits each to their own mapping, the gain such that the chip's
 * sampled PSP equals the model's (the nominal mapping leaves it 15% short),
 * the refractory time in the middle of its substep; unused circuits to the
 * hidden targets. Deploying software weights, as Cramer et al. do, scales
 * each layer's largest |w| to 63 units (the loop's automatic unit, 4 sd of
 * the initial weights, clips the trained readout); acc_deployed and
 * acc_calibrated use this same scaling on the uncalibrated and calibrated
 * chip, so their difference is the calibration's alone. acc_ideal_deployed
 * is (a) with the loop's automatic unit, as before.
 *
 * It also checks the tools against the emulator's hidden truth (read with
 * the bss2 truth functions, which training never sees): the relative error
 * of every fitted parameter of all 512 circuits (median, 95th percentile),
 * and for the network's circuits the spread (sd/mean) and bias (mean - 1)
 * of true / target at the uncalibrated and at the calibrated words.
 *
 * /summary: acc_ideal, acc_deployed (uncalibrated), acc_calibrated, acc_twin,
 * acc_loop, acc_ideal_deployed, acc_twin_deployed, acc_twin_then_loop,
 * acc_calibrated_deployed (= acc_calibrated, the older name),
 * acc_calibrated_only_<param> ((a) deployed with only that word calibrated),
 * spread_before_<param>, spread_after_<param>, bias_before_<param>,
 * bias_after_<param> (truth, network circuits), measured_spread_<param>_before
 * / _after (the calibration's own characterisation, 512 circuits),
 * unreachable_<param> (circuits whose target is outside their measured
 * range), loop_epochs_twin_then_loop, loop_epochs_loop, loop_epochs_run_*,
 * seconds_characterise, seconds_fit, seconds_calibrate, seconds_*;
 * <param>: v_leak, v_reset, v_th, tau_mem, tau_syn, gain, refrac; and
 * fit_<p>_median / _p95 for the fitted p: tau_mem, tau_syn, v_th, v_leak,
 * gain_c, v_reset, refrac_s (the truth_spread_* keys of before issue 13
 * are spread_before_* / spread_after_*, now over the network's circuits
 * and relative to their targets). /metrics, /params are (d)'s. */
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
                                       "train.lr_decay=0.97", "neuron.tau_mem=0.0065",
                                       "neuron.tau_syn=0.0065", "readout.tau_mem=0.0065",
                                       "readout.tau_syn=0.0065", NULL};

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
    printf("  %-10s %7.2f%% %7.2f%% %8zu\n", sl_fit_param_name(fit_fp[k]), 100 * med, 100 * p95,
           bad);
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

/* cfg with ",calib=<path>" added to its backend options. */
static int with_calib(const sl_config *cfg, const char *path, sl_config *out)
{
  *out = *cfg;
  size_t len = strlen(out->backend_options);
  if (snprintf(out->backend_options + len, sizeof out->backend_options - len, "%scalib=%s",
               len ? "," : "", path) >= (int)(sizeof out->backend_options - len))
    return sl_error(SL_EINVAL, "twin_loop: backend.options too long to add calib=");
  return SL_OK;
}

/* The words bss2 instance hw uses on its first n circuits into w (the
 * others unchanged). */
static int hw_words(sl_hw *hw, size_t n, sl_bss2_words *w)
{
  int rc = SL_OK;
  for (int p = 0; !rc && p < SL_BSS2_NPARAM; p++)
    for (size_t c = 0; !rc && c < n; c++) {
      char key[64], buf[64];
      snprintf(key, sizeof key, "dac.%s.%zu", sl_bss2_word_name(p), c);
      rc = sl_hw_read_config(hw, key, buf, sizeof buf);
      if (!rc)
        w->word[p][c] = (int32_t)atoi(buf);
    }
  return rc;
}

/* A calib file with the words of w whose bit is set in mask. */
static int words_file(const sl_bss2_words *w, unsigned mask, const char *out)
{
  int rc = SL_OK;
  hid_t f = -1, g = -1;
  H5E_BEGIN_TRY
  {
    f = H5Fcreate(out, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    g = f < 0 ? -1 : H5Gcreate2(f, "/dac", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
      rc = sl_error(SL_EIO, "twin_loop: cannot write '%s'", out);
    hsize_t n = SL_BSS2_CIRCUITS;
    for (int p = 0; !rc && p < SL_BSS2_NPARAM; p++) {
      char name[64];
      snprintf(name, sizeof name, "/dac/%s", sl_bss2_word_name(p));
      if ((mask & (1u << p)) && H5LTmake_dataset(f, name, 1, &n, H5T_STD_I32LE, w->word[p]) < 0)
        rc = sl_error(SL_EIO, "twin_loop: cannot write '%s'", out);
    }
    if (g >= 0)
      H5Gclose(g);
    if (f >= 0 && H5Fclose(f) < 0 && !rc)
      rc = sl_error(SL_EIO, "twin_loop: cannot write '%s'", out);
  }
  H5E_END_TRY;
  return rc;
}

/* The words the chip runs cfg's network with (the backend's nominal mapping
 * of the model), for the characterisation of the twin: the twin must say
 * what the chip does at those words (6.5 us is not the characterisation's
 * own 6 us). The gain word stays the characterisation's (a PSP large enough
 * to fit; the twin's gain is relative to the word's nominal), and so does
 * the readout's threshold (the network's, 1023, would never let it spike;
 * the readout has none); unused circuits take hidden neuron 0's words. */
static int twin_words_file(const sl_config *cfg, const char *out)
{
  sl_session *s = NULL;
  sl_bss2_words *w = malloc(sizeof *w);
  int rc = w ? sl_session_create(&s, cfg) : sl_error(SL_ENOMEM, "twin_loop: out of memory");
  const sl_backend_setup *su = rc ? NULL : sl_hw_setup(sl_loop_hw(sl_session_loop(s)));
  size_t n = 0;
  for (size_t l = 0; su && l <= su->n_layers; l++)
    n += su->size[l];
  if (!rc) {
    sl_bss2_words_default(w);
    const int32_t th = w->word[SL_BSS2_THRESHOLD][0];
    rc = hw_words(sl_loop_hw(sl_session_loop(s)), n, w);
    for (size_t c = n - su->size[su->n_layers]; !rc && c < n; c++)
      w->word[SL_BSS2_THRESHOLD][c] = th;
    for (int p = 0; !rc && p < SL_BSS2_NPARAM; p++) /* unused circuits: hidden neuron 0's */
      for (size_t c = n; c < SL_BSS2_CIRCUITS; c++)
        w->word[p][c] = w->word[p][0];
  }
  if (!rc)
    rc = words_file(w, ((1u << SL_BSS2_NPARAM) - 1) & ~(1u << SL_BSS2_GAIN), out);
  sl_session_free(s);
  free(w);
  return rc;
}

/* A calib file with only word p of `calib` (the others stay the backend's). */
static int one_word_file(const char *calib, int p, const char *out)
{
  sl_bss2_words *w = malloc(sizeof *w);
  int rc = w ? SL_OK : sl_error(SL_ENOMEM, "twin_loop: out of memory");
  if (!rc) {
    sl_bss2_words_default(w);
    rc = sl_bss2_words_load(w, calib, NULL);
  }
  if (!rc)
    rc = words_file(w, 1u << p, out);
  free(w);
  return rc;
}

/* The fitted parameter of each bss2 word. */
static const int word_fp[SL_BSS2_NPARAM] = {SL_FP_V_LEAK,  SL_FP_V_RESET, SL_FP_V_TH,
                                            SL_FP_TAU_MEM, SL_FP_TAU_SYN, SL_FP_GAIN,
                                            SL_FP_REFRAC};

/* Spread (sd/mean) and bias (mean - 1) of true / target of word p over the
 * circuits [0, n) that have a target. */
static void rel_spread(const sl_bss2_truth *t, const double *target, int p, size_t n,
                       double *spr, double *bias)
{
  double s = 0, s2 = 0;
  size_t m = 0;
  for (size_t c = 0; c < n; c++) {
    double T = target[(size_t)p * SL_BSS2_CIRCUITS + c];
    if (!isfinite(T))
      continue;
    double q = t->value[p][c] / T;
    s += q;
    s2 += q * q;
    m++;
  }
  double mean = m ? s / (double)m : NAN;
  *spr = m > 1 ? sqrt(fmax(0.0, (s2 - s * s / (double)m) / (double)(m - 1))) / mean : NAN;
  *bias = mean - 1.0;
}

/* The truth of the network's n circuits at the uncalibrated words of hw
 * and at the words of the calib file, against the targets; prints a table
 * with the calibration's own measurement and stages the summary. */
static int spreads(uint64_t seed, sl_hw *hw, size_t n, const double *target, const char *calib,
                   const sl_calib_report *rep, sl_runlog *log)
{
  sl_bss2_words *w = malloc(sizeof *w);
  sl_bss2_truth *t0 = malloc(sizeof *t0), *t1 = malloc(sizeof *t1);
  int rc = w && t0 && t1 ? SL_OK : sl_error(SL_ENOMEM, "twin_loop: out of memory");
  if (!rc) {
    sl_bss2_words_default(w);
    rc = hw_words(hw, n, w);
  }
  if (!rc)
    rc = sl_bss2_truth_fill(seed, w, t0);
  if (!rc)
    rc = sl_bss2_words_load(w, calib, NULL);
  if (!rc)
    rc = sl_bss2_truth_fill(seed, w, t1);
  if (!rc)
    printf("\n  true / target over the network's %zu circuits (readout: leak, tau, gain)"
           "                measured by calibrate (512)\n"
           "  %-9s %18s %18s %18s %18s %20s %12s\n",
           n, "param", "spread before", "spread after", "bias before", "bias after",
           "spread before/after", "unreachable");
  for (int p = 0; !rc && p < SL_BSS2_NPARAM; p++) {
    double sb, bb, sa, ba;
    rel_spread(t0, target, p, n, &sb, &bb);
    rel_spread(t1, target, p, n, &sa, &ba);
    const int f = word_fp[p];
    printf("  %-9s %17.2f%% %17.2f%% %+17.2f%% %+17.2f%% %9.2f%% /%6.2f%% %12zu\n",
           sl_bss2_param_name(p), 100 * sb, 100 * sa, 100 * bb, 100 * ba,
           100 * rep->spread_before[f], 100 * rep->spread_after[f], rep->n_unreachable[f]);
    static const char *const fmt[7] = {"spread_before_%s", "spread_after_%s", "bias_before_%s",
                                       "bias_after_%s", "measured_spread_%s_before",
                                       "measured_spread_%s_after", "unreachable_%s"};
    const double v[7] = {sb, sa, bb, ba, rep->spread_before[f], rep->spread_after[f],
                         (double)rep->n_unreachable[f]};
    for (int k = 0; k < 7 && !rc; k++) {
      char name[64];
      snprintf(name, sizeof name, fmt[k], sl_bss2_param_name(p));
      rc = sl_runlog_put_summary(log, name, v[k]);
    }
  }
  free(w);
  free(t0);
  free(t1);
  return rc;
}

static int put(sl_runlog *log, const char *name, double v, int rc)
{
  return rc ? rc : sl_runlog_put_summary(log, name, v);
}

/* Everything one twin_loop run builds, measures and finally frees. */
typedef struct {
  uint64_t seed;
  char twin[160], calib[160], calib_one[160]; /* temporary files */
  sl_session *a, *b, *c, *d;
  sl_run_result ra, rb, rc_res, rd;
  sl_charac rec;
  sl_fit_result fit;
  track tc, td;
  sl_calib_report rep;
  double acc_ideal_dep, acc_twin_dep, acc_dep, acc_cal, acc_only[SL_BSS2_NPARAM], target;
  char w_unit[128]; /* the deployment's weight units: largest |w| of (a) -> 63 */
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
  snprintf(st->calib_one, sizeof st->calib_one, "%s/twin_loop_calib_one.%ld.h5", tmpdir,
           (long)getpid());
  return SL_OK;
}

/* Characterise the whole chip as it runs the network (same options), fit
 * every circuit, compare with the truth and write the twin of the network's
 * neurons (global ids 0 .. N-1). */
static int characterise_fit_twin(const sl_config *cfg, twin_run *st, sl_runlog *log)
{
  sl_config net_words;
  int rc = twin_words_file(cfg, st->calib_one);
  if (!rc)
    rc = with_calib(cfg, st->calib_one, &net_words);
  if (rc)
    return rc;
  printf("[characterise] all %d circuits of bss2 %s, at the network's words (but the gain)\n",
         SL_BSS2_CIRCUITS, cfg->backend_options);
  fflush(stdout);
  double t0 = now();
  rc = sl_calib_characterise_bss2(net_words.backend_options, NULL, 0, &st->rec, NULL);
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
    rc = exp_session_train(st->d, cfg->epochs, log, track_epoch, &st->td, &st->rd);
  return rc;
}

/* (e) calibrate every circuit to the targets of (a)'s network as deployed
 * (largest |w| -> 63 per layer), then deploy (a) on the uncalibrated chip,
 * on the calibrated one, and with one calibrated word at a time. */
static int calibrate_deploy(const sl_config *cfg, twin_run *st, sl_runlog *log)
{
  sl_config dep = *cfg;
  int rc = exp_deploy_units(sl_session_net(st->a), SL_BSS2_WEIGHT_MAX, "twin_loop", st->w_unit,
                            sizeof st->w_unit);
  if (!rc)
    rc = sl_config_set(&dep, "loop.w_unit", st->w_unit);
  sl_session *s = NULL;
  if (!rc)
    rc = sl_session_create(&s, &dep);
  sl_hw *hw = rc ? NULL : sl_loop_hw(sl_session_loop(s));
  double *target = malloc(SL_BSS2_NPARAM * SL_BSS2_CIRCUITS * sizeof *target);
  if (!rc && !target)
    rc = sl_error(SL_ENOMEM, "twin_loop: out of memory");
  if (!rc)
    rc = sl_calib_targets_from_hw(hw, target);
  if (!rc) {
    printf("[e: deploy] (a) on bss2 %s, weight units %s (largest |w| -> %d)\n",
           cfg->backend_options, st->w_unit, SL_BSS2_WEIGHT_MAX);
    rc = exp_deploy(&dep, sl_session_net(st->a), &st->acc_dep);
  }
  /* common targets: those of hidden neuron 0 (circuits the network leaves
   * unused take them); the network's own circuits their own */
  sl_calib_targets tg = sl_calib_targets_default();
  double *const common[SL_BSS2_NPARAM] = {&tg.v_leak,  &tg.v_reset, &tg.v_th,  &tg.tau_mem,
                                          &tg.tau_syn, &tg.gain,    &tg.refrac};
  for (int p = 0; p < SL_BSS2_NPARAM; p++)
    *common[p] = target ? target[(size_t)p * SL_BSS2_CIRCUITS] : NAN;
  tg.per_circuit = target;
  const sl_backend_setup *su = hw ? sl_hw_setup(hw) : NULL;
  size_t n_net = 0;
  for (size_t l = 0; su && l <= su->n_layers; l++)
    n_net += su->size[l];
  if (!rc) {
    printf("[e: calibrate] all %d circuits, every word; hidden targets: v_leak %.4g V, v_reset "
           "%.4g V, v_th %.4g V, tau_mem %.4g s, tau_syn %.4g s, gain %.5g V/s per unit, refrac "
           "%.4g s; readout (circuits %zu..%zu): v_leak %.4g V, gain %.5g V/s per unit\n",
           SL_BSS2_CIRCUITS, tg.v_leak, tg.v_reset, tg.v_th, tg.tau_mem, tg.tau_syn, tg.gain,
           tg.refrac, n_net - su->size[su->n_layers], n_net - 1,
           target[(size_t)SL_BSS2_LEAK * SL_BSS2_CIRCUITS + n_net - 1],
           target[(size_t)SL_BSS2_GAIN * SL_BSS2_CIRCUITS + n_net - 1]);
    fflush(stdout);
    rc = sl_calib_run(cfg->backend_options, &tg, st->calib, &st->rep);
  }
  if (!rc)
    rc = spreads(st->seed, hw, n_net, target, st->calib, &st->rep, log);
  sl_config cal;
  if (!rc)
    rc = with_calib(&dep, st->calib, &cal);
  if (!rc)
    rc = exp_deploy(&cal, sl_session_net(st->a), &st->acc_cal);
  for (int p = 0; !rc && p < SL_BSS2_NPARAM; p++) {
    rc = one_word_file(st->calib, p, st->calib_one);
    if (!rc)
      rc = with_calib(&dep, st->calib_one, &cal);
    if (!rc)
      rc = exp_deploy(&cal, sl_session_net(st->a), &st->acc_only[p]);
  }
  sl_session_free(s);
  free(target);
  return rc;
}

static void print_table(const twin_run *st)
{
  printf("\n  %-48s %9s %12s\n", "twin_loop (Yin-Yang, bss2)", "test acc", "loop epochs");
  printf("  %-48s %8.2f%% %12s\n", "ideal simulator (reference)", 100 * st->ra.test_accuracy, "-");
  printf("  %-48s %8.2f%% %12s\n", "(a) ideal, deployed (loop's automatic unit)",
         100 * st->acc_ideal_dep, "0");
  printf("  %-48s %8.2f%% %12s\n", "(a) ideal, deployed (largest |w| -> 63)", 100 * st->acc_dep,
         "0");
  printf("  %-48s %8.2f%% %12s\n", "(b) twin-trained, deployed", 100 * st->acc_twin_dep, "0");
  printf("  %-48s %8.2f%% %12d\n", "(c) twin-trained, then in the loop",
         100 * st->rc_res.test_accuracy, TWIN_LOOP_EPOCHS);
  printf("  %-48s %8.2f%% %12ld\n", "(d) in the loop from scratch", 100 * st->rd.test_accuracy,
         st->rd.epochs);
  printf("  %-48s %8.2f%% %12s\n", "(e) calibrated chip, (a) deployed (|w| -> 63)",
         100 * st->acc_cal, "0");
  printf("  (a) deployed with one word calibrated, the others nominal:");
  for (int p = 0; p < SL_BSS2_NPARAM; p++)
    printf(" %s %.2f%%", sl_bss2_word_name(p), 100 * st->acc_only[p]);
  printf("\n  loop epochs needed to reach %.2f%% (ideal - 2 points; -1: not reached): "
         "(c) %ld, (d) %ld\n",
         100 * st->target, st->need_c, st->need_d);
  printf("  chip-side seconds: characterise %.1f, fit %.1f, calibrate %.1f, loop (c) %.1f, "
         "loop (d) %.1f\n",
         st->sec_char, st->sec_fit, st->rep.seconds, st->sec_c, st->rd.seconds);
}

static int put_summary(const twin_run *st, sl_runlog *log, int rc)
{
  rc = put(log, "acc_ideal", st->ra.test_accuracy, rc);
  rc = put(log, "acc_deployed", st->acc_dep, rc);
  rc = put(log, "acc_calibrated", st->acc_cal, rc);
  rc = put(log, "acc_ideal_deployed", st->acc_ideal_dep, rc);
  rc = put(log, "acc_twin", st->rb.test_accuracy, rc);
  rc = put(log, "acc_twin_deployed", st->acc_twin_dep, rc);
  rc = put(log, "acc_twin_then_loop", st->rc_res.test_accuracy, rc);
  rc = put(log, "acc_loop", st->rd.test_accuracy, rc);
  rc = put(log, "acc_calibrated_deployed", st->acc_cal, rc);
  for (int p = 0; p < SL_BSS2_NPARAM && !rc; p++) {
    char name[64];
    snprintf(name, sizeof name, "acc_calibrated_only_%s", sl_bss2_param_name(p));
    rc = put(log, name, st->acc_only[p], rc);
  }
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
    rc = sl_session_log_nb_metrics(st.d, log);
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
  remove(st.calib_one);
  return rc;
}

const experiment exp_twin_loop = {
    "twin_loop",
    "Yin-Yang on a bss2 chip: ideal, twin, twin+loop, loop; software weights on the "
    "uncalibrated and the calibrated chip",
    defaults, run, NULL, 0};
