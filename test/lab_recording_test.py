"""lab_recording_test.py -- for test/test_lab_recording.sh: writes a lab's
characterisation recording from an independent integrator (RK4 on the
continuous LIF equations, not the library's emulator), per-neuron stimuli,
readout noise and an 8-bit ADC, with h5py's defaults; or compares
`spikeloop fit --values` against the generating truth.

  lab_recording_test.py write REC.h5 TRUTH.npz [--broken KIND]
  lab_recording_test.py compare VALUES.h5 TRUTH.npz

The equations (hardware seconds, volts; t = 0 the onset of each protocol):
  decay    V(t<=0) = level (clamp); tau_m dV/dt = v_leak - V
  psp      tau_m dV/dt = v_leak - V + tau_m I_syn, I_syn(0+) = g w, tau_s dI_syn/dt = -I_syn
  current  tau_m dV/dt = v_leak - V + R I; at V = v_th a spike, V held at
           v_reset for t_ref, then free again
  ramp     tau_m dV/dt = v_leak - V + R I_end t / duration until the first
           spike (then V held at v_reset for t_ref, the drive off); for the
           odd neurons only, whose v_th the fit then takes from it
"""
import sys
import numpy as np
import h5py

N = 24                       # neurons; ids are not 0..N-1 (a subset of a chip)
IDS = np.arange(N) * 3 + 5
PERIOD = 0.4e-6              # sampling period, hardware s
SUB = 80                     # RK4 steps per sample
VAZ, VPU = 0.4, 0.25         # the lab's volt mapping: V = 0.4 + 0.25 * model units
ADC_VPC, ADC_OFF, BITS = 0.8 / 255, 0.1, 8
NOISE = 2e-3                 # readout noise, V rms (before quantisation)
DELAY, RES = 0.1e-6, 0.02e-6 # spike stamp delay and resolution, s
R_OHM = 1e8


def rk4(f, y, dt):
    k1 = f(y); k2 = f(y + dt / 2 * k1); k3 = f(y + dt / 2 * k2); k4 = f(y + dt * k3)
    return y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def subthreshold(vl, tm, ts, v0, i0, n_post):
    """V at t = PERIOD, 2 PERIOD, ... from V(0) = v0, I_syn(0) = i0 (V/s)."""
    y = np.stack([v0.astype(float), i0.astype(float)])
    f = lambda y: np.stack([(vl - y[0]) / tm + y[1], -y[1] / ts])
    out = np.empty((vl.size, n_post))
    for j in range(n_post):
        for _ in range(SUB):
            y = rk4(f, y, PERIOD / SUB)
        out[:, j] = y[0]
    return out


def spiking(vl, tm, vth, vr, tref, ri, n_post):
    """V at t = PERIOD, ... from rest under R I = ri; spikes (row, crossing time):
    the crossing by linear interpolation inside the step, the hold released
    inside a step."""
    h = PERIOD / SUB
    V = vl.astype(float).copy()
    release = np.full(vl.size, -np.inf)
    out = np.empty((vl.size, n_post))
    spikes = []
    f = lambda v: (vl + ri - v) / tm
    for j in range(n_post):
        for s in range(SUB):
            t = (j * SUB + s) * h
            t1 = t + h
            start = np.maximum(release, t)
            dt = np.clip(t1 - start, 0.0, None)
            Vn = rk4(f, V, dt)
            for r in np.nonzero((dt > 0) & (Vn >= vth))[0]:
                tc = start[r] + (vth[r] - V[r]) / (Vn[r] - V[r]) * dt[r]
                spikes.append((r, tc))
                release[r] = tc + tref[r]
                Vn[r] = vr[r]
                if release[r] < t1:
                    Vn[r] = rk4(lambda v: (vl[r] + ri[r] - v) / tm[r], vr[r], t1 - release[r])
            V = Vn
        out[:, j] = V
    return out, spikes


def ramp(vl, tm, vth, vr, tref, ri_end, T, n_post):
    """V at t = PERIOD, ... from rest under R I = ri_end t / T until the first
    spike; first crossing times (row, t)."""
    h = PERIOD / SUB
    V = vl.astype(float).copy()
    on = np.ones(vl.size, bool)
    release = np.full(vl.size, -np.inf)
    out = np.empty((vl.size, n_post))
    spikes = []
    for j in range(n_post):
        for s in range(SUB):
            t = (j * SUB + s) * h
            free = release <= t
            # RK4 in t and V with the drive on until the first spike
            f = lambda tt, v: (vl + on * ri_end * tt / T - v) / tm
            k1 = f(t, V); k2 = f(t + h / 2, V + h / 2 * k1)
            k3 = f(t + h / 2, V + h / 2 * k2); k4 = f(t + h, V + h * k3)
            Vn = np.where(free, V + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), vr)
            for r in np.nonzero(on & (Vn >= vth))[0]:
                tc = t + (vth[r] - V[r]) / (Vn[r] - V[r]) * h
                spikes.append((r, tc))
                on[r] = False
                release[r] = tc + tref[r]
                Vn[r] = vr[r]
            V = Vn
        out[:, j] = V
    return out, spikes


def adc(v, rng):
    """volts -> 8-bit codes with readout noise."""
    codes = np.round((v + rng.normal(0.0, NOISE, v.shape) - ADC_OFF) / ADC_VPC)
    return np.clip(codes, 0, 2 ** BITS - 1).astype(np.int64)


def truth(rng):
    u = lambda lo, hi: rng.uniform(lo, hi, N)
    return dict(v_leak=u(0.38, 0.44), tau_mem=u(6e-6, 11e-6), tau_syn=u(2.5e-6, 5e-6),
                v_th=u(0.62, 0.70), v_reset=u(0.28, 0.34), refrac_s=u(1.5e-6, 3e-6),
                gain_c=u(1.5e4, 2.5e4))


def write(path, truth_path, broken=None):
    rng = np.random.default_rng(20)
    T = truth(rng)
    vl, tm, ts = T["v_leak"], T["tau_mem"], T["tau_syn"]
    f = h5py.File(path, "w")
    f.attrs["format"] = "spikeloop-characterisation"
    f.attrs["format_version"] = 1
    f.attrs["membrane_units"] = "adc"
    f.attrs["adc_bits"] = BITS
    f.attrs["adc_volts_per_code"] = ADC_VPC
    f.attrs["adc_offset"] = ADC_OFF
    if broken != "no_volt_map":
        f.attrs["volt_at_zero"] = VAZ
        f.attrs["volt_per_unit"] = VPU
    f.attrs["time_scale"] = 1e-3
    f.attrs["dt"] = 1e-3
    f.attrs["spike_delay"] = DELAY
    f["neurons"] = IDS
    # one relaxation per neuron from its own clamp level (volts), 4 trials
    n_pre, n_post, B = 10, 100, 4
    time = np.arange(-n_pre, n_post + 1) * PERIOD
    level = 0.55 + 0.1 * rng.uniform(size=N)
    v = subthreshold(vl, tm, ts, level, np.zeros(N), n_post)
    tr = np.concatenate([np.repeat(level[:, None], n_pre + 1, 1), v], 1)
    g = f.create_group("protocols/relax")
    g.attrs["protocol"] = "decay"
    g.attrs["level_units"] = "V"
    g["level"] = level                                  # a per-neuron dataset
    g["membrane"] = np.stack([adc(tr, rng) for _ in range(B)], 1)
    g["time"] = time
    # PSPs, per-neuron weights, in two halves each with its own neuron list, 8 trials
    w = 1.0 + rng.uniform(size=N)
    n_post = 80
    time = np.arange(-n_pre, n_post + 1) * PERIOD
    v = subthreshold(vl, tm, ts, vl, T["gain_c"] * w, n_post)
    tr = np.concatenate([np.repeat(vl[:, None], n_pre + 1, 1), v], 1)
    for half, rows in (("psp_a", np.arange(0, N, 2)), ("psp_b", np.arange(1, N, 2))):
        g = f.create_group("protocols/" + half)
        g.attrs["protocol"] = "psp"
        g.attrs["weight"] = w[rows]                     # a per-neuron attribute
        g["neurons"] = IDS[rows]
        g["membrane"] = np.stack([adc(tr[rows], rng) for _ in range(8)], 1)
        g["time"] = time
    # a constant current in amperes through R, 3 trials; spikes as events
    ri = 0.32 + 0.1 * rng.uniform(size=N)
    n_post, B = 150, 3
    time = np.arange(-n_pre, n_post + 1) * PERIOD
    v, spikes = spiking(vl, tm, T["v_th"], T["v_reset"], T["refrac_s"], ri, n_post)
    tr = np.concatenate([np.repeat(vl[:, None], n_pre + 1, 1), v], 1)
    g = f.create_group("protocols/drive")
    g.attrs["protocol"] = "current"
    g.attrs["current_units"] = "ampere"
    g.attrs["r_ohm"] = R_OHM
    g["current"] = ri / R_OHM
    g["membrane"] = np.stack([adc(tr, rng) for _ in range(B)], 1)
    g["time"] = time
    sn, st, stime = [], [], []
    for b in range(B):
        for r, tc in spikes:
            sn.append(r); st.append(b)
            stime.append(np.ceil((tc + DELAY) / RES) * RES)  # stamped on the RES grid
    if broken == "absolute_spikes":
        stime = [s + 1.0 for s in stime]
    g["spike_neuron"] = np.array(sn)
    g["spike_trial"] = np.array(st)
    g["spike_time"] = np.array(stime)
    g["spike_time"].attrs["resolution"] = RES
    # a current ramp on the odd neurons, 2 trials, R I in volts reaching ri_end at 40 us
    rows = np.arange(1, N, 2)
    ri_end, Tr, n_post = 0.5 + 0.2 * rng.uniform(size=rows.size), 40e-6, 100
    v, spikes = ramp(vl[rows], tm[rows], T["v_th"][rows], T["v_reset"][rows],
                     T["refrac_s"][rows], ri_end, Tr, n_post)
    g = f.create_group("protocols/ramp")
    g.attrs["protocol"] = "ramp"
    g.attrs["current_units"] = "RI_volts"
    g.attrs["current"] = ri_end
    g.attrs["duration"] = Tr
    g["neurons"] = IDS[rows]
    tr = np.concatenate([np.repeat(vl[rows][:, None], n_pre + 1, 1), v], 1)
    g["membrane"] = np.stack([adc(tr, rng) for _ in range(2)], 1)
    g["time"] = np.arange(-n_pre, n_post + 1) * PERIOD
    g["spike_neuron"] = np.array([r for b in range(2) for r, _t in spikes])
    g["spike_trial"] = np.array([b for b in range(2) for _ in spikes])
    g["spike_time"] = np.array([np.ceil((tc + DELAY) / RES) * RES for b in range(2)
                                for _r, tc in spikes])
    g["spike_time"].attrs["resolution"] = RES
    f.close()
    np.savez(truth_path, ids=IDS, ramp_rows=rows, **T)


def compare(values_path, truth_path):
    T = np.load(truth_path)
    f = h5py.File(values_path, "r")
    assert (f["neurons"][:] == T["ids"]).all(), "neuron order"
    bounds = dict(tau_mem=0.02, tau_syn=0.02, v_th=0.02, v_leak=0.02, v_reset=0.05,
                  refrac_s=0.05, gain_c=None)
    bad = 0
    print("param      median rel. error   95th pct   max        (hardware units; bound)")
    for p, bound in bounds.items():
        e = np.abs(f["hw/" + p][:] / T[p] - 1)
        e[np.isnan(e)] = np.inf
        med = np.median(e)
        ok = bound is None or med <= bound
        bad += not ok
        mv = ""
        if p.startswith("v_"):
            mv = "  (median |error| %.2f mV)" % (1e3 * np.median(np.abs(f["hw/" + p][:] - T[p])))
        print("%-10s %.5f            %.5f    %.5f    %s%s" % (p, med, np.percentile(e, 95), e.max(),
              "-" if bound is None else ("ok <= %g" % bound if ok else "FAIL > %g" % bound), mv))
    # the threshold of the neurons with a ramp (taken from it) and of the others
    e = np.abs(f["hw/v_th"][:] / T["v_th"] - 1)
    odd = np.zeros(e.size, bool)
    odd[T["ramp_rows"]] = True
    for name, sel in (("from the ramp", odd), ("from the constant current", ~odd)):
        med = np.median(e[sel])
        bad += not med <= 0.02
        print("v_th %-26s median %.5f  max %.5f  %s" % (name, med, e[sel].max(),
              "ok <= 0.02" if med <= 0.02 else "FAIL > 0.02"))
    print("flags:", f["flags"][:].tolist())
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "write":
        broken = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--broken" else None
        write(sys.argv[2], sys.argv[3], broken)
    else:
        sys.exit(compare(sys.argv[2], sys.argv[3]))
