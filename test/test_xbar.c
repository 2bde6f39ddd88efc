/* test_xbar.c -- characterising the devices of a memristor crossbar and
 * its twin (spikeloop/xbar.h): on a small network whose crossbars have an
 * injected stuck map and per-device drift (the gain error at the deployment
 * age), the fit recovers every stuck device and every drift gain within
 * tolerance against the chip's hidden truth (sl_cim_device_truth of a
 * crossbar built with the same chip seed); the twin's forward model equals
 * the crossbar's own with the noise off; weights deployed through the twin
 * are nearer their targets than weights deployed naively; and the files
 * round-trip. Backends without devices refuse the device protocol.
 */
#include "config.h"
#include "spikeloop/spikeloop.h"
#include "fixtures.h"
#include "testutil.h"

#include <string.h>

enum { N_IN = 20, N_HID = 12, N_OUT = 3 };
#define AGE (30.0 * 86400.0)
#define CHIP "seed=5,stuck_on=0.04,stuck_off=0.04,drift_nu_sd=0.02,drift_time=2592000"

static char tmp_dir[256];

static const char *tmp_path(const char *name)
{
  static char buf[4][512];
  static int k;
  k = (k + 1) % 4;
  if (!tmp_dir[0]) {
    snprintf(tmp_dir, sizeof tmp_dir, "%s/sl_xbar.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR")
                                                                             : "/tmp");
    if (!mkdtemp(tmp_dir))
      tmp_dir[0] = '\0';
  }
  snprintf(buf[k], sizeof buf[k], "%s/%s", tmp_dir, name);
  return buf[k];
}

/* The crossbar of layer l of a memristor backend opened with CHIP: the
 * same device model, the same chip seed (faults and drift exponents are
 * drawn per chip seed and matrix row). */
static sl_cim *twin_of_layer(size_t n_in, size_t n_out, double prog_sd, double read_sd)
{
  sl_cim_params p = sl_cim_params_default();
  p.dac_mode = SL_CIM_DAC_LEVEL;
  p.dac_bits = 1;
  p.adc_bits = 0;
  p.levels = 8;
  p.w_max = 7;
  p.prog_sd = prog_sd;
  p.read_sd = read_sd;
  p.stuck_on_rate = p.stuck_off_rate = 0.04;
  p.drift_nu_sd = 0.02;
  p.chip_seed = p.noise_seed = 5;
  sl_cim *c = NULL;
  CU_ASSERT_FATAL(sl_cim_alloc(&c, n_in, n_out, &p) == SL_OK);
  return c;
}

/* Characterise and fit the crossbars of the small network on chip CHIP. */
static void characterise(sl_xbar_charac *rec, sl_xbar_twin *tw)
{
  sl_net *net = sl_test_net(N_IN, N_HID, N_OUT, 3.0, 5);
  sl_hw *hw = NULL;
  CU_ASSERT_FATAL(sl_test_open_hw(&hw, "memristor", CHIP, net, 3.0, 7, 10, 2) == SL_OK);
  memset(rec, 0, sizeof *rec);
  memset(tw, 0, sizeof *tw);
  CU_ASSERT_FATAL(sl_xbar_run(hw, NULL, 0, NULL, rec) == SL_OK);
  CU_ASSERT_FATAL(sl_xbar_fit(rec, tw) == SL_OK);
  sl_hw_close(hw);
  sl_net_free(net);
}

/* The fit against the hidden truth: every stuck device found, no working
 * device called stuck, drift gains within 1.5%, read noise and programming
 * error of the device model's size. */
static void test_fit_recovers_truth(void)
{
  sl_xbar_charac rec;
  sl_xbar_twin tw;
  characterise(&rec, &tw);
  CU_ASSERT(rec.n_dev == 2 * (N_IN * N_HID + N_HID * N_OUT));
  CU_ASSERT(tw.geo.n_layers == 2 && fabs(tw.geo.age - AGE) < 1e-6);
  size_t stuck_true = 0, wrong = 0, n_ok = 0;
  double worst_gain = 0, rs = 0, ps = 0;
  for (size_t l = 0; l < 2; l++) {
    const size_t n_in = l ? N_HID : N_IN, n_out = l ? N_OUT : N_HID, nio = n_in * n_out;
    sl_cim *c = twin_of_layer(n_in, n_out, 0.05, 0.02);
    uint8_t *sp = malloc(nio), *sm = malloc(nio);
    float *np = malloc(nio * sizeof(float)), *nm = malloc(nio * sizeof(float));
    CU_ASSERT_FATAL(sl_cim_device_truth(c, sp, sm, np, nm) == SL_OK);
    for (size_t q = 0; q < 2 * nio; q++) {
      uint8_t truth = q < nio ? sp[q] : sm[q - nio];
      double nu = q < nio ? np[q] : nm[q - nio];
      stuck_true += truth != 0;
      wrong += tw.stuck[l][q] != truth;
      if (truth)
        continue;
      double gain = exp(-nu * log(AGE / 1.0));
      double e = fabs(tw.drift_gain[l][q] / gain - 1);
      worst_gain = e > worst_gain ? e : worst_gain;
      rs += tw.read_sd[l][q];
      ps += tw.prog_sd[l][q];
      n_ok++;
    }
    free(sp);
    free(sm);
    free(np);
    free(nm);
    sl_cim_free(c);
  }
  rs /= (double)n_ok;
  ps /= (double)n_ok;
  printf("\n    %zu stuck devices, %zu misclassified; drift gain max rel err %.4f; mean read_sd "
         "%.4f (model 0.02), prog_sd %.4f of the window\n", stuck_true, wrong, worst_gain, rs, ps);
  CU_ASSERT(stuck_true > 10); /* the injected map is not empty */
  CU_ASSERT(wrong == 0);
  CU_ASSERT(worst_gain < 0.015);
  CU_ASSERT(rs > 0.015 && rs < 0.025);
  CU_ASSERT(ps > 0.0 && ps < 0.05); /* write-verify keeps it inside verify_tol */
  sl_xbar_twin_free(&tw);
  sl_xbar_charac_free(&rec);
}

/* With the noise off, the twin's prediction of the weights a crossbar
 * holds at the age equals the crossbar's own (its reference model). */
static void test_predict_equals_crossbar(void)
{
  sl_xbar_charac rec;
  sl_xbar_twin tw;
  characterise(&rec, &tw);
  const size_t nio = N_IN * N_HID;
  sl_cim *c = twin_of_layer(N_IN, N_HID, 0.0, 0.0);
  float *gp = malloc(nio * sizeof(float)), *gm = malloc(nio * sizeof(float));
  float *w = malloc(nio * sizeof(float)), *pred = malloc(nio * sizeof(float)),
        *got = malloc(nio * sizeof(float));
  for (size_t k = 0; k < nio; k++) { /* arbitrary levels of both devices */
    gp[k] = (float)(0.1 + 0.9 * (double)((k * 5) % 8) / 7.0);
    gm[k] = (float)(0.1 + 0.9 * (double)((k * 3 + 1) % 8) / 7.0);
  }
  CU_ASSERT_FATAL(sl_cim_program_devices(c, gp, gm) == SL_OK);
  CU_ASSERT_FATAL(sl_cim_set_time(c, AGE) == SL_OK);
  CU_ASSERT_FATAL(sl_cim_weights(c, SL_CIM_PROGRAMMED, got) == SL_OK);
  CU_ASSERT_FATAL(sl_xbar_predict(&tw, 0, 7.0, gp, gm, pred) == SL_OK);
  /* the fitted twin's gains are measured through 2% read noise: within 0.5%
   * of a device's conductance, at most 0.1 of a weight level */
  double m_fit = sl_test_max_rel_diff(pred, got, nio, 1.0);
  /* the twin of the truth (stuck values, gains exp(-nu ln(age/t0))) is the
   * crossbar's model exactly */
  uint8_t *sp = malloc(nio), *sm = malloc(nio);
  float *np = malloc(nio * sizeof(float)), *nm = malloc(nio * sizeof(float));
  CU_ASSERT_FATAL(sl_cim_device_truth(c, sp, sm, np, nm) == SL_OK);
  for (size_t q = 0; q < 2 * nio; q++) {
    uint8_t st = q < nio ? sp[q] : sm[q - nio];
    tw.stuck[0][q] = st;
    tw.g_stuck[0][q] = st == 1 ? 1.0f : st == 2 ? 0.1f : NAN;
    tw.drift_gain[0][q] = (float)exp(-(q < nio ? np[q] : nm[q - nio]) * log(AGE));
  }
  CU_ASSERT_FATAL(sl_xbar_predict(&tw, 0, 7.0, gp, gm, pred) == SL_OK);
  double m_truth = sl_test_max_rel_diff(pred, got, nio, 1.0);
  printf("\n    predicted vs crossbar, max diff in weight units: fitted twin %.2e, twin of the "
         "truth %.2e\n", m_fit, m_truth);
  CU_ASSERT(m_fit < 0.1);
  CU_ASSERT(m_truth < 1e-5);
  free(sp);
  free(sm);
  free(np);
  free(nm);
  free(gp);
  free(gm);
  free(w);
  free(pred);
  free(got);
  sl_cim_free(c);
  sl_xbar_twin_free(&tw);
  sl_xbar_charac_free(&rec);
}

/* rms of (a - b) over n */
static double rms_diff(const float *a, const float *b, size_t n)
{
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
  return sqrt(s / (double)n);
}

/* Deployed through the twin (levels chosen on the map), the weights the
 * crossbar holds at the age are nearer their targets than those of the
 * naive mapping, with programming and read noise on. */
static void test_twin_deployment_beats_naive(void)
{
  sl_xbar_charac rec;
  sl_xbar_twin tw;
  characterise(&rec, &tw);
  const size_t nio = N_IN * N_HID;
  float *w = malloc(nio * sizeof(float)), *gp = malloc(nio * sizeof(float)),
        *gm = malloc(nio * sizeof(float)), *got = malloc(nio * sizeof(float));
  unsigned seed = 9;
  for (size_t k = 0; k < nio; k++) { /* integer levels, as the backend writes them */
    seed = seed * 1103515245u + 12345u;
    w[k] = (float)((int)((seed >> 16) % 15) - 7);
  }
  sl_cim *naive = twin_of_layer(N_IN, N_HID, 0.05, 0.02);
  CU_ASSERT_FATAL(sl_cim_program(naive, w) == SL_OK);
  CU_ASSERT_FATAL(sl_cim_set_time(naive, AGE) == SL_OK);
  CU_ASSERT_FATAL(sl_cim_weights(naive, SL_CIM_PROGRAMMED, got) == SL_OK);
  double e_naive = rms_diff(got, w, nio);
  sl_cim *twin = twin_of_layer(N_IN, N_HID, 0.05, 0.02);
  CU_ASSERT_FATAL(sl_xbar_choose(&tw, 0, 7.0, w, gp, gm) == SL_OK);
  /* the choice against a plain search: under the compensation the chosen
   * devices give (sum G / sum G x gain, xbar.h), no pair of levels has a
   * lower predicted error squared plus read noise (the choice iterates
   * until the compensation stays: float rounding only) */
  double s0 = 0, s1 = 0;
  for (size_t q = 0; q < 2 * nio; q++) {
    double g = q < nio ? gp[q] : gm[q - nio];
    if (tw.stuck[0][q] == 1 || tw.stuck[0][q] == 2)
      g = tw.g_stuck[0][q];
    s0 += g;
    s1 += g * tw.drift_gain[0][q];
  }
  const double scale = s0 / s1 * 7.0 / 0.9;
  double most = -1e9;
  for (size_t k = 0; k < nio; k++) {
    double cost[2] = {INFINITY, 0};
    for (int pass = 0; pass < 2; pass++)
      for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) {
          double g1 = pass ? gp[k] : 0.1 + 0.9 * i / 7.0, g2 = pass ? gm[k] : 0.1 + 0.9 * j / 7.0;
          if (tw.stuck[0][k] == 1 || tw.stuck[0][k] == 2)
            g1 = tw.g_stuck[0][k];
          if (tw.stuck[0][nio + k] == 1 || tw.stuck[0][nio + k] == 2)
            g2 = tw.g_stuck[0][nio + k];
          double a = g1 * tw.drift_gain[0][k] * scale, b = g2 * tw.drift_gain[0][nio + k] * scale;
          double c = pow(a - b - w[k], 2) + pow(tw.read_sd[0][k] * a, 2) +
                     pow(tw.read_sd[0][nio + k] * b, 2);
          cost[pass] = pass ? c : fmin(cost[0], c);
        }
    most = fmax(most, cost[1] - cost[0]);
  }
  printf("\n    cost of the choice - least cost of a plain search: at most %.2e\n", most);
  CU_ASSERT(most < 1e-5);
  CU_ASSERT_FATAL(sl_cim_program_devices(twin, gp, gm) == SL_OK);
  CU_ASSERT_FATAL(sl_cim_set_time(twin, AGE) == SL_OK);
  CU_ASSERT_FATAL(sl_cim_weights(twin, SL_CIM_PROGRAMMED, got) == SL_OK);
  double e_twin = rms_diff(got, w, nio);
  printf("\n    rms weight error at 30 days: naive %.3f, through the twin %.3f (of 7)\n", e_naive,
         e_twin);
  CU_ASSERT(e_twin < 0.7 * e_naive);
  sl_cim_free(naive);
  sl_cim_free(twin);
  free(w);
  free(gp);
  free(gm);
  free(got);
  sl_xbar_twin_free(&tw);
  sl_xbar_charac_free(&rec);
}

/* The recording and the map read back as written; the backend deploys
 * through the map, refusing one made for another age. */
static void test_files_and_backend(void)
{
  sl_xbar_charac rec, back;
  sl_xbar_twin tw, tb;
  characterise(&rec, &tw);
  memset(&back, 0, sizeof back);
  memset(&tb, 0, sizeof tb);
  const char *rp = tmp_path("rec.h5"), *mp = tmp_path("map.h5");
  CU_ASSERT_FATAL(sl_xbar_charac_write(&rec, rp) == SL_OK);
  CU_ASSERT(sl_xbar_is_recording(rp) == 1);
  int rc = sl_xbar_charac_read(&back, rp);
  if (rc)
    printf("\n    %s\n", sl_last_error());
  CU_ASSERT_FATAL(rc == SL_OK);
  CU_ASSERT(back.n_dev == rec.n_dev && back.n_protocols == rec.n_protocols);
  for (size_t k = 0; k < rec.n_protocols && k < back.n_protocols; k++)
    CU_ASSERT(memcmp(rec.proto[k].g, back.proto[k].g,
                     rec.n_dev * rec.proto[k].repeats * 2 * rec.proto[k].reads *
                         sizeof(float)) == 0);
  CU_ASSERT_FATAL(sl_xbar_twin_write(&tw, mp, "test") == SL_OK);
  CU_ASSERT(sl_xbar_is_recording(mp) == 0);
  CU_ASSERT_FATAL(sl_xbar_twin_read(&tb, mp) == SL_OK);
  for (size_t l = 0; l < 2; l++) {
    size_t n = 2 * tw.geo.n_in[l] * tw.geo.n_out[l];
    CU_ASSERT(memcmp(tw.stuck[l], tb.stuck[l], n) == 0);
    CU_ASSERT(memcmp(tw.drift_gain[l], tb.drift_gain[l], n * sizeof(float)) == 0);
  }
  sl_net *net = sl_test_net(N_IN, N_HID, N_OUT, 3.0, 5);
  sl_hw *hw = NULL;
  char opts[1024];
  snprintf(opts, sizeof opts, "%s,twin=%s", CHIP, mp);
  CU_ASSERT(sl_test_open_hw(&hw, "memristor", opts, net, 3.0, 7, 10, 2) == SL_OK);
  sl_hw_close(hw);
  hw = NULL;
  snprintf(opts, sizeof opts, "seed=5,drift_time=86400,twin=%s", mp);
  CU_ASSERT(sl_test_open_hw(&hw, "memristor", opts, net, 3.0, 7, 10, 2) == SL_EINVAL);
  CU_ASSERT(strstr(sl_last_error(), "drift_time") != NULL);
  sl_net_free(net);
  sl_xbar_twin_free(&tw);
  sl_xbar_twin_free(&tb);
  sl_xbar_charac_free(&rec);
  sl_xbar_charac_free(&back);
  remove(rp);
  remove(mp);
  rmdir(tmp_dir);
}

/* Backends without crossbar devices refuse the device protocol. */
static void test_no_devices(void)
{
  sl_net *net = sl_test_net(N_IN, N_HID, N_OUT, 3.0, 5);
  sl_hw *hw = NULL;
  CU_ASSERT_FATAL(sl_test_open_hw(&hw, "ideal", "gain_sd=0.1", net, 3.0, 0, 10, 2) == SL_OK);
  sl_xbar_charac rec;
  memset(&rec, 0, sizeof rec);
  CU_ASSERT(sl_xbar_run(hw, NULL, 0, NULL, &rec) == SL_EUNSUPPORTED);
  uint32_t id = 0;
  sl_observations o;
  sl_obs_init(&o);
  sl_stimulus s = {.protocol = SL_STIM_DEVICE, .neurons = &id, .n_neurons = 1, .repeats = 1,
                   .duration = 1.0, .level = 0.5};
  CU_ASSERT(sl_hw_stimulate(hw, &s, &o) == SL_EUNSUPPORTED);
  sl_obs_free(&o);
  sl_hw_close(hw);
  sl_net_free(net);
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"fit recovers the injected stuck map and drift gains", test_fit_recovers_truth},
      {"the twin predicts what the crossbar holds", test_predict_equals_crossbar},
      {"deployment through the twin beats the naive one", test_twin_deployment_beats_naive},
      {"recording and map round-trip; backend deploys through the map", test_files_and_backend},
      {"backends without devices refuse the device protocol", test_no_devices},
      {NULL, NULL}};
  return sl_test_run("xbar", cases);
}
