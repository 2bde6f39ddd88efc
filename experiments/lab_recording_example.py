#!/usr/bin/python3
"""lab_recording_example.py -- how a lab writes its own characterisation
recording for `spikeloop fit` (format: README.md, "Recording format").

It builds plain NumPy arrays as a lab's setup would give them -- ADC codes
of the membrane, per-neuron stimuli in volts, one relaxation per neuron --
here from a small simulated chip with known parameters, writes them with
h5py's defaults, then runs

    spikeloop characterise --check LAB.h5
    spikeloop fit --recording LAB.h5 --out twin.h5 --values values.h5

and prints each fitted parameter's error against the generating one.

    /usr/bin/python3 experiments/lab_recording_example.py [--spikeloop ./spikeloop] [--dir DIR]

The simulated chip (hardware seconds and volts; each protocol's onset at
t = 0):
    decay    V = level for t <= 0, then  tau_m dV/dt = v_leak - V
    psp      tau_m dV/dt = v_leak - V + tau_m I,  I(0+) = g w,  tau_s dI/dt = -I
    current  tau_m dV/dt = v_leak - V + R I; at V = v_th a spike, V held at
             v_reset for t_ref, then free
integrated exactly between events on a 10 ns grid.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--spikeloop", default="./spikeloop", help="the spikeloop binary")
ap.add_argument("--dir", default=None, help="where to write (default: a temporary directory)")
args = ap.parse_args()
out_dir = args.dir or tempfile.mkdtemp(prefix="sl_lab_example.")
os.makedirs(out_dir, exist_ok=True)
rng = np.random.default_rng(7)

# ---- the lab's chip: 32 neurons with ids 100..131 (hidden truth, volts and seconds)
n = 32
ids = np.arange(100, 100 + n)
truth = {
    "v_leak": rng.uniform(0.35, 0.45, n), "tau_mem": rng.uniform(5e-6, 12e-6, n),
    "tau_syn": rng.uniform(2e-6, 6e-6, n), "v_th": rng.uniform(0.60, 0.70, n),
    "v_reset": rng.uniform(0.25, 0.35, n), "refrac_s": rng.uniform(1e-6, 3e-6, n),
    "gain_c": rng.uniform(1.5e4, 3e4, n),  # V/s per weight unit
}
vl, tm, ts = truth["v_leak"], truth["tau_mem"], truth["tau_syn"]

# ---- the lab's readout: 8-bit ADC, 0.1 V at code 0, 0.8 V full scale, 2 mV noise
ADC_VPC, ADC_OFF, NOISE = 0.8 / 255, 0.1, 2e-3
def adc(volts):
    codes = np.round((volts + rng.normal(0, NOISE, volts.shape) - ADC_OFF) / ADC_VPC)
    return np.clip(codes, 0, 255).astype(np.int64)

period, sub, n_pre = 0.5e-6, 50, 10  # sampling period (s), grid steps per sample, samples before onset
h = period / sub

def simulate(v0, i0, drive, n_post, v_th=None):
    """Membrane at t = -n_pre*period ... n_post*period and the crossing times."""
    V, I = v0.copy(), i0.copy()
    release = np.full(n, -np.inf)
    trace, crossings = [v0.copy()] * n_pre + [V.copy()], []
    for k in range(n_post * sub):
        t = k * h
        vinf = vl + drive
        free = release <= t
        V = np.where(free, vinf + (V - vinf) * np.exp(-h / tm), V)
        # the synaptic current's exact contribution over a step
        a_m, a_s = np.exp(-h / tm), np.exp(-h / ts)
        V = V + np.where(free, I * (a_s - a_m) / (1 / tm - 1 / ts), 0)
        I = I * a_s
        if v_th is not None:
            for r in np.nonzero(free & (V >= v_th))[0]:
                crossings.append((r, t + h))
                V[r], release[r] = truth["v_reset"][r], t + h + truth["refrac_s"][r]
        if (k + 1) % sub == 0:
            trace.append(V.copy())
    return np.array(trace).T, crossings

trials = 4
rec = os.path.join(out_dir, "LAB.h5")
with h5py.File(rec, "w") as f:
    # what the file is, and its units
    f.attrs["format"] = "spikeloop-characterisation"
    f.attrs["format_version"] = 1
    f.attrs["membrane_units"] = "adc"
    f.attrs["adc_bits"] = 8
    f.attrs["adc_volts_per_code"] = ADC_VPC      # the known ADC mapping replaces a second decay
    f.attrs["adc_offset"] = ADC_OFF
    f.attrs["volt_at_zero"] = 0.4                # the host model's units: V = 0.4 + 0.25 * v
    f.attrs["volt_per_unit"] = 0.25
    f.attrs["time_scale"] = 1e-3                 # hardware s per model s
    f.attrs["dt"] = 1e-3
    f.attrs["spike_delay"] = 0.0
    f["neurons"] = ids

    # one relaxation per neuron, from its own clamp level (volts)
    level = rng.uniform(0.5, 0.6, n)
    v, _ = simulate(level, np.zeros(n), 0.0, 100)
    g = f.create_group("protocols/relax")
    g.attrs["protocol"] = "decay"
    g.attrs["level_units"] = "V"
    g.attrs["level"] = level
    g["membrane"] = np.stack([adc(v) for _ in range(trials)], axis=1)  # (neurons, trials, samples)
    g["time"] = np.arange(-n_pre, 101) * period

    # one PSP per neuron, per-neuron weights
    weight = rng.uniform(1.0, 2.0, n)
    v, _ = simulate(vl, truth["gain_c"] * weight, 0.0, 80)
    g = f.create_group("protocols/psp")
    g.attrs["protocol"] = "psp"
    g.attrs["weight"] = weight
    g["membrane"] = np.stack([adc(v) for _ in range(trials)], axis=1)
    g["time"] = np.arange(-n_pre, 81) * period

    # a constant drive per neuron, stated as R I in volts; spikes as events
    ri = rng.uniform(0.35, 0.45, n)
    v, crossings = simulate(vl, np.zeros(n), ri, 150, v_th=truth["v_th"])
    g = f.create_group("protocols/drive")
    g.attrs["protocol"] = "current"
    g.attrs["current_units"] = "RI_volts"
    g.attrs["current"] = ri
    g["membrane"] = np.stack([adc(v) for _ in range(trials)], axis=1)
    g["time"] = np.arange(-n_pre, 151) * period
    g["spike_neuron"] = np.array([r for _ in range(trials) for r, _t in crossings])
    g["spike_trial"] = np.array([b for b in range(trials) for _ in crossings])
    g["spike_time"] = np.array([t for _ in range(trials) for _r, t in crossings])
    g["spike_time"].attrs["resolution"] = h      # stamped on the simulation grid

def run(*cmd):
    print("$ spikeloop " + " ".join(cmd))
    r = subprocess.run([args.spikeloop, *cmd], capture_output=True, text=True)
    print(r.stdout + r.stderr, end="")
    if r.returncode:
        sys.exit("spikeloop %s failed (exit %d)" % (cmd[0], r.returncode))

twin, values = os.path.join(out_dir, "twin.h5"), os.path.join(out_dir, "values.h5")
run("characterise", "--check", rec)
run("fit", "--recording", rec, "--out", twin)
run("fit", "--recording", rec, "--out", twin, "--values", values)

with h5py.File(values, "r") as f:
    assert (f["neurons"][:] == ids).all()
    print("\nparam      median |rel. error|   max        (fitted against the generating values)")
    for p in ("tau_mem", "tau_syn", "v_th", "v_leak", "v_reset", "refrac_s", "gain_c"):
        e = np.abs(f["hw/" + p][:] / truth[p] - 1)
        print("%-10s %.4f               %.4f" % (p, np.nanmedian(e), np.nanmax(e)))
    print("flags:", int((f["flags"][:] != 0).sum()), "of", n, "neurons flagged")
print("files in", out_dir)
