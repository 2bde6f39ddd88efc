#!/usr/bin/python3
"""bench_cim_numpy.py -- the peer of `spikeloop bench C2`: NumPy's float32
X @ W (one BLAS sgemm) on CIM.md's data, with the same protocol (2 warm-up
calls, median of 10 timed calls of the 1000-vector batch).

Run it with Debian's /usr/bin/python3 (it has NumPy) in the same session as
the C2 line it is compared with, under the same OPENBLAS_CORETYPE and
thread count (OPENBLAS_NUM_THREADS), e.g.

    OPENBLAS_CORETYPE=Haswell /usr/bin/python3 experiments/bench_cim_numpy.py DIR

Prints 'C2-numpy mvm_per_s=... seconds_median=... cpu_seconds_median=... blas=...
threads=...' (CPU time of the process per call, as in the C2 line).
"""
import ctypes
import ctypes.util
import os
import sys
import time

import numpy as np


def blas_core():
    """OpenBLAS's core name if NumPy's BLAS is OpenBLAS, else 'unknown'."""
    for name in ("libopenblas.so.0", ctypes.util.find_library("openblas")):
        try:
            lib = ctypes.CDLL(name)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return lib.openblas_get_corename().decode(), lib.openblas_get_num_threads()
        except (OSError, TypeError, AttributeError):
            continue
    return "unknown", 0


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: bench_cim_numpy.py CIM_DATA_DIR")
    d = sys.argv[1]
    w = np.fromfile(os.path.join(d, "w.f32"), dtype="<f4").reshape(784, 256)
    x = np.fromfile(os.path.join(d, "x.f32"), dtype="<f4").reshape(1000, 784)
    ref = np.fromfile(os.path.join(d, "y_ref.f64"), dtype="<f8").reshape(1000, 256)
    sec, cpu = [], []
    for k in range(12):
        c0 = time.process_time()
        t0 = time.perf_counter()
        y = x @ w
        t1 = time.perf_counter()
        c1 = time.process_time()
        if k >= 2:
            sec.append(t1 - t0)
            cpu.append(c1 - c0)
    sec.sort()
    cpu.sort()
    med = 0.5 * (sec[4] + sec[5])
    cpu_med = 0.5 * (cpu[4] + cpu[5])
    rel = np.mean(np.linalg.norm(y - ref, axis=1) / np.linalg.norm(ref, axis=1))
    core, threads = blas_core()
    print("C2-numpy mvm_per_s=%.0f rel_err=%.2g seconds_median=%.5f cpu_seconds_median=%.5f "
          "blas=%s threads=%d" % (x.shape[0] / med, rel, med, cpu_med, core, threads))


if __name__ == "__main__":
    main()
