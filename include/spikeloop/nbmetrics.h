/* spikeloop/nbmetrics.h -- the NeuroBench metric set, counted natively.
 *
 * NeuroBench's Python harness counts operations by hooking every layer and
 * re-running binarised copies of it. Here the counts are read off the
 * forward pass's own states (the input raster, the spikes each layer
 * emitted, the membranes it recorded), after sl_net_forward or
 * sl_loop_forward: nothing is re-run, and on a backend the counted spikes
 * and membranes are the ones the hardware produced. Nothing is counted
 * unless a caller asks (sl_nb_count), so training pays nothing.
 *
 * Definitions (NeuroBench's, adapted to this model; README "NeuroBench
 * metrics" has the table). Synaptic layers are the weight tensors w_in
 * (every layer, the readout's included) and w_rec. Bias, pooling and
 * normalisation are not counted (there are none in the SNN).
 *   static
 *     footprint            bytes of parameters and buffers: 4 per weight,
 *                          28 per neuron (tau_mem, tau_syn, v_th, v_leak,
 *                          v_reset, gain float32 and refrac int32) and 8 per
 *                          neuron of state (I and V, float32)
 *     parameter_count      weights
 *     connection_sparsity  zero weights / weights
 *   per sample (arrays over the samples counted)
 *     activation_sparsity  zero entries of the hidden spike trains S (T, N)
 *                          over T * (hidden neurons); activation_sparsity.<layer>
 *                          the same per hidden layer. The readout does not
 *                          spike and is not an activation.
 *     synops_dense         sum over synaptic layers and steps of
 *                          n_pre * n_post (every input and every weight)
 *     synops_eff_macs      over layers and steps, sum_j (bin(x) . bin(W))_j
 *                          for input vectors x that are not binary (an entry
 *                          other than 0 and +-1): multiply-accumulates
 *     synops_eff_acs       the same for binary input vectors (spikes):
 *                          accumulates. As NeuroBench, a whole input vector
 *                          (one layer, one step, one sample) is classified:
 *                          a spike count of 2 in one step (a chip may fire
 *                          twice) makes its vector's operations MACs. w_rec's
 *                          input at step t is S[t-1] (zero at t = 0; dense
 *                          counts every step).
 *     membrane_updates     over hidden and readout neurons, 1 at t = 0 and
 *                          1 at every later step whose recorded membrane
 *                          V[t] differs from V[t-1] (NeuroBench: non-zero
 *                          pre - post membrane differences, the first step
 *                          counted whole)
 *     neuron_ops_eff       membrane updates x the cost of one update;
 *     neuron_ops_dense     T x neurons x that cost. Costs: a hidden LIF is
 *                          NeuroBench's "Synaptic" neuron (a current and a
 *                          membrane), 8 with reset to a value, 6 with reset
 *                          by subtraction; the LI readout 4 (the Synaptic
 *                          update without its reset; NeuroBench has no entry
 *                          for a neuron without reset -- our choice).
 * Hardware-aware columns are added by whoever knows the hardware
 * (sl_nb_set_column: the session adds the chip's spikes and samples on
 * bss2, crossbar reads and conversions on the memristor backend).
 */
#ifndef SPIKELOOP_NBMETRICS_H
#define SPIKELOOP_NBMETRICS_H

#include <stddef.h>
#include <stdint.h>

#include "spikeloop/ann.h"
#include "spikeloop/net.h"
#include "spikeloop/runlog.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Costs of one neuron update (neuron operations). */
#define SL_NB_COST_LIF_VALUE 8
#define SL_NB_COST_LIF_SUBTRACT 6
#define SL_NB_COST_LI 4

typedef struct {
  double footprint_bytes;
  double parameter_count;
  double zero_weights;
  double connection_sparsity; /* zero_weights / parameter_count */
  double neurons;             /* hidden + readout */
} sl_nb_static;

/* The static metrics of net's weights in use (sl_net_params). */
int sl_nb_static_count(const sl_net *net, sl_nb_static *out);

/* An accumulator of per-sample columns: the core ones above, in that order
 * (activation_sparsity.<layer> after activation_sparsity), then any the
 * caller adds. */
typedef struct sl_nb sl_nb;

/* For a network of net's architecture. Errors: SL_EINVAL, SL_ENOMEM. */
int sl_nb_create(sl_nb **out, const sl_net *net);
void sl_nb_free(sl_nb *m); /* NULL is a no-op */

/* Count the last forward of net (sl_net_forward, sl_net_forward_injected
 * or sl_loop_forward) over the input x (T, B, n_in) it was given: appends
 * B rows to every core column. The weights are net's weights in use.
 * Errors: SL_EINVAL (NULL, T or B zero, no forward states of that size,
 * net of another architecture), SL_ENOMEM. */
int sl_nb_count(sl_nb *m, sl_net *net, const float *x, size_t T, size_t B);

/* The same counts by the plain definitions (binarised matrix products, as
 * NeuroBench computes them): the oracle of the test. Same rows. */
int sl_nb_count_ref(sl_nb *m, sl_net *net, const float *x, size_t T, size_t B);

/* Add (or find) a column `name` and set its values for the last B rows
 * counted (rows before them that were never set are NaN). Errors:
 * SL_EINVAL (NULL, empty name, B larger than the rows counted), SL_ENOMEM. */
int sl_nb_set_column(sl_nb *m, const char *name, const double *values, size_t B);

/* A counter with no columns, for networks other than sl_net (an ANN on
 * crossbars): the caller appends rows (sl_nb_add_rows, values NaN) and sets
 * its columns with sl_nb_set_column. Errors: SL_EINVAL, SL_ENOMEM. */
int sl_nb_create_empty(sl_nb **out);
int sl_nb_add_rows(sl_nb *m, size_t B);

/* Synaptic operations of one sample of an ANN layer, added into
 * ops[0] (dense), ops[1] (effective MACs), ops[2] (effective ACs), with the
 * definitions above. Convolution: x (B, C, H, W) as sl_conv2d_forward
 * takes it, sample b; w the layer's im2col weights (C*kh*kw, K); zero
 * padding is no input (neither dense nor effective). Fully connected: x
 * (B, K) row b, w (K, N). Errors: SL_EINVAL. The _ref twins count every
 * (output, input, weight) triple (the definition); the others add the
 * non-zero fan-out of each non-zero input. */
int sl_nb_conv2d_ops(const float *x, const float *w, const sl_conv2d_shape *s, size_t b,
                     double ops[3]);
int sl_nb_conv2d_ops_ref(const float *x, const float *w, const sl_conv2d_shape *s, size_t b,
                         double ops[3]);
int sl_nb_fc_ops(const float *x, const float *w, size_t K, size_t N, size_t b, double ops[3]);

/* Read the /metrics_nb a run log holds (a run of any kind: a train run, an
 * experiment that counted its own network) into a new counter *out, its
 * static metrics into *st and the accuracy into *accuracy. Errors: SL_EIO
 * (unreadable file), SL_EFORMAT (no /metrics_nb, a malformed entry),
 * SL_ENOMEM. */
int sl_nb_read(const char *path, sl_nb **out, sl_nb_static *st, double *accuracy);

/* Rows (samples) counted; columns; the name and values of column k (NULL
 * if out of range). */
size_t sl_nb_rows(const sl_nb *m);
size_t sl_nb_columns(const sl_nb *m);
const char *sl_nb_column_name(const sl_nb *m, size_t k);
const double *sl_nb_column(const sl_nb *m, size_t k);
/* Index of column `name`. Errors: SL_ENOTFOUND. */
int sl_nb_find(const sl_nb *m, const char *name, size_t *k);

/* Distribution of column k over the rows (NaN rows skipped): mean,
 * standard deviation (population), min, median, max. Errors: SL_EINVAL. */
typedef struct {
  double mean, sd, min, median, max;
  size_t n;
} sl_nb_stats;
int sl_nb_stats_get(const sl_nb *m, size_t k, sl_nb_stats *out);

/* Static hardware figures (e.g. stuck devices) kept with the counts and
 * written under /metrics_nb/static like the others. Errors as set_column. */
int sl_nb_set_static(sl_nb *m, const char *name, double value);
/* Static figures set: how many; the name and value of the i-th (NULL if
 * out of range). */
size_t sl_nb_num_static(const sl_nb *m);
const char *sl_nb_static_at(const sl_nb *m, size_t i, double *value);

/* Write to a run log (before sl_runlog_finish), under /metrics_nb:
 *   static/<name>          float64 (1): footprint_bytes, parameter_count,
 *                          zero_weights, connection_sparsity, neurons, and
 *                          the static figures set
 *   per_sample/<name>      float64 (rows): every column
 *   mean/<name>            float64 (1): the column's mean
 *   accuracy               float64 (1): `accuracy` (the correctness metric)
 * Errors of sl_runlog_put_double. */
int sl_nb_write(const sl_nb *m, const sl_nb_static *st, double accuracy, sl_runlog *log);

#ifdef __cplusplus
}
#endif
#endif
