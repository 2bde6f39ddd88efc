/* calibrate.c -- calibration of an emulated BrainScaleS-2 chip to common
 * targets from *measured* responses only (the characterisation protocols
 * and the fitter of charac.h / fit.h; the hidden truth is never read).
 *
 * The search uses what the chip's designer knows, not the circuit's
 * mismatch: time constants go as 1/word (a bias current sets a
 * conductance), voltages are linear in the word with a nominal slope of
 * 1.2 V / 1023. Round 0 measures every circuit at the nominal words; each
 * round then moves every word by a Newton step on its own measurement
 * (tau: w * measured / target, exact for tau ~ 1/w; voltage: a secant
 * through the last two (word, measured) points, the nominal slope at
 * first), writes the words to a calib file and measures again through the
 * backend (calib=). Each circuit keeps the words of its best round per
 * parameter; a last characterisation at those words gives the spread
 * "after". The synaptic gain word is left alone: it depends on the weight
 * unit of the layer a circuit serves, which a chip-wide file cannot know.
 */
#include "config.h"
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "spikeloop/calibrate.h"
#include "spikeloop/charac.h"
#include "spikeloop/fit.h"
#include "spikeloop/error.h"
#include "bss2_internal.h"
#include "io/h5.h"

#include <hdf5.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

sl_calib_targets sl_calib_targets_default(void)
{
  /* v_reset is left alone by default: the fitted reset is an effective one
   * that absorbs the circuit's hold after a spike (fit.c), so calibrating it
   * to 0.5 V puts the true reset near 0.6 V (measured on chip 1) */
  sl_calib_targets t = {6e-6, 6e-6, 0.8, 0.5, NAN, 5, NULL, 0};
  return t;
}

int sl_calib_targets_parse(sl_calib_targets *t, const char *text)
{
  if (!t || !text)
    return sl_error(SL_EINVAL, "sl_calib_targets_parse: NULL argument");
  const char *keys[] = {"tau_mem", "tau_syn", "v_th", "v_leak", "v_reset", NULL};
  double *fields[] = {&t->tau_mem, &t->tau_syn, &t->v_th, &t->v_leak, &t->v_reset};
  const char *p = text;
  while (*p) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char item[128];
    if (len >= sizeof item)
      return sl_error(SL_EINVAL, "--target: item '%.20s...' too long", p);
    memcpy(item, p, len);
    item[len] = '\0';
    char *eq = strchr(item, '=');
    if (!eq)
      return sl_error(SL_EINVAL, "--target: '%s' is not key=value", item);
    *eq = '\0';
    int k = 0;
    while (keys[k] && strcmp(keys[k], item))
      k++;
    if (!keys[k])
      return sl_error(SL_EINVAL, "--target: unknown parameter '%s' (known: tau_mem, tau_syn, "
                      "v_th, v_leak, v_reset)", item);
    char *e;
    double v = strtod(eq + 1, &e);
    if (e == eq + 1 || *e || !isfinite(v) || !(v > 0) || (k < 2 && v > 1e-3) || (k >= 2 && v > 1.2))
      return sl_error(SL_EINVAL, "--target: %s = '%s' must be %s", item, eq + 1,
                      k < 2 ? "a time in (0, 1e-3] s" : "a voltage in (0, 1.2] V");
    *fields[k] = v;
    p = end ? end + 1 : p + len;
  }
  if (t->v_th <= t->v_leak || (isfinite(t->v_reset) && t->v_th <= t->v_reset))
    return sl_error(SL_EINVAL, "--target: v_th = %g V must exceed v_leak = %g and v_reset = %g",
                    t->v_th, t->v_leak, t->v_reset);
  return SL_OK;
}

int sl_calib_characterise_bss2(const char *options, const uint32_t *neurons, size_t n,
                               sl_charac *rec, sl_fit_result *fit)
{
  char opts[1024];
  snprintf(opts, sizeof opts, "%s%scharacterise=1", options && *options ? options : "",
           options && *options ? "," : "");
  /* 512 unconnected neurons as 128 + 128 + 128 + 127 + a readout of 1: every
   * layer's fan-in fits 256 synapse rows, so no circuits are merged */
  sl_neurons nr[5];
  memset(nr, 0, sizeof nr);
  sl_backend_setup su;
  memset(&su, 0, sizeof su);
  su.n_in = 1;
  su.n_layers = 4;
  const size_t sizes[5] = {128, 128, 128, 127, 1};
  su.dt = 1e-3;
  su.max_steps = 1;
  su.max_batch = 1;
  su.options = opts;
  uint32_t *all = NULL;
  int rc = SL_OK;
  for (size_t l = 0; l < 5 && !rc; l++) {
    su.size[l] = sizes[l];
    su.w_unit[l] = 0.1;
    rc = sl_neurons_alloc(&nr[l], sizes[l], NULL);
    su.neurons[l] = &nr[l];
  }
  sl_hw *hw = NULL;
  if (!rc)
    rc = sl_hw_open(&hw, "bss2", &su);
  if (!rc && !neurons) {
    n = SL_BSS2_CIRCUITS;
    if (!(all = malloc(n * sizeof *all)))
      rc = sl_error(SL_ENOMEM, "characterise: out of memory");
    for (size_t i = 0; all && i < n; i++)
      all[i] = (uint32_t)i;
    neurons = all;
  }
  if (!rc)
    rc = sl_charac_run(hw, neurons, n, NULL, rec);
  if (!rc && fit)
    rc = sl_fit_run(rec, fit);
  sl_hw_close(hw);
  for (size_t l = 0; l < 5; l++)
    sl_neurons_free(&nr[l]);
  free(all);
  return rc;
}

/* The calibrated words, in the order of the calib file. */
static const int cal_word[5] = {SL_BSS2_LEAK, SL_BSS2_RESET, SL_BSS2_THRESHOLD, SL_BSS2_TAU_MEM,
                                SL_BSS2_TAU_SYN};
static const int cal_fp[5] = {SL_FP_V_LEAK, SL_FP_V_RESET, SL_FP_V_TH, SL_FP_TAU_MEM,
                              SL_FP_TAU_SYN};

/* What words_fill writes: the words and the targets. */
typedef struct {
  const sl_bss2_words *w;
  const sl_calib_targets *t;
} words_file;

/* A calibration file: the calibrated /dac words and the targets, for
 * slh_write_file. */
static herr_t words_fill(hid_t f, const void *arg, const char **what)
{
  const words_file *wf = arg;
  const sl_calib_targets *t = wf->t;
  static const char *const dac[1] = {"/dac"};
  *what = "/dac";
  if (slh_plain_groups(f, dac, 1) < 0)
    return -1;
  for (int k = 0; k < 5; k++)
    if (slb2_write_dac(f, cal_word[k], wf->w->word[cal_word[k]]) < 0)
      return -1;
  *what = "root attributes";
  const double tv[5] = {t->v_leak, t->v_reset, t->v_th, t->tau_mem, t->tau_syn};
  static const char *const tn[5] = {"target_v_leak", "target_v_reset", "target_v_th",
                                    "target_tau_mem", "target_tau_syn"};
  for (int k = 0; k < 5; k++)
    if (slh_attr_doubles(f, "/", tn[k], &tv[k], 1) < 0)
      return -1;
  return slh_attr_ascii(f, "/", "format", "spikeloop-bss2-calib");
}

static int write_words(const sl_bss2_words *w, const char *path, const sl_calib_targets *t)
{
  const words_file wf = {w, t};
  return slh_write_file("calibrate", path, words_fill, &wf);
}

static void spread(const sl_fit_result *r, double *mean, double *sd, size_t *n_ok)
{
  size_t ok = 0;
  for (size_t i = 0; i < r->n; i++)
    ok += r->flags[i] == 0;
  *n_ok = ok;
  for (int p = 0; p < SL_FP_N; p++) {
    double s = 0, s2 = 0;
    size_t m = 0;
    for (size_t i = 0; i < r->n; i++) {
      double v = sl_fit_to_hw(r, p, i);
      if (!isfinite(v))
        continue;
      s += v;
      s2 += v * v;
      m++;
    }
    mean[p] = m ? s / (double)m : NAN;
    sd[p] = m > 1 ? sqrt(fmax(0.0, (s2 - s * s / (double)m) / (double)(m - 1))) : NAN;
  }
}

int sl_calib_run(const char *options, const sl_calib_targets *tg, const char *out_path,
                 sl_calib_report *rep)
{
  if (!tg || !out_path)
    return sl_error(SL_EINVAL, "sl_calib_run: NULL argument");
  if (tg->circuits && !tg->n_circuits)
    return sl_error(SL_EINVAL, "calibrate: empty circuit list");
  for (size_t i = 0; tg->circuits && i < tg->n_circuits; i++)
    if (tg->circuits[i] >= SL_BSS2_CIRCUITS)
      return sl_error(SL_EINVAL, "calibrate: circuit %u out of range 0..%d",
                      (unsigned)tg->circuits[i], SL_BSS2_CIRCUITS - 1);
  char probe[8];
  if (options && sl_backend_option(options, "calib", probe, sizeof probe))
    return sl_error(SL_EINVAL, "calibrate: the chip options must not contain calib= (the "
                    "search starts from the nominal words)");
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  const double target[5] = {tg->v_leak, tg->v_reset, tg->v_th, tg->tau_mem, tg->tau_syn};
  sl_bss2_words *w = malloc(sizeof *w), *best = malloc(sizeof *best);
  double *prev_m = malloc(5 * SL_BSS2_CIRCUITS * sizeof(double));
  double *best_err = malloc(5 * SL_BSS2_CIRCUITS * sizeof(double));
  int32_t *prev_w = malloc(5 * SL_BSS2_CIRCUITS * sizeof(int32_t));
  char *tmp = malloc(strlen(out_path) + 32);
  if (!w || !best || !prev_m || !best_err || !prev_w || !tmp) {
    free(w), free(best), free(prev_m), free(best_err), free(prev_w), free(tmp);
    return sl_error(SL_ENOMEM, "calibrate: out of memory");
  }
  sprintf(tmp, "%s.words%ld.h5", out_path, (long)getpid());
  sl_bss2_words_default(w);
  *best = *w;
  for (size_t i = 0; i < 5 * SL_BSS2_CIRCUITS; i++) {
    prev_m[i] = NAN;
    prev_w[i] = -1;
    best_err[i] = INFINITY;
  }
  sl_calib_report r;
  memset(&r, 0, sizeof r);
  int rc = SL_OK;
  const int rounds = tg->iterations > 0 ? tg->iterations : 5;
  char opts[1200];
  for (int it = 0; it <= rounds && !rc; it++) {
    const int final = it == rounds;
    const sl_bss2_words *use = final ? best : w;
    if ((rc = write_words(use, tmp, tg)))
      break;
    snprintf(opts, sizeof opts, "%s%scalib=%s", options && *options ? options : "",
             options && *options ? "," : "", tmp);
    sl_charac rec;
    sl_fit_result fit;
    memset(&rec, 0, sizeof rec);
    memset(&fit, 0, sizeof fit);
    rc = sl_calib_characterise_bss2(opts, tg->circuits, tg->circuits ? tg->n_circuits : 0, &rec,
                                    &fit);
    if (!rc && it == 0)
      spread(&fit, r.mean_before, r.sd_before, &r.n_fitted_before);
    if (!rc && final)
      spread(&fit, r.mean_after, r.sd_after, &r.n_fitted_after);
    for (size_t i = 0; !rc && !final && i < fit.n; i++) {
      const size_t c = fit.neurons[i];
      for (int k = 0; k < 5; k++) {
        if (!isfinite(target[k]))
          continue;
        const int p = cal_word[k];
        const size_t s = (size_t)k * SL_BSS2_CIRCUITS + c;
        double m = sl_fit_to_hw(&fit, cal_fp[k], i);
        int32_t wc = w->word[p][c];
        if (!isfinite(m))
          continue; /* unmeasurable here: keep the word, try again next round */
        double err = fabs(m - target[k]) / target[k];
        if (err < best_err[s]) {
          best_err[s] = err;
          best->word[p][c] = wc;
        }
        double wn;
        if (p == SL_BSS2_TAU_MEM || p == SL_BSS2_TAU_SYN) {
          wn = wc * m / target[k];
        } else {
          double slope = 1.2 / SL_BSS2_DAC_MAX;
          if (prev_w[s] >= 0 && prev_w[s] != wc && isfinite(prev_m[s])) {
            double sec = (m - prev_m[s]) / (double)(wc - prev_w[s]);
            if (sec > 0.3 * slope && sec < 3 * slope)
              slope = sec;
          }
          wn = wc + (target[k] - m) / slope;
        }
        prev_m[s] = m;
        prev_w[s] = wc;
        int lo = slb2_word_min(p);
        wn = rint(wn);
        w->word[p][c] = (int32_t)(wn < lo ? lo : (wn > SL_BSS2_DAC_MAX ? SL_BSS2_DAC_MAX : wn));
      }
    }
    sl_fit_result_free(&fit);
    sl_charac_free(&rec);
  }
  remove(tmp);
  if (!rc)
    rc = write_words(best, out_path, tg);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  r.seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
  if (!rc && rep)
    *rep = r;
  free(w), free(best), free(prev_m), free(best_err), free(prev_w), free(tmp);
  return rc;
}
