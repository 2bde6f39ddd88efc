/* cim.c -- compute-in-memory crossbar: tiling, device programming
 * (mapping, levels, write-verify, faults, drift), the noisy tiled MVM with
 * DAC and ADC, the reference MVM, counters and energy. The model is
 * described step by step in include/spikeloop/cim.h.
 *
 * Storage: per tile (row tile r, column tile c) three float arrays of
 * rows_r x ncp_c (ncp_c = the tile's columns rounded up to 16, padding at
 * 0): G+ and G- as read at the current drift time and D = G+ - G-; the
 * conductances right after programming are kept to re-derive drift. A flat
 * n_in x n_out copy of D serves the noise-free path, which multiplies a
 * whole batch per row tile with one sgemm (the column tiles of a row tile
 * are independent outputs, so one product over all of them is the same
 * arithmetic) and then applies the ADC per tile column.
 *
 * Randomness is counter-seeded (sl_seed_mix): faults and drift spread per
 * (chip_seed, matrix row), programming noise per (noise_seed, programming
 * event, row), read noise per (noise_seed, global input-vector index). So
 * results never depend on the number of threads or on batch splitting.
 */
#include "config.h"
#include "spikeloop/cim.h"
#include "spikeloop/error.h"
#include "cim_internal.h"
#include "base/rng.h"

#ifdef HAVE_OPENBLAS
#include <cblas.h>
#else
#include <gsl/gsl_cblas.h>
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STUCK_NONE 0
#define STUCK_ON 1
#define STUCK_OFF 2

/* stream tags, xored into seeds so that the streams differ */
#define TAG_FAULT 0x6661756c74000000ull
#define TAG_NU 0x6e75000000000000ull
#define TAG_PROG 0x70726f6700000000ull
#define TAG_READ 0x7265616400000000ull
#define TAG_WREAD 0x7772656164000000ull

struct sl_cim {
  sl_cim_params p;
  size_t n_in, n_out;
  size_t nrt, nct;
  size_t *rb, *cb;  /* tile bounds, nrt+1 and nct+1 */
  size_t *ncp;      /* padded width of column tile c */
  size_t *toff;     /* offset of tile (r, c) in the tile arrays */
  size_t n_cells;   /* elements of one tile array set (padding included) */
  float *gp0, *gm0; /* as programmed (t = t0) */
  float *gp, *gm, *d; /* as read now (drift) */
  float *dflat;     /* n_in x n_out copy of d */
  float *target;    /* n_in x n_out level-quantised target weights */
  unsigned char *stuck_p, *stuck_m; /* per cell, tile layout */
  float *nu_p, *nu_m;               /* per cell drift exponents (NULL: uniform) */
  double w_max;     /* in effect (fixed at the first program) */
  double t_now;
  double comp;      /* drift compensation factor */
  int programmed;
  uint64_t prog_events;
  uint64_t vec_index; /* global input-vector counter (read-noise streams) */
  sl_cim_counters k;
};

sl_cim_params sl_cim_params_default(void)
{
  sl_cim_params p;
  memset(&p, 0, sizeof p);
  p.tile_rows = 128;
  p.tile_cols = 16;
  p.g_min = 0.1;
  p.g_max = 1.0;
  p.levels = 8;
  p.w_max = 0.0;
  p.prog_sd = 0.05;
  p.prog_relative = 0;
  p.verify_tol = 0.05;
  p.max_pulses = 10;
  p.read_sd = 0.02;
  p.drift_nu = 0.005;
  p.drift_nu_sd = 0.0;
  p.drift_t0 = 1.0;
  p.drift_compensation = 1;
  p.stuck_on_rate = 0.0;
  p.stuck_off_rate = 0.0;
  p.chip_seed = 1;
  p.noise_seed = 1;
  p.dac_mode = SL_CIM_DAC_BITSERIAL;
  p.dac_bits = 8;
  p.x_max = 1.0;
  p.adc_bits = 8;
  p.adc_range = 0.0;
  p.v_read = 0.2;
  p.e_cell_read = 11.4e-15;
  p.e_dac = 0.0;
  p.e_adc = 0.0;
  p.e_prog_pulse = 10e-12;
  return p;
}

#define NONNEG(field)                                                                  \
  do {                                                                                 \
    if (!(p->field >= 0.0) || !isfinite(p->field))                                     \
      return sl_error(SL_EINVAL, "cim: " #field " = %g must be finite and >= 0",       \
                      (double)p->field);                                               \
  } while (0)

int sl_cim_params_check(const sl_cim_params *p)
{
  if (!p)
    return sl_error(SL_EINVAL, "cim: NULL parameters");
  if (p->tile_rows < 1 || p->tile_rows > SL_CIM_MAX_TILE)
    return sl_error(SL_ERANGE, "cim: tile_rows = %zu outside 1..%d", p->tile_rows,
                    SL_CIM_MAX_TILE);
  if (p->tile_cols < 1 || p->tile_cols > SL_CIM_MAX_TILE)
    return sl_error(SL_ERANGE, "cim: tile_cols = %zu outside 1..%d", p->tile_cols,
                    SL_CIM_MAX_TILE);
  if (!(p->g_min >= 0.0) || !isfinite(p->g_min))
    return sl_error(SL_EINVAL, "cim: g_min = %g uS: a conductance must be finite and >= 0",
                    p->g_min);
  if (!(p->g_max > p->g_min) || !isfinite(p->g_max))
    return sl_error(SL_EINVAL, "cim: g_max = %g uS must be finite and above g_min = %g uS",
                    p->g_max, p->g_min);
  if (p->levels == 1 || p->levels > 65536)
    return sl_error(SL_EINVAL,
                    "cim: levels = %u per device: need 2..65536 (2 = ternary weights), "
                    "or 0 for continuous conductances",
                    p->levels);
  NONNEG(w_max);
  NONNEG(prog_sd);
  NONNEG(verify_tol);
  if (p->max_pulses < 1 || p->max_pulses > 1000000)
    return sl_error(SL_EINVAL, "cim: max_pulses = %u outside 1..1000000", p->max_pulses);
  NONNEG(read_sd);
  NONNEG(drift_nu);
  NONNEG(drift_nu_sd);
  if (!(p->drift_t0 > 0.0) || !isfinite(p->drift_t0))
    return sl_error(SL_EINVAL, "cim: drift_t0 = %g s must be finite and > 0", p->drift_t0);
  if (!(p->stuck_on_rate >= 0.0 && p->stuck_on_rate <= 1.0) ||
      !(p->stuck_off_rate >= 0.0 && p->stuck_off_rate <= 1.0) ||
      !(p->stuck_on_rate + p->stuck_off_rate <= 1.0))
    return sl_error(SL_EINVAL,
                    "cim: stuck_on_rate = %g and stuck_off_rate = %g must be in [0, 1], sum <= 1",
                    p->stuck_on_rate, p->stuck_off_rate);
  if (p->dac_mode != SL_CIM_DAC_LEVEL && p->dac_mode != SL_CIM_DAC_BITSERIAL)
    return sl_error(SL_EINVAL, "cim: dac_mode = %d unknown (0 level, 1 bit-serial)",
                    (int)p->dac_mode);
  if (p->dac_bits > 16)
    return sl_error(SL_ERANGE, "cim: dac_bits = %u outside 0..16", p->dac_bits);
  if (!(p->x_max > 0.0) || !isfinite(p->x_max))
    return sl_error(SL_EINVAL, "cim: x_max = %g must be finite and > 0", p->x_max);
  if (p->adc_bits == 1 || p->adc_bits > 24)
    return sl_error(SL_ERANGE, "cim: adc_bits = %u outside 2..24 (0 = no ADC)", p->adc_bits);
  NONNEG(adc_range);
  NONNEG(v_read);
  NONNEG(e_cell_read);
  NONNEG(e_dac);
  NONNEG(e_adc);
  NONNEG(e_prog_pulse);
  return SL_OK;
}

/* Split n into the fewest parts of at most m, as evenly as possible. */
static size_t split(size_t n, size_t m, size_t **bounds)
{
  size_t k = (n + m - 1) / m, base = n / k, extra = n % k;
  size_t *b = malloc((k + 1) * sizeof *b);
  if (!b)
    return 0;
  b[0] = 0;
  for (size_t t = 0; t < k; t++)
    b[t + 1] = b[t] + base + (t < extra ? 1 : 0);
  *bounds = b;
  return k;
}

static void *zalloc64(size_t n_bytes)
{
  size_t sz = (n_bytes + 63) / 64 * 64;
  void *q = aligned_alloc(64, sz ? sz : 64);
  if (q)
    memset(q, 0, sz ? sz : 64);
  return q;
}

/* tile-array index of matrix element (i, j), with its row tile r and column tile c */
static inline size_t cell_index(const sl_cim *c, size_t i, size_t j)
{
  size_t r = 0, t = 0;
  /* tiles are near-equal: start from the estimate and adjust */
  r = i * c->nrt / c->n_in;
  while (i < c->rb[r])
    r--;
  while (i >= c->rb[r + 1])
    r++;
  t = j * c->nct / c->n_out;
  while (j < c->cb[t])
    t--;
  while (j >= c->cb[t + 1])
    t++;
  return c->toff[r * c->nct + t] + (i - c->rb[r]) * c->ncp[t] + (j - c->cb[t]);
}

int sl_cim_alloc(sl_cim **out, size_t n_in, size_t n_out, const sl_cim_params *p)
{
  if (!out)
    return sl_error(SL_EINVAL, "cim: NULL output pointer");
  *out = NULL;
  int rc = sl_cim_params_check(p);
  if (rc)
    return rc;
  if (n_in < 1 || n_out < 1)
    return sl_error(SL_ESHAPE, "cim: matrix %zu x %zu is empty", n_in, n_out);
  if (n_in > ((size_t)1 << 28) / n_out)
    return sl_error(SL_ERANGE, "cim: matrix %zu x %zu too large (at most 2^28 weights)", n_in,
                    n_out);
  sl_cim *c = calloc(1, sizeof *c);
  if (!c)
    return sl_error(SL_ENOMEM, "cim: out of memory");
  c->p = *p;
  c->n_in = n_in;
  c->n_out = n_out;
  c->comp = 1.0;
  c->nrt = split(n_in, p->tile_rows, &c->rb);
  c->nct = split(n_out, p->tile_cols, &c->cb);
  if (!c->nrt || !c->nct)
    goto nomem;
  c->ncp = malloc(c->nct * sizeof *c->ncp);
  c->toff = malloc(c->nrt * c->nct * sizeof *c->toff);
  if (!c->ncp || !c->toff)
    goto nomem;
  size_t width = 0;
  for (size_t t = 0; t < c->nct; t++) {
    size_t w = c->cb[t + 1] - c->cb[t];
    c->ncp[t] = (w + SLC_LANES - 1) / SLC_LANES * SLC_LANES;
    width += c->ncp[t];
  }
  size_t off = 0;
  for (size_t r = 0; r < c->nrt; r++)
    for (size_t t = 0; t < c->nct; t++) {
      c->toff[r * c->nct + t] = off;
      off += (c->rb[r + 1] - c->rb[r]) * c->ncp[t];
    }
  c->n_cells = off;
  (void)width;
  if (p->max_tiles && c->nrt * c->nct > p->max_tiles) {
    size_t need = c->nrt * c->nct;
    sl_cim_free(c);
    return sl_error(SL_ERANGE,
                    "cim: a %zu x %zu matrix needs %zu tiles of %zu x %zu, the chip has %zu",
                    n_in, n_out, need, p->tile_rows, p->tile_cols, p->max_tiles);
  }
  size_t fb = c->n_cells * sizeof(float);
  c->gp0 = zalloc64(fb);
  c->gm0 = zalloc64(fb);
  c->gp = zalloc64(fb);
  c->gm = zalloc64(fb);
  c->d = zalloc64(fb);
  c->dflat = zalloc64(n_in * n_out * sizeof(float));
  c->target = zalloc64(n_in * n_out * sizeof(float));
  c->stuck_p = zalloc64(c->n_cells);
  c->stuck_m = zalloc64(c->n_cells);
  if (!c->gp0 || !c->gm0 || !c->gp || !c->gm || !c->d || !c->dflat || !c->target ||
      !c->stuck_p || !c->stuck_m)
    goto nomem;
  if (p->drift_nu_sd > 0.0) {
    c->nu_p = zalloc64(fb);
    c->nu_m = zalloc64(fb);
    if (!c->nu_p || !c->nu_m)
      goto nomem;
  }
  /* chip properties: stuck cells and drift exponents, per (chip_seed, row) */
  double on = p->stuck_on_rate, off_r = p->stuck_off_rate;
  for (size_t i = 0; i < n_in; i++) {
    sl_rng_state rs, rn;
    sl_rng_seed(&rs, sl_seed_mix(p->chip_seed ^ TAG_FAULT, i));
    sl_rng_seed(&rn, sl_seed_mix(p->chip_seed ^ TAG_NU, i));
    for (size_t j = 0; j < n_out; j++) {
      size_t q = cell_index(c, i, j);
      if (on > 0.0 || off_r > 0.0) {
        double u1 = sl_rng_uniform(&rs), u2 = sl_rng_uniform(&rs);
        c->stuck_p[q] = u1 < on ? STUCK_ON : u1 < on + off_r ? STUCK_OFF : STUCK_NONE;
        c->stuck_m[q] = u2 < on ? STUCK_ON : u2 < on + off_r ? STUCK_OFF : STUCK_NONE;
      }
      if (c->nu_p) {
        double a = p->drift_nu + p->drift_nu_sd * sl_rng_normal(&rn);
        double b = p->drift_nu + p->drift_nu_sd * sl_rng_normal(&rn);
        c->nu_p[q] = (float)(a > 0.0 ? a : 0.0);
        c->nu_m[q] = (float)(b > 0.0 ? b : 0.0);
      }
    }
  }
  *out = c;
  return SL_OK;
nomem:
  sl_cim_free(c);
  return sl_error(SL_ENOMEM, "cim: out of memory for a %zu x %zu crossbar", n_in, n_out);
}

void sl_cim_free(sl_cim *c)
{
  if (!c)
    return;
  free(c->rb);
  free(c->cb);
  free(c->ncp);
  free(c->toff);
  free(c->gp0);
  free(c->gm0);
  free(c->gp);
  free(c->gm);
  free(c->d);
  free(c->dflat);
  free(c->target);
  free(c->stuck_p);
  free(c->stuck_m);
  free(c->nu_p);
  free(c->nu_m);
  free(c);
}

size_t sl_cim_n_in(const sl_cim *c) { return c ? c->n_in : 0; }
size_t sl_cim_n_out(const sl_cim *c) { return c ? c->n_out : 0; }
const sl_cim_params *sl_cim_params_get(const sl_cim *c) { return c ? &c->p : NULL; }
size_t sl_cim_row_tiles(const sl_cim *c) { return c ? c->nrt : 0; }
size_t sl_cim_col_tiles(const sl_cim *c) { return c ? c->nct : 0; }

void sl_cim_row_tile_bounds(const sl_cim *c, size_t k, size_t *begin, size_t *end)
{
  *begin = *end = 0;
  if (c && k < c->nrt) {
    *begin = c->rb[k];
    *end = c->rb[k + 1];
  }
}

void sl_cim_col_tile_bounds(const sl_cim *c, size_t k, size_t *begin, size_t *end)
{
  *begin = *end = 0;
  if (c && k < c->nct) {
    *begin = c->cb[k];
    *end = c->cb[k + 1];
  }
}

/* ---------------------------------------------------------------- programming */

/* Level-quantised target conductances of weight w (steps 1-2). */
static void map_pair(const sl_cim_params *p, double w_max, double w, double *gp, double *gm)
{
  double grange = p->g_max - p->g_min;
  double wn = w_max > 0.0 ? w / w_max : 0.0;
  if (wn > 1.0)
    wn = 1.0;
  if (wn < -1.0)
    wn = -1.0;
  double g = p->g_min + grange * fabs(wn);
  if (p->levels >= 2) {
    double L = (double)(p->levels - 1);
    g = p->g_min + rint((g - p->g_min) * L / grange) * grange / L;
  }
  if (wn >= 0.0) {
    *gp = g;
    *gm = p->g_min;
  } else {
    *gp = p->g_min;
    *gm = g;
  }
}

/* Write-verify one device towards target g (step 3-4); returns the
 * conductance reached, adds the pulses spent. */
static double program_device(const sl_cim_params *p, double g, unsigned char stuck,
                             sl_rng_state *rs, uint64_t *pulses)
{
  double grange = p->g_max - p->g_min, tol = p->verify_tol * grange;
  double v = g;
  unsigned n = 0;
  do {
    n++;
    if (stuck == STUCK_ON)
      v = p->g_max;
    else if (stuck == STUCK_OFF)
      v = p->g_min;
    else if (p->prog_sd > 0.0) {
      v = g + p->prog_sd * (p->prog_relative ? g : grange) * sl_rng_normal(rs);
      if (v < 0.0)
        v = 0.0;
    } else
      v = g;
  } while (fabs(v - g) > tol && n < p->max_pulses);
  *pulses += n;
  return v;
}

/* Recompute the read arrays for the current time (drift, step 5). */
static void apply_drift(sl_cim *c)
{
  const sl_cim_params *p = &c->p;
  double ratio = (c->t_now > p->drift_t0 ? c->t_now : p->drift_t0) / p->drift_t0;
  double lr = log(ratio);
  double f_uniform = exp(-p->drift_nu * lr);
#pragma omp parallel for schedule(static)
  for (size_t q = 0; q < c->n_cells; q++) {
    float fp = (float)f_uniform, fm = fp;
    if (c->nu_p) {
      fp = (float)exp(-(double)c->nu_p[q] * lr);
      fm = (float)exp(-(double)c->nu_m[q] * lr);
    }
    if (lr == 0.0)
      fp = fm = 1.0f;
    c->gp[q] = c->gp0[q] * fp;
    c->gm[q] = c->gm0[q] * fm;
    c->d[q] = c->gp[q] - c->gm[q];
  }
  /* the compensation's sums in cell order, not as an OpenMP reduction: a
   * reduction adds per-thread partial sums, so the factor (and every read
   * after it) would change in its last bits with the number of threads */
  double s0 = 0.0, s1 = 0.0;
  for (size_t q = 0; p->drift_compensation && q < c->n_cells; q++) {
    s0 += (double)c->gp0[q] + c->gm0[q];
    s1 += (double)c->gp[q] + c->gm[q];
  }
  c->comp = (p->drift_compensation && s1 > 0.0) ? s0 / s1 : 1.0;
  for (size_t r = 0; r < c->nrt; r++)
    for (size_t t = 0; t < c->nct; t++) {
      const float *dt = c->d + c->toff[r * c->nct + t];
      for (size_t i = c->rb[r]; i < c->rb[r + 1]; i++)
        memcpy(c->dflat + i * c->n_out + c->cb[t], dt + (i - c->rb[r]) * c->ncp[t],
               (c->cb[t + 1] - c->cb[t]) * sizeof(float));
    }
}

/* Nonzero if v[0..n) holds a NaN or an Inf (exponent bits all ones). Blocks
 * of 256 are tested without branches, so the test vectorises. */
static int any_nonfinite(const float *v, size_t n)
{
  size_t i = 0;
  for (; i + 256 <= n; i += 256) {
    uint32_t bad = 0;
    for (size_t k = 0; k < 256; k++) {
      uint32_t bits;
      memcpy(&bits, v + i + k, sizeof bits);
      bad |= (bits & 0x7f800000u) == 0x7f800000u;
    }
    if (bad)
      return 1;
  }
  for (; i < n; i++)
    if (!isfinite(v[i]))
      return 1;
  return 0;
}

static int check_finite(const float *v, size_t n, const char *what)
{
  if (!any_nonfinite(v, n))
    return SL_OK;
  for (size_t i = 0; i < n; i++)
    if (!isfinite(v[i]))
      return sl_error(SL_ENUMERIC, "cim: %s[%zu] = %g is not finite", what, i, (double)v[i]);
  return SL_OK;
}

/* Program the rows' pairs whose target changes by more than thr (thr < 0: all). */
static int program_rows(sl_cim *c, const float *w, double thr, size_t *n_pairs)
{
  const sl_cim_params *p = &c->p;
  double grange = p->g_max - p->g_min;
  uint64_t ev = c->prog_events++;
  uint64_t pulses = 0, cells = 0, pairs = 0;
#pragma omp parallel for schedule(static) reduction(+ : pulses, cells, pairs)
  for (size_t i = 0; i < c->n_in; i++) {
    sl_rng_state rs;
    sl_rng_seed(&rs, sl_seed_mix(p->noise_seed ^ TAG_PROG, ev * 0x100000001ull + i));
    for (size_t j = 0; j < c->n_out; j++) {
      double gp, gm;
      map_pair(p, c->w_max, w[i * c->n_out + j], &gp, &gm);
      float wq = (float)((gp - gm) * c->w_max / grange);
      size_t idx = i * c->n_out + j;
      if (thr >= 0.0 && !(fabs((double)wq - c->target[idx]) > thr))
        continue;
      c->target[idx] = wq;
      size_t q = cell_index(c, i, j);
      c->gp0[q] = (float)program_device(p, gp, c->stuck_p[q], &rs, &pulses);
      c->gm0[q] = (float)program_device(p, gm, c->stuck_m[q], &rs, &pulses);
      cells += 2;
      pairs++;
    }
  }
  c->k.prog_pulses += pulses;
  c->k.cells_programmed += cells;
  if (n_pairs)
    *n_pairs = (size_t)pairs;
  c->t_now = 0.0;
  apply_drift(c);
  c->programmed = 1;
  return SL_OK;
}

int sl_cim_program(sl_cim *c, const float *w)
{
  if (!c || !w)
    return sl_error(SL_EINVAL, "cim_program: NULL argument");
  int rc = check_finite(w, c->n_in * c->n_out, "w");
  if (rc)
    return rc;
  c->w_max = c->p.w_max;
  if (c->w_max == 0.0) {
    for (size_t i = 0; i < c->n_in * c->n_out; i++)
      if (fabs(w[i]) > c->w_max)
        c->w_max = fabs(w[i]);
    if (c->w_max == 0.0)
      c->w_max = 1.0; /* all zero: every device at Gmin */
  }
  return program_rows(c, w, -1.0, NULL);
}

int sl_cim_reprogram(sl_cim *c, const float *w, double threshold, size_t *n_pairs)
{
  if (!c || !w)
    return sl_error(SL_EINVAL, "cim_reprogram: NULL argument");
  if (!c->programmed)
    return sl_error(SL_EINVAL, "cim_reprogram: the crossbar was never programmed");
  if (!(threshold >= 0.0) || !isfinite(threshold))
    return sl_error(SL_EINVAL, "cim_reprogram: threshold = %g must be finite and >= 0",
                    threshold);
  int rc = check_finite(w, c->n_in * c->n_out, "w");
  if (rc)
    return rc;
  return program_rows(c, w, threshold, n_pairs);
}

int sl_cim_set_time(sl_cim *c, double seconds)
{
  if (!c)
    return sl_error(SL_EINVAL, "cim_set_time: NULL crossbar");
  if (!(seconds >= 0.0) || !isfinite(seconds))
    return sl_error(SL_EINVAL, "cim_set_time: %g s must be finite and >= 0", seconds);
  c->t_now = seconds;
  if (c->programmed)
    apply_drift(c);
  return SL_OK;
}

/* ---------------------------------------------------------------- MVM */

#define RINT_MAGIC 6755399441055744.0 /* 1.5 * 2^52: (v + M) - M = rint(v), |v| < 2^51 */

static inline double fast_rint(double v)
{
  volatile double m = RINT_MAGIC; /* keep the compiler from folding (v + M) - M */
  return (v + m) - m;
}

typedef struct {
  double fs, step; /* ADC full scale and step, conductance x input units; step 0: no ADC */
  unsigned planes; /* read pulses per vector */
  double lsb;      /* bit-serial: value of bit 0 (x_max / (2^b - 1)); level: 0 */
  double dac_levels;
} mvm_setup;

static void setup_mvm(const sl_cim *c, mvm_setup *s)
{
  const sl_cim_params *p = &c->p;
  double grange = p->g_max - p->g_min;
  double range = p->adc_range > 0.0 ? p->adc_range : (double)p->tile_rows * c->w_max * p->x_max;
  s->fs = range * grange / c->w_max;
  s->step = p->adc_bits ? 2.0 * s->fs / (double)((1ull << p->adc_bits) - 2) : 0.0;
  s->dac_levels = p->dac_bits ? (double)((1u << p->dac_bits) - 1) : 0.0;
  if (p->dac_mode == SL_CIM_DAC_BITSERIAL && p->dac_bits) {
    s->planes = p->dac_bits;
    s->lsb = p->x_max / s->dac_levels;
  } else {
    s->planes = 1;
    s->lsb = 0.0;
  }
}

static inline double adc(const mvm_setup *s, double v)
{
  if (s->step == 0.0)
    return v;
  if (v > s->fs)
    v = s->fs;
  if (v < -s->fs)
    v = -s->fs;
  return -s->fs + s->step * fast_rint((v + s->fs) / s->step);
}

/* DAC of a batch: level mode writes the analog levels into xq; bit-serial
 * mode writes the signed integer magnitudes m (|m| <= 2^b - 1) as floats. */
static void dac_level(const sl_cim *c, const mvm_setup *s, const float *x, float *xq, size_t n)
{
  const sl_cim_params *p = &c->p;
  for (size_t i = 0; i < n; i++) {
    double v = x[i];
    if (!p->dac_bits) {
      xq[i] = (float)v;
      continue;
    }
    double a = fabs(v) / p->x_max;
    if (a > 1.0)
      a = 1.0;
    double m = rint(a * s->dac_levels);
    if (v < 0.0)
      m = -m;
    xq[i] = s->planes > 1 ? (float)m : (float)(m / s->dac_levels * p->x_max);
  }
}

/* One vector through every tile with read noise: parts (nrt x n_out). */
static void mvm_noisy_vector(const sl_cim *c, const mvm_setup *s, slc_tile_noisy_fn tile_noisy,
                             const float *xm, float *xp, float *acc, double *parts,
                             slc_vrng *rng)
{
  const sl_cim_params *p = &c->p;
  int clamp = p->read_sd * SLC_NORMAL_MAX >= 1.0;
  memset(parts, 0, c->nrt * c->n_out * sizeof *parts);
  for (unsigned k = 0; k < s->planes; k++) {
    const float *xin = xm;
    double wplane = 1.0;
    if (s->planes > 1) { /* bit plane k: +-x_max where bit k of |m| is set */
      unsigned bit = 1u << k;
      for (size_t i = 0; i < c->n_in; i++) {
        float m = xm[i];
        unsigned a = (unsigned)fabsf(m);
        xp[i] = (a & bit) ? (m < 0 ? -(float)p->x_max : (float)p->x_max) : 0.0f;
      }
      xin = xp;
      wplane = (double)bit / s->dac_levels;
    }
    for (size_t r = 0; r < c->nrt; r++) {
      size_t nr = c->rb[r + 1] - c->rb[r];
      for (size_t t = 0; t < c->nct; t++) {
        size_t o = c->toff[r * c->nct + t], np = c->ncp[t];
        memset(acc, 0, np * sizeof *acc);
        tile_noisy(acc, xin + c->rb[r], nr, np, c->d + o, c->gp + o, c->gm + o,
                   (float)p->read_sd, clamp, rng);
        double *pr = parts + r * c->n_out + c->cb[t];
        for (size_t j = 0; j < c->cb[t + 1] - c->cb[t]; j++)
          pr[j] += wplane * adc(s, acc[j]);
      }
    }
  }
}

static void count_mvm(sl_cim *c, const mvm_setup *s, size_t batch)
{
  uint64_t b = batch, pl = s->planes;
  c->k.mvms += b;
  c->k.tile_reads += b * pl * c->nrt * c->nct;
  c->k.cell_reads += b * pl * 2 * (uint64_t)c->n_in * c->n_out;
  if (c->p.dac_bits)
    c->k.dac_conversions += b * pl * c->n_in;
  if (c->p.adc_bits)
    c->k.adc_conversions += b * pl * c->nrt * (uint64_t)c->n_out;
  c->k.digital_adds += b * c->n_out * (c->nrt * pl - 1);
}

/* One vector's partial sums pb (nrt x n_out) -> scaled partials parts_b
 * (if not NULL) and their digital sum y_b (if not NULL). */
static void reduce_parts(const double *pb, size_t nrt, size_t n_out, double out_scale,
                         float *parts_b, float *y_b)
{
  for (size_t j = 0; j < n_out; j++) {
    double sum = 0.0;
    for (size_t r = 0; r < nrt; r++) {
      double v = pb[r * n_out + j] * out_scale;
      sum += v;
      if (parts_b)
        parts_b[r * n_out + j] = (float)v;
    }
    if (y_b)
      y_b[j] = (float)sum;
  }
}

/* With read noise: vector by vector (each draws its own noise, seeded by its
 * index), OpenMP over the batch. Returns nonzero if a thread's buffers
 * could not be allocated. */
static int mvm_read_noise(const sl_cim *c, const mvm_setup *s, const float *x, size_t batch,
                          double out_scale, float *y, float *parts_out)
{
  const sl_cim_params *p = &c->p;
  const size_t n_in = c->n_in, n_out = c->n_out, nrt = c->nrt;
  const uint64_t vec0 = c->vec_index;
  const slc_tile_noisy_fn tile_noisy = slc_tile_noisy_for(sl_isa_active());
  int fail = 0;
#pragma omp parallel
  {
    float *xm = zalloc64(n_in * sizeof(float)), *xp = zalloc64(n_in * sizeof(float));
    float *acc = zalloc64(SL_CIM_MAX_TILE * sizeof(float) + 64);
    double *parts = malloc(nrt * n_out * sizeof(double));
    slc_vrng *rng = zalloc64(sizeof(slc_vrng));
    int ok = xm && xp && acc && parts && rng;
    if (!ok) {
#pragma omp atomic write
      fail = 1;
    }
#pragma omp for schedule(static)
    for (size_t b = 0; b < batch; b++) {
      if (!ok)
        continue;
      dac_level(c, s, x + b * n_in, xm, n_in);
      slc_vrng_seed(rng, sl_seed_mix(p->noise_seed ^ TAG_READ, vec0 + b));
      mvm_noisy_vector(c, s, tile_noisy, xm, xp, acc, parts, rng);
      reduce_parts(parts, nrt, n_out, out_scale, parts_out ? parts_out + b * nrt * n_out : NULL,
                   y ? y + b * n_out : NULL);
    }
    free(xm);
    free(xp);
    free(acc);
    free(parts);
    free(rng);
  }
  return fail;
}

/* Exact periphery (no ADC, no DAC, one plane, sums only): y = sum over row
 * tiles of x_r D_r. Without an ADC between them the row tiles' partial sums
 * are only added, so one sgemm over all n_in rows does the same arithmetic
 * (in another order of the float additions). One call instead of one per
 * row tile: the same multiply-adds (callgrind: -2% instructions for C2),
 * but y is written once instead of read and written 7 times, and the BLAS
 * threads are woken once, which on a busy machine is what costs. */
static void mvm_exact(const sl_cim *c, const float *x, size_t batch, double out_scale, float *y)
{
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)batch, (int)c->n_out,
              (int)c->n_in, (float)out_scale, x, (int)c->n_in, c->dflat, (int)c->n_out, 0.0f, y,
              (int)c->n_out);
}

/* Bit plane k of the DAC magnitudes xq: +-x_max where bit k of |m| is set. */
static void bit_plane(const float *xq, size_t n, unsigned k, float x_max, float *xin)
{
  unsigned bit = 1u << k;
#pragma omp parallel for schedule(static)
  for (size_t q = 0; q < n; q++) {
    unsigned mag = (unsigned)fabsf(xq[q]);
    xin[q] = (mag & bit) ? (xq[q] < 0 ? -x_max : x_max) : 0.0f;
  }
}

/* No read noise: one sgemm per row tile and bit plane over the whole batch,
 * each tile's currents through the ADC. */
static int mvm_batched(const sl_cim *c, const mvm_setup *s, const float *x, size_t batch,
                       double out_scale, float *y, float *parts_out)
{
  const sl_cim_params *p = &c->p;
  const size_t n_in = c->n_in, n_out = c->n_out, nrt = c->nrt;
  float *xq = malloc(batch * n_in * sizeof(float));
  float *xin = s->planes > 1 ? malloc(batch * n_in * sizeof(float)) : NULL;
  float *cur = malloc(batch * n_out * sizeof(float));
  double *acc = calloc(batch * nrt * n_out, sizeof(double));
  if (!xq || !cur || !acc || (s->planes > 1 && !xin)) {
    free(xq);
    free(xin);
    free(cur);
    free(acc);
    return sl_error(SL_ENOMEM, "cim_mvm: out of memory (batch %zu)", batch);
  }
  /* exact periphery: partial sums are added straight away */
  const int summed = s->step == 0.0 && s->planes == 1 && !parts_out && y;
#pragma omp parallel for schedule(static)
  for (size_t b = 0; b < batch; b++)
    dac_level(c, s, x + b * n_in, xq + b * n_in, n_in);
  for (unsigned k = 0; k < s->planes; k++) {
    const float *a = xq;
    double wplane = 1.0;
    if (s->planes > 1) {
      bit_plane(xq, batch * n_in, k, (float)p->x_max, xin);
      a = xin;
      wplane = (double)(1u << k) / s->dac_levels;
    }
    for (size_t r = 0; r < nrt; r++) {
      size_t r0 = c->rb[r], nr = c->rb[r + 1] - r0;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)batch, (int)n_out, (int)nr,
                  1.0f, a + r0, (int)n_in, c->dflat + r0 * n_out, (int)n_out, 0.0f, cur,
                  (int)n_out);
      if (summed) {
#pragma omp parallel for schedule(static)
        for (size_t b = 0; b < batch; b++)
          for (size_t j = 0; j < n_out; j++)
            acc[b * n_out + j] += cur[b * n_out + j];
        continue;
      }
#pragma omp parallel for schedule(static)
      for (size_t b = 0; b < batch; b++)
        for (size_t j = 0; j < n_out; j++)
          acc[(b * nrt + r) * n_out + j] += wplane * adc(s, cur[b * n_out + j]);
    }
  }
#pragma omp parallel for schedule(static)
  for (size_t b = 0; b < batch; b++) {
    if (summed) {
      for (size_t j = 0; j < n_out; j++)
        y[b * n_out + j] = (float)(acc[b * n_out + j] * out_scale);
      continue;
    }
    reduce_parts(acc + b * nrt * n_out, nrt, n_out, out_scale,
                 parts_out ? parts_out + b * nrt * n_out : NULL, y ? y + b * n_out : NULL);
  }
  free(xq);
  free(xin);
  free(cur);
  free(acc);
  return SL_OK;
}

/* The tiled MVM; y (batch x n_out) and/or parts (batch x nrt x n_out). */
static int mvm(sl_cim *c, const float *x, size_t batch, float *y, float *parts_out)
{
  if (!c || !x || (!y && !parts_out))
    return sl_error(SL_EINVAL, "cim_mvm: NULL argument");
  if (!c->programmed)
    return sl_error(SL_EINVAL, "cim_mvm: the crossbar is not programmed (call sl_cim_program)");
  if (batch == 0)
    return SL_OK;
  const sl_cim_params *p = &c->p;
  mvm_setup s;
  setup_mvm(c, &s);
  const double out_scale = c->w_max / (p->g_max - p->g_min) * c->comp;
  const int exact = !(p->read_sd > 0.0) && s.step == 0.0 && s.planes == 1 && !parts_out &&
                    !p->dac_bits;
  int rc = SL_OK;
  if (exact) {
    /* A NaN or Inf in x leaves its row of y not finite (W is finite), so x,
     * a second pass over memory as long as the sgemm's, is read only when y
     * (in cache) says so. Finite x that overflow stay an Inf in y, as before. */
    mvm_exact(c, x, batch, out_scale, y);
    if (any_nonfinite(y, batch * c->n_out) && (rc = check_finite(x, batch * c->n_in, "x")))
      return rc;
  } else if ((rc = check_finite(x, batch * c->n_in, "x")) != SL_OK) {
    return rc;
  } else if (p->read_sd > 0.0) {
    if (mvm_read_noise(c, &s, x, batch, out_scale, y, parts_out))
      return sl_error(SL_ENOMEM, "cim_mvm: out of memory for thread buffers");
  } else if ((rc = mvm_batched(c, &s, x, batch, out_scale, y, parts_out)) != SL_OK) {
    return rc;
  }
  c->vec_index += batch;
  count_mvm(c, &s, batch);
  return SL_OK;
}

int sl_cim_mvm(sl_cim *c, const float *x, size_t batch, float *y)
{
  return mvm(c, x, batch, y, NULL);
}

int sl_cim_mvm_partials(sl_cim *c, const float *x, size_t batch, float *parts)
{
  if (!parts)
    return sl_error(SL_EINVAL, "cim_mvm_partials: NULL argument");
  return mvm(c, x, batch, NULL, parts);
}

int sl_cim_mvm_ref(const sl_cim *c, const float *x, size_t batch, float *y)
{
  if (!c || !x || !y)
    return sl_error(SL_EINVAL, "cim_mvm_ref: NULL argument");
  if (!c->programmed)
    return sl_error(SL_EINVAL, "cim_mvm_ref: the crossbar is not programmed");
  int rc = check_finite(x, batch * c->n_in, "x");
  if (rc)
    return rc;
#pragma omp parallel for schedule(static)
  for (size_t b = 0; b < batch; b++)
    for (size_t j = 0; j < c->n_out; j++) {
      double acc = 0.0;
      for (size_t i = 0; i < c->n_in; i++)
        acc += (double)x[b * c->n_in + i] * c->target[i * c->n_out + j];
      y[b * c->n_out + j] = (float)acc;
    }
  return SL_OK;
}

int sl_cim_calibrate_adc(sl_cim *c, const float *x, size_t batch, double margin)
{
  if (!c || !x)
    return sl_error(SL_EINVAL, "cim_calibrate_adc: NULL argument");
  if (!c->programmed)
    return sl_error(SL_EINVAL, "cim_calibrate_adc: the crossbar is not programmed");
  if (!(margin >= 1.0) || !isfinite(margin))
    return sl_error(SL_EINVAL, "cim_calibrate_adc: margin = %g must be >= 1", margin);
  int rc = check_finite(x, batch * c->n_in, "x");
  if (rc)
    return rc;
  double m = 0.0;
#pragma omp parallel for schedule(static) reduction(max : m)
  for (size_t b = 0; b < batch; b++)
    for (size_t r = 0; r < c->nrt; r++)
      for (size_t j = 0; j < c->n_out; j++) {
        double acc = 0.0;
        for (size_t i = c->rb[r]; i < c->rb[r + 1]; i++)
          acc += (double)x[b * c->n_in + i] * c->target[i * c->n_out + j];
        if (fabs(acc) > m)
          m = fabs(acc);
      }
  c->p.adc_range = m > 0.0 ? m * margin : c->w_max * c->p.x_max;
  return SL_OK;
}

/* One read of row i's devices in crossbar read v: its noise stream, then
 * each pair's conductances with read noise (clipped at 0), in column order.
 * What sl_cim_weights(SL_CIM_READ) and sl_cim_read_devices both read. */
static void read_stream(const sl_cim *c, uint64_t v, size_t i, sl_rng_state *rs)
{
  sl_rng_seed(rs, sl_seed_mix(c->p.noise_seed ^ TAG_WREAD, v * 0x100000001ull + i));
}

static void read_pair(const sl_cim *c, size_t q, sl_rng_state *rs, double *gp, double *gm)
{
  const double a = c->gp[q] * (1.0 + c->p.read_sd * sl_rng_normal(rs));
  const double b = c->gm[q] * (1.0 + c->p.read_sd * sl_rng_normal(rs));
  *gp = a > 0.0 ? a : 0.0;
  *gm = b > 0.0 ? b : 0.0;
}

int sl_cim_weights(sl_cim *c, sl_cim_weight_kind kind, float *w)
{
  if (!c || !w)
    return sl_error(SL_EINVAL, "cim_weights: NULL argument");
  if (!c->programmed)
    return sl_error(SL_EINVAL, "cim_weights: the crossbar is not programmed");
  const sl_cim_params *p = &c->p;
  double scale = c->w_max / (p->g_max - p->g_min);
  switch (kind) {
  case SL_CIM_TARGET:
    memcpy(w, c->target, c->n_in * c->n_out * sizeof *w);
    return SL_OK;
  case SL_CIM_PROGRAMMED:
    for (size_t i = 0; i < c->n_in; i++)
      for (size_t j = 0; j < c->n_out; j++)
        w[i * c->n_out + j] = (float)(c->d[cell_index(c, i, j)] * scale * c->comp);
    return SL_OK;
  case SL_CIM_READ: {
    uint64_t v = c->vec_index++;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < c->n_in; i++) {
      sl_rng_state rs;
      read_stream(c, v, i, &rs);
      for (size_t j = 0; j < c->n_out; j++) {
        double gp, gm;
        read_pair(c, cell_index(c, i, j), &rs, &gp, &gm);
        w[i * c->n_out + j] = (float)((gp - gm) * scale * c->comp);
      }
    }
    c->k.tile_reads += c->nrt * c->nct;
    c->k.cell_reads += 2 * (uint64_t)c->n_in * c->n_out;
    return SL_OK;
  }
  default:
    return sl_error(SL_EINVAL, "cim_weights: unknown kind %d", (int)kind);
  }
}

/* ---------------------------------------------------------------- counters */

void sl_cim_stuck_count(const sl_cim *c, uint64_t *on, uint64_t *off)
{
  uint64_t n_on = 0, n_off = 0;
  for (size_t q = 0; c && q < c->n_cells; q++) { /* padding cells are STUCK_NONE */
    n_on += (c->stuck_p[q] == STUCK_ON) + (c->stuck_m[q] == STUCK_ON);
    n_off += (c->stuck_p[q] == STUCK_OFF) + (c->stuck_m[q] == STUCK_OFF);
  }
  if (on)
    *on = n_on;
  if (off)
    *off = n_off;
}

void sl_cim_counters_get(const sl_cim *c, sl_cim_counters *out)
{
  if (c && out)
    *out = c->k;
}

void sl_cim_counters_add(sl_cim_counters *sum, const sl_cim_counters *k)
{
  if (!sum || !k)
    return;
  sum->mvms += k->mvms;
  sum->tile_reads += k->tile_reads;
  sum->cell_reads += k->cell_reads;
  sum->dac_conversions += k->dac_conversions;
  sum->adc_conversions += k->adc_conversions;
  sum->prog_pulses += k->prog_pulses;
  sum->cells_programmed += k->cells_programmed;
  sum->digital_adds += k->digital_adds;
}

void sl_cim_counters_reset(sl_cim *c)
{
  if (c)
    memset(&c->k, 0, sizeof c->k);
}

double sl_cim_energy(const sl_cim_params *p, const sl_cim_counters *k)
{
  if (!p || !k)
    return 0.0;
  return p->e_cell_read * (double)k->cell_reads + p->e_dac * (double)k->dac_conversions +
         p->e_adc * (double)k->adc_conversions + p->e_prog_pulse * (double)k->prog_pulses;
}

double sl_cim_energy_per_mvm(const sl_cim *c)
{
  if (!c || !c->k.mvms)
    return 0.0;
  sl_cim_counters k = c->k;
  k.prog_pulses = 0;
  return sl_cim_energy(&c->p, &k) / (double)k.mvms;
}

/* ------------------------------------------------------------ checkpoints */

/* Layout 1: tag, then the scalars, then the float arrays, native byte order. */
#define CIM_STATE_TAG UINT64_C(0x63696d7374000001) /* "cimst", layout 1 */

typedef struct {
  uint64_t tag, n_cells, n_flat;
  double w_max, t_now, comp;
  int64_t programmed;
  uint64_t prog_events, vec_index;
  sl_cim_counters k;
} cim_state_head;

size_t sl_cim_state_size(const sl_cim *c)
{
  const size_t flat = c->n_in * c->n_out;
  return sizeof(cim_state_head) + (5 * c->n_cells + 2 * flat) * sizeof(float);
}

void sl_cim_state_save(const sl_cim *c, uint8_t *buf)
{
  const size_t flat = c->n_in * c->n_out;
  cim_state_head h;
  memset(&h, 0, sizeof h);
  h.tag = CIM_STATE_TAG;
  h.n_cells = c->n_cells;
  h.n_flat = flat;
  h.w_max = c->w_max;
  h.t_now = c->t_now;
  h.comp = c->comp;
  h.programmed = c->programmed;
  h.prog_events = c->prog_events;
  h.vec_index = c->vec_index;
  h.k = c->k;
  memcpy(buf, &h, sizeof h);
  buf += sizeof h;
  const float *cells[5] = {c->gp0, c->gm0, c->gp, c->gm, c->d};
  for (size_t i = 0; i < 5; i++, buf += c->n_cells * sizeof(float))
    memcpy(buf, cells[i], c->n_cells * sizeof(float));
  memcpy(buf, c->dflat, flat * sizeof(float));
  memcpy(buf + flat * sizeof(float), c->target, flat * sizeof(float));
}

int sl_cim_state_load(sl_cim *c, const uint8_t *buf, size_t len)
{
  if (!c || !buf)
    return sl_error(SL_EINVAL, "sl_cim_state_load: NULL argument");
  const size_t flat = c->n_in * c->n_out;
  cim_state_head h;
  if (len != sl_cim_state_size(c))
    return sl_error(SL_EFORMAT, "cim: a saved state of %zu bytes, this crossbar's has %zu", len,
                    sl_cim_state_size(c));
  memcpy(&h, buf, sizeof h);
  if (h.tag != CIM_STATE_TAG || h.n_cells != c->n_cells || h.n_flat != flat)
    return sl_error(SL_EFORMAT, "cim: the saved state is of another crossbar or layout");
  buf += sizeof h;
  float *cells[5] = {c->gp0, c->gm0, c->gp, c->gm, c->d};
  for (size_t i = 0; i < 5; i++, buf += c->n_cells * sizeof(float))
    memcpy(cells[i], buf, c->n_cells * sizeof(float));
  memcpy(c->dflat, buf, flat * sizeof(float));
  memcpy(c->target, buf + flat * sizeof(float), flat * sizeof(float));
  c->w_max = h.w_max;
  c->t_now = h.t_now;
  c->comp = h.comp;
  c->programmed = (int)h.programmed;
  c->prog_events = h.prog_events;
  c->vec_index = h.vec_index;
  c->k = h.k;
  return SL_OK;
}

/* ------------------------------------------------- device-level access */

int sl_cim_program_devices(sl_cim *c, const float *gp, const float *gm)
{
  if (!c || !gp || !gm)
    return sl_error(SL_EINVAL, "cim_program_devices: NULL argument");
  const sl_cim_params *p = &c->p;
  const size_t n = c->n_in * c->n_out;
  int rc = check_finite(gp, n, "gp");
  if (!rc)
    rc = check_finite(gm, n, "gm");
  if (rc)
    return rc;
  const double tol = 1e-6 * (p->g_max - p->g_min);
  for (size_t k = 0; k < 2 * n; k++) {
    double g = k < n ? gp[k] : gm[k - n];
    if (g < p->g_min - tol || g > p->g_max + tol)
      return sl_error(SL_ERANGE, "cim_program_devices: %s[%zu] = %g is outside the window "
                      "[%g, %g]", k < n ? "gp" : "gm", k % n, g, p->g_min, p->g_max);
  }
  if (!c->programmed || c->w_max == 0.0)
    c->w_max = p->w_max > 0.0 ? p->w_max : 1.0;
  const double grange = p->g_max - p->g_min;
  uint64_t ev = c->prog_events++;
  uint64_t pulses = 0;
#pragma omp parallel for schedule(static) reduction(+ : pulses)
  for (size_t i = 0; i < c->n_in; i++) {
    sl_rng_state rs;
    sl_rng_seed(&rs, sl_seed_mix(p->noise_seed ^ TAG_PROG, ev * 0x100000001ull + i));
    for (size_t j = 0; j < c->n_out; j++) {
      size_t idx = i * c->n_out + j, q = cell_index(c, i, j);
      double t[2] = {gp[idx], gm[idx]};
      for (int s = 0; s < 2; s++) { /* step 2: onto the levels */
        t[s] = t[s] < p->g_min ? p->g_min : t[s] > p->g_max ? p->g_max : t[s];
        if (p->levels >= 2) {
          double L = (double)(p->levels - 1);
          t[s] = p->g_min + rint((t[s] - p->g_min) * L / grange) * grange / L;
        }
      }
      c->target[idx] = (float)((t[0] - t[1]) * c->w_max / grange);
      c->gp0[q] = (float)program_device(p, t[0], c->stuck_p[q], &rs, &pulses);
      c->gm0[q] = (float)program_device(p, t[1], c->stuck_m[q], &rs, &pulses);
    }
  }
  c->k.prog_pulses += pulses;
  c->k.cells_programmed += 2 * (uint64_t)n;
  c->t_now = 0.0;
  apply_drift(c);
  c->programmed = 1;
  return SL_OK;
}

int sl_cim_read_devices(sl_cim *c, float *gp, float *gm)
{
  if (!c || !gp || !gm)
    return sl_error(SL_EINVAL, "cim_read_devices: NULL argument");
  if (!c->programmed)
    return sl_error(SL_EINVAL, "cim_read_devices: the crossbar is not programmed");
  uint64_t v = c->vec_index++;
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < c->n_in; i++) {
    sl_rng_state rs;
    read_stream(c, v, i, &rs);
    for (size_t j = 0; j < c->n_out; j++) {
      double a, b;
      read_pair(c, cell_index(c, i, j), &rs, &a, &b);
      gp[i * c->n_out + j] = (float)a;
      gm[i * c->n_out + j] = (float)b;
    }
  }
  c->k.tile_reads += c->nrt * c->nct;
  c->k.cell_reads += 2 * (uint64_t)c->n_in * c->n_out;
  return SL_OK;
}

int sl_cim_device_truth(const sl_cim *c, uint8_t *stuck_p, uint8_t *stuck_m, float *nu_p,
                        float *nu_m)
{
  if (!c)
    return sl_error(SL_EINVAL, "cim_device_truth: NULL crossbar");
  for (size_t i = 0; i < c->n_in; i++)
    for (size_t j = 0; j < c->n_out; j++) {
      size_t q = cell_index(c, i, j), idx = i * c->n_out + j;
      if (stuck_p)
        stuck_p[idx] = c->stuck_p[q];
      if (stuck_m)
        stuck_m[idx] = c->stuck_m[q];
      if (nu_p)
        nu_p[idx] = c->nu_p ? c->nu_p[q] : (float)c->p.drift_nu;
      if (nu_m)
        nu_m[idx] = c->nu_m ? c->nu_m[q] : (float)c->p.drift_nu;
    }
  return SL_OK;
}

double sl_cim_compensation(const sl_cim *c) { return c ? c->comp : 1.0; }

int sl_cim_set_devices(sl_cim *c, const uint8_t *stuck_p, const uint8_t *stuck_m,
                       const float *nu_p, const float *nu_m)
{
  if (!c)
    return sl_error(SL_EINVAL, "cim_set_devices: NULL crossbar");
  const size_t n = c->n_in * c->n_out;
  for (size_t k = 0; k < n; k++)
    if ((stuck_p && stuck_p[k] > STUCK_OFF) || (stuck_m && stuck_m[k] > STUCK_OFF) ||
        (nu_p && !(nu_p[k] >= 0 && isfinite(nu_p[k]))) ||
        (nu_m && !(nu_m[k] >= 0 && isfinite(nu_m[k]))))
      return sl_error(SL_EINVAL, "cim_set_devices: device (%zu, %zu): stuck must be 0, 1 or 2 "
                      "and nu finite and >= 0", k / c->n_out, k % c->n_out);
  if ((nu_p || nu_m) && !c->nu_p) {
    size_t fb = c->n_cells * sizeof(float);
    c->nu_p = zalloc64(fb);
    c->nu_m = zalloc64(fb);
    if (!c->nu_p || !c->nu_m) {
      free(c->nu_p);
      free(c->nu_m);
      c->nu_p = c->nu_m = NULL;
      return sl_error(SL_ENOMEM, "cim_set_devices: out of memory");
    }
    for (size_t q = 0; q < c->n_cells; q++)
      c->nu_p[q] = c->nu_m[q] = (float)c->p.drift_nu;
  }
  for (size_t i = 0; i < c->n_in; i++)
    for (size_t j = 0; j < c->n_out; j++) {
      size_t q = cell_index(c, i, j), k = i * c->n_out + j;
      if (stuck_p)
        c->stuck_p[q] = stuck_p[k];
      if (stuck_m)
        c->stuck_m[q] = stuck_m[k];
      if (nu_p)
        c->nu_p[q] = nu_p[k];
      if (nu_m)
        c->nu_m[q] = nu_m[k];
    }
  if (c->programmed)
    apply_drift(c);
  return SL_OK;
}
