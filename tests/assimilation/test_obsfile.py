import h5py
import numpy as np
import pytest
import torch

from specops.assimilation import (
    PointSensors,
    observe,
    read_observations,
    read_trajectories,
    write_observations,
)
from specops.assimilation.obsfile import check_match
from specops.values import ConfigError


def test_observations_are_the_sensor_values_plus_the_stated_noise(ks_file, tmp_path):
    data = read_trajectories(ks_file)
    obs = observe(data, sensors=5, noise=0.0, seed=3, every=2, varying=True)
    assert list(obs.frames) == [0, 2, 4, 6, 8, 10] and obs.sigma == 0.0
    for k, f in enumerate(obs.frames):
        h = PointSensors(obs.points[k], data.coords, periodic=True)
        assert torch.allclose(obs.values[:, k], h(data.states[:, f].double()).float(), atol=1e-6)
    assert not np.allclose(obs.points[0], obs.points[1])  # redrawn at every observed frame
    noisy = observe(data, sensors=5, noise=0.1, seed=3, every=2, varying=True)
    assert noisy.sigma > 0 and not torch.equal(noisy.values, obs.values)
    path = write_observations(noisy, data, ks_file, tmp_path / "obs.h5")
    back = read_observations(path)
    assert torch.equal(back.values, noisy.values) and np.array_equal(back.points, noisy.points)
    check_match(back, data, path, ks_file)
    with pytest.raises(FileExistsError, match="--overwrite"):
        write_observations(noisy, data, ks_file, path)


def test_mismatched_observation_files_are_refused_naming_the_field(ks_file, tmp_path):
    data = read_trajectories(ks_file)
    path = write_observations(observe(data, sensors=3, noise=0.01, seed=0), data, ks_file, tmp_path / "o.h5")
    with h5py.File(path, "r+") as h5:
        h5["times"][1] += 0.5
    with pytest.raises(ConfigError, match=r"times do not match.*t=1.5 but frame 1 is at t=1"):
        check_match(read_observations(path), data, path, ks_file)
    with h5py.File(path, "r+") as h5:
        h5["times"][1] -= 0.5
        h5.attrs["resolution"] = [64]
    with pytest.raises(ConfigError, match=r"resolution \[64\] does not match.*\[32\]"):
        check_match(read_observations(path), data, path, ks_file)
    with h5py.File(path, "r+") as h5:
        h5.attrs["resolution"] = [32]
        h5["points"][0, 0, 0] = 1e3
    with pytest.raises(ValueError, match="outside the domain"):
        check_match(read_observations(path), data, path, ks_file)
    with pytest.raises(ValueError, match="noise=-1"):
        observe(data, sensors=3, noise=-1.0, seed=0)


def test_an_observation_file_of_another_field_is_refused_naming_both_fields(ks_file, tmp_path):
    data = read_trajectories(ks_file)
    path = write_observations(observe(data, sensors=3, noise=0.01, seed=0), data, ks_file, tmp_path / "o.h5")
    check_match(read_observations(path), data, path, ks_file)  # the matching file passes
    with h5py.File(path, "r+") as h5:
        h5.attrs["field"] = "vorticity"
    message = rf"field 'vorticity' is not .*field {data.field!r}; observe this trajectory file's field"
    with pytest.raises(ConfigError, match=message):
        check_match(read_observations(path), data, path, ks_file)
