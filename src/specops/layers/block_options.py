"""Options of the Fourier block other than its mixer: binary weights (BiPer) and EvoNorm layers.

BiPer: binary weights through a periodic function (Vargas, Jacome, Fonseca, Arguello, "BiPer: Binary
Neural Networks using a Periodic Function", CVPR 2024, sec. 3).

The binary weights are the signs of a periodic function of the latent real weights ``w``; the forward pass
uses the square wave, the backward pass the gradient of the sine it is the sign of:

    forward:   w_b = alpha * sign(sin(omega w))
    backward:  d w_b / d w = alpha * omega cos(omega w)

(the straight-through estimator taken through ``sin`` instead of the identity, which the paper shows
controls the quantization error through ``omega``). ``alpha`` is the mean ``|w|`` of each output row (the
scaling of XNOR-Net, Rastegari et al., ECCV 2016), treated as a constant of the row in the backward pass.
``binarize_`` applies it to the weight matrices of a module as a ``torch.nn.utils.parametrize``
parametrization, so state dicts keep the latent weights and a rebuilt model loads them.

EvoNorm normalization-activation layers for channel-first fields (Liu, Brock, Simonyan, Le, "Evolving
Normalization-Activation Layers", NeurIPS 2020, Table 1).

With ``eps = 1e-5``, per-channel ``gamma`` (1), ``beta`` (0) and ``v`` (1):

    B0:  y = x / max( sqrt(s_b^2(x) + eps), v x + sqrt(s_i^2(x) + eps) ) * gamma + beta
    S0:  y = x sigmoid(v x) / sqrt(s_g^2(x) + eps) * gamma + beta

``s_b^2`` is the variance over the batch and space per channel (batch-dependent: a running average,
momentum 0.1, replaces it in evaluation, as in batch norm), ``s_i^2`` over space per sample and channel,
``s_g^2`` over space and the channels of a group per sample (``groups`` channel groups). Each replaces the
pair norm + activation; in an FNO block they stand where the norm stands (``block.norm=evonorm-s0``).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import parametrize


class BiPer(nn.Module):
    """The parametrization ``w -> alpha sign(sin(omega w))`` with the gradient of ``alpha sin(omega w)``.

    Parameters
    ----------
    omega : float
        Frequency of the periodic function (default ``pi / 2``: for latent weights in ``(-2, 2)`` the sign
        is that of ``w``).
    """

    def __init__(self, omega: float = math.pi / 2) -> None:
        super().__init__()
        if not omega > 0:
            raise ValueError(f"omega={omega} must be positive")
        self.omega = float(omega)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        s = torch.sin(self.omega * w)
        binary = s + (torch.sign(s) - s).detach()
        alpha = w.detach().abs().mean(dim=tuple(range(1, w.dim())), keepdim=True)
        return alpha * binary


def binarize_(module: nn.Module, omega: float = math.pi / 2) -> nn.Module:
    """Make every ``weight`` of ``module`` (and its children) with two or more axes binary (BiPer), in place."""
    for sub in list(module.modules()):
        weight = sub._parameters.get("weight") if not parametrize.is_parametrized(sub, "weight") else None
        if weight is not None and weight.dim() >= 2:
            parametrize.register_parametrization(sub, "weight", BiPer(omega))
    return module


def _shape(x: torch.Tensor) -> tuple[int, ...]:
    return (1, -1) + (1,) * (x.dim() - 2)


def default_groups(channels: int, groups: int = 32) -> int:
    """The largest divisor of ``channels`` that is at most ``groups``."""
    return max(g for g in range(1, min(groups, channels) + 1) if channels % g == 0)


class EvoNormB0(nn.Module):
    """``y = x / max(sqrt(s_b^2 + eps), v x + sqrt(s_i^2 + eps)) * gamma + beta`` (module docstring)."""

    def __init__(self, channels: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.v = nn.Parameter(torch.ones(channels))
        self.register_buffer("running_var", torch.ones(channels))
        self.eps, self.momentum = float(eps), float(momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = _shape(x)
        if self.training:
            dims = (0, *range(2, x.dim()))
            var_b = x.var(dim=dims, unbiased=False)
            with torch.no_grad():
                n = x.numel() / x.shape[1]
                unbiased = var_b * n / max(n - 1, 1)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), self.momentum)
        else:
            var_b = self.running_var.to(x.dtype)
        var_i = x.var(dim=tuple(range(2, x.dim())), unbiased=False, keepdim=True)
        den = torch.maximum(
            torch.sqrt(var_b.reshape(shape) + self.eps),
            self.v.reshape(shape) * x + torch.sqrt(var_i + self.eps),
        )
        return x / den * self.weight.reshape(shape) + self.bias.reshape(shape)


class EvoNormS0(nn.Module):
    """``y = x sigmoid(v x) / sqrt(s_g^2 + eps) * gamma + beta`` (module docstring).

    ``groups``: channel groups of the variance (default: the largest divisor of ``channels`` up to 32).
    """

    def __init__(self, channels: int, groups: int | None = None, eps: float = 1e-5) -> None:
        super().__init__()
        self.groups = default_groups(channels) if groups is None else int(groups)
        if self.groups < 1 or channels % self.groups:
            raise ValueError(f"groups={groups} must divide channels={channels}")
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.v = nn.Parameter(torch.ones(channels))
        self.eps = float(eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = _shape(x)
        b = x.shape[0]
        grouped = x.reshape(b, self.groups, -1)
        var = grouped.var(dim=-1, unbiased=False, keepdim=True).expand_as(grouped).reshape(x.shape)
        num = x * torch.sigmoid(self.v.reshape(shape) * x)
        return num / torch.sqrt(var + self.eps) * self.weight.reshape(shape) + self.bias.reshape(shape)
