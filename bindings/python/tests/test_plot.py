"""test_plot.py -- every figure of spikeloop.plot from small logs.

Each figure is drawn from logs of tiny real runs of ./spikeloop (conftest:
cli_logs) and from logs written with h5py in the documented layouts
(h5py_logs). For each figure the test checks, while it is being saved, that
it has a title, that every panel has axis labels with units and draws data
(lines, markers, bars: not only reference lines or text), and then that
every file exists, is a valid PNG (magic bytes, decodes with
matplotlib.image.imread, pixel variance > 0) or a valid SVG (parses as XML,
root <svg>, has drawn paths).
"""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import matplotlib.image as mpimg
from matplotlib.ticker import FixedFormatter, FuncFormatter
import numpy as np
import pytest

from conftest import need, write_recording, write_runlog
from spikeloop import plot

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def data_artists(ax):
    """How many artists of `ax` draw data (in data coordinates)."""
    n = sum(1 for l in ax.lines if len(l.get_xdata()) > 0 and l.get_transform() == ax.transData)
    n += sum(1 for c in ax.collections if len(c.get_offsets()) > 0 or len(c.get_paths()) > 0)
    n += sum(1 for p in ax.patches if p.get_height() != 0 and p.get_width() != 0)
    return n


def check_figure(fig, where):
    assert fig._suptitle is not None and fig._suptitle.get_text().strip(), where + ": no title"
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    assert axes, where + ": no panel"
    for ax in axes:
        for axis, label in ((ax.xaxis, ax.get_xlabel()), (ax.yaxis, ax.get_ylabel())):
            assert label.strip(), "%s: an axis of '%s' has no label" % (where, ax.get_title())
            if isinstance(axis.get_major_formatter(), (FixedFormatter, FuncFormatter)):
                continue  # set_xticklabels: categories (parameter names), no unit
            assert "(" in label and ")" in label, "%s: axis label '%s' has no unit" % (where, label)
        assert data_artists(ax) > 0, "%s: panel '%s' draws no data" % (where, ax.get_title())


def check_png(path):
    with open(path, "rb") as f:
        assert f.read(8) == PNG_MAGIC, path + ": not a PNG"
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100, path
    assert float(np.var(img[..., :3])) > 0, path + ": blank image"


def check_svg(path):
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg"), path + ": root is not <svg>"
    paths = [e for e in root.iter() if e.tag.endswith("}path") or e.tag == "path"]
    assert len(paths) > 10, path + ": nothing drawn"


@pytest.fixture
def render(tmp_path, monkeypatch, capsys):
    """render(files, *args) -> (status, {figure file name: path}, stdout lines);
    every figure saved is checked first."""
    real_save = plot.save

    def checking_save(fig, out_dir, stem, name, formats):
        check_figure(fig, "%s_%s" % (stem, name))
        return real_save(fig, out_dir, stem, name, formats)

    monkeypatch.setattr(plot, "save", checking_save)

    def run(files, *args):
        out = tmp_path / "plots"
        status = plot.main([str(f) for f in files] + ["--out", str(out)] + list(args))
        lines = capsys.readouterr().out.splitlines()
        written = {}
        for line in lines:
            if line.startswith("wrote "):
                p = line[len("wrote "):]
                written[os.path.basename(p)] = p
        for p in written.values():
            assert os.path.isfile(p), p
            (check_png if p.endswith(".png") else check_svg)(p)
        return status, written, lines

    return run


def expect(written, stem, names):
    for name in names:
        for fmt in ("png", "svg"):
            assert "%s_%s.%s" % (stem, name, fmt) in written, \
                "%s_%s.%s not written (got %s)" % (stem, name, fmt, sorted(written))


# ------------------------------------------------------------ real logs


def test_training_run_with_recording(cli_logs, render):
    # only the log: the raster's recording is found through /config backend.record
    status, written, lines = render([cli_logs["train"]])
    assert status == 0
    expect(written, "train", ["curves", "params", "raster"])
    assert any(l.startswith("skip train sweep: ") for l in lines)


def test_chip_run_raster_in_adc_units(cli_logs, render):
    need(cli_logs, "bss", "bssrec")
    status, written, _ = render([cli_logs["bss"], cli_logs["bssrec"]], "--format", "png")
    assert status == 0
    assert "bss_raster.png" in written and "bss_curves.png" in written
    assert not any(p.endswith(".svg") for p in written)


def test_mismatch_sweep(cli_logs, render):
    status, written, lines = render([cli_logs["sweep"]])
    assert status == 0
    expect(written, "sweep", ["sweep"])
    assert any("skip sweep curves: no completed epochs" in l for l in lines)


def test_twins_uncalibrated_and_calibrated(cli_logs, render):
    need(cli_logs, "twin", "twin_cal", "calib")
    status, written, lines = render([cli_logs["twin"], cli_logs["twin_cal"], cli_logs["calib"]])
    assert status == 0
    expect(written, "twin", ["twins"])
    assert any("skip calib:" in l for l in lines)
    twins = [plot.Source(cli_logs[k]) for k in ("twin", "twin_cal")]
    labels = [plot.twin_label(t) for t in twins]
    for t in twins:
        t.close()
    assert labels[0].endswith("(uncalibrated chip)") and labels[1].endswith("(calibrated chip)")


def test_drift_and_pareto_of_real_experiments(cli_logs, render):
    need(cli_logs, "mcnn", "dyn")
    status, written, _ = render([cli_logs["mcnn"], cli_logs["dyn"]])
    assert status == 0
    expect(written, "mcnn", ["drift"])
    expect(written, "dyn", ["pareto"])


# ------------------------------------------------------------ h5py-written logs


@pytest.mark.parametrize("log,figures", [
    ("train", ["curves", "params"]),
    ("twin_loop", ["curves", "fit"]),
    ("sweep", ["sweep"]),
    ("mcnn", ["drift"]),
    ("dyn", ["pareto"]),
    ("noise", ["write_noise"]),
])
def test_documented_layout(h5py_logs, render, log, figures):
    status, written, _ = render([h5py_logs[log]])
    assert status == 0
    expect(written, log, figures)
    assert len(written) == 2 * len(figures), sorted(written)


def test_fit_shows_calibration_spread(h5py_logs):
    """twin_loop's spread_before_<p> / spread_after_<p> give the second panel."""
    import h5py
    with h5py.File(h5py_logs["twin_loop"], "r") as log:
        fig = plot.fig_fit(log)
    assert len(fig.axes) == 2 and fig.axes[1].get_title() == "calibration"
    assert len(fig.axes[1].patches) == 4 * 5  # four bars for each of five parameters


def test_lone_recording_and_twins(h5py_logs, render):
    status, written, _ = render([h5py_logs["rec"], h5py_logs["twin"], h5py_logs["twin_cal"]])
    assert status == 0
    expect(written, "rec", ["raster"])
    expect(written, "twin", ["twins"])


def test_recording_without_membranes(tmp_path, render):
    status, written, _ = render([write_recording(tmp_path / "nomem.h5", membrane=False)],
                                "--format", "png")
    assert status == 0 and "nomem_raster.png" in written


# ------------------------------------------------------------ command line


def test_nothing_to_plot_and_bad_input(h5py_logs, tmp_path, render, capsys):
    empty = write_runlog(tmp_path / "empty.h5", {})
    status, written, lines = render([empty])
    assert status == 1 and not written
    assert sum(l.startswith("skip empty ") for l in lines) == len(plot.FIGURES) - 1
    assert plot.main([str(tmp_path / "missing.h5")]) == 1
    (tmp_path / "junk.h5").write_text("not hdf5")
    assert plot.main([str(tmp_path / "junk.h5")]) == 1
    with pytest.raises(SystemExit) as e:
        plot.main([str(h5py_logs["sweep"]), "--format", "png,jpg"])
    assert e.value.code == 2


def test_broken_layout_is_one_line(tmp_path, render):
    bad = write_runlog(tmp_path / "bad.h5", {"sigma": np.array([0, 0.1, 0.2, 0.3]),
                                              "acc_deployed": np.array([0.9, 0.8, 0.7]),
                                              "acc_loop": np.array([0.9, 0.9, 0.9])}, epochs=2)
    status, written, lines = render([bad])
    assert status == 0 and "bad_curves.png" in written
    assert any(l.startswith("skip bad sweep: unexpected layout (ValueError") for l in lines), lines


def test_module_entry_point(h5py_logs, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(plot.__file__)),
               PYTHONDONTWRITEBYTECODE="1")
    r = subprocess.run([sys.executable, "-m", "spikeloop.plot", str(h5py_logs["sweep"]),
                        "--out", str(tmp_path)], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    assert r.returncode == 0, r.stderr
    check_png(str(tmp_path / "sweep_sweep.png"))
    check_svg(str(tmp_path / "sweep_sweep.svg"))
