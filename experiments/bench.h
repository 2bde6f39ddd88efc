/* bench.h -- the peer benchmark workloads of ../shared/bench/WORKLOADS.md
 * (W1 ff-shd, W2 rec-shd, W3 sim-only), run through the library's own
 * network, loss, optimiser and trainer (`spikeloop bench`). */
#ifndef SL_BENCH_H
#define SL_BENCH_H

typedef struct {
  const char *data_dir; /* exact inputs and weights (raw arrays), or NULL: draw them */
  int threads;          /* 0: leave the OpenMP default */
  long repeat;          /* timed steps (W1, W2) / runs (W3); < 0: the protocol's default */
  int check_only;       /* only the reference figures (needs data_dir), no timing */
  long steps, batch;    /* W1/W2 T and batch with drawn inputs; 0: 100 and 64 */
} bench_options;

/* which: "W1", "W2", "W3" or "all". Prints figures and summary lines.
 * Returns 0, 1 on a runtime error or a reference mismatch. */
int bench_run(const char *which, const bench_options *o);

#endif
