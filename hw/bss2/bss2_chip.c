/* bss2_chip.c -- the emulated BrainScaleS-2 chip's hidden physics: the
 * nominal DAC -> parameter maps, the per-circuit fixed-pattern mismatch, the
 * calibration-file reader and the truth export (HDF5 through lib/io/h5.h,
 * with the types these files had under H5LT: fixed-length ASCII strings).
 *
 * Constants (the source or the reason for each):
 *   1.2 V / 1023     full-scale of the 10-bit capacitive-memory voltage DACs
 *                    (1.2 V analog supply; FACTS.md s1: 10-bit DACs). Leak,
 *                    reset and threshold: V = 1.2 * w / 1023.
 *   3.0e-3 s         tau = 3.0e-3 / w: a bias current sets the conductance,
 *                    so tau ~ 1/w; word 500 gives the paper's 6 us.
 *   5.0e4 V/s        synaptic gain at full scale, per weight unit: with
 *                    dt_hw = 1.7 us a unit adds at most ~0.085 V, so 63 units
 *                    span the 0.3 V leak-threshold gap several times.
 *   20e-9 s          refractory time per word: 1023 words ~ 20 us, a few
 *                    tau_mem, enough for every model we map (12 steps of
 *                    1.7 us).
 *   Mismatch (chosen so that uncalibrated neurons spread by tens of percent,
 *   as FACTS.md s1's mismatch experiment assumes 0..50% and as calibration
 *   on the real chip is needed at all):
 *     voltages       V = V_nom * (1 + 0.03 z1) + 0.04 z2 V: 3% gain error of
 *                    the DAC plus a 40 mV offset (source-follower and
 *                    comparator offsets); threshold gap sd/mean ~ 0.2.
 *     tau_mem/syn    x exp(0.25 z): transistor-current mismatch is lognormal
 *                    (subthreshold currents are exponential in Vth offsets);
 *                    relative sd ~ 0.25.
 *     gain           x exp(0.2 z), same reasoning.
 *     refrac         x (1 + 0.1 z), floored at 0.5 (never binds after the
 *                    3 sd clip; kept so a wider spread stays physical).
 *     CADC           offset 2 z counts, gain 1 + 0.02 z (per channel).
 *   Every z ~ N(0,1) is clipped to [-3, 3].
 *
 * Draws: circuit c uses its own xoshiro256+ stream seeded with
 * sl_seed_mix(chip_seed ^ CHIP_SALT, c), and draws, in this order, for
 * leak, reset, threshold: (scale z, offset z); then tau_mem, tau_syn, gain,
 * refrac; then CADC offset, CADC gain. So a circuit does not depend on how
 * many circuits are drawn, and the draw is the same on every machine (the
 * Box-Muller normal of lib/rng.h uses only log, sqrt and cos of doubles).
 */
#include "config.h"
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "bss2_internal.h"
#include "spikeloop/error.h"
#include "base/rng.h"
#include "io/h5.h"

#include <hdf5.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V_FULL_SCALE 1.2       /* V at word 1023 */
#define TAU_NUMERATOR 3.0e-3   /* tau = TAU_NUMERATOR / word, s */
#define GAIN_FULL_SCALE 5.0e4  /* V/s per weight unit at word 1023 */
#define REFRAC_PER_WORD 20e-9  /* s per word */
#define SD_V_SCALE 0.03
#define SD_V_OFFSET 0.04       /* V */
#define SD_LOG_TAU 0.25
#define SD_LOG_GAIN 0.2
#define SD_REFRAC 0.1
#define REFRAC_SCALE_FLOOR 0.5
#define SD_ADC_OFFSET 2.0      /* counts */
#define SD_ADC_GAIN 0.02
#define CLIP_SD 3.0
#define CHIP_SALT 0xB552C0DE5EEDull /* keeps chip streams apart from other uses of a seed */

static const char *const word_names[SL_BSS2_NPARAM] = {"leak",    "reset",   "threshold", "tau_mem",
                                                       "tau_syn", "gain",    "refrac"};
static const char *const param_names[SL_BSS2_NPARAM] = {"v_leak",  "v_reset", "v_th", "tau_mem",
                                                        "tau_syn", "gain",    "refrac"};
static const char *const param_units[SL_BSS2_NPARAM] = {"V", "V", "V", "s", "s", "V/s", "s"};

const char *sl_bss2_word_name(int p)
{
  return p >= 0 && p < SL_BSS2_NPARAM ? word_names[p] : NULL;
}

const char *sl_bss2_param_name(int p)
{
  return p >= 0 && p < SL_BSS2_NPARAM ? param_names[p] : NULL;
}

const char *sl_bss2_param_unit(int p)
{
  return p >= 0 && p < SL_BSS2_NPARAM ? param_units[p] : NULL;
}

int slb2_word_min(int p)
{
  return (p == SL_BSS2_TAU_MEM || p == SL_BSS2_TAU_SYN) ? 1 : 0;
}

double slb2_nominal(int p, int word)
{
  switch (p) {
  case SL_BSS2_LEAK:
  case SL_BSS2_RESET:
  case SL_BSS2_THRESHOLD:
    return V_FULL_SCALE * word / SL_BSS2_DAC_MAX;
  case SL_BSS2_TAU_MEM:
  case SL_BSS2_TAU_SYN:
    return word > 0 ? TAU_NUMERATOR / word : INFINITY;
  case SL_BSS2_GAIN:
    return GAIN_FULL_SCALE * word / SL_BSS2_DAC_MAX;
  case SL_BSS2_REFRAC:
    return REFRAC_PER_WORD * word;
  default:
    return NAN;
  }
}

int slb2_nominal_word(int p, double value)
{
  double w;
  switch (p) {
  case SL_BSS2_LEAK:
  case SL_BSS2_RESET:
  case SL_BSS2_THRESHOLD:
    w = value / V_FULL_SCALE * SL_BSS2_DAC_MAX;
    break;
  case SL_BSS2_TAU_MEM:
  case SL_BSS2_TAU_SYN:
    w = value > 0 ? TAU_NUMERATOR / value : SL_BSS2_DAC_MAX;
    break;
  case SL_BSS2_GAIN:
    w = value / GAIN_FULL_SCALE * SL_BSS2_DAC_MAX;
    break;
  case SL_BSS2_REFRAC:
    w = value / REFRAC_PER_WORD;
    break;
  default:
    return 0;
  }
  w = isfinite(w) ? rint(w) : SL_BSS2_DAC_MAX;
  const int lo = slb2_word_min(p);
  return w < lo ? lo : (w > SL_BSS2_DAC_MAX ? SL_BSS2_DAC_MAX : (int)w);
}

static double clipped_normal(sl_rng_state *r)
{
  double z = sl_rng_normal(r);
  return z > CLIP_SD ? CLIP_SD : (z < -CLIP_SD ? -CLIP_SD : z);
}

void slb2_mismatch_draw(uint64_t chip_seed, slb2_mismatch *m)
{
  for (size_t c = 0; c < SL_BSS2_CIRCUITS; c++) {
    sl_rng_state r;
    sl_rng_seed(&r, sl_seed_mix(chip_seed ^ CHIP_SALT, c));
    slb2_mismatch *mc = &m[c];
    for (int p = 0; p < SL_BSS2_NPARAM; p++) {
      mc->scale[p] = 1.0;
      mc->offset[p] = 0.0;
    }
    for (int p = SL_BSS2_LEAK; p <= SL_BSS2_THRESHOLD; p++) {
      mc->scale[p] = 1.0 + SD_V_SCALE * clipped_normal(&r);
      mc->offset[p] = SD_V_OFFSET * clipped_normal(&r);
    }
    mc->scale[SL_BSS2_TAU_MEM] = exp(SD_LOG_TAU * clipped_normal(&r));
    mc->scale[SL_BSS2_TAU_SYN] = exp(SD_LOG_TAU * clipped_normal(&r));
    mc->scale[SL_BSS2_GAIN] = exp(SD_LOG_GAIN * clipped_normal(&r));
    mc->scale[SL_BSS2_REFRAC] = fmax(REFRAC_SCALE_FLOOR, 1.0 + SD_REFRAC * clipped_normal(&r));
    mc->adc_offset = SD_ADC_OFFSET * clipped_normal(&r);
    mc->adc_gain = 1.0 + SD_ADC_GAIN * clipped_normal(&r);
  }
}

/* The default model (FACTS.md s1) mapped nominally: leak = reset = 0.5 V
 * (rint(0.5/1.2*1023) = 426), threshold 0.8 V (682), tau 6 us (500);
 * mid-scale gain (512); no refractory time (0). */
static const int32_t default_words[SL_BSS2_NPARAM] = {426, 426, 682, 500, 500, 512, 0};

static void fill_default(int32_t word[SL_BSS2_NPARAM][SL_BSS2_CIRCUITS])
{
  for (int p = 0; p < SL_BSS2_NPARAM; p++)
    for (size_t c = 0; c < SL_BSS2_CIRCUITS; c++)
      word[p][c] = default_words[p];
}

void sl_bss2_words_default(sl_bss2_words *w)
{
  fill_default(w->word);
}

double slb2_true(const slb2_mismatch *m, int p, int word)
{
  return slb2_nominal(p, word) * m->scale[p] + m->offset[p];
}

int sl_bss2_truth_fill(uint64_t chip_seed, const sl_bss2_words *words, sl_bss2_truth *t)
{
  if (!t)
    return sl_error(SL_EINVAL, "sl_bss2_truth_fill: NULL output");
  slb2_mismatch *m = malloc(SL_BSS2_CIRCUITS * sizeof *m);
  if (!m)
    return sl_error(SL_ENOMEM, "sl_bss2_truth_fill: out of memory");
  if (words) {
    for (int p = 0; p < SL_BSS2_NPARAM; p++)
      for (size_t c = 0; c < SL_BSS2_CIRCUITS; c++) {
        int32_t w = words->word[p][c];
        if (w < slb2_word_min(p) || w > SL_BSS2_DAC_MAX) {
          free(m);
          return sl_error(SL_EINVAL, "sl_bss2_truth_fill: circuit %zu: %s word %d outside %d..%d", c,
                          word_names[p], (int)w, slb2_word_min(p), SL_BSS2_DAC_MAX);
        }
        t->word[p][c] = w;
      }
  } else {
    fill_default(t->word);
  }
  slb2_mismatch_draw(chip_seed, m);
  t->chip_seed = chip_seed;
  for (size_t c = 0; c < SL_BSS2_CIRCUITS; c++) {
    for (int p = 0; p < SL_BSS2_NPARAM; p++) {
      t->value[p][c] = slb2_true(&m[c], p, t->word[p][c]);
      t->scale[p][c] = m[c].scale[p];
      t->offset[p][c] = m[c].offset[p];
    }
    t->adc_offset[c] = m[c].adc_offset;
    t->adc_gain[c] = m[c].adc_gain;
  }
  free(m);
  return SL_OK;
}

/* ------------------------------------------------------------ HDF5 */

/* SL_BSS2_CIRCUITS doubles as dataset `name` with attribute units. */
static herr_t put_doubles(hid_t file, const char *name, const double *v, const char *units)
{
  const hsize_t n = SL_BSS2_CIRCUITS;
  if (slh_dataset(file, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &n, v, SLH_PLAIN) < 0)
    return -1;
  return slh_attr_ascii(file, name, "units", units);
}

herr_t slb2_write_dac(hid_t file, int p, const int32_t *words)
{
  const hsize_t n = SL_BSS2_CIRCUITS;
  char name[64];
  snprintf(name, sizeof name, "/dac/%s", word_names[p]);
  if (slh_dataset(file, name, H5T_STD_I32LE, H5T_NATIVE_INT32, 1, &n, words, SLH_PLAIN) < 0)
    return -1;
  return slh_attr_ascii(file, name, "units", "dac");
}

/* The truth file (layout in spikeloop/bss2.h), for slh_write_file. */
static herr_t truth_fill(hid_t file, const void *arg, const char **what)
{
  const sl_bss2_truth *t = arg;
  static const char *const groups[3] = {"/truth", "/mapping", "/dac"};
  *what = "groups";
  if (slh_plain_groups(file, groups, 3) < 0)
    return -1;
  char name[64];
  for (int p = 0; p < SL_BSS2_NPARAM; p++) {
    *what = param_names[p];
    snprintf(name, sizeof name, "/truth/%s", param_names[p]);
    if (put_doubles(file, name, t->value[p], param_units[p]) < 0)
      return -1;
    snprintf(name, sizeof name, "/mapping/%s_scale", param_names[p]);
    if (put_doubles(file, name, t->scale[p], "1") < 0)
      return -1;
    snprintf(name, sizeof name, "/mapping/%s_offset", param_names[p]);
    if (put_doubles(file, name, t->offset[p], param_units[p]) < 0 ||
        slb2_write_dac(file, p, t->word[p]) < 0)
      return -1;
  }
  *what = "adc";
  if (put_doubles(file, "/truth/adc_offset", t->adc_offset, "counts") < 0 ||
      put_doubles(file, "/truth/adc_gain", t->adc_gain, "1") < 0 ||
      put_doubles(file, "/mapping/adc_offset", t->adc_offset, "counts") < 0 ||
      put_doubles(file, "/mapping/adc_scale", t->adc_gain, "1") < 0)
    return -1;
  *what = "attributes";
  const double time_scale = 1e-3;
  if (slh_attr(file, "/", "chip_seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &t->chip_seed) < 0 ||
      slh_attr_doubles(file, "/", "time_scale", &time_scale, 1) < 0 ||
      slh_attr_ascii(file, "/", "format", "spikeloop-bss2-truth") < 0)
    return -1;
  return 0;
}

int slb2_truth_write(const sl_bss2_truth *t, const char *path)
{
  if (!t || !path || !*path)
    return sl_error(SL_EINVAL, "bss2 truth export: NULL or empty path");
  return slh_write_file("bss2 truth export", path, truth_fill, t);
}

int sl_bss2_export_truth(uint64_t chip_seed, const char *path)
{
  sl_bss2_truth *t = malloc(sizeof *t);
  if (!t)
    return sl_error(SL_ENOMEM, "sl_bss2_export_truth: out of memory");
  int rc = sl_bss2_truth_fill(chip_seed, NULL, t);
  if (rc == SL_OK)
    rc = slb2_truth_write(t, path);
  free(t);
  return rc;
}

/* The words of parameter p from dataset `name` of a calibration file. */
static int read_words(const slh_file *f, const char *name, int p, int32_t *word)
{
  hsize_t n;
  void *buf;
  int rc = slh_read_alloc(f, name, H5T_INTEGER, H5T_NATIVE_INT32, 1, &n, &buf);
  if (rc != SL_OK)
    return rc;
  const int32_t *w = buf;
  if (n != SL_BSS2_CIRCUITS)
    rc = sl_error(SL_EFORMAT, "%s: '%s': %s must be an integer array of %d words", f->who, f->path,
                  name, SL_BSS2_CIRCUITS);
  for (size_t c = 0; c < SL_BSS2_CIRCUITS && rc == SL_OK; c++) {
    if (w[c] < slb2_word_min(p) || w[c] > SL_BSS2_DAC_MAX)
      rc = sl_error(SL_EINVAL, "%s: '%s': %s[%zu] = %d outside %d..%d (circuit %zu, %s)", f->who,
                    f->path, name, c, (int)w[c], slb2_word_min(p), SL_BSS2_DAC_MAX, c,
                    word_names[p]);
    word[c] = w[c];
  }
  free(buf);
  return rc;
}

int sl_bss2_words_load(sl_bss2_words *w, const char *path, unsigned *present)
{
  if (present)
    *present = 0;
  if (!w || !path || !*path)
    return sl_error(SL_EINVAL, "bss2 calib: NULL or empty path");
  sl_bss2_words *out = malloc(sizeof *out);
  if (!out)
    return sl_error(SL_ENOMEM, "bss2 calib: out of memory");
  *out = *w;
  unsigned found = 0;
  slh_file f;
  int rc;
  H5E_BEGIN_TRY
  {
    rc = slh_open_read(&f, "bss2 calib", path);
    if (rc == SL_OK && !slh_exists(&f, "/dac"))
      rc = sl_error(SL_EFORMAT, "bss2 calib: '%s': no group /dac", path);
    for (int p = 0; p < SL_BSS2_NPARAM && rc == SL_OK; p++) {
      char name[64];
      snprintf(name, sizeof name, "/dac/%s", word_names[p]);
      if (!slh_exists(&f, name))
        continue;
      rc = read_words(&f, name, p, out->word[p]);
      found |= 1u << p;
    }
    slh_close(&f);
  }
  H5E_END_TRY;
  if (rc == SL_OK && !found)
    rc = sl_error(SL_EFORMAT, "bss2 calib: '%s': none of /dac/{leak,reset,threshold,tau_mem,"
                              "tau_syn,gain,refrac} present", path);
  if (rc == SL_OK) {
    *w = *out;
    if (present)
      *present = found;
  }
  free(out);
  return rc;
}
