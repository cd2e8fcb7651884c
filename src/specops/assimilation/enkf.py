"""Stochastic ensemble Kalman filter (EnKF) with multiplicative and additive inflation and localisation.

Ensemble ``X = [x_1 .. x_N]`` (states flattened to ``n``), observation operator ``H`` (linear: point sensors),
observations ``y`` with noise covariance ``R = sigma^2 I``. One cycle:

1. forecast: ``x_i <- M(x_i)`` for every member (``M`` any batched one-step map: the specops solver or a
   trained surrogate), then inflation ``x_i <- xbar + lambda (x_i - xbar) + q xi_i`` (``xi_i`` smooth
   Gaussian fields of unit rms, ``specops.spectral.filters.smooth_perturbation``): the additive term
   stands for the forecast model's own error (Hamill & Whitaker 2005), which a surrogate has and the
   ensemble spread of a deterministic model does not show;
2. analysis (Burgers, van Leeuwen & Evensen 1998, perturbed observations):

       A = (X - xbar) / sqrt(N - 1),  Y = H A,
       K = (rho_xy o A Y^T) (rho_yy o Y Y^T + R)^{-1},
       x_i <- x_i + K (y + eps_i - H x_i),   eps_i ~ N(0, R),

   where ``o`` is the Schur product with the Gaspari-Cohn correlation ``rho(d / c)`` of the (periodic)
   distances grid-sensor and sensor-sensor (Houtekamer & Mitchell 2001; Gaspari & Cohn 1999, eq. 4.10),
   ``c`` the localisation half-width (support ``2c``); no localisation means ``rho = 1``.

With ``N -> infinity``, no localisation and linear ``M``, the analysis mean and covariance converge to the
Kalman filter's (Evensen 2009, ch. 9), which ``tests/assimilation/test_enkf.py`` checks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from specops.assimilation.observe import PointSensors
from specops.spectral.filters import smooth_perturbation

Forecast = Callable[[torch.Tensor], torch.Tensor]


def gaspari_cohn(r: torch.Tensor) -> torch.Tensor:
    """Gaspari & Cohn (1999) eq. (4.10): compactly supported 5th-order correlation of ``r = d / c``, 0 for r >= 2."""
    r = r.abs()
    inner = ((-0.25 * r + 0.5) * r + 0.625) * r**3 - 5.0 / 3.0 * r**2 + 1.0
    safe = r.clamp(min=1e-12)
    outer = ((((r / 12.0 - 0.5) * r + 0.625) * r + 5.0 / 3.0) * r - 5.0) * r + 4.0 - 2.0 / (3.0 * safe)
    return torch.where(r <= 1, inner, torch.where(r < 2, outer, torch.zeros_like(r)))


def _distances(a: torch.Tensor, b: torch.Tensor, periods: torch.Tensor | None) -> torch.Tensor:
    diff = (a[:, None, :] - b[None, :, :]).abs()
    if periods is not None:
        diff = torch.minimum(diff, periods - diff)
    return diff.pow(2).sum(-1).sqrt()


@dataclass
class EnKFResult:
    """Analysis means ``(B, T, C, *space)`` (frame 0 the initial mean) and wall seconds per cycle."""

    mean: torch.Tensor
    spread: torch.Tensor
    seconds_per_cycle: float


class EnsembleKalmanFilter:
    """Stochastic EnKF: forecast by ``forecast``, analysis with perturbed observations.

    Parameters
    ----------
    forecast : callable ``(N, C, *space) -> (N, C, *space)``
        One step of the forecast model between consecutive frames (batched over members).
    members : int
        Ensemble size ``N >= 2``.
    inflation : float
        Multiplicative inflation ``lambda >= 1`` of the forecast anomalies (1: none).
    additive : float
        Standard deviation ``q >= 0`` (in the field's units) of the smooth model-error noise added to each
        member after every forecast (0: none).
    localization : float, optional
        Gaspari-Cohn half-width ``c`` in the grid's length units (None: no localisation).
    coords : list of 1D arrays
        Node coordinates of the grid (for distances); ``periodic`` whether the axes wrap.
    """

    def __init__(
        self,
        forecast: Forecast,
        members: int,
        *,
        coords: list[np.ndarray],
        periodic: bool = True,
        inflation: float = 1.0,
        additive: float = 0.0,
        localization: float | None = None,
    ) -> None:
        if int(members) < 2:
            raise ValueError(f"members={members}: an ensemble needs at least 2 members (typically 20-100)")
        if not (math.isfinite(inflation) and inflation >= 1.0):
            raise ValueError(f"inflation={inflation} must be a finite number >= 1 (1 means no inflation)")
        if not (math.isfinite(additive) and additive >= 0):
            raise ValueError(
                f"additive={additive} must be a finite standard deviation >= 0 (0: no additive inflation)"
            )
        if localization is not None and not (math.isfinite(localization) and localization > 0):
            raise ValueError(
                f"localization={localization} must be a positive length (or None for no localisation)"
            )
        self.forecast, self.members = forecast, int(members)
        self.inflation, self.additive, self.localization = float(inflation), float(additive), localization
        self.coords, self.periodic = coords, periodic
        mesh = np.meshgrid(*coords, indexing="ij")
        self.grid_points = torch.from_numpy(np.stack([m.reshape(-1) for m in mesh], 1))
        spans = [(c[-1] - c[0]) * len(c) / (len(c) - 1) for c in coords]
        self.periods = torch.tensor(spans, dtype=torch.float64) if periodic else None

    def _localizers(self, sensors: PointSensors, channels: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        if self.localization is None:
            return None
        c = float(self.localization)
        rho_xy = gaspari_cohn(_distances(self.grid_points, sensors.points, self.periods) / c)
        rho_yy = gaspari_cohn(_distances(sensors.points, sensors.points, self.periods) / c)
        # channels are observed at the same points: the same correlation within and across channels
        return rho_xy.repeat(channels, channels), rho_yy.repeat(channels, channels)

    def analysis(
        self,
        ensemble: torch.Tensor,
        y: torch.Tensor,
        sensors: PointSensors,
        sigma: float,
        generator: torch.Generator,
    ) -> torch.Tensor:
        """Analysis ensemble from the forecast ``ensemble`` ``(N, C, *space)`` and observations ``y`` ``(C, S)``."""
        n_mem = ensemble.shape[0]
        dtype = ensemble.dtype
        x = ensemble.double().reshape(n_mem, -1)
        hx = sensors(ensemble.double()).reshape(n_mem, -1)
        a = (x - x.mean(0)) / math.sqrt(n_mem - 1)
        yy = (hx - hx.mean(0)) / math.sqrt(n_mem - 1)
        pht, hpht = a.T @ yy, yy.T @ yy
        loc = self._localizers(sensors, ensemble.shape[1])
        if loc is not None:
            pht, hpht = pht * loc[0], hpht * loc[1]
        m = hpht.shape[0]
        s = hpht + (sigma**2 + 1e-12) * torch.eye(m, dtype=torch.float64)
        eps = sigma * torch.randn(n_mem, m, generator=generator, dtype=torch.float64)
        innovations = y.double().reshape(1, -1) + eps - hx  # (N, m)
        gain_terms = torch.linalg.solve(s, innovations.T)  # (m, N)
        return (x + (pht @ gain_terms).T).reshape(ensemble.shape).to(dtype)

    def inflate(self, ensemble: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``xbar + lambda (x_i - xbar) + q xi_i``."""
        if self.inflation != 1.0:
            mean = ensemble.mean(0, keepdim=True)
            ensemble = mean + self.inflation * (ensemble - mean)
        if self.additive > 0:
            ndim = len(self.coords)
            if (
                generator is None
            ):  # draw from the global RNG (a fresh Generator would repeat its default seed)
                generator = torch.Generator().manual_seed(int(torch.randint(2**62, ()).item()))
            noise = smooth_perturbation(ensemble.shape, ndim, generator, ensemble.dtype)
            ensemble = ensemble + self.additive * noise.to(ensemble.device)
        return ensemble

    def run(
        self,
        initial: torch.Tensor,
        n_frames: int,
        observations: dict[int, tuple[torch.Tensor, PointSensors]],
        sigma: float,
        generator: torch.Generator,
    ) -> EnKFResult:
        """Filter from the initial ensemble ``(N, C, *space)`` over ``n_frames`` frames.

        ``observations`` maps a frame to ``(y (C, S), H)``; frames without an entry are forecast only.
        Returns the ensemble mean and spread (std over members) at every frame, ``(1, T, C, *space)``.
        """
        ens = initial
        if 0 in observations:
            ens = self.analysis(ens, *observations[0], sigma, generator)
        means, spreads = [ens.mean(0)], [ens.std(0)]
        start = time.perf_counter()
        for frame in range(1, n_frames):
            with torch.no_grad():
                ens = self.inflate(self.forecast(ens), generator)
            if frame in observations:
                ens = self.analysis(ens, *observations[frame], sigma, generator)
            means.append(ens.mean(0))
            spreads.append(ens.std(0))
        seconds = (time.perf_counter() - start) / max(1, n_frames - 1)
        return EnKFResult(torch.stack(means)[None], torch.stack(spreads)[None], seconds)


def kalman_analysis(
    mean: torch.Tensor, cov: torch.Tensor, y: torch.Tensor, h: torch.Tensor, sigma: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact Kalman analysis: ``K = P H^T (H P H^T + R)^{-1}``, ``m + K (y - H m)``, ``(I - K H) P``."""
    s = h @ cov @ h.T + sigma**2 * torch.eye(h.shape[0], dtype=cov.dtype)
    k = torch.linalg.solve(s, h @ cov).T
    return mean + k @ (y - h @ mean), (torch.eye(cov.shape[0], dtype=cov.dtype) - k @ h) @ cov
