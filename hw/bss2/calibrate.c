/* calibrate.c -- calibration of an emulated BrainScaleS-2 chip to targets
 * from *measured* responses only (the characterisation protocols and the
 * fitter of charac.h / fit.h; the hidden truth is never read).
 *
 * Every word the chip has is calibrated: leak, reset, threshold, tau_mem,
 * tau_syn, synaptic gain, refractory time. The search uses what the chip's
 * designer knows, not the circuit's mismatch: voltages are linear in the
 * word (nominal slope 1.2 V / 1023), time constants go as 1/word (a bias
 * current sets a conductance), gain and refractory time are proportional to
 * the word (a current DAC; a counter of a bias-current ramp). Round 0
 * measures every circuit at the nominal words of its targets; each round
 * then moves every word by a step on its own measurement (voltages: a
 * secant through the last two (word, measured) points, the nominal slope
 * at first; tau: w * measured / target; refrac: w * target / measured),
 * writes the words to a calib file and measures again through the backend
 * (calib=). Each circuit keeps its best word per parameter. The gain is
 * measured at the characterisation's own gain word, whose PSP is large
 * enough to fit well (at a readout's calibrated word a PSP is a few CADC
 * counts), in every round whose PSP stays clear of the CADC's rails, and
 * the word follows from the mean gain per word. A last characterisation at
 * the chosen words gives "after". From the same measurements, each
 * circuit's reachable range (words 0 / 1 .. 1023) says which targets it
 * cannot reach (the report counts them).
 *
 * Targets are per circuit (a network's readout rests lower than its hidden
 * neurons; gains depend on the layer's weight unit): the common targets of
 * sl_calib_targets, replaced circuit by circuit by per_circuit, which
 * sl_calib_targets_from_hw reads from a bss2 instance opened for the
 * network (read_config target.<word>.<circuit>).
 *
 * Resuming (issue 16): after every round the search state (words so far,
 * measurement words, every circuit's summed points, the "before" report,
 * seconds) goes to "<out>.resume.h5", written whole or not at all
 * (slh_write_file: a temporary file renamed over it), and is removed when
 * the calibration file is written. Each round draws its noise from
 * noise_seed and the round number only, so sl_calib_resume continues with
 * the round after the last finished one and writes the very words an
 * uninterrupted run writes. The state is stored as native-endian bytes: a
 * resume file is for the machine that wrote it.
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
#include "base/teststop.h"

#include <hdf5.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

sl_calib_targets sl_calib_targets_default(void)
{
  /* refrac: the default model (refrac 0, dt = 1 us, 4 substeps of 250 ns)
   * lets the membrane go half a step after the crossing, 0.5 us: a substep
   * boundary, so the middle of the substep below, 1.5 x 250 ns (bss2.c,
   * target.refrac) */
  sl_calib_targets t = {6e-6, 6e-6, 0.8, 0.5, 0.5, 5, NULL, 0, NAN, 0.375e-6, NULL};
  return t;
}

int sl_calib_targets_parse(sl_calib_targets *t, const char *text)
{
  if (!t || !text)
    return sl_error(SL_EINVAL, "sl_calib_targets_parse: NULL argument");
  const char *keys[] = {"tau_mem", "tau_syn", "v_th", "v_leak", "v_reset", "gain", "refrac", NULL};
  double *fields[] = {&t->tau_mem, &t->tau_syn, &t->v_th,  &t->v_leak,
                      &t->v_reset, &t->gain,    &t->refrac};
  /* the ranges the words can give at all (before mismatch, with margin) */
  const double hi[] = {1e-3, 1e-3, 1.2, 1.2, 1.2, 5e4, 25e-6};
  const char *what[] = {"a time in (0, 1e-3] s", "a time in (0, 1e-3] s",
                        "a voltage in (0, 1.2] V", "a voltage in (0, 1.2] V",
                        "a voltage in (0, 1.2] V", "a gain in (0, 5e4] V/s per weight unit",
                        "a time in (0, 25e-6] s"};
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
                      "v_th, v_leak, v_reset, gain, refrac)", item);
    if (strcmp(eq + 1, "none") == 0) {
      *fields[k] = NAN;
    } else {
      char *e;
      double v = strtod(eq + 1, &e);
      if (e == eq + 1 || *e || !isfinite(v) || !(v > 0) || v > hi[k])
        return sl_error(SL_EINVAL, "--target: %s = '%s' must be %s, or none", item, eq + 1,
                        what[k]);
      *fields[k] = v;
    }
    p = end ? end + 1 : p + len;
  }
  if (isfinite(t->v_th) && ((isfinite(t->v_leak) && t->v_th <= t->v_leak) ||
                            (isfinite(t->v_reset) && t->v_th <= t->v_reset)))
    return sl_error(SL_EINVAL, "--target: v_th = %g V must exceed v_leak = %g and v_reset = %g",
                    t->v_th, t->v_leak, t->v_reset);
  return SL_OK;
}

int sl_calib_targets_from_hw(sl_hw *hw, double *out)
{
  if (!hw || !out)
    return sl_error(SL_EINVAL, "sl_calib_targets_from_hw: NULL argument");
  for (int p = 0; p < SL_BSS2_NPARAM; p++)
    for (size_t c = 0; c < SL_BSS2_CIRCUITS; c++) {
      char key[64], buf[64];
      snprintf(key, sizeof key, "target.%s.%zu", sl_bss2_word_name(p), c);
      if (sl_hw_read_config(hw, key, buf, sizeof buf) != SL_OK)
        return sl_error(SL_EUNSUPPORTED, "calibration targets: backend '%s' has no key '%s' "
                        "(only bss2 knows its calibration targets)", sl_hw_name(hw), key);
      char *e;
      double v = strtod(buf, &e);
      out[(size_t)p * SL_BSS2_CIRCUITS + c] = e != buf ? v : NAN;
    }
  return SL_OK;
}

/* Copy the items of options `in` but those whose key is `key` to out,
 * each followed by a comma. Returns the length written, -1 if too long. */
static long options_without(const char *in, const char *key, char *out, size_t len)
{
  const size_t kl = strlen(key);
  size_t pos = 0;
  out[0] = '\0';
  for (const char *p = in; *p;) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    const char *q = p;
    while (q < p + n && (*q == ' ' || *q == '\t'))
      q++;
    const char *r = q + kl;
    while (r < p + n && (*r == ' ' || *r == '\t'))
      r++;
    int skip = (size_t)(p + n - q) > kl && strncmp(q, key, kl) == 0 && *r == '=';
    if (n && !skip) {
      if (pos + n + 2 >= len)
        return -1;
      memcpy(out + pos, p, n);
      pos += n;
      out[pos++] = ',';
      out[pos] = '\0';
    }
    p = end ? end + 1 : p + n;
  }
  return (long)pos;
}

/* options + "characterise=1", and unless options set substeps, the
 * characterisation substeps with the noise per unit time of the options. */
static int char_options(const char *options, char *out, size_t len)
{
  const char *in = options ? options : "";
  char buf[64];
  int fine = !sl_backend_option(in, "substeps", buf, sizeof buf);
  double noise = SLB2_DEFAULT_NOISE;
  if (fine && sl_backend_option(in, "noise", buf, sizeof buf)) {
    char *e;
    noise = strtod(buf, &e);
    if (e == buf || !(noise >= 0) || !isfinite(noise))
      return sl_error(SL_EINVAL, "bss2: option noise=%s must be a finite number >= 0", buf);
  }
  long pos = options_without(in, fine ? "noise" : "", out, len);
  int w = pos < 0 ? -1
          : fine  ? snprintf(out + pos, len - (size_t)pos, "substeps=%d,noise=%.17g,characterise=1",
                             SL_CALIB_SUBSTEPS,
                             noise * sqrt((double)SLB2_DEFAULT_SUBSTEPS / SL_CALIB_SUBSTEPS))
                  : snprintf(out + pos, len - (size_t)pos, "characterise=1");
  if (w < 0 || (size_t)w >= len - (size_t)pos)
    return sl_error(SL_EINVAL, "characterise: options too long");
  return SL_OK;
}

int sl_calib_characterise_bss2(const char *options, const uint32_t *neurons, size_t n,
                               sl_charac *rec, sl_fit_result *fit)
{
  char opts[1024];
  int rc = char_options(options, opts, sizeof opts);
  if (rc)
    return rc;
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

/* The fitted parameter of each word (bss2 word order). */
static const int word_fp[SL_BSS2_NPARAM] = {SL_FP_V_LEAK,  SL_FP_V_RESET, SL_FP_V_TH,
                                            SL_FP_TAU_MEM, SL_FP_TAU_SYN, SL_FP_GAIN,
                                            SL_FP_REFRAC};

/* What a calibration works on: the targets of every word and circuit. */
typedef struct {
  double common[SL_BSS2_NPARAM];
  double *target;              /* (SL_BSS2_NPARAM, 512); NaN: not calibrated there */
  unsigned mask;               /* words calibrated */
  unsigned char in[SL_BSS2_CIRCUITS]; /* calibrated circuits */
} calib_plan;

static double target_of(const calib_plan *pl, int p, size_t c)
{
  return pl->target[(size_t)p * SL_BSS2_CIRCUITS + c];
}

/* The targets of every circuit: the common ones, replaced by the finite
 * per-circuit ones; a word is calibrated if every calibrated circuit has a
 * target for it. */
static int plan_make(calib_plan *pl, const sl_calib_targets *tg)
{
  const double common[SL_BSS2_NPARAM] = {tg->v_leak,  tg->v_reset, tg->v_th,  tg->tau_mem,
                                         tg->tau_syn, tg->gain,    tg->refrac};
  memcpy(pl->common, common, sizeof common);
  memset(pl->in, 0, sizeof pl->in);
  if (tg->circuits)
    for (size_t i = 0; i < tg->n_circuits; i++)
      pl->in[tg->circuits[i]] = 1;
  else
    memset(pl->in, 1, sizeof pl->in);
  pl->mask = 0;
  for (int p = 0; p < SL_BSS2_NPARAM; p++) {
    size_t have = 0, want = 0, missing = 0;
    for (size_t c = 0; c < SL_BSS2_CIRCUITS; c++) {
      double v = tg->per_circuit ? tg->per_circuit[(size_t)p * SL_BSS2_CIRCUITS + c] : NAN;
      if (!isfinite(v))
        v = common[p];
      pl->target[(size_t)p * SL_BSS2_CIRCUITS + c] = pl->in[c] ? v : NAN;
      if (!pl->in[c])
        continue;
      want++;
      if (isfinite(v) && v > 0)
        have++;
      else if (!missing)
        missing = c + 1;
      if (isfinite(v) && !(v > 0))
        return sl_error(SL_EINVAL, "calibrate: %s target %g of circuit %zu must be > 0",
                        sl_bss2_param_name(p), v, c);
    }
    if (have == want)
      pl->mask |= 1u << p;
    else if (have)
      return sl_error(SL_EINVAL, "calibrate: %s: circuit %zu has no target while others have "
                      "one (give a common %s target)", sl_bss2_param_name(p), missing - 1,
                      sl_bss2_param_name(p));
  }
  if (!pl->mask)
    return sl_error(SL_EINVAL, "calibrate: no targets (every one is NaN)");
  return SL_OK;
}

/* What words_fill writes. */
typedef struct {
  const sl_bss2_words *w;
  const calib_plan *pl;
  unsigned mask; /* words in the file */
  int targets;   /* write /targets too */
} words_file;

/* A calibration file (layout in calibrate.h), for slh_write_file. */
static herr_t words_fill(hid_t f, const void *arg, const char **what)
{
  const words_file *wf = arg;
  static const char *const groups[2] = {"/dac", "/targets"};
  *what = "/dac";
  if (slh_plain_groups(f, groups, wf->targets ? 2 : 1) < 0)
    return -1;
  for (int p = 0; p < SL_BSS2_NPARAM; p++) {
    if (!(wf->mask & (1u << p)))
      continue;
    *what = sl_bss2_word_name(p);
    if (slb2_write_dac(f, p, wf->w->word[p]) < 0)
      return -1;
    if (!wf->targets)
      continue;
    char name[64];
    const hsize_t n = SL_BSS2_CIRCUITS;
    snprintf(name, sizeof name, "/targets/%s", sl_bss2_word_name(p));
    if (slh_dataset(f, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &n,
                    wf->pl->target + (size_t)p * SL_BSS2_CIRCUITS, SLH_PLAIN) < 0 ||
        slh_attr_ascii(f, name, "units", sl_bss2_param_unit(p)) < 0)
      return -1;
  }
  *what = "root attributes";
  static const char *const tn[SL_BSS2_NPARAM] = {"target_v_leak",  "target_v_reset",
                                                 "target_v_th",    "target_tau_mem",
                                                 "target_tau_syn", "target_gain",
                                                 "target_refrac"};
  for (int p = 0; p < SL_BSS2_NPARAM; p++) {
    double v = wf->mask & (1u << p) ? wf->pl->common[p] : NAN;
    if (slh_attr_doubles(f, "/", tn[p], &v, 1) < 0)
      return -1;
  }
  return slh_attr_ascii(f, "/", "format", "spikeloop-bss2-calib");
}

static int write_words(const sl_bss2_words *w, const calib_plan *pl, unsigned mask, int targets,
                       const char *path)
{
  const words_file wf = {w, pl, mask, targets};
  return slh_write_file("calibrate", path, words_fill, &wf);
}

/* Mean and sd (hardware units) and, for calibrated words, spread and bias
 * of measured / target over the fitted neurons of r. */
static void spread(const sl_fit_result *r, const calib_plan *pl, double *mean, double *sd,
                   double *spr, double *bias, size_t *n_ok)
{
  size_t ok = 0;
  for (size_t i = 0; i < r->n; i++)
    ok += r->flags[i] == 0;
  *n_ok = ok;
  for (int f = 0; f < SL_FP_N; f++) {
    int p = 0;
    while (p < SL_BSS2_NPARAM && word_fp[p] != f)
      p++;
    double s = 0, s2 = 0, q = 0, q2 = 0;
    size_t m = 0, mq = 0;
    for (size_t i = 0; i < r->n; i++) {
      double v = sl_fit_to_hw(r, f, i);
      if (!isfinite(v))
        continue;
      s += v;
      s2 += v * v;
      m++;
      double t = p < SL_BSS2_NPARAM && (pl->mask & (1u << p)) ? target_of(pl, p, r->neurons[i])
                                                                : NAN;
      if (isfinite(t)) {
        q += v / t;
        q2 += (v / t) * (v / t);
        mq++;
      }
    }
    mean[f] = m ? s / (double)m : NAN;
    sd[f] = m > 1 ? sqrt(fmax(0.0, (s2 - s * s / (double)m) / (double)(m - 1))) : NAN;
    double mr = mq ? q / (double)mq : NAN;
    spr[f] = mq > 1 ? sqrt(fmax(0.0, (q2 - q * q / (double)mq) / (double)(mq - 1))) / mr : NAN;
    bias[f] = mr - 1.0;
  }
}

/* The (inhibitory) PSP the gain is measured with: 0.1 V above the CADC's
 * lower rail from the circuit's leak target, within these bounds (V). */
#define GAIN_PSP_MIN 0.05
#define GAIN_PSP_MAX 0.3

/* Peak of the PSP shape (e^{-t/tm} - e^{-t/ts}) / (1/ts - 1/tm) (s; tm
 * e^{-1} at tm = ts); NaN targets: 6 us each. */
static double psp_peak(double tm, double ts)
{
  if (!isfinite(tm))
    tm = 6e-6;
  if (!isfinite(ts))
    ts = 6e-6;
  if (fabs(tm - ts) < 1e-9 * tm)
    return tm * exp(-1.0);
  double d = 1.0 / ts - 1.0 / tm, t = log(tm / ts) / d;
  return (exp(-t / tm) - exp(-t / ts)) / d;
}

/* Whether any PSP sample of row i touched a CADC rail (its gain is then
 * fitted on a clipped trace). */
static int psp_at_rail(const sl_charac *rec, size_t i)
{
  if (rec->adc_bits <= 0)
    return 0;
  const float top = (float)((1 << rec->adc_bits) - 1);
  for (size_t k = 0; k < rec->n_protocols; k++) {
    const sl_charac_protocol *p = &rec->proto[k];
    if (p->protocol != SL_STIM_PSP)
      continue;
    const float *x = p->membrane + i * p->repeats * p->n_samples;
    for (size_t j = 0; j < p->repeats * p->n_samples; j++)
      if (x[j] <= 0.0f || x[j] >= top)
        return 1;
  }
  return 0;
}

/* Per word and circuit, the (word, measured) points of all rounds, summed
 * (weighted) for the designer's model of the word: a line for the
 * voltages, tau = k / word, gain and refractory time = k * word. */
typedef struct {
  double n, sx, sy, sxx, sxy;
} circuit_state;

static void state_add(circuit_state *s, int p, int32_t w, double m, double weight)
{
  double x = w;
  if (p == SL_BSS2_TAU_MEM || p == SL_BSS2_TAU_SYN) /* k = tau * word, averaged */
    x = 1.0, m *= w;
  s->n += weight;
  s->sx += weight * x;
  s->sy += weight * m;
  s->sxx += weight * x * x;
  s->sxy += weight * x * m;
}

/* The circuit's model of word p from its points: value(w) = a + b w
 * (voltages), k / w (tau), k w (gain, refrac); returns 0 if there are none.
 * A voltage line needs points spread over >= 8 words (sd), else it takes
 * the nominal slope (3% off at worst) through their mean. */
static int state_model(const circuit_state *s, int p, double *a, double *b)
{
  if (!(s->n > 0))
    return 0;
  switch (p) {
  case SL_BSS2_LEAK:
  case SL_BSS2_RESET:
  case SL_BSS2_THRESHOLD: {
    double mx = s->sx / s->n, var = s->sxx / s->n - mx * mx;
    *b = 1.2 / SL_BSS2_DAC_MAX;
    if (var >= 64.0) {
      double sec = (s->sxy / s->n - mx * s->sy / s->n) / var;
      if (sec > 0.3 * *b && sec < 3 * *b)
        *b = sec;
    }
    *a = s->sy / s->n - *b * mx;
    return 1;
  }
  case SL_BSS2_TAU_MEM:
  case SL_BSS2_TAU_SYN:
    *a = 0.0;
    *b = s->sy / s->n;
    return *b > 0;
  default: /* least squares through zero: the error is about the same at every word */
    *a = 0.0;
    *b = s->sxy / s->sxx;
    return *b > 0;
  }
}

/* The word the model says gives T (unclamped, may be non-finite). */
static double model_word(int p, double a, double b, double T)
{
  if (p == SL_BSS2_TAU_MEM || p == SL_BSS2_TAU_SYN)
    return b / T;
  return (T - a) / b;
}

/* Range of word p a circuit reaches (words min..1023) by its model. */
static void model_range(int p, double a, double b, double *lo, double *hi)
{
  if (p == SL_BSS2_TAU_MEM || p == SL_BSS2_TAU_SYN) {
    *lo = b / SL_BSS2_DAC_MAX;
    *hi = b;
  } else {
    *lo = a + b * slb2_word_min(p);
    *hi = a + b * SL_BSS2_DAC_MAX;
  }
}

/* ------------------------------------------------------------ resuming */

#define RESUME_FORMAT "spikeloop-calib-resume"

/* The search state after `done` rounds, for slh_write_file. */
typedef struct {
  const sl_bss2_words *w, *mw;
  const circuit_state *cs;
  const calib_plan *pl;
  const sl_calib_report *r;
  int done, rounds;
  const char *options;
  double seconds;
} calib_state;

#define N_CS ((size_t)SL_BSS2_NPARAM * SL_BSS2_CIRCUITS)

static herr_t state_fill(hid_t f, const void *arg, const char **what)
{
  const calib_state *st = arg;
  const struct {
    const char *name;
    const void *data;
    size_t n;
  } blobs[] = {{"words", st->w, sizeof *st->w},
               {"measure_words", st->mw, sizeof *st->mw},
               {"points", st->cs, N_CS * sizeof *st->cs},
               {"targets", st->pl->target, N_CS * sizeof *st->pl->target},
               {"report", st->r, sizeof *st->r}};
  for (size_t i = 0; i < sizeof blobs / sizeof blobs[0]; i++) {
    hsize_t n = blobs[i].n;
    *what = blobs[i].name;
    if (slh_dataset(f, blobs[i].name, H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, &n, blobs[i].data,
                    SLH_PLAIN) < 0)
      return -1;
  }
  *what = "root attributes";
  if (slh_attr_int(f, "/", "rounds_done", st->done) < 0 ||
      slh_attr_int(f, "/", "rounds", st->rounds) < 0 ||
      slh_attr_int(f, "/", "mask", (int)st->pl->mask) < 0 ||
      slh_attr_double(f, "/", "seconds", st->seconds) < 0 ||
      slh_attr_str(f, "/", "options", st->options ? st->options : "") < 0 ||
      slh_attr_int(f, "/", "format_version", 1) < 0)
    return -1;
  return slh_attr_ascii(f, "/", "format", RESUME_FORMAT);
}

/* Read the state of `path` into w, mw, cs, r; check that it is of the same
 * calibration (plan, rounds, options). Returns the rounds done in *done and
 * the seconds spent in *seconds. */
static int state_read(const char *path, const calib_plan *pl, int rounds, const char *options,
                      sl_bss2_words *w, sl_bss2_words *mw, circuit_state *cs,
                      sl_calib_report *r, int *done, double *seconds)
{
  slh_file f = {-1, path, "sl_calib_resume"};
  int rc = slh_open_read(&f, "sl_calib_resume", path);
  if (rc)
    return rc;
  char *opt = NULL;
  double *target = malloc(N_CS * sizeof *target);
  int got_rounds = 0, mask = 0;
  if (!target)
    rc = sl_error(SL_ENOMEM, "calibrate: out of memory");
  if (!rc)
    rc = slh_check_format(&f, RESUME_FORMAT, 1, "calibration resume file");
  hid_t root = -1;
  if (!rc && (root = H5Oopen(f.id, "/", H5P_DEFAULT)) < 0)
    rc = sl_error(SL_EIO, "sl_calib_resume: '%s': cannot open its root group", path);
  if (!rc)
    rc = slh_get_attr(&f, root, "/", "rounds_done", H5T_NATIVE_INT, 1, done);
  if (!rc)
    rc = slh_get_attr(&f, root, "/", "rounds", H5T_NATIVE_INT, 1, &got_rounds);
  if (!rc)
    rc = slh_get_attr(&f, root, "/", "mask", H5T_NATIVE_INT, 1, &mask);
  if (!rc)
    rc = slh_get_attr(&f, root, "/", "seconds", H5T_NATIVE_DOUBLE, 1, seconds);
  if (!rc)
    rc = slh_get_attr_str(&f, root, "/", "options", &opt);
  const struct {
    const char *name;
    void *data;
    size_t n;
  } blobs[] = {{"words", w, sizeof *w},
               {"measure_words", mw, sizeof *mw},
               {"points", cs, N_CS * sizeof *cs},
               {"targets", target, N_CS * sizeof *target},
               {"report", r, sizeof *r}};
  for (size_t i = 0; !rc && i < sizeof blobs / sizeof blobs[0]; i++) {
    hsize_t n = blobs[i].n;
    rc = slh_read_exact(&f, blobs[i].name, H5T_INTEGER, H5T_NATIVE_UINT8, 1, &n, blobs[i].data);
  }
  if (!rc && (got_rounds != rounds || (unsigned)mask != pl->mask ||
              strcmp(opt, options ? options : "") != 0 ||
              memcmp(target, pl->target, N_CS * sizeof *target) != 0))
    rc = sl_error(SL_EINVAL, "sl_calib_resume: '%s' is the state of another calibration (%s "
                  "differ)", path,
                  got_rounds != rounds ? "the rounds" : (unsigned)mask != pl->mask ? "the words"
                  : strcmp(opt, options ? options : "") ? "the chip options" : "the targets");
  if (!rc && (*done < 1 || *done > rounds))
    rc = sl_error(SL_EFORMAT, "sl_calib_resume: '%s': rounds_done = %d outside 1..%d", path,
                  *done, rounds);
  if (root >= 0)
    H5Oclose(root);
  free(opt);
  free(target);
  slh_close(&f);
  return rc;
}

static int calib_run(const char *options, const sl_calib_targets *tg, const char *out_path,
                     sl_calib_report *rep, int resume)
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
  calib_plan pl;
  pl.target = malloc(SL_BSS2_NPARAM * SL_BSS2_CIRCUITS * sizeof *pl.target);
  /* w: the words so far; mw: the words a round measures (w, but the gain
   * at a word whose PSP is large enough to fit) */
  sl_bss2_words *w = malloc(sizeof *w), *mw = malloc(sizeof *mw);
  circuit_state *cs = malloc(SL_BSS2_NPARAM * SL_BSS2_CIRCUITS * sizeof *cs);
  char *tmp = malloc(strlen(out_path) + 32), *state_path = malloc(strlen(out_path) + 16);
  int rc = pl.target && w && mw && cs && tmp && state_path
               ? SL_OK
               : sl_error(SL_ENOMEM, "calibrate: out of memory");
  if (!rc)
    rc = plan_make(&pl, tg);
  if (rc) {
    free(pl.target), free(w), free(mw), free(cs), free(tmp), free(state_path);
    return rc;
  }
  sprintf(state_path, "%s.resume.h5", out_path);
  sprintf(tmp, "%s.words%ld.h5", out_path, (long)getpid());
  /* round 0: every calibrated circuit at the nominal words of its targets */
  sl_bss2_words_default(w);
  for (int p = 0; p < SL_BSS2_NPARAM; p++)
    for (size_t c = 0; c < SL_BSS2_CIRCUITS; c++) {
      if ((pl.mask & (1u << p)) && pl.in[c])
        w->word[p][c] = slb2_nominal_word(p, target_of(&pl, p, c));
      cs[(size_t)p * SL_BSS2_CIRCUITS + c] = (circuit_state){0, 0, 0, 0, 0};
    }
  *mw = *w;
  sl_calib_report r;
  memset(&r, 0, sizeof r);
  const int rounds = tg->iterations > 0 ? tg->iterations : 5;
  char seed_text[32] = "1";
  uint64_t noise_seed = 1;
  if (options && sl_backend_option(options, "noise_seed", seed_text, sizeof seed_text))
    noise_seed = strtoull(seed_text, NULL, 0);
  /* the PSP the gain is measured with: the protocol's weight, a peak that
   * ends 0.1 V above the CADC's lower rail at the circuit's gain estimate
   * (0.3 V from a 0.5 V leak, 0.15 V from a readout's 0.25 V: a readout's
   * calibrated word gives a PSP of a few counts only) */
  const double psp_w = fabs(sl_charac_protocols_default().psp_weight);
  char opts[1200];
  int first = 0;
  double seconds_before = 0.0;
  if (resume) {
    rc = state_read(state_path, &pl, rounds, options, w, mw, cs, &r, &first, &seconds_before);
    if (rc) {
      free(pl.target), free(w), free(mw), free(cs), free(tmp), free(state_path);
      return rc;
    }
  }
  for (int it = first; it <= rounds && !rc; it++) {
    const int final = it == rounds;
    /* round 0 and the last measure the gain at the words chosen ("before",
     * "after"); the rounds between at the measurement words */
    if ((rc = write_words(final || it == 0 ? w : mw, &pl, pl.mask, 0, tmp)))
      break;
    /* a fresh noise draw every round, as a chip gives: with the same one,
     * the rounds would fit their words to that draw's errors */
    long pos = options_without(options ? options : "", "noise_seed", opts, sizeof opts);
    if (pos < 0 || snprintf(opts + pos, sizeof opts - (size_t)pos, "noise_seed=%llu,calib=%s",
                            (unsigned long long)(noise_seed + 1000003ull * (uint64_t)(it + 1)),
                            tmp) >= (int)(sizeof opts - (size_t)pos)) {
      rc = sl_error(SL_EINVAL, "calibrate: options too long");
      break;
    }
    sl_charac rec;
    sl_fit_result fit;
    memset(&rec, 0, sizeof rec);
    memset(&fit, 0, sizeof fit);
    rc = sl_calib_characterise_bss2(opts, tg->circuits, tg->circuits ? tg->n_circuits : 0, &rec,
                                    &fit);
    if (!rc && it == 0)
      spread(&fit, &pl, r.mean_before, r.sd_before, r.spread_before, r.bias_before,
             &r.n_fitted_before);
    if (!rc && final)
      spread(&fit, &pl, r.mean_after, r.sd_after, r.spread_after, r.bias_after,
             &r.n_fitted_after);
    for (size_t i = 0; !rc && !final && i < fit.n; i++) {
      const size_t c = fit.neurons[i];
      for (int p = 0; p < SL_BSS2_NPARAM; p++) {
        if (!(pl.mask & (1u << p)) || !rec.dac[p])
          continue;
        circuit_state *s = &cs[(size_t)p * SL_BSS2_CIRCUITS + c];
        const double m = sl_fit_to_hw(&fit, word_fp[p], i);
        const int32_t wc = rec.dac[p][i]; /* the word measured */
        /* unmeasurable here (or a PSP clipped at a rail): keep the word */
        if (!isfinite(m) || wc < 0 || (p == SL_BSS2_GAIN && psp_at_rail(&rec, i)))
          continue;
        if (p == SL_BSS2_REFRAC && !(m > 0 && wc > 0))
          continue; /* no hold at all: nothing proportional to the word */
        /* tau_syn comes from the PSP, whose relative error goes as 1 / its
         * size: the rounds at the characterisation's large gain word count
         * more than those at a readout's small calibrated one */
        const double g = sl_fit_to_hw(&fit, SL_FP_GAIN, i);
        const double wg = p != SL_BSS2_TAU_SYN ? 1.0 : (isfinite(g) ? g : 0.0);
        state_add(s, p, wc, m, wg * wg);
        double a, b;
        if (!state_model(s, p, &a, &b))
          continue;
        const double wn = rint(model_word(p, a, b, target_of(&pl, p, c)));
        const int lo = slb2_word_min(p);
        if (isfinite(wn))
          mw->word[p][c] = w->word[p][c] =
            (int32_t)(wn < lo ? lo : (wn > SL_BSS2_DAC_MAX ? SL_BSS2_DAC_MAX : wn));
        if (p == SL_BSS2_GAIN) {
          double pk = psp_peak(target_of(&pl, SL_BSS2_TAU_MEM, c), target_of(&pl, SL_BSS2_TAU_SYN, c));
          double E = target_of(&pl, SL_BSS2_LEAK, c);
          double amp = fmin(GAIN_PSP_MAX, fmax(GAIN_PSP_MIN, (isfinite(E) ? E : 0.5) - 0.1));
          double wm = rint(amp / (b * psp_w * pk));
          if (isfinite(wm))
            mw->word[p][c] = (int32_t)(wm < 1 ? 1 : (wm > SL_BSS2_DAC_MAX ? SL_BSS2_DAC_MAX : wm));
        }
      }
    }
    sl_fit_result_free(&fit);
    sl_charac_free(&rec);
    if (!rc && !final) { /* the state after this round, whole or not at all */
      clock_gettime(CLOCK_MONOTONIC, &t1);
      const calib_state st = {w, mw, cs, &pl, &r, it + 1, rounds, options,
                              seconds_before + (double)(t1.tv_sec - t0.tv_sec) +
                                  1e-9 * (double)(t1.tv_nsec - t0.tv_nsec)};
      rc = slh_write_file("calibrate", state_path, state_fill, &st);
      sli_test_stop("round", it + 1);
    }
  }
  remove(tmp);
  /* what each circuit can reach, from its measurements */
  for (int f = 0; f < SL_FP_N; f++)
    r.reach_lo[f] = r.reach_hi[f] = NAN;
  for (int p = 0; p < SL_BSS2_NPARAM; p++) {
    const int f = word_fp[p];
    if (!(pl.mask & (1u << p)))
      continue;
    double lo_all = -INFINITY, hi_all = INFINITY;
    size_t bad = 0;
    for (size_t c = 0; c < SL_BSS2_CIRCUITS; c++) {
      if (!pl.in[c])
        continue;
      double lo, hi, a, b, T = target_of(&pl, p, c);
      if (!state_model(&cs[(size_t)p * SL_BSS2_CIRCUITS + c], p, &a, &b))
        continue;
      model_range(p, a, b, &lo, &hi);
      lo_all = fmax(lo_all, lo);
      hi_all = fmin(hi_all, hi);
      bad += T < lo - 0.002 * fabs(T) || T > hi + 0.002 * fabs(T);
    }
    r.reach_lo[f] = lo_all;
    r.reach_hi[f] = hi_all;
    r.n_unreachable[f] = bad;
  }
  if (!rc)
    rc = write_words(w, &pl, pl.mask, 1, out_path);
  if (!rc)
    remove(state_path);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  r.seconds = seconds_before + (double)(t1.tv_sec - t0.tv_sec) +
              1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
  if (!rc && rep)
    *rep = r;
  free(pl.target), free(w), free(mw), free(cs), free(tmp), free(state_path);
  return rc;
}

int sl_calib_run(const char *options, const sl_calib_targets *tg, const char *out_path,
                 sl_calib_report *rep)
{
  return calib_run(options, tg, out_path, rep, 0);
}

int sl_calib_resume(const char *options, const sl_calib_targets *tg, const char *out_path,
                    sl_calib_report *rep)
{
  return calib_run(options, tg, out_path, rep, 1);
}
