"""Semi-linear evolution equations on periodic boxes, held in Fourier space.

An equation ``du/dt = N(u, t) + L u`` is split into explicit terms ``N`` (nonlinear, forcing) and
implicit terms ``L`` (linear, diagonal in Fourier space). Time steppers (``steppers.py``) only use the
four methods below, so every stepper works with every equation:

- ``explicit_terms(u_hat, t)`` evaluates ``N``;
- ``implicit_terms(u_hat)`` evaluates ``L u``;
- ``implicit_solve(rhs_hat, step)`` solves ``(1 - step L) u = rhs``;
- ``linear_operator(dtype, device)`` returns the diagonal of ``L`` (for exponential integrators).

States are real-FFT coefficients of shape ``(batch, channel, *spectral_shape)`` with
``spectral_shape = (n_1, ..., n_{d-1}, n_d // 2 + 1)``; ``to_spectral`` and ``to_physical`` convert.

Every sample is computed independently: no operation mixes samples, and the FFT wrappers here make the
rounding of a sample's transform independent of the batch it is in (see ``rfftn``), so that a batch
equals its samples run one at a time, bit for bit, on CPU.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import torch

from specops.spectral.fft import dealias_mask
from specops.spectral.grid import grid_coordinates, per_dim, wavenumbers

_REAL_DTYPES = (torch.float32, torch.float64)


def complex_dtype(dtype: torch.dtype) -> torch.dtype:
    """The complex dtype matching a real one."""
    return torch.complex128 if dtype == torch.float64 else torch.complex64


def _single_transform(x: torch.Tensor, ndim: int) -> bool:
    # On CPU, a multi-dimensional FFT of exactly one field takes a different code path in the FFT library
    # than a batch of fields and rounds differently (measured with torch 2.13's MKL backend): duplicating
    # the field makes a lone sample round exactly as it does inside a batch.
    return x.device.type == "cpu" and ndim >= 2 and x.numel() == math.prod(x.shape[-ndim:])


def rfftn(x: torch.Tensor, ndim: int) -> torch.Tensor:
    """Real FFT over the last ``ndim`` dimensions, rounding identically whatever the batch size."""
    dims = tuple(range(-ndim, 0))
    if _single_transform(x, ndim):
        return torch.fft.rfftn(torch.stack([x, x]), dim=dims)[0]
    return torch.fft.rfftn(x, dim=dims)


def irfftn(x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Inverse real FFT onto a grid of ``shape`` (the last ``len(shape)`` dimensions)."""
    ndim = len(shape)
    dims = tuple(range(-ndim, 0))
    if _single_transform(x, ndim):
        return torch.fft.irfftn(torch.stack([x, x]), s=tuple(shape), dim=dims)[0]
    return torch.fft.irfftn(x, s=tuple(shape), dim=dims)


def cmul(z: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``z * w`` for complex ``z``; rounding-exact per element when ``w`` is a general complex tensor.

    PyTorch's vectorised complex128 product uses fused multiply-adds while its scalar tail loop does not,
    so which elements get which rounding depends on the tensor size, i.e. on the batch. Real and purely
    imaginary factors round exactly either way; general complex factors are multiplied here in real
    arithmetic, whose every operation is correctly rounded.
    """
    if not w.is_complex():
        return z * w
    zr, zi = z.real, z.imag
    wr, wi = w.real, w.imag
    return torch.complex(zr * wr - zi * wi, zr * wi + zi * wr)


class PeriodicEquation(ABC):
    """Base class of pseudo-spectral equations ``du/dt = N(u, t) + L u`` on ``[0, L_1) x ... x [0, L_d)``.

    Subclasses define ``linear_symbol`` (the diagonal of ``L`` as a function of the angular wavenumbers),
    ``_explicit`` (the explicit terms) and, for the CFL time step, ``max_speed``.

    Parameters
    ----------
    shape : sequence of int
        Grid points per dimension.
    lengths : float or sequence of float
        Domain lengths.
    dealias : float, Tensor or None
        Fraction of the modes kept in nonlinear products (2/3: Orszag's rule, exact for quadratic
        nonlinearities), a boolean mask in ``rfftn`` layout (to match another code's convention), or
        None for no de-aliasing.
    """

    name: str = "equation"
    formula: str = ""  # the PDE in words, e.g. "u_t + u u_x = nu u_xx" (stored in dataset metadata)
    n_channels: int = 1

    def __init__(
        self,
        shape: Sequence[int],
        lengths: Sequence[float] | float = 1.0,
        dealias: float | torch.Tensor | None = 2.0 / 3.0,
    ) -> None:
        self.shape = tuple(int(n) for n in shape)
        if any(n < 4 for n in self.shape):
            raise ValueError(f"shape={tuple(shape)}: every axis needs at least 4 grid points")
        self.ndim = len(self.shape)
        self.lengths = tuple(per_dim(lengths, self.ndim, "lengths"))
        if any(length <= 0 for length in self.lengths):
            raise ValueError(f"lengths={self.lengths} must be positive")
        self.spectral_shape = (*self.shape[:-1], self.shape[-1] // 2 + 1)
        if isinstance(dealias, torch.Tensor):
            if tuple(dealias.shape) != self.spectral_shape or dealias.dtype != torch.bool:
                raise ValueError(
                    f"dealias mask has shape {tuple(dealias.shape)} and dtype {dealias.dtype}; expected a bool "
                    f"tensor of shape {self.spectral_shape} (the rfftn layout of the grid {self.shape})"
                )
            self._mask = dealias.cpu()
        elif dealias is None:
            self._mask = None
        else:
            if not 0 < float(dealias) <= 1:
                raise ValueError(f"dealias={dealias} must be a fraction in (0, 1], a bool mask, or None")
            self._mask = dealias_mask(self.shape, float(dealias))
        self.dealias = dealias
        self._cache: dict[Any, Any] = {}

    # ----- geometry
    def coordinates(self, *, dtype: torch.dtype = torch.float64, device=None) -> list[torch.Tensor]:
        """Grid node coordinates ``x_j = j L / n`` per dimension."""
        return grid_coordinates(self.shape, self.lengths, dtype=dtype, device=device)

    @property
    def spacing(self) -> tuple[float, ...]:
        """Grid spacing per dimension."""
        return tuple(length / n for length, n in zip(self.lengths, self.shape))

    def wavenumbers(self, *, odd: bool = False, device=None) -> list[torch.Tensor]:
        """Angular wavenumbers per axis in ``rfftn`` layout, float64, broadcastable to ``spectral_shape``.

        With ``odd`` the Nyquist entries of even axes are zero: an odd derivative of the Nyquist mode is
        not a real field, so it is dropped (Trefethen, Spectral Methods in MATLAB, ch. 3).
        """
        out = []
        for axis, (n, length) in enumerate(zip(self.shape, self.lengths)):
            last = axis == self.ndim - 1
            k = wavenumbers(n, length, real=last, device=device)
            if odd and n % 2 == 0:
                k = k.clone()
                k[n // 2] = 0.0
            view = [1] * self.ndim
            view[axis] = k.numel()
            out.append(k.reshape(view))
        return out

    def squared_wavenumber(self, *, device=None) -> torch.Tensor:
        """``|k|^2`` on the ``rfftn`` grid, float64."""
        return sum(k**2 for k in self.wavenumbers(device=device))

    # ----- transforms
    def to_spectral(self, u: torch.Tensor) -> torch.Tensor:
        """Physical ``(batch, channel, *shape)`` to Fourier ``(batch, channel, *spectral_shape)``."""
        return rfftn(u, self.ndim)

    def to_physical(self, u_hat: torch.Tensor) -> torch.Tensor:
        """Fourier coefficients back to the physical grid."""
        return irfftn(u_hat, self.shape)

    # ----- cached constants
    def constants(self, dtype: torch.dtype, device: torch.device | str | None) -> dict[str, torch.Tensor]:
        """Constant tensors of the equation in ``dtype`` on ``device``, built once and cached."""
        if dtype not in _REAL_DTYPES:
            raise ValueError(f"dtype={dtype} is not supported; use torch.float32 or torch.float64")
        device = torch.device(device if device is not None else "cpu")
        key = ("constants", dtype, device)
        if key not in self._cache:
            consts = self._build_constants(dtype, device)
            lin = self.linear_symbol(device)
            consts["linear"] = lin.to(complex_dtype(dtype) if lin.is_complex() else dtype)
            self._cache[key] = consts
        return self._cache[key]

    def _build_constants(self, dtype: torch.dtype, device: torch.device) -> dict[str, torch.Tensor]:
        return {}

    # ----- the IMEX interface
    @abstractmethod
    def linear_symbol(self, device=None) -> torch.Tensor:
        """Diagonal of ``L`` on the ``rfftn`` grid (float64 or complex128), shape ``spectral_shape``."""

    @abstractmethod
    def _explicit(self, u_hat: torch.Tensor, t: float, consts: dict[str, torch.Tensor]) -> torch.Tensor:
        """The explicit terms ``N(u, t)`` in Fourier space."""

    def explicit_terms(self, u_hat: torch.Tensor, t: float = 0.0) -> torch.Tensor:
        """``N(u, t)``: nonlinear and forcing terms, treated explicitly; same shape as ``u_hat``."""
        return self._explicit(u_hat, t, self.constants(u_hat.real.dtype, u_hat.device))

    def linear_operator(self, dtype: torch.dtype, device=None) -> torch.Tensor:
        """Diagonal of ``L`` in ``dtype`` (complex when ``L`` is not real), cached."""
        return self.constants(dtype, device)["linear"]

    def implicit_terms(self, u_hat: torch.Tensor) -> torch.Tensor:
        """``L u``, the linear terms treated implicitly."""
        return cmul(u_hat, self.linear_operator(u_hat.real.dtype, u_hat.device))

    def implicit_solve(self, rhs_hat: torch.Tensor, step: float) -> torch.Tensor:
        """Solve ``u - step * L u = rhs`` for ``u`` (a division, ``L`` being diagonal)."""
        return cmul(rhs_hat, self.implicit_factor(step, rhs_hat.real.dtype, rhs_hat.device))

    def implicit_factor(self, step: float, dtype: torch.dtype, device=None) -> torch.Tensor:
        """``1 / (1 - step L)``, cached per step (steppers call it with a few fixed steps)."""
        device = torch.device(device if device is not None else "cpu")

        def build() -> torch.Tensor:
            factor = 1.0 / (1.0 - float(step) * self.linear_symbol(device))
            return factor.to(complex_dtype(dtype) if factor.is_complex() else dtype)

        return self.cached(("solve", float(step), dtype, device), build)

    def cached(self, key: tuple, build) -> Any:
        """``build()`` memoised under ``key`` (per-step coefficients of steppers); at most 64 are kept."""
        if key not in self._cache:
            stale = [k for k in self._cache if k[0] != "constants"]
            for k in stale[: max(0, len(stale) - 63)]:
                del self._cache[k]
            self._cache[key] = build()
        return self._cache[key]

    # ----- time step
    def max_speed(self, u_hat: torch.Tensor) -> torch.Tensor:
        """Largest advection speed per sample, shape ``(batch,)``; used by the CFL time step."""
        raise NotImplementedError(f"{type(self).__name__} defines no advection speed; pass dt explicitly")

    def check_state(self, u: torch.Tensor, what: str = "u0") -> None:
        """Raise ``ValueError`` unless ``u`` is a finite real ``(batch, channel, *shape)`` tensor."""
        expected = (self.n_channels, *self.shape)
        if u.dim() != self.ndim + 2 or tuple(u.shape[1:]) != expected:
            hint = " (add the channel axis with u.unsqueeze(1))" if tuple(u.shape[1:]) == self.shape else ""
            raise ValueError(
                f"{what} has shape {tuple(u.shape)}; {self.name} expects (batch, {', '.join(map(str, expected))})"
                f"{hint}"
            )
        if u.is_complex() or u.dtype not in _REAL_DTYPES:
            raise ValueError(f"{what} has dtype {u.dtype}; expected torch.float32 or torch.float64")
        bad = ~torch.isfinite(u).flatten(1).all(dim=1)
        if bool(bad.any()):
            raise ValueError(
                f"{what} holds NaN or inf in samples {bad.nonzero().flatten().tolist()}; pass finite states"
            )

    def parameters(self) -> dict[str, Any]:
        """JSON-serializable description of the equation (name and every parameter)."""
        mask = self.dealias
        return {
            "pde": self.name,
            "shape": list(self.shape),
            "lengths": list(self.lengths),
            "dealias": "custom mask" if isinstance(mask, torch.Tensor) else mask,
        }

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v}" for k, v in self.parameters().items() if k != "pde")
        return f"{type(self).__name__}({params})"


class QuadraticFlux1D(PeriodicEquation):
    """1D equations ``u_t + c (u^2 / 2)_x = L u``: Burgers, KdV and Kuramoto-Sivashinsky.

    The flux is computed pseudo-spectrally, ``N(u) = -(c / 2) i k P[FFT(u^2)]`` with ``P`` the de-aliasing
    projection. Its ``k = 0`` entry vanishes, so the mean of ``u`` is conserved exactly.
    """

    def __init__(
        self,
        n: int,
        length: float,
        flux_coefficient: float,
        dealias: float | torch.Tensor | None = 2.0 / 3.0,
    ) -> None:
        super().__init__((int(n),), length, dealias)
        self.flux_coefficient = float(flux_coefficient)

    def _build_constants(self, dtype: torch.dtype, device: torch.device) -> dict[str, torch.Tensor]:
        (k,) = self.wavenumbers(odd=True, device=device)
        coef = torch.complex(torch.zeros_like(k), -0.5 * self.flux_coefficient * k)
        if self._mask is not None:
            coef = coef * self._mask.to(device)
        # A purely imaginary factor: its product with a complex tensor rounds exactly (see ``cmul``).
        return {"flux": coef.to(complex_dtype(dtype))}

    def _explicit(self, u_hat: torch.Tensor, t: float, consts: dict[str, torch.Tensor]) -> torch.Tensor:
        u = irfftn(u_hat, self.shape)
        return rfftn(u * u, 1).mul_(consts["flux"])

    def max_speed(self, u_hat: torch.Tensor) -> torch.Tensor:
        u = irfftn(u_hat, self.shape)
        return abs(self.flux_coefficient) * u.abs().flatten(1).amax(dim=1)
