/* test_bss2.c -- the BrainScaleS-2-style emulator backend (hw/bss2).
 *
 * Drives the backend table directly (no registry) and checks it against
 * its own hidden truth (sl_bss2_truth_fill with the words the instance
 * reports through read_config):
 *   - limits: neurons, fan-in (merged and not), weight range and
 *     integrality, shapes, bad calibration files, unknown options, a gain
 *     the DAC cannot give -- each with its code and a message naming it;
 *   - determinism per (chip_seed, noise_seed), independent of threads and
 *     of batch size; different chips and noise seeds differ;
 *   - with noise 0: the resting level of every circuit, merged neurons'
 *     mean parameters, the PSP of one input spike against the continuous
 *     model's analytic PSP (whole trace and peak, within one ADC count),
 *     the firing rate under constant drive against the LIF rate formula;
 *   - the uncalibrated spread of tau_mem and of the threshold gap;
 *   - calibration targets: the target gain gives the model's discrete PSP,
 *     the refractory target sits in the middle of the right substep;
 *   - spikes in the right layer and sample, the readout never spikes,
 *     recurrent delivery; a plain double-precision reference simulator of
 *     the documented equations agrees with the fast kernel;
 *   - the truth export round-trips through HDF5 and serves as a
 *     calibration file;
 *   - the speed of the Fashion-MNIST network (printed, not asserted).
 */
#include "config.h"
#include "spikeloop/bss2.h"
#include "spikeloop/error.h"
#include "spikeloop/lif.h"
#include "bss2/bss2_internal.h"

#include <hdf5.h>
#include <hdf5_hl.h>

#include <stdint.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "testutil.h"

#define DT 1.7e-3          /* model step, s (hardware 1.7 us) */
#define H_DEFAULT (1.7e-6 / 4)

static int contains(const char *haystack, const char *needle)
{
  return haystack && needle && strstr(haystack, needle) != NULL;
}

typedef struct {
  const sl_backend *be;
  void *st;
} inst;

static int inst_open(inst *h, const sl_backend_setup *s)
{
  h->be = sl_bss2_backend();
  h->st = calloc(1, h->be->state_size);
  if (!h->st)
    return SL_ENOMEM;
  return h->be->open(h->st, s);
}

static void inst_close(inst *h)
{
  if (h->st) {
    h->be->close(h->st);
    free(h->st);
  }
  h->st = NULL;
}

/* n_layers hidden layers + readout with sizes[0..n_layers], default model
 * neurons, every w_unit = w_unit. */
static sl_backend_setup mk_setup(size_t n_in, size_t n_layers, const size_t *sizes,
                                 double w_unit, const char *options)
{
  sl_backend_setup s;
  memset(&s, 0, sizeof s);
  s.n_in = n_in;
  s.n_layers = n_layers;
  for (size_t l = 0; l <= n_layers; l++) {
    s.size[l] = sizes[l];
    s.w_unit[l] = w_unit;
  }
  s.dt = DT;
  s.max_steps = 1000;
  s.max_batch = 100;
  s.lif = sl_lif_options_default();
  s.scale_input = 0;
  s.options = options;
  return s;
}

static size_t total_neurons(const sl_backend_setup *s)
{
  size_t n = 0;
  for (size_t l = 0; l <= s->n_layers; l++)
    n += s->size[l];
  return n;
}

/* The hidden truth under the words instance h uses. */
static sl_bss2_truth *inst_truth(inst *h, uint64_t chip_seed)
{
  sl_bss2_words *w = malloc(sizeof *w);
  sl_bss2_truth *t = malloc(sizeof *t);
  if (!w || !t) {
    free(w);
    free(t);
    return NULL;
  }
  char key[64], val[64];
  for (int p = 0; p < SL_BSS2_NPARAM; p++)
    for (int c = 0; c < SL_BSS2_CIRCUITS; c++) {
      snprintf(key, sizeof key, "dac.%s.%d", sl_bss2_word_name(p), c);
      if (h->be->read_config(h->st, key, val, sizeof val) != SL_OK) {
        free(w);
        free(t);
        return NULL;
      }
      w->word[p][c] = atoi(val);
    }
  int rc = sl_bss2_truth_fill(chip_seed, w, t);
  free(w);
  if (rc) {
    free(t);
    return NULL;
  }
  return t;
}

/* Physical parameters of logical neuron n (mean over cpn circuits). */
typedef struct {
  double E, vr, vth, tm, ts, g, tref, adc_off, adc_gain;
} neuron_truth;

static neuron_truth logical(const sl_bss2_truth *t, size_t n, int cpn)
{
  neuron_truth r;
  double v[SL_BSS2_NPARAM] = {0};
  for (int c = 0; c < cpn; c++)
    for (int p = 0; p < SL_BSS2_NPARAM; p++)
      v[p] += t->value[p][n * (size_t)cpn + (size_t)c] / cpn;
  r.E = v[SL_BSS2_LEAK];
  r.vr = v[SL_BSS2_RESET];
  r.vth = v[SL_BSS2_THRESHOLD];
  r.tm = v[SL_BSS2_TAU_MEM];
  r.ts = v[SL_BSS2_TAU_SYN];
  r.g = v[SL_BSS2_GAIN];
  r.tref = v[SL_BSS2_REFRAC];
  r.adc_off = t->adc_offset[n * (size_t)cpn];
  r.adc_gain = t->adc_gain[n * (size_t)cpn];
  return r;
}

static double counts(const neuron_truth *p, double v)
{
  double c = rint(v / 1.2 * 255.0 * p->adc_gain + p->adc_off);
  return c < 0 ? 0 : (c > 255 ? 255 : c);
}

/* The PSP kernel of the continuous model for a unit current step at t = 0:
 * V - E = I0 * tm ts / (ts - tm) (exp(-t/ts) - exp(-t/tm)). */
static double psp_kernel(double tm, double ts, double t)
{
  if (fabs(tm - ts) < 1e-12 * tm)
    return t * exp(-t / tm);
  return tm * ts / (ts - tm) * (exp(-t / ts) - exp(-t / tm));
}

static float *zeros(size_t n)
{
  return calloc(n ? n : 1, sizeof(float));
}

/* ------------------------------------------------------------ limits */

static void test_limits(void)
{
  inst h = {0};
  size_t big[] = {128, 128, 128, 128, 10};
  sl_backend_setup s = mk_setup(10, 4, big, 0.01, NULL);
  CU_ASSERT(inst_open(&h, &s) == SL_ERANGE);
  CU_ASSERT(contains(sl_last_error(), "522 neurons") && contains(sl_last_error(), "512"));
  printf("\n    too many neurons: %s\n", sl_last_error());
  inst_close(&h);

  /* 129 inputs need 258 rows: refused unmerged, merged automatically */
  size_t sz[] = {100, 10};
  s = mk_setup(129, 1, sz, 0.01, "merge=0");
  CU_ASSERT(inst_open(&h, &s) == SL_ERANGE);
  CU_ASSERT(contains(sl_last_error(), "layer 0") && contains(sl_last_error(), "258") &&
            contains(sl_last_error(), "256"));
  printf("    fan-in: %s\n", sl_last_error());
  inst_close(&h);
  s = mk_setup(257, 1, sz, 0.01, NULL);
  CU_ASSERT(inst_open(&h, &s) == SL_ERANGE);
  CU_ASSERT(contains(sl_last_error(), "514") && contains(sl_last_error(), "512"));
  inst_close(&h);
  /* merged fan-in fine but 300 neurons x 2 circuits too many */
  size_t sz3[] = {200, 60, 10};
  s = mk_setup(200, 2, sz3, 0.01, NULL);
  CU_ASSERT(inst_open(&h, &s) == SL_ERANGE);
  CU_ASSERT(contains(sl_last_error(), "270 neurons") && contains(sl_last_error(), "540"));
  printf("    merged neurons: %s\n", sl_last_error());
  inst_close(&h);
  /* recurrent fan-in counts the layer's own size: 60 + 70 = 130 inputs */
  size_t szr[] = {70, 5};
  s = mk_setup(60, 1, szr, 0.01, "merge=0");
  s.recurrent[0] = 1;
  CU_ASSERT(inst_open(&h, &s) == SL_ERANGE);
  CU_ASSERT(contains(sl_last_error(), "recurrent") && contains(sl_last_error(), "260"));
  inst_close(&h);

  /* options */
  s = mk_setup(10, 1, sz, 0.01, "substep=8");
  CU_ASSERT(inst_open(&h, &s) == SL_EINVAL);
  CU_ASSERT(contains(sl_last_error(), "substep"));
  inst_close(&h);
  s = mk_setup(10, 1, sz, 0.01, "noise=-1");
  CU_ASSERT(inst_open(&h, &s) == SL_EINVAL);
  inst_close(&h);
  s = mk_setup(10, 1, sz, 0.01, "merge=2");
  CU_ASSERT(inst_open(&h, &s) == SL_EINVAL);
  inst_close(&h);
  /* a gain the DAC cannot give */
  s = mk_setup(10, 1, sz, 5.0, NULL);
  CU_ASSERT(inst_open(&h, &s) == SL_ERANGE);
  CU_ASSERT(contains(sl_last_error(), "w_unit") && contains(sl_last_error(), "layer 0"));
  printf("    gain: %s\n", sl_last_error());
  inst_close(&h);
  /* a tau the DAC cannot give (model 1 ms -> 1 us -> word 3000) */
  sl_neurons p;
  sl_neuron_nominal nom = sl_neuron_nominal_default();
  nom.tau_syn = 1e-3;
  CU_ASSERT_FATAL(sl_neurons_alloc(&p, 100, &nom) == SL_OK);
  s = mk_setup(10, 1, sz, 0.01, NULL);
  s.neurons[0] = &p;
  CU_ASSERT(inst_open(&h, &s) == SL_ERANGE);
  CU_ASSERT(contains(sl_last_error(), "tau_syn"));
  printf("    tau: %s\n", sl_last_error());
  inst_close(&h);
  /* back in range ... */
  for (size_t j = 0; j < 100; j++)
    p.tau_syn[j] = 6e-3f;
  p.v_th[42] = 2.5f; /* ... but 1.25 V is above the 1.2 V range */
  CU_ASSERT(inst_open(&h, &s) == SL_ERANGE);
  CU_ASSERT(contains(sl_last_error(), "v_th") && contains(sl_last_error(), "neuron 42"));
  inst_close(&h);
  p.v_th[42] = 2.0f;
  CU_ASSERT(inst_open(&h, &s) == SL_OK);
  inst_close(&h);
  sl_neurons_free(&p);

  /* weights */
  s = mk_setup(10, 1, sz, 0.01, NULL);
  CU_ASSERT_FATAL(inst_open(&h, &s) == SL_OK);
  float *w = zeros(10 * 100);
  w[0] = 63;
  w[1] = -63;
  CU_ASSERT(h.be->write_weights(h.st, 0, 0, w, 10, 100) == SL_OK);
  w[205] = 64;
  CU_ASSERT(h.be->write_weights(h.st, 0, 0, w, 10, 100) == SL_ERANGE);
  CU_ASSERT(contains(sl_last_error(), "64") && contains(sl_last_error(), "205") &&
            contains(sl_last_error(), "layer 0"));
  printf("    weight: %s\n", sl_last_error());
  w[205] = -64;
  CU_ASSERT(h.be->write_weights(h.st, 0, 0, w, 10, 100) == SL_ERANGE);
  w[205] = 2.5f;
  CU_ASSERT(h.be->write_weights(h.st, 0, 0, w, 10, 100) == SL_ERANGE);
  CU_ASSERT(contains(sl_last_error(), "2.5"));
  w[205] = NAN;
  CU_ASSERT(h.be->write_weights(h.st, 0, 0, w, 10, 100) == SL_ERANGE);
  w[205] = 3.0000001f; /* within 1e-6 of an integer */
  CU_ASSERT(h.be->write_weights(h.st, 0, 0, w, 10, 100) == SL_OK);
  CU_ASSERT(h.be->write_weights(h.st, 0, 0, w, 10, 99) == SL_ESHAPE);
  CU_ASSERT(h.be->write_weights(h.st, 1, 0, w, 10, 100) == SL_ESHAPE);
  CU_ASSERT(h.be->write_weights(h.st, 1, 0, w, 100, 10) == SL_OK);
  CU_ASSERT(h.be->write_weights(h.st, 0, 1, w, 100, 100) == SL_EINVAL); /* not recurrent */
  CU_ASSERT(h.be->write_weights(h.st, 2, 0, w, 10, 10) == SL_EINVAL);
  char buf[64];
  CU_ASSERT(h.be->read_config(h.st, "nonsense", buf, sizeof buf) == SL_ENOTFOUND);
  CU_ASSERT(h.be->read_config(h.st, "dac.tau_mem.512", buf, sizeof buf) == SL_ENOTFOUND);
  CU_ASSERT(h.be->read_config(h.st, "dac.tau_mem.17", buf, sizeof buf) == SL_OK);
  CU_ASSERT(strcmp(buf, "500") == 0);
  CU_ASSERT(h.be->read_config(h.st, "substeps", buf, sizeof buf) == SL_OK && atoi(buf) == 4);
  CU_ASSERT(h.be->read_config(h.st, "sample_period", buf, 3) == SL_ERANGE);
  free(w);
  inst_close(&h);
}

/* Write a calibration file with dataset `name` holding `words` (n, rank 1). */
static int write_calib(const char *path, const char *name, const int32_t *words, hsize_t n)
{
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0)
    return -1;
  int rc = H5Gclose(H5Gcreate2(f, "/dac", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
           H5LTmake_dataset_int(f, name, 1, &n, words) < 0;
  H5Fclose(f);
  return rc ? -1 : 0;
}

static void test_calib(void)
{
  char path[512], opts[600];
  sl_test_tmpfile("bss2_calib", path, sizeof path);
  snprintf(opts, sizeof opts, "calib=%s,noise=0", path);
  size_t sz[] = {20, 4};
  sl_backend_setup s = mk_setup(8, 1, sz, 0.01, opts);
  inst h = {0};
  int32_t words[SL_BSS2_CIRCUITS];
  for (int c = 0; c < SL_BSS2_CIRCUITS; c++)
    words[c] = 400 + c % 50;

  /* a good file: tau_mem words per circuit, the rest nominal */
  CU_ASSERT_FATAL(write_calib(path, "/dac/tau_mem", words, SL_BSS2_CIRCUITS) == 0);
  CU_ASSERT(inst_open(&h, &s) == SL_OK);
  char buf[64];
  CU_ASSERT(h.be->read_config(h.st, "dac.tau_mem.17", buf, sizeof buf) == SL_OK &&
            atoi(buf) == 417);
  CU_ASSERT(h.be->read_config(h.st, "dac.tau_syn.17", buf, sizeof buf) == SL_OK &&
            atoi(buf) == 500);
  CU_ASSERT(h.be->read_config(h.st, "dac.threshold.21", buf, sizeof buf) == SL_OK &&
            atoi(buf) == 1023); /* readout */
  CU_ASSERT(h.be->read_config(h.st, "calib", buf, sizeof buf) == SL_OK && strcmp(buf, path) == 0);
  inst_close(&h);

  /* a tau word of 0 at circuit 5 */
  words[5] = 0;
  CU_ASSERT_FATAL(write_calib(path, "/dac/tau_mem", words, SL_BSS2_CIRCUITS) == 0);
  CU_ASSERT(inst_open(&h, &s) == SL_EINVAL);
  CU_ASSERT(contains(sl_last_error(), "tau_mem") && contains(sl_last_error(), "circuit 5"));
  printf("\n    calib: %s\n", sl_last_error());
  inst_close(&h);
  /* a word above 1023 */
  words[5] = 400;
  words[300] = 1024;
  CU_ASSERT_FATAL(write_calib(path, "/dac/leak", words, SL_BSS2_CIRCUITS) == 0);
  CU_ASSERT(inst_open(&h, &s) == SL_EINVAL);
  CU_ASSERT(contains(sl_last_error(), "/dac/leak") && contains(sl_last_error(), "1024"));
  inst_close(&h);
  /* wrong length */
  CU_ASSERT_FATAL(write_calib(path, "/dac/gain", words, 100) == 0);
  CU_ASSERT(inst_open(&h, &s) == SL_EFORMAT);
  CU_ASSERT(contains(sl_last_error(), "/dac/gain"));
  inst_close(&h);
  /* no /dac dataset at all */
  CU_ASSERT_FATAL(write_calib(path, "/dac/gains", words, SL_BSS2_CIRCUITS) == 0);
  CU_ASSERT(inst_open(&h, &s) == SL_EFORMAT);
  inst_close(&h);
  /* not an HDF5 file */
  FILE *f = fopen(path, "w");
  CU_ASSERT_FATAL(f != NULL);
  fputs("not hdf5\n", f);
  fclose(f);
  CU_ASSERT(inst_open(&h, &s) == SL_EIO);
  CU_ASSERT(contains(sl_last_error(), path));
  inst_close(&h);
  remove(path);
  CU_ASSERT(inst_open(&h, &s) == SL_EIO);
  inst_close(&h);
}

/* ------------------------------------------------------------ spread */

static void test_spread(void)
{
  sl_bss2_truth *t = malloc(sizeof *t), *t2 = malloc(sizeof *t2);
  CU_ASSERT_FATAL(t && t2);
  CU_ASSERT_FATAL(sl_bss2_truth_fill(1, NULL, t) == SL_OK);
  double s = 0, ss = 0, gs = 0, gss = 0;
  const double n = SL_BSS2_CIRCUITS;
  for (int c = 0; c < SL_BSS2_CIRCUITS; c++) {
    double tau = t->value[SL_BSS2_TAU_MEM][c];
    double gap = t->value[SL_BSS2_THRESHOLD][c] - t->value[SL_BSS2_LEAK][c];
    s += tau;
    ss += tau * tau;
    gs += gap;
    gss += gap * gap;
  }
  double mean = s / n, sd = sqrt((ss - s * s / n) / (n - 1));
  double gmean = gs / n, gsd = sqrt((gss - gs * gs / n) / (n - 1));
  printf("\n    tau_mem mean %.3g s, rel sd %.3f; gap mean %.3f V, sd/mean %.3f\n", mean,
         sd / mean, gmean, gsd / gmean);
  CU_ASSERT(fabs(mean - 6e-6) < 1e-6);
  CU_ASSERT(sd / mean > 0.15 && sd / mean < 0.35);
  CU_ASSERT(fabs(gmean - 0.3) < 0.02);
  CU_ASSERT(gsd / gmean > 0.1);
  /* nominal words */
  CU_ASSERT(t->word[SL_BSS2_TAU_MEM][0] == 500 && t->word[SL_BSS2_LEAK][3] == 426 &&
            t->word[SL_BSS2_THRESHOLD][511] == 682 && t->word[SL_BSS2_GAIN][7] == 512);
  CU_ASSERT(fabs(slb2_nominal(SL_BSS2_TAU_MEM, 500) - 6e-6) < 1e-18);
  CU_ASSERT(fabs(slb2_nominal(SL_BSS2_THRESHOLD, 682) - 0.8) < 1e-12);
  /* deterministic per seed, different across seeds */
  CU_ASSERT_FATAL(sl_bss2_truth_fill(1, NULL, t2) == SL_OK);
  CU_ASSERT(memcmp(t->value, t2->value, sizeof t->value) == 0);
  CU_ASSERT_FATAL(sl_bss2_truth_fill(2, NULL, t2) == SL_OK);
  int differ = 0;
  for (int c = 0; c < SL_BSS2_CIRCUITS; c++)
    differ += t->value[SL_BSS2_TAU_MEM][c] != t2->value[SL_BSS2_TAU_MEM][c];
  CU_ASSERT(differ == SL_BSS2_CIRCUITS);
  free(t);
  free(t2);
}

/* ------------------------------------------------------------ export */

static void test_truth_export(void)
{
  char path[512];
  sl_test_tmpfile("bss2_truth", path, sizeof path);
  CU_ASSERT_FATAL(sl_bss2_export_truth(42, path) == SL_OK);
  sl_bss2_truth *t = malloc(sizeof *t);
  CU_ASSERT_FATAL(t != NULL);
  CU_ASSERT_FATAL(sl_bss2_truth_fill(42, NULL, t) == SL_OK);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  CU_ASSERT_FATAL(f >= 0);
  double *buf = malloc(SL_BSS2_CIRCUITS * sizeof *buf);
  double maxd = 0;
  int ok = 1;
  char name[64], units[32];
  for (int p = 0; p < SL_BSS2_NPARAM; p++) {
    const double *src[3] = {t->value[p], t->scale[p], t->offset[p]};
    const char *fmt[3] = {"/truth/%s", "/mapping/%s_scale", "/mapping/%s_offset"};
    for (int k = 0; k < 3; k++) {
      snprintf(name, sizeof name, fmt[k], sl_bss2_param_name(p));
      ok &= H5LTread_dataset_double(f, name, buf) >= 0;
      for (int c = 0; c < SL_BSS2_CIRCUITS; c++)
        maxd = fmax(maxd, fabs(buf[c] - src[k][c]));
    }
    snprintf(name, sizeof name, "/truth/%s", sl_bss2_param_name(p));
    ok &= H5LTget_attribute_string(f, name, "units", units) >= 0 &&
          strcmp(units, sl_bss2_param_unit(p)) == 0;
  }
  ok &= H5LTread_dataset_double(f, "/truth/adc_offset", buf) >= 0;
  for (int c = 0; c < SL_BSS2_CIRCUITS; c++)
    maxd = fmax(maxd, fabs(buf[c] - t->adc_offset[c]));
  ok &= H5LTread_dataset_double(f, "/truth/adc_gain", buf) >= 0;
  for (int c = 0; c < SL_BSS2_CIRCUITS; c++)
    maxd = fmax(maxd, fabs(buf[c] - t->adc_gain[c]));
  unsigned long seed = 0;
  double ts = 0;
  ok &= H5LTget_attribute_ulong(f, "/", "chip_seed", &seed) >= 0 && seed == 42;
  ok &= H5LTget_attribute_double(f, "/", "time_scale", &ts) >= 0 && ts == 1e-3;
  H5Fclose(f);
  printf("\n    truth round trip: max |diff| %g\n", maxd);
  CU_ASSERT(ok);
  CU_ASSERT(maxd == 0.0);
  /* no temporary left behind */
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
  CU_ASSERT(access(tmp, F_OK) != 0);
  /* the export's /dac words serve as a calibration file */
  sl_bss2_words *w = malloc(sizeof *w);
  unsigned present = 0;
  memset(w, 0, sizeof *w);
  CU_ASSERT(sl_bss2_words_load(w, path, &present) == SL_OK);
  CU_ASSERT(present == (1u << SL_BSS2_NPARAM) - 1);
  CU_ASSERT(memcmp(w->word, t->word, sizeof w->word) == 0);
  /* an unwritable path */
  CU_ASSERT(sl_bss2_export_truth(42, "/nonexistent-dir/x.h5") == SL_EIO);
  CU_ASSERT(contains(sl_last_error(), "/nonexistent-dir/x.h5"));
  free(w);
  free(buf);
  free(t);
  remove(path);
}

/* ------------------------------------------------------------ rest, merge */

static void test_rest(void)
{
  /* all 512 circuits, no input, noise 0: every sample is the resting count */
  size_t sz[] = {128, 128, 128, 118, 10};
  sl_backend_setup s = mk_setup(1, 4, sz, 0.01, "noise=0,chip_seed=5");
  inst h = {0};
  CU_ASSERT_FATAL(inst_open(&h, &s) == SL_OK);
  sl_bss2_truth *t = inst_truth(&h, 5);
  CU_ASSERT_FATAL(t != NULL);
  size_t T = 10, N = total_neurons(&s);
  float *x = zeros(T);
  sl_observations o;
  sl_obs_init(&o);
  CU_ASSERT_FATAL(h.be->run(h.st, x, T, 1, &o) == SL_OK);
  CU_ASSERT(o.n_spikes == 0);
  CU_ASSERT(o.n_samples == 11); /* 0 .. 17 us every 1.7 us */
  double maxd = 0;
  size_t off = 0;
  for (size_t n = 0; n < N; n++) {
    neuron_truth p = logical(t, n, 1);
    double want = counts(&p, p.E);
    for (size_t j = 0; j < o.n_samples; j++) {
      double d = fabs(o.membrane[j * N + n] - want);
      maxd = fmax(maxd, d);
      off += d != 0;
    }
  }
  printf("\n    rest: max |counts - truth| %g, %zu of %zu differ\n", maxd, off, N * o.n_samples);
  CU_ASSERT(maxd <= 1.0);
  CU_ASSERT(off <= N * o.n_samples / 100);
  /* the channels really differ: rest spreads over many counts */
  double lo = 255, hi = 0;
  for (size_t n = 0; n < N; n++) {
    lo = fmin(lo, o.membrane[n]);
    hi = fmax(hi, o.membrane[n]);
  }
  CU_ASSERT(hi - lo > 10);
  free(t);
  inst_close(&h);

  /* merged: the mean of both circuits' leak, read on the first channel */
  size_t szm[] = {200, 10};
  s = mk_setup(200, 1, szm, 0.01, "noise=0,chip_seed=5");
  CU_ASSERT_FATAL(inst_open(&h, &s) == SL_OK);
  char buf[16];
  CU_ASSERT(h.be->read_config(h.st, "merge", buf, sizeof buf) == SL_OK && strcmp(buf, "1") == 0);
  t = inst_truth(&h, 5);
  CU_ASSERT_FATAL(t != NULL);
  N = total_neurons(&s);
  float *x2 = zeros(T * 200);
  CU_ASSERT_FATAL(h.be->run(h.st, x2, T, 1, &o) == SL_OK);
  maxd = 0;
  off = 0;
  size_t closer_to_mean = 0;
  for (size_t n = 0; n < N; n++) {
    neuron_truth p = logical(t, n, 2);
    double d = fabs(o.membrane[n] - counts(&p, p.E));
    maxd = fmax(maxd, d);
    off += d != 0;
    neuron_truth first = logical(t, 2 * n, 1);
    first.adc_off = p.adc_off;
    first.adc_gain = p.adc_gain;
    closer_to_mean += fabs(o.membrane[n] - counts(&first, first.E)) > 1;
  }
  printf("    merged rest: max |diff| %g, %zu differ; %zu of %zu far from the first circuit alone\n",
         maxd, off, closer_to_mean, N);
  CU_ASSERT(maxd <= 1.0 && off <= N / 50);
  CU_ASSERT(closer_to_mean > N / 4);
  free(t);
  free(x);
  free(x2);
  sl_obs_free(&o);
  inst_close(&h);
}

static void test_merge_limits(void)
{
  size_t sz[] = {100, 10};
  sl_backend_setup s = mk_setup(100, 1, sz, 0.01, "merge=0");
  inst h = {0};
  sl_backend_caps c0, c1;
  CU_ASSERT_FATAL(inst_open(&h, &s) == SL_OK);
  CU_ASSERT(h.be->capabilities(h.st, &c0) == SL_OK);
  inst_close(&h);
  s.options = "merge=1";
  CU_ASSERT_FATAL(inst_open(&h, &s) == SL_OK);
  CU_ASSERT(h.be->capabilities(h.st, &c1) == SL_OK);
  inst_close(&h);
  CU_ASSERT(c0.max_fan_in == 128 && c1.max_fan_in == 256);
  CU_ASSERT(c0.max_neurons == 512 && c1.max_neurons == 256);
  CU_ASSERT(c0.weight_levels == 63 && c0.sign_by_row_pair == 1 && c0.adc_bits == 8);
  CU_ASSERT(c0.time_scale == 1e-3 && fabs(c0.sample_period - 1.7e-6) < 1e-18);
  CU_ASSERT(fabs(c0.membrane_gain - 63.75) < 1e-12 && strcmp(c0.membrane_units, "adc") == 0);
  CU_ASSERT(c0.observables == (SL_OBS_SPIKES | SL_OBS_MEMBRANE) && c0.recurrent == 1);
  /* 200 inputs: too many unmerged, fine merged; the largest merged fan-in */
  s = mk_setup(200, 1, sz, 0.01, "merge=0");
  CU_ASSERT(inst_open(&h, &s) == SL_ERANGE);
  inst_close(&h);
  s.options = NULL;
  CU_ASSERT(inst_open(&h, &s) == SL_OK);
  inst_close(&h);
  s = mk_setup(256, 1, sz, 0.01, "merge=1");
  CU_ASSERT(inst_open(&h, &s) == SL_OK);
  inst_close(&h);
  s = mk_setup(128, 1, sz, 0.01, "merge=0");
  CU_ASSERT(inst_open(&h, &s) == SL_OK);
  inst_close(&h);
  /* Fashion-MNIST 256-246-10 fits exactly when merged */
  size_t fm[] = {246, 10};
  s = mk_setup(256, 1, fm, 0.01, NULL);
  CU_ASSERT(inst_open(&h, &s) == SL_OK);
  inst_close(&h);
}

/* ------------------------------------------------------------ PSP */

static void test_psp(void)
{
  /* A high threshold (model 2.2 -> 1.16 V) leaves room for PSPs of ~100
   * counts, so that a 3% error in the integration (about what integrating
   * with the decayed current would give) shows as several counts. */
  const size_t nh = 64;
  const float q = 60;
  size_t sz[] = {nh, 1};
  sl_neurons p0;
  sl_neuron_nominal nom = sl_neuron_nominal_default();
  nom.v_th = 2.2;
  CU_ASSERT_FATAL(sl_neurons_alloc(&p0, nh, &nom) == SL_OK);
  /* sample often so that the trace resolves the peak */
  sl_backend_setup s = mk_setup(1, 1, sz, 0.02, "noise=0,chip_seed=7,sample_period=2e-7");
  s.neurons[0] = &p0;
  inst h = {0};
  CU_ASSERT_FATAL(inst_open(&h, &s) == SL_OK);
  sl_bss2_truth *t = inst_truth(&h, 7);
  CU_ASSERT_FATAL(t != NULL);
  float *w = malloc(nh * sizeof *w);
  for (size_t j = 0; j < nh; j++)
    w[j] = q;
  CU_ASSERT(h.be->write_weights(h.st, 0, 0, w, 1, nh) == SL_OK);
  const size_t T = 20, N = nh + 1;
  float *x = zeros(T);
  x[0] = 1;
  sl_observations o;
  sl_obs_init(&o);
  CU_ASSERT_FATAL(h.be->run(h.st, x, T, 1, &o) == SL_OK);
  double max_trace = 0, max_peak = 0, heights = 0;
  size_t tested = 0;
  for (size_t n = 0; n < nh; n++) {
    neuron_truth p = logical(t, n, 1);
    double tp = fabs(p.tm - p.ts) < 1e-15 ? p.tm : log(p.ts / p.tm) * p.tm * p.ts / (p.ts - p.tm);
    double vpk = p.E + p.g * q * psp_kernel(p.tm, p.ts, tp);
    if (vpk > p.vth - 0.01)
      continue; /* this one spikes: not a PSP */
    tested++;
    double meas_pk = 0;
    for (size_t j = 0; j < o.n_samples; j++) {
      double tb = ceil(j * 2e-7 / H_DEFAULT - 1e-9) * H_DEFAULT;
      double want = counts(&p, p.E + p.g * q * psp_kernel(p.tm, p.ts, tb));
      double got = o.membrane[j * N + n];
      max_trace = fmax(max_trace, fabs(got - want));
      meas_pk = fmax(meas_pk, got);
    }
    max_peak = fmax(max_peak, fabs(meas_pk - counts(&p, vpk)));
    heights += counts(&p, vpk) - counts(&p, p.E);
  }
  printf("\n    PSP: %zu neurons, mean height %.1f counts; max |trace - analytic| %g, "
         "max |peak - analytic peak| %g counts\n",
         tested, heights / (double)tested, max_trace, max_peak);
  CU_ASSERT(tested > nh / 2);
  CU_ASSERT(heights / (double)tested > 60);
  CU_ASSERT(max_trace <= 1.0);
  CU_ASSERT(max_peak <= 1.0);
  sl_neurons_free(&p0);
  free(t);
  free(w);
  free(x);
  sl_obs_free(&o);
  inst_close(&h);
}

/* ------------------------------------------------------------ targets */

static double read_double(inst *h, const char *key)
{
  char buf[64];
  if (h->be->read_config(h->st, key, buf, sizeof buf) != SL_OK)
    return -1.0;
  return strtod(buf, NULL);
}

/* Calibration targets (read_config target.<word>.<circuit>): a circuit at
 * its target gain gives the model's discrete PSP at every model step (the
 * reference: the model's recursion, lif.h, against the continuous kernel
 * sampled at the ends of the steps), the refractory target is the middle
 * of the substep that releases the membrane half a step after the crossing
 * plus refrac steps, voltages are the nominal mapping's, and the readout's
 * threshold, reset and refractory time and unused circuits have none. */
static void test_targets(void)
{
  const size_t nh = 6;
  size_t sz[] = {nh, 2};
  sl_neurons p0;
  CU_ASSERT_FATAL(sl_neurons_alloc(&p0, nh, NULL) == SL_OK);
  for (size_t j = 0; j < nh; j++) {
    p0.tau_mem[j] = (float)(4e-3 + 1e-3 * (double)j); /* tau_syn 6 ms: equal at j = 2 */
    p0.gain[j] = (float)(0.8 + 0.1 * (double)j);
    p0.refrac[j] = (int32_t)(j % 3);
  }
  const double w_unit = 0.01, dt_hw = DT * 1e-3, h_sub = H_DEFAULT;
  sl_backend_setup s = mk_setup(3, 1, sz, w_unit, NULL);
  s.neurons[0] = &p0;
  inst h = {0};
  CU_ASSERT_FATAL(inst_open(&h, &s) == SL_OK);
  char key[64];
  double worst_psp = 0, worst_ref = 0;
  for (size_t j = 0; j < nh; j++) {
    snprintf(key, sizeof key, "target.gain.%zu", j);
    const double g = read_double(&h, key);
    const double tm = p0.tau_mem[j], ts = p0.tau_syn[j], dt = DT;
    const double am = exp(-dt / tm), as = exp(-dt / ts);
    /* model: one input of weight 1 unit at step 0, scale_input = 0, volts */
    double I = 0, V = 0;
    for (int t = 0; t < 12; t++) {
      I = as * I + (t == 0 ? w_unit * p0.gain[j] : 0.0);
      V = am * V + I;
      double chip = g * psp_kernel(tm * 1e-3, ts * 1e-3, (t + 1) * dt_hw);
      worst_psp = fmax(worst_psp, fabs(chip / (0.3 * V) - 1.0));
    }
    snprintf(key, sizeof key, "target.refrac.%zu", j);
    const double tr = read_double(&h, key);
    const double release = (p0.refrac[j] + 0.5) * dt_hw; /* after the crossing, on average */
    /* the emulator holds floor(t / h) whole substeps: the target's hold must
     * end in the substep of `release` (the shorter one on a boundary), in its middle */
    const double n_hold = floor(tr / h_sub);
    worst_ref = fmax(worst_ref, fabs(tr / h_sub - n_hold - 0.5));
    CU_ASSERT(n_hold * h_sub < release + 1e-15 && (n_hold + 1) * h_sub >= release - 1e-15);
    snprintf(key, sizeof key, "target.tau_mem.%zu", j);
    CU_ASSERT(fabs(read_double(&h, key) / (tm * 1e-3) - 1) < 1e-12);
    snprintf(key, sizeof key, "target.threshold.%zu", j);
    CU_ASSERT(fabs(read_double(&h, key) - 0.8) < 1e-12);
  }
  printf("\n    targets: max |chip PSP at target gain / model PSP - 1| %.2g, refrac off the "
         "middle of its substep by %.2g substeps\n",
         worst_psp, worst_ref);
  CU_ASSERT(worst_psp < 1e-9);
  CU_ASSERT(worst_ref < 1e-9);
  /* the readout (circuits 6, 7): leak at its own rest, no threshold, reset, refractory time */
  CU_ASSERT(fabs(read_double(&h, "target.leak.6") - 0.25) < 1e-12);
  CU_ASSERT(isnan(read_double(&h, "target.threshold.7")));
  CU_ASSERT(isnan(read_double(&h, "target.reset.7")));
  CU_ASSERT(isnan(read_double(&h, "target.refrac.7")));
  CU_ASSERT(read_double(&h, "target.gain.7") > 0);
  /* unused circuits, unknown keys */
  CU_ASSERT(isnan(read_double(&h, "target.leak.8")));
  char buf[64];
  CU_ASSERT(h.be->read_config(h.st, "target.gains.0", buf, sizeof buf) == SL_ENOTFOUND);
  CU_ASSERT(h.be->read_config(h.st, "target.gain.512", buf, sizeof buf) == SL_ENOTFOUND);
  inst_close(&h);
  sl_neurons_free(&p0);
}

/* ------------------------------------------------------------ rate */

static void test_rate(void)
{
  /* one input spiking every step with weight 63: the synaptic current is a
   * sawtooth of mean I = g*63*tau_syn/dt_hw; the LIF formula
   * ISI = t_ref + tau_mem ln((V_inf - V_reset) / (V_inf - V_th)) with
   * V_inf = E + tau_mem*I predicts the rate. */
  const size_t nh = 64, T = 300;
  size_t sz[] = {nh, 1};
  sl_neurons p;
  sl_neuron_nominal nom = sl_neuron_nominal_default();
  nom.refrac = 2;
  CU_ASSERT_FATAL(sl_neurons_alloc(&p, nh, &nom) == SL_OK);
  sl_backend_setup s = mk_setup(1, 1, sz, 0.004, "noise=0,chip_seed=3");
  s.neurons[0] = &p;
  inst h = {0};
  CU_ASSERT_FATAL(inst_open(&h, &s) == SL_OK);
  sl_bss2_truth *t = inst_truth(&h, 3);
  CU_ASSERT_FATAL(t != NULL);
  float *w = malloc(nh * sizeof *w);
  for (size_t j = 0; j < nh; j++)
    w[j] = 63;
  CU_ASSERT(h.be->write_weights(h.st, 0, 0, w, 1, nh) == SL_OK);
  float *x = malloc(T * sizeof *x);
  for (size_t k = 0; k < T; k++)
    x[k] = 1;
  sl_observations o;
  sl_obs_init(&o);
  CU_ASSERT_FATAL(h.be->run(h.st, x, T, 1, &o) == SL_OK);
  const double dt_hw = 1.7e-6, t0 = 60e-6;
  double max_err = 0, sum_err = 0;
  size_t tested = 0;
  for (size_t n = 0; n < nh; n++) {
    neuron_truth q = logical(t, n, 1);
    double vinf = q.E + q.tm * q.g * 63 * q.ts / dt_hw;
    if (vinf < q.vth + 0.2 * (q.vth - q.vr))
      continue; /* too close to (or below) rheobase for the formula */
    double isi = q.tref + q.tm * log((vinf - q.vr) / (vinf - q.vth));
    double first = -1, last = -1;
    size_t cnt = 0;
    for (size_t k = 0; k < o.n_spikes; k++) {
      if (o.spike_neuron[k] != n || o.spike_time[k] < t0)
        continue;
      if (first < 0 || o.spike_time[k] < first)
        first = o.spike_time[k];
      last = fmax(last, o.spike_time[k]);
      cnt++;
    }
    if (cnt < 5 || isi > 40e-6)
      continue;
    double meas = (last - first) / (double)(cnt - 1);
    double err = fabs(meas / isi - 1.0);
    max_err = fmax(max_err, err);
    sum_err += err;
    tested++;
  }
  printf("\n    rate: %zu neurons, ISI vs LIF formula: mean rel err %.3f, max %.3f\n", tested,
         sum_err / (double)tested, max_err);
  CU_ASSERT(tested > nh / 2);
  CU_ASSERT(max_err < 0.10);
  free(t);
  free(w);
  free(x);
  sl_obs_free(&o);
  sl_neurons_free(&p);
  inst_close(&h);
}

/* ------------------------------------------------------------ layers */

static void test_layers(void)
{
  /* 4 inputs -> 20 -> 15 -> 5 readout; B = 3, only sample 1 gets input */
  size_t sz[] = {20, 15, 5};
  sl_backend_setup s = mk_setup(4, 2, sz, 0.05, "chip_seed=11");
  inst h = {0};
  CU_ASSERT_FATAL(inst_open(&h, &s) == SL_OK);
  float *w0 = malloc(4 * 20 * sizeof *w0), *w1 = malloc(20 * 15 * sizeof *w1),
        *w2 = malloc(15 * 5 * sizeof *w2);
  for (size_t k = 0; k < 4 * 20; k++)
    w0[k] = 40;
  for (size_t k = 0; k < 20 * 15; k++)
    w1[k] = 20;
  for (size_t k = 0; k < 15 * 5; k++)
    w2[k] = 30;
  CU_ASSERT(h.be->write_weights(h.st, 0, 0, w0, 4, 20) == SL_OK);
  CU_ASSERT(h.be->write_weights(h.st, 1, 0, w1, 20, 15) == SL_OK);
  CU_ASSERT(h.be->write_weights(h.st, 2, 0, w2, 15, 5) == SL_OK);
  const size_t T = 20, B = 3, N = 40;
  float *x = zeros(T * B * 4);
  for (size_t t = 0; t < T; t += 2)
    for (size_t i = 0; i < 4; i++)
      x[(t * B + 1) * 4 + i] = 1;
  sl_observations o;
  sl_obs_init(&o);
  CU_ASSERT_FATAL(h.be->run(h.st, x, T, B, &o) == SL_OK);
  size_t per_layer[3] = {0, 0, 0}, wrong_sample = 0, bad_time = 0;
  double first0 = 1, first1 = 1;
  for (size_t k = 0; k < o.n_spikes; k++) {
    size_t n = o.spike_neuron[k];
    double tt = o.spike_time[k];
    wrong_sample += o.spike_sample[k] != 1;
    bad_time += !(tt > 0 && tt <= T * 1.7e-6 + 1e-12);
    size_t l = n < 20 ? 0 : (n < 35 ? 1 : 2);
    per_layer[l]++;
    if (l == 0)
      first0 = fmin(first0, tt);
    if (l == 1)
      first1 = fmin(first1, tt);
  }
  printf("\n    layers: spikes %zu / %zu / %zu (readout), first at %.3g / %.3g us\n",
         per_layer[0], per_layer[1], per_layer[2], first0 * 1e6, first1 * 1e6);
  CU_ASSERT(o.B == B && o.n_neurons == N);
  CU_ASSERT(per_layer[0] > 20 && per_layer[1] > 15);
  CU_ASSERT(per_layer[2] == 0);
  CU_ASSERT(wrong_sample == 0 && bad_time == 0);
  /* layer 1 hears layer 0 one substep after its spike at the earliest */
  CU_ASSERT(first1 >= first0 + H_DEFAULT * 0.999);
  /* the readout integrates in sample 1 only (compare with its rest) */
  double rise1 = 0, rise0 = 0;
  for (size_t j = 0; j < o.n_samples; j++)
    for (size_t n = 35; n < 40; n++) {
      rise1 = fmax(rise1, o.membrane[(j * B + 1) * N + n] - o.membrane[(0 * B + 1) * N + n]);
      rise0 = fmax(rise0, fabs(o.membrane[(j * B + 0) * N + n] - o.membrane[(0 * B + 0) * N + n]));
    }
  printf("    readout rise: sample 1 %.0f counts, sample 0 %.0f counts\n", rise1, rise0);
  CU_ASSERT(rise1 > 50);
  CU_ASSERT(rise0 < 8); /* noise only */
  free(w0);
  free(w1);
  free(w2);
  free(x);
  inst_close(&h);

  /* recurrence: input drives neuron 0 only; 0 -> 1 through w_rec */
  size_t szr[] = {2, 1};
  s = mk_setup(1, 1, szr, 0.05, "noise=0");
  s.recurrent[0] = 1;
  CU_ASSERT_FATAL(inst_open(&h, &s) == SL_OK);
  float win[2] = {50, 0}, wrec[4] = {0, 63, 0, 0}, wout[2] = {0, 0};
  CU_ASSERT(h.be->write_weights(h.st, 0, 0, win, 1, 2) == SL_OK);
  CU_ASSERT(h.be->write_weights(h.st, 0, 1, wrec, 2, 2) == SL_OK);
  CU_ASSERT(h.be->write_weights(h.st, 1, 0, wout, 2, 1) == SL_OK);
  float xr[20];
  for (size_t k = 0; k < 20; k++)
    xr[k] = 1;
  CU_ASSERT_FATAL(h.be->run(h.st, xr, 20, 1, &o) == SL_OK);
  size_t c0 = 0, c1 = 0;
  for (size_t k = 0; k < o.n_spikes; k++) {
    c0 += o.spike_neuron[k] == 0;
    c1 += o.spike_neuron[k] == 1;
  }
  printf("    recurrent: neuron 0 %zu spikes, neuron 1 %zu\n", c0, c1);
  CU_ASSERT(c0 > 3 && c1 > 0);
  wrec[1] = 0;
  CU_ASSERT(h.be->write_weights(h.st, 0, 1, wrec, 2, 2) == SL_OK);
  CU_ASSERT_FATAL(h.be->run(h.st, xr, 20, 1, &o) == SL_OK);
  c1 = 0;
  for (size_t k = 0; k < o.n_spikes; k++)
    c1 += o.spike_neuron[k] == 1;
  CU_ASSERT(c1 == 0);
  sl_obs_free(&o);
  inst_close(&h);
}

/* ------------------------------------------------------------ determinism */

typedef struct {
  size_t n_spikes, n_mem;
  uint32_t *ss, *sn;
  double *st;
  float *mem;
} obs_copy;

static obs_copy copy_obs(const sl_observations *o)
{
  obs_copy c;
  c.n_spikes = o->n_spikes;
  c.n_mem = o->n_samples * o->B * o->n_neurons;
  c.ss = malloc((c.n_spikes + 1) * sizeof *c.ss);
  c.sn = malloc((c.n_spikes + 1) * sizeof *c.sn);
  c.st = malloc((c.n_spikes + 1) * sizeof *c.st);
  c.mem = malloc((c.n_mem + 1) * sizeof *c.mem);
  memcpy(c.ss, o->spike_sample, c.n_spikes * sizeof *c.ss);
  memcpy(c.sn, o->spike_neuron, c.n_spikes * sizeof *c.sn);
  memcpy(c.st, o->spike_time, c.n_spikes * sizeof *c.st);
  memcpy(c.mem, o->membrane, c.n_mem * sizeof *c.mem);
  return c;
}

static void free_copy(obs_copy *c)
{
  free(c->ss);
  free(c->sn);
  free(c->st);
  free(c->mem);
}

static int same_obs(const obs_copy *a, const obs_copy *b)
{
  return a->n_spikes == b->n_spikes && a->n_mem == b->n_mem &&
         !memcmp(a->ss, b->ss, a->n_spikes * sizeof *a->ss) &&
         !memcmp(a->sn, b->sn, a->n_spikes * sizeof *a->sn) &&
         !memcmp(a->st, b->st, a->n_spikes * sizeof *a->st) &&
         !memcmp(a->mem, b->mem, a->n_mem * sizeof *a->mem);
}

static void rand_weights(float *w, size_t n, uint64_t *state, int lo, int hi)
{
  for (size_t k = 0; k < n; k++) {
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    w[k] = (float)(lo + (int)((*state >> 33) % (uint64_t)(hi - lo + 1)));
  }
}

/* 16 -> 32 -> 24 (recurrent) -> 6, random weights; sample b gets input
 * pattern b % 8 (so a larger batch repeats the first 8 samples); run n_runs
 * times with `threads` threads and keep the last observation. */
static obs_copy det_run(const char *opts, size_t B, int threads, int n_runs)
{
  size_t sz[] = {32, 24, 6};
  sl_backend_setup s = mk_setup(16, 2, sz, 0.02, opts);
  s.recurrent[1] = 1;
  inst h = {0};
  obs_copy c = {0};
  if (inst_open(&h, &s) != SL_OK)
    return c;
  uint64_t r = 12345;
  float *w0 = malloc(16 * 32 * sizeof(float)), *w1 = malloc(32 * 24 * sizeof(float)),
        *wr = malloc(24 * 24 * sizeof(float)), *w2 = malloc(24 * 6 * sizeof(float));
  rand_weights(w0, 16 * 32, &r, -10, 40);
  rand_weights(w1, 32 * 24, &r, -15, 30);
  rand_weights(wr, 24 * 24, &r, -20, 20);
  rand_weights(w2, 24 * 6, &r, -20, 20);
  h.be->write_weights(h.st, 0, 0, w0, 16, 32);
  h.be->write_weights(h.st, 1, 0, w1, 32, 24);
  h.be->write_weights(h.st, 1, 1, wr, 24, 24);
  h.be->write_weights(h.st, 2, 0, w2, 24, 6);
  const size_t T = 20;
  float *x = zeros(T * B * 16);
  for (size_t t = 0; t < T; t++)
    for (size_t k = 0; k < 8; k++)
      for (size_t i = 0; i < 16; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        if ((r >> 60) < 3)
          for (size_t b = k; b < B; b += 8)
            x[(t * B + b) * 16 + i] = 1;
      }
#ifdef _OPENMP
  int old = omp_get_max_threads();
  omp_set_num_threads(threads);
#endif
  sl_observations o;
  sl_obs_init(&o);
  for (int k = 0; k < n_runs; k++)
    h.be->run(h.st, x, T, B, &o);
  c = copy_obs(&o);
#ifdef _OPENMP
  omp_set_num_threads(old);
#endif
  sl_obs_free(&o);
  free(w0);
  free(w1);
  free(wr);
  free(w2);
  free(x);
  inst_close(&h);
  return c;
}

/* 1 if the first 8 samples of a (B = 8) and b (B = 16) agree exactly. */
static int same_first8(const obs_copy *a, const obs_copy *b)
{
  const size_t N = 62, Ba = 8, Bb = 16, ns = a->n_mem / (Ba * N);
  if (b->n_mem != ns * Bb * N)
    return 0;
  for (size_t j = 0; j < ns; j++)
    if (memcmp(a->mem + j * Ba * N, b->mem + j * Bb * N, Ba * N * sizeof(float)))
      return 0;
  size_t k = 0;
  for (size_t m = 0; m < b->n_spikes; m++) {
    if (b->ss[m] >= 8)
      continue;
    if (k >= a->n_spikes || a->ss[k] != b->ss[m] || a->sn[k] != b->sn[m] || a->st[k] != b->st[m])
      return 0;
    k++;
  }
  return k == a->n_spikes;
}

static void test_determinism(void)
{
  obs_copy a = det_run("chip_seed=1,noise_seed=1", 8, 2, 1);
  obs_copy b = det_run("chip_seed=1,noise_seed=1", 8, 1, 1);
  obs_copy c = det_run("chip_seed=2,noise_seed=1", 8, 2, 1);
  obs_copy d = det_run("chip_seed=1,noise_seed=2", 8, 2, 1);
  obs_copy e = det_run("chip_seed=1,noise_seed=1", 8, 2, 2); /* second run */
  obs_copy f = det_run("chip_seed=1,noise_seed=1", 16, 2, 1);
  printf("\n    determinism: %zu spikes (chip 2: %zu, noise seed 2: %zu, 2nd run: %zu)\n",
         a.n_spikes, c.n_spikes, d.n_spikes, e.n_spikes);
  CU_ASSERT(a.n_spikes > 50);
  CU_ASSERT(same_obs(&a, &b)); /* threads do not matter */
  CU_ASSERT(same_first8(&a, &f)); /* nor the batch size */
  CU_ASSERT(!same_obs(&a, &c));
  CU_ASSERT(!same_obs(&a, &d));
  CU_ASSERT(!same_obs(&a, &e));
  obs_copy a2 = det_run("chip_seed=1,noise_seed=1", 8, 2, 1);
  CU_ASSERT(same_obs(&a, &a2));
  /* noise 0: every run is the same */
  obs_copy z1 = det_run("noise=0", 8, 2, 1), z2 = det_run("noise=0", 8, 2, 3);
  CU_ASSERT(same_obs(&z1, &z2));
  CU_ASSERT(!same_obs(&a, &z1));
  free_copy(&a);
  free_copy(&b);
  free_copy(&c);
  free_copy(&d);
  free_copy(&e);
  free_copy(&f);
  free_copy(&a2);
  free_copy(&z1);
  free_copy(&z2);
}

/* ------------------------------------------------------------ reference */

/* The documented dynamics, literally, in double precision from the truth:
 * dense delivery, per-neuron branches. Returns spikes as (b, n, substep)
 * and the membrane in counts like the backend. */
typedef struct {
  size_t n;
  uint32_t *b, *nrn, *s;
} ref_spikes;

static void ref_sim(const sl_bss2_truth *tr, int cpn, const sl_backend_setup *su,
                    float *const *w_in, float *const *w_rec, const float *x, size_t T, size_t B,
                    size_t K, double P, ref_spikes *rs, float *mem, size_t n_samples)
{
  size_t N = total_neurons(su), off[SL_MAX_LAYERS + 2];
  off[0] = 0;
  for (size_t l = 0; l <= su->n_layers; l++)
    off[l + 1] = off[l] + su->size[l];
  const double h = su->dt * 1e-3 / (double)K;
  neuron_truth *p = malloc(N * sizeof *p);
  double *V = malloc(N * sizeof *V), *I = malloc(N * sizeof *I);
  long *held = malloc(N * sizeof *held);
  int *sp = calloc(N, sizeof *sp), *sp_new = calloc(N, sizeof *sp_new);
  for (size_t n = 0; n < N; n++)
    p[n] = logical(tr, n, cpn);
  rs->n = 0;
  for (size_t b = 0; b < B; b++) {
    for (size_t n = 0; n < N; n++) {
      V[n] = p[n].E;
      I[n] = 0;
      held[n] = 0;
      sp[n] = 0;
    }
    size_t j = 0;
    for (size_t s = 0; s <= T * K; s++) {
      /* samples at boundary s */
      while (j < n_samples && (size_t)ceil(j * P / h - 1e-9) == s) {
        for (size_t n = 0; n < N; n++)
          mem[(j * B + b) * N + n] = (float)counts(&p[n], V[n]);
        j++;
      }
      if (s == T * K)
        break;
      for (size_t l = 0; l <= su->n_layers; l++) {
        size_t rows = l ? su->size[l - 1] : su->n_in;
        for (size_t jj = 0; jj < su->size[l]; jj++) {
          double add = 0;
          for (size_t i = 0; i < rows; i++) {
            int pre = l == 0 ? (s % K == 0 && x[((s / K) * B + b) * su->n_in + i] != 0)
                             : sp[off[l - 1] + i];
            if (pre)
              add += w_in[l][i * su->size[l] + jj];
          }
          if (su->recurrent[l])
            for (size_t i = 0; i < su->size[l]; i++)
              if (sp[off[l] + i])
                add += w_rec[l][i * su->size[l] + jj];
          I[off[l] + jj] += p[off[l] + jj].g * add;
        }
      }
      for (size_t n = 0; n < N; n++) {
        double am = exp(-h / p[n].tm), as = exp(-h / p[n].ts);
        double vn = p[n].E + (V[n] - p[n].E) * am + I[n] * psp_kernel(p[n].tm, p[n].ts, h);
        I[n] *= as;
        sp_new[n] = 0;
        if (held[n] > 0) {
          held[n]--;
          V[n] = p[n].vr;
          continue;
        }
        V[n] = vn;
        if (n < off[su->n_layers] && V[n] > p[n].vth) {
          sp_new[n] = 1;
          V[n] = p[n].vr;
          held[n] = (long)floor(p[n].tref / h + 1e-9);
          rs->b[rs->n] = (uint32_t)b;
          rs->nrn[rs->n] = (uint32_t)n;
          rs->s[rs->n] = (uint32_t)s;
          rs->n++;
        }
      }
      memcpy(sp, sp_new, N * sizeof *sp);
    }
  }
  free(p);
  free(V);
  free(I);
  free(held);
  free(sp);
  free(sp_new);
}

static void test_reference(void)
{
  /* merged, recurrent, refractory: 150 inputs -> 40 (recurrent) -> 30 -> 8 */
  size_t sz[] = {40, 30, 8};
  sl_neurons p0;
  sl_neuron_nominal nom = sl_neuron_nominal_default();
  nom.refrac = 1;
  CU_ASSERT_FATAL(sl_neurons_alloc(&p0, 40, &nom) == SL_OK);
  sl_backend_setup s = mk_setup(150, 2, sz, 0.02, "noise=0,chip_seed=9,sample_period=1e-6");
  s.recurrent[0] = 1;
  s.neurons[0] = &p0;
  inst h = {0};
  CU_ASSERT_FATAL(inst_open(&h, &s) == SL_OK);
  char buf[8];
  CU_ASSERT(h.be->read_config(h.st, "merge", buf, sizeof buf) == SL_OK && buf[0] == '1');
  sl_bss2_truth *tr = inst_truth(&h, 9);
  CU_ASSERT_FATAL(tr != NULL);
  uint64_t r = 777;
  float *w_in[3], *w_rec[3] = {NULL, NULL, NULL};
  size_t rows[3] = {150, 40, 30};
  for (size_t l = 0; l < 3; l++) {
    w_in[l] = malloc(rows[l] * sz[l] * sizeof(float));
    rand_weights(w_in[l], rows[l] * sz[l], &r, -20, 35);
    CU_ASSERT(h.be->write_weights(h.st, l, 0, w_in[l], rows[l], sz[l]) == SL_OK);
  }
  w_rec[0] = malloc(40 * 40 * sizeof(float));
  rand_weights(w_rec[0], 40 * 40, &r, -30, 30);
  CU_ASSERT(h.be->write_weights(h.st, 0, 1, w_rec[0], 40, 40) == SL_OK);
  const size_t T = 20, B = 4, N = 78;
  float *x = zeros(T * B * 150);
  for (size_t k = 0; k < T * B * 150; k++) {
    r = r * 6364136223846793005ull + 1442695040888963407ull;
    x[k] = (r >> 59) < 3;
  }
  sl_observations o;
  sl_obs_init(&o);
  CU_ASSERT_FATAL(h.be->run(h.st, x, T, B, &o) == SL_OK);
  ref_spikes rs;
  size_t cap = T * 4 * B * N;
  rs.b = malloc(cap * sizeof(uint32_t));
  rs.nrn = malloc(cap * sizeof(uint32_t));
  rs.s = malloc(cap * sizeof(uint32_t));
  float *mem = malloc(o.n_samples * B * N * sizeof(float));
  ref_sim(tr, 2, &s, w_in, w_rec, x, T, B, 4, 1e-6, &rs, mem, o.n_samples);
  /* compare spike sets: backend spikes as (b, n, substep) */
  size_t matched = 0;
  for (size_t k = 0; k < o.n_spikes; k++) {
    uint32_t sub = (uint32_t)lrint(o.spike_time[k] / H_DEFAULT) - 1;
    for (size_t m = 0; m < rs.n; m++)
      if (rs.b[m] == o.spike_sample[k] && rs.nrn[m] == o.spike_neuron[k] && rs.s[m] == sub) {
        matched++;
        break;
      }
  }
  double maxd = 0;
  size_t ndiff = 0, nm = o.n_samples * B * N;
  for (size_t k = 0; k < nm; k++) {
    double d = fabs(o.membrane[k] - mem[k]);
    maxd = fmax(maxd, d);
    ndiff += d > 1;
  }
  printf("\n    reference: backend %zu spikes, reference %zu, matched %zu; membrane values "
         "off by > 1 count: %zu of %zu (max %g)\n",
         o.n_spikes, rs.n, matched, ndiff, nm, maxd);
  CU_ASSERT(rs.n > 100);
  CU_ASSERT(o.n_spikes == rs.n && matched == rs.n);
  CU_ASSERT(ndiff == 0);
  for (size_t l = 0; l < 3; l++)
    free(w_in[l]);
  free(w_rec[0]);
  free(x);
  free(mem);
  free(rs.b);
  free(rs.nrn);
  free(rs.s);
  free(tr);
  sl_obs_free(&o);
  sl_neurons_free(&p0);
  inst_close(&h);
}

/* ------------------------------------------------------------ speed */

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void test_speed(void)
{
  /* Fashion-MNIST: 256 inputs (time-to-first-spike: each pixel at most
   * once) -> 246 -> 10, merged, B = 100, T = 20 */
  size_t sz[] = {246, 10};
  sl_backend_setup s = mk_setup(256, 1, sz, 0.01, NULL);
  inst h = {0};
  CU_ASSERT_FATAL(inst_open(&h, &s) == SL_OK);
  uint64_t r = 99;
  float *w0 = malloc(256 * 246 * sizeof(float)), *w1 = malloc(246 * 10 * sizeof(float));
  rand_weights(w0, 256 * 246, &r, -30, 32);
  rand_weights(w1, 246 * 10, &r, -63, 63);
  CU_ASSERT(h.be->write_weights(h.st, 0, 0, w0, 256, 246) == SL_OK);
  CU_ASSERT(h.be->write_weights(h.st, 1, 0, w1, 246, 10) == SL_OK);
  const size_t T = 20, B = 100, N = 256;
  float *x = zeros(T * B * 256);
  for (size_t b = 0; b < B; b++)
    for (size_t i = 0; i < 256; i++) {
      r = r * 6364136223846793005ull + 1442695040888963407ull;
      size_t t = (r >> 40) % 40; /* about half the pixels spike, once */
      if (t < T)
        x[(t * B + b) * 256 + i] = 1;
    }
  sl_observations o;
  sl_obs_init(&o);
  CU_ASSERT(h.be->run(h.st, x, T, B, &o) == SL_OK); /* warm-up */
  int reps = 5;
  double t0 = now();
  for (int k = 0; k < reps; k++)
    CU_ASSERT(h.be->run(h.st, x, T, B, &o) == SL_OK);
  double el = (now() - t0) / reps;
  int threads = 1;
#ifdef _OPENMP
  threads = omp_get_max_threads();
#endif
  double per = el / (double)(N * T * 4 * B);
  printf("\n    speed: 256-246-10 merged, B %zu, T %zu: %.2f ms per batch, %zu spikes; "
         "%.2f ns per neuron-substep-sample (%d threads; %.2f ns x threads); "
         "an epoch of 60000 ~ %.1f s\n",
         B, T, el * 1e3, o.n_spikes, per * 1e9, threads, per * 1e9 * threads, el * 600);
  CU_ASSERT(o.n_spikes > 0);
  free(w0);
  free(w1);
  free(x);
  sl_obs_free(&o);
  inst_close(&h);
}

int main(void)
{
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  static const sl_test_case cases[] = {
    {"limits and error messages", test_limits},
    {"calibration file", test_calib},
    {"uncalibrated spread, determinism of the chip", test_spread},
    {"truth export round trip", test_truth_export},
    {"resting level, merged neurons", test_rest},
    {"merging doubles the fan-in, capabilities", test_merge_limits},
    {"PSP against the continuous model", test_psp},
    {"calibration targets", test_targets},
    {"firing rate against the LIF formula", test_rate},
    {"layers, samples, readout, recurrence", test_layers},
    {"determinism per seeds, threads", test_determinism},
    {"reference simulator", test_reference},
    {"speed (printed)", test_speed},
    {NULL, NULL},
  };
  return sl_test_run("bss2", cases);
}
