"""test_core_calib.py -- chips from Python: characterise circuits of an
emulated bss2 chip, fit them, write and read the recording, write a twin
and read it back as arrays (and as a session's neurons), calibrate; bad
input raises the library's errors."""
import os
import numpy as np
import pytest

# Run by test/test_python_bindings.sh the extension must import (the variable
# is set there); run by another driver without it, these tests skip.
if os.environ.get("SL_PYTHON_CORE_REQUIRED") != "1":
    pytest.importorskip("spikeloop._core")
import spikeloop as sl  # noqa: E402

pytestmark = pytest.mark.skipif(not sl.builtin_backends().get("bss2"),
                                reason="bss2 left out of this build")

NET = {"data.n_train": 100, "data.n_val": 0, "data.n_test": 50, "net.hidden": 10,
       "train.batch": 20, "train.epochs": 0}


def test_characterise_fit_roundtrip(tmp_path):
    rec, fit = sl.characterise_bss2("chip_seed=2", "0-12")
    assert rec.info["backend"] == "bss2" and rec.info["n"] == 13
    np.testing.assert_array_equal(rec.neurons, np.arange(13))
    kinds = sorted(p["protocol"] for p in rec.protocols)
    assert kinds == ["current", "decay", "decay", "psp"]
    cur = [p for p in rec.protocols if p["protocol"] == "current"][0]
    assert cur["membrane"].shape[:2] == (13, cur["repeats"]) and cur["spike_time"].size > 0
    assert not cur["membrane"].flags.writeable
    assert fit.n == 13 and np.all(fit.flags == 0)
    tau = fit.values["tau_mem"]
    assert np.all((tau > 1e-3) & (tau < 2e-2))  # model s around the 6 ms nominal
    np.testing.assert_allclose(fit.to_hw("tau_mem"), tau * rec.info["time_scale"])
    assert np.all(fit.se["tau_mem"] > 0)
    path = tmp_path / "rec.h5"
    rec.write(path)
    again = sl.Charac.read(path).fit()
    np.testing.assert_allclose(again.values["v_th"], fit.values["v_th"])
    # the twin: the network's 13 neurons (hidden0 = 0..9, readout = 10..12)
    twin = tmp_path / "twin.h5"
    fit.write_twin(twin, 1e-3, source="pytest")
    got = sl.read_twin(twin, 10, 1e-3)
    np.testing.assert_allclose(got["tau_mem"], tau[:10], rtol=1e-6)
    with sl.Session(NET, neuron__twin=str(twin)) as s:
        np.testing.assert_allclose(s.neurons("hidden0")["v_th"], got["v_th"])
    del tau  # select replaces the arrays: no view may be alive
    fit.select([3, 1])
    np.testing.assert_array_equal(fit.neurons, [1, 3])  # the fit's order


def test_calibrate_narrows_the_spread(tmp_path):
    out = tmp_path / "calib.h5"
    rep = sl.calibrate_bss2(out, "chip_seed=2", {"tau_mem": 6e-6, "v_th": 0.8}, "0-7",
                            iterations=2)
    assert rep["n_fitted_after"] == 8
    assert rep["sd_after"]["tau_mem"] < 0.5 * rep["sd_before"]["tau_mem"]
    assert abs(rep["mean_after"]["v_th"] - 0.8) < 0.03
    rec, fit = sl.characterise_bss2(f"chip_seed=2,calib={out}", "0-7")
    assert np.std(fit.to_hw("tau_mem")) < 0.5 * rep["sd_before"]["tau_mem"]
    # the calib file drives a session's backend
    with sl.Session(NET, backend__name="bss2", backend__options=f"chip_seed=2,calib={out}") as s:
        assert s.backend == "bss2" and s.backend_config("calib") == str(out)


def test_calib_errors(tmp_path):
    with pytest.raises(sl.InvalidArgument, match="bogus"):
        sl.characterise_bss2("bogus=1", "0-3")
    with pytest.raises(sl.InvalidArgument):
        sl.characterise_bss2("chip_seed=1", "0-600")
    with pytest.raises(sl.InvalidArgument):
        sl.characterise_bss2("chip_seed=1", [])
    with pytest.raises(TypeError):
        sl.characterise_bss2("chip_seed=1", [0.5, 1.5])
    with pytest.raises(sl.FileError):
        sl.Charac.read(tmp_path / "none.h5")
    with pytest.raises(sl.InvalidArgument):
        sl.calibrate_bss2(tmp_path / "c.h5", "chip_seed=1", "tau_mem=fast", "0-3")
    with pytest.raises(sl.FileError):
        sl.read_twin(tmp_path / "none.h5", 3, 1e-3)
    np.testing.assert_array_equal(sl.parse_neurons("0-2,7"), [0, 1, 2, 7])
    with pytest.raises(sl.InvalidArgument):
        sl.parse_neurons("5-2")
    rec, fit = sl.characterise_bss2("chip_seed=1", "0-3")
    with pytest.raises(sl.InvalidArgument, match="9"):
        fit.select([9])
    twin = tmp_path / "t.h5"
    fit.write_twin(twin, 1e-3)
    with pytest.raises(sl.InvalidArgument):
        sl.read_twin(twin, 4, 2e-3)  # dt differs from the twin's
    with pytest.raises(sl.Error):
        sl.read_twin(twin, 10, 1e-3)  # more neurons than characterised
    v = fit.values["tau_mem"]
    with pytest.raises(RuntimeError, match="view"):
        fit.select([0])
    del v
    fit.close()
    with pytest.raises(sl.ClosedError):
        fit.values
    with pytest.raises(TypeError):
        sl.Charac()
