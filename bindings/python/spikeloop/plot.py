"""spikeloop.plot -- the figures of spikeloop's HDF5 files, as PNG and SVG.

    PYTHONPATH=bindings/python /usr/bin/python3 -m spikeloop.plot LOG.h5 [MORE.h5 ...]
        [--out DIR] [--format png,svg]

Every file is recognised by its root attribute `format` (a run log has none)
and each figure is drawn from what the files hold (layouts in README.md):

  curves      run log /metrics: loss, accuracies, hidden rate per epoch
              (+ /summary/prog_pulses_per_epoch of a pulse-counting backend)
  raster      one sample of a backend recording (`--record REC.h5`): input
              and hidden spikes, hidden and readout membranes with the
              threshold. The recording is found through the run log's
              /config backend.record, or given on the command line.
  params      run log /mismatch/<layer>/<param>: per-neuron parameters drawn
              (or read from the twin of neuron.twin)
  twins       twin files (`spikeloop fit`): per-neuron fitted parameters of
              each, e.g. the uncalibrated chip against the calibrated one
  fit         twin_loop's /summary: fit error against the hidden truth,
              spread of the parameters before and after calibration
  sweep       mismatch_sweep's /summary: deployed vs in the loop
  drift       mcnn_hybrid's /summary: accuracy days after programming
  pareto      dynresnet / dynpointnet /summary: accuracy against compute
  write_noise ternary_noise's /summary: accuracy against write noise

A figure whose data a file lacks is skipped with one line saying why. Files
are written to DIR (default: the directory of the first file) as
<stem>_<figure>.<format>, stem being the name of the file the figure comes
from. Exit status 0 when at least one figure was written, 1 when none was or
a file cannot be read, 2 for usage errors.

Choices:
- Pure h5py + NumPy + matplotlib (Agg): no dependence on the C extension, so
  logs can be plotted on any machine that has the files.
- Each figure is a function file(s) -> matplotlib Figure that raises Skip
  with a one-line reason when the data is absent; FIGURES lists them, and
  make_figures() is what the CLI and the tests both call.
- Times are shown in model ms (hardware seconds divided by the backend's
  time_scale), membranes in the backend's units, accuracies in %.
"""
import argparse
import os
import sys

import h5py
import numpy as np
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

FORMATS = ("png", "svg")
DPI = 100


class Skip(Exception):
    """A figure cannot be drawn from the files given; str() says why."""


# ------------------------------------------------------------ reading


def attr(obj, name, default=None):
    """Attribute `name` of an h5py object as str / float / ndarray.

    The library writes variable-length strings and scalars; other writers
    (and the characterisation recording) use fixed-length strings and
    1-element arrays: both read the same way here."""
    if name not in obj.attrs:
        return default
    v = obj.attrs[name]
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray):
        if v.dtype.kind in "SO" and v.size == 1:
            x = v.reshape(-1)[0]
            return x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x)
        if v.size == 1 and v.ndim <= 1:
            return v.reshape(-1)[0].item()
    if isinstance(v, np.generic):
        return v.item()
    return v


def summary_array(log, name):
    """A /summary attribute as a 1-D float array (None if absent)."""
    if "summary" not in log or name not in log["summary"].attrs:
        return None
    return np.atleast_1d(np.asarray(log["summary"].attrs[name], dtype=float))


def summary_number(log, name):
    a = summary_array(log, name)
    return None if a is None or a.size != 1 else float(a[0])


def config_value(log, key, default=None):
    if "config" not in log:
        return default
    return attr(log["config"], key, default)


def file_kind(f):
    """'runlog', 'recording', 'twin', 'characterisation', ... or None."""
    fmt = attr(f, "format")
    if fmt:
        return fmt[len("spikeloop-"):] if fmt.startswith("spikeloop-") else fmt
    if "metrics" in f or "summary" in f or "config" in f:
        return "runlog"
    return None


class Source:
    """One open HDF5 file: path, short name (stem), kind."""

    def __init__(self, path):
        self.path = path
        self.stem = os.path.splitext(os.path.basename(path))[0]
        self.h5 = h5py.File(path, "r")
        self.kind = file_kind(self.h5)

    def close(self):
        self.h5.close()


# ------------------------------------------------------------ helpers


def percent(a):
    return 100.0 * np.asarray(a, dtype=float)


def new_figure(nrows, ncols, title, size):
    fig, axes = plt.subplots(nrows, ncols, figsize=size, squeeze=False)
    fig.suptitle(title)
    return fig, axes


def hide_unused(axes, used):
    for ax in axes.flat[used:]:
        ax.set_visible(False)


# Per-neuron parameters: (name, axis label, scale from stored units).
# Times are model seconds, voltages model units (threshold gap ~ 1), gain a
# factor on the weighted input, refrac in time steps (README: configuration).
PARAMS = [
    ("tau_mem", "tau_mem (ms, model time)", 1e3),
    ("tau_syn", "tau_syn (ms, model time)", 1e3),
    ("v_th", "v_th (model units)", 1.0),
    ("v_leak", "v_leak (model units)", 1.0),
    ("v_reset", "v_reset (model units)", 1.0),
    ("gain", "gain (factor, 1 = nominal)", 1.0),
    ("refrac", "refrac (time steps)", 1.0),
]


def varies(a):
    a = np.asarray(a, dtype=float)
    a = a[np.isfinite(a)]
    return a.size > 1 and np.ptp(a) > 1e-6 * max(1.0, np.max(np.abs(a)))


# ------------------------------------------------------------ figures


def fig_curves(log):
    """Training curves from /metrics (rows up to epochs_complete)."""
    if "metrics" not in log:
        raise Skip("no /metrics group")
    m = log["metrics"]
    n = int(attr(m, "epochs_complete", 0) or 0)
    if n == 0:
        raise Skip("no completed epochs in /metrics (this experiment reports in /summary)")
    epoch = m["epoch"][:n] if "epoch" in m else np.arange(1, n + 1)
    pulses = summary_array(log, "prog_pulses_per_epoch")
    panels = 4 if pulses is not None and pulses.size else 3
    fig, axes = new_figure(1, panels, "Training curves: %s" % os.path.basename(log.filename),
                           (4.2 * panels, 4))
    ax = axes[0, 0]
    ax.plot(epoch, m["loss"][:n], "o-", color="C3")
    ax.set_xlabel("epoch (count)")
    ax.set_ylabel("training loss (cross-entropy, nats)")
    ax.set_title("loss")
    ax = axes[0, 1]
    for key, label in (("train_accuracy", "train"), ("val_accuracy", "validation"),
                       ("test_accuracy", "test")):
        if key in m:
            ax.plot(epoch, percent(m[key][:n]), "o-", label=label)
    ax.set_xlabel("epoch (count)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("accuracy")
    ax.legend()
    ax = axes[0, 2]
    ax.plot(epoch, m["hidden_rate"][:n], "o-", color="C4")
    ax.set_xlabel("epoch (count)")
    ax.set_ylabel("hidden rate (spikes / neuron / sample)")
    ax.set_title("hidden activity")
    if panels == 4:
        ax = axes[0, 3]
        k = min(n, pulses.size)
        ax.plot(epoch[:k], pulses[:k], "o-", color="C5")
        ax.set_xlabel("epoch (count)")
        ax.set_ylabel("programming pulses (cumulative, count)")
        ax.set_title("device programming")
    fig.tight_layout()
    return fig


def find_recording(log, given):
    """The recording of a run: one given on the command line, else the file
    /config backend.record names (as written, or next to the log)."""
    if given:
        return given[0], None
    rec = config_value(log, "backend.record", "") or ""
    if not rec:
        return None, ("run logs hold no per-sample spikes or membranes; train with "
                      "--record REC.h5 and keep it where /config backend.record says, "
                      "or pass it after the log")
    for p in (rec, os.path.join(os.path.dirname(log.filename), os.path.basename(rec))):
        if os.path.isfile(p):
            try:
                return Source(p), None
            except OSError as e:
                return None, "cannot read the recording '%s': %s" % (p, e)
    return None, "the run's recording '%s' (/config backend.record) is not there" % rec


def threshold_of(log, layer, neuron):
    """(v_th, v_leak) of one neuron of `layer` in model units, or None."""
    if log is None:
        return None
    path = "mismatch/%s/" % layer
    if path + "v_th" in log and path + "v_leak" in log:
        if neuron >= log[path + "v_th"].shape[0]:
            return None  # the log is of another network than the recording
        return float(log[path + "v_th"][neuron]), float(log[path + "v_leak"][neuron])
    try:
        return float(config_value(log, "neuron.v_th")), float(config_value(log, "neuron.v_leak"))
    except (TypeError, ValueError):
        return None


def fig_raster(rec, log=None):
    """One sample of the last complete run of a backend recording."""
    f = rec.h5
    count = int(attr(f["runs"], "count", 0) or 0) if "runs" in f else 0
    if count == 0:
        raise Skip("the recording %s holds no complete run" % rec.stem)
    run = f["runs/%d" % (count - 1)]
    setup, caps = f["setup"], f["caps"]
    dt = float(attr(setup, "dt"))
    sizes = np.atleast_1d(setup.attrs["sizes"]).astype(int)
    n_layers = int(attr(setup, "n_layers"))
    n_hidden = int(sizes[:n_layers].sum())
    scale = float(attr(caps, "time_scale", 1.0)) or 1.0
    units = attr(caps, "membrane_units", "model")
    b = 0
    x = run["x"][:, b, :]  # (T, n_in)
    ts, ci = np.nonzero(x)
    sel = run["spike_sample"][:] == b
    s_neuron = run["spike_neuron"][:][sel]
    s_time = run["spike_time"][:][sel] / scale * 1e3
    hid = s_neuron < n_hidden
    has_membrane = "membrane" in run and run["membrane"].shape[0] > 0
    fig, axes = new_figure(2, 2, "Sample %d of run %d of %s (backend %s)"
                           % (b, count - 1, rec.stem, attr(f, "backend", "?")), (12, 8))
    ax = axes[0, 0]
    ax.scatter(ts * dt * 1e3, ci, s=12, marker="|", color="k")
    ax.set_xlabel("time (ms, model time)")
    ax.set_ylabel("input channel (index)")
    ax.set_ylim(-0.5, x.shape[1] - 0.5)
    ax.set_title("input spikes (%d)" % ts.size)
    ax = axes[0, 1]
    ax.scatter(s_time[hid], s_neuron[hid], s=6, marker="|", color="C0")
    ax.set_xlabel("time (ms, model time)")
    ax.set_ylabel("hidden neuron (global index)")
    ax.set_ylim(-0.5, n_hidden - 0.5)
    ax.set_xlim(0, x.shape[0] * dt * 1e3)
    ax.set_title("hidden spikes (%d)" % int(hid.sum()))
    if not has_membrane:
        for ax in axes[1]:
            ax.text(0.5, 0.5, "no membrane samples in this recording", ha="center",
                    transform=ax.transAxes)
            ax.set_axis_off()
        fig.tight_layout()
        return fig
    mem = run["membrane"]
    t0 = float(attr(mem, "sample_t0", 0.0))
    period = float(attr(mem, "sample_period", 1.0))
    v = mem[:, b, :]  # (n_samples, n_neurons)
    tm = (t0 + period * np.arange(v.shape[0])) / scale * 1e3
    # the most active hidden neurons of layer 0 (hidden0 ids start at 0), up to 4
    first = sizes[0]
    counts = np.bincount(s_neuron[s_neuron < first].astype(int), minlength=first)
    show = np.argsort(-counts, kind="stable")[:4]
    gain = float(attr(caps, "membrane_gain", 1.0))
    ax = axes[1, 0]
    for k, i in enumerate(show):
        line, = ax.plot(tm, v[:, i], color="C%d" % k, label="neuron %d (%d spikes)"
                        % (i, counts[i]))
        th = threshold_of(log, "hidden0", i)
        if th is None:
            continue
        v_th, v_leak = th
        if units == "model":
            level = v_th
        else:  # observed = baseline + v_model * gain; the first sample is at rest
            level = v[0, i] + (v_th - v_leak) * gain
        ax.axhline(level, color=line.get_color(), ls="--", lw=1)
    # the host model's threshold: a chip's own (hidden) thresholds differ
    ax.plot([], [], "k--", lw=1, label="threshold, host model" + (
        "" if units == "model" else " (first sample + (v_th - v_leak) x gain)"))
    ax.set_xlabel("time (ms, model time)")
    ax.set_ylabel("membrane (%s units)" % units)
    ax.set_title("hidden membranes" + ("" if log is not None else " (no run log: no threshold)"))
    ax.legend(fontsize=8)
    ax = axes[1, 1]
    for k in range(int(sizes[n_layers])):
        ax.plot(tm, v[:, n_hidden + k], label="readout %d" % k)
    ax.set_xlabel("time (ms, model time)")
    ax.set_ylabel("membrane (%s units)" % units)
    ax.set_title("readout membranes")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def fig_params(log):
    """Histograms of the per-neuron parameters under /mismatch that vary."""
    if "mismatch" not in log:
        raise Skip("no /mismatch group")
    found = []
    for name, label, k in PARAMS:
        layers = [(lay, log["mismatch"][lay][name][:]) for lay in log["mismatch"]
                  if name in log["mismatch"][lay]]
        layers = [(lay, a) for lay, a in layers if varies(a)]
        if layers:
            found.append((name, label, k, layers))
    if not found:
        raise Skip("every neuron has the nominal parameters (no mismatch drawn)")
    twin = config_value(log, "neuron.twin", "") or ""
    what = "from the twin %s" % os.path.basename(twin) if twin else "drawn (device mismatch)"
    cols = min(3, len(found))
    rows = (len(found) + cols - 1) // cols
    fig, axes = new_figure(rows, cols, "Per-neuron parameters %s: %s"
                           % (what, os.path.basename(log.filename)), (4.2 * cols, 3.5 * rows))
    for ax, (name, label, k, layers) in zip(axes.flat, found):
        for lay, a in layers:
            ax.hist(np.asarray(a, dtype=float) * k, bins=20, alpha=0.6, label=lay)
        ax.set_xlabel(label)
        ax.set_ylabel("neurons (count)")
        ax.set_title(name)
        ax.legend(fontsize=8)
    hide_unused(axes, len(found))
    fig.tight_layout()
    return fig


def twin_label(tw):
    """File stem, and whether the twin's recording came from a calibrated chip."""
    src = attr(tw.h5, "source", "") or ""
    if "--recording" in src:
        rec = src.split("--recording", 1)[1].split()[0]
        for p in (rec, os.path.join(os.path.dirname(tw.path), os.path.basename(rec))):
            if os.path.isfile(p):
                try:
                    with h5py.File(p, "r") as r:
                        opts = attr(r, "options", "") or ""
                    return tw.stem + (" (calibrated chip)" if "calib=" in opts
                                      else " (uncalibrated chip)")
                except OSError:
                    break
    return tw.stem


def fig_twins(twins):
    """Histograms of each twin's fitted per-neuron parameters, overlaid."""
    if not twins:
        raise Skip("no twin file given (spikeloop fit --out TWIN.h5)")
    found = []
    for name, label, k in PARAMS:
        sets = [(twin_label(t), t.h5["mismatch/global/" + name][:]) for t in twins
                if "mismatch/global/" + name in t.h5]
        if any(varies(a) for _, a in sets):
            found.append((name, label, k, sets))
    if not found:
        raise Skip("the twins' parameters are all equal")
    cols = min(3, len(found))
    rows = (len(found) + cols - 1) // cols
    fig, axes = new_figure(rows, cols, "Per-neuron parameters of fitted twins: "
                           + ", ".join(t.stem for t in twins), (4.2 * cols, 3.5 * rows))
    for ax, (name, label, k, sets) in zip(axes.flat, found):
        data = [np.asarray(a, dtype=float)[np.isfinite(a)] * k for _, a in sets]
        lo = min(d.min() for d in data if d.size)
        hi = max(d.max() for d in data if d.size)
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 30)
        for (lab, _), d in zip(sets, data):
            ax.hist(d, bins=bins, alpha=0.6, label=lab)
        ax.set_xlabel(label)
        ax.set_ylabel("neurons (count)")
        ax.set_title(name)
        ax.legend(fontsize=7)
    hide_unused(axes, len(found))
    fig.tight_layout()
    return fig


def fig_fit(log):
    """twin_loop: fit error against the hidden truth; calibration spread."""
    if "summary" not in log:
        raise Skip("no /summary")
    keys = sorted(log["summary"].attrs.keys())
    fitted = [k[4:-7] for k in keys if k.startswith("fit_") and k.endswith("_median")]
    if not fitted:
        raise Skip("no fit_<param>_median in /summary (twin_loop logs the fit against the "
                   "hidden truth)")
    # spread_before_<p> / spread_after_<p>: the true parameters' spread around
    # their targets (truth_spread_<p>_before / _after in logs before 0.1.0's
    # calibration of every word)
    spread = [k[14:] for k in keys if k.startswith("spread_before_")]
    truth = ("spread_before_%s", "spread_after_%s")
    if not spread:
        spread = [k[13:-7] for k in keys if k.startswith("truth_spread_") and k.endswith("_before")]
        truth = ("truth_spread_%s_before", "truth_spread_%s_after")
    panels = 2 if spread else 1
    fig, axes = new_figure(1, panels, "Digital twin fit residuals and calibration: %s"
                           % os.path.basename(log.filename), (6 * panels, 4.5))
    ax = axes[0, 0]
    pos = np.arange(len(fitted))
    med = [summary_number(log, "fit_%s_median" % p) for p in fitted]
    p95 = [summary_number(log, "fit_%s_p95" % p) for p in fitted]
    ax.bar(pos - 0.2, percent(med), 0.4, label="median")
    ax.bar(pos + 0.2, percent([np.nan if v is None else v for v in p95]), 0.4, label="95th percentile")
    ax.set_xticks(pos)
    ax.set_xticklabels(fitted, rotation=30)
    ax.set_yscale("log")
    ax.set_xlabel("fitted parameter")
    ax.set_ylabel("|fitted - true| / true (%)")
    ax.set_title("fit against the hidden truth")
    ax.legend(fontsize=8)
    if spread:
        ax = axes[0, 1]
        pos = np.arange(len(spread))
        w = 0.2
        for j, (key, lab) in enumerate(((truth[0], "truth, nominal words"),
                                        (truth[1], "truth, calibrated"),
                                        ("measured_spread_%s_before", "measured, nominal"),
                                        ("measured_spread_%s_after", "measured, calibrated"))):
            vals = [summary_number(log, key % p) for p in spread]
            ax.bar(pos + (j - 1.5) * w, percent([np.nan if v is None else v for v in vals]), w,
                   label=lab)
        ax.set_xticks(pos)
        ax.set_xticklabels(spread, rotation=30)
        ax.set_yscale("log")
        ax.set_xlabel("parameter")
        ax.set_ylabel("spread across circuits, sd / mean (%)")
        ax.set_title("calibration")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def fig_sweep(log):
    """mismatch_sweep: test accuracy against the mismatch sd."""
    sigma = summary_array(log, "sigma")
    dep, loop = summary_array(log, "acc_deployed"), summary_array(log, "acc_loop")
    if sigma is None or dep is None or loop is None:
        raise Skip("no sigma / acc_deployed / acc_loop arrays in /summary (mismatch_sweep)")
    fig, axes = new_figure(1, 1, "Mismatch sweep: %s" % os.path.basename(log.filename), (6, 4.5))
    ax = axes[0, 0]
    ax.plot(percent(sigma), percent(dep), "o-", label="deployed (trained in simulation)")
    ax.plot(percent(sigma), percent(loop), "s-", label="trained in the loop")
    ax.set_xlabel("mismatch, relative sd of the parameters (%)")
    ax.set_ylabel("test accuracy (%)")
    ax.legend()
    fig.tight_layout()
    return fig


def fig_drift(log):
    """mcnn_hybrid: mean accuracy of the groups days after programming."""
    sets = []
    for prefix, name in (("", "first data set"), ("fashion_", "Fashion-MNIST")):
        days, acc = summary_array(log, prefix + "drift_days"), summary_array(log, prefix + "drift_acc")
        if days is not None and acc is not None and days.size:
            sets.append((prefix, name, days, acc))
    if not sets:
        raise Skip("no drift_days / drift_acc in /summary (mcnn_hybrid)")
    if len(sets) == 1:
        sets[0] = (sets[0][0], "", sets[0][2], sets[0][3])
    fig, axes = new_figure(1, 1, "CIM conductance drift: %s" % os.path.basename(log.filename),
                           (6.5, 4.5))
    ax = axes[0, 0]
    for j, (prefix, name, days, acc) in enumerate(sets):
        line, = ax.plot(days, percent(acc), "o-", color="C%d" % j,
                        label=("after drift " + name).strip())
        for key, ls, lab in (("acc_software", ":", "software (float)"),
                             ("acc_transfer", "-.", "after transfer")):
            v = summary_number(log, prefix + key)
            if v is not None:
                ax.axhline(100 * v, color=line.get_color(), ls=ls, lw=1,
                           label=(lab + " " + name).strip())
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlim(left=0)
    ax.set_xlabel("time after hybrid training (days)")
    ax.set_ylabel("test accuracy, mean of groups (%)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def fig_pareto(log):
    """dynresnet / dynpointnet: the (compute, accuracy) Pareto front."""
    acc, cmp_ = summary_array(log, "pareto_acc"), summary_array(log, "pareto_compute")
    if acc is None or cmp_ is None or not acc.size:
        raise Skip("no pareto_acc / pareto_compute in /summary (dynresnet, dynpointnet)")
    fig, axes = new_figure(1, 1, "Dynamic network, accuracy vs compute: %s (%s)"
                           % (os.path.basename(log.filename),
                              attr(log["summary"], "dataset", "?")), (6.5, 4.5))
    ax = axes[0, 0]
    ax.step(percent(cmp_), percent(acc), "o-", where="post", label="Pareto front (validation)")
    for a, c, m, lab in (("val_acc_tpe", "val_compute_tpe", "*", "chosen thresholds (validation)"),
                         ("val_acc_grid", "val_compute_grid", "s", "best of grid (validation)")):
        va, vc = summary_number(log, a), summary_number(log, c)
        if va is not None and vc is not None:
            ax.plot([100 * vc], [100 * va], m, ms=11 if m == "*" else 7, label=lab)
    full, dyn, red = (summary_number(log, k) for k in ("acc_full", "acc_dynamic",
                                                        "compute_reduction"))
    if full is not None:
        ax.plot([100.0], [100 * full], "D", label="static network (test)")
    if dyn is not None and red is not None:
        ax.plot([100 * (1 - red)], [100 * dyn], "P", ms=9, label="dynamic network (test)")
    ax.set_xlabel("compute (% of the static network's MACs)")
    ax.set_ylabel("accuracy (%)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def fig_write_noise(log):
    """ternary_noise: accuracy against the relative write noise."""
    noise = summary_array(log, "write_noise")
    if noise is None:
        raise Skip("no write_noise in /summary (ternary_noise)")
    fig, axes = new_figure(1, 1, "Write noise, ternary vs full precision: %s"
                           % os.path.basename(log.filename), (6.5, 4.5))
    ax = axes[0, 0]
    for key, fmt, lab in (("acc_ternary", "o-", "ternary, dynamic"),
                          ("acc_ternary_full", "o--", "ternary, static"),
                          ("acc_fp", "s-", "full precision, dynamic"),
                          ("acc_fp_full", "s--", "full precision, static")):
        a = summary_array(log, key)
        if a is not None:
            ax.plot(percent(noise), percent(a), fmt, label=lab)
    ax.set_xlabel("write noise, sd relative to the target conductance (%)")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# (name, function, what it takes): "log" figures run once per run log,
# "recording" once per run log (its recording) or per lone recording,
# "twins" once for all twin files together.
FIGURES = [
    ("curves", fig_curves, "log"),
    ("raster", fig_raster, "recording"),
    ("params", fig_params, "log"),
    ("twins", fig_twins, "twins"),
    ("fit", fig_fit, "log"),
    ("sweep", fig_sweep, "log"),
    ("drift", fig_drift, "log"),
    ("pareto", fig_pareto, "log"),
    ("write_noise", fig_write_noise, "log"),
]


def make_figures(sources, report=print):
    """Draw every figure the sources allow.

    sources: open Source objects. Returns a list of (stem, name, Figure);
    calls report(line) once per skipped figure. Recordings named by a run
    log are opened here and closed before returning."""
    logs = [s for s in sources if s.kind == "runlog"]
    recs = [s for s in sources if s.kind == "recording"]
    twins = [s for s in sources if s.kind == "twin"]
    for s in sources:
        if s.kind not in ("runlog", "recording", "twin"):
            report("skip %s: a %s file has no figure of its own" % (s.stem, s.kind or "non-spikeloop"))
    out = []

    def attempt(stem, name, fn, *args):
        try:
            out.append((stem, name, fn(*args)))
        except Skip as e:
            report("skip %s %s: %s" % (stem, name, e))
        except (KeyError, IndexError, ValueError, TypeError, OSError) as e:
            # a file that breaks its documented layout: say so, draw the rest
            report("skip %s %s: unexpected layout (%s: %s)" % (stem, name, type(e).__name__, e))

    paired = set()
    for name, fn, takes in FIGURES:
        if takes == "log":
            for s in logs:
                attempt(s.stem, name, fn, s.h5)
        elif takes == "recording":
            for s in logs:
                # a recording on the command line belongs to the only run log
                rec, why = find_recording(s.h5, recs if len(logs) == 1 else [])
                if rec is None:
                    report("skip %s %s: %s" % (s.stem, name, why))
                    continue
                paired.add(rec.path)
                try:
                    attempt(s.stem, name, fn, rec, s.h5)
                finally:
                    if rec not in recs:
                        rec.close()
            for r in recs:
                if r.path not in paired:
                    attempt(r.stem, name, fn, r, None)
        elif twins:
            attempt(twins[0].stem, name, fn, twins)
    return out


def save(fig, out_dir, stem, name, formats):
    paths = []
    for fmt in formats:
        p = os.path.join(out_dir, "%s_%s.%s" % (stem, name, fmt))
        fig.savefig(p, format=fmt, dpi=DPI)
        paths.append(p)
    plt.close(fig)
    return paths


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="python3 -m spikeloop.plot",
        description="Draw the figures of spikeloop run logs (and of recordings and twins "
                    "given with them) as PNG and SVG files.")
    ap.add_argument("files", nargs="+", metavar="FILE.h5",
                    help="run logs; backend recordings (--record) and twins (spikeloop fit)")
    ap.add_argument("--out", metavar="DIR",
                    help="directory of the figures (default: that of the first file)")
    ap.add_argument("--format", default="png,svg", metavar="png,svg",
                    help="comma list of png, svg (default both)")
    a = ap.parse_args(argv)
    formats = [x.strip() for x in a.format.split(",") if x.strip()]
    bad = [x for x in formats if x not in FORMATS]
    if not formats or bad:
        ap.error("--format: expected a comma list of png, svg, not '%s'" % a.format)
    out_dir = a.out or os.path.dirname(os.path.abspath(a.files[0]))
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        print("spikeloop.plot: cannot create '%s': %s" % (out_dir, e.strerror), file=sys.stderr)
        return 1
    sources = []
    try:
        for p in a.files:
            try:
                sources.append(Source(p))
            except OSError as e:
                print("spikeloop.plot: cannot read '%s': %s" % (p, e), file=sys.stderr)
                return 1
        written = 0
        for stem, name, fig in make_figures(sources):
            for p in save(fig, out_dir, stem, name, formats):
                print("wrote %s" % p)
                written += 1
    finally:
        for s in sources:
            s.close()
    if not written:
        print("spikeloop.plot: nothing to plot in %s" % ", ".join(a.files), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
