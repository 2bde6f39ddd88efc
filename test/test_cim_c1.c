/* test_cim_c1.c -- CIM.md's workload C1 on its real data: with the noises
 * off, the library's C1 pipeline (the parameters of experiments/bench_cim.c)
 * equals the workload's step-by-step definition, ADC decision by ADC
 * decision, and reproduces CrossSim's noise-free rel_err 0.201; with the
 * noises on, the mean rel_err over 8 chips is CrossSim's 0.390 within 0.01
 * on every vector path this CPU has (each forced in turn; they draw the same
 * noise, so their means agree to rounding); C2 is exact.
 * Skipped (77) when ../shared/bench/cim-data is not beside the source tree.
 */
#include "config.h"
#include "bench_cim.h"
#include "spikeloop/cim.h"
#include "spikeloop/error.h"
#include "spikeloop/version.h"

#include <string.h>

#include "testutil.h"

static sl_cim_bench_data D;
#define NCHECK 250 /* vectors checked decision by decision */

static void test_noise_free_decisions(void)
{
  sl_cim_params p;
  CU_ASSERT_EQUAL_FATAL(sl_cim_bench_params("C1", D.adc_range, &p), SL_OK);
  p.prog_sd = 0.0;
  p.read_sd = 0.0;
  sl_cim *c;
  CU_ASSERT_EQUAL_FATAL(sl_cim_alloc(&c, D.n_in, D.n_out, &p), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_cim_program(c, D.w), SL_OK);
  CU_ASSERT_EQUAL(sl_cim_row_tiles(c), 7);
  CU_ASSERT_EQUAL(sl_cim_col_tiles(c), 16);
  size_t nrt = 7, n_in = D.n_in, n_out = D.n_out;
  float *parts = malloc(NCHECK * nrt * n_out * sizeof *parts);
  CU_ASSERT_EQUAL_FATAL(sl_cim_mvm_partials(c, D.x, NCHECK, parts), SL_OK);
  /* the step-by-step definition, in double precision */
  const double gmin = 0.1, gmax = 1.0, gr = 0.9, wmax = 1.0;
  double *dg = malloc(n_in * n_out * sizeof *dg);
  for (size_t q = 0; q < n_in * n_out; q++) {
    double wn = D.w[q] / wmax, gp = gmin, gm = gmin;
    if (wn >= 0)
      gp = gmin + gr * wn;
    else
      gm = gmin + gr * -wn;
    gp = gmin + rint((gp - gmin) * 7 / gr) * gr / 7;
    gm = gmin + rint((gm - gmin) * 7 / gr) * gr / 7;
    dg[q] = gp - gm;
  }
  (void)gmax;
  double fs = D.adc_range * gr, step = 2 * fs / 254;
  size_t same = 0, near = 0, differ = 0;
  for (size_t b = 0; b < NCHECK; b++) {
    double xq[784];
    for (size_t i = 0; i < n_in; i++) {
      double v = D.x[b * n_in + i];
      v = v < 0 ? 0 : v > 1 ? 1 : v;
      xq[i] = rint(v * 255) / 255;
    }
    for (size_t r = 0; r < nrt; r++)
      for (size_t j = 0; j < n_out; j++) {
        double I = 0;
        for (size_t i = 112 * r; i < 112 * (r + 1); i++)
          I += dg[i * n_out + j] * xq[i];
        double u = ((I < -fs ? -fs : I > fs ? fs : I) + fs) / step;
        double code = rint(u);
        double lib = parts[(b * nrt + r) * n_out + j] * gr / wmax; /* back to current */
        double lib_code = rint((lib + fs) / step);
        if (lib_code == code)
          same++;
        else if (fabs(u - floor(u) - 0.5) < 1e-4)
          near++; /* a decision within float rounding of a threshold */
        else
          differ++;
      }
  }
  printf("\n  %zu ADC decisions equal, %zu differ at a threshold tie, %zu differ ", same, near,
         differ);
  CU_ASSERT_EQUAL(differ, 0);
  CU_ASSERT(near * 1000 <= same);
  /* CrossSim's rel_err with both noises off: 0.201 */
  float *y = malloc(D.batch * n_out * sizeof *y);
  CU_ASSERT_EQUAL(sl_cim_mvm(c, D.x, D.batch, y), SL_OK);
  double e = sl_cim_bench_rel_err(y, D.y_ref, D.batch, n_out);
  printf(" noise-free rel_err %.4f (CrossSim 0.201) ", e);
  CU_ASSERT(fabs(e - 0.201) < 0.002);
  free(y);
  free(dg);
  free(parts);
  sl_cim_free(c);
}

/* With programming noise, rel_err depends on the chip: the noise is drawn
 * once and the mean input (0.5) makes the column sums of the error matrix
 * count for every vector alike; across chips rel_err has sd ~0.011. So the
 * statistic compared with CrossSim's 0.390 (itself one chip) is the mean
 * over 8 chips (noise seeds 1..8), on the first 250 vectors. */
static void test_noisy_and_ideal(void)
{
  const size_t B = 250;
  float *y = malloc(D.batch * D.n_out * sizeof *y);
  const sl_isa before = sl_isa_active();
  double mean_best = 0.0;
  for (int path = (int)sl_isa_best(); path >= 0; path--) {
    CU_ASSERT_EQUAL_FATAL(sl_isa_set((sl_isa)path), SL_OK);
    double mean = 0.0;
    printf("\n  %s: C1 rel_err per chip:", sl_isa_name((sl_isa)path));
    for (uint64_t seed = 1; seed <= 8; seed++) {
      sl_cim_params p;
      CU_ASSERT_EQUAL_FATAL(sl_cim_bench_params("C1", D.adc_range, &p), SL_OK);
      p.noise_seed = seed;
      sl_cim *c;
      CU_ASSERT_EQUAL_FATAL(sl_cim_alloc(&c, D.n_in, D.n_out, &p), SL_OK);
      CU_ASSERT_EQUAL_FATAL(sl_cim_program(c, D.w), SL_OK);
      CU_ASSERT_EQUAL(sl_cim_mvm(c, D.x, B, y), SL_OK);
      double e = sl_cim_bench_rel_err(y, D.y_ref, B, D.n_out);
      printf(" %.4f", e);
      mean += e / 8;
      sl_cim_free(c);
    }
    if (path == (int)sl_isa_best())
      mean_best = mean;
    printf(" mean %.5f (CrossSim 0.390) ", mean);
    CU_ASSERT(fabs(mean - 0.390) < 0.01);
    CU_ASSERT(fabs(mean - mean_best) < 1e-4); /* same noise, other rounding */
  }
  sl_isa_set(before);
  sl_cim_params p;
  CU_ASSERT_EQUAL_FATAL(sl_cim_bench_params("C2", D.adc_range, &p), SL_OK);
  sl_cim *c;
  CU_ASSERT_EQUAL_FATAL(sl_cim_alloc(&c, D.n_in, D.n_out, &p), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_cim_program(c, D.w), SL_OK);
  CU_ASSERT_EQUAL(sl_cim_mvm(c, D.x, D.batch, y), SL_OK);
  double e = sl_cim_bench_rel_err(y, D.y_ref, D.batch, D.n_out);
  printf(" C2 rel_err %.2g ", e);
  CU_ASSERT(e < 1e-5);
  sl_cim_free(c);
  free(y);
}

int main(void)
{
  const char *src = getenv("top_srcdir");
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/../shared/bench/cim-data", src && *src ? src : ".");
  char probe[4200];
  snprintf(probe, sizeof probe, "%s/manifest.json", dir);
  if (access(probe, R_OK) != 0) {
    printf("SKIP: %s not found\n", probe);
    return 77;
  }
  if (sl_cim_bench_load(dir, &D)) {
    printf("cannot load %s: %s\n", dir, sl_last_error());
    return 99;
  }
  static const sl_test_case cases[] = {
      {"C1 noise-free = step-by-step definition", test_noise_free_decisions},
      {"C1 noisy rel_err, C2 exact", test_noisy_and_ideal},
      {NULL, NULL},
  };
  int rc = sl_test_run("cim_c1", cases);
  sl_cim_bench_data_free(&D);
  return rc;
}
