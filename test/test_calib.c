/* test_calib.c -- characterisation protocols, fits, twins and bad
 * recordings: the stimulate slot and its version check, fits on the ideal
 * backend against the known parameters, fits on a subset of an emulated
 * bss2 chip against its hidden truth, flagging of unfit neurons, twin
 * round trip, and clear errors for broken recordings.
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
  sl_stimulus s = {SL_STIM_DECAY, &id, 1, 1, 0, 1e-3, 0.5, 0, 0};
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
 * 8-bit readout): the bounds on tau_mem, tau_syn, v_th, v_leak. */
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
  for (size_t c = 0; c < SL_BSS2_CIRCUITS; c++)
    w.word[SL_BSS2_GAIN][c] = rec.dac[SL_BSS2_GAIN][0];
  sl_bss2_truth_fill(3, &w, t);
  const int fp[4] = {SL_FP_TAU_MEM, SL_FP_TAU_SYN, SL_FP_V_TH, SL_FP_V_LEAK};
  const int tp[4] = {SL_BSS2_TAU_MEM, SL_BSS2_TAU_SYN, SL_BSS2_THRESHOLD, SL_BSS2_LEAK};
  for (int k = 0; k < 4; k++) {
    double e[64];
    for (size_t i = 0; i < n; i++) {
      e[i] = rel(sl_fit_to_hw(&fit, fp[k], i), t->value[tp[k]][ids[i]]);
      if (isnan(e[i]))
        e[i] = INFINITY;
    }
    qsort(e, n, sizeof e[0], cmpd);
    printf("\n  bss2 %s: median %.4f, 95th %.4f", sl_fit_param_name(fp[k]), e[n / 2],
           e[(size_t)(0.95 * n)]);
    CU_ASSERT(e[n / 2] < 0.02);
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

int main(void)
{
  static const sl_test_case cases[] = {{"stimulate: version check", test_version1_unsupported},
                                       {"fit: ideal, known parameters", test_fit_ideal_known},
                                       {"fit: flags", test_flags},
                                       {"fit: bss2 against truth", test_fit_bss2_truth},
                                       {"recordings: bad input", test_bad_recordings},
                                       {NULL, NULL}};
  return sl_test_run("calib", cases);
}
