/* spikeloop/cim.h -- compute-in-memory crossbars: a weight matrix on
 * memristor tiles with a device model, for MVMs as the hardware computes them.
 *
 * A matrix W (n_in x n_out, y = x W) is mapped onto tiles of at most
 * tile_rows x tile_cols devices (default 128 x 16, the 1T1R arrays of Yao et
 * al., Nature 2020; any size up to 1024 x 1024). Physical rows carry inputs,
 * columns carry outputs. Rows and columns are split into the fewest tiles
 * that fit, as evenly as possible (784 rows, at most 128 -> 7 tiles of 112;
 * when the count does not divide, the first tiles get one row more). Every
 * tile is a pair of arrays, one holding G+ and one holding G-: a signed
 * weight is a differential pair. Column currents of a tile are converted by
 * its ADC; partial sums of the row tiles are added digitally.
 *
 * The device model, step by step (every number is a field of sl_cim_params;
 * defaults and their sources are listed there):
 *  1. Mapping (one-sided differential pair): w_n = w / w_max; w_n >= 0 ->
 *     G+ = Gmin + Grange w_n, G- = Gmin; w_n < 0 -> G+ = Gmin,
 *     G- = Gmin + Grange |w_n| (Grange = Gmax - Gmin).
 *  2. Levels: `levels` evenly spaced conductances per device on [Gmin, Gmax]
 *     (8 -> weights {-7..7}/7 w_max: 15 levels; 2 -> ternary {-1, 0, 1});
 *     G_q = Gmin + rint((G - Gmin)(L-1)/Grange) Grange/(L-1). 0: continuous.
 *  3. Programming, write-verify: each pulse lands at G_q + prog_sd Grange e
 *     (with prog_relative: G_q (1 + prog_sd e), the sd relative to the
 *     device's own target conductance)
 *     (e ~ N(0,1), floored at 0, no clip to the window); the cell is verified
 *     and pulsed again until |G - G_q| <= verify_tol Grange or max_pulses
 *     pulses were spent. max_pulses = 1 is open-loop programming (noise once).
 *  4. Stuck-at faults, fixed per chip_seed: stuck-on cells read Gmax,
 *     stuck-off cells read Gmin, whatever is written (write-verify spends
 *     max_pulses on them).
 *  5. Drift: G(t) = G_p (max(t, t0)/t0)^(-nu), nu = drift_nu (+ drift_nu_sd z
 *     per device, fixed per chip). Global compensation (drift_compensation)
 *     multiplies the digital outputs by sum G_p / sum G(t) over the matrix,
 *     what a reference read of all devices right after programming and at
 *     time t would estimate.
 *  6. Read noise, fresh at every read pulse for every device:
 *     G_r = G(t)(1 + read_sd e'), floored at 0. e' is drawn by a fast
 *     counter-seeded generator (xoshiro128++ lanes, 16 at a time) as a
 *     normal approximation with exactly unit variance: the sum of the four
 *     bytes of one 32-bit draw, centred and scaled (Irwin-Hall 4, tails cut
 *     at +-3.45; the floor at 0 then only matters if read_sd > 0.29). The
 *     stream of an
 *     input vector is fixed by (noise_seed, global vector index), so results
 *     do not depend on the thread count or on how a batch is split.
 *  7. Input DAC (dac_bits, 0 = exact inputs), sign-magnitude on
 *     [-x_max, x_max]: SL_CIM_DAC_LEVEL applies each input as one analog
 *     level x_q = sign(x) rint(min(|x|/x_max, 1)(2^b-1))/(2^b-1) x_max;
 *     SL_CIM_DAC_BITSERIAL sends the b bits of the magnitude as b read
 *     pulses of +-x_max (the input's sign is the pulse polarity), each
 *     converted by the ADC, then shifted and summed digitally (Yao et al.).
 *  8. Array: I_j = sum_rows (G+_r - G-_r) x (per tile column).
 *  9. ADC (adc_bits, 0 = exact), symmetric sign-magnitude, 2^b - 1 levels:
 *     FS = adc_range Grange / w_max, step D = 2 FS/(2^b - 2),
 *     I_q = -FS + D rint((clip(I, -FS, FS) + FS)/D). adc_range is in weight x
 *     input units (a tile column's partial sum); 0: the worst case
 *     tile_rows w_max x_max. sl_cim_calibrate_adc sets it from data.
 * 10. Digital: y = (sum over row tiles of I_q) w_max / Grange (x drift
 *     compensation).
 *
 * CIM.md's benchmark C1 is exactly: levels 8, prog_sd 0.05, max_pulses 1,
 * read_sd 0.02, DAC level 8 bit, ADC 8 bit with adc_range R, Gmin 0.1,
 * Gmax 1, tiles of 128 x 16.
 *
 * Counters (sl_cim_counters) add what the hardware would spend; the energy
 * estimate is a dot product of counters and per-operation energies.
 * Errors: every function returns SL_OK or an SL_E* code with a message
 * (sl_last_error): impossible settings SL_EINVAL / SL_ERANGE, a matrix
 * that needs more tiles than max_tiles SL_ERANGE, empty shapes SL_ESHAPE,
 * NaN/Inf SL_ENUMERIC, SL_ENOMEM.
 */
#ifndef SPIKELOOP_CIM_H
#define SPIKELOOP_CIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SL_CIM_MAX_TILE 1024 /* largest tile, rows and columns (CrossSim's limit) */

typedef enum {
  SL_CIM_DAC_LEVEL = 0,    /* one analog level per input (one read pulse) */
  SL_CIM_DAC_BITSERIAL = 1 /* dac_bits read pulses, shifted and summed */
} sl_cim_dac_mode;

typedef struct {
  /* geometry */
  size_t tile_rows; /* 128 (Yao et al.: 128 x 16 1T1R arrays); 1..1024 */
  size_t tile_cols; /* 16; 1..1024 */
  size_t max_tiles; /* 0 = unlimited; else the chip's tile count (Yao et al.: 8) */
  /* device (conductances in microsiemens) */
  double g_min;     /* 0.1 uS-normalised: on/off ratio 10 (CIM.md, CrossSim Rmin/Rmax) */
  double g_max;     /* 1.0 */
  unsigned levels;  /* per device: 8 (Yao: 15-level weights from 8-level pairs); 0 = continuous */
  double w_max;     /* weight mapped to the full window; 0 = max|W| of each programmed matrix */
  /* programming (write-verify) */
  double prog_sd;      /* 0.05: per-pulse programming noise, fraction of Grange (CIM.md C1) */
  double verify_tol;   /* 0.05: accept when |G - target| <= tol Grange (assumption: 1 prog_sd) */
  unsigned max_pulses; /* 10: pulses per device and write (assumption; 1 = open loop, C1) */
  /* reading */
  double read_sd; /* 0.02: relative sd of a read, fresh per read pulse and device (CIM.md C1) */
  /* drift G(t) = G_p (t/t0)^-nu */
  double drift_nu;        /* 0.005 (assumption: Yao saw little drift in 30 days; ~7% then) */
  double drift_nu_sd;     /* 0: device-to-device spread of nu (absolute sd) */
  double drift_t0;        /* 1 s: first read after programming */
  int drift_compensation; /* 1: global compensation (aihwkit's default) */
  /* stuck-at faults, fixed per chip_seed */
  double stuck_on_rate;  /* 0 (MemTorch / aihwkit model these; off by default) */
  double stuck_off_rate; /* 0 */
  uint64_t chip_seed;    /* 1: faults and drift spread */
  uint64_t noise_seed;   /* 1: programming and read noise */
  /* periphery */
  sl_cim_dac_mode dac_mode; /* SL_CIM_DAC_BITSERIAL (Yao: 8 bit-serial 0.2 V pulses) */
  unsigned dac_bits;        /* 8 (Yao); 0 = exact inputs; <= 16 */
  double x_max;             /* 1: input full scale */
  unsigned adc_bits;        /* 8 (CIM.md C1; aihwkit uses 9); 0 = exact; <= 24 */
  double adc_range;         /* 0 = worst case tile_rows w_max x_max; weight x input units */
  double v_read;            /* 0.2 V read pulse (Yao) -- enters the energy only */
  /* energies per operation, joules */
  double e_cell_read;  /* 11.4e-15: per device per read pulse; with the others at 0 it
                          reproduces Yao's 11 TOPS/W for 8-bit bit-serial MVMs
                          (2 ops per weight / 11e12 ops/J / (8 pulses x 2 devices)),
                          periphery lumped in */
  double e_dac;        /* 0 (lumped into e_cell_read): per input per pulse */
  double e_adc;        /* 0 (lumped): per conversion */
  double e_prog_pulse; /* 10e-12: per SET/RESET pulse (50 ns pulses, Yao; ~2 V x 100 uA
                          assumed) */
  /* appended */
  int prog_relative;   /* 0: prog_sd is a fraction of Grange; 1: of the target G_q */
} sl_cim_params;

/* The defaults listed above. */
sl_cim_params sl_cim_params_default(void);

/* Check a parameter set: SL_EINVAL / SL_ERANGE naming the field at fault. */
int sl_cim_params_check(const sl_cim_params *p);

typedef struct {
  uint64_t mvms;          /* input vectors multiplied */
  uint64_t tile_reads;    /* read pulses applied to a tile (pair of arrays) */
  uint64_t cell_reads;    /* devices read (2 per weight per read pulse) */
  uint64_t dac_conversions;
  uint64_t adc_conversions;
  uint64_t prog_pulses;   /* SET/RESET pulses spent programming */
  uint64_t cells_programmed;
  uint64_t digital_adds;  /* partial sums accumulated across row tiles and bit planes */
} sl_cim_counters;

typedef struct sl_cim sl_cim;

/* A crossbar for an n_in x n_out matrix under parameters p (copied).
 * Nothing is programmed yet (sl_cim_mvm fails until sl_cim_program).
 * Errors: SL_EINVAL/SL_ERANGE bad parameters, SL_ESHAPE a zero size,
 * SL_ERANGE more tiles than p->max_tiles or more than 2^28 weights,
 * SL_ENOMEM. */
int sl_cim_alloc(sl_cim **out, size_t n_in, size_t n_out, const sl_cim_params *p);
void sl_cim_free(sl_cim *c); /* NULL is a no-op */

/* The crossbar's mutable state, for checkpoints: conductances as programmed
 * and as read, level-quantised targets, w_max, drift time and compensation,
 * the programming-event and input-vector counters (the noise streams) and
 * sl_cim_counters. sl_cim_state_save writes sl_cim_state_size(c) bytes;
 * sl_cim_state_load restores them into a crossbar allocated with the same
 * sizes and parameters, which then reads, drifts and reprograms exactly as
 * the saved one would. Errors: SL_EFORMAT (another size or layout). */
size_t sl_cim_state_size(const sl_cim *c);
void sl_cim_state_save(const sl_cim *c, uint8_t *buf);
int sl_cim_state_load(sl_cim *c, const uint8_t *buf, size_t len);

size_t sl_cim_n_in(const sl_cim *c);
size_t sl_cim_n_out(const sl_cim *c);
const sl_cim_params *sl_cim_params_get(const sl_cim *c);
/* Tiles: number of row tiles and column tiles; bounds of tile k along
 * rows (k < row tiles) or columns: [*begin, *end). */
size_t sl_cim_row_tiles(const sl_cim *c);
size_t sl_cim_col_tiles(const sl_cim *c);
void sl_cim_row_tile_bounds(const sl_cim *c, size_t k, size_t *begin, size_t *end);
void sl_cim_col_tile_bounds(const sl_cim *c, size_t k, size_t *begin, size_t *end);

/* Program every device for w (n_in x n_out, row-major): mapping, levels,
 * write-verify with noise, faults. Resets the drift clock to 0. Errors:
 * SL_ENUMERIC (NaN/Inf in w), SL_EINVAL (w_max = 0 and w all zero is fine:
 * every device at Gmin). */
int sl_cim_program(sl_cim *c, const float *w);

/* Reprogram only the pairs whose new level-quantised target differs from
 * the current one by more than `threshold` (weight units; Yao et al.'s
 * threshold-gated in-situ update); w_max stays the one of the first
 * program. *n_pairs (may be NULL) receives the number of pairs rewritten.
 * Errors as sl_cim_program, and SL_EINVAL if never programmed. */
int sl_cim_reprogram(sl_cim *c, const float *w, double threshold, size_t *n_pairs);

/* Time since programming, seconds (>= 0): sets the drift of every device. */
int sl_cim_set_time(sl_cim *c, double seconds);

/* Set adc_range from data: the largest |ideal partial sum| of any tile
 * column over the batch x (batch x n_in), times `margin` (>= 1 leaves
 * headroom), computed on the level-quantised targets without noise. */
int sl_cim_calibrate_adc(sl_cim *c, const float *x, size_t batch, double margin);

/* The noisy tiled MVM: y (batch x n_out) = x (batch x n_in) W as the
 * hardware computes it (steps 6-10 above). Fresh read noise per call.
 * Errors: SL_EINVAL not programmed / NULL, SL_ENUMERIC NaN/Inf in x (y
 * may have been written then). */
int sl_cim_mvm(sl_cim *c, const float *x, size_t batch, float *y);

/* As sl_cim_mvm, but returns the digital partial sum of every row tile
 * separately: parts (batch x row_tiles x n_out), weight units, after the
 * ADC (and bit-serial shift-and-add); y is their sum over row tiles. */
int sl_cim_mvm_partials(sl_cim *c, const float *x, size_t batch, float *parts);

/* Reference MVM: y = x W_q in double precision, W_q the level-quantised
 * target weights; no noise, no DAC, no ADC, no counters. */
int sl_cim_mvm_ref(const sl_cim *c, const float *x, size_t batch, float *y);

typedef enum {
  SL_CIM_TARGET = 0,     /* level-quantised targets */
  SL_CIM_PROGRAMMED = 1, /* (G+ - G-) w_max / Grange as programmed, with faults and drift */
  SL_CIM_READ = 2        /* one noisy read of every device (counts reads) */
} sl_cim_weight_kind;

/* The weights (n_in x n_out) of one kind, in weight units. */
int sl_cim_weights(sl_cim *c, sl_cim_weight_kind kind, float *w);

/* Devices stuck on (read Gmax) and stuck off (read Gmin, a zero
 * conductance in the model's window) of the chip, G+ and G- counted apart;
 * either pointer may be NULL. */
void sl_cim_stuck_count(const sl_cim *c, uint64_t *on, uint64_t *off);

/* Counters since alloc or the last reset, and their energy (J). */
void sl_cim_counters_get(const sl_cim *c, sl_cim_counters *out);
void sl_cim_counters_reset(sl_cim *c);
/* sum += k, field by field (counters of several crossbars). */
void sl_cim_counters_add(sl_cim_counters *sum, const sl_cim_counters *k);
/* Energy of counters k under the energies of params p, joules: reads
 * e_cell_read, DAC e_dac, ADC e_adc, programming e_prog_pulse. */
double sl_cim_energy(const sl_cim_params *p, const sl_cim_counters *k);
/* Read (MVM) energy per input vector so far, joules (0 before any MVM). */
double sl_cim_energy_per_mvm(const sl_cim *c);

/* ---------------------------------------- device-level access (issue 13)
 * What a characterisation drives (spikeloop/xbar.h): single devices rather
 * than weights. Conductances are in the model's units (g_min .. g_max). */

/* Program every device to its own conductance: gp and gm (n_in x n_out,
 * row-major) are the targets of G+ and G-, each put on the nearest level
 * (step 2) and written by write-verify (step 3; stuck cells stay stuck);
 * the drift clock restarts at 0 and the target weights become
 * (gp_q - gm_q) w_max / Grange (w_max: that of the last program, else
 * p.w_max, else 1). Errors: SL_EINVAL (NULL), SL_ENUMERIC (NaN/Inf),
 * SL_ERANGE (a target outside [g_min, g_max], naming it). */
int sl_cim_program_devices(sl_cim *c, const float *gp, const float *gm);

/* One read of every device at the current drift time, read noise fresh
 * (step 6): the raw conductances G+ into gp and G- into gm (n_in x n_out
 * each), without drift compensation. Counts one read of every device.
 * Errors: SL_EINVAL (NULL, not programmed). */
int sl_cim_read_devices(sl_cim *c, float *gp, float *gm);

/* The chip's hidden device properties (n_in x n_out each; a pointer may be
 * NULL): stuck state (0 none, 1 stuck on, 2 stuck off) and drift exponent
 * nu of G+ and G-. For tests and for checking a characterisation; nothing
 * that trains or deploys reads them. Errors: SL_EINVAL (NULL crossbar). */
int sl_cim_device_truth(const sl_cim *c, uint8_t *stuck_p, uint8_t *stuck_m, float *nu_p,
                        float *nu_m);

/* Replace the chip's device properties (n_in x n_out each; NULL leaves
 * one as it is): stuck states (0, 1 on, 2 off; they act from the next
 * programming) and drift exponents (from now). What a crossbar emulating
 * another chip's map takes (the memristor backend's emulate=MAP.h5).
 * Errors: SL_EINVAL (a code above 2, a negative or non-finite nu, naming the
 * device), SL_ENOMEM. */
int sl_cim_set_devices(sl_cim *c, const uint8_t *stuck_p, const uint8_t *stuck_m,
                       const float *nu_p, const float *nu_m);

/* The global drift compensation factor in effect (step 5; 1 without). */
double sl_cim_compensation(const sl_cim *c);

#ifdef __cplusplus
}
#endif
#endif
