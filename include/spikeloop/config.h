/* spikeloop/config.h -- experiment configuration: documented key=value settings.
 *
 * Every setting has a key "section.name", a type, a default and a one-line
 * help text, all in one static table (lib/config.c). Config files are
 * INI-style:
 *
 *     # comment            ; comment
 *     [train]
 *     epochs = 30          # -> key "train.epochs"
 *     net.hidden = 120     # a dotted key outside/inside a section is taken as is
 *
 * Unknown keys, unparsable or out-of-range values and unreadable files are
 * errors whose message names the key (and file:line).
 */
#ifndef SPIKELOOP_CONFIG_H
#define SPIKELOOP_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SL_CONFIG_MAX_LAYERS 8
#define SL_CONFIG_STR 64
#define SL_CONFIG_TEXT 256

typedef struct {
  /* [data] */
  char dataset[SL_CONFIG_STR]; /* data.dataset = yinyang */
  long n_train, n_val, n_test; /* data.n_train = 5000, data.n_val = 1000, data.n_test = 1000 */
  uint64_t seed_train, seed_val, seed_test; /* data.seed_train = 1, data.seed_val = 2, data.seed_test = 3 */
  char data_file[SL_CONFIG_TEXT]; /* data.file: data files (a comma-separated list, or a .txt list) */
  char test_file[SL_CONFIG_TEXT]; /* data.test_file: SHD test file ("": the tail of data.file) */
  long ch_first, ch_step, ch_count; /* data.channel_first = 70, data.channel_step = 9, data.channels = 70 (SHD) */
  long jitter, copies;            /* data.jitter = 0, data.copies = 0 (SHD augmentation) */

  /* [encoder] */
  char encoder[SL_CONFIG_STR]; /* encoder.kind = latency | latency_log | rate */
  long t_steps;                /* encoder.t_steps */
  double t_early, t_late;      /* encoder.t_early, encoder.t_late (s) */
  double tau_in, x_min;        /* encoder.tau_in (s), encoder.x_min */
  double rate_max;             /* encoder.rate_max */
  int bias;                    /* encoder.bias (0/1) */
  double bias_time;            /* encoder.bias_time (s) */

  /* [net] */
  size_t n_layers;                         /* derived from net.hidden */
  long hidden[SL_CONFIG_MAX_LAYERS];       /* net.hidden = 120  (comma list: 100,100) */
  int recurrent[SL_CONFIG_MAX_LAYERS];     /* net.recurrent = 0 (one value for all, or a list) */
  double dt;                               /* net.dt (s) */

  /* [neuron] hidden-layer nominal values */
  double tau_mem, tau_syn, v_th, v_leak, v_reset, gain; /* neuron.* */
  long refrac;                                          /* neuron.refrac (steps) */
  char reset[SL_CONFIG_STR];                            /* neuron.reset = value | subtract */
  int detach_reset;                                     /* neuron.detach_reset (0/1) */
  int scale_input;                                      /* neuron.scale_input (0/1) */
  char twin[SL_CONFIG_TEXT];                            /* neuron.twin = FILE.h5: fitted per-neuron parameters ("" none) */

  /* [readout] LI readout nominal values */
  double ro_tau_mem, ro_tau_syn; /* readout.tau_mem, readout.tau_syn */

  /* [mismatch] relative standard deviations, applied to hidden layers
   * (and to the readout if mismatch.readout = 1) */
  double mm_tau_mem, mm_tau_syn, mm_v_th, mm_v_leak, mm_v_reset, mm_gain;
  int mm_readout;
  uint64_t mm_seed; /* mismatch.seed */

  /* [train] */
  long epochs, batch;                /* train.epochs, train.batch */
  char optimizer[SL_CONFIG_STR];     /* train.optimizer = adam | sgd */
  double lr, lr_decay;               /* train.lr, train.lr_decay (factor per lr_step epochs) */
  long lr_step;                      /* train.lr_step (epochs) */
  double beta1, beta2, eps;          /* train.adam_beta1, train.adam_beta2, train.adam_eps */
  double momentum;                   /* train.momentum (sgd) */
  char loss[SL_CONFIG_STR];          /* train.loss = max | sum */
  char surrogate[SL_CONFIG_STR];     /* train.surrogate = superspike | sigmoid | arctan */
  double sg_beta;                    /* train.surrogate_beta */
  double reg_spikes, reg_amp;        /* train.reg_spikes, train.reg_amp */
  double init_scale;                 /* train.init_scale: sd = init_scale / sqrt(fan_in) */
  uint64_t seed;                     /* train.seed: init and shuffling */
  char init[SL_CONFIG_TEXT];         /* train.init = RUN.h5: start from its network ("" none) */

  /* [backend] where the forward pass runs */
  char backend[SL_CONFIG_STR];          /* backend.name = ideal (plain simulation) | bss2 | replay | plugin */
  char backend_options[SL_CONFIG_TEXT]; /* backend.options = "key=value,..." for the backend */
  char record[SL_CONFIG_TEXT];          /* backend.record = FILE.h5 to record every observation ("" none) */
  char w_unit[SL_CONFIG_TEXT];          /* loop.w_unit = auto | comma list per layer (readout last) */

  /* Private bookkeeping of lib/config.c: the net.recurrent list as given
   * (1 value, or one per layer), kept for printing it back and for
   * sl_config_validate's length check. Set it through sl_config_set, which
   * also fills recurrent[] above for every slot without looking at
   * net.hidden (one value: all layers; a list: layer by layer, 0 beyond),
   * so net.hidden and net.recurrent may be set in either order. */
  size_t n_recurrent_list;
  int recurrent_list[SL_CONFIG_MAX_LAYERS];
} sl_config;

/* Fill every field with its default (from the table). */
void sl_config_defaults(sl_config *cfg);

/* Set one key from its text value. Errors: SL_ENOTFOUND (unknown key; the
 * message lists no more than the key), SL_EINVAL / SL_ERANGE (bad value;
 * message names key and value). */
int sl_config_set(sl_config *cfg, const char *key, const char *value);

/* Parse "key=value" (as given to --set). */
int sl_config_set_pair(sl_config *cfg, const char *key_equals_value);

/* Read an INI-style file on top of the current values. Errors: SL_EIO
 * (cannot open: message names the path), or the errors of sl_config_set
 * with "path:line: " in front of the message; SL_EFORMAT ("path:line: ")
 * for a line that is neither "key = value" nor "[section]", SL_ENOTFOUND
 * for an unknown [section]. On error cfg is left unchanged. */
int sl_config_load(sl_config *cfg, const char *path);

/* Check cross-field consistency (e.g. net.recurrent list length, t_early <=
 * t_late, batch <= n_train, v_th > v_reset). Errors: SL_EINVAL naming the
 * keys. Every field is also re-checked against its key's limits (fields may
 * have been edited directly): then the errors of sl_config_set. */
int sl_config_validate(const sl_config *cfg);

/* Number of keys, and the i-th key's name, help text and default text. */
size_t sl_config_num_keys(void);
const char *sl_config_key_name(size_t i);
const char *sl_config_key_help(size_t i);
const char *sl_config_key_default(size_t i);

/* Current value of key i (or by name) as text, in a form sl_config_set
 * accepts back (round trip). Returns SL_ENOTFOUND for unknown names. */
int sl_config_get(const sl_config *cfg, const char *key, char *buf, size_t len);
int sl_config_get_index(const sl_config *cfg, size_t i, char *buf, size_t len);

/* Write all keys with help comments, grouped in [sections], as a valid
 * config file (the documented reference: `spikeloop train --print-config`). */
int sl_config_write(const sl_config *cfg, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
