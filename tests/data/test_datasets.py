"""Datasets: items equal the stored data, windows and subsampling index correctly, workers, splits, errors."""

from __future__ import annotations

import pickle

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from specops.data.datasets import OperatorDataset, TrajectoryDataset, load_splits, open_dataset, split_indices
from specops.data.generate import generate_dataset
from specops.data.schema import DataFormatError
from tests.data.problems import HeatProblem
from tests.helpers import assert_close


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("datasets")
    op = generate_dataset(HeatProblem(resolution=12), 10, root / "op.h5", batch_size=5, progress=False)
    traj = generate_dataset(HeatProblem(resolution=8, n_times=7), 3, root / "traj.h5", progress=False)
    with h5py.File(op, "r") as h5:
        op_data = {k: v[...] for k, v in h5["fields"].items()}
    with h5py.File(traj, "r") as h5:
        traj_data = h5["fields"]["u"][...]
    return {"op": op, "traj": traj, "op_data": op_data, "traj_data": traj_data, "root": root}


def test_operator_items_are_the_stored_pairs(files):
    ds = OperatorDataset(files["op"])
    assert len(ds) == 10 and (ds.in_channels, ds.out_channels, ds.ndim) == (1, 1, 2)
    assert ds.spatial_shape == (12, 12) and ds.metadata["pde"] == "heat"
    item = ds[7]
    assert item["x"].dtype == torch.float32 and item["x"].shape == (1, 12, 12)
    assert torch.equal(item["x"], torch.from_numpy(files["op_data"]["a"][7]))
    assert torch.equal(item["y"], torch.from_numpy(files["op_data"]["u"][7]))
    both = OperatorDataset(files["op"], input_fields=["a", "u"], output_fields=["u"], dtype=torch.float64)
    assert both.in_channels == 2 and both[0]["x"].dtype == torch.float64
    assert torch.equal(both[0]["x"][1].float(), ds[0]["y"][0])  # concatenated in the given order


def test_subsampling_keeps_every_rth_point(files):
    ds = OperatorDataset(files["op"], subsample=3)
    assert ds.spatial_shape == (4, 4)
    assert torch.equal(ds[2]["y"], torch.from_numpy(files["op_data"]["u"][2][:, ::3, ::3].copy()))
    mixed = OperatorDataset(files["op"], subsample=(2, 4))
    assert mixed.spatial_shape == (6, 3)
    with pytest.raises(
        DataFormatError,
        match=r"op\.h5: subsample factor 5 does not divide the 12 points of field 'a'.*\[1, 2, 3, 4, 6, 12\]",
    ):
        OperatorDataset(files["op"], subsample=5)


def test_trajectory_windows_index_the_stored_frames(files):
    ds = TrajectoryDataset(files["traj"], history=2, horizon=2, stride=2)
    data = files["traj_data"]  # (3, 7, 1, 8, 8)
    span = (2 + 2 - 1) * 2 + 1
    assert ds.windows_per_sample == 7 - span + 1 == 1 and len(ds) == 3
    item = ds[2]
    assert item["x"].shape == (2, 1, 8, 8) and item["y"].shape == (2, 1, 8, 8)
    assert torch.equal(item["x"], torch.from_numpy(data[2, [0, 2]]))
    assert torch.equal(item["y"], torch.from_numpy(data[2, [4, 6]]))
    dense = TrajectoryDataset(files["traj"], history=3, horizon=1)
    assert len(dense) == 3 * 4 and (dense.history, dense.horizon) == (3, 1)
    assert torch.equal(dense[6]["y"][0], torch.from_numpy(data[1, 5]))  # sample 1, t0 = 2
    frame_dt = 0.5 / 6
    assert dense.dt == pytest.approx(frame_dt) and ds.dt == pytest.approx(2 * frame_dt)
    with pytest.raises(DataFormatError, match=r"spans 9 frames.*has 7; use stride <= 1"):
        TrajectoryDataset(files["traj"], history=3, horizon=2, stride=2)


def test_dataloader_workers_give_the_same_batches(files):
    ds = OperatorDataset(files["op"])
    ds[0]  # the parent opens its handle before the workers fork
    pickle.dumps(ds)  # no h5py handle is pickled
    serial = list(DataLoader(ds, batch_size=4))
    parallel = list(DataLoader(ds, batch_size=4, num_workers=2))
    for a, b in zip(serial, parallel):
        assert torch.equal(a["x"], b["x"]) and torch.equal(a["y"], b["y"])
    assert ds[9]["x"].shape == (1, 12, 12)  # the parent's handle still works


def test_splits_are_disjoint_and_normalizers_come_from_train_only(files):
    parts = split_indices(10, (0.6, 0.2, 0.2))
    assert [p.tolist() for p in parts] == [[0, 1, 2, 3, 4, 5], [6, 7], [8, 9]]
    shuffled = split_indices(10, (0.5, 0.5, 0.0), seed=1)
    assert sorted(np.concatenate(shuffled).tolist()) == list(range(10))
    with pytest.raises(ValueError, match="too few"):
        split_indices(3, (0.8, 0.1, 0.1))
    splits = load_splits(files["op"], fractions=(0.6, 0.2, 0.2))
    raw_train = torch.from_numpy(files["op_data"]["a"][:6]).double()
    assert_close(
        splits.x_normalizer.mean, raw_train.mean().reshape(1), rtol=1e-10, atol=1e-12, what="train mean"
    )
    assert_close(splits.x_normalizer.std, raw_train.std(correction=0).reshape(1), rtol=1e-8, what="train std")
    mean, std = splits.x_normalizer.mean.float(), splits.x_normalizer.std.float()
    for ds, offset in ((splits.val, 6), (splits.test, 8)):
        raw = torch.from_numpy(files["op_data"]["a"][offset])
        assert torch.equal(ds[0]["x"], raw)  # items are raw fields: the trainer normalizes
        assert_close(
            splits.x_normalizer.encode(raw), (raw - mean) / std, rtol=1e-5, atol=1e-6, what="encoded"
        )
        raw_y = torch.from_numpy(files["op_data"]["u"][offset])
        assert torch.equal(ds[0]["y"], raw_y)
    plain = load_splits(files["op"], fractions=(0.6, 0.2, 0.2), normalizer="none")
    assert torch.equal(plain.val[0]["x"], torch.from_numpy(files["op_data"]["a"][6]))
    traj = load_splits(files["traj"], fractions=(0.34, 0.33, 0.33), history=2, horizon=1)
    assert traj.train.history == 2 and traj.x_normalizer.n_channels == 1


def test_open_dataset_picks_the_class(files):
    assert isinstance(open_dataset(files["op"]), OperatorDataset)
    assert isinstance(open_dataset(files["traj"], history=2), TrajectoryDataset)
    with pytest.raises(DataFormatError, match="use TrajectoryDataset"):
        OperatorDataset(files["traj"])


def test_missing_field_mismatched_counts_and_nan_are_reported(files):
    with pytest.raises(DataFormatError, match=r"op\.h5: field 'v' is missing; the file has a, u"):
        OperatorDataset(files["op"], output_fields=["v"])
    bad = files["root"] / "bad.h5"
    bad.write_bytes(files["op"].read_bytes())
    with h5py.File(bad, "r+") as h5:
        u = h5["fields"]["u"][...]
        u[3, 0, 5, 5] = np.nan
        del h5["fields"]["u"]
        h5["fields"].create_dataset("u", data=u[:8]).attrs["layout"] = "sample channel x y"
    with pytest.raises(DataFormatError, match=r"bad\.h5: fields have different sample counts .*'u': 8"):
        OperatorDataset(bad)
    ds = OperatorDataset(bad, input_fields=["u"], output_fields=["u"])
    with pytest.raises(DataFormatError, match=r"bad\.h5: sample 3 of field 'u' has NaN.*--verify"):
        ds[3]


def test_a_file_without_kind_is_not_a_complete_dataset(files):
    bad = files["root"] / "nokind.h5"
    bad.write_bytes(files["traj"].read_bytes())
    with h5py.File(bad, "r+") as h5:
        del h5.attrs["kind"]
    message = rf"nokind\.h5 has no root attribute kind, so it is not a complete specops dataset.*specops info {bad} --verify"
    for make in (open_dataset, TrajectoryDataset, lambda p: load_splits(p, normalizer="none")):
        with pytest.raises(DataFormatError, match=message):
            make(bad)
    with h5py.File(bad, "r+") as h5:
        h5.attrs["kind"] = "movie"
        h5.attrs["n_samples"] = -1
    with pytest.raises(DataFormatError, match=r"root attribute kind='movie' is not one of .*damaged"):
        open_dataset(bad)
