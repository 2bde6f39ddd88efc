/* test_calib.c -- characterisation protocols, fits, twins and bad
 * recordings: the stimulate slot and its version check, fits on the ideal
 * backend against the known parameters, fits on a subset of an emulated
 * bss2 chip against its hidden truth, flagging of unfit neurons, twin
 * round trip, and clear errors for broken recordings; twins through the
 * config (host network gets them, the backend keeps nominal targets, wrong
 * counts are errors), and calibration of every word of a subset of
 * circuits against the hidden truth, with the targets parser.
 */
#include "config.h"
#include "spikeloop/spikeloop.h"
#include "bss2/bss2_internal.h"
#include "testutil.h"

#include <hdf5.h>
#include <hdf5_hl.h>
#include <string.h>

/* ------------------------------------------------------------ helpers */

static int v1_open(void *s, const sl_backend_setup *su) { (void)s, (void)su; return SL_OK; }
static void v1_close(void *s) { (void)s; }
static int v1_caps(void *s, sl_backend_caps *c) { (void)s; memset(c, 0, sizeof *c); c->time_scale = 1; return SL_OK; }
static int v1_write(void *s, size_t l, int w, const float *x, size_t r, size_t c) { (void)s, (void)l, (void)w, (void)x, (void)r, (void)c; return SL_OK; }
static int v1_run(void *s, const float *x, size_t T, size_t B, sl_observations *o) { (void)s, (void)x, (void)T, (void)B, (void)o; return SL_OK; }
/* A version-1 table: the core must not look past read_config/weight_levels. */
static const sl_backend v1_backend = {1, "v1test", "version-1 table", 8, v1_open, v1_close, v1_caps,
                                      v1_write, v1_run, NULL, 0, NULL};

/* An ideal-backend network of n hidden neurons (+1 readout) with known,
 * different parameters; dt fine enough for sub-percent threshold timing. */
static sl_hw *ideal_chip(size_t n, sl_neurons *nr)
{
  sl_backend_setup su;
  memset(&su, 0, sizeof su);
  su.n_in = 1;
  su.n_layers = 1;
  su.size[0] = n;
  su.size[1] = 1;
  su.dt = 1e-5;
  su.max_steps = 1;
  su.max_batch = 1;
  su.w_unit[0] = su.w_unit[1] = 0.1;
  su.lif = sl_net_spec_default().lif;
  su.lif.surrogate = sl_surrogate_find("superspike");
  CU_ASSERT_FATAL(sl_neurons_alloc(&nr[0], n, NULL) == SL_OK);
  CU_ASSERT_FATAL(sl_neurons_alloc(&nr[1], 1, NULL) == SL_OK);
  for (size_t j = 0; j < n; j++) {
    nr[0].tau_mem[j] = (float)(6e-3 * (0.7 + 0.6 * j / n));
    nr[0].tau_syn[j] = (float)(5e-3 * (1.3 - 0.5 * j / n));
    nr[0].v_th[j] = (float)(1.0 + 0.3 * ((double)(j % 5) / 5 - 0.4));
    nr[0].v_leak[j] = (float)(0.1 * ((double)(j % 3) - 1));
    nr[0].gain[j] = (float)(0.8 + 0.4 * (double)(j % 4) / 4);
  }
  su.neurons[0] = &nr[0];
  su.neurons[1] = &nr[1];
  sl_hw *hw = NULL;
  if (sl_hw_open(&hw, "ideal", &su))
    printf("\n  %s\n", sl_last_error());
  CU_ASSERT_FATAL(hw != NULL);
  return hw;
}

static double rel(double a, double b) { return fabs(a / b - 1.0); }

/* ------------------------------------------------------------ tests */

static void test_version1_unsupported(void)
{
  CU_ASSERT_EQUAL(sl_backend_register(&v1_backend), SL_OK);
  sl_neurons nr[2] = {{0}};
  sl_backend_setup su;
  memset(&su, 0, sizeof su);
  su.n_in = 1, su.n_layers = 1, su.size[0] = 2, su.size[1] = 1, su.dt = 1e-3;
  su.max_steps = su.max_batch = 1, su.w_unit[0] = su.w_unit[1] = 1;
  sl_neurons_alloc(&nr[0], 2, NULL);
  sl_neurons_alloc(&nr[1], 1, NULL);
  su.neurons[0] = &nr[0], su.neurons[1] = &nr[1];
  sl_hw *hw = NULL;
  CU_ASSERT_FATAL(sl_hw_open(&hw, "v1test", &su) == SL_OK);
  sl_observations o;
  sl_obs_init(&o);
  uint32_t id = 0;
  sl_stimulus s = {SL_STIM_DECAY, &id, 1, 1, 0, 1e-3, 0.5, 0, 0, 0, 0};
  CU_ASSERT_EQUAL(sl_hw_stimulate(hw, &s, &o), SL_EUNSUPPORTED);
  sl_hw_close(hw);
  /* the ideal backend supports it, and checks the stimulus */
  sl_neurons ni[2] = {{0}};
  hw = ideal_chip(4, ni);
  CU_ASSERT_EQUAL(sl_hw_stimulate(hw, &s, &o), SL_OK);
  CU_ASSERT_EQUAL(o.n_neurons, 1);
  CU_ASSERT_DOUBLE_EQUAL(o.membrane[0], 0.5, 1e-6); /* clamp level before the onset */
  id = 99;
  CU_ASSERT_EQUAL(sl_hw_stimulate(hw, &s, &o), SL_EINVAL);
  id = 0;
  s.duration = 0;
  CU_ASSERT_EQUAL(sl_hw_stimulate(hw, &s, &o), SL_EINVAL);
  sl_obs_free(&o);
  sl_hw_close(hw);
  for (int l = 0; l < 2; l++)
    sl_neurons_free(&nr[l]), sl_neurons_free(&ni[l]);
}

/* Fits on the exact discrete model recover the known parameters. */
static void test_fit_ideal_known(void)
{
  sl_neurons nr[2] = {{0}};
  const size_t n = 10;
  sl_hw *hw = ideal_chip(n, nr);
  uint32_t ids[10];
  for (size_t i = 0; i < n; i++)
    ids[i] = (uint32_t)i;
  sl_charac rec;
  memset(&rec, 0, sizeof rec);
  sl_charac_protocols p = sl_charac_protocols_default();
  p.repeats = 1;
  CU_ASSERT_FATAL(sl_charac_run(hw, ids, n, &p, &rec) == SL_OK);
  sl_fit_result fit;
  CU_ASSERT_FATAL(sl_fit_run(&rec, &fit) == SL_OK);
  double worst[SL_FP_N] = {0};
  for (size_t i = 0; i < n; i++) {
    CU_ASSERT_EQUAL(fit.flags[i], 0);
    double truth_gc;
    double tm = nr[0].tau_mem[i], ts = nr[0].tau_syn[i], dt = 1e-5;
    double am = exp(-dt / tm), as = exp(-dt / ts), d = 1 / ts - 1 / tm;
    truth_gc = nr[0].gain[i] * 0.1 * d / (am - as);
    double tv[SL_FP_N] = {nr[0].v_leak[i], tm, ts, truth_gc, nr[0].v_th[i], 0, 0};
    for (int q = 0; q < 5; q++) {
      double e = q == SL_FP_V_LEAK ? fabs(fit.value[q][i] - tv[q]) : rel(fit.value[q][i], tv[q]);
      if (!(e <= worst[q]))
        worst[q] = isnan(e) ? INFINITY : e;
    }
  }
  printf("\n  ideal fit max errors: v_leak %.2e, tau_mem %.2e, tau_syn %.2e, gain %.2e, v_th %.2e\n",
         worst[0], worst[1], worst[2], worst[3], worst[4]);
  CU_ASSERT(worst[SL_FP_V_LEAK] < 1e-4);
  CU_ASSERT(worst[SL_FP_TAU_MEM] < 1e-4);
  CU_ASSERT(worst[SL_FP_TAU_SYN] < 1e-3);
  CU_ASSERT(worst[SL_FP_GAIN] < 1e-3);
  CU_ASSERT(worst[SL_FP_V_TH] < 5e-3); /* spike times on the dt grid */
  /* the twin holds the model's own gain back (discrete conversion) */
  char path[256];
  sl_test_tmpfile("twin", path, sizeof path);
  CU_ASSERT_FATAL(sl_twin_write(&fit, 1e-5, path, "test") == SL_OK);
  sl_neurons back = {0};
  sl_neurons_alloc(&back, n, NULL);
  CU_ASSERT_EQUAL(sl_twin_apply(path, "hidden0", 0, 0, 1e-5, &back), SL_OK);
  double gmax = 0;
  for (size_t i = 0; i < n; i++)
    gmax = fmax(gmax, rel(back.gain[i], nr[0].gain[i]));
  printf("  twin gain max rel error %.2e\n", gmax);
  CU_ASSERT(gmax < 1e-3);
  CU_ASSERT_EQUAL(sl_twin_apply(path, "hidden0", 0, 0, 1e-3, &back), SL_EINVAL); /* other dt */
  sl_neurons big = {0};
  sl_neurons_alloc(&big, 20, NULL);
  CU_ASSERT_EQUAL(sl_twin_apply(path, "hidden0", 0, 0, 1e-5, &big), SL_EFORMAT); /* too short */
  remove(path);
  sl_neurons_free(&big);
  sl_neurons_free(&back);
  sl_fit_result_free(&fit);
  sl_charac_free(&rec);
  sl_hw_close(hw);
  sl_neurons_free(&nr[0]);
  sl_neurons_free(&nr[1]);
}

/* A neuron whose leak is above threshold fires without input; a NaN in
 * one neuron's samples: both flagged, the others unaffected. */
static void test_flags(void)
{
  sl_neurons nr[2] = {{0}};
  sl_hw *hw = ideal_chip(4, nr);
  sl_hw_close(hw);
  nr[0].v_leak[1] = 1.5f;
  nr[0].v_th[1] = 1.0f;
  nr[0].v_reset[1] = 0.0f;
  sl_backend_setup su;
  memset(&su, 0, sizeof su);
  su.n_in = 1, su.n_layers = 1, su.size[0] = 4, su.size[1] = 1, su.dt = 1e-5;
  su.max_steps = su.max_batch = 1, su.w_unit[0] = su.w_unit[1] = 0.1;
  su.lif = sl_net_spec_default().lif;
  su.lif.surrogate = sl_surrogate_find("superspike");
  su.neurons[0] = &nr[0], su.neurons[1] = &nr[1];
  CU_ASSERT_FATAL(sl_hw_open(&hw, "ideal", &su) == SL_OK);
  uint32_t ids[4] = {0, 1, 2, 3};
  sl_charac rec;
  memset(&rec, 0, sizeof rec);
  sl_charac_protocols p = sl_charac_protocols_default();
  p.repeats = 1;
  CU_ASSERT_FATAL(sl_charac_run(hw, ids, 4, &p, &rec) == SL_OK);
  rec.proto[2].membrane[3 * rec.proto[2].n_samples + 5] = NAN; /* neuron row 3, psp */
  sl_fit_result fit;
  CU_ASSERT_FATAL(sl_fit_run(&rec, &fit) == SL_OK);
  printf("\n  flags: %u %u %u %u\n", fit.flags[0], fit.flags[1], fit.flags[2], fit.flags[3]);
  CU_ASSERT(fit.flags[1] & SL_FIT_ALWAYS);
  CU_ASSERT(fit.flags[3] & SL_FIT_NAN);
  CU_ASSERT(isnan(fit.value[SL_FP_TAU_MEM][3]));
  CU_ASSERT_EQUAL(fit.flags[0], 0);
  CU_ASSERT_EQUAL(fit.flags[2], 0);
  CU_ASSERT(rel(fit.value[SL_FP_TAU_MEM][2], nr[0].tau_mem[2]) < 1e-4);
  sl_fit_result_free(&fit);
  sl_charac_free(&rec);
  sl_hw_close(hw);
  sl_neurons_free(&nr[0]);
  sl_neurons_free(&nr[1]);
}

/* 64 circuits of an emulated chip against its hidden truth (default noise,
 * 8-bit readout): the issues' bounds on tau_mem, tau_syn, v_th, v_leak,
 * v_reset and the refractory time. */
static int cmpd(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void test_fit_bss2_truth(void)
{
  const size_t n = 64;
  uint32_t ids[64];
  for (size_t i = 0; i < n; i++)
    ids[i] = (uint32_t)(i * 8);
  sl_charac rec;
  sl_fit_result fit;
  memset(&rec, 0, sizeof rec);
  CU_ASSERT_FATAL(sl_calib_characterise_bss2("chip_seed=3", ids, n, &rec, &fit) == SL_OK);
  sl_bss2_truth *t = malloc(sizeof *t);
  sl_bss2_words w;
  CU_ASSERT_FATAL(t != NULL);
  sl_bss2_words_default(&w);
  for (int p = 0; p < SL_BSS2_NPARAM; p++) /* the words of the characterisation */
    for (size_t i = 0; i < n; i++)
      w.word[p][ids[i]] = rec.dac[p][i];
  sl_bss2_truth_fill(3, &w, t);
  /* reset and refractory time as the chip defines them (issue 13: <= 3%
   * median error; the characterisation runs at SL_CALIB_SUBSTEPS) */
  const int fp[6] = {SL_FP_TAU_MEM, SL_FP_TAU_SYN, SL_FP_V_TH, SL_FP_V_LEAK, SL_FP_V_RESET,
                     SL_FP_REFRAC};
  const int tp[6] = {SL_BSS2_TAU_MEM, SL_BSS2_TAU_SYN, SL_BSS2_THRESHOLD, SL_BSS2_LEAK,
                     SL_BSS2_RESET, SL_BSS2_REFRAC};
  for (int k = 0; k < 6; k++) {
    double e[64];
    for (size_t i = 0; i < n; i++) {
      e[i] = rel(sl_fit_to_hw(&fit, fp[k], i), t->value[tp[k]][ids[i]]);
      if (isnan(e[i]))
        e[i] = INFINITY;
    }
    qsort(e, n, sizeof e[0], cmpd);
    printf("\n  bss2 %s: median %.4f, 95th %.4f", sl_fit_param_name(fp[k]), e[n / 2],
           e[(size_t)(0.95 * n)]);
    CU_ASSERT(e[n / 2] < (k < 4 ? 0.02 : 0.03));
    CU_ASSERT(e[(size_t)(0.95 * n)] < 0.05);
  }
  printf("\n");
  free(t);
  sl_fit_result_free(&fit);
  sl_charac_free(&rec);
}

/* Broken recordings: clear errors naming the dataset. */
static void expect_read_error(const char *path, int code, const char *needle)
{
  sl_charac c;
  memset(&c, 0, sizeof c);
  int rc = sl_charac_read(&c, path);
  CU_ASSERT_EQUAL(rc, code);
  if (needle && !strstr(sl_last_error(), needle)) {
    printf("\n  message '%s' lacks '%s'\n", sl_last_error(), needle);
    CU_FAIL("message does not name the problem");
  }
  sl_charac_free(&c);
}

static void test_bad_recordings(void)
{
  sl_neurons nr[2] = {{0}};
  sl_hw *hw = ideal_chip(3, nr);
  uint32_t ids[3] = {0, 1, 2};
  sl_charac rec;
  memset(&rec, 0, sizeof rec);
  sl_charac_protocols p = sl_charac_protocols_default();
  p.repeats = 1;
  CU_ASSERT_FATAL(sl_charac_run(hw, ids, 3, &p, &rec) == SL_OK);
  char path[256];
  sl_test_tmpfile("rec", path, sizeof path);
  CU_ASSERT_FATAL(sl_charac_write(&rec, path) == SL_OK);
  sl_charac back;
  memset(&back, 0, sizeof back);
  CU_ASSERT_EQUAL(sl_charac_read(&back, path), SL_OK);
  CU_ASSERT_EQUAL(back.n_protocols, 4);
  sl_charac_free(&back);
  hid_t f;
  /* wrong units */
  f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  H5LTset_attribute_string(f, "/protocols/psp/time", "units", "ms");
  H5Fclose(f);
  expect_read_error(path, SL_EFORMAT, "/protocols/psp/time");
  /* mismatched lengths */
  CU_ASSERT_FATAL(sl_charac_write(&rec, path) == SL_OK);
  f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  H5Ldelete(f, "/protocols/decay_hi/time", H5P_DEFAULT);
  hsize_t two = 2;
  double tt[2] = {0, 1};
  H5LTmake_dataset_double(f, "/protocols/decay_hi/time", 1, &two, tt);
  H5LTset_attribute_string(f, "/protocols/decay_hi/time", "units", "s");
  H5Fclose(f);
  expect_read_error(path, SL_EFORMAT, "/protocols/decay_hi/time");
  /* missing protocol: read works, fitting names it */
  CU_ASSERT_FATAL(sl_charac_write(&rec, path) == SL_OK);
  f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  H5Ldelete(f, "/protocols/current", H5P_DEFAULT);
  H5Fclose(f);
  CU_ASSERT_EQUAL(sl_charac_read(&back, path), SL_OK);
  sl_fit_result fit;
  CU_ASSERT_EQUAL(sl_fit_run(&back, &fit), SL_EFORMAT);
  CU_ASSERT(strstr(sl_last_error(), "current") != NULL);
  sl_charac_free(&back);
  /* missing dataset */
  CU_ASSERT_FATAL(sl_charac_write(&rec, path) == SL_OK);
  f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  H5Ldelete(f, "/protocols/psp/membrane", H5P_DEFAULT);
  H5Fclose(f);
  expect_read_error(path, SL_EFORMAT, "/protocols/psp/membrane");
  /* adc_bits beyond any ADC (1 << 256 was undefined behaviour in the
   * saturation checks: found by test/fuzz/fuzz_charac) */
  CU_ASSERT_FATAL(sl_charac_write(&rec, path) == SL_OK);
  f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  int bits = 256;
  H5LTset_attribute_int(f, "/", "adc_bits", &bits, 1);
  H5Fclose(f);
  expect_read_error(path, SL_EFORMAT, "adc_bits = 256");
  /* truncated file */
  CU_ASSERT_FATAL(sl_charac_write(&rec, path) == SL_OK);
  CU_ASSERT_EQUAL(truncate(path, 2000), 0);
  expect_read_error(path, SL_EIO, path);
  /* not a recording */
  expect_read_error("/nonexistent/none.h5", SL_EIO, "none.h5");
  remove(path);
  sl_charac_free(&rec);
  sl_hw_close(hw);
  sl_neurons_free(&nr[0]);
  sl_neurons_free(&nr[1]);
}

/* A recording with per-neuron stimuli and a protocol of a subset of the
 * neurons survives write and read (issue 20), and the fit flags the neuron
 * a protocol did not record while the others keep their values; --check
 * (sl_charac_check) names the neuron. */
static void test_per_neuron_subset(void)
{
  sl_neurons nr[2] = {{0}};
  sl_hw *hw = ideal_chip(3, nr);
  uint32_t ids[3] = {0, 1, 2};
  sl_charac rec, back;
  memset(&rec, 0, sizeof rec);
  memset(&back, 0, sizeof back);
  sl_charac_protocols pp = sl_charac_protocols_default();
  pp.repeats = 1;
  CU_ASSERT_FATAL(sl_charac_run(hw, ids, 3, &pp, &rec) == SL_OK);
  sl_fit_result full, part;
  CU_ASSERT_FATAL(sl_fit_run(&rec, &full) == SL_OK);
  CU_ASSERT_EQUAL(sl_charac_check(&rec, NULL, 0), SL_OK);
  /* psp weight per neuron (the same values); current only for neurons 0, 2 */
  sl_charac_protocol *psp = &rec.proto[2], *cur = &rec.proto[3];
  CU_ASSERT_FATAL(psp->protocol == SL_STIM_PSP && cur->protocol == SL_STIM_CURRENT);
  psp->weight_n = malloc(3 * sizeof(double));
  for (int i = 0; i < 3; i++)
    psp->weight_n[i] = psp->weight;
  psp->weight = NAN;
  cur->row = malloc(3 * sizeof(int32_t));
  cur->row[0] = 0, cur->row[1] = -1, cur->row[2] = 1;
  cur->n_rows = 2;
  memcpy(cur->membrane + cur->n_samples, cur->membrane + 2 * cur->n_samples,
         cur->n_samples * sizeof(float));
  size_t k = 0;
  for (size_t s = 0; s < cur->n_spikes; s++)
    if (cur->spike_neuron[s] != 1) {
      cur->spike_neuron[k] = cur->spike_neuron[s];
      cur->spike_trial[k] = cur->spike_trial[s];
      cur->spike_time[k++] = cur->spike_time[s];
    }
  cur->n_spikes = k;
  char path[256], report[2048];
  sl_test_tmpfile("rec_sub", path, sizeof path);
  CU_ASSERT_FATAL(sl_charac_write(&rec, path) == SL_OK);
  CU_ASSERT_FATAL(sl_charac_read(&back, path) == SL_OK);
  sl_charac_protocol *bp = NULL, *bc = NULL; /* read back in name order */
  for (size_t q = 0; q < back.n_protocols; q++) {
    if (!strcmp(back.proto[q].name, psp->name))
      bp = &back.proto[q];
    if (!strcmp(back.proto[q].name, cur->name))
      bc = &back.proto[q];
  }
  CU_ASSERT_FATAL(bp != NULL && bc != NULL);
  CU_ASSERT(bp->weight_n != NULL && isnan(bp->weight));
  CU_ASSERT(bp->weight_n && bp->weight_n[1] == psp->weight_n[1]);
  CU_ASSERT(bc->row != NULL && bc->n_rows == 2);
  CU_ASSERT(bc->row && bc->row[1] == -1 && bc->row[2] == 1);
  CU_ASSERT_EQUAL(bc->n_spikes, cur->n_spikes);
  CU_ASSERT(bc->n_spikes && bc->spike_neuron[bc->n_spikes - 1] == 2); /* a /neurons row again */
  CU_ASSERT_EQUAL(sl_charac_check(&back, report, sizeof report), SL_EFORMAT);
  CU_ASSERT(strstr(report, "1 of 3 neurons lack a current protocol (ids 1)") != NULL);
  CU_ASSERT_FATAL(sl_fit_run(&back, &part) == SL_OK);
  CU_ASSERT(part.flags[1] & SL_FIT_NOTRECORDED);
  CU_ASSERT(isnan(part.value[SL_FP_V_TH][1]));
  CU_ASSERT(rel(part.value[SL_FP_TAU_MEM][1], full.value[SL_FP_TAU_MEM][1]) < 1e-5);
  double worst = 0;
  for (int i = 0; i < 3; i += 2)
    for (int q = 0; q < SL_FP_N; q++)
      worst = fmax(worst, fabs(part.value[q][i] - full.value[q][i]) /
                              fmax(1e-12, fabs(full.value[q][i])));
  printf("\n  subset fit vs full fit: max rel. difference %.2e\n", worst);
  CU_ASSERT(worst < 1e-5);
  CU_ASSERT_EQUAL(part.flags[0], 0);
  CU_ASSERT_EQUAL(part.flags[2], 0);
  remove(path);
  sl_fit_result_free(&full);
  sl_fit_result_free(&part);
  sl_charac_free(&back);
  sl_charac_free(&rec);
  sl_hw_close(hw);
  sl_neurons_free(&nr[0]);
  sl_neurons_free(&nr[1]);
}


/* ------------------------------------------------------------ twin through the config */

/* A twin file of n neurons whose parameters are known functions of the id. */
static double twin_val(int k, size_t g)
{
  static const double base[6] = {5e-3, 4e-3, 1.1, 0.05, -0.1, 0.9}; /* tau_mem .. gain */
  return base[k] * (1.0 + 0.01 * (double)g) + (k >= 2 && k <= 4 ? 0.001 * (double)g : 0.0);
}

static void write_twin(const char *path, size_t n, double dt)
{
  static const char *const names[6] = {"tau_mem", "tau_syn", "v_th", "v_leak", "v_reset", "gain"};
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  CU_ASSERT_FATAL(f >= 0);
  H5Gclose(H5Gcreate2(f, "/mismatch", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  H5Gclose(H5Gcreate2(f, "/mismatch/global", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  long long nn = (long long)n;
  int one = 1;
  H5LTset_attribute_string(f, "/", "format", "spikeloop-twin");
  H5LTset_attribute_int(f, "/", "format_version", &one, 1);
  H5LTset_attribute_double(f, "/", "dt", &dt, 1);
  H5LTset_attribute_long_long(f, "/", "n_neurons", &nn, 1);
  float buf[64];
  int32_t ref[64];
  hsize_t d = n;
  for (int k = 0; k < 6; k++) {
    for (size_t g = 0; g < n; g++)
      buf[g] = (float)twin_val(k, g);
    char name[64];
    snprintf(name, sizeof name, "/mismatch/global/%s", names[k]);
    CU_ASSERT(H5LTmake_dataset_float(f, name, 1, &d, buf) >= 0);
  }
  for (size_t g = 0; g < n; g++)
    ref[g] = (int32_t)(g % 3);
  CU_ASSERT(H5LTmake_dataset(f, "/mismatch/global/refrac", 1, &d, H5T_STD_I32LE, ref) >= 0);
  H5Fclose(f);
}

/* neuron.twin: the host network takes the twin's values (global ids:
 * hidden0 first, readout last; the readout only its time constants and
 * gain), the backend keeps the nominal targets, a wrong count is an error
 * naming the file and both counts. */
static void test_twin_config(void)
{
  char path[64], wrong[64], rec[64];
  snprintf(path, sizeof path, "test_calib_twin_%ld.h5", (long)getpid());
  snprintf(wrong, sizeof wrong, "test_calib_twin8_%ld.h5", (long)getpid());
  snprintf(rec, sizeof rec, "test_calib_twinrec_%ld.h5", (long)getpid());
  write_twin(path, 7, 1e-3);  /* 4 hidden + 3 readout */
  write_twin(wrong, 8, 1e-3);
  sl_config cfg;
  sl_config_defaults(&cfg);
  CU_ASSERT_FATAL(sl_config_set(&cfg, "net.hidden", "4") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(&cfg, "mismatch.tau_mem", "0.2") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(&cfg, "neuron.twin", path) == SL_OK);
  sl_net *net = NULL;
  CU_ASSERT_FATAL(sl_net_from_config(&net, &cfg, 6, 3) == SL_OK);
  const sl_neurons *h = sl_net_neurons(net, 0), *ro = sl_net_neurons(net, 1);
  double maxd = 0;
  for (size_t j = 0; j < 4; j++) {
    maxd = fmax(maxd, rel(h->tau_mem[j], twin_val(0, j)));
    maxd = fmax(maxd, rel(h->tau_syn[j], twin_val(1, j)));
    maxd = fmax(maxd, rel(h->v_th[j], twin_val(2, j)));
    maxd = fmax(maxd, rel(h->v_leak[j], twin_val(3, j)));
    maxd = fmax(maxd, rel(h->v_reset[j], twin_val(4, j)));
    maxd = fmax(maxd, rel(h->gain[j], twin_val(5, j)));
    CU_ASSERT_EQUAL(h->refrac[j], (int32_t)(j % 3));
  }
  for (size_t j = 0; j < 3; j++) {
    maxd = fmax(maxd, rel(ro->tau_mem[j], twin_val(0, 4 + j)));
    maxd = fmax(maxd, rel(ro->tau_syn[j], twin_val(1, 4 + j)));
    maxd = fmax(maxd, rel(ro->gain[j], twin_val(5, 4 + j)));
    CU_ASSERT_DOUBLE_EQUAL(ro->v_leak[j], 0.0, 1e-12); /* the readout keeps its nominal voltages */
  }
  printf("\n  twin -> host network: max rel. difference %.2e", maxd);
  CU_ASSERT(maxd < 1e-6);
  sl_net_free(net);

  /* the backend is configured from the nominal targets, not from the twin */
  sl_config chip = cfg;
  CU_ASSERT_FATAL(sl_config_set(&chip, "data.n_train", "50") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(&chip, "data.n_test", "50") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(&chip, "data.n_val", "0") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(&chip, "backend.record", rec) == SL_OK); /* through the interface */
  sl_config plain = chip;
  plain.twin[0] = '\0';
  char rec2[80];
  snprintf(rec2, sizeof rec2, "%s.plain.h5", rec);
  CU_ASSERT_FATAL(sl_config_set(&plain, "backend.record", rec2) == SL_OK);
  sl_session *s = NULL, *p = NULL;
  CU_ASSERT_FATAL(sl_session_create(&s, &chip) == SL_OK);
  CU_ASSERT_FATAL(sl_session_create(&p, &plain) == SL_OK);
  sl_hw *hw = sl_loop_hw(sl_session_loop(s)), *hw_plain = sl_loop_hw(sl_session_loop(p));
  CU_ASSERT_FATAL(hw != NULL && hw_plain != NULL);
  const sl_backend_setup *su = sl_hw_setup(hw), *su_plain = sl_hw_setup(hw_plain);
  double d_nom = 0, d_twin = 0;
  for (size_t l = 0; l <= 1; l++)
    for (size_t j = 0; j < su->size[l]; j++) {
      d_nom = fmax(d_nom, fabs(su->neurons[l]->tau_mem[j] - su_plain->neurons[l]->tau_mem[j]));
      d_nom = fmax(d_nom, fabs(su->neurons[l]->v_th[j] - su_plain->neurons[l]->v_th[j]));
      d_twin = fmax(d_twin, fabs(sl_net_neurons(sl_session_net(s), l)->tau_mem[j] -
                                 su->neurons[l]->tau_mem[j]));
    }
  printf("\n  backend targets vs the config without twin: %.2e; host vs backend: %.2e", d_nom,
         d_twin);
  CU_ASSERT_EQUAL(d_nom, 0.0);
  CU_ASSERT(d_twin > 1e-4);
  sl_session_free(s);
  sl_session_free(p);
  remove(rec);
  remove(rec2);

  /* wrong count: an error naming the file and both counts */
  CU_ASSERT_FATAL(sl_config_set(&cfg, "neuron.twin", wrong) == SL_OK);
  net = NULL;
  CU_ASSERT_EQUAL(sl_net_from_config(&net, &cfg, 6, 3), SL_EINVAL);
  CU_ASSERT(net == NULL);
  const char *msg = sl_last_error();
  printf("\n  %s", msg);
  CU_ASSERT(strstr(msg, wrong) != NULL && strstr(msg, "8 neurons") != NULL &&
            strstr(msg, "has 7") != NULL);
  /* a twin made for another dt */
  write_twin(path, 7, 2e-3);
  CU_ASSERT_FATAL(sl_config_set(&cfg, "neuron.twin", path) == SL_OK);
  CU_ASSERT_EQUAL(sl_net_from_config(&net, &cfg, 6, 3), SL_EINVAL);
  /* no such file */
  CU_ASSERT_FATAL(sl_config_set(&cfg, "neuron.twin", "/nonexistent/twin.h5") == SL_OK);
  CU_ASSERT_EQUAL(sl_net_from_config(&net, &cfg, 6, 3), SL_EIO);
  printf("\n");
  remove(path);
  remove(wrong);
}

/* The whole chain on real data: characterise 123 circuits of a chip, fit,
 * write the twin, and build a 5-120-3 network from it; the host network's
 * tau_mem are the fitted ones (within float rounding). */
static void test_twin_chain(void)
{
  uint32_t ids[123];
  for (size_t i = 0; i < 123; i++)
    ids[i] = (uint32_t)i;
  sl_charac rec;
  sl_fit_result fit;
  memset(&rec, 0, sizeof rec);
  memset(&fit, 0, sizeof fit);
  CU_ASSERT_FATAL(sl_calib_characterise_bss2("chip_seed=4", ids, 123, &rec, &fit) == SL_OK);
  /* the selection keeps the order and refuses ids not fitted */
  uint32_t bad[2] = {3, 400};
  CU_ASSERT_EQUAL(sl_fit_result_select(&fit, bad, 2), SL_EINVAL);
  CU_ASSERT(strstr(sl_last_error(), "400") != NULL);
  CU_ASSERT_EQUAL(fit.n, 123);
  char path[64];
  snprintf(path, sizeof path, "test_calib_chain_%ld.h5", (long)getpid());
  CU_ASSERT_FATAL(sl_twin_write(&fit, 1e-3, path, "test") == SL_OK);
  sl_config cfg;
  sl_config_defaults(&cfg);
  CU_ASSERT_FATAL(sl_config_set(&cfg, "neuron.twin", path) == SL_OK);
  sl_net *net = NULL;
  CU_ASSERT_FATAL(sl_net_from_config(&net, &cfg, 6, 3) == SL_OK);
  double maxd = 0;
  for (size_t i = 0; i < 120; i++)
    if (isfinite(fit.value[SL_FP_TAU_MEM][i]))
      maxd = fmax(maxd, rel(sl_net_neurons(net, 0)->tau_mem[i], fit.value[SL_FP_TAU_MEM][i]));
  for (size_t i = 120; i < 123; i++)
    if (isfinite(fit.value[SL_FP_TAU_MEM][i]))
      maxd = fmax(maxd, rel(sl_net_neurons(net, 1)->tau_mem[i - 120], fit.value[SL_FP_TAU_MEM][i]));
  printf("\n  fitted tau_mem -> host network: max rel. difference %.2e\n", maxd);
  CU_ASSERT(maxd < 1e-6);
  sl_net_free(net);
  remove(path);
  sl_fit_result_free(&fit);
  sl_charac_free(&rec);
}

/* Neuron lists of the tools. */
static void test_parse_neurons(void)
{
  uint32_t *ids = NULL;
  size_t n = 0;
  CU_ASSERT_EQUAL(sl_calib_parse_neurons("0-3,10,20-21", 512, &ids, &n), SL_OK);
  CU_ASSERT_EQUAL(n, 7);
  if (n == 7)
    CU_ASSERT(ids[0] == 0 && ids[3] == 3 && ids[4] == 10 && ids[6] == 21);
  free(ids);
  const char *bad[] = {"", "a", "3-1", "0-512", "1,1", "1,", "1-", "1;2", NULL};
  for (int k = 0; bad[k]; k++) {
    ids = NULL;
    CU_ASSERT_EQUAL(sl_calib_parse_neurons(bad[k], 512, &ids, &n), SL_EINVAL);
    CU_ASSERT(ids == NULL);
  }
}

/* Calibration of 16 circuits, every word, to targets off the nominal: the
 * measured spread falls below 2% (tau_syn 4%: the measurement's own noise;
 * refractory time 5%: it is measured to a 31 ns substep) and the *true* parameters at the written words meet the
 * targets; the other circuits keep their nominal words. */
static void test_calib_subset(void)
{
  uint32_t ids[16];
  for (size_t i = 0; i < 16; i++)
    ids[i] = (uint32_t)(100 + 7 * i);
  sl_calib_targets t = sl_calib_targets_default();
  t.tau_mem = 8e-6;
  t.tau_syn = 6.5e-6;
  t.v_th = 0.85;
  t.v_reset = 0.45;
  t.gain = 1.0e4;
  t.refrac = 0.6e-6;
  t.circuits = ids;
  t.n_circuits = 16;
  char path[64];
  snprintf(path, sizeof path, "test_calib_words_%ld.h5", (long)getpid());
  sl_calib_report r;
  int rc = sl_calib_run("chip_seed=5", &t, path, &r);
  if (rc)
    printf("\n  %s", sl_last_error());
  CU_ASSERT_FATAL(rc == SL_OK);
  enum { K = 7 };
  const int fp[K] = {SL_FP_TAU_MEM, SL_FP_TAU_SYN, SL_FP_V_TH,  SL_FP_V_LEAK,
                     SL_FP_V_RESET, SL_FP_GAIN,    SL_FP_REFRAC};
  const int tp[K] = {SL_BSS2_TAU_MEM, SL_BSS2_TAU_SYN, SL_BSS2_THRESHOLD, SL_BSS2_LEAK,
                     SL_BSS2_RESET,   SL_BSS2_GAIN,    SL_BSS2_REFRAC};
  const double tv[K] = {t.tau_mem, t.tau_syn, t.v_th, t.v_leak, t.v_reset, t.gain, t.refrac};
  const double max_spread[K] = {0.02, 0.04, 0.02, 0.02, 0.02, 0.02, 0.05};
  const double max_worst[K] = {0.06, 0.06, 0.06, 0.06, 0.06, 0.06, 0.10};
  sl_bss2_words w, nominal;
  sl_bss2_words_default(&w);
  sl_bss2_words_default(&nominal);
  CU_ASSERT_FATAL(sl_bss2_words_load(&w, path, NULL) == SL_OK);
  sl_bss2_truth *tr = malloc(sizeof *tr);
  CU_ASSERT_FATAL(tr != NULL);
  CU_ASSERT_FATAL(sl_bss2_truth_fill(5, &w, tr) == SL_OK);
  for (int k = 0; k < K; k++) {
    const int f = fp[k];
    double worst = 0;
    for (size_t i = 0; i < 16; i++)
      worst = fmax(worst, rel(tr->value[tp[k]][ids[i]], tv[k]));
    printf("\n  %-8s measured spread %6.2f%% -> %5.2f%%, bias %+6.2f%% -> %+5.2f%%; worst true "
           "error %.2f%%",
           sl_fit_param_name(f), 100 * r.spread_before[f], 100 * r.spread_after[f],
           100 * r.bias_before[f], 100 * r.bias_after[f], 100 * worst);
    CU_ASSERT(r.spread_after[f] < max_spread[k]);
    CU_ASSERT(r.spread_after[f] < r.spread_before[f]);
    CU_ASSERT(fabs(r.bias_after[f]) < 0.01);
    CU_ASSERT(worst < max_worst[k]);
    CU_ASSERT_EQUAL(r.n_unreachable[f], 0);
  }
  size_t moved = 0;
  for (size_t c = 0; c < SL_BSS2_CIRCUITS; c++) {
    int in = 0;
    for (size_t i = 0; i < 16; i++)
      in |= ids[i] == c;
    for (int p = 0; p < SL_BSS2_NPARAM && !in; p++)
      moved += w.word[p][c] != nominal.word[p][c];
  }
  CU_ASSERT_EQUAL(moved, 0);
  printf("\n  %.2f s\n", r.seconds);
  /* bad subsets and targets */
  uint32_t out_of_range = 600;
  t.circuits = &out_of_range;
  t.n_circuits = 1;
  CU_ASSERT_EQUAL(sl_calib_run("chip_seed=5", &t, path, &r), SL_EINVAL);
  t.circuits = ids;
  t.n_circuits = 16;
  double *per = malloc(SL_BSS2_NPARAM * SL_BSS2_CIRCUITS * sizeof *per);
  CU_ASSERT_FATAL(per != NULL);
  for (size_t i = 0; i < SL_BSS2_NPARAM * SL_BSS2_CIRCUITS; i++)
    per[i] = NAN;
  per[(size_t)SL_BSS2_GAIN * SL_BSS2_CIRCUITS + ids[3]] = 5e3; /* one circuit's own gain */
  t.gain = NAN;                                                  /* but no common one */
  t.per_circuit = per;
  CU_ASSERT_EQUAL(sl_calib_run("chip_seed=5", &t, path, &r), SL_EINVAL);
  CU_ASSERT(strstr(sl_last_error(), "gain") != NULL);
  free(per);
  free(tr);
  remove(path);
}

/* The targets parser: the words of issue 13, "none", ranges. */
static void test_calib_targets_parse(void)
{
  sl_calib_targets t = sl_calib_targets_default();
  CU_ASSERT(isnan(t.gain) && t.v_reset == 0.5 && t.refrac > 0);
  CU_ASSERT_EQUAL(sl_calib_targets_parse(&t, "gain=8000,refrac=none,v_reset=0.45"), SL_OK);
  CU_ASSERT(t.gain == 8000 && isnan(t.refrac) && t.v_reset == 0.45);
  CU_ASSERT_EQUAL(sl_calib_targets_parse(&t, "gain=6e4"), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_calib_targets_parse(&t, "refrac=-1"), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_calib_targets_parse(&t, "v_reset=0.9"), SL_EINVAL); /* above v_th */
  CU_ASSERT(strstr(sl_last_error(), "must exceed") != NULL);
}

int main(void)
{
  static const sl_test_case cases[] = {{"stimulate: version check", test_version1_unsupported},
                                       {"fit: ideal, known parameters", test_fit_ideal_known},
                                       {"fit: flags", test_flags},
                                       {"fit: bss2 against truth", test_fit_bss2_truth},
                                       {"recordings: bad input", test_bad_recordings},
                                       {"recordings: per neuron, subsets",
                                        test_per_neuron_subset},
                                       {"twin: through the config", test_twin_config},
                                       {"twin: chip to host network", test_twin_chain},
                                       {"tools: neuron lists", test_parse_neurons},
                                       {"calibrate: subset converges", test_calib_subset},
                                       {"calibrate: targets", test_calib_targets_parse},
                                       {NULL, NULL}};
  return sl_test_run("calib", cases);
}
