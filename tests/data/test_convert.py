"""Readers of other projects' formats, each on a small file written in that project's documented layout."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import scipy.io
import torch

from specops.data.convert import convert
from specops.data.datasets import OperatorDataset, TrajectoryDataset
from specops.data.io import read_info, verify_file
from specops.data.schema import DataFormatError

RNG = np.random.default_rng(0)


def _rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _field(path, name):
    with h5py.File(path, "r") as h5:
        return h5["fields"][name][...]


def test_neuraloperator_pt(tmp_path):
    x, y = _rand(5, 8, 8), _rand(5, 8, 8)
    torch.save({"x": torch.from_numpy(x), "y": torch.from_numpy(y)}, tmp_path / "darcy_train_8.pt")
    out = convert(tmp_path / "darcy_train_8.pt", "neuraloperator", tmp_path / "d.h5", progress=False)
    assert np.array_equal(_field(out, "x"), x[:, None]) and np.array_equal(_field(out, "y"), y[:, None])
    info = read_info(out)
    assert info.attrs["kind"] == "operator" and info.attrs["source"] == "convert:neuraloperator"
    assert OperatorDataset(out)[4]["y"].shape == (1, 8, 8)
    assert verify_file(out) == []


def test_pdebench_single_tensor_trajectories(tmp_path):
    tensor = _rand(3, 6, 16)  # (N, Nt, Nx)
    with h5py.File(tmp_path / "1D_Burgers_Sols_Nu0.01.hdf5", "w") as h5:
        h5["tensor"] = tensor
        h5["x-coordinate"] = np.linspace(0, 1, 16, endpoint=False)
        h5["t-coordinate"] = np.linspace(0, 2, 7)  # PDEBench stores Nt + 1 time stamps
        h5.attrs["Nu"] = 0.01
    out = convert(tmp_path / "1D_Burgers_Sols_Nu0.01.hdf5", "pdebench", tmp_path / "b.h5", progress=False)
    assert np.array_equal(_field(out, "tensor"), tensor[:, :, None])
    info = read_info(out)
    assert info.attrs["parameters"] == {"Nu": 0.01} and info.attrs["kind"] == "trajectory"
    assert info.coords["t"].size == 6 and verify_file(out) == []
    ds = TrajectoryDataset(out, history=2, horizon=1)
    assert ds.dt == pytest.approx(2 / 6) and torch.equal(ds[0]["y"][0], torch.from_numpy(tensor[0, 2:3]))


def test_pdebench_darcy_is_an_operator_pair(tmp_path):
    nu, sol = _rand(4, 8, 8), _rand(4, 1, 8, 8)
    with h5py.File(tmp_path / "2D_DarcyFlow_beta1.0_Train.hdf5", "w") as h5:
        h5["nu"], h5["tensor"] = nu, sol
    out = convert(tmp_path / "2D_DarcyFlow_beta1.0_Train.hdf5", "pdebench", tmp_path / "d.h5", progress=False)
    item = OperatorDataset(out)[2]
    assert torch.equal(item["x"], torch.from_numpy(nu[2][None])) and torch.equal(
        item["y"], torch.from_numpy(sol[2])
    )


def test_pdebench_per_variable_fields(tmp_path):
    arrays = {v: _rand(2, 5, 4, 4) for v in ("density", "pressure", "Vx", "Vy")}
    with h5py.File(tmp_path / "2D_CFD.hdf5", "w") as h5:
        for k, v in arrays.items():
            h5[k] = v
        h5.attrs.update({"M": 0.1, "eta": 0.01, "zeta": 0.01})
    out = convert(tmp_path / "2D_CFD.hdf5", "pdebench", tmp_path / "c.h5", progress=False)
    ds = TrajectoryDataset(out, history=1, horizon=1)
    assert ds.in_channels == 4 and read_info(out).attrs["input_fields"] == ["density", "pressure", "Vx", "Vy"]
    window = ds[5]  # sample 1, t0 = 1
    for c, name in enumerate(["density", "pressure", "Vx", "Vy"]):
        assert torch.equal(window["x"][0, c], torch.from_numpy(arrays[name][1, 1]))


def test_pdebench_per_seed_groups(tmp_path):
    data = _rand(3, 5, 6, 6, 2)  # per seed: (Nt, Nx, Ny, C)
    with h5py.File(tmp_path / "2D_diff-react_NA_NA.h5", "w") as h5:
        for s in range(3):
            g = h5.create_group(f"{s:04d}")
            g["data"] = data[s]
            g["grid/x"], g["grid/y"], g["grid/t"] = np.arange(6.0), np.arange(6.0), np.linspace(0, 1, 5)
    out = convert(tmp_path / "2D_diff-react_NA_NA.h5", "pdebench", tmp_path / "r.h5", progress=False)
    assert np.array_equal(_field(out, "data"), np.moveaxis(data, -1, 2))
    assert read_info(out).attrs["seeds"] == ["0000", "0001", "0002"] and verify_file(out) == []


def _write_well(path, b=2, t=4, w=6, h=5):
    density, velocity, mask = _rand(b, t, w, h), _rand(b, t, w, h, 2), _rand(w, h)
    with h5py.File(path, "w") as f:
        f.attrs.update(
            {"dataset_name": "shear_flow", "grid_type": "cartesian", "n_spatial_dims": 2, "n_trajectories": b}
        )
        f.attrs["simulation_parameters"] = ["Reynolds"]
        f.attrs["Reynolds"] = 1e4
        dims = f.create_group("dimensions")
        dims.attrs["spatial_dims"] = ["x", "y"]
        dims["time"], dims["x"], dims["y"] = np.linspace(0, 1, t), np.arange(w) / w, np.arange(h) / h
        bc = f.create_group("boundary_conditions/x_periodic")
        bc.attrs.update({"bc_type": "periodic", "associated_dims": ["x"]})
        t0 = f.create_group("t0_fields")
        t0.attrs["field_names"] = ["density", "mask"]
        t0["density"] = density
        t0["density"].attrs.update(
            {"sample_varying": True, "time_varying": True, "dim_varying": [True, True]}
        )
        t0["mask"] = mask
        t0["mask"].attrs.update({"sample_varying": False, "time_varying": False, "dim_varying": [True, True]})
        t1 = f.create_group("t1_fields")
        t1.attrs["field_names"] = ["velocity"]
        t1["velocity"] = velocity
        t1["velocity"].attrs.update(
            {"sample_varying": True, "time_varying": True, "dim_varying": [True, True]}
        )
        f.create_group("t2_fields").attrs["field_names"] = []
        f.create_group("scalars").attrs["field_names"] = []
    return density, velocity, mask


def test_the_well_schema(tmp_path):
    density, velocity, mask = _write_well(tmp_path / "shear_flow.hdf5")
    out = convert(tmp_path / "shear_flow.hdf5", "the-well", tmp_path / "w.h5", progress=False)
    assert np.array_equal(_field(out, "density"), density[:, :, None])
    assert np.array_equal(_field(out, "velocity"), np.moveaxis(velocity, -1, 2))
    assert np.array_equal(_field(out, "mask"), np.broadcast_to(mask, (2, 1, 6, 5)))  # constant: broadcast
    info = read_info(out)
    assert info.attrs["output_fields"] == ["density", "velocity"] and info.attrs["pde"] == "shear_flow"
    assert info.attrs["parameters"] == {"Reynolds": 1e4}
    assert info.attrs["boundary"]["x_periodic"]["bc_type"] == "periodic"
    ds = TrajectoryDataset(out, history=2, horizon=1)
    assert ds.in_channels == 3 and ds[0]["x"].shape == (2, 3, 6, 5)


def test_the_well_shape_that_contradicts_its_attributes(tmp_path):
    _write_well(tmp_path / "w.hdf5")
    with h5py.File(tmp_path / "w.hdf5", "r+") as f:
        f["t0_fields"]["mask"].attrs["sample_varying"] = True
    with pytest.raises(DataFormatError, match=r"t0_fields/mask has shape \(6, 5\).*imply \(2, 6, 5\)"):
        convert(tmp_path / "w.hdf5", "the-well", tmp_path / "o.h5", progress=False)


def test_npy_trajectory_with_a_layout(tmp_path):
    u = _rand(3, 10, 7)  # (sample, x, time)
    np.save(tmp_path / "u.npy", u)
    out = convert(
        tmp_path / "u.npy",
        "npy",
        tmp_path / "u.h5",
        output_fields=["u"],
        layout="sample x time",
        progress=False,
    )
    assert np.array_equal(_field(out, "u"), np.transpose(u, (0, 2, 1))[:, :, None])
    with pytest.raises(DataFormatError, match="cannot be an operator pair"):
        convert(
            tmp_path / "u.npy",
            "npy",
            tmp_path / "v.h5",
            output_fields=["u"],
            layout="sample x y",
            progress=False,
        )
    with pytest.raises(
        DataFormatError, match=r"layout 'sample x' does not fit.*names 2 axes but the array has 3"
    ):
        convert(
            tmp_path / "u.npy",
            "npy",
            tmp_path / "v.h5",
            output_fields=["u"],
            layout="sample x",
            progress=False,
        )


def test_npz_pairs_and_their_errors(tmp_path):
    a, u = _rand(4, 6, 6), _rand(4, 6, 6)
    np.savez(tmp_path / "d.npz", a=a, u=u, short=u[:3])
    out = convert(
        tmp_path / "d.npz", "npz", tmp_path / "d.h5", input_fields=["a"], output_fields=["u"], progress=False
    )
    assert torch.equal(OperatorDataset(out)[1]["x"], torch.from_numpy(a[1][None]))
    before = out.read_bytes()
    # Even when replacing is allowed, a failed conversion leaves the previous file as it was.
    with pytest.raises(DataFormatError, match=r"different numbers of samples.*'a'.*4.*'short'.*3"):
        convert(
            tmp_path / "d.npz",
            "npz",
            out,
            input_fields=["a"],
            output_fields=["short"],
            progress=False,
            overwrite=True,
        )
    with pytest.raises(DataFormatError, match=r"has no array 'v'; it has a, u, short"):
        convert(
            tmp_path / "d.npz",
            "npz",
            out,
            input_fields=["a"],
            output_fields=["v"],
            progress=False,
            overwrite=True,
        )
    bad = u.copy()
    bad[2, 3, 3] = np.nan
    np.savez(tmp_path / "nan.npz", a=a, u=bad)
    with pytest.raises(DataFormatError, match=r"field 'u'.*NaN or inf values in sample\(s\) 2"):
        convert(
            tmp_path / "nan.npz",
            "npz",
            out,
            input_fields=["a"],
            output_fields=["u"],
            progress=False,
            overwrite=True,
        )
    data = (tmp_path / "d.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=r"cut\.npz.*truncated|cut\.npz.*corrupt"):
        convert(
            tmp_path / "cut.npz",
            "npz",
            out,
            input_fields=["a"],
            output_fields=["u"],
            progress=False,
            overwrite=True,
        )
    assert out.read_bytes() == before  # nothing already written is lost


def test_mat_v5_via_scipy(tmp_path):
    coeff, sol = _rand(3, 5, 5), _rand(3, 5, 5)
    scipy.io.savemat(tmp_path / "darcy.mat", {"coeff": coeff, "sol": sol})
    out = convert(
        tmp_path / "darcy.mat",
        "mat",
        tmp_path / "d.h5",
        input_fields=["coeff"],
        output_fields=["sol"],
        progress=False,
    )
    assert np.array_equal(_field(out, "sol"), sol[:, None])


def test_mat_v73_is_hdf5_in_matlab_axis_order(tmp_path):
    a, u = _rand(3, 4, 4), _rand(3, 4, 4, 6)  # MATLAB sizes: a (N, s, s), u (N, s, s, T)
    # MATLAB v7.3 writes HDF5 with a 512-byte header block and column-major arrays (axes reversed).
    with h5py.File(tmp_path / "ns.mat", "w", userblock_size=512) as h5:
        h5["a"], h5["u"] = a.T, u.T
    with open(tmp_path / "ns.mat", "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file, written by a test")
    out = convert(
        tmp_path / "ns.mat",
        "mat",
        tmp_path / "ns.h5",
        output_fields=["u"],
        layout={"u": "sample x y time"},
        progress=False,
    )
    assert np.array_equal(_field(out, "u"), np.transpose(u, (0, 3, 1, 2))[:, :, None])
    pair = convert(
        tmp_path / "ns.mat", "mat", tmp_path / "p.h5", input_fields=["a"], output_fields=["a"], progress=False
    )
    assert np.array_equal(_field(pair, "a"), a[:, None])


def test_corrupt_pt_and_unknown_format(tmp_path):
    (tmp_path / "x.pt").write_bytes(b"not a torch file")
    with pytest.raises(DataFormatError, match=r"(?s)x\.pt.*truncated or not a neuraloperator"):
        convert(tmp_path / "x.pt", "neuraloperator", tmp_path / "o.h5", progress=False)
    with pytest.raises(ValueError, match=r"unknown data format 'pdebnch'.*'pdebench'"):
        convert(tmp_path / "x.pt", "pdebnch", tmp_path / "o.h5", progress=False)


def test_convert_keeps_the_same_conversion_and_refuses_to_replace_another(tmp_path):
    a, u = _rand(4, 6, 6), _rand(4, 6, 6)
    np.savez(tmp_path / "d.npz", a=a, u=u)
    args = {"input_fields": ["a"], "output_fields": ["u"], "progress": False}
    out = convert(tmp_path / "d.npz", "npz", tmp_path / "d.h5", **args)
    before, stamp = out.read_bytes(), out.stat().st_mtime_ns
    assert convert(tmp_path / "d.npz", "npz", out, **args) == out  # the same conversion: nothing to do
    assert out.stat().st_mtime_ns == stamp
    np.savez(tmp_path / "d.npz", a=a, u=u + 1)  # same arrays and shapes, other values
    with pytest.raises(
        FileExistsError, match=r"d\.h5 already holds a different dataset \(differs in data of field 'u'\)"
    ):
        convert(tmp_path / "d.npz", "npz", out, **args)
    with pytest.raises(FileExistsError, match=r"differs in input_fields, output_fields\)"):
        convert(tmp_path / "d.npz", "npz", out, input_fields=["u"], output_fields=["a"], progress=False)
    assert out.read_bytes() == before
    convert(tmp_path / "d.npz", "npz", out, **args, overwrite=True)
    assert np.array_equal(_field(out, "u"), (u + 1)[:, None])
