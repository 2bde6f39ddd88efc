/* test_events.c -- the event lists of spike rasters (lib/core/events.c):
 * the event-driven products and the recurrent back-projection against the
 * dense reference loops, bit for bit (they keep the reference's order), and
 * the list builder's reuse and its refusal of non-finite values.
 */
#include "config.h"
#include "spikeloop/error.h"
#include "core/kernels.h"

#include <string.h>

#include "fixtures.h"
#include "testutil.h"

/* Event-driven products against the dense reference: 0/1 rasters, and
 * rasters with other values (counts, -0.0, negative) that must also be kept. */
static void test_events(void)
{
  int all_same = 1;
  size_t events = 0;
  for (size_t c = 0; c < SL_TEST_N_SHAPES; c++)
    for (int kind = 0; kind < 2; kind++) {
      const size_t *sh = sl_test_shapes[c];
      size_t R = sh[0], K = sh[1], N = sh[2];
      sl_test_seed(500 + 2 * c + kind);
      float *x = sl_test_falloc(R * K), *w = sl_test_falloc(K * N), *g = sl_test_falloc(R * N);
      float *y = sl_test_falloc(R * N), *yr = sl_test_falloc(R * N), *dw = sl_test_falloc(K * N);
      sl_test_fill_spikes(x, R * K, 0.1);
      if (kind == 1)
        for (size_t i = 0; i < R * K; i++)
          x[i] = x[i] != 0.0f ? (float)(sl_test_urand() < 0.5 ? -2.5 : 3.0) : (sl_test_urand() < 0.3 ? -0.0f : 0.0f);
      sl_test_fill_uniform(w, K * N, -1.0, 1.0);
      sl_test_fill_uniform(g, R * N, -1.0, 1.0);
      sl_test_fill_uniform(dw, K * N, -2.0, 2.0);
      float *dwr = sl_test_fdup(dw, K * N);
      slk_events ev;
      memset(&ev, 0, sizeof ev);
      CU_ASSERT_FATAL(slk_events_build(&ev, x, R, K) == SL_OK);
      events += ev.nnz;
      for (size_t i = 0; i < R * N; i++)
        y[i] = 99.0f;
      slk_matmul_ev(y, &ev, w, N);
      slk_matmul_ref(yr, x, w, R, K, N);
      slk_matmul_tn_acc_ev(dw, &ev, g, N);
      slk_matmul_tn_acc_ref(dwr, x, g, R, K, N);
      int same = memcmp(y, yr, R * N * sizeof(float)) == 0 &&
                 memcmp(dw, dwr, K * N * sizeof(float)) == 0;
      if (!same)
        printf("\n    events %zux%zux%zu kind %d: y max rel %.3g, dw max rel %.3g", R, K, N, kind,
               sl_test_max_rel_diff(y, yr, R * N, 1e-6), sl_test_max_rel_diff(dw, dwr, K * N, 1e-6));
      all_same &= same;
      /* the list is reused: a second, emptier raster */
      memset(x, 0, R * K * sizeof(float));
      x[R * K - 1] = 1.0f;
      CU_ASSERT(slk_events_build(&ev, x, R, K) == SL_OK);
      CU_ASSERT(ev.nnz == 1 && ev.ptr[R] == 1 && ev.idx[0] == K - 1);
      x[0] = NAN;
      CU_ASSERT(slk_events_build(&ev, x, R, K) == SL_ENUMERIC);
      x[0] = -INFINITY;
      CU_ASSERT(slk_events_build(&ev, x, R, K) == SL_ENUMERIC);
      x[0] = 0.0f;
      x[R * K - 1] = NAN; /* in the last row's tail */
      CU_ASSERT(slk_events_build(&ev, x, R, K) == SL_ENUMERIC);
      slk_events_free(&ev);
      slk_events_free(&ev); /* twice is harmless */
      free(x), free(w), free(g), free(y), free(yr), free(dw), free(dwr);
    }
  printf("\n    event products vs dense reference (%zu events): %s ", events,
         all_same ? "bit-identical" : "DIFFER");
  CU_ASSERT(all_same);
  CU_ASSERT(events > 0);
}

/* slk_dense_rows_add (the recurrent back-projection) against the plain
 * loop: every element sums n in ascending order from its start value. */
static void test_dense_rows(void)
{
  static const size_t rs[] = {1, 3, 4, 5, 9}, ks[] = {16, 64, 130, 256}, ns[] = {1, 7, 64};
  int all_same = 1;
  for (size_t a = 0; a < 5; a++)
    for (size_t c = 0; c < 4; c++)
      for (size_t e = 0; e < 3; e++) {
        const size_t R = rs[a], K = ks[c], N = ns[e];
        sl_test_seed(900 + 16 * a + 4 * c + e);
        float *y = sl_test_falloc(R * K), *g = sl_test_falloc(R * N), *wt = sl_test_falloc(N * K);
        sl_test_fill_uniform(y, R * K, -1.0, 1.0);
        sl_test_fill_uniform(g, R * N, -1.0, 1.0);
        sl_test_fill_uniform(wt, N * K, -1.0, 1.0);
        float *yr = sl_test_fdup(y, R * K);
        for (size_t i = 0; i < R; i++)
          for (size_t j = 0; j < K; j++) {
            float acc = yr[i * K + j];
            for (size_t n = 0; n < N; n++)
              acc += g[i * N + n] * wt[n * K + j];
            yr[i * K + j] = acc;
          }
        slk_dense_rows_add(y, g, R, wt, K, N);
        if (memcmp(y, yr, R * K * sizeof(float)) != 0) {
          all_same = 0;
          printf("\n    dense rows %zux%zux%zu differ (max rel %.3g)", R, K, N,
                 sl_test_max_rel_diff(y, yr, R * K, 1e-6));
        }
        free(y), free(g), free(wt), free(yr);
      }
  printf("\n    dense row products (4-row blocks and leftovers) vs plain loop: %s ",
         all_same ? "bit-identical" : "DIFFER");
  CU_ASSERT(all_same);
}
/* Listing one row (slk_row_list, slk_row_events) against a plain loop, for
 * lengths that leave every tail of 4-, 8- and 16-wide blocks, densities
 * from empty to full, -0.0 (zero), and NaN / Inf (refused by row_events,
 * a nonzero for row_list). */
static void test_row_lists(void)
{
  int all_same = 1;
  size_t listed = 0;
  for (size_t K = 1; K <= 70; K++)
    for (int kind = 0; kind < 5; kind++) {
      sl_test_seed(1300 + 8 * K + (size_t)kind);
      float *x = sl_test_falloc(K);
      const double p = kind == 0 ? 0.0 : kind == 2 ? 0.5 : kind == 3 ? 1.0 : 0.05;
      sl_test_fill_spikes(x, K, p);
      for (size_t k = 0; k < K; k++)
        if (x[k] == 0.0f && sl_test_urand() < 0.2)
          x[k] = -0.0f;
      if (kind == 4) { /* a NaN or an Inf somewhere */
        x[(size_t)(sl_test_urand() * (double)K)] = K % 2 ? NAN : -INFINITY;
      }
      uint32_t *idx = malloc((K + SLK_ROW_PAD) * sizeof *idx), *want = malloc(K * sizeof *want);
      float *val = sl_test_falloc(K);
      size_t nw = 0;
      int finite = 1;
      for (size_t k = 0; k < K; k++) {
        finite &= isfinite(x[k]) != 0;
        if (x[k] != 0.0f || isnan(x[k]))
          want[nw++] = (uint32_t)k;
      }
      size_t n = slk_row_list(x, K, idx);
      int same = n == nw && memcmp(idx, want, n * sizeof *idx) == 0;
      int ne = slk_row_events(x, K, idx, val);
      if (!finite)
        same &= ne == -1;
      else {
        same &= ne == (int)nw && memcmp(idx, want, nw * sizeof *idx) == 0;
        for (int e = 0; same && e < ne; e++)
          same &= val[e] == x[idx[e]];
      }
      if (!same)
        printf("\n    row of %zu (kind %d): listed %zu / %d, want %zu", K, kind, n, ne, nw);
      all_same &= same;
      listed += n;
      free(x), free(idx), free(want), free(val);
    }
  printf("\n    rows listed (%zu nonzeros) vs plain loop: %s ", listed, all_same ? "same" : "DIFFER");
  CU_ASSERT(all_same);
  CU_ASSERT(listed > 0);
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"event-driven products vs dense reference, bit-identical", test_events},
      {"dense row products (recurrent back-projection), bit-identical", test_dense_rows},
      {"listing a row's nonzeros", test_row_lists},
      {NULL, NULL}};
  return sl_test_run_paths("events", cases);
}
