#!/usr/bin/python3
"""check_resume_h5py.py -- run-log checks for test/test_resume.sh, with h5py.

Usage:
  check_resume_h5py.py killed LOG.h5      the log of a killed run opens; if it
                                          has a checkpoint, /checkpoint@epoch
                                          names a complete one (every array
                                          present, epoch attribute equal);
                                          prints that epoch (0 if none)
  check_resume_h5py.py batch LIST         every line of LIST is "killed LOG.h5"
                                          or "same A.h5 B.h5" (one h5py start
                                          for many checks); prints "ok   - " or
                                          "FAIL - " per line, exits 1 if any
                                          failed
  check_resume_h5py.py phases LOG.h5      the log of a killed multi-phase run
                                          opens; every stored phase
                                          (/checkpoint/phases/<name>) holds
                                          finite arrays; prints their names
                                          (batch lines "phases LOG" too)
  check_resume_h5py.py files A.h5 B.h5    every dataset of A and B (names and
                                          values) is the same: calibration files
                                          (batch lines "files A B" too)
  check_resume_h5py.py same A.h5 B.h5 [--tol X]
                                          A and B hold the same final weights
                                          (/params, /mismatch; the dynamic-exit
                                          experiments' /resnet, /pointnet;
                                          memristor_twin's /xbar), /metrics (all
                                          columns but seconds), /metrics_nb and
                                          /summary (all but the times seconds*,
                                          *_seconds): bit-identical, or
                                          within X (max |a - b|) if given
Exits 0 if the check holds, 1 with a message.
"""
import sys

import h5py
import numpy as np

CKPT_ARRAYS = ("master", "params", "optim_m", "result")
CKPT_COUNTS = ("epoch", "n_params", "optim_step", "backend_exact")


def killed(path):
    with h5py.File(path, "r") as f:
        for g in ("config", "meta", "metrics"):
            if g not in f:
                sys.exit(f"{path}: no /{g}")
        n = int(f["metrics"].attrs["epochs_complete"])
        for name, d in f["metrics"].items():
            if d.shape[0] < n:
                sys.exit(f"{path}: /metrics/{name} has {d.shape[0]} rows < {n}")
        if "checkpoint" not in f or "epoch" not in f["checkpoint"].attrs:
            print(0)
            return
        e = int(f["checkpoint"].attrs["epoch"])
        g = f["checkpoint"].get(f"epoch_{e}")
        if g is None:
            sys.exit(f"{path}: /checkpoint@epoch = {e} but no /checkpoint/epoch_{e}")
        for c in CKPT_COUNTS:
            if c not in g.attrs:
                sys.exit(f"{path}: checkpoint {e} lacks @{c}")
        if int(g.attrs["epoch"]) != e:
            sys.exit(f"{path}: checkpoint epoch_{e} holds epoch {g.attrs['epoch']}")
        n_params = int(g.attrs["n_params"])
        for a in CKPT_ARRAYS:
            if a not in g:
                sys.exit(f"{path}: checkpoint {e} lacks {a}")
            v = g[a][()]
            if a != "result" and v.shape != (n_params,):
                sys.exit(f"{path}: checkpoint {e}: {a} has shape {v.shape}")
            if not np.all(np.isfinite(v)):
                sys.exit(f"{path}: checkpoint {e}: {a} is not finite")
        if n < e:
            sys.exit(f"{path}: {n} metrics rows but a checkpoint of epoch {e}")
        print(e)


def phases(path):
    with h5py.File(path, "r") as f:
        for g in ("config", "meta", "metrics"):
            if g not in f:
                sys.exit(f"{path}: no /{g}")
        stored = f["checkpoint/phases"] if "checkpoint/phases" in f else {}
        for name, g in stored.items():
            if len(g) == 0:
                sys.exit(f"{path}: phase {name} holds nothing")
            for a, d in g.items():
                v = d[()]
                if v.dtype.kind == "f" and not np.all(np.isfinite(v)):
                    sys.exit(f"{path}: phase {name}: {a} is not finite")
        print(" ".join(stored) if stored else "none")


def arrays(f, top):
    out = {}
    if top in f:
        f[top].visititems(lambda k, v: out.__setitem__(f"{top}/{k}", v[()])
                          if isinstance(v, h5py.Dataset) else None)
    return out


def timing(name):
    """A /summary attribute of wall-clock time: seconds*, *_seconds."""
    return name.startswith("seconds") or name.endswith("_seconds")


def same(a, b, tol):
    worst, where = 0.0, ""
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        xa, xb = {}, {}
        for top in ("params", "mismatch", "metrics", "metrics_nb", "xbar", "resnet", "pointnet"):
            xa.update(arrays(fa, top))
            xb.update(arrays(fb, top))
        for k in ("metrics/seconds",):
            xa.pop(k, None)
            xb.pop(k, None)
        for k in ("summary",):
            if k not in fa or k not in fb:
                sys.exit(f"no /summary in {a if k not in fa else b}")
            for n, v in fa[k].attrs.items():
                if not timing(n):
                    xa[f"summary@{n}"] = np.asarray(v)
            for n, v in fb[k].attrs.items():
                if not timing(n):
                    xb[f"summary@{n}"] = np.asarray(v)
    if sorted(xa) != sorted(xb):
        sys.exit(f"different contents: {sorted(set(xa) ^ set(xb))}")
    for k in sorted(xa):
        va, vb = xa[k], xb[k]
        if va.shape != vb.shape:
            sys.exit(f"{k}: shapes {va.shape} != {vb.shape}")
        if va.dtype.kind in "fiu":
            eq = np.array_equal(va, vb, equal_nan=va.dtype.kind == "f")
            d = float(np.nanmax(np.abs(va.astype(float) - vb.astype(float)))) if va.size else 0.0
        else:
            eq, d = bool(np.all(va == vb)), 0.0
        if d > worst:
            worst, where = d, k
        if tol is None and not eq:
            sys.exit(f"{k} differs (max |a - b| = {d:g})")
    if tol is not None and worst > tol:
        sys.exit(f"{where} differs by {worst:g} > {tol:g}")
    print(f"{len(xa)} arrays and attributes, max |a - b| = {worst:g}"
          + (f" ({where})" if where else ""))


def files(a, b):
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        xa, xb = {}, {}
        fa.visititems(lambda k, v: xa.__setitem__(k, v[()]) if isinstance(v, h5py.Dataset) else None)
        fb.visititems(lambda k, v: xb.__setitem__(k, v[()]) if isinstance(v, h5py.Dataset) else None)
    if sorted(xa) != sorted(xb):
        sys.exit(f"different datasets: {sorted(set(xa) ^ set(xb))}")
    for k in sorted(xa):
        if not np.array_equal(xa[k], xb[k], equal_nan=xa[k].dtype.kind == "f"):
            sys.exit(f"{k} differs")
    print(f"{len(xa)} datasets identical")


def batch(path):
    failed = 0
    with open(path) as f:
        lines = [l.split() for l in f if l.strip()]
    for words in lines:
        try:
            import io
            import contextlib
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                if words[0] == "killed":
                    killed(words[1])
                elif words[0] == "files":
                    files(words[1], words[2])
                elif words[0] == "phases":
                    phases(words[1])
                else:
                    same(words[1], words[2], None)
            what = out.getvalue().strip()
            if words[0] == "killed":
                print(f"ok   - {words[1]}: h5py opens it, checkpoint epoch {what}")
            elif words[0] == "phases":
                print(f"ok   - {words[1]}: h5py opens it, stored phases: {what}")
            else:
                print(f"ok   - {words[2]} equals {words[1]}: {what}")
        except SystemExit as e:
            failed += 1
            print(f"FAIL - {' '.join(words)}: {e.code}")
        except Exception as e:  # an unreadable file
            failed += 1
            print(f"FAIL - {' '.join(words)}: {type(e).__name__}: {e}")
    sys.exit(1 if failed else 0)


def main(argv):
    if len(argv) == 3 and argv[1] == "batch":
        batch(argv[2])
    elif len(argv) == 3 and argv[1] == "killed":
        killed(argv[2])
    elif len(argv) == 3 and argv[1] == "phases":
        phases(argv[2])
    elif len(argv) == 4 and argv[1] == "files":
        files(argv[2], argv[3])
    elif len(argv) in (4, 6) and argv[1] == "same":
        tol = float(argv[5]) if len(argv) == 6 and argv[4] == "--tol" else None
        same(argv[2], argv[3], tol)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
