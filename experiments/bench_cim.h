/* bench_cim.h -- CIM.md's crossbar workloads C1 (mvm-noisy) and C2
 * (mvm-ideal) run through the library's CIM layer (spikeloop/cim.h). */
#ifndef SL_BENCH_CIM_H
#define SL_BENCH_CIM_H

#include "spikeloop/cim.h"

#include <stdio.h>

/* The workload data of cim-data/: W (784 x 256), X (1000 x 784), y_ref
 * (1000 x 256, float64) and the ADC full scale R of manifest.json. */
typedef struct {
  size_t n_in, n_out, batch;
  float *w, *x;
  double *y_ref;
  double adc_range;
} sl_cim_bench_data;

/* Load data_dir/{w.f32,x.f32,y_ref.f64,manifest.json}. Errors: SL_EIO
 * (missing or short file, naming it), SL_EFORMAT (no full scale in the
 * manifest), SL_ENOMEM. */
int sl_cim_bench_load(const char *data_dir, sl_cim_bench_data *d);
void sl_cim_bench_data_free(sl_cim_bench_data *d);

/* The crossbar parameters of workload id ("C1" or "C2") with ADC full
 * scale R (weight units). Errors: SL_ENOTFOUND unknown id. */
int sl_cim_bench_params(const char *id, double adc_range, sl_cim_params *p);

/* CIM.md's rel_err: mean over vectors of ||y_b - ref_b|| / ||ref_b||. */
double sl_cim_bench_rel_err(const float *y, const double *ref, size_t batch, size_t n_out);

/* Run workload id on data_dir with CIM.md's protocol (programmed once;
 * 2 warm-up and 10 measured calls of the whole batch; median time) and
 * print "ID mvm_per_s=... rel_err=... rss_mb=..." (then more fields) to
 * out; C2 also prints the same batch as one float32 sgemm ("C2-sgemm").
 * Returns SL_OK or an SL_E* code with a message. */
int sl_cim_bench(const char *id, const char *data_dir, FILE *out);

#endif
