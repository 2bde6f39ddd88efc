/* bench_cim.c -- CIM.md's crossbar workloads through spikeloop's CIM layer.
 *
 * C1 "mvm-noisy": 784 x 256 on 7 x 16 tiles of 112 x 16 (tiles of at most
 * 128 x 16 split evenly), one-sided differential pairs, 8 levels per device,
 * 5% programming noise once (open loop: max_pulses 1), 2% read noise fresh
 * per read per device, one 8-bit DAC level per input, 8-bit sign-magnitude
 * ADC with full scale R Grange, R from the manifest. C2 "mvm-ideal": the
 * same tiles with every non-ideality off. Timing as CIM.md: the matrix is
 * programmed once outside the timing; one call is the whole 1000-vector
 * batch; 2 warm-up calls, then 10 measured calls; mvm_per_s = batch /
 * median seconds; rel_err is the mean of the 10 calls' rel_err (each C1
 * call draws fresh read noise). rss_mb is the peak resident set of the
 * process so far. cpu_seconds_median (CPU time of the process over all
 * threads, per call) shows the work when the machine is shared.
 *
 * Every line ends with where it ran: the vector path of the kernels
 * (isa=, lowered by SPIKELOOP_ISA), the OpenMP threads, the BLAS core that
 * OpenBLAS chose (blas=, set by OPENBLAS_CORETYPE: C2 is one sgemm, so
 * compare the numpy peer under the same core) and the CPU model.
 */
#include "config.h"
#include "bench_cim.h"
#include "spikeloop/error.h"
#include "spikeloop/version.h"

#ifdef HAVE_OPENBLAS
#include <cblas.h>
#else
#include <gsl/gsl_cblas.h>
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define N_WARM 2
#define N_MEAS 10

static int read_exact(const char *dir, const char *name, void *buf, size_t bytes)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (!f)
    return sl_error(SL_EIO, "cim bench: cannot open '%s'", path);
  size_t got = fread(buf, 1, bytes, f);
  int extra = fgetc(f) != EOF;
  fclose(f);
  if (got != bytes || extra)
    return sl_error(SL_EIO, "cim bench: '%s' is not %zu bytes", path, bytes);
  return SL_OK;
}

void sl_cim_bench_data_free(sl_cim_bench_data *d)
{
  if (!d)
    return;
  free(d->w);
  free(d->x);
  free(d->y_ref);
  memset(d, 0, sizeof *d);
}

int sl_cim_bench_load(const char *data_dir, sl_cim_bench_data *d)
{
  memset(d, 0, sizeof *d);
  d->n_in = 784;
  d->n_out = 256;
  d->batch = 1000;
  char path[4096], text[8192];
  snprintf(path, sizeof path, "%s/manifest.json", data_dir);
  FILE *f = fopen(path, "rb");
  if (!f)
    return sl_error(SL_EIO, "cim bench: cannot open '%s'", path);
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  const char *key = strstr(text, "\"adc_full_scale_weight_units\"");
  const char *colon = key ? strchr(key, ':') : NULL;
  char *end = NULL;
  d->adc_range = colon ? strtod(colon + 1, &end) : 0.0;
  if (!colon || end == colon + 1 || !(d->adc_range > 0.0))
    return sl_error(SL_EFORMAT, "cim bench: '%s' has no positive adc_full_scale_weight_units",
                    path);
  d->w = malloc(d->n_in * d->n_out * sizeof(float));
  d->x = malloc(d->batch * d->n_in * sizeof(float));
  d->y_ref = malloc(d->batch * d->n_out * sizeof(double));
  if (!d->w || !d->x || !d->y_ref) {
    sl_cim_bench_data_free(d);
    return sl_error(SL_ENOMEM, "cim bench: out of memory");
  }
  int rc = read_exact(data_dir, "w.f32", d->w, d->n_in * d->n_out * sizeof(float));
  if (!rc)
    rc = read_exact(data_dir, "x.f32", d->x, d->batch * d->n_in * sizeof(float));
  if (!rc)
    rc = read_exact(data_dir, "y_ref.f64", d->y_ref, d->batch * d->n_out * sizeof(double));
  if (rc)
    sl_cim_bench_data_free(d);
  return rc;
}

int sl_cim_bench_params(const char *id, double adc_range, sl_cim_params *p)
{
  sl_cim_params q = sl_cim_params_default();
  q.tile_rows = 128;
  q.tile_cols = 16;
  q.g_min = 0.1; /* normalised: Gmax = 1, on/off ratio 10 */
  q.g_max = 1.0;
  q.w_max = 0.0; /* max |W| = 1 */
  q.drift_nu = 0.0;
  q.drift_compensation = 0;
  q.stuck_on_rate = q.stuck_off_rate = 0.0;
  q.noise_seed = 4321;
  q.dac_mode = SL_CIM_DAC_LEVEL;
  q.x_max = 1.0;
  if (strcmp(id, "C1") == 0) {
    q.levels = 8;
    q.prog_sd = 0.05;
    q.max_pulses = 1; /* noise once, no verify */
    q.verify_tol = 0.0;
    q.read_sd = 0.02;
    q.dac_bits = 8;
    q.adc_bits = 8;
    q.adc_range = adc_range;
  } else if (strcmp(id, "C2") == 0) {
    q.levels = 0;
    q.prog_sd = 0.0;
    q.max_pulses = 1;
    q.read_sd = 0.0;
    q.dac_bits = 0;
    q.adc_bits = 0;
  } else {
    return sl_error(SL_ENOTFOUND, "cim bench: unknown workload '%s' (known: C1, C2)", id);
  }
  *p = q;
  return SL_OK;
}

double sl_cim_bench_rel_err(const float *y, const double *ref, size_t batch, size_t n_out)
{
  double sum = 0.0;
  for (size_t b = 0; b < batch; b++) {
    double num = 0.0, den = 0.0;
    for (size_t j = 0; j < n_out; j++) {
      double e = (double)y[b * n_out + j] - ref[b * n_out + j];
      num += e * e;
      den += ref[b * n_out + j] * ref[b * n_out + j];
    }
    sum += sqrt(num) / sqrt(den);
  }
  return sum / (double)batch;
}

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double rss_mb(void)
{
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_maxrss / 1024.0;
}

static int threads(void)
{
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

/* " isa=... threads=... blas=... cpu=\"...\"": the tail of every line */
static void print_where(FILE *out)
{
#ifdef HAVE_OPENBLAS
  const char *blas = openblas_get_corename();
#else
  const char *blas = "gslcblas";
#endif
  fprintf(out, " isa=%s threads=%d blas=%s cpu=\"%s\"\n", sl_isa_name(sl_isa_active()), threads(),
          blas ? blas : "unknown", sl_cpu_model());
}

typedef struct {
  double sec_median, cpu_median, rel_mean, rel_min, rel_max;
} timing;

static double cpu_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int time_cim(sl_cim *c, const sl_cim_bench_data *d, float *y, timing *t)
{
  double sec[N_MEAS], cpu[N_MEAS], rel[N_MEAS];
  for (int k = 0; k < N_WARM + N_MEAS; k++) {
    double c0 = cpu_now(), t0 = now();
    int rc = sl_cim_mvm(c, d->x, d->batch, y);
    double t1 = now(), c1 = cpu_now();
    if (rc)
      return rc;
    if (k >= N_WARM) {
      sec[k - N_WARM] = t1 - t0;
      cpu[k - N_WARM] = c1 - c0;
      rel[k - N_WARM] = sl_cim_bench_rel_err(y, d->y_ref, d->batch, d->n_out);
    }
  }
  t->rel_mean = 0.0;
  t->rel_min = INFINITY;
  t->rel_max = -INFINITY;
  for (int k = 0; k < N_MEAS; k++) {
    t->rel_mean += rel[k] / N_MEAS;
    t->rel_min = fmin(t->rel_min, rel[k]);
    t->rel_max = fmax(t->rel_max, rel[k]);
  }
  qsort(sec, N_MEAS, sizeof sec[0], cmp_double);
  qsort(cpu, N_MEAS, sizeof cpu[0], cmp_double);
  t->sec_median = 0.5 * (sec[N_MEAS / 2 - 1] + sec[N_MEAS / 2]);
  t->cpu_median = 0.5 * (cpu[N_MEAS / 2 - 1] + cpu[N_MEAS / 2]);
  return SL_OK;
}

static void time_sgemm(const sl_cim_bench_data *d, float *y, timing *t)
{
  double sec[N_MEAS];
  for (int k = 0; k < N_WARM + N_MEAS; k++) {
    double t0 = now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d->batch, (int)d->n_out,
                (int)d->n_in, 1.0f, d->x, (int)d->n_in, d->w, (int)d->n_out, 0.0f, y,
                (int)d->n_out);
    double t1 = now();
    if (k >= N_WARM)
      sec[k - N_WARM] = t1 - t0;
  }
  qsort(sec, N_MEAS, sizeof sec[0], cmp_double);
  t->sec_median = 0.5 * (sec[N_MEAS / 2 - 1] + sec[N_MEAS / 2]);
  t->rel_mean = t->rel_min = t->rel_max = sl_cim_bench_rel_err(y, d->y_ref, d->batch, d->n_out);
}

int sl_cim_bench(const char *id, const char *data_dir, FILE *out)
{
  sl_cim_params p;
  int rc = sl_cim_bench_params(id, 1.0, &p);
  if (rc)
    return rc;
  sl_cim_bench_data d;
  rc = sl_cim_bench_load(data_dir, &d);
  if (rc)
    return rc;
  if (p.adc_bits)
    p.adc_range = d.adc_range;
  sl_cim *c = NULL;
  float *y = malloc(d.batch * d.n_out * sizeof(float));
  if (!y) {
    rc = sl_error(SL_ENOMEM, "cim bench: out of memory");
    goto out;
  }
  rc = sl_cim_alloc(&c, d.n_in, d.n_out, &p);
  if (!rc)
    rc = sl_cim_program(c, d.w);
  timing t;
  if (!rc)
    rc = time_cim(c, &d, y, &t);
  if (rc)
    goto out;
  sl_cim_counters k;
  sl_cim_counters_get(c, &k);
  fprintf(out,
          "%s mvm_per_s=%.0f rel_err=%.4f rss_mb=%.0f seconds_median=%.5f cpu_seconds_median=%.5f "
          "rel_err_min=%.4f rel_err_max=%.4f tiles=%zux%zu energy_per_mvm_nj=%.3f",
          id, (double)d.batch / t.sec_median, t.rel_mean, rss_mb(), t.sec_median, t.cpu_median,
          t.rel_min, t.rel_max, sl_cim_row_tiles(c), sl_cim_col_tiles(c),
          1e9 * sl_cim_energy_per_mvm(c));
  print_where(out);
  if (strcmp(id, "C2") == 0) {
    timing g;
    time_sgemm(&d, y, &g);
    fprintf(out,
            "C2-sgemm mvm_per_s=%.0f rel_err=%.2g seconds_median=%.5f time_ratio_c2=%.2f",
            (double)d.batch / g.sec_median, g.rel_mean, g.sec_median,
            t.sec_median / g.sec_median);
    print_where(out);
  }
out:
  sl_cim_free(c);
  free(y);
  sl_cim_bench_data_free(&d);
  return rc;
}
