"""IFactFormer: the implicit factorized transformer (Yang, Wang & Wang, Sci. China PMA 69, 214606, 2026,
arXiv 2412.18840), after FactFormer (Li, Shu & Barati Farimani, NeurIPS 2023).

One factorized-attention block ``FA`` is applied ``n_layers`` times with the same weights (implicit
iteration, as IFNO):

    u <- u + FA(u) / n_layers.

``FA`` replaces full attention over the ``n_1 n_2 n_3`` points by one low-rank kernel per axis:

1. ``v = W_v LN(u)`` (``heads`` heads of ``head_channels``);
2. per axis ``a``: a linear map of ``LN(u)``, the mean over the other axes (a 1D sequence along ``a``), an
   MLP to queries and keys ``q_a, k_a`` with rotary position encoding (Su et al., 2021) of the periodic
   coordinate, and the kernel ``K_a(x, x') = q_a(x) . k_a(x') / n_a`` (no softmax: a quadrature of an
   integral operator, so the model is independent of the resolution);
3. ``parallel`` (IFactFormer-m): ``concat(K_1 x_1 v, K_2 x_2 v, K_3 x_3 v)`` (each kernel applied along its
   axis to ``v`` separately); ``chained`` (IFactFormer-o): ``K_3 x_3 (K_2 x_2 (K_1 x_1 v))``;
4. instance norm over space, then ``Linear, GELU, Linear`` back to ``hidden_channels``.

The field is lifted by ``Linear, GELU, Linear`` of the input channels and periodic Fourier features of the
coordinates (integer frequencies ``1 .. positional_frequencies`` per axis: sin and cos, so the encoding is
periodic), and projected by ``Linear(C, C/2), GELU, Linear(C/2, out_channels)``. The paper's version predicts
the next step of the velocity from one step; here ``in_channels``/``out_channels`` are free.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from specops.models.base import OperatorModel, register_model
from specops.registry import MODELS

Combine = Literal["parallel", "chained"]


def _mlp(c_in: int, c_hidden: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(c_in, c_hidden), nn.GELU(), nn.Linear(c_hidden, c_out))


def rotary(x: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
    """Rotary encoding of ``x (..., n, 2 m)`` at periodic positions ``position (n,)`` in ``[0, 1)``: pair ``j``
    is rotated by ``2 pi (j + 1) position``, so ``rotary(q) . rotary(k)`` depends on the position difference."""
    m = x.shape[-1] // 2
    angle = 2 * math.pi * position[:, None] * torch.arange(1, m + 1, dtype=x.dtype, device=x.device)
    cos, sin = angle.cos(), angle.sin()
    a, b = x[..., :m], x[..., m:]
    return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)


class FactorizedAttention(nn.Module):
    """The block ``FA`` (module docstring): per-axis low-rank kernels without softmax, parallel or chained."""

    def __init__(self, channels: int, heads: int, head_channels: int, ndim: int, combine: Combine) -> None:
        super().__init__()
        self.heads, self.head_channels, self.ndim = heads, head_channels, ndim
        inner = heads * head_channels
        self.norm = nn.LayerNorm(channels)
        self.value = nn.Linear(channels, inner, bias=False)
        self.reducers = nn.ModuleList([nn.Linear(channels, channels) for _ in range(ndim)])
        self.query_key = nn.ModuleList([_mlp(channels, channels, 2 * inner) for _ in range(ndim)])
        self.parallel = combine == "parallel"
        width = inner * ndim if self.parallel else inner
        self.out_norm = nn.InstanceNorm1d(width)
        self.out = _mlp(width, channels, channels)

    def kernel(self, h: torch.Tensor, axis: int) -> torch.Tensor:
        """``K_a`` of axis ``axis``: ``(batch, heads, n_a, n_a)`` from channels-last ``h (B, *space, C)``."""
        others = tuple(1 + a for a in range(self.ndim) if a != axis)
        seq = self.reducers[axis](h).mean(dim=others) if others else self.reducers[axis](h)  # (B, n_a, C)
        n = seq.shape[1]
        qk = self.query_key[axis](seq).unflatten(-1, (2, self.heads, self.head_channels))
        position = torch.arange(n, dtype=h.dtype, device=h.device) / n
        q = rotary(qk[:, :, 0].transpose(1, 2), position)  # (B, heads, n, d)
        k = rotary(qk[:, :, 1].transpose(1, 2), position)
        return q @ k.transpose(-1, -2) / n

    def apply_along(self, kernel: torch.Tensor, v: torch.Tensor, axis: int) -> torch.Tensor:
        """``(K_a x_a v)``: contract ``v (B, *space, heads, d)``'s axis ``axis`` with ``K (B, heads, n, n)``."""
        v = v.movedim(1 + axis, -3)  # (B, ..., n, heads, d)
        out = torch.einsum("bhij,b...jhd->b...ihd", kernel, v)
        return out.movedim(-3, 1 + axis)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """``FA(u)`` of channels-last ``u (B, *space, C)``."""
        h = self.norm(u)
        v = self.value(h).unflatten(-1, (self.heads, self.head_channels))
        kernels = [self.kernel(h, a) for a in range(self.ndim)]
        if self.parallel:
            parts = [self.apply_along(kernels[a], v, a) for a in range(self.ndim)]
            y = torch.cat([p.flatten(-2) for p in parts], dim=-1)
        else:
            y = v
            for a in range(self.ndim):
                y = self.apply_along(kernels[a], y, a)
            y = y.flatten(-2)
        shape = y.shape
        y = self.out_norm(y.flatten(1, -2).transpose(1, 2)).transpose(1, 2).reshape(shape)
        return self.out(y)


@register_model("ifactformer")
class IFactFormer(OperatorModel):
    """Implicit factorized transformer: one ``FactorizedAttention`` block applied ``n_layers`` times with
    shared weights, ``u <- u + FA(u) / n_layers`` (module docstring; Yang et al. 2026, sec. 2.2).

    Parameters
    ----------
    n_dims : int
        Spatial dimension (1, 2 or 3).
    in_channels, out_channels : int
        Fields in and out (3 and 3 for one step of a 3D velocity).
    hidden_channels : int
        Width ``C`` (96 in the paper).
    n_layers : int
        Shared-weight iterations (10 in the paper).
    heads, head_channels : int
        Attention heads and their width.
    combine : "parallel" or "chained"
        IFactFormer-m (axis kernels side by side) or IFactFormer-o (chained).
    positional_frequencies : int
        Fourier features ``sin, cos(2 pi k x_a)``, ``k = 1 .. this``, per axis.
    """

    def __init__(
        self,
        n_dims: int = 3,
        in_channels: int = 3,
        out_channels: int = 3,
        hidden_channels: int = 32,
        n_layers: int = 4,
        *,
        heads: int = 4,
        head_channels: int = 8,
        combine: Combine = "parallel",
        positional_frequencies: int = 4,
    ) -> None:
        super().__init__()
        if combine not in ("parallel", "chained"):
            raise ValueError(
                f"combine={combine!r} must be 'parallel' (IFactFormer-m) or 'chained' (IFactFormer-o)"
            )
        if int(n_dims) not in (1, 2, 3):
            raise ValueError(f"n_dims={n_dims} must be 1, 2 or 3")
        sizes = {"in_channels": in_channels, "out_channels": out_channels, "hidden_channels": hidden_channels}
        sizes.update(n_layers=n_layers, heads=heads, head_channels=head_channels)
        for name, value in sizes.items():
            if int(value) < 1:
                raise ValueError(f"{name}={value} must be a positive integer")
        if int(head_channels) % 2:
            raise ValueError(f"head_channels={head_channels} must be even (rotary encoding rotates pairs)")
        self.dim = int(n_dims)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.n_layers, self.frequencies = int(n_layers), int(positional_frequencies)
        c = int(hidden_channels)
        self.lift = _mlp(self.in_channels, c, c)
        self.position = nn.Linear(2 * self.frequencies * self.dim, c) if self.frequencies > 0 else None
        self.block = FactorizedAttention(c, int(heads), int(head_channels), self.dim, combine)
        self.project = _mlp(c, max(c // 2, 1), self.out_channels)

    def features(self, space: Sequence[int], dtype: torch.dtype, device) -> torch.Tensor:
        """Periodic Fourier features of the grid, ``(*space, 2 F d)``."""
        coords = torch.meshgrid(
            *[torch.arange(n, dtype=dtype, device=device) / n for n in space], indexing="ij"
        )
        k = torch.arange(1, self.frequencies + 1, dtype=dtype, device=device)
        phases = torch.cat([2 * math.pi * x.unsqueeze(-1) * k for x in coords], dim=-1)
        return torch.cat([phases.sin(), phases.cos()], dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.check_input(x, self.in_channels, self.dim)
        h = self.lift(x.movedim(1, -1))
        if self.position is not None:
            h = h + self.position(self.features(x.shape[2:], h.dtype, h.device))
        step = 1.0 / self.n_layers
        for _ in range(self.n_layers):
            h = h + step * self.block(h)
        return self.project(h).movedim(-1, 1)


_PRESETS = {
    "ifactformer-m-3d": (
        {"combine": "parallel"},
        "IFactFormer-m: parallel axis kernels, 3D velocity step, width 32",
    ),
    "ifactformer-o-3d": (
        {"combine": "chained"},
        "IFactFormer-o: chained axis kernels, 3D velocity step, width 32",
    ),
}
for _name, (_defaults, _doc) in _PRESETS.items():
    MODELS.register(_name, IFactFormer, defaults=_defaults, description=_doc, family="ifactformer")
