"""PDE residuals of predicted fields, built from the solvers' own equation objects.

- :class:`EvolutionResidual`: ``R(u) = du/dt - N(u, t) - L u`` for a ``PeriodicEquation`` (Burgers, KdV,
  Kuramoto-Sivashinsky, 2D Navier-Stokes vorticity). ``N`` (nonlinear terms, 2/3 de-aliased, and the
  forcing ``f``) and ``L`` (diagonal linear terms) are the equation's ``explicit_terms`` and
  ``implicit_terms``: the same pseudo-spectral operators the solver steps, so the viscosity, domain,
  forcing and de-aliasing are those of the data. ``du/dt`` comes from a ``TimeScheme`` over the frames.
- :class:`DarcyResidual`: ``R(u) = -div(a grad u) - f`` at the interior nodes by the solver's five-point
  operator (``Darcy.apply``, harmonic or arithmetic faces), and the boundary values of ``u`` (the
  Dirichlet condition ``u = 0``).

Both are differentiable (autograd through the FFTs and the stencil), work in float32 and float64, and
accept any grid: the equation is rebuilt on the grid of the fields passed (``regrid``), which is how a
residual is evaluated on a finer grid than the data (PINO, Li et al., arXiv 2111.03794, sec. 3.2). Each
residual has a ``norm`` for its geometry (``physics.norms``): periodic Sobolev ``H^s`` or sine-series
``H^s`` for the Dirichlet problem, ``s = 0`` (L2) or ``s = -1`` (H^-1, Spectral-Refiner's choice).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch

from specops.losses import safe_root
from specops.physics.norms import boundary_norm, dirichlet_sobolev_norm, time_rms
from specops.physics.time import TimeScheme, Trapezoidal, make_time_scheme
from specops.solvers.base import PeriodicEquation
from specops.solvers.darcy import Darcy, FaceAverage
from specops.spectral.norms import sobolev_norm


def fourier_resample(u: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Periodic fields ``u (..., *space)`` interpolated (or truncated) to the grid ``shape`` by their Fourier
    series: the modes ``|k| < n / 2`` common to both grids are kept, the rest are zero. Differentiable."""
    ndim = len(shape)
    out = u
    for axis, m in enumerate(shape):
        dim = u.dim() - ndim + axis
        n = out.shape[dim]
        if n == m:
            continue
        coef = torch.fft.fft(out, dim=dim, norm="forward")
        keep = (min(n, m) - 1) // 2  # frequencies 0..keep and -keep..-1: no Nyquist mode
        new_shape = list(coef.shape)
        new_shape[dim] = m
        padded = coef.new_zeros(new_shape)
        padded.narrow(dim, 0, keep + 1).copy_(coef.narrow(dim, 0, keep + 1))
        if keep:
            padded.narrow(dim, m - keep, keep).copy_(coef.narrow(dim, n - keep, keep))
        out = torch.fft.ifft(padded, dim=dim, norm="forward")
    return out.real if out.is_complex() else out


def regrid(equation: PeriodicEquation, shape: Sequence[int]) -> PeriodicEquation:
    """The same equation (parameters, domain, forcing, de-aliasing fraction) on a grid of ``shape``.

    A shallow copy whose grid attributes and caches are rebuilt by ``PeriodicEquation.__init__``; the
    subclass's parameters (viscosity, forcing object, ...) are shared. A custom de-aliasing mask is tied to
    its grid and cannot be moved.
    """
    shape = tuple(int(n) for n in shape)
    if shape == equation.shape:
        return equation
    if len(shape) != equation.ndim:
        raise ValueError(f"shape={shape} has {len(shape)} axes; {equation.name} is {equation.ndim}D")
    if isinstance(equation.dealias, torch.Tensor):
        raise ValueError(
            f"{equation.name} has a custom de-aliasing mask for the grid {equation.shape}; build the equation "
            f"on the grid {shape} yourself"
        )
    out = copy.copy(equation)
    PeriodicEquation.__init__(out, shape, equation.lengths, equation.dealias)
    return out


class EvolutionResidual:
    """``R(u) = du/dt - N(u, t) - L u`` on trajectories ``u (batch, time, channel, *space)``.

    The equation is ``du/dt = N(u, t) + L u`` (``specops.solvers.base``): Burgers ``N = -(u^2/2)_x``,
    ``L = nu d_xx``; KdV ``N = -(a/2)(u^2)_x``, ``L = -b d_xxx``; KS ``N = -(u^2/2)_x``,
    ``L = -d_xx - nu d_xxxx``; Navier-Stokes ``N = f - u . grad w`` (``u`` from the stream function),
    ``L = nu lap - mu``. Spatial terms are pseudo-spectral with the equation's de-aliasing, the time
    derivative is the scheme's (``physics.time``); the residual of the exact solution vanishes at the
    scheme's order in ``dt`` and spectrally in space.

    Parameters
    ----------
    equation : PeriodicEquation
        The equation (any grid: it is rebuilt on the grid of the fields passed, see ``regrid``).
    dt : float
        Time between frames.
    scheme : TimeScheme or str
        ``"trapezoidal"`` (default; one-step Crank-Nicolson form), ``"central"`` or ``"fourier"``.
    """

    def __init__(
        self, equation: PeriodicEquation, dt: float, scheme: TimeScheme | str = "trapezoidal"
    ) -> None:
        if not isinstance(equation, PeriodicEquation):
            raise TypeError(
                f"equation={type(equation).__name__} is not a PeriodicEquation; Darcy flow has DarcyResidual"
            )
        if not float(dt) > 0:
            raise ValueError(f"dt={dt} must be positive (the time between frames)")
        self.equation = equation
        self.dt = float(dt)
        self.scheme = make_time_scheme(scheme)
        self._grids: dict[tuple[int, ...], PeriodicEquation] = {equation.shape: equation}

    @property
    def ndim(self) -> int:
        return self.equation.ndim

    @property
    def lengths(self) -> tuple[float, ...]:
        return self.equation.lengths

    def on_grid(self, shape: Sequence[int]) -> PeriodicEquation:
        """The equation on the grid ``shape`` (built once per grid)."""
        key = tuple(int(n) for n in shape)
        if key not in self._grids:
            self._grids[key] = regrid(self.equation, key)
        return self._grids[key]

    def rhs(self, u: torch.Tensor, t: float = 0.0) -> torch.Tensor:
        """``F(u) = N(u, t) + L u`` of states ``(batch, channel, *space)`` on the physical grid.

        ``t`` is passed to the explicit terms; the built-in forcings do not depend on time.
        """
        if u.dim() != self.ndim + 2 or u.shape[1] != self.equation.n_channels:
            raise ValueError(
                f"u has shape {tuple(u.shape)}; {self.equation.name} states are (batch, "
                f"{self.equation.n_channels}, {', '.join(['n'] * self.ndim)})"
            )
        # no scan for NaN here (a device synchronisation per step): a NaN prediction shows in the loss
        eq = self.on_grid(u.shape[2:])
        u_hat = eq.to_spectral(u)
        return eq.to_physical(eq.explicit_terms(u_hat, t) + eq.implicit_terms(u_hat))

    def __call__(self, u: torch.Tensor, t0: float = 0.0) -> torch.Tensor:
        """Residual frames ``(batch, T', channel, *space)`` of the trajectory ``u`` whose first frame is at ``t0``
        (``T' = T - 1`` for the trapezoidal scheme, ``T`` for the others)."""
        if u.dim() != self.ndim + 3:
            raise ValueError(
                f"u has shape {tuple(u.shape)}; a trajectory of the {self.ndim}D {self.equation.name} equation is "
                f"(batch, time, channel, {', '.join(['n'] * self.ndim)}); add the time axis with u.unsqueeze(1)"
            )
        b, n = u.shape[:2]
        rhs = self.rhs(u.reshape(b * n, *u.shape[2:]), t0).reshape(u.shape)
        return self.scheme.residual(u, rhs, self.dt)

    def one_step(self, u0: torch.Tensor, u1: torch.Tensor, dt: float | None = None) -> torch.Tensor:
        """Crank-Nicolson residual of one step ``u0 -> u1`` (states ``(batch, channel, *space)``):
        ``(u1 - u0) / dt - (F(u0) + F(u1)) / 2``, second order in ``dt``."""
        step = self.dt if dt is None else float(dt)
        frames = torch.stack([u0, u1], dim=1)
        b = u0.shape[0]
        rhs = self.rhs(frames.reshape(2 * b, *u0.shape[1:])).reshape(frames.shape)
        return Trapezoidal().residual(frames, rhs, step)[:, 0]

    def norm(self, r: torch.Tensor, s: float = 0.0, alpha: float = 1.0) -> torch.Tensor:
        """Per sample: the root mean square over frames of ``||R_n||_{H^s}`` (channels together), on the
        periodic domain, exact by Parseval; ``r`` is ``(batch, time, channel, *space)``."""
        sq = sobolev_norm(r, s, self.ndim, self.lengths, alpha, squared=True)  # (batch, time, channel)
        return time_rms(sq.sum(dim=2))

    def loss_terms(
        self,
        inputs: torch.Tensor,
        outputs: torch.Tensor,
        *,
        s: float = 0.0,
        alpha: float = 1.0,
        outputs_include_initial: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Per-sample terms of a physics loss for a model that maps frames ``inputs (B, k, C, *space)`` to
        the next frames ``outputs (B, m, C, *space)``: ``{"residual": ||R||}`` of the trajectory
        ``[inputs[:, -1], outputs]`` (the initial condition then holds exactly). With
        ``outputs_include_initial`` the model predicts the trajectory from the input's time on (PINO's
        space-time layout): the residual is that of ``outputs`` and ``"initial"`` is
        ``||outputs[:, 0] - inputs[:, -1]||_{L2}``."""
        if inputs.dim() != outputs.dim() or inputs.shape[2:] != outputs.shape[2:]:
            raise ValueError(
                f"inputs {tuple(inputs.shape)} and outputs {tuple(outputs.shape)} must be frames (batch, time, "
                f"channel, *space) on the same grid"
            )
        if not outputs_include_initial:
            return {"residual": self.norm(self(torch.cat([inputs[:, -1:], outputs], dim=1)), s, alpha)}
        gap = (outputs[:, :1] - inputs[:, -1:]).to(
            torch.float64 if outputs.dtype == torch.float64 else torch.float32
        )
        initial = sobolev_norm(gap, 0.0, self.ndim, self.lengths, squared=True).sum(dim=(1, 2))
        return {"residual": self.norm(self(outputs), s, alpha), "initial": safe_root(initial, 2.0)}

    def resample(self, fields: torch.Tensor, factor: int) -> torch.Tensor:
        """Fields ``(..., *space)`` on a grid ``factor`` times finer per axis, by Fourier interpolation
        (exact for fields the coarse grid resolves; the Nyquist mode of an even grid is dropped)."""
        return fourier_resample(fields, [n * int(factor) for n in fields.shape[-self.ndim :]])

    def __repr__(self) -> str:
        return f"EvolutionResidual({self.equation!r}, dt={self.dt:g}, scheme={self.scheme!r})"


class DarcyResidual:
    """``R(u) = -div(a grad u) - f`` at the interior nodes of ``[0, 1]^2`` and the boundary values of ``u``.

    The operator is the solver's (``specops.solvers.darcy.Darcy``): five-point differences with harmonic
    (default) or arithmetic face averages on ``n x n`` nodes, ``h = 1 / (n - 1)``, so the discrete solution
    of the solver has residual zero to rounding; the exact solution of the PDE has a residual of order
    ``h^2`` for smooth ``a`` and ``u``. The Dirichlet condition ``u = 0`` is the separate boundary term.

    Parameters
    ----------
    forcing : float or Tensor
        ``f``: a number, an ``(n, n)`` field or ``(batch, n, n)`` fields on the grid of ``u``.
    face_average : "harmonic" or "arithmetic"
        As the solver that made the data.
    """

    ndim = 2

    def __init__(self, forcing: float | torch.Tensor = 1.0, face_average: FaceAverage = "harmonic") -> None:
        if face_average not in ("harmonic", "arithmetic"):
            raise ValueError(f"face_average={face_average!r} must be 'harmonic' or 'arithmetic'")
        self.forcing = forcing
        self.face_average = face_average
        self._solvers: dict[int, Darcy] = {}

    def solver(self, n: int) -> Darcy:
        """The solver's operator on ``n x n`` nodes (built once per grid)."""
        if n not in self._solvers:
            self._solvers[n] = Darcy(n, face_average=self.face_average)
        return self._solvers[n]

    def _fields(self, a: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = a[:, 0] if a.dim() == 4 else a
        u = u[:, 0] if u.dim() == 4 else u
        if a.dim() != 3 or a.shape != u.shape or a.shape[-1] != a.shape[-2] or a.shape[-1] < 3:
            raise ValueError(
                f"a {tuple(a.shape)} and u {tuple(u.shape)} must both be (batch, 1, n, n) on the same square "
                f"grid of n >= 3 nodes"
            )
        return a, u

    def __call__(self, a: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Interior residual ``(batch, 1, n - 2, n - 2)`` of ``u`` for coefficient ``a`` (both ``(batch, 1, n, n)``)."""
        a, u = self._fields(a, u)
        n = a.shape[-1]
        f = torch.as_tensor(self.forcing, dtype=u.dtype, device=u.device)
        if f.dim() == 4:
            f = f[:, 0]
        if f.dim() >= 2 and tuple(f.shape[-2:]) != (n, n):
            raise ValueError(
                f"forcing has shape {tuple(f.shape)}; expected a number or fields on {n} x {n} nodes"
            )
        if f.dim() >= 2:
            f = f[..., 1:-1, 1:-1]
        au = self.solver(n).apply(a, u)[:, 1:-1, 1:-1]
        return (au - f).unsqueeze(1)

    def boundary(self, u: torch.Tensor) -> torch.Tensor:
        """Values of ``u (batch, 1, n, n)`` on the boundary nodes, ``(batch, 4 (n - 1))`` (the Dirichlet
        condition ``u = 0`` asks them to vanish)."""
        u = u[:, 0] if u.dim() == 4 else u
        return torch.cat([u[:, 0, :-1], u[:, :-1, -1], u[:, -1, 1:], u[:, 1:, 0]], dim=1)

    def norm(self, r: torch.Tensor, s: float = 0.0, alpha: float = 1.0) -> torch.Tensor:
        """Per sample: ``||R||_{H^s}`` of interior residuals ``(batch, 1, m, m)`` by the sine series of the
        Dirichlet problem (``physics.norms.dirichlet_sobolev_norm``)."""
        return safe_root(dirichlet_sobolev_norm(r, s, alpha, squared=True).sum(dim=1), 2.0)

    def boundary_norm(self, u: torch.Tensor) -> torch.Tensor:
        """Per sample: ``(h sum_boundary u^2)^{1/2}``, the L2 norm of ``u`` on the boundary."""
        values = self.boundary(u)
        return boundary_norm(values, 1.0 / (u.shape[-1] - 1))

    def loss_terms(
        self, inputs: torch.Tensor, outputs: torch.Tensor, *, s: float = 0.0, alpha: float = 1.0
    ) -> dict[str, torch.Tensor]:
        """Per-sample terms of a physics loss for a model ``a -> u``: ``{"residual": ||R(u)||_{H^s},
        "boundary": ||u||_{L2(boundary)}}``, ``a`` the first channel of ``inputs (B, C_in, n, n)``."""
        return {
            "residual": self.norm(self(inputs[:, :1], outputs), s, alpha),
            "boundary": self.boundary_norm(outputs),
        }

    def resample(self, fields: torch.Tensor, factor: int) -> torch.Tensor:
        """Node fields ``(B, C, n, n)`` on ``(n - 1) factor + 1`` nodes per axis, by bilinear interpolation
        (the nodes of the coarse grid are kept; a coefficient's jumps are smeared over one fine cell)."""
        n = fields.shape[-1]
        size = ((n - 1) * int(factor) + 1,) * 2
        return torch.nn.functional.interpolate(fields, size=size, mode="bilinear", align_corners=True)

    def __repr__(self) -> str:
        f = "field" if isinstance(self.forcing, torch.Tensor) else self.forcing
        return f"DarcyResidual(forcing={f}, face_average={self.face_average!r})"
