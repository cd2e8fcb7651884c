"""Attention over the points of a grid, as a mixer of a neural operator block: the shared base
``GridAttention`` and Fourier-KArAt (the kernelized RPE attention is in ``attention_rpe``).

A field ``(batch, C, *space)`` is a set of ``N = prod(space)`` tokens of width ``C``. ``GridAttention`` holds
what every attention mixer shares: the query/key/value projections, the split into heads and the output
projection,

    q = W_q v,  k = W_k v,  u = W_v v        (pointwise, per head h of width C / H)
    y = W_o [ attend_h(q_h, k_h, u_h) ]_h     (heads concatenated)

and leaves ``attend`` (the score function and its normalization) to the subclass. Every ``attend`` here
normalizes by a sum over the keys, so it is a quadrature of an integral operator and the layer maps
functions to functions: the same weights give nearly the same function at any resolution (Kovachki et
al., "Neural Operator", JMLR 2023, sec. 5.2).

Fourier-KArAt, attention whose score function is a learnable Fourier series (Kolmogorov-Arnold attention):
Maity, Hitsman, Li, Dutta, "Kolmogorov-Arnold Attention: Is Learnable Attention Better for Vision
Transformers?", arXiv 2503.10632. The softmax of ``A = softmax(q k^T / sqrt(d))`` is replaced by a learnable
univariate function of each score, a Fourier-basis KAN unit (per head, shared along the row):

    phi(s) = a_0 + sum_{g=1}^{G} a_g cos(g w s) + b_g sin(g w s),      w = 2 pi / P,
    A_ij   = phi(s_ij) / sum_j |phi(s_ij)|,                             s_ij = clip(q_i . k_j / sqrt(d), -L, L)

The row normalization by the sum of ``|phi|`` keeps the output a weighted mean of the values (it is softmax
when ``phi = exp``). The scores are clipped to ``[-L, L]`` and ``P = 4 L``: the coefficients initialise to the
least-squares fit of ``exp`` on ``[-L, L]`` (``exp_fit``), which, the period being twice the interval,
converges quickly in ``G``; at initialisation the layer is then close to softmax attention. To keep memory
at ``N x r`` rather than ``N x N``, the keys and values are average-pooled to ``r = prod(landmarks)`` tokens
before scoring (the low-rank projection of the attention matrix; ``landmarks=None`` scores every token).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from specops.layers.mlp import PointwiseLinear
from specops.layers.spectral_conv import as_modes


def check_heads(channels: int, heads: int) -> int:
    """``heads`` if it divides ``channels``; ``ValueError`` naming both otherwise."""
    if heads < 1 or channels % heads:
        divisors = [h for h in range(1, channels + 1) if channels % h == 0]
        raise ValueError(f"heads={heads} must divide channels={channels}; valid: {divisors}")
    return int(heads)


class GridAttention(nn.Module):
    """Base of attention mixers on channel-first fields: projections, heads, output projection.

    Parameters
    ----------
    channels : int
    heads : int
        Must divide ``channels``.

    Subclasses implement ``attend(q, k, v, space) -> out`` on ``(batch, heads, N, d)`` tensors (``v`` may
    have other lengths where keys are pooled) and may override ``keys(x)`` to change the key tokens.
    """

    def __init__(self, channels: int, heads: int = 4) -> None:
        super().__init__()
        self.channels = int(channels)
        self.heads = check_heads(self.channels, heads)
        self.head_dim = self.channels // self.heads
        self.query = PointwiseLinear(channels, channels, bias=False)
        self.key = PointwiseLinear(channels, channels, bias=False)
        self.value = PointwiseLinear(channels, channels, bias=False)
        self.out = PointwiseLinear(channels, channels)
        self.scale = 1.0 / math.sqrt(self.head_dim)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, C, *space) -> (batch, heads, N, C / heads)``."""
        b = x.shape[0]
        return x.reshape(b, self.heads, self.head_dim, -1).transpose(-1, -2)

    def keys(self, x: torch.Tensor) -> torch.Tensor:
        """The field the keys and values are computed from (the input itself here)."""
        return x

    def attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, space: tuple[int, ...]
    ) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 3 or x.shape[1] != self.channels:
            raise ValueError(
                f"{type(self).__name__} input has shape {tuple(x.shape)}; expected (batch, {self.channels}, "
                f"*space)"
            )
        b, _, *space = x.shape
        src = self.keys(x)
        out = self.attend(
            self.split(self.query(x)), self.split(self.key(src)), self.split(self.value(src)), tuple(space)
        )
        return self.out(out.transpose(-1, -2).reshape(b, self.channels, *space))


def fourier_series(s: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, omega: float) -> torch.Tensor:
    """``a_0 + sum_g a_g cos(g w s) + b_g sin(g w s)`` for ``s`` ``(batch, heads, ...)``; ``cos`` ``(heads,
    G + 1)`` holds ``a_0..a_G``, ``sin`` ``(heads, G)`` holds ``b_1..b_G``."""
    shape = (1, -1) + (1,) * (s.dim() - 2)
    out = cos[:, 0].reshape(shape).expand_as(s)
    c1, s1 = torch.cos(omega * s), torch.sin(omega * s)
    cg, sg = c1, s1
    for g in range(1, cos.shape[1]):
        if g > 1:  # cos/sin of (g w s) by the angle-addition recurrence: two trig calls in all
            cg, sg = cg * c1 - sg * s1, sg * c1 + cg * s1
        out = out + cos[:, g].reshape(shape) * cg + sin[:, g - 1].reshape(shape) * sg
    return out


def exp_fit(order: int, limit: float, samples: int = 2048) -> tuple[torch.Tensor, torch.Tensor]:
    """Least-squares coefficients of ``exp(s)`` on ``[-L, L]`` in the basis of ``fourier_series`` with
    ``P = 4 L``: ``(a_0..a_G, b_1..b_G)`` in float64 on the CPU (also while a model is built on the meta
    device, as ``specops.load`` does to check shapes)."""
    cpu = torch.device("cpu")
    s = torch.linspace(-limit, limit, samples, dtype=torch.float64, device=cpu)
    omega = 2 * math.pi / (4 * limit)
    g = torch.arange(1, order + 1, dtype=torch.float64, device=cpu)
    basis = torch.cat(
        [torch.ones(samples, 1, dtype=torch.float64, device=cpu), torch.cos(s[:, None] * g * omega)], 1
    )
    basis = torch.cat([basis, torch.sin(s[:, None] * g * omega)], 1)
    coef = torch.linalg.lstsq(basis, torch.exp(s)[:, None]).solution[:, 0]
    return coef[: order + 1], coef[order + 1 :]


class FourierKArAtAttention(GridAttention):
    """Attention with a learnable Fourier-series score function on pooled keys (module docstring).

    Parameters
    ----------
    channels : int
    dim : int
        Spatial dimension.
    heads : int
    order : int
        ``G``, the number of harmonics.
    limit : float
        ``L``: scores are clipped to ``[-L, L]``.
    landmarks : int, sequence of int or None
        Key/value tokens per axis after average pooling (``r = prod``); None keeps all tokens.
    """

    def __init__(
        self,
        channels: int,
        dim: int,
        heads: int = 4,
        order: int = 8,
        limit: float = 4.0,
        landmarks: int | Sequence[int] | None = 8,
    ) -> None:
        super().__init__(channels, heads)
        self.dim = int(dim)
        if order < 1:
            raise ValueError(f"order={order} must be a positive number of harmonics")
        if not limit > 0:
            raise ValueError(f"limit={limit} must be positive (the range [-limit, limit] of the scores)")
        self.limit = float(limit)
        self.omega = 2 * math.pi / (4 * self.limit)
        if landmarks is not None:
            landmarks = as_modes(
                (landmarks,) * self.dim if isinstance(landmarks, int) else landmarks, "landmarks"
            )
            if len(landmarks) != self.dim:
                raise ValueError(f"landmarks={landmarks} must have one entry per spatial axis ({self.dim})")
        self.landmarks = landmarks
        a, b = exp_fit(int(order), self.limit)
        self.cos = nn.Parameter(a.float().repeat(self.heads, 1))
        self.sin = nn.Parameter(b.float().repeat(self.heads, 1))

    def keys(self, x: torch.Tensor) -> torch.Tensor:
        if self.landmarks is None:
            return x
        space = x.shape[2:]
        if any(r > n for r, n in zip(self.landmarks, space)):
            raise ValueError(f"landmarks={self.landmarks} exceed the grid {tuple(space)}; lower them")
        pool = (F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d)[self.dim - 1]
        return pool(x, self.landmarks)

    def scores(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """``A = phi(s) / sum_j |phi(s)|`` ``(batch, heads, N, r)``."""
        s = (torch.matmul(q, k.transpose(-1, -2)) * self.scale).clamp(-self.limit, self.limit)
        phi = fourier_series(s, self.cos.to(s.dtype), self.sin.to(s.dtype), self.omega)
        return phi / (phi.abs().sum(-1, keepdim=True) + torch.finfo(phi.dtype).tiny)

    def attend(self, q, k, v, space):
        return torch.matmul(self.scores(q, k), v)

    def extra_repr(self) -> str:
        return (
            f"{self.channels}, heads={self.heads}, order={self.cos.shape[1] - 1}, limit={self.limit}, "
            f"landmarks={self.landmarks}"
        )
