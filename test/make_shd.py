#!/usr/bin/env python3
"""make_shd.py -- write a small synthetic file in the Spiking Heidelberg Digits
layout, as the real files are written (h5py): /spikes/times variable-length
float16 arrays (seconds), /spikes/units variable-length uint16 arrays (channel
ids 0..699), /labels uint16, /extra/speaker, /extra/keys.

Class k (0..19) is a band of channels centred on 90 + 28 k that drifts by
+-60 channels per second (the sign alternates with k) over 0.9 s, with
channel noise (sd 10) and uniform background spikes: learnable, not trivial.

usage: make_shd.py OUT.h5 [N] [SEED]
"""
import sys

import h5py
import numpy as np


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    rng = np.random.default_rng(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    labels = rng.integers(0, 20, n)
    times, units = [], []
    for k in labels:
        m = rng.integers(500, 900)
        t = np.sort(rng.uniform(0.0, 0.9, m))
        drift = 60.0 if k % 2 == 0 else -60.0
        c = 90 + 28 * k + drift * t + rng.normal(0.0, 10.0, m)
        bg = rng.random(m) < 0.15
        c[bg] = rng.uniform(0, 700, bg.sum())
        times.append(t.astype(np.float16))
        units.append(np.clip(np.rint(c), 0, 699).astype(np.uint16))
    with h5py.File(out, "w") as f:
        st = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float16))
        su = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
        for i in range(n):
            st[i] = times[i]
            su[i] = units[i]
        f.create_dataset("labels", data=labels.astype(np.uint16))
        f.create_dataset("extra/speaker", data=rng.integers(0, 12, n).astype(np.uint16))
        f.create_dataset("extra/keys", data=np.array([b"digit-%d" % k for k in range(20)]))


if __name__ == "__main__":
    main()
