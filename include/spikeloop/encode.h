/* spikeloop/encode.h -- spike encoders (lib/data/encode.c): a batch of feature rows
 * becomes an input spike raster of layout (T, B, D_out), time-major,
 * row-major, values 0 or 1 (float). */
#ifndef SPIKELOOP_ENCODE_H
#define SPIKELOOP_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  SL_ENCODE_LATENCY_LINEAR = 0, /* t = t_early + (1 - x) * (t_late - t_early) */
  SL_ENCODE_LATENCY_LOG = 1,    /* t = tau_in * log(x / (x - x_min)); x <= x_min: no spike */
  SL_ENCODE_RATE = 2,           /* Bernoulli per step with p = x * rate_max */
  SL_ENCODE_RASTER = 3          /* the row is a (T, dim/T) raster: spike where x > 0 (SHD) */
};

typedef struct {
  int kind;          /* SL_ENCODE_* */
  size_t t_steps;    /* T */
  double dt;         /* step length, s (latency times are in s) */
  double t_early;    /* linear latency: time of x = 1, s */
  double t_late;     /* linear latency: time of x = 0, s */
  double tau_in;     /* log latency: time scale, s */
  double x_min;      /* log latency: features <= x_min send no spike */
  double rate_max;   /* rate: spike probability per step at x = 1 */
  int bias;          /* 1: append one input that spikes once at bias_time */
  double bias_time;  /* s */
} sl_encoder;

/* Defaults: linear latency, T = 40, dt = 1 ms, t_early = 2 ms,
 * t_late = 27 ms, tau_in = 8 ms, x_min = 0.2, rate_max = 0.2, bias = 1,
 * bias_time = 0. */
sl_encoder sl_encoder_default(void);

/* Output inputs per sample: dim + (bias ? 1 : 0); raster: dim/T + (bias ? 1 : 0). */
size_t sl_encoder_out_dim(const sl_encoder *e, size_t dim);

/* Look up an encoder kind by name: "latency", "latency_log", "rate", "raster".
 * Returns SL_ENOTFOUND for others (the message lists the known names). */
int sl_encoder_kind_from_name(const char *name, int *kind);
const char *sl_encoder_kind_name(int kind); /* NULL for an unknown kind */
/* NULL-terminated list of the encoder names, in SL_ENCODE_* order. */
const char *const *sl_encoder_list(void);

/* Encode B feature rows x (B, dim) into out (T, B, out_dim), zeroing it first
 * (out is untouched on error).
 * A latency spike lands in step floor(t/dt + 0.5) and is dropped if that is
 * >= T. Rate coding draws from a generator seeded by (seed, sample_ids[b]),
 * so the result does not depend on batching or threads; sample_ids may be
 * NULL for the latency kinds. Errors: SL_EINVAL (bad settings, including a
 * bias_time that falls at or after step T; NULL sample_ids for rate),
 * SL_ENUMERIC (NaN/Inf feature, message names the sample and feature). */
int sl_encode(const sl_encoder *e, const float *x, size_t B, size_t dim,
              const uint64_t *sample_ids, uint64_t seed, float *out);

#ifdef __cplusplus
}
#endif
#endif
