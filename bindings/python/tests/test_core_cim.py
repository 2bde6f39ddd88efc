"""test_core_cim.py -- compute-in-memory crossbars and CAM from Python: an
exact device reproduces x @ W, a noisy one stays close, counters and
energy count, CAM queries find their own stored vectors; bad input raises."""
import os
import numpy as np
import pytest

# Run by test/test_python_bindings.sh the extension must import (the variable
# is set there); run by another driver without it, these tests skip.
if os.environ.get("SL_PYTHON_CORE_REQUIRED") != "1":
    pytest.importorskip("spikeloop._core")
import spikeloop as sl  # noqa: E402

EXACT = dict(levels=0, prog_sd=0.0, read_sd=0.0, dac_bits=0, adc_bits=0, drift_nu=0.0)


def test_exact_crossbar_is_a_matrix_product():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(200, 20)).astype(np.float32)
    x = rng.normal(size=(8, 200)).astype(np.float32)
    with sl.Cim(200, 20, **EXACT) as c:
        assert c.shape == (200, 20) and c.params["levels"] == 0
        assert len(c.tiles["rows"]) == 2 and len(c.tiles["cols"]) == 2  # 128 x 16 tiles
        c.program(w)
        y = c.mvm(x)
        assert y.shape == (8, 20) and y.dtype == np.float32
        np.testing.assert_allclose(y, x @ w, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(c.mvm_ref(x), x @ w, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(c.mvm(x[0]), y[0], rtol=1e-5, atol=1e-4)  # one vector
        parts = c.mvm_partials(x)
        assert parts.shape == (8, 2, 20)
        np.testing.assert_allclose(parts.sum(axis=1), y, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(c.weights("target"), w, rtol=1e-5, atol=1e-5)


def test_noisy_crossbar_counters_and_energy():
    rng = np.random.default_rng(2)
    w = rng.normal(size=(64, 16)).astype(np.float32)
    x = rng.uniform(-1, 1, size=(32, 64)).astype(np.float32)
    c = sl.Cim(64, 16, chip_seed=3, dac_mode="level")
    c.program(w)
    ref = c.mvm_ref(x)
    y = c.mvm(x)
    err = np.abs(y - ref).max() / np.abs(ref).max()
    assert 0 < err < 0.5
    assert not np.array_equal(c.mvm(x), y)  # fresh read noise per call
    k = c.counters()
    assert k["mvms"] == 64 and k["cells_programmed"] > 0 and k["energy"] > 0
    assert c.energy_per_mvm() > 0
    n = c.reprogram(w * 1.5, threshold=0.0)
    assert n > 0
    c.set_time(3600.0)
    assert c.calibrate_adc(x, margin=1.2) > 0
    assert np.abs(c.weights("programmed") - c.weights("target")).max() > 0
    c.reset_counters()
    assert c.counters()["mvms"] == 0
    c.close()
    with pytest.raises(sl.ClosedError):
        c.mvm(x)


def test_cim_errors():
    assert "tile_rows" in sl.Cim.default_params()
    with pytest.raises(sl.NotFoundError, match="tile_row"):
        sl.Cim(4, 4, tile_row=8)
    with pytest.raises(ValueError):
        sl.Cim(4, 4, tile_rows=-1)
    with pytest.raises(TypeError):
        sl.Cim(4, 4, levels="8")
    with pytest.raises(ValueError):
        sl.Cim(4, 4, dac_mode="fast")
    with pytest.raises(sl.Error):  # tile too large: the library's check
        sl.Cim(4, 4, tile_rows=5000)
    with pytest.raises(sl.ShapeError):
        sl.Cim(0, 4)
    c = sl.Cim(4, 3)
    with pytest.raises(sl.InvalidArgument):
        c.mvm(np.ones((2, 4)))  # not programmed
    with pytest.raises(sl.ShapeError):
        c.program(np.ones((3, 4)))
    with pytest.raises(sl.NumericError):
        c.program(np.full((4, 3), np.nan))
    c.program(np.ones((4, 3)))
    with pytest.raises(sl.ShapeError):
        c.mvm(np.ones((2, 5)))
    with pytest.raises(ValueError):
        c.mvm(np.ones((2, 2, 4)))
    with pytest.raises(sl.NumericError):
        c.mvm(np.array([[1, np.inf, 0, 0]]))
    with pytest.raises(TypeError):
        c.mvm(np.array([["a", "b", "c", "d"]]))
    with pytest.raises(ValueError):
        c.weights("best")


def test_cam_finds_its_vectors():
    rng = np.random.default_rng(4)
    v = rng.choice([-1.0, 0.0, 1.0], size=(10, 64)).astype(np.float32)
    with sl.Cam(64, 10, query_sd=0.0) as cam:
        assert cam.shape == (10, 64) and cam.params["levels"] == 2
        cam.store(v)
        idx, sim = cam.search(v, top_k=3)
        assert idx.shape == (10, 3) and idx.dtype == np.int64 and sim.dtype == np.float32
        np.testing.assert_array_equal(idx[:, 0], np.arange(10))
        assert np.all(sim[:, 0] >= sim[:, 1])
        i1, s1 = cam.search(v[3])
        assert i1.shape == (1,) and i1[0] == 3
        cam.store_one(3, v[5])
        assert cam.search(v[5], top_k=2)[0].tolist() in ([3, 5], [5, 3])
        assert cam.counters()["mvms"] > 0
    ham = sl.Cam(64, 10, metric="hamming")
    ham.store(v)
    idx, sim = ham.search(v)
    np.testing.assert_array_equal(idx[:, 0], np.arange(10))
    assert np.all(sim[:, 0] > 0.8)


def test_cam_errors():
    with pytest.raises(ValueError):
        sl.Cam(8, 2, metric="euclid")
    with pytest.raises(sl.NotFoundError):
        sl.Cam(8, 2, device={"nope": 1})
    cam = sl.Cam(8, 2)
    with pytest.raises(sl.InvalidArgument):
        cam.search(np.ones(8))  # nothing stored
    with pytest.raises(sl.ShapeError):
        cam.store(np.ones((3, 8)))
    cam.store(np.ones((2, 8)))
    with pytest.raises(sl.RangeError):
        cam.search(np.ones(8), top_k=3)
    with pytest.raises(sl.RangeError):
        cam.store_one(2, np.ones(8))
    with pytest.raises(sl.NumericError):
        cam.search(np.full(8, np.nan))


def test_closing_from_array_conversion_is_safe():
    """An array-like whose conversion closes the object (Python code runs
    inside the call) gets ClosedError, not a freed pointer."""
    c = sl.Cim(4, 3, **EXACT)

    class Sneaky:
        def __array__(self, dtype=None):
            c.close()
            return np.ones((4, 3), np.float32)

    with pytest.raises(sl.ClosedError):
        c.program(Sneaky())
