/* shd_loop.c -- experiment `shd_loop` (Cramer et al. 2022, Table 1, SHD):
 * the Spiking Heidelberg Digits, 70 of the 700 channels (every 9th after
 * the first 70), binned to the simulation grid, a 70-186-20 network whose
 * hidden layer is recurrent, cross-entropy on the sum over time of the
 * readout membranes: (a) the software SNN in the ideal simulator, (b)
 * trained in the loop on the emulated BrainScaleS-2 chip (bss2: the
 * recurrent layer needs 2 x (70 + 186) = 512 synapse rows, so two circuits
 * per neuron: 412 of the 512 circuits).
 *
 * Data: a user-supplied SHD file, --set data.file=shd_train.h5 (and
 * data.test_file=shd_test.h5; without it the test samples are the n_test
 * after the training ones). Augmentation: data.copies, data.jitter.
 * Grid: 100 steps of 10 ms model time (1 s; 10 us steps on the chip).
 * /summary: acc_software, acc_loop (+ seconds_*). The paper: 71.2% and
 * 76.2% (79.9 / 80.6 with augmentation). */
#include "config.h"
#include "experiments.h"

#include <stdio.h>

static const char *const defaults[] = {
    "data.dataset=shd", "data.n_train=8000", "data.n_val=0", "data.n_test=2000",
    "encoder.kind=raster", "encoder.bias=0", "encoder.t_steps=100", "net.dt=0.01",
    "net.hidden=186", "net.recurrent=1", "neuron.tau_mem=0.02", "neuron.tau_syn=0.01",
    "readout.tau_mem=0.02", "readout.tau_syn=0.01", "train.loss=sum", "train.batch=50",
    "train.lr=0.005", "train.lr_decay=0.97", "train.epochs=20", "train.surrogate_beta=50",
    "train.init_scale=3",
    "train.reg_amp=0.001", "backend.name=bss2", "backend.options=chip_seed=1", NULL};

/* Refuse a missing or malformed file before the log is created. */
static int check(const sl_config *cfg)
{
  size_t n;
  if (!cfg->data_file[0])
    return sl_error(SL_EINVAL, "shd_loop: set data.file to an SHD HDF5 file "
                    "(--set data.file=shd_train.h5)");
  int rc = sl_shd_count(cfg->data_file, &n);
  if (!rc && cfg->test_file[0])
    rc = sl_shd_count(cfg->test_file, &n);
  return rc;
}

static int run(const sl_config *cfg, sl_runlog *log)
{
  static const exp_compare x = {"shd_loop",        "software",
                                "a: software",     "(a) software SNN",
                                NULL,              NULL,
                                "b: in the loop",  "(b) trained in the loop"};
  return exp_compare_run(cfg, log, &x);
}

const experiment exp_shd_loop = {
    "shd_loop",
    "Spiking Heidelberg Digits, 70-186(recurrent)-20, sum-over-time loss, software vs in the "
    "loop on an emulated chip (data.file=SHD.h5)",
    defaults, run, check, 0};
