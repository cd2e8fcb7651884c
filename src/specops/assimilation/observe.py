"""Observation operators: point sensors on a uniform grid, sub-sampled grids, additive Gaussian noise.

A field ``u`` on the uniform grid ``x_j = x_0 + j h`` (per axis; periodic or nodes including both ends) is
observed at sensor points ``p_s`` by multilinear interpolation,

    (H u)_s = sum_{corners c of the cell of p_s} w_{s,c} u_c,   w_{s,c} = prod_axes (1 - |p - x_c| / h),

a sparse linear map whose adjoint ``H^T v = sum_s w_{s,c} v_s`` scatters values at the sensors back onto
the grid (the "lift" of an innovation). At grid points ``H`` is exact sampling, so a sub-sampled grid is the
special case of sensors on every ``stride``-th node. Observations are ``y = H u + eps``,
``eps ~ N(0, sigma^2 I)``, with ``sigma = noise * rms(H u)`` over the observed trajectory (a relative level:
``noise=0.01`` is 1 % noise).

References: Evensen, "Data Assimilation: The Ensemble Kalman Filter" (Springer 2009), ch. 3-4 (linear
measurement functionals); Singh et al., NODA, ICLR 2024 (sparse sensors at irregular locations).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import torch

from specops.spectral.filters import smooth_perturbation  # noqa: F401 (re-exported: the filters' noise)


class PointSensors:
    """Multilinear interpolation ``H`` from a uniform grid to sensor points; ``H^T`` its adjoint.

    Parameters
    ----------
    points : array ``(S, d)``
        Sensor coordinates in the units of ``coords``.
    coords : sequence of d 1D arrays
        Node coordinates of each axis (uniformly spaced, increasing).
    periodic : bool
        Periodic axes (points in ``[x_0, x_0 + n h)``, the last cell wraps to node 0) or nodes including
        both ends (points in ``[x_0, x_{n-1}]``).

    ``sensors(u)``: ``(B, C, *space) -> (B, C, S)``; ``sensors.adjoint(v)``: ``(B, C, S) -> (B, C, *space)``.
    """

    def __init__(
        self, points: np.ndarray | torch.Tensor, coords: Sequence[np.ndarray], *, periodic: bool
    ) -> None:
        pts = torch.as_tensor(np.asarray(points, dtype=np.float64))
        d = len(coords)
        if pts.ndim != 2 or pts.shape[1] != d or pts.shape[0] < 1:
            raise ValueError(
                f"sensor points have shape {tuple(pts.shape)}; expected (n_sensors >= 1, {d}) for a {d}D grid"
            )
        if not torch.isfinite(pts).all():
            raise ValueError("sensor points contain NaN or inf; give finite coordinates inside the domain")
        self.shape = tuple(len(c) for c in coords)
        self.periodic = bool(periodic)
        self.points = pts
        index, frac = [], []
        for axis, c in enumerate(coords):
            c = np.asarray(c, dtype=np.float64)
            n = len(c)
            if n < 2:
                raise ValueError(f"axis {axis} has {n} node(s); interpolation needs at least 2")
            h = (c[-1] - c[0]) / (n - 1)
            lo, hi = c[0], c[0] + n * h if periodic else c[-1]
            p = pts[:, axis]
            bad = (
                (p < lo - 1e-12 * abs(hi - lo)) | (p > hi + 1e-12 * abs(hi - lo))
                if not periodic
                else (p < lo) | (p >= hi)
            )
            if bad.any():
                k = int(bad.nonzero()[0, 0])
                end = ")" if periodic else "]"
                raise ValueError(
                    f"sensor {k} at {pts[k].tolist()} lies outside the domain: axis {axis} coordinate must be in "
                    f"[{lo:.6g}, {hi:.6g}{end}; move the sensors inside the grid"
                )
            s = (p - lo) / h
            i0 = torch.floor(s).long().clamp(0, n - 1 if periodic else n - 2)
            index.append(i0)
            frac.append(s - i0)
        corners, weights = [], []
        for corner in itertools.product((0, 1), repeat=d):
            flat = torch.zeros(pts.shape[0], dtype=torch.long)
            w = torch.ones(pts.shape[0], dtype=torch.float64)
            for axis, (i0, f, bit) in enumerate(zip(index, frac, corner, strict=True)):
                n = self.shape[axis]
                i = (i0 + bit) % n if periodic else i0 + bit
                flat = flat * n + i
                w = w * (f if bit else 1 - f)
            corners.append(flat)
            weights.append(w)
        self.index = torch.stack(corners, 1)  # (S, 2^d)
        self.weights = torch.stack(weights, 1)

    @property
    def n_sensors(self) -> int:
        return self.points.shape[0]

    def __call__(self, u: torch.Tensor) -> torch.Tensor:
        d = len(self.shape)
        if tuple(u.shape[-d:]) != self.shape:
            raise ValueError(f"field of shape {tuple(u.shape)} observed on a grid of {self.shape}")
        flat = u.reshape(*u.shape[:-d], -1)
        picked = flat[..., self.index.to(u.device)]  # (..., S, 2^d)
        return (picked * self.weights.to(u)).sum(-1)

    def adjoint(self, v: torch.Tensor) -> torch.Tensor:
        """``H^T v``: values at the sensors scattered onto the grid with the interpolation weights."""
        lead = v.shape[:-1]
        out = v.new_zeros(*lead, math.prod(self.shape))
        contrib = (v[..., None] * self.weights.to(v)).reshape(*lead, -1)
        out.index_add_(-1, self.index.to(v.device).reshape(-1), contrib)
        return out.reshape(*lead, *self.shape)

    def matrix(self, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """Dense ``(S, prod(shape))`` matrix of ``H`` (for small problems and tests)."""
        m = torch.zeros(self.n_sensors, math.prod(self.shape), dtype=dtype)
        m.scatter_add_(1, self.index, self.weights.to(dtype))
        return m


def grid_coords(lengths: Sequence[float], shape: Sequence[int], periodic: bool = True) -> list[np.ndarray]:
    """Node coordinates ``x_j = j L / n`` (periodic) or ``j L / (n - 1)`` (nodes including both ends)."""
    return [
        np.arange(n) * (length / n if periodic else length / (n - 1))
        for length, n in zip(lengths, shape, strict=True)
    ]


def random_points(
    n_sensors: int, coords: Sequence[np.ndarray], *, periodic: bool, generator: np.random.Generator
) -> np.ndarray:
    """``n_sensors`` irregular points drawn uniformly over the domain of ``coords``, shape ``(S, d)``."""
    if int(n_sensors) < 1:
        raise ValueError(f"sensors={n_sensors} must be a positive number of sensors")
    lo = np.array([c[0] for c in coords])
    span = np.array([(c[-1] - c[0]) * (len(c) / (len(c) - 1) if periodic else 1.0) for c in coords])
    return lo + generator.random((int(n_sensors), len(coords))) * span * (1 - 1e-12)


def subsampled_points(coords: Sequence[np.ndarray], stride: int | Sequence[int]) -> np.ndarray:
    """The nodes of every ``stride``-th grid point per axis, shape ``(S, d)`` (a sub-sampled grid)."""
    strides = [int(stride)] * len(coords) if isinstance(stride, int) else [int(s) for s in stride]
    if len(strides) != len(coords) or min(strides) < 1:
        raise ValueError(f"stride={stride} must be a positive integer (or one per axis, {len(coords)} axes)")
    axes = [np.asarray(c)[::s] for c, s in zip(coords, strides, strict=True)]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.reshape(-1) for m in mesh], axis=1)


def noise_std(clean: torch.Tensor, noise: float) -> float:
    """``sigma = noise * rms(clean)``: the absolute standard deviation of a relative noise level."""
    if not (isinstance(noise, (int, float)) and math.isfinite(noise) and noise >= 0):
        raise ValueError(
            f"noise={noise!r} must be a finite number >= 0 (0.01 for 1 % noise relative to the rms)"
        )
    return float(noise) * float(clean.double().pow(2).mean().sqrt())


def add_noise(clean: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """``y = clean + sigma * N(0, I)`` (float64 draws, so the noise does not depend on the field's dtype)."""
    if not sigma >= 0:
        raise ValueError(f"noise standard deviation {sigma!r} must be >= 0")
    eps = torch.randn(clean.shape, generator=generator, dtype=torch.float64)
    return (clean.double() + sigma * eps).to(clean.dtype)
