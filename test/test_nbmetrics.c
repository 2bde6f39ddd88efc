/* test_nbmetrics.c -- the NeuroBench counts (lib/metrics/neurobench.c)
 * against brute-force counts written here from the definitions, on small
 * networks with hand-made inputs.
 *
 * The brute force binarises the input vector and the weight matrix of
 * every synaptic layer at every step and multiplies them (NeuroBench's
 * method), scans the spike trains for zeros and the membranes for changes.
 * Checked: every column of sl_nb_count and of sl_nb_count_ref against it,
 * for a feed-forward and a recurrent network, with spike, non-binary and
 * negative inputs and zeroed weights; figures worked out by hand on a
 * 2-2-1 network; the static metrics; columns added by a caller; the
 * statistics; the run-log layout; bad arguments.
 */
#include "config.h"
#include "spikeloop/error.h"
#include "spikeloop/nbmetrics.h"
#include "spikeloop/net.h"
#include "spikeloop/runlog.h"
#include "spikeloop/session.h"

#include <hdf5.h>
#include <hdf5_hl.h>
#include <string.h>

#include "fixtures.h"
#include "testutil.h"

/* ------------------------------------------------------------ brute force */

typedef struct {
  double act, dense, macs, acs, mem, nops, nops_dense;
  double act_layer[SL_MAX_LAYERS];
} brute_row;

static size_t nnz_product(const float *in, const float *w, size_t K, size_t N, int all)
{
  /* sum_j sum_i bin(in_i) bin(w_ij) */
  size_t c = 0;
  for (size_t j = 0; j < N; j++)
    for (size_t i = 0; i < K; i++) {
      int xi = all ? 1 : in ? in[i] != 0.0f : 0;
      int wi = all ? 1 : w[i * N + j] != 0.0f;
      c += (size_t)(xi && wi);
    }
  return c;
}

/* NeuroBench's test of a layer input: every entry 0, 1 or -1. */
static int all_binary(const float *in, size_t K)
{
  for (size_t i = 0; in && i < K; i++)
    if (in[i] != 0.0f && in[i] != 1.0f && in[i] != -1.0f)
      return 0;
  return 1;
}

static void brute(sl_net *net, const float *x, size_t T, size_t B, size_t b, brute_row *r)
{
  memset(r, 0, sizeof *r);
  const sl_net_spec *s = sl_net_get_spec(net);
  const size_t L = s->n_layers;
  sl_layer_state st[SL_MAX_LAYERS + 1];
  for (size_t l = 0; l <= L; l++)
    CU_ASSERT_FATAL(sl_net_state(net, l, &st[l]) == SL_OK);
  double zeros_all = 0, tot_all = 0;
  for (size_t l = 0; l <= L; l++) {
    const size_t N = st[l].N, K = l == 0 ? s->n_in : st[l - 1].N;
    sl_tensor w, wr;
    CU_ASSERT_FATAL(sl_net_find_tensor(net, sl_net_layer_name(net, l), "w_in", &w) == SL_OK);
    int rec = l < L && s->recurrent[l];
    if (rec)
      CU_ASSERT_FATAL(sl_net_find_tensor(net, sl_net_layer_name(net, l), "w_rec", &wr) == SL_OK);
    for (size_t t = 0; t < T; t++) {
      const float *in = l == 0 ? x + (t * B + b) * K : st[l - 1].s + (t * B + b) * K;
      r->dense += (double)nnz_product(in, w.data, K, N, 1);
      *(all_binary(in, K) ? &r->acs : &r->macs) += (double)nnz_product(in, w.data, K, N, 0);
      if (rec) {
        const float *sp = t ? st[l].s + ((t - 1) * B + b) * N : NULL;
        r->dense += (double)nnz_product(sp, wr.data, N, N, 1);
        *(all_binary(sp, N) ? &r->acs : &r->macs) += (double)nnz_product(sp, wr.data, N, N, 0);
      }
    }
    double cost = l == L ? 4 : s->lif.reset == SL_RESET_SUBTRACT ? 6 : 8;
    double upd = 0;
    for (size_t t = 0; t < T; t++)
      for (size_t n = 0; n < N; n++) {
        if (t == 0 || st[l].v[(t * B + b) * N + n] != st[l].v[((t - 1) * B + b) * N + n])
          upd += 1;
      }
    r->mem += upd;
    r->nops += upd * cost;
    r->nops_dense += (double)(T * N) * cost;
    if (l < L) {
      double z = 0;
      for (size_t t = 0; t < T; t++)
        for (size_t n = 0; n < N; n++)
          z += st[l].s[(t * B + b) * N + n] == 0.0f;
      r->act_layer[l] = z / (double)(T * N);
      zeros_all += z;
      tot_all += (double)(T * N);
    }
  }
  r->act = zeros_all / tot_all;
}

static double col(const sl_nb *m, const char *name, size_t row)
{
  size_t k;
  CU_ASSERT_FATAL(sl_nb_find(m, name, &k) == SL_OK);
  return sl_nb_column(m, k)[row];
}

/* Every column of m (rows row0 ..) against the brute force. */
static void check_against_brute(sl_net *net, const sl_nb *m, size_t row0, const float *x,
                                size_t T, size_t B)
{
  const sl_net_spec *s = sl_net_get_spec(net);
  double worst = 0;
  for (size_t b = 0; b < B; b++) {
    brute_row r;
    brute(net, x, T, B, b, &r);
    const size_t row = row0 + b;
    double d[7] = {col(m, "activation_sparsity", row) - r.act,
                   col(m, "synops_dense", row) - r.dense,
                   col(m, "synops_eff_macs", row) - r.macs,
                   col(m, "synops_eff_acs", row) - r.acs,
                   col(m, "membrane_updates", row) - r.mem,
                   col(m, "neuron_ops_eff", row) - r.nops,
                   col(m, "neuron_ops_dense", row) - r.nops_dense};
    for (int i = 0; i < 7; i++)
      if (fabs(d[i]) > worst)
        worst = fabs(d[i]);
    for (size_t l = 0; l < s->n_layers; l++) {
      char name[64];
      snprintf(name, sizeof name, "activation_sparsity.%s", sl_net_layer_name(net, l));
      double dl = fabs(col(m, name, row) - r.act_layer[l]);
      if (dl > worst)
        worst = dl;
    }
  }
  if (worst != 0)
    printf("\n  max |count - brute force| = %g\n", worst);
  CU_ASSERT(worst == 0);
}

/* ------------------------------------------------------------ networks */

/* A small net: 6 inputs -> 7 (-> 5 recurrent) -> 3, weights with zeros. */
static sl_net *small_net(int two_layers, int subtract)
{
  sl_net_spec s = sl_net_spec_default();
  s.n_in = 6;
  s.n_out = 3;
  s.n_layers = two_layers ? 2 : 1;
  s.n_hidden[0] = 7;
  s.n_hidden[1] = 5;
  s.recurrent[1] = two_layers;
  s.hidden.refrac = 1;
  s.lif.reset = subtract ? SL_RESET_SUBTRACT : SL_RESET_TO_VALUE;
  sl_net *net = NULL;
  CU_ASSERT_FATAL(sl_net_create(&net, &s) == SL_OK);
  CU_ASSERT_FATAL(sl_net_init_weights(net, 6.0, 3) == SL_OK);
  float *w = sl_net_params(net);
  for (size_t i = 0; i < sl_net_num_params(net); i += 3)
    w[i] = 0.0f; /* every third weight is zero */
  return net;
}

/* Hand-made input, T = 8, B = 3, 6 inputs: sample 0 spikes, sample 1
 * spikes and non-binary values (0.5, 2, -1), sample 2 silent. */
enum { HT = 8, HB = 3, HN = 6 };
static void hand_input(float *x)
{
  memset(x, 0, HT * HB * HN * sizeof *x);
#define X(t, b, i) x[((t) * HB + (b)) * HN + (i)]
  X(0, 0, 0) = 1, X(1, 0, 1) = 1, X(1, 0, 4) = 1, X(2, 0, 0) = 1, X(3, 0, 5) = 1,
  X(4, 0, 2) = 1, X(4, 0, 3) = 1, X(6, 0, 0) = 1, X(6, 0, 1) = 1, X(7, 0, 5) = 1;
  X(0, 1, 0) = 0.5f, X(1, 1, 1) = 2.0f, X(1, 1, 2) = 1, X(2, 1, 3) = -1, X(3, 1, 4) = 0.25f,
  X(4, 1, 5) = 1, X(5, 1, 0) = 1, X(5, 1, 1) = 1, X(6, 1, 2) = 3.0f, X(7, 1, 3) = 1;
#undef X
}

static void test_against_brute_force(void)
{
  for (int variant = 0; variant < 4; variant++) {
    sl_net *net = small_net(variant & 1, variant >> 1);
    float x[HT * HB * HN];
    hand_input(x);
    CU_ASSERT_FATAL(sl_net_forward(net, x, HT, HB) == SL_OK);
    sl_nb *m = NULL, *mr = NULL;
    CU_ASSERT_FATAL(sl_nb_create(&m, net) == SL_OK);
    CU_ASSERT_FATAL(sl_nb_create(&mr, net) == SL_OK);
    /* two calls: rows append */
    CU_ASSERT_FATAL(sl_nb_count(m, net, x, HT, HB) == SL_OK);
    CU_ASSERT_FATAL(sl_nb_count(m, net, x, HT, HB) == SL_OK);
    CU_ASSERT_FATAL(sl_nb_count_ref(mr, net, x, HT, HB) == SL_OK);
    CU_ASSERT(sl_nb_rows(m) == 2 * HB);
    check_against_brute(net, m, 0, x, HT, HB);
    check_against_brute(net, m, HB, x, HT, HB);
    check_against_brute(net, mr, 0, x, HT, HB);
    /* the network did something worth counting */
    CU_ASSERT(col(m, "activation_sparsity", 0) < 1.0);
    CU_ASSERT(col(m, "synops_eff_macs", 1) > 0);
    sl_nb_free(m);
    sl_nb_free(mr);
    sl_net_free(net);
  }
}

/* 2 inputs -> 2 hidden -> 1 readout, worked out by hand. Input 0 reaches
 * hidden 0 through 50 (it spikes at once), nothing reaches hidden 1 (its
 * membrane stays at rest: one update, at t = 0). T = 4, one sample, input
 * spikes at (t0, i0) and (t2, i1); w_in = [[50, 0], [0, 0]] has one non-zero
 * weight in row 0 and none in row 1; readout w_in = [[1], [0]]. */
static void test_by_hand(void)
{
  sl_net_spec s = sl_net_spec_default();
  s.n_in = 2;
  s.n_out = 1;
  s.n_layers = 1;
  s.n_hidden[0] = 2;
  s.hidden.refrac = 10; /* hidden 0 spikes once, then stays clamped */
  sl_net *net = NULL;
  CU_ASSERT_FATAL(sl_net_create(&net, &s) == SL_OK);
  float *w = sl_net_params(net);
  memset(w, 0, sl_net_num_params(net) * sizeof *w);
  sl_tensor t0, t1;
  CU_ASSERT_FATAL(sl_net_find_tensor(net, "hidden0", "w_in", &t0) == SL_OK);
  CU_ASSERT_FATAL(sl_net_find_tensor(net, "readout", "w_in", &t1) == SL_OK);
  t0.data[0] = 50.0f;
  t1.data[0] = 1.0f;
  float x[4 * 2] = {1, 0, 0, 0, 0, 1, 0, 0};
  CU_ASSERT_FATAL(sl_net_forward(net, x, 4, 1) == SL_OK);
  sl_layer_state st;
  CU_ASSERT_FATAL(sl_net_state(net, 0, &st) == SL_OK);
  /* hidden 0: spike at t0, refractory (V = v_reset = 0, unchanged) after */
  CU_ASSERT_FATAL(st.s[0] == 1.0f && st.s[2] == 0.0f && st.s[4] == 0.0f && st.s[6] == 0.0f);
  sl_nb *m = NULL;
  CU_ASSERT_FATAL(sl_nb_create(&m, net) == SL_OK);
  CU_ASSERT_FATAL(sl_nb_count(m, net, x, 4, 1) == SL_OK);
  /* dense: 4 steps x (2x2 + 2x1) = 24 */
  CU_ASSERT(col(m, "synops_dense", 0) == 24);
  /* ACs: input spike (t0, i0): fan-out 1; (t2, i1): fan-out 0; hidden 0's
   * spike at t0 into the readout: fan-out 1. Total 2, no MACs. */
  CU_ASSERT(col(m, "synops_eff_acs", 0) == 2);
  CU_ASSERT(col(m, "synops_eff_macs", 0) == 0);
  /* 1 spike in 2 neurons x 4 steps */
  CU_ASSERT(col(m, "activation_sparsity", 0) == 7.0 / 8.0);
  CU_ASSERT(col(m, "activation_sparsity.hidden0", 0) == 7.0 / 8.0);
  /* membrane updates: hidden 0: t0 (first), t1 (recorded V goes from above
   * threshold to v_reset), then clamped at v_reset: 2. Hidden 1: 1. The
   * readout integrates a current that keeps changing: 4. Total 7. */
  CU_ASSERT(col(m, "membrane_updates", 0) == 7);
  CU_ASSERT(col(m, "neuron_ops_eff", 0) == 3 * 8 + 4 * 4);
  CU_ASSERT(col(m, "neuron_ops_dense", 0) == 4 * 2 * 8 + 4 * 1 * 4);
  sl_nb_static sc;
  CU_ASSERT_FATAL(sl_nb_static_count(net, &sc) == SL_OK);
  CU_ASSERT(sc.parameter_count == 6);
  CU_ASSERT(sc.zero_weights == 4);
  CU_ASSERT(fabs(sc.connection_sparsity - 4.0 / 6.0) < 1e-15);
  CU_ASSERT(sc.footprint_bytes == 6 * 4 + 3 * 36);
  sl_nb_free(m);
  sl_net_free(net);
}

static void test_columns_and_stats(void)
{
  sl_net *net = small_net(0, 0);
  float x[HT * HB * HN];
  hand_input(x);
  CU_ASSERT_FATAL(sl_net_forward(net, x, HT, HB) == SL_OK);
  sl_nb *m = NULL;
  CU_ASSERT_FATAL(sl_nb_create(&m, net) == SL_OK);
  double v[3] = {1, 2, 3};
  CU_ASSERT(sl_nb_set_column(m, "hw.spikes", v, 1) == SL_EINVAL); /* no rows yet */
  CU_ASSERT_FATAL(sl_nb_count(m, net, x, HT, HB) == SL_OK);
  CU_ASSERT_FATAL(sl_nb_count(m, net, x, HT, HB) == SL_OK);
  CU_ASSERT_FATAL(sl_nb_set_column(m, "hw.spikes", v, 3) == SL_OK); /* rows 3..5 */
  size_t k;
  CU_ASSERT_FATAL(sl_nb_find(m, "hw.spikes", &k) == SL_OK);
  CU_ASSERT(isnan(sl_nb_column(m, k)[0]) && sl_nb_column(m, k)[4] == 2);
  sl_nb_stats st;
  CU_ASSERT_FATAL(sl_nb_stats_get(m, k, &st) == SL_OK);
  CU_ASSERT(st.n == 3 && st.mean == 2 && st.median == 2 && st.min == 1 && st.max == 3);
  CU_ASSERT(fabs(st.sd - sqrt(2.0 / 3.0)) < 1e-15);
  CU_ASSERT(sl_nb_find(m, "nope", &k) == SL_ENOTFOUND);
  /* bad calls */
  CU_ASSERT(sl_nb_count(m, net, x, HT + 1, HB) == SL_EINVAL); /* not the last forward's size */
  CU_ASSERT(sl_nb_count(m, net, NULL, HT, HB) == SL_EINVAL);
  CU_ASSERT(sl_nb_count(NULL, net, x, HT, HB) == SL_EINVAL);
  sl_net *other = small_net(1, 0);
  CU_ASSERT(sl_nb_count(m, other, x, HT, HB) == SL_EINVAL); /* another architecture */
  sl_net *fresh = small_net(0, 0);
  CU_ASSERT(sl_nb_count(m, fresh, x, HT, HB) == SL_EINVAL); /* no forward yet */
  sl_net_free(fresh);
  sl_net_free(other);

  /* the run-log layout */
  char path[256];
  sl_test_tmpfile("nbmetrics", path, sizeof path);
  sl_config cfg;
  sl_config_defaults(&cfg);
  sl_runlog *log = NULL;
  sl_run_meta meta = {"test", 1, 1};
  CU_ASSERT_FATAL(sl_runlog_create(&log, path, &cfg, &meta) == SL_OK);
  sl_nb_static sc;
  CU_ASSERT_FATAL(sl_nb_static_count(net, &sc) == SL_OK);
  CU_ASSERT_FATAL(sl_nb_set_static(m, "hw.stuck_devices", 5) == SL_OK);
  CU_ASSERT_FATAL(sl_nb_write(m, &sc, 0.75, log) == SL_OK);
  CU_ASSERT_FATAL(sl_runlog_finish(log, 0.75, 1, 1.0) == SL_OK);
  CU_ASSERT_FATAL(sl_runlog_close(log) == SL_OK);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  CU_ASSERT_FATAL(f >= 0);
  double buf[8], one;
  CU_ASSERT(H5LTread_dataset_double(f, "/metrics_nb/per_sample/synops_dense", buf) >= 0);
  CU_ASSERT(buf[5] == col(m, "synops_dense", 5));
  CU_ASSERT(H5LTread_dataset_double(f, "/metrics_nb/static/connection_sparsity", &one) >= 0);
  CU_ASSERT(one == sc.connection_sparsity);
  CU_ASSERT(H5LTread_dataset_double(f, "/metrics_nb/static/hw.stuck_devices", &one) >= 0);
  CU_ASSERT(one == 5);
  CU_ASSERT(H5LTread_dataset_double(f, "/metrics_nb/mean/hw.spikes", &one) >= 0);
  CU_ASSERT(one == 2);
  CU_ASSERT(H5LTread_dataset_double(f, "/metrics_nb/accuracy", &one) >= 0);
  CU_ASSERT(one == 0.75);
  H5Fclose(f);
  remove(path);
  sl_nb_free(m);
  sl_net_free(net);
}


/* ------------------------------------------------------------ ANN layers */

/* Brute force of one conv sample: every (k, oy, ox, c, i, j) in bounds. */
static void brute_conv(const float *x, const float *w, const sl_conv2d_shape *s, size_t b,
                       double ops[3])
{
  const size_t OH = sl_conv2d_out_h(s), OW = sl_conv2d_out_w(s);
  const int bin = all_binary(x + b * s->C * s->H * s->W, s->C * s->H * s->W);
  for (size_t k = 0; k < s->K; k++)
    for (size_t oy = 0; oy < OH; oy++)
      for (size_t ox = 0; ox < OW; ox++)
        for (size_t c = 0; c < s->C; c++)
          for (size_t i = 0; i < s->kh; i++)
            for (size_t j = 0; j < s->kw; j++) {
              long y = (long)(oy * s->stride + i) - (long)s->pad;
              long xx = (long)(ox * s->stride + j) - (long)s->pad;
              if (y < 0 || xx < 0 || y >= (long)s->H || xx >= (long)s->W)
                continue;
              float v = x[((b * s->C + c) * s->H + (size_t)y) * s->W + (size_t)xx];
              float wv = w[((c * s->kh + i) * s->kw + j) * s->K + k];
              ops[0] += 1;
              if (v != 0 && wv != 0)
                ops[bin ? 2 : 1] += 1;
            }
}

static void test_ann_ops(void)
{
  /* 2 samples, 2 channels 5x5, 3 kernels 3x3, stride 2, pad 1 */
  sl_conv2d_shape s = {2, 2, 5, 5, 3, 3, 3, 2, 1};
  float x[2 * 2 * 5 * 5], w[2 * 3 * 3 * 3];
  /* sample 0 spikes (0, 1, -1), sample 1 also values that are not */
  for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
    x[i] = i % 3 == 0 ? 0.0f : i % 3 == 1 ? 1.0f : i < 50 ? -1.0f : 0.5f * (float)(i % 7);
  for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
    w[i] = i % 4 == 0 ? 0.0f : 0.1f * (float)i;
  for (size_t b = 0; b < 2; b++) {
    double a[3] = {0}, r[3] = {0}, br[3] = {0};
    CU_ASSERT_FATAL(sl_nb_conv2d_ops(x, w, &s, b, a) == SL_OK);
    CU_ASSERT_FATAL(sl_nb_conv2d_ops_ref(x, w, &s, b, r) == SL_OK);
    brute_conv(x, w, &s, b, br);
    for (int k = 0; k < 3; k++) {
      CU_ASSERT(a[k] == br[k]);
      CU_ASSERT(r[k] == br[k]);
    }
    CU_ASSERT(b == 0 ? br[1] == 0 && br[2] > 0 : br[1] > 0 && br[2] == 0);
    CU_ASSERT(br[0] > br[1] + br[2]);
  }
  /* by hand: 1 channel 2x2, one 2x2 kernel, no padding: one output */
  sl_conv2d_shape h = {1, 1, 2, 2, 1, 2, 2, 1, 0};
  float hx[4] = {0, 1, 0.5f, 2}, hw[4] = {1, 1, 0, 1};
  double ho[3] = {0};
  CU_ASSERT_FATAL(sl_nb_conv2d_ops(hx, hw, &h, 0, ho) == SL_OK);
  /* 0.5 meets a zero weight; 1 and 2 meet a weight each: the input is not
   * binary, so both are MACs */
  CU_ASSERT(ho[0] == 4 && ho[1] == 2 && ho[2] == 0);
  /* FC by hand: x = [0, 1, 0.3], W 3x2 = [[1, 2], [0, 3], [4, 0]]: MACs
   * 1 (x1 fan-out) + 1 (x2 fan-out) = 2; x = [0, 1, -1]: ACs 2 */
  float fx[6] = {0, 1, 0.3f, 0, 1, -1}, fw[6] = {1, 2, 0, 3, 4, 0};
  double fo[3] = {0}, fo2[3] = {0};
  CU_ASSERT_FATAL(sl_nb_fc_ops(fx, fw, 3, 2, 0, fo) == SL_OK);
  CU_ASSERT(fo[0] == 6 && fo[1] == 2 && fo[2] == 0);
  CU_ASSERT_FATAL(sl_nb_fc_ops(fx, fw, 3, 2, 1, fo2) == SL_OK);
  CU_ASSERT(fo2[0] == 6 && fo2[1] == 0 && fo2[2] == 2);
  CU_ASSERT(sl_nb_conv2d_ops(x, w, &s, 2, ho) == SL_EINVAL); /* no sample 2 */
  CU_ASSERT(sl_nb_fc_ops(NULL, fw, 3, 2, 0, fo) == SL_EINVAL);
}

/* A log written by sl_nb_write reads back whole (sl_nb_read). */
static void test_read_back(void)
{
  sl_net *net = small_net(1, 0);
  float x[HT * HB * HN];
  hand_input(x);
  CU_ASSERT_FATAL(sl_net_forward(net, x, HT, HB) == SL_OK);
  sl_nb *m = NULL, *r = NULL;
  CU_ASSERT_FATAL(sl_nb_create(&m, net) == SL_OK);
  CU_ASSERT_FATAL(sl_nb_count(m, net, x, HT, HB) == SL_OK);
  double hw[HB] = {4, 5, 6};
  CU_ASSERT_FATAL(sl_nb_set_column(m, "hw.spikes", hw, HB) == SL_OK);
  CU_ASSERT_FATAL(sl_nb_set_static(m, "hw.stuck_off_devices", 3) == SL_OK);
  sl_nb_static st, st2;
  CU_ASSERT_FATAL(sl_nb_static_count(net, &st) == SL_OK);
  char path[256];
  sl_test_tmpfile("nbread", path, sizeof path);
  sl_config cfg;
  sl_config_defaults(&cfg);
  sl_runlog *log = NULL;
  sl_run_meta meta = {"test", 1, 1};
  CU_ASSERT_FATAL(sl_runlog_create(&log, path, &cfg, &meta) == SL_OK);
  double acc = 0;
  CU_ASSERT(sl_nb_read(path, &r, &st2, &acc) == SL_EFORMAT); /* nothing yet */
  CU_ASSERT_FATAL(sl_nb_write(m, &st, 0.5, log) == SL_OK);
  CU_ASSERT_FATAL(sl_runlog_finish(log, 0.5, 1, 1.0) == SL_OK);
  CU_ASSERT_FATAL(sl_runlog_close(log) == SL_OK);
  CU_ASSERT_FATAL(sl_nb_read(path, &r, &st2, &acc) == SL_OK);
  CU_ASSERT(acc == 0.5);
  CU_ASSERT(memcmp(&st, &st2, sizeof st) == 0);
  CU_ASSERT(sl_nb_rows(r) == HB && sl_nb_columns(r) == sl_nb_columns(m));
  /* core columns first, in the counter's order */
  for (size_t k = 0; k < sl_nb_columns(m); k++) {
    CU_ASSERT_FATAL(sl_nb_column_name(r, k) != NULL);
    CU_ASSERT(strcmp(sl_nb_column_name(r, k), sl_nb_column_name(m, k)) == 0);
    CU_ASSERT(memcmp(sl_nb_column(r, k), sl_nb_column(m, k), HB * sizeof(double)) == 0);
  }
  double v = 0;
  CU_ASSERT(sl_nb_num_static(r) == 1);
  CU_ASSERT(strcmp(sl_nb_static_at(r, 0, &v), "hw.stuck_off_devices") == 0 && v == 3);
  remove(path);
  sl_nb_free(r); /* (the call below sets r to NULL first: it would leak the table) */
  CU_ASSERT(sl_nb_read(path, &r, &st2, &acc) == SL_EIO); /* no file */
  CU_ASSERT(r == NULL);
  sl_nb_free(r);
  sl_nb_free(m);
  sl_net_free(net);
}

/* ------------------------------------------------------------ through a session */

static sl_session *small_session(const char *backend, const char *options)
{
  sl_config cfg;
  sl_config_defaults(&cfg);
  const char *kv[][2] = {{"data.n_train", "40"}, {"data.n_val", "0"}, {"data.n_test", "30"},
                         {"net.hidden", "20"},   {"train.batch", "10"}, {"backend.name", backend},
                         {"backend.options", options}};
  for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
    CU_ASSERT_FATAL(sl_config_set(&cfg, kv[i][0], kv[i][1]) == SL_OK);
  sl_session *s = NULL;
  CU_ASSERT_FATAL(sl_session_create(&s, &cfg) == SL_OK);
  return s;
}

/* The loop's counts equal the simulator's (the ideal backend through the
 * interface gives the same states); the hardware's spikes are the hidden
 * spikes counted; a crossbar reads 2 devices per dense operation and
 * converts every input of every vector. */
static void test_session_hw_columns(void)
{
  sl_session *direct = small_session("ideal", ""), *loop = small_session("ideal", "tau_mem_sd=0");
  sl_nb *a = NULL, *b = NULL;
  sl_nb_static sa, sb;
  sl_eval_result ra, rb;
  CU_ASSERT_FATAL(sl_session_loop(loop) != NULL && sl_session_loop(direct) == NULL);
  CU_ASSERT_FATAL(sl_session_nb_metrics(direct, SL_SET_TEST, &a, &sa, &ra) == SL_OK);
  CU_ASSERT_FATAL(sl_session_nb_metrics(loop, SL_SET_TEST, &b, &sb, &rb) == SL_OK);
  CU_ASSERT(sl_nb_rows(a) == 30 && sl_nb_rows(b) == 30);
  CU_ASSERT(ra.accuracy == rb.accuracy && memcmp(&sa, &sb, sizeof sa) == 0);
  for (size_t k = 0; k < sl_nb_columns(a); k++)
    CU_ASSERT(memcmp(sl_nb_column(a, k), sl_nb_column(b, k), 30 * sizeof(double)) == 0);
  size_t k;
  CU_ASSERT(sl_nb_find(a, "hw.spikes", &k) == SL_ENOTFOUND); /* no backend, no hw columns */
  const double TN = 40.0 * 20.0; /* default t_steps 40, 20 hidden neurons */
  double worst = 0;
  for (size_t i = 0; i < 30; i++) {
    double d = fabs(col(b, "hw.spikes", i) - TN * (1.0 - col(b, "activation_sparsity", i)));
    worst = d > worst ? d : worst;
  }
  CU_ASSERT(worst < 1e-9);
  CU_ASSERT(col(b, "hw.membrane_samples", 0) > 0);
  sl_nb_free(a);
  sl_nb_free(b);

  sl_session *mem = small_session("memristor", "stuck_off=0.05");
  CU_ASSERT_FATAL(sl_session_nb_metrics(mem, SL_SET_TEST, &a, &sa, &ra) == SL_OK);
  for (size_t i = 0; i < 30; i++) {
    CU_ASSERT(col(a, "hw.reads", i) == 2 * col(a, "synops_dense", i));
    CU_ASSERT(col(a, "hw.dac_conversions", i) == 40.0 * (5 + 20));
    CU_ASSERT(col(a, "hw.adc_conversions", i) == 0); /* the ADC is off by default */
    CU_ASSERT(col(a, "hw.read_pulses", i) > 0);
  }
  double stuck = -1;
  for (size_t i = 0; i < sl_nb_num_static(a); i++)
    if (!strcmp(sl_nb_static_at(a, i, NULL), "hw.stuck_off_devices"))
      sl_nb_static_at(a, i, &stuck);
  /* 2 x (5 x 20 + 20 x 3) devices, 5% stuck off: about 16 */
  CU_ASSERT(stuck > 3 && stuck < 40);
  sl_nb_free(a);
  sl_session_free(mem);
  sl_session_free(direct);
  sl_session_free(loop);
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"every count against brute force (hand-made inputs)", test_against_brute_force},
      {"a 2-2-1 network counted by hand", test_by_hand},
      {"added columns, statistics, run-log layout, bad calls", test_columns_and_stats},
      {"convolution and FC ops against brute force and by hand", test_ann_ops},
      {"a log's /metrics_nb read back", test_read_back},
      {"a session's counts and hardware columns", test_session_hw_columns},
      {NULL, NULL}};
  return sl_test_run("nbmetrics", cases);
}
