"""Time derivatives of trajectories and how a residual ``R = du/dt - F(u)`` is formed from frames.

A trajectory is ``(batch, time, channel, *space)`` with frames ``u_0 .. u_{T-1}`` at ``t_n = t_0 + n dt``.
A time scheme turns the frames and the right-hand side at every frame, ``F_n = F(u_n, t_n)``, into residual
frames; each scheme states where its residual lives and its order in ``dt``:

=================  ===================================================  ==========  ==============
scheme             residual                                             frames out  order in dt
=================  ===================================================  ==========  ==============
``Trapezoidal``    ``(u_{n+1} - u_n) / dt - (F_n + F_{n+1}) / 2``       ``T - 1``   2 (midpoints)
``CentralDiff``    ``D_t u_n - F_n``, ``D_t`` second-order central      ``T``       2
                   inside, second-order one-sided at both ends
``FourierTime``    ``D_t u_n - F_n``, ``D_t`` Fourier differentiation    ``T``       spectral (time-
                   in time (the frames are one period)                              periodic ``u``)
=================  ===================================================  ==========  ==============

``Trapezoidal`` is the one-step (Crank-Nicolson) form: with two frames it is the residual of an operator
that advances one step, ``u_n -> u_{n+1}``, the form Spectral-Refiner uses for its loss (Cao et al.,
ICLR 2025, sec. 4) and the natural one for autoregressive models. ``CentralDiff`` is PINO's finite
difference in time (Li et al., arXiv 2111.03794, sec. 3.3; LESnets uses the same ``(u_{n+1} - u_{n-1}) /
2 dt`` inside). ``FourierTime`` is PINO's spectral option, for trajectories periodic in time.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch

from specops.spectral.grid import wavenumbers


def _check_frames(u: torch.Tensor, minimum: int, scheme: str) -> None:
    if u.dim() < 3:
        raise ValueError(
            f"{scheme}: a trajectory must be (batch, time, channel, *space), got shape {tuple(u.shape)}"
        )
    if u.shape[1] < minimum:
        raise ValueError(
            f"{scheme} needs at least {minimum} frames on the time axis (dim 1), got {u.shape[1]} in "
            f"{tuple(u.shape)}; use Trapezoidal() for two frames (a one-step operator)"
        )


def _check_dt(dt: float) -> float:
    dt = float(dt)
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt={dt} must be a positive number (the time between frames)")
    return dt


class TimeScheme(ABC):
    """How residual frames are formed from frames ``u`` and right-hand sides ``F`` (same shape).

    Subclasses give ``derivative(u, dt)`` (``du/dt`` at the frames where the residual lives) and
    ``rhs_at(F)`` (``F`` at those frames); ``residual`` subtracts them.
    """

    name: str = "scheme"
    min_frames: int = 2
    order: int = 2

    def residual(self, u: torch.Tensor, rhs: torch.Tensor, dt: float) -> torch.Tensor:
        """``du/dt - F`` where this scheme places it; ``u`` and ``rhs`` are ``(batch, time, channel, *space)``."""
        if u.shape != rhs.shape:
            raise ValueError(f"{self.name}: frames {tuple(u.shape)} and F {tuple(rhs.shape)} differ in shape")
        return self.derivative(u, dt) - self.rhs_at(rhs)

    @abstractmethod
    def derivative(self, u: torch.Tensor, dt: float) -> torch.Tensor:
        """``du/dt`` at the residual's frames, from frames ``u`` spaced ``dt`` apart (time is dim 1)."""

    @abstractmethod
    def rhs_at(self, rhs: torch.Tensor) -> torch.Tensor:
        """The right-hand side at the residual's frames."""

    def times(self, n_frames: int, t0: float, dt: float) -> list[float]:
        """Times of the residual's frames."""
        return [t0 + n * dt for n in range(n_frames)]

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Trapezoidal(TimeScheme):
    """Crank-Nicolson residual at the midpoints: ``(u_{n+1} - u_n) / dt - (F(u_n) + F(u_{n+1})) / 2``.

    Second order in ``dt`` (the trapezoidal rule); ``T`` frames give ``T - 1`` residual frames. With two
    frames it is the one-step residual of an operator ``u_n -> u_{n+1}``.
    """

    name = "trapezoidal"
    min_frames = 2

    def derivative(self, u: torch.Tensor, dt: float) -> torch.Tensor:
        _check_frames(u, self.min_frames, type(self).__name__)
        return (u[:, 1:] - u[:, :-1]) / _check_dt(dt)

    def rhs_at(self, rhs: torch.Tensor) -> torch.Tensor:
        return 0.5 * (rhs[:, 1:] + rhs[:, :-1])

    def times(self, n_frames: int, t0: float, dt: float) -> list[float]:
        return [t0 + (n + 0.5) * dt for n in range(n_frames - 1)]


class CentralDiff(TimeScheme):
    """``du/dt`` by second-order differences at every frame: ``(u_{n+1} - u_{n-1}) / 2 dt`` inside,
    ``(-3 u_0 + 4 u_1 - u_2) / 2 dt`` and its mirror at the ends (``torch.gradient``, ``edge_order=2``)."""

    name = "central"
    min_frames = 3

    def derivative(self, u: torch.Tensor, dt: float) -> torch.Tensor:
        _check_frames(u, self.min_frames, type(self).__name__)
        (du,) = torch.gradient(u, spacing=_check_dt(dt), dim=1, edge_order=2)
        return du

    def rhs_at(self, rhs: torch.Tensor) -> torch.Tensor:
        return rhs


class FourierTime(TimeScheme):
    """``du/dt`` by Fourier differentiation over the frames, for trajectories periodic in time.

    The ``T`` frames are one period, ``u(t_0 + T dt) = u(t_0)`` (the repeated frame not stored); the
    derivative is ``irfft(i omega rfft(u))`` over the time axis, ``omega = 2 pi m / (T dt)``, with the
    Nyquist mode dropped: exact for trigonometric polynomials in time the frames resolve. On a trajectory
    that is not periodic the jump between its last and first frame spoils the derivative everywhere
    (Gibbs): use ``CentralDiff`` or ``Trapezoidal`` there (removing a linear or cubic trend was measured
    to give O(1) and first-order errors, worse than central differences).
    """

    name = "fourier"
    min_frames = 3

    def derivative(self, u: torch.Tensor, dt: float) -> torch.Tensor:
        _check_frames(u, self.min_frames, type(self).__name__)
        n = u.shape[1]
        k = wavenumbers(n, n * _check_dt(dt), real=True, device=u.device)
        if n % 2 == 0:
            k = k.clone()
            k[-1] = 0.0  # the Nyquist mode has no real derivative
        cdtype = torch.complex128 if u.dtype == torch.float64 else torch.complex64
        factor = torch.complex(torch.zeros_like(k), k).to(cdtype).reshape(n // 2 + 1, *([1] * (u.dim() - 2)))
        return torch.fft.irfft(torch.fft.rfft(u, dim=1) * factor, n=n, dim=1).to(u.dtype)

    def rhs_at(self, rhs: torch.Tensor) -> torch.Tensor:
        return rhs


TIME_SCHEMES: dict[str, type[TimeScheme]] = {
    "trapezoidal": Trapezoidal,
    "central": CentralDiff,
    "fourier": FourierTime,
}


def make_time_scheme(scheme: str | TimeScheme) -> TimeScheme:
    """A scheme object from its name (``trapezoidal``, ``central``, ``fourier``) or the object itself."""
    if isinstance(scheme, TimeScheme):
        return scheme
    if scheme not in TIME_SCHEMES:
        raise ValueError(f"time scheme {scheme!r} is not one of {sorted(TIME_SCHEMES)}")
    return TIME_SCHEMES[scheme]()


def time_derivative(u: torch.Tensor, dt: float, scheme: str | TimeScheme = "central") -> torch.Tensor:
    """``du/dt`` of frames ``u (batch, time, channel, *space)`` spaced ``dt`` apart, by ``scheme``.

    ``central`` and ``fourier`` give it at every frame, ``trapezoidal`` at the ``T - 1`` midpoints.
    """
    return make_time_scheme(scheme).derivative(u, dt)
