/* spikeloop/memristor.h -- the "memristor" backend: every synaptic weight
 * matrix on compute-in-memory crossbar tiles (spikeloop/cim.h, signed
 * weights as differential conductance pairs), digital LIF neurons and LI
 * readout. How weights are programmed (write-verify, then threshold-gated
 * updates), read (one noisy read per time step and sample) and counted is
 * described at the top of hw/memristor/memristor.c.
 *
 * Weights are written in hardware units: integers in [-L, L] with
 * L = levels - 1 (8 levels per device: caps.weight_levels = 7), or floats
 * with levels=0 (continuous conductances). Recurrent layers are not
 * supported (caps.recurrent = 0). Observations are those of the ideal
 * backend: model units (membrane_gain 1, time_scale 1).
 *
 * Options ("key=value,..." in sl_backend_setup.options; an unknown key is
 * SL_EINVAL):
 *   levels (8; 0 continuous, else 2..65536), prog_sd (0.05), verify_tol
 *   (0.05), max_pulses (10), read_sd (0.02), g_min (0.1), g_max (1),
 *   drift_nu (0.005), drift_nu_sd (0: the device-to-device spread of the
 *   drift exponent, fixed per seed), drift_time (0 s), drift_compensation (1),
 *   stuck_on, stuck_off (0), seed (1: chip and noise seed), tile_rows
 *   (128), tile_cols (16), max_tiles (0 = unlimited), adc_bits (0),
 *   adc_range (0 = worst case), w_max (levels 0 only: 0 = max|W| of the first
 *   write), update_threshold (0 hardware units), twin (a crossbar map of this
 *   chip, spikeloop/xbar.h: every write chooses both devices of each pair so
 *   that the map's predicted weight at drift_time is the nearest, and
 *   programs them by write-verify; no threshold gating. The map must be of
 *   this network's crossbars, devices and drift_time), emulate (a crossbar
 *   map: the crossbars take its stuck devices and drift exponents instead
 *   of the seed's -- a chip that behaves as the map says, to train through
 *   the twin's forward model).
 *
 * Characterisation (stimulate slot, SL_STIM_DEVICE only: the neurons are
 * digital): programs every device of the layers holding the listed neurons
 * to the level, reads the listed columns at the instants, then sets the
 * clock back to drift_time; the layers must be written again afterwards.
 *
 * read_config keys: pulses (every programming pulse since open: the
 * endurance budget a session logs per epoch), pulses.<layer>,
 * cells_programmed, pairs_reprogrammed, writes, reads (devices read),
 * read_pulses (read pulses applied to a tile), dac_conversions, adc_conversions (since open), stuck_on, stuck_off
 * (faulty devices of the chip), energy (J: reads + programming), weight_levels, levels
 * (per device), g_min, g_max, drift_t0, drift_time, drift_compensation,
 * time_scale, volt_at_zero, volt_per_unit, spike_delay.
 */
#ifndef SPIKELOOP_MEMRISTOR_H
#define SPIKELOOP_MEMRISTOR_H

#include "spikeloop/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The memristor backend's table (registered as "memristor"). NULL, with
 * the error set (SL_EUNSUPPORTED), in a build configured with
 * --disable-memristor. */
const sl_backend *sl_memristor_backend(void);

#ifdef __cplusplus
}
#endif
#endif
