"""NODA: a semilinear neural operator with a learned observer, for prediction and data assimilation.

Singh, Borsoi, Erdogmus & Imbiriba, "Learning Semilinear Neural Operators: A Unified Recursive Framework
for Prediction and Data Assimilation", ICLR 2024 (arXiv 2402.15656). For ``u_t = L u + N(u)`` observed as
``y_k = H_k u(t_k) + eps`` the observer (Luenberger) form of the solution splits into a prediction and a
correction; the learned recursion is

    prediction  u_k^f = T u_{k-1}^a + F_theta(u_{k-1}^a),     T = exp(dt L) (spectral, optional) or I,
    correction  u_k^a = u_k^f + alpha c/(1 + c) d + K_theta(u_k^f, d, c),
                d = G * H_k^T [y_k - E_theta(u_k^f)] / (G * H_k^T 1 + 0.1 rho),   c = G * H_k^T 1 / rho,
                E_theta(u) = H_k (u + P_theta u),

``F_theta`` an FNO (the residual step), ``P_theta`` a pointwise map (the learned observation operator,
zero at initialisation, so ``E = H`` then), and ``K_theta`` an FNO gain operator that lifts the innovation
back to a field. The innovation at the sensors is scattered onto the grid by the adjoint of the sensor
interpolation and spread by a periodic Gaussian ``G`` whose width is ``smoothing`` mean sensor spacings
(``(N / S)^(1/d)`` nodes for ``S`` sensors on ``N`` nodes, ``rho = S / N``): ``d`` is the normalised-convolution
(Nadaraya-Watson) interpolation of the innovation and ``c`` the sensor coverage (mean 1), so the gain reads
fields at the scale of the state whatever the sensor density; a single point value would otherwise reach an
FNO with truncated modes as a spike it cannot resolve. ``alpha`` (a learned scalar per channel, 0.5 at
initialisation, while ``K_theta``'s output starts at zero) weights the interpolated innovation where sensors
are dense, an optimal-interpolation-like first guess of the gain. With ``smoothing = 0`` the innovation is
only scattered onto the nodes (``d = H_k^T [y_k - E(u_k^f)] / rho``, ``c = H_k^T 1 / rho``) and there is no
``alpha`` term. Sensors may move and their number change from step to
step; a step with no measurement is prediction only (``u^a = u^f``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from specops.assimilation.observe import PointSensors
from specops.models.base import OperatorModel, register_model
from specops.models.fno import FNO
from specops.physics.build import equation_from_metadata
from specops.physics.residuals import regrid
from specops.solvers.base import complex_dtype, irfftn, rfftn

Observation = tuple[torch.Tensor, PointSensors]


@register_model("noda")
class NODA(OperatorModel):
    """Prediction FNO + learned observation operator + FNO gain (Singh et al. 2024).

    Parameters
    ----------
    n_modes : list of int
        Kept modes of the prediction FNO (its length is the dimension).
    channels : int
        Channels of the state.
    hidden_channels, n_layers : int
        Width and depth of the prediction FNO.
    gain_channels, gain_layers : int
        Width and depth of the gain FNO (same modes).
    semigroup : mapping, optional
        ``{"pde", "parameters", "domain", "dt"}`` of a data file (``noda_semigroup(attrs, dt)``): the linear
        part ``T = exp(dt L)`` is applied spectrally from the solver's linear symbol. None: ``T = I``.
    smoothing : float
        Width (standard deviation) of the Gaussian that spreads the innovation, in mean sensor spacings;
        0 scatters it onto the nodes only (``H^T d / rho``).

    ``forward(u)`` is one prediction step, ``(B, channels, *space) -> (B, channels, *space)``.
    """

    def __init__(
        self,
        n_modes: Sequence[int],
        channels: int = 1,
        hidden_channels: int = 32,
        n_layers: int = 4,
        *,
        gain_channels: int = 32,
        gain_layers: int = 3,
        semigroup: Mapping[str, Any] | None = None,
        smoothing: float = 0.5,
    ) -> None:
        super().__init__()
        if not (math.isfinite(smoothing) and smoothing >= 0):
            raise ValueError(
                f"smoothing={smoothing} must be a width >= 0 in mean sensor spacings (0.5 is the default)"
            )
        modes = [int(m) for m in n_modes]
        self.dim, self.in_channels, self.out_channels = len(modes), int(channels), int(channels)
        c = self.in_channels
        self.predictor = FNO(modes, c, c, hidden_channels, n_layers)
        self.observer = nn.Conv1d(c, c, 1)
        nn.init.zeros_(self.observer.weight)
        nn.init.zeros_(self.observer.bias)
        self.gain = FNO(modes, 2 * c + 1, c, gain_channels, gain_layers)
        last = (
            self.gain.projection.layers[-1]
            if hasattr(self.gain.projection, "layers")
            else self.gain.projection
        )
        nn.init.zeros_(last.weight)  # no correction before training: u^a = u^f
        nn.init.zeros_(last.bias)
        self.smoothing = float(smoothing)
        # alpha: the weight of the interpolated innovation (only when there is an interpolation)
        self.nudge = nn.Parameter(torch.full((c,), 0.5)) if self.smoothing > 0 else None
        self._kernels: dict[tuple, torch.Tensor] = {}
        self.semigroup = dict(semigroup) if semigroup else None
        self._equation = None
        if self.semigroup:
            grid = tuple(int(n) for n in self.semigroup["shape"])
            self._equation = equation_from_metadata(self.semigroup, grid)
            self._dt = float(self.semigroup["dt"])
        self._factors: dict[tuple, torch.Tensor] = {}

    def linear_step(self, u: torch.Tensor) -> torch.Tensor:
        """``T u = exp(dt L) u`` by the solver's diagonal symbol on ``u``'s grid (``u`` when no semigroup)."""
        if self._equation is None:
            return u
        shape = tuple(u.shape[-self.dim :])
        key = (shape, u.dtype, u.device)
        if key not in self._factors:
            eq = regrid(self._equation, shape)
            symbol = eq.linear_symbol(device=u.device)
            self._factors[key] = torch.exp(self._dt * symbol.to(torch.complex128)).to(complex_dtype(u.dtype))
        factor = self._factors[key]
        u_hat = rfftn(u, self.dim)
        return irfftn(u_hat * factor, shape)

    def predict(self, u: torch.Tensor) -> torch.Tensor:
        """``u^f = T u + F_theta(u)``."""
        u = self.check_input(u, self.in_channels, self.dim)
        return self.linear_step(u) + self.predictor(u)

    def observe(self, u: torch.Tensor, sensors: PointSensors) -> torch.Tensor:
        """``E_theta(u) = H (u + P_theta u)`` ``(B, C, S)``."""
        flat = u.reshape(u.shape[0], u.shape[1], -1)
        return sensors((flat + self.observer(flat)).reshape(u.shape))

    def spread(self, field: torch.Tensor, spacing: float) -> torch.Tensor:
        """``G * field``: the periodic Gaussian of standard deviation ``smoothing * spacing`` nodes."""
        if self.smoothing == 0:
            return field
        shape = tuple(field.shape[-self.dim :])
        key = (shape, float(spacing), field.dtype, field.device)
        if key not in self._kernels:  # fixed sensors: the same kernel every step
            width = self.smoothing * spacing
            symbol = torch.ones((), dtype=torch.float64)
            for axis, n in enumerate(shape):
                k = torch.fft.rfftfreq(n) if axis == self.dim - 1 else torch.fft.fftfreq(n)
                g = torch.exp(-0.5 * (2 * math.pi * k.double() * width) ** 2)
                symbol = symbol[..., None] * g if axis else g
            self._kernels[key] = symbol.to(device=field.device, dtype=field.dtype)
        return irfftn(rfftn(field, self.dim) * self._kernels[key], shape)

    def innovation_fields(
        self, innovation: torch.Tensor, sensors: PointSensors, like: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(d, c)``: the interpolated innovation ``(B, C, *space)`` and the sensor coverage ``(B, 1, *space)``."""
        nodes = math.prod(like.shape[2:])
        density = sensors.n_sensors / nodes
        ones = sensors.adjoint(torch.ones_like(innovation[:1, :1], dtype=like.dtype))
        if self.smoothing == 0:  # scattered onto the nodes, each sensor's value spread over its 1/rho nodes
            lifted, coverage = sensors.adjoint(innovation.to(like)) / density, ones / density
            return lifted, coverage.expand(like.shape[0], 1, *like.shape[2:])
        spacing = (1.0 / density) ** (1.0 / self.dim)
        coverage = (self.spread(ones, spacing) / density).expand(like.shape[0], 1, *like.shape[2:])
        lifted = self.spread(sensors.adjoint(innovation.to(like)), spacing) / density
        return lifted / (coverage + 0.1), coverage

    def correct(
        self, uf: torch.Tensor, y: torch.Tensor, sensors: PointSensors
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``u^a = u^f + alpha c/(1+c) d + K_theta(u^f, d, c)`` (module docstring); returns ``u^a``, ``E(u^f)``."""
        predicted = self.observe(uf, sensors)
        d, c = self.innovation_fields(y.to(uf) - predicted, sensors, uf)
        shape = (1, -1) + (1,) * self.dim
        correction = self.gain(torch.cat([uf, d, c], 1))
        if self.nudge is not None:  # an interpolated innovation: weighted where the sensors are dense
            correction = correction + self.nudge.reshape(shape) * (c / (1 + c)) * d
        return uf + correction, predicted

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.predict(u)

    def run(
        self, start: torch.Tensor, n_frames: int, observations: Mapping[int, Observation] | None = None
    ) -> torch.Tensor:
        """The recursion from ``start`` ``(B, C, *space)`` over ``n_frames`` frames -> ``(B, T, C, *space)``.

        ``observations`` maps a frame to ``(y (B, C, S), H)``; frame 0 is corrected when observed. Frames
        without an entry are predicted only.
        """
        observations = observations or {}
        u = start
        if 0 in observations:
            u = self.correct(u, *observations[0])[0]
        frames = [u]
        for k in range(1, int(n_frames)):
            u = self.predict(u)
            if k in observations:
                u = self.correct(u, *observations[k])[0]
            frames.append(u)
        return torch.stack(frames, 1)


def noda_semigroup(attrs: Mapping[str, Any], shape: Sequence[int], dt: float) -> dict[str, Any]:
    """The ``semigroup`` argument of :class:`NODA` from a trajectory file's root attributes."""
    params = attrs.get("parameters") or {}
    inner = params.get("parameters", params) if isinstance(params, Mapping) else {}
    return {
        "pde": attrs.get("pde"),
        "parameters": {"parameters": dict(inner)},
        "domain": attrs.get("domain"),
        "shape": [int(n) for n in shape],
        "dt": float(dt),
    }
