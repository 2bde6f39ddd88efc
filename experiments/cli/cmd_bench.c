/* cmd_bench.c -- `spikeloop bench W1|W2|W3|all|C1|C2`: the peer benchmark
 * workloads of the SNN layers (experiments/bench.c) and of the crossbar
 * layer (experiments/bench_cim.c). */
#include "config.h"
#include "cli.h"
#include "commands.h"
#include "bench.h"
#include "bench_cim.h"
#include "spikeloop/dist.h"

#include <stdio.h>
#include <string.h>

static void usage(void)
{
  printf("usage: spikeloop bench W1|W2|W3|all [--threads N] [--repeat R] [--data DIR]\n"
         "                       [--check-only] [--steps T] [--batch B]\n"
         "       spikeloop bench C1|C2 --data DIR\n"
         "\n"
         "Time the benchmark workloads of WORKLOADS.md with the library's own network,\n"
         "loss, optimiser and trainer: W1 700-256-20 feed-forward, W2 with a recurrent\n"
         "hidden layer (T 100, batch 64, Adam), W3 a 10 000-step forward simulation.\n"
         "\n"
         "  --threads N    OpenMP threads (default: all cores)\n"
         "  --repeat R     timed steps of W1/W2 (default 20) and runs of W3 (default 3),\n"
         "                 each after warm-up (3 steps, 1 run)\n"
         "  --data DIR     load the exact inputs and initial weights of DIR (x_train.u8,\n"
         "                 y_train.i32, x_sim.u8, w_in.f32, w_rec.f32, w_out.f32) and\n"
         "                 compare the initial loss, spikes, gradient norms and the loss\n"
         "                 after 1..5 Adam steps with DIR/reference.json (exit 1 on a\n"
         "                 mismatch); without it, inputs of the same statistics are drawn\n"
         "  --check-only   with --data: only the reference comparison, no timing\n"
         "  --steps T, --batch B   W1/W2 with T time steps and batch B (drawn inputs, not\n"
         "                 --data; default 100 and 64): memory and time at other scales\n"
         "\n"
         "W1 and W2 train on the batch listed once as events (train_ms) and, for\n"
         "comparison, on the dense raster listed every step (train_dense_ms).\n"
         "Started by mpirun (built --with-mpi), every rank trains on its slice of the\n"
         "batch with gradients averaged over the ranks; W3 is then skipped.\n"
         "\n"
         "Summary lines: 'W1 train_ms=... train_dense_ms=... infer_ms=... rss_mb=...\n"
         "ranks=... threads=... isa=... cpu=\"...\"' (W2 alike) and 'W3 neuron_steps_per_s=...\n"
         "hidden_spikes=... ... threads=... isa=... cpu=\"...\"'; every line with a figure\n"
         "names the CPU, the kernels' vector path and the thread count. SPIKELOOP_ISA=\n"
         "baseline|avx2|avx512 forces a lower path than the CPU's best, to measure it.\n"
         "\n"
         "C1 and C2 are the crossbar workloads of CIM.md (784 x 256 on 7 x 16 tiles of\n"
         "112 x 16; C1 with 8-level devices, 5%% programming and 2%% read noise and\n"
         "8-bit DAC/ADC, C2 ideal) on DIR = cim-data: 'C1 mvm_per_s=... rel_err=...'.\n");
}

int cmd_bench(int argc, char **argv)
{
  bench_options o = {NULL, 0, -1, 0, 0, 0};
  const char *which = NULL;
  cli_shared sh = {NULL, NULL, NULL, NULL, NULL, 0};
  const cli_option own[] = {
      {.name = "--repeat", .kind = CLI_LONG, .out = &o.repeat, .needs = "a positive integer",
       .min = 1, .max = 100000},
      {.name = "--data", .kind = CLI_TEXT, .out = &o.data_dir, .needs = "a directory"},
      {.name = "--check-only", .kind = CLI_FLAG, .out = &o.check_only},
      {.name = "--steps", .kind = CLI_LONG, .out = &o.steps, .needs = "a positive integer",
       .min = 1, .max = 1000000},
      {.name = "--batch", .kind = CLI_LONG, .out = &o.batch, .needs = "a positive integer",
       .min = 1, .max = 1000000},
      {0}};
  const cli_spec spec = {"bench", usage, CLI_THREADS, 0, own, &which};
  int rc = cli_parse(&spec, &sh, argc, argv);
  if (rc != CLI_RUN)
    return rc;
  o.threads = (int)sh.threads;
  if (!which)
    return cli_usage_error("bench", "which workload? W1, W2, W3, all, C1 or C2");
  if (strcmp(which, "C1") == 0 || strcmp(which, "C2") == 0) {
    if (!o.data_dir)
      return cli_usage_error("bench", "%s needs --data DIR (the cim-data directory)", which);
    return sl_cim_bench(which, o.data_dir, stdout) ? cli_fail(which) : 0;
  }
  if (o.check_only && !o.data_dir)
    return cli_usage_error("bench", "--check-only needs --data DIR");
  if (sl_dist_rank() > 0 && !freopen("/dev/null", "w", stdout)) /* rank 0 reports */
    return cli_fail("bench");
  return bench_run(which, &o);
}
