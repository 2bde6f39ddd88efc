"""Fixtures of test_plot.py: small logs made by the built ./spikeloop, and
logs written with h5py in the documented layouts (README.md: the run log,
the recording format, the twin format), for the figures whose experiments
are too slow for a test (twin_loop) or need data that may be absent
(Fashion-MNIST for mcnn_hybrid and dynresnet).

The tool is $SPIKELOOP, else the spikeloop next to the source tree (an
in-tree build); tests that need it skip when there is none. Runs use one
thread and OMP_WAIT_POLICY=PASSIVE: the machine is shared.
"""
import os
import subprocess
import sys

import importlib.util

import h5py
import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if importlib.util.find_spec("spikeloop") is None:  # not on PYTHONPATH: this tree's package
    sys.path.insert(0, os.path.dirname(HERE))

FASHION = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"


def spikeloop_path():
    p = os.environ.get("SPIKELOOP") or os.path.join(HERE, "..", "..", "..", "spikeloop")
    return p if os.access(p, os.X_OK) else None


class Tool:
    """Runs ./spikeloop in a directory; a failure shows the tool's output."""

    def __init__(self, path, cwd):
        self.path, self.cwd = path, cwd
        self.env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS="1")

    def __call__(self, *args):
        r = subprocess.run([self.path] + list(args), cwd=self.cwd, env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert r.returncode == 0, "spikeloop %s failed:\n%s" % (" ".join(args), r.stdout[-2000:])
        return os.path.join(self.cwd, "")


SMALL = ["--set", "data.n_train=100", "--set", "data.n_val=50", "--set", "data.n_test=50"]


@pytest.fixture(scope="session")
def cli_logs(tmp_path_factory):
    """Logs of tiny real runs: {name: path}. Skips without the tool."""
    exe = spikeloop_path()
    if exe is None:
        pytest.skip("no built spikeloop (set SPIKELOOP=path/to/spikeloop)")
    d = str(tmp_path_factory.mktemp("cli"))
    sl = Tool(exe, d)
    # drawn mismatch, and the run's recording named in /config backend.record
    sl("train", "--quiet", "--threads", "1", *SMALL, "--set", "train.epochs=2",
       "--set", "mismatch.tau_mem=0.2", "--set", "mismatch.v_th=0.2",
       "--backend", "ideal", "--set", "backend.options=v_th_sd=0.05",
       "--record", "rec.h5", "--log", "train.h5")
    sl("experiment", "mismatch_sweep", "--threads", "1", *SMALL, "--set", "train.epochs=1",
       "--log", "sweep.h5")
    names = ["train", "rec", "sweep"]
    if "bss2" not in os.environ.get("SL_BACKENDS_LEFT_OUT", "").split():
        # the emulated chip: membranes in ADC counts
        sl("train", "--quiet", "--threads", "1", *SMALL, "--set", "train.epochs=1",
           "--backend", "bss2", "--set", "backend.options=chip_seed=1",
           "--set", "train.reg_amp=0.1", "--record", "bssrec.h5", "--log", "bss.h5")
        # twins of one chip, uncalibrated and calibrated
        sl("characterise", "--backend", "bss2", "--chip-seed", "1", "--neurons", "0-31",
           "--out", "charac.h5")
        sl("fit", "--recording", "charac.h5", "--out", "twin.h5")
        sl("calibrate", "--backend", "bss2", "--chip-seed", "1", "--neurons", "0-31",
           "--iterations", "2", "--target", "v_th=0.8", "--out", "calib.h5")
        sl("characterise", "--backend", "bss2", "--chip-seed", "1", "--neurons", "0-31",
           "--options", "calib=calib.h5", "--out", "charac_cal.h5")
        sl("fit", "--recording", "charac_cal.h5", "--out", "twin_cal.h5")
        names += ["bss", "bssrec", "twin", "twin_cal", "calib"]
    logs = {k: os.path.join(d, k + ".h5") for k in names}
    if os.path.exists(FASHION):
        sl("experiment", "mcnn_hybrid", "--threads", "1", "--set", "data.n_train=300",
           "--set", "data.n_test=100", "--set", "train.epochs=1",
           "--set", "backend.options=datasets=fashion,hybrid_epochs=1,groups=1",
           "--log", "mcnn.h5")
        sl("experiment", "dynresnet", "--threads", "1", "--set", "data.dataset=fashion",
           "--set", "data.n_train=300", "--set", "data.n_val=100", "--set", "data.n_test=100",
           "--set", "train.epochs=1", "--set", "backend.options=ternary_epochs=1,tpe_trials=8,"
           "grid_points=3,centre_samples=200,calib_samples=16", "--log", "dyn.h5")
        logs["mcnn"] = os.path.join(d, "mcnn.h5")
        logs["dyn"] = os.path.join(d, "dyn.h5")
    return logs


def need(logs, *names):
    """Skip the calling test unless `logs` has every one of names."""
    lacking = [n for n in names if n not in logs]
    if lacking:
        pytest.skip("no %s log in this build (bss2 left out, or no Fashion-MNIST)"
                    % ", ".join(lacking))


# ------------------------------------------------------------ h5py-written logs

STR = h5py.string_dtype("utf-8")


def put_attrs(obj, values):
    for k, v in values.items():
        if isinstance(v, str):
            obj.attrs.create(k, v, dtype=STR)
        else:
            obj.attrs[k] = v


def write_runlog(path, summary, epochs=0, mismatch=False, config=None, pulses=False):
    """A complete run log as sl_runlog writes it (README.md, "The run log")."""
    rng = np.random.default_rng(1)
    with h5py.File(path, "w") as f:
        cfg = {"neuron.v_th": "1", "neuron.v_leak": "0", "neuron.twin": "",
               "backend.name": "ideal", "backend.record": ""}
        cfg.update(config or {})
        put_attrs(f.create_group("config"), cfg)
        put_attrs(f.create_group("meta"), {"version": "0.1.0", "git_revision": "test",
                                           "seed": np.uint64(1), "threads": 1, "ranks": 1,
                                           "start_time": "2026-01-01T00:00:00Z",
                                           "host": "test", "command": "train"})
        m = f.create_group("metrics")
        e = np.arange(1, epochs + 1)
        cols = {"epoch": e.astype(np.int64), "loss": 1.0 / (e + 1.0),
                "train_accuracy": 1 - 0.5 / e, "val_accuracy": 1 - 0.55 / e,
                "test_accuracy": 1 - 0.6 / e, "hidden_rate": 2.0 + 0.1 * e, "seconds": 0.1 * e}
        for k, v in cols.items():
            m.create_dataset(k, data=v, maxshape=(None,), chunks=(64,))
        m.attrs["epochs_complete"] = np.int64(epochs)
        if epochs:
            f["params/hidden0/w_in"] = rng.normal(size=(5, 20)).astype(np.float32)
            f["params/readout/w_in"] = rng.normal(size=(20, 3)).astype(np.float32)
            for layer, n in (("hidden0", 20), ("readout", 3)):
                z = rng.normal(size=n) if mismatch else np.zeros(n)
                for p, nominal in (("tau_mem", 6e-3), ("tau_syn", 6e-3), ("v_th", 1.0),
                                   ("v_leak", 0.0), ("v_reset", 0.0), ("gain", 1.0)):
                    f["mismatch/%s/%s" % (layer, p)] = (nominal * (1 + 0.2 * z)
                                                        if p in ("tau_mem", "v_th")
                                                        else np.full(n, nominal)).astype(np.float32)
                f["mismatch/%s/refrac" % layer] = np.zeros(n, dtype=np.int32)
        s = f.create_group("summary")
        base = {"test_accuracy": 0.9, "epochs": np.int64(epochs), "seconds": 1.0}
        if pulses:
            base["prog_pulses_per_epoch"] = 3000.0 + 100 * np.arange(epochs)
        base.update(summary)
        put_attrs(s, base)
    return path


def write_recording(path, membrane=True):
    """A backend recording (README.md, "Recording format"): one run, 5-8-3."""
    rng = np.random.default_rng(2)
    T, B, n_in, sizes = 30, 2, 5, [8, 3]
    with h5py.File(path, "w") as f:
        put_attrs(f, {"format": "spikeloop-recording", "format_version": 1,
                      "backend": "ideal", "created": "2026-01-01T00:00:00Z"})
        put_attrs(f.create_group("setup"), {"n_in": 5, "n_layers": 1, "sizes": sizes,
                                            "recurrent": [0, 0], "dt": 1e-3, "max_steps": T,
                                            "max_batch": B, "w_unit": [1.0, 1.0],
                                            "options": ""})
        put_attrs(f.create_group("caps"), {"time_scale": 1.0, "membrane_gain": 1.0,
                                           "membrane_units": "model", "sample_period": 1e-3})
        r = f.create_group("runs/0")
        x = np.zeros((T, B, n_in), np.uint8)
        x[rng.integers(0, T, 5), 0, np.arange(5)] = 1
        r["x"] = x
        r["weights"] = np.zeros((2, 2), np.int64)
        n = 40
        r["spike_sample"] = rng.integers(0, B, n).astype(np.uint32)
        r["spike_neuron"] = rng.integers(0, sizes[0], n).astype(np.uint32)
        r["spike_time"] = rng.uniform(0, T * 1e-3, n)
        v = np.cumsum(rng.normal(0, 0.2, (T + 1 if membrane else 0, B, 11)), axis=0)
        r["membrane"] = v.astype(np.float32)
        put_attrs(r["membrane"], {"sample_t0": 0.0, "sample_period": 1e-3})
        f["runs"].attrs["count"] = np.int64(1)
    return path


def write_twin(path, spread):
    """A twin (README.md, "Twin"): 30 neurons, relative spread `spread`."""
    rng = np.random.default_rng(3)
    n = 30
    with h5py.File(path, "w") as f:
        put_attrs(f, {"format": "spikeloop-twin", "format_version": 1, "dt": 1e-3,
                      "n_neurons": n, "source": "h5py"})
        for p, nominal in (("tau_mem", 6e-3), ("tau_syn", 6e-3), ("v_th", 1.0),
                           ("v_leak", 0.0), ("v_reset", -0.4), ("gain", 1.0)):
            z = rng.normal(size=n)
            f["mismatch/global/" + p] = (nominal + spread * (abs(nominal) or 1) * z).astype(np.float32)
            f["se/global/" + p] = np.full(n, 1e-3, np.float32)
        f["mismatch/global/refrac"] = np.zeros(n, np.int32)
        f["flags"] = np.zeros(n, np.uint32)
    return path


@pytest.fixture(scope="session")
def h5py_logs(tmp_path_factory):
    """Logs written with h5py: {name: path}."""
    d = tmp_path_factory.mktemp("h5py")
    params = ("tau_mem", "tau_syn", "v_th", "v_leak", "v_reset")
    twin_summary = {}
    for i, p in enumerate(params + ("gain_c", "refrac_s")):
        twin_summary["fit_%s_median" % p] = 0.005 * (i + 1)
        twin_summary["fit_%s_p95" % p] = 0.02 * (i + 1)
    for p in params:
        twin_summary.update({"spread_before_%s" % p: 0.2, "spread_after_%s" % p: 0.01,
                             "measured_spread_%s_before" % p: 0.19,
                             "measured_spread_%s_after" % p: 0.005})
    sigma = np.array([0, 0.1, 0.2, 0.3])
    return {
        "train": write_runlog(d / "train.h5", {"val_accuracy": 0.88}, epochs=4, mismatch=True,
                              pulses=True),
        "twin_loop": write_runlog(d / "twin_loop.h5", twin_summary, epochs=3),
        "sweep": write_runlog(d / "sweep.h5", {"sigma": sigma, "acc_deployed": 0.9 - sigma,
                                               "acc_loop": 0.92 - 0.1 * sigma}),
        "mcnn": write_runlog(d / "mcnn.h5", {
            "acc_software": 0.98, "acc_transfer": 0.9, "acc_hybrid": 0.96,
            "drift_days": np.array([0.0, 1, 3, 10, 30]),
            "drift_acc": np.array([0.96, 0.95, 0.95, 0.93, 0.9]),
            "fashion_acc_software": 0.85, "fashion_drift_days": np.array([0.0, 1, 3, 10, 30]),
            "fashion_drift_acc": np.array([0.8, 0.79, 0.78, 0.76, 0.7])}),
        "dyn": write_runlog(d / "dyn.h5", {
            "pareto_acc": np.array([0.9, 0.95, 0.97]),
            "pareto_compute": np.array([0.3, 0.45, 0.7]), "val_acc_tpe": 0.95,
            "val_compute_tpe": 0.45, "val_acc_grid": 0.94, "val_compute_grid": 0.5,
            "acc_full": 0.975, "acc_dynamic": 0.97, "compute_reduction": 0.55,
            "dataset": "mnist"}),
        "noise": write_runlog(d / "noise.h5", {
            "write_noise": np.array([0, 0.1, 0.2, 0.3]),
            "acc_ternary": np.array([0.97, 0.96, 0.95, 0.9]),
            "acc_fp": np.array([0.98, 0.97, 0.92, 0.8]),
            "acc_ternary_full": np.array([0.97, 0.96, 0.91, 0.73]),
            "acc_fp_full": np.array([0.98, 0.95, 0.65, 0.31]), "dataset": "mnist"}),
        "rec": write_recording(d / "rec.h5"),
        "twin": write_twin(d / "twin.h5", 0.2),
        "twin_cal": write_twin(d / "twin_cal.h5", 0.01),
    }
