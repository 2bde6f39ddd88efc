#!/usr/bin/python3
"""yinyang_python.py -- Yin-Yang trained in the loop with an emulated
BrainScaleS-2 chip, from Python: run (c) of `spikeloop experiment
yinyang_loop` (same settings: bss2 chip_seed=1 sampled every 1 us, amplitude
regulariser 0.1, 60 epochs, lr decay 0.97) through the bindings.

A per-epoch callback prints progress and may stop the run early
(--target: stop once the validation accuracy reaches it). The run log is
written as `spikeloop train` writes it (readable by `spikeloop eval` and
spikeloop.plot); if spikeloop.plot is available, its figures of the log
(learning curves, neuron parameters) are drawn next to it as PNG.

Usage (from the build tree, after sh experiments/setup.sh):
    PYTHONPATH=bindings/python /usr/bin/python3 experiments/yinyang_python.py \
        [--epochs N] [--log FILE.h5] [--target ACC] [--set key=value ...]
"""
import argparse
import sys
import time

import spikeloop as sl

# The settings of experiments/yinyang_loop.c (run c).
LOOP = {
    "backend.name": "bss2",
    "backend.options": "chip_seed=1,sample_period=1e-6",
    "train.reg_amp": 0.1,
    "train.epochs": 60,
    "train.lr_decay": 0.97,
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=None, help="epochs (default 60)")
    ap.add_argument("--log", default="yinyang_python.h5", help="run log (HDF5)")
    ap.add_argument("--target", type=float, default=None,
                    help="stop once the validation accuracy reaches this (0..1)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config key (repeatable)")
    args = ap.parse_args(argv)

    cfg = sl.Config(LOOP)
    for kv in args.set:
        key, sep, value = kv.partition("=")
        if not sep:
            ap.error(f"--set {kv}: expected key=value")
        cfg[key.strip()] = value.strip()
    if args.epochs is not None:
        cfg["train.epochs"] = args.epochs

    def progress(m):
        print(f"  epoch {m['epoch']:3d}  loss {m['loss']:.4f}  train {100 * m['train_accuracy']:6.2f}%"
              f"  val {100 * m['val_accuracy']:6.2f}%  test {100 * m['test_accuracy']:6.2f}%"
              f"  spikes/neuron {m['hidden_rate']:.3f}  {m['seconds']:.2f}s", flush=True)
        return args.target is not None and m["val_accuracy"] >= args.target

    print(f"Yin-Yang in the loop: backend {cfg['backend.name']} {cfg['backend.options']}, "
          f"{cfg['train.epochs']} epochs, log {args.log}", flush=True)
    t0 = time.monotonic()
    res = sl.run_train(cfg, log=args.log, callback=progress,
                       command="experiments/yinyang_python.py")
    wall = time.monotonic() - t0
    stop = " (stopped at the target)" if res["stopped"] else ""
    print(f"(c) trained in the loop {100 * res['test_accuracy']:6.2f}%  "
          f"(validation {100 * res['val_accuracy']:.2f}%, {res['epochs']} epochs{stop}, "
          f"{wall:.1f} s); log written to {args.log}")

    try:  # spikeloop.plot (pure Python, h5py + matplotlib) may not be there
        from spikeloop import plot
    except ImportError:
        plot = None
    if plot is not None and hasattr(plot, "main"):
        try:
            plot.main([args.log, "--format", "png"])
        except (Exception, SystemExit) as e:  # plotting is optional here
            print(f"(no plot: {e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
