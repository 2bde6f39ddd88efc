/* fashion16_loop.c -- experiment `fashion16_loop` (Cramer et al. 2022,
 * Table 1): Fashion-MNIST cropped to 24x24 and scaled to 16x16,
 * time-to-first-spike coded (t = tau_in log(x / (x - 0.2)), tau_in 8 us of
 * hardware time), a 256-246-10 network with tau_mem = tau_syn = 6 us and
 * dt = 1.7 us (the CADC sampling period), 20 steps, batch 100, Adam 1.5e-3
 * decaying x0.97 per epoch: (a) the software SNN in the ideal simulator,
 * (b) trained in the loop on an emulated chip. Model time is biological
 * (1000x the hardware's): 8 ms, 6 ms, 1.7 ms.
 * /summary: acc_software, acc_loop. The paper: 85.5% and 84.2%. */
#include "config.h"
#include "experiments.h"

#include <stdio.h>

static const char *const defaults[] = {
    "data.dataset=fashion16", "data.n_train=60000", "data.n_val=0", "data.n_test=10000",
    "encoder.kind=latency_log", "encoder.tau_in=0.008", "encoder.x_min=0.2",
    "encoder.t_steps=20", "encoder.bias=0", "net.hidden=246", "net.dt=0.0017",
    "neuron.tau_mem=0.006", "neuron.tau_syn=0.006", "readout.tau_mem=0.006",
    "readout.tau_syn=0.006", "train.batch=100", "train.lr=0.0015", "train.lr_decay=0.97",
    "train.epochs=20", "train.surrogate_beta=50", "backend.name=bss2",
    "backend.options=chip_seed=1", NULL};

static int run(const sl_config *cfg, sl_runlog *log)
{
  static const exp_compare x = {"fashion16_loop",        "software",
                                "a: software",           "(a) software SNN",
                                NULL,                    NULL,
                                "b: in the loop",        "(b) trained in the loop"};
  return exp_compare_run(cfg, log, &x);
}

const experiment exp_fashion16_loop = {
    "fashion16_loop",
    "Fashion-MNIST 16x16, 256-246-10, software SNN vs trained in the loop on an emulated chip",
    defaults, run, NULL, 0};
