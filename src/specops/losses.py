"""Training objectives as ``nn.Module``s: relative/absolute Lp, Sobolev H^s (any real s), finite-difference H1.

All losses take ``(prediction, target)`` of shape ``(batch, channel, *space)``, compute one number per sample
(channels together, as one vector field) and reduce over the batch by ``mean`` or ``sum``.
Norms are quadratures of the function norms on the domain (volume-weighted), so absolute losses do not grow
with resolution.

A norm is not differentiable where it vanishes: ``d ||e|| / d e`` is ``e / ||e||`` (``0 / 0`` at ``e = 0``)
and the slope of ``|e|^p`` is infinite at a zero point for ``p < 1``. Autograd would turn these into NaN (the
root's ``inf`` times the inner gradient's ``0``), so one exactly fitted sample would poison every weight.
Every loss takes its root through :func:`safe_root` and uses the subgradient 0 there, which is a
minimiser's gradient: a perfectly fitted sample contributes nothing to the update.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from specops.spectral.grid import per_dim
from specops.spectral.norms import sobolev_norm

Reduction = Literal["mean", "sum", "none"]
_REDUCTIONS = ("mean", "sum", "none")


def _check_pair(pred: torch.Tensor, target: torch.Tensor, ndim: int | None, name: str) -> int:
    if pred.shape != target.shape:
        raise ValueError(
            f"{name}: prediction shape {tuple(pred.shape)} differs from target shape {tuple(target.shape)}"
        )
    if ndim is None:
        ndim = pred.dim() - 2
    if ndim < 1 or pred.dim() < ndim + 1:
        raise ValueError(
            f"{name}: input of shape {tuple(pred.shape)} has no {ndim} spatial axes after (batch, channel)"
        )
    return ndim


def _reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


def safe_root(total: torch.Tensor, p: float) -> torch.Tensor:
    """``total^(1/p)`` for ``total >= 0`` whose gradient at ``total = 0`` is 0 instead of inf (NaN downstream).

    Away from zero the value and gradient are those of ``total.pow(1 / p)``, bit for bit. The inner
    ``where`` keeps the zeros out of ``pow`` so that its backward never evaluates ``0^(1/p - 1)``.
    """
    zero = total == 0  # NaN and inf are not zero: they propagate, so divergence stays visible
    safe = torch.where(zero, torch.ones_like(total), total)
    return torch.where(zero, torch.zeros_like(total), safe.pow(1.0 / p))


def _safe_abs_pow(u: torch.Tensor, p: float) -> torch.Tensor:
    """``|u|^p`` with gradient 0 where ``u = 0``; only ``p < 1`` needs the guard (slope ``p |u|^(p-1)``)."""
    a = u.abs()
    if p >= 1.0:
        return a.pow(p)
    zero = a == 0
    return torch.where(zero, torch.zeros_like(a), torch.where(zero, torch.ones_like(a), a).pow(p))


class _Loss(nn.Module):
    """Per-sample ``||pred - target||`` (or divided by ``||target||``) from ``_powered_norm``, reduced.

    Subclasses give ``_powered_norm(u, ndim) = ||u||^q`` per sample and the exponent ``q`` in
    ``self.exponent``; the root is taken here, by :func:`safe_root`.
    """

    exponent: float = 2.0

    def __init__(self, relative: bool, reduction: Reduction, ndim: int | None, eps: float) -> None:
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction={reduction!r} is not one of {_REDUCTIONS}")
        self.relative = bool(relative)
        self.reduction = reduction
        self.ndim = ndim
        self.eps = float(eps)

    def _powered_norm(self, u: torch.Tensor, ndim: int) -> torch.Tensor:
        """``||u||^q`` of each sample of ``u`` (channels together), ``q = self.exponent``."""
        raise NotImplementedError

    def _norm(self, u: torch.Tensor, ndim: int) -> torch.Tensor:
        """The norm of each sample of ``u``, with gradient 0 where it vanishes."""
        return safe_root(self._powered_norm(u, ndim), self.exponent)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ndim = _check_pair(pred, target, self.ndim, type(self).__name__)
        err = self._norm(pred - target, ndim)
        if self.relative:
            err = err / self._norm(target, ndim).clamp_min(self.eps)
        return _reduce(err, self.reduction)


class LpLoss(_Loss):
    """``||u - v||_p`` (absolute) or ``||u - v||_p / ||v||_p`` (relative), per sample.

    ``||u||_p = (h^d sum_x |u(x)|^p)^{1/p}`` with ``h^d`` the cell volume of a grid on a domain of side
    ``lengths``; the relative form is independent of the quadrature weight.
    """

    def __init__(
        self,
        p: float = 2.0,
        *,
        relative: bool = True,
        reduction: Reduction = "mean",
        ndim: int | None = None,
        lengths: Sequence[float] | float = 1.0,
        eps: float = 1e-12,
    ) -> None:
        super().__init__(relative, reduction, ndim, eps)
        if p <= 0:
            raise ValueError(f"p={p} must be positive")
        self.p = self.exponent = float(p)
        self.lengths = lengths

    def _powered_norm(self, u: torch.Tensor, ndim: int) -> torch.Tensor:
        flat = u.reshape(u.shape[0], -1)
        if self.p == 2.0:
            total = flat.pow(2).sum(-1)
        else:
            total = _safe_abs_pow(flat, self.p).sum(-1)
        if not self.relative:
            volume = 1.0
            for n, length in zip(u.shape[-ndim:], per_dim(self.lengths, ndim, "lengths")):
                volume *= length / n
            total = total * volume
        return total


class SobolevLoss(_Loss):
    """``||u - v||_{H^s}`` (absolute) or divided by ``||v||_{H^s}`` (relative), exact in Fourier space.

    Uses ``(alpha + |2 pi k / L|^2)^s`` weights on periodic domains in 1, 2 or 3 dimensions (see
    ``specops.spectral.sobolev_norm``). ``s = 1`` is the H1 loss; ``s = -1`` with ``alpha = 0.1`` is the
    negative norm of Spectral-Refiner (Cao et al., ICLR 2025); ``s = 0`` equals the L2 loss.
    """

    def __init__(
        self,
        s: float = 1.0,
        *,
        relative: bool = True,
        reduction: Reduction = "mean",
        ndim: int | None = None,
        lengths: Sequence[float] | float = 1.0,
        alpha: float = 1.0,
        eps: float = 1e-12,
    ) -> None:
        super().__init__(relative, reduction, ndim, eps)
        self.s = float(s)
        self.lengths = lengths
        self.alpha = float(alpha)
        if self.s < 0 and self.alpha <= 0:
            raise ValueError(f"alpha={alpha} must be positive for a negative order s={s}")

    def _powered_norm(self, u: torch.Tensor, ndim: int) -> torch.Tensor:
        sq = sobolev_norm(u, self.s, ndim, self.lengths, self.alpha, squared=True)
        return sq.reshape(u.shape[0], -1).sum(-1)


class H1FDLoss(_Loss):
    """H1 loss by finite differences, for non-periodic data: ``(||e||^2 + sum_j ||d_j e||^2)^{1/2}``.

    Derivatives are second-order central differences inside and one-sided (second order) at the boundary
    (``torch.gradient``), integrated by the trapezoidal rule; the grid spans ``[0, L]`` including both end
    points, so the loss converges at second order to the continuous H1 norm.
    """

    def __init__(
        self,
        *,
        relative: bool = True,
        reduction: Reduction = "mean",
        ndim: int | None = None,
        lengths: Sequence[float] | float = 1.0,
        eps: float = 1e-12,
    ) -> None:
        super().__init__(relative, reduction, ndim, eps)
        self.lengths = lengths

    def _powered_norm(self, u: torch.Tensor, ndim: int) -> torch.Tensor:
        lengths = per_dim(self.lengths, ndim, "lengths")
        shape = u.shape[-ndim:]
        if min(shape) < 3:
            raise ValueError(f"H1FDLoss needs at least 3 points per axis, got spatial shape {tuple(shape)}")
        spacing = [length / (n - 1) for n, length in zip(shape, lengths)]
        dims = list(range(u.dim() - ndim, u.dim()))
        grads = torch.gradient(u, spacing=spacing, dim=dims, edge_order=2)
        density = u.pow(2)
        for g in grads:
            density = density + g.pow(2)
        # trapezoidal quadrature on the closed grid (second order, like the differences)
        for axis, (n, h) in enumerate(zip(shape, spacing)):
            w = torch.full((n,), h, dtype=u.dtype, device=u.device)
            w[0] = w[-1] = h / 2
            view = [1] * u.dim()
            view[dims[axis]] = n
            density = density * w.reshape(view)
        return density.reshape(u.shape[0], -1).sum(-1)
