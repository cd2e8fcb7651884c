"""Synthetic observations of a trajectory file: make them, write them (``OBS.h5``), read and check them.

Format ``specops-observations`` version 1 (``docs/data-format.md``): one HDF5 file per trajectory file,

    /values  float (n_samples, n_obs, channel, n_sensors)   y = H_k u(t_k) + eps
    /points  float64 (n_obs, n_sensors, d)                   sensor coordinates at each observed frame
    /frames  int64 (n_obs,)                                   indices of the observed frames in the trajectory
    /times   float64 (n_obs,)                                 their times (the trajectory's /coords/t)

and root attributes ``format``, ``format_version``, ``source_file``, ``field``, ``n_samples``,
``resolution``, ``domain``, ``boundary``, ``noise`` (relative level), ``sigma`` (absolute std), ``seed``,
``varying`` (sensors redrawn at every frame) and ``every`` (frames between observations; frames in between
carry no measurement).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch

from specops.assimilation.observe import PointSensors, add_noise, noise_std, random_points
from specops.atomic import atomic_path
from specops.data.io import read_info
from specops.data.schema import check_usable
from specops.values import ConfigError

FORMAT = "specops-observations"
FORMAT_VERSION = 1


@dataclass
class TrajectoryData:
    """Trajectories ``(N, T, C, *space)`` of one field of a file with their grid and times."""

    states: torch.Tensor
    times: np.ndarray
    coords: list[np.ndarray]
    periodic: bool
    field: str
    attrs: dict

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.states.shape[3:])


@dataclass
class Observations:
    """Measurements ``values[n, k] = H_k u_n(times[k]) + eps`` at ``frames`` of a trajectory."""

    values: torch.Tensor
    points: np.ndarray
    frames: np.ndarray
    times: np.ndarray
    sigma: float
    attrs: dict

    def sensors(self, k: int, data: TrajectoryData) -> PointSensors:
        """The observation operator ``H_k`` of the ``k``-th observed frame on ``data``'s grid."""
        return PointSensors(self.points[k], data.coords, periodic=data.periodic)

    def at_frames(self, n_frames: int) -> dict[int, int]:
        """``{frame: k}`` for the observed frames below ``n_frames``."""
        return {int(f): k for k, f in enumerate(self.frames) if f < n_frames}


def read_trajectories(
    path: str | os.PathLike, samples: int | None = None, field: str | None = None
) -> TrajectoryData:
    """The trajectories of a specops file (first ``samples`` of them) with coordinates and times."""
    info = read_info(path)
    check_usable(info.attrs, path)
    if info.attrs.get("kind") != "trajectory":
        raise ConfigError(f"{path} holds input/output pairs, not trajectories: give a trajectory file")
    name = field or info.attrs["output_fields"][0]
    if name not in info.fields:
        raise ConfigError(f"field={name!r} is not in {path}; its fields are {sorted(info.fields)}")
    ndim = len(info.fields[name].shape) - 3
    axes = "xyz"[:ndim]
    if "t" not in info.coords or any(a not in info.coords for a in axes):
        raise ConfigError(f"{path} has no /coords/t or grid coordinates {list(axes)}; observations need them")
    n_all = info.fields[name].shape[0]
    n = n_all if samples is None else int(samples)
    if not 1 <= n <= n_all:
        raise ConfigError(f"samples={samples} must be between 1 and the {n_all} trajectories of {path}")
    with h5py.File(path, "r") as h5:
        states = torch.from_numpy(np.asarray(h5["fields"][name][:n]))
    return TrajectoryData(
        states=states,
        times=np.asarray(info.coords["t"], dtype=np.float64),
        coords=[np.asarray(info.coords[a], dtype=np.float64) for a in axes],
        periodic=info.attrs.get("boundary", "periodic") == "periodic",
        field=name,
        attrs=info.attrs,
    )


def observe(
    data: TrajectoryData, *, sensors: int, noise: float, seed: int, every: int = 1, varying: bool = False
) -> Observations:
    """Observe every ``every``-th frame of ``data`` at ``sensors`` random points with relative ``noise``.

    Sensor points are uniform over the domain (irregular, off the grid), drawn once (``varying=False``) or
    at every observed frame; ``sigma = noise * rms(H u)`` over all observed values; draws from ``seed``.
    """
    if int(every) < 1:
        raise ConfigError(f"every={every} must be a positive number of frames between observations")
    rng = np.random.default_rng(int(seed))
    frames = np.arange(0, data.states.shape[1], int(every))
    fixed = random_points(sensors, data.coords, periodic=data.periodic, generator=rng)
    points = np.stack(
        [
            random_points(sensors, data.coords, periodic=data.periodic, generator=rng) if varying else fixed
            for _ in frames
        ]
    )
    clean = torch.stack(
        [
            PointSensors(points[k], data.coords, periodic=data.periodic)(data.states[:, f].double())
            for k, f in enumerate(frames)
        ],
        dim=1,
    )
    sigma = noise_std(clean, noise)
    gen = torch.Generator().manual_seed(int(seed))
    values = add_noise(clean, sigma, gen).to(data.states.dtype)
    attrs = {
        "noise": float(noise),
        "sigma": sigma,
        "seed": int(seed),
        "varying": bool(varying),
        "every": int(every),
    }
    return Observations(values, points, frames, data.times[frames], sigma, attrs)


def write_observations(
    obs: Observations,
    data: TrajectoryData,
    source: str | os.PathLike,
    out: str | os.PathLike,
    *,
    overwrite: bool = False,
) -> Path:
    """Write ``obs`` of the trajectory file ``source`` to ``out`` (atomically; never over a file unasked)."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it or choose another --out")
    domain = data.attrs.get("domain", [[float(c[0]), float(c[-1])] for c in data.coords])
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("values", data=obs.values.numpy())
        h5.create_dataset("points", data=obs.points)
        h5.create_dataset("frames", data=obs.frames.astype(np.int64))
        h5.create_dataset("times", data=obs.times)
        h5.attrs.update(
            format=FORMAT,
            format_version=FORMAT_VERSION,
            source_file=str(Path(source).resolve()),
            field=data.field,
            n_samples=int(obs.values.shape[0]),
            resolution=list(data.shape),
            domain=str(domain),
            boundary="periodic" if data.periodic else "nodes",
            **obs.attrs,
        )
    return out


def read_observations(path: str | os.PathLike) -> Observations:
    """Read an ``OBS.h5`` written by :func:`write_observations` (``specops observe``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"observation file {path} does not exist; write one with `specops observe`")
    with h5py.File(path, "r") as h5:
        attrs = dict(h5.attrs)
        if attrs.get("format") != FORMAT:
            raise ConfigError(f"{path} is not a specops observation file (format={attrs.get('format')!r})")
        if int(attrs.get("format_version", 0)) > FORMAT_VERSION:
            raise ConfigError(
                f"{path} has format_version {attrs['format_version']}; upgrade specops to read it"
            )
        values = torch.from_numpy(np.asarray(h5["values"]))
        points, frames, times = (np.asarray(h5[k]) for k in ("points", "frames", "times"))
    attrs = {
        k: (v.tolist() if isinstance(v, np.ndarray) else v.item() if hasattr(v, "item") else v)
        for k, v in attrs.items()
    }
    return Observations(values, points, frames, times, float(attrs["sigma"]), attrs)


def check_match(
    obs: Observations, data: TrajectoryData, obs_path: str | os.PathLike, data_path: str | os.PathLike
) -> None:
    """Refuse observations whose times, grid, field or samples do not match the trajectory file."""
    shape = tuple(int(n) for n in obs.attrs.get("resolution", ()))
    if shape != data.shape:
        raise ConfigError(
            f"{obs_path}: resolution {list(shape)} does not match {data_path}'s grid {list(data.shape)}; "
            f"observe the same trajectory file (`specops observe {data_path} ...`)"
        )
    if obs.attrs.get("field") != data.field:
        raise ConfigError(
            f"{obs_path}: field {obs.attrs.get('field')!r} is not {data_path}'s field {data.field!r}; "
            f"observe this trajectory file's field (`specops observe {data_path} ...`)"
        )
    t = data.times
    if obs.frames.size and (obs.frames.min() < 0 or obs.frames.max() >= len(t)):
        raise ConfigError(
            f"{obs_path}: frames {int(obs.frames.min())}..{int(obs.frames.max())} outside {data_path}'s "
            f"{len(t)} frames (valid 0..{len(t) - 1})"
        )
    if not np.allclose(t[obs.frames], obs.times, rtol=1e-9, atol=1e-9 * max(1.0, float(np.abs(t).max()))):
        k = int(np.argmax(np.abs(t[obs.frames] - obs.times)))
        raise ConfigError(
            f"{obs_path}: times do not match {data_path}: observation {k} is at t={obs.times[k]:.6g} but frame "
            f"{int(obs.frames[k])} is at t={t[obs.frames[k]]:.6g}; observe the same trajectory file"
        )
    if obs.values.shape[0] < data.states.shape[0]:
        raise ConfigError(
            f"{obs_path} observes {obs.values.shape[0]} trajectories; {data_path} gives {data.states.shape[0]} "
            f"(pass --samples {obs.values.shape[0]} or observe more)"
        )
    for k in range(len(obs.frames)):
        obs.sensors(k, data)  # raises naming a sensor outside the domain
    if not math.isfinite(obs.sigma) or obs.sigma < 0:
        raise ConfigError(f"{obs_path}: sigma={obs.sigma} must be a finite number >= 0")
