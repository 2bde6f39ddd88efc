#!/usr/bin/python3
"""check_runlog_h5py.py -- check a spikeloop run log against its schema with h5py.

Usage: check_runlog_h5py.py [--incomplete] LOG.h5

Checks the layout documented in include/spikeloop/runlog.h as a Python user
sees it: /config, /meta, /metrics groups; every /config value and the /meta
strings read as str (not bytes); /meta@seed an unsigned 64-bit integer;
every /metrics column a 1-D extendible dataset whose length equals
/metrics@epochs_complete (epoch int64, the rest float64). A finished log
(the default) must have /summary with test_accuracy, epochs and seconds and
no /.staging; with --incomplete the log must have no /summary (a run that
was killed or not finished). Exits 0 if the schema holds, 1 with a message.
"""
import re
import sys

import h5py
import numpy as np

META = {
    "version": str,
    "git_revision": str,
    "seed": int,
    "threads": int,
    "ranks": int,
    "start_time": str,
    "host": str,
    "command": str,
}
METRICS = ["epoch", "loss", "train_accuracy", "val_accuracy", "test_accuracy",
           "hidden_rate", "seconds"]
SUMMARY = {"test_accuracy": float, "epochs": int, "seconds": float}


class SchemaError(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise SchemaError(msg)


def is_int_scalar(v):
    return isinstance(v, (int, np.integer)) and np.ndim(v) == 0


def is_number(v):
    return isinstance(v, (int, float, np.integer, np.floating)) and np.ndim(v) == 0


def check(f, incomplete):
    for g in ("config", "meta", "metrics"):
        need(isinstance(f.get(g), h5py.Group), f"/{g} is missing or not a group")

    cfg = f["config"].attrs
    need(len(cfg) > 0, "/config has no attributes")
    for k in cfg:
        v = cfg[k]
        need(isinstance(v, str), f"/config@{k} reads as {type(v).__name__}, not str")

    meta = f["meta"].attrs
    need(set(meta) == set(META), f"/meta attributes {sorted(meta)}, expected {sorted(META)}")
    for k, t in META.items():
        v = meta[k]
        if t is str:
            need(isinstance(v, str), f"/meta@{k} reads as {type(v).__name__}, not str")
        else:
            need(is_int_scalar(v), f"/meta@{k} = {v!r} is not an integer scalar")
    need(np.asarray(meta["seed"]).dtype == np.uint64,
         f"/meta@seed has dtype {np.asarray(meta['seed']).dtype}, expected uint64")
    need(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["start_time"]) is not None,
         f"/meta@start_time = {meta['start_time']!r} is not UTC ISO-8601")

    m = f["metrics"]
    need("epochs_complete" in m.attrs, "/metrics@epochs_complete is missing")
    n = m.attrs["epochs_complete"]
    need(is_int_scalar(n) and n >= 0, f"/metrics@epochs_complete = {n!r} is not a count")
    need(set(m) == set(METRICS), f"/metrics holds {sorted(m)}, expected {sorted(METRICS)}")
    for name in METRICS:
        d = m[name]
        need(isinstance(d, h5py.Dataset), f"/metrics/{name} is not a dataset")
        need(d.ndim == 1, f"/metrics/{name} has rank {d.ndim}, expected 1")
        need(d.shape[0] == n, f"/metrics/{name} has length {d.shape[0]}, epochs_complete = {n}")
        need(d.maxshape == (None,), f"/metrics/{name} is not extendible (maxshape {d.maxshape})")
        want = np.int64 if name == "epoch" else np.float64
        need(d.dtype == want, f"/metrics/{name} has dtype {d.dtype}, expected {np.dtype(want)}")

    if incomplete:
        need("summary" not in f, "/summary is present in a log expected to be incomplete")
    else:
        need(isinstance(f.get("summary"), h5py.Group), "/summary is missing or not a group")
        need(".staging" not in f, "/.staging is still present in a finished log")
        s = f["summary"].attrs
        for k, t in SUMMARY.items():
            need(k in s, f"/summary@{k} is missing")
            v = s[k]
            ok = is_int_scalar(v) if t is int else (is_number(v) and not is_int_scalar(v))
            need(ok, f"/summary@{k} = {v!r} is not a {t.__name__} scalar")
        for k in s:
            v = np.asarray(s[k])
            need(v.dtype.kind in "fiu" and v.ndim <= 1,
                 f"/summary@{k} is not a number or 1-D array of numbers")

    def check_arrays(name, obj):
        if isinstance(obj, h5py.Dataset):
            need(obj.dtype in (np.float32, np.int32),
                 f"{obj.name} has dtype {obj.dtype}, expected float32 or int32")
            need(obj.ndim in (1, 2), f"{obj.name} has rank {obj.ndim}, expected 1 or 2")

    for top in ("params", "mismatch"):
        if top in f:
            f[top].visititems(check_arrays)
    return int(n)


def main(argv):
    args = argv[1:]
    incomplete = "--incomplete" in args
    paths = [a for a in args if a != "--incomplete"]
    if len(paths) != 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 1
    path = paths[0]
    try:
        with h5py.File(path, "r") as f:
            n = check(f, incomplete)
    except SchemaError as e:
        print(f"{path}: schema error: {e}", file=sys.stderr)
        return 1
    except (OSError, KeyError, ValueError, TypeError) as e:
        print(f"{path}: cannot read the log: {e}", file=sys.stderr)
        return 1
    print(f"{path}: ok ({n} epochs, {'incomplete' if incomplete else 'finished'})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
