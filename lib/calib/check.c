/* check.c -- sl_charac_check: whether a characterisation recording read by
 * sl_charac_read (spikeloop/charac.h) can be fitted, neuron by neuron,
 * before any fit runs, with a report that says what is missing or
 * inconsistent and what the conventions are (spike times since the onset,
 * a time axis with the onset at 0, hardware seconds). The reader already
 * refuses what breaks the format (types, shapes, units, unknown words);
 * this module checks what the fitter needs of the contents: the protocols
 * each neuron was recorded in, samples on both sides of the onset where a
 * fit uses them, windows long enough, distinct clamp levels, spikes where
 * thresholds and resets are fitted and none where there is no input.
 * It reads nothing from the fitter but its rules, repeated here. */
#include "config.h"
#include "spikeloop/charac.h"
#include "spikeloop/error.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The report being written: a buffer, and counts of errors and notes. */
typedef struct {
  char *buf;
  size_t len, used;
  size_t errors, notes;
  char first[512];
} report;

static void say(report *r, int error, const char *fmt, ...)
{
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (error && !r->errors)
    snprintf(r->first, sizeof r->first, "%s", line);
  if (error)
    r->errors++;
  else
    r->notes++;
  if (r->buf && r->used < r->len) {
    int k = snprintf(r->buf + r->used, r->len - r->used, "%s: %s\n", error ? "error" : "note",
                     line);
    if (k > 0)
      r->used += (size_t)k < r->len - r->used ? (size_t)k : r->len - r->used - 1;
  }
}

/* Samples of p at or before the onset and after it. */
static void count_samples(const sl_charac_protocol *p, size_t *before, size_t *after)
{
  *before = *after = 0;
  for (size_t j = 0; j < p->n_samples; j++)
    (p->time[j] > 0 ? after : before)[0]++;
}

/* Neurons (ids) of c that no protocol of kind `kind` recorded: reported as
 * one error with the count and the first ids. */
static void coverage(report *r, const sl_charac *c, int kind, size_t need, const char *what)
{
  size_t missing = 0;
  char ids[128] = "";
  for (size_t i = 0; i < c->n; i++) {
    size_t have = 0;
    for (size_t k = 0; k < c->n_protocols; k++)
      have += c->proto[k].protocol == kind && sl_charac_has(&c->proto[k], i);
    if (have >= need)
      continue;
    if (missing < 6)
      snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%u", missing ? ", " : "",
               (unsigned)c->neurons[i]);
    missing++;
  }
  if (missing == c->n)
    say(r, 1, "no neuron has %s", what);
  else if (missing)
    say(r, 1, "%zu of %zu neurons lack %s (ids %s%s)", missing, c->n, what, ids,
        missing > 6 ? ", ..." : "");
}

/* Per neuron: two decays at different levels when the readout is measured
 * from the clamp levels. */
static void clamp_levels(report *r, const sl_charac *c)
{
  size_t same = 0;
  for (size_t i = 0; i < c->n; i++) {
    double lo = INFINITY, hi = -INFINITY;
    for (size_t k = 0; k < c->n_protocols; k++) {
      const sl_charac_protocol *p = &c->proto[k];
      if (p->protocol != SL_STIM_DECAY || !sl_charac_has(p, i))
        continue;
      double v = sl_charac_level(p, i);
      lo = fmin(lo, v);
      hi = fmax(hi, v);
    }
    same += isfinite(lo) && !(hi - lo > 1e-9 * fmax(1.0, fabs(hi)));
  }
  if (same)
    say(r, 1, "%zu neuron(s) have their decays clamped at one level only: with the membrane in "
        "ADC codes and no ADC mapping (adc_volts_per_code, adc_offset, volt_at_zero, "
        "volt_per_unit), the readout is measured from two clamp levels", same);
}

/* What one protocol offers the fit. */
static void check_protocol(report *r, const sl_charac *c, const sl_charac_protocol *p,
                           int readout_measured)
{
  size_t before, after;
  count_samples(p, &before, &after);
  const double t_end = p->time[p->n_samples - 1];
  const double period = (t_end - p->time[0]) / (double)(p->n_samples - 1);
  if (after < 8)
    say(r, 1, "/protocols/%s: %zu samples after the onset (t > 0); the fit needs at least 8 "
        "(the time axis must have the onset at 0, hardware s)", p->name, after);
  if (p->protocol == SL_STIM_DECAY && readout_measured && !before)
    say(r, 1, "/protocols/%s: no sample at or before the onset (t <= 0): the clamp samples "
        "measure the readout (or give the ADC mapping)", p->name);
  if (p->protocol == SL_STIM_PSP && !before)
    say(r, 0, "/protocols/%s: no pre-onset baseline (t <= 0); the PSP fit pins its resting "
        "level with it, so the fit is weaker without", p->name);
  if (p->protocol == SL_STIM_PSP)
    for (size_t i = 0; i < c->n; i++)
      if (sl_charac_has(p, i) && !(fabs(sl_charac_weight(p, i)) > 0)) {
        say(r, 1, "/protocols/%s: weight of neuron %u is 0: no PSP to fit", p->name,
            (unsigned)c->neurons[i]);
        break;
      }
  const int drive = p->protocol == SL_STIM_CURRENT || p->protocol == SL_CHARAC_RAMP;
  if (drive)
    for (size_t i = 0; i < c->n; i++)
      if (sl_charac_has(p, i) && !(sl_charac_current(p, i) > 0)) {
        say(r, 1, "/protocols/%s: current of neuron %u is %g: the threshold is fitted from "
            "the first spike under a positive (depolarising) drive", p->name,
            (unsigned)c->neurons[i], sl_charac_current(p, i));
        break;
      }
  /* spikes: relative to the onset, inside the recorded window */
  size_t late = 0, early = 0;
  for (size_t s = 0; s < p->n_spikes; s++) {
    if (p->spike_time[s] > t_end + 2 * period)
      late++;
    if (p->spike_time[s] <= 0)
      early++;
  }
  if (late)
    say(r, 1, "/protocols/%s: %zu spike time(s) after the last sample (%g s): spike times are "
        "hardware s since the onset, not absolute", p->name, late, t_end);
  if (early && drive)
    say(r, 0, "/protocols/%s: %zu spike(s) at or before the onset: those neurons fire without "
        "input and are flagged", p->name, early);
  if (!drive && p->n_spikes)
    say(r, 0, "/protocols/%s: %zu spike(s) in a %s protocol: those neurons are flagged "
        "(always firing)", p->name, p->n_spikes, p->protocol == SL_STIM_DECAY ? "decay" : "psp");
  if (drive) {
    size_t silent = 0, one = 0;
    for (size_t i = 0; i < c->n; i++) {
      if (!sl_charac_has(p, i))
        continue;
      size_t most = 0;
      for (size_t b = 0; b < p->repeats; b++) {
        size_t k = 0;
        for (size_t s = 0; s < p->n_spikes; s++)
          k += p->spike_neuron[s] == i && p->spike_trial[s] == b && p->spike_time[s] > 0;
        most = k > most ? k : most;
      }
      silent += most == 0;
      one += most == 1 && p->protocol == SL_STIM_CURRENT;
    }
    if (silent)
      say(r, 0, "/protocols/%s: %zu neuron(s) never spike: no threshold (flagged silent)",
          p->name, silent);
    if (one)
      say(r, 0, "/protocols/%s: %zu neuron(s) spike at most once per trial: reset and "
          "refractory time need two spikes in a trial", p->name, one);
  }
  /* saturated ADC samples */
  if (!strcmp(c->membrane_units, "adc") && c->adc_bits > 0) {
    const float top = (float)(ldexp(1.0, c->adc_bits) - 1.0); /* no shift: any adc_bits */
    size_t rail = 0, total = p->n_rows * p->repeats * p->n_samples;
    for (size_t k = 0; k < total; k++)
      rail += p->membrane[k] <= 0.0f || p->membrane[k] >= top;
    if (rail)
      say(r, 0, "/protocols/%s: %zu of %zu samples at the ADC rails (0 or %g): unused by the fit",
          p->name, rail, total, (double)top);
  }
}

int sl_charac_check(const sl_charac *c, char *buf, size_t len)
{
  if (!c)
    return sl_error(SL_EINVAL, "sl_charac_check: NULL argument");
  report r = {buf, len, 0, 0, 0, ""};
  if (buf && len)
    buf[0] = '\0';
  const int readout_measured = strcmp(c->membrane_units, "model") && !c->readout_known;
  coverage(&r, c, SL_STIM_DECAY, readout_measured ? 2 : 1,
           readout_measured ? "two decay protocols (the readout is measured from their clamp "
                              "levels unless the ADC mapping is given)"
                            : "a decay protocol");
  coverage(&r, c, SL_STIM_PSP, 1, "a psp protocol");
  coverage(&r, c, SL_STIM_CURRENT, 1, "a current protocol");
  if (readout_measured)
    clamp_levels(&r, c);
  for (size_t k = 0; k < c->n_protocols; k++)
    check_protocol(&r, c, &c->proto[k], readout_measured);
  if (!(c->spike_delay >= 0))
    say(&r, 1, "spike_delay = %g s: must be >= 0 (the stamp's delay after the crossing)",
        c->spike_delay);
  if (r.errors)
    return sl_error(SL_EFORMAT, "recording cannot be fitted: %zu problem(s), the first: %s",
                    r.errors, r.first);
  return SL_OK;
}
