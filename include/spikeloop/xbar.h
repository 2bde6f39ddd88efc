/* spikeloop/xbar.h -- characterising the memristor devices of a crossbar
 * backend and their twin: the per-device map of what each device does
 * that training and deployment use (issue 13). Defined in
 * lib/calib/xbar_charac.c (running the protocols, the recording) and
 * lib/calib/xbar_twin.c (the fit, the map, predicting and compensating).
 *
 * 1. Characterisation (sl_xbar_run) drives the backend's stimulate slot
 *    with SL_STIM_DEVICE (backend.h): every device of the chosen columns is
 *    programmed by write-verify to a known level, read `reads` times right
 *    after programming (t = 0, i.e. the device model's first read at
 *    drift_t0) and again at the deployment age (`age`, s), `repeats` times
 *    programmed anew, at three levels (0, 1/2, 1 of the window).
 * 2. The fit (sl_xbar_fit), per device (G+ and G- of every weight apart):
 *      stuck       a device whose reads at level 0 and level 1 differ by
 *                  less than half the window is stuck: on if it reads above
 *                  the window's middle, off below; g_stuck what it reads
 *      prog_bias,  mean and sd over repeats and levels of (mean read right
 *      prog_sd     after programming - the level's conductance), the read
 *                  noise's share removed from the sd, fractions of the window
 *                  (g_max - g_min); not for stuck devices
 *      read_sd     relative sd of repeated reads of one programmed state
 *      drift_gain  G(age) / G(0) (means over repeats and levels), and
 *      nu          -ln(drift_gain) / ln(age / drift_t0), the power-law
 *                  exponent (0 when age <= drift_t0)
 * 3. The twin predicts, for the conductances a write programs, the weights
 *    the crossbar holds at `age` (sl_xbar_predict: stuck devices at g_stuck,
 *    every device times its drift gain, the global drift compensation as the
 *    chip computes it), and chooses, for weights to deploy, the device
 *    levels whose predicted weight is nearest, read noise counted
 *    (sl_xbar_choose: both devices
 *    of a pair free, so a stuck-on device is cancelled by its partner and a
 *    drifting one compensated to the nearest level). The memristor backend
 *    deploys through it with option twin=MAP.h5.
 *
 * Recording (HDF5, written by `spikeloop characterise --backend memristor`):
 *   /                 attributes format = "spikeloop-xbar-characterisation",
 *                     format_version = 1, backend, options, created, g_min,
 *                     g_max (conductance units of the device model), levels
 *                     (per device; 0 = continuous), drift_t0 (s), age (s),
 *                     compensation (1: global drift compensation), n_layers
 *                     (crossbar layers: hidden0 ... readout)
 *   /layers/<l>       attributes n_in, n_out (the layer's matrix)
 *   /devices/layer, /devices/row, /devices/col  int32 (D); /devices/sign
 *                     uint8 (D): 0 = G+, 1 = G-
 *   /protocols/<name> attributes level (window fraction), g_target (the
 *                     level's conductance), repeats, reads, times, duration
 *                     (s); datasets time float64 (times x reads) s after
 *                     programming, conductance float32 (D, repeats,
 *                     times x reads) as read
 *
 * Map (the twin; HDF5, written by `spikeloop fit`):
 *   /                 attributes format = "spikeloop-xbar-twin",
 *                     format_version = 1, source, g_min, g_max, levels,
 *                     drift_t0, age, compensation, n_layers
 *   /layers/<l>       attributes n_in, n_out; datasets of shape
 *                     (2, n_in, n_out), [0] = G+, [1] = G-:
 *     stuck           uint8: 0 none, 1 stuck on, 2 stuck off, 255 not
 *                     characterised
 *     g_stuck         float32: a stuck device's conductance (NaN otherwise)
 *     drift_gain, nu  float32 (1, 0 where not characterised)
 *     prog_bias, prog_sd  float32, fractions of the window (NaN: not
 *                     characterised or stuck)
 *     read_sd         float32, relative (NaN: not characterised)
 *
 * Errors: every function returns SL_OK or an SL_E* code with a message
 * naming the file, dataset, layer or device at fault.
 */
#ifndef SPIKELOOP_XBAR_H
#define SPIKELOOP_XBAR_H

#include <stddef.h>
#include <stdint.h>

#include "spikeloop/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SL_XBAR_MAX_LAYERS (SL_MAX_LAYERS + 1)
#define SL_XBAR_UNKNOWN 255 /* stuck code of a device not characterised */

/* The protocol set (sl_xbar_run). */
typedef struct {
  double levels[3]; /* window fractions programmed (0, 0.5, 1) */
  size_t n_levels;  /* 3 */
  size_t repeats;   /* programmings per level (8) */
  size_t reads;     /* reads per instant (8) */
  double age;       /* s after programming of the second instant; 0: the backend's
                       drift_time if > 0, else 30 days (Yao et al. followed drift over
                       30 days) */
} sl_xbar_protocols;

sl_xbar_protocols sl_xbar_protocols_default(void);

typedef struct {
  char name[64];
  double level, g_target, duration;
  size_t repeats, reads, times;
  double *time;       /* (times * reads) */
  float *g;           /* (n_dev, repeats, times * reads) */
} sl_xbar_protocol;

/* What the crossbar model is, as the backend states it. */
typedef struct {
  double g_min, g_max, drift_t0, age;
  int levels;
  int compensation;   /* 1: the chip compensates drift globally (cim.h step 5) */
  size_t n_layers;
  size_t n_in[SL_XBAR_MAX_LAYERS], n_out[SL_XBAR_MAX_LAYERS];
} sl_xbar_geometry;

typedef struct {
  char backend[64], options[512];
  sl_xbar_geometry geo;
  size_t n_dev;
  uint32_t *dev_layer, *dev_row, *dev_col;
  uint8_t *dev_sign;
  size_t n_protocols;
  sl_xbar_protocol *proto;
} sl_xbar_charac;

/* Characterise the devices of the input columns of `neurons` (global ids of
 * hw's network; NULL: every neuron) with the protocols p (NULL: defaults).
 * The backend must answer read_config g_min, g_max, levels, drift_t0 and
 * drift_time, drift_compensation (the memristor backend does). Errors: SL_EUNSUPPORTED (no
 * stimulate slot or no device protocol), SL_EINVAL, SL_ENOMEM. */
int sl_xbar_run(sl_hw *hw, const uint32_t *neurons, size_t n, const sl_xbar_protocols *p,
                sl_xbar_charac *out);
void sl_xbar_charac_free(sl_xbar_charac *c);
int sl_xbar_charac_write(const sl_xbar_charac *c, const char *path);
int sl_xbar_charac_read(sl_xbar_charac *c, const char *path);
/* 1 if the file at path is a crossbar recording (format attribute), else 0. */
int sl_xbar_is_recording(const char *path);

/* The per-device map. Arrays of layer l are (2, n_in, n_out). */
typedef struct {
  sl_xbar_geometry geo;
  uint8_t *stuck[SL_XBAR_MAX_LAYERS];
  float *g_stuck[SL_XBAR_MAX_LAYERS], *drift_gain[SL_XBAR_MAX_LAYERS],
      *nu[SL_XBAR_MAX_LAYERS], *prog_bias[SL_XBAR_MAX_LAYERS], *prog_sd[SL_XBAR_MAX_LAYERS],
      *read_sd[SL_XBAR_MAX_LAYERS];
} sl_xbar_twin;

void sl_xbar_twin_free(sl_xbar_twin *t);
/* Fit every device of a recording (see above). Errors: SL_EFORMAT (no two
 * levels half a window apart, no instant at t = 0), SL_ENOMEM. */
int sl_xbar_fit(const sl_xbar_charac *c, sl_xbar_twin *out);
int sl_xbar_twin_write(const sl_xbar_twin *t, const char *path, const char *source);
int sl_xbar_twin_read(sl_xbar_twin *t, const char *path);

/* Predicted weights (n_in x n_out, weight units: (G+ - G-) w_max / window x
 * compensation) of layer l at the twin's age when its devices are
 * programmed to gp, gm (n_in x n_out, on the levels). Errors: SL_EINVAL. */
int sl_xbar_predict(const sl_xbar_twin *t, size_t layer, double w_max, const float *gp,
                    const float *gm, float *w);

/* The device conductances gp, gm (n_in x n_out, on the levels) to program
 * for weights w (n_in x n_out, weight units, |w| <= w_max) so that the
 * expected squared error of every pair's weight at the age is the least
 * the pair can reach: the predicted error squared plus the pair's read
 * noise (read_sd x conductance: of two pairs that hold the same weight the
 * one of lower conductance reads less noise; ties: lower levels). Levels
 * must be >= 2 (a search over levels^2 pairs). Errors: SL_EINVAL,
 * SL_EUNSUPPORTED (continuous devices). */
int sl_xbar_choose(const sl_xbar_twin *t, size_t layer, double w_max, const float *w, float *gp,
                   float *gm);

#ifdef __cplusplus
}
#endif
#endif
