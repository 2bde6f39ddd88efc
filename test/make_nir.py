#!/usr/bin/env python3
"""make_nir.py -- write NIR graphs in HDF5 as the reference `nir` package
writes them (nir.write: /version, /node with type, nodes/<name>/<fields>,
edges as an (E, 2) array of strings; arrays gzip-compressed; input_type /
output_type groups; 0-d scalars), for spikeloop's import tests, in the
variants other frameworks produce (float32 and float64, scalar or
per-neuron parameters, LIF/LI/IF without synapse, Scale, Flatten, nested
graphs), and malformed ones. The reference package itself is not needed.

usage: make_nir.py DIR      writes DIR/<name>.nir and DIR/expect.json
"""
import json
import os
import sys

import h5py
import numpy as np

rng = np.random.default_rng(3)


def write(path, nodes, edges, version="1.0.0", edges_fixed=False):
    """nodes: {name: dict of field -> value ('type' a str; a dict is a nested graph)}"""
    def put(group, node):
        for k, v in node.items():
            if k == "nodes":
                sub = group.create_group("nodes")
                for n, nd in v.items():
                    put(sub.create_group(n), nd)
            elif k == "edges":
                if edges_fixed:
                    group.create_dataset("edges", data=np.array(v, dtype="S"))
                else:
                    group.create_dataset("edges", data=v)
            elif isinstance(v, str):
                group.create_dataset(k, data=v, dtype=h5py.string_dtype())
            elif isinstance(v, np.ndarray) and v.ndim > 0:
                group.create_dataset(k, data=v, dtype=v.dtype, compression="gzip")
            else:
                group.create_dataset(k, data=v)
        if node.get("type") in ("Input", "Output"):  # as nir's to_dict adds them
            t = group.create_group("input_type" if node["type"] == "Input" else "output_type")
            t.create_dataset("input" if node["type"] == "Input" else "output", data=node["shape"])
    with h5py.File(path, "w") as f:
        f.create_dataset("version", data=version, dtype=h5py.string_dtype())
        put(f.create_group("node"), {"type": "NIRGraph", "nodes": nodes, "edges": edges})


def inp(n):
    return {"type": "Input", "shape": np.array([n], dtype=np.int64)}


def out(n):
    return {"type": "Output", "shape": np.array([n], dtype=np.int64)}


def main():
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    expect = {}
    H = 8
    W1 = rng.normal(0, 1.2, (H, 5)).astype(np.float32)
    Wr = rng.normal(0, 0.3, (H, H)).astype(np.float32)
    W2 = rng.normal(0, 0.5, (3, H))  # float64
    ts = rng.uniform(0.004, 0.008, H).astype(np.float32)
    vt = rng.uniform(0.8, 1.2, H)

    # a: CubaLIF with a recurrent Linear cycle, CubaLI readout; mixed dtypes,
    # 0-d scalars, per-neuron arrays, no v_reset / w_in (reader defaults)
    cuba = {"type": "CubaLIF", "tau_mem": np.float64(0.01), "tau_syn": ts, "r": np.float64(10.0),
            "v_leak": np.float32(0.0), "v_threshold": vt}
    nodes = {"input": inp(5), "fc1": {"type": "Affine", "weight": W1, "bias": np.zeros(H, np.float32)},
             "lif1": cuba, "rec": {"type": "Linear", "weight": Wr},
             "fc2": {"type": "Linear", "weight": W2},
             "li": {"type": "CubaLI", "tau_mem": np.full(3, 0.006), "tau_syn": np.float64(0.006),
                    "r": np.float64(6.0), "v_leak": np.zeros(3), "w_in": np.float64(6.0)},
             "output": out(3)}
    edges = [("input", "fc1"), ("fc1", "lif1"), ("lif1", "rec"), ("rec", "lif1"),
             ("lif1", "fc2"), ("fc2", "li"), ("li", "output")]
    write(f"{d}/cuba.nir", nodes, edges)
    write(f"{d}/cuba_fixed.nir", nodes, edges, edges_fixed=True)
    dt = 0.001
    expect["cuba"] = {"hidden": H, "recurrent": 1, "w_in": W1.T.tolist(), "w_rec": Wr.T.tolist(),
                      "gain": ((1.0 * dt / ts.astype(np.float64)) * (10.0 * dt / 0.01)).tolist(),
                      "v_th": vt.tolist(), "ro_gain": [(6.0 * dt / 0.006) * (6.0 * dt / 0.006)] * 3}

    # b: nested graph (Linear -> Scale -> LIF), LIF/LI without synapse, Flatten
    sub = {"type": "NIRGraph",
           "nodes": {"input": inp(5), "lin": {"type": "Linear", "weight": W1.astype(np.float64)},
                     "scale": {"type": "Scale", "scale": np.linspace(0.5, 1.5, H)},
                     "lif": {"type": "LIF", "tau": np.float32(0.02), "r": np.float32(1.0),
                             "v_leak": np.float32(0.0), "v_threshold": np.float32(0.1),
                             "v_reset": np.float32(0.0)},
                     "output": out(H)},
           "edges": [("input", "lin"), ("lin", "scale"), ("scale", "lif"), ("lif", "output")]}
    nodes = {"input": inp(5),
             "flat": {"type": "Flatten", "start_dim": np.int64(0), "end_dim": np.int64(-1)},
             "sub": sub, "fc2": {"type": "Linear", "weight": W2.astype(np.float32)},
             "li": {"type": "LI", "tau": np.float64(0.01), "r": np.float64(1.0),
                    "v_leak": np.float64(0.0)},
             "output": out(3)}
    edges = [("input", "flat"), ("flat", "sub"), ("sub", "fc2"), ("fc2", "li"), ("li", "output")]
    write(f"{d}/nested.nir", nodes, edges)
    expect["nested"] = {"hidden": H, "recurrent": 0,
                        "w_in": (W1.astype(np.float64) * np.linspace(0.5, 1.5, H)[:, None]).T.tolist(),
                        "gain": [1.0 * dt / 0.02] * H, "v_th": [0.1] * H,
                        "ro_gain": [1.0 * dt / 0.01] * 3}

    # c: IF neurons (no leak), 0-d everything
    nodes = {"input": inp(5), "fc1": {"type": "Linear", "weight": W1},
             "if": {"type": "IF", "r": np.float64(50.0), "v_threshold": np.float64(1.0)},
             "fc2": {"type": "Linear", "weight": W2}, "li": nodes["li"], "output": out(3)}
    edges = [("input", "fc1"), ("fc1", "if"), ("if", "fc2"), ("fc2", "li"), ("li", "output")]
    write(f"{d}/if.nir", nodes, edges)
    expect["if"] = {"hidden": H, "recurrent": 0, "w_in": W1.T.tolist(), "gain": [50.0 * dt] * H,
                    "v_th": [1.0] * H, "ro_gain": [1.0 * dt / 0.01] * 3}

    # malformed: each must be refused naming the node and the field
    good = {"input": inp(5), "fc1": {"type": "Affine", "weight": W1, "bias": np.zeros(H, np.float32)},
            "lif1": dict(cuba), "fc2": {"type": "Linear", "weight": W2},
            "li": {"type": "LI", "tau": np.float64(0.01), "r": np.float64(1.0),
                   "v_leak": np.float64(0.0)}, "output": out(3)}
    gedges = [("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "li"), ("li", "output")]
    bad = {}

    def variant(name, change, edges=gedges, want=()):
        n = {k: dict(v) for k, v in good.items()}
        change(n)
        write(f"{d}/{name}.nir", n, edges)
        bad[name] = list(want)

    variant("dangling", lambda n: None, gedges + [("lif1", "ghost")], ["edge 5", "no node 'ghost'"])
    variant("missing_node", lambda n: n.pop("fc2"), want=["no node 'fc2'"])
    variant("shape", lambda n: n["fc1"].update(weight=W1[:, :4]),
            want=["node 'fc1' (Affine)", "field 'weight' has shape (8, 4)"])
    variant("dtype", lambda n: n["fc2"].update(weight="0.5"),
            want=["node 'fc2' (Linear)", "field 'weight' must be numeric"])
    variant("conv", lambda n: n.update(fc2={"type": "Conv2d", "weight": W2}),
            want=["node 'fc2'", "type 'Conv2d' is not supported"])
    variant("missing_field", lambda n: n["lif1"].pop("tau_mem"),
            want=["node 'lif1' (CubaLIF)", "missing field 'tau_mem'"])
    variant("per_neuron", lambda n: n["lif1"].update(tau_syn=ts[:7]),
            want=["node 'lif1' (CubaLIF)", "field 'tau_syn' has shape (7,)", "8 neurons"])
    variant("bias", lambda n: n["fc1"].update(bias=np.ones(H, np.float32)),
            want=["node 'fc1' (Affine)", "field 'bias'"])
    variant("threshold", lambda n: n.update(lif1={"type": "Threshold", "threshold": np.float64(1)}),
            want=["node 'lif1' (Threshold)"])
    variant("nowhere", lambda n: None, [e for e in gedges if e != ("lif1", "fc2")],
            ["node 'lif1' (CubaLIF) leads nowhere"])
    variant("tau", lambda n: n["lif1"].update(tau_mem=np.float64(-0.01)),
            want=["node 'lif1' (CubaLIF)", "field 'tau_mem'[0] = -0.01 must be > 0"])
    with h5py.File(f"{d}/notnir.nir", "w") as f:
        f["x"] = np.zeros(3)
    bad["notnir"] = ["not a NIR file"]
    expect["bad"] = bad
    with open(f"{d}/expect.json", "w") as f:
        json.dump(expect, f)


if __name__ == "__main__":
    main()
