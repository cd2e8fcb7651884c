"""Kernelized attention with relative positional encoding, the Toeplitz term applied by FFT.

Luo, Li, Cai, He, Ke, Zheng, Liu, "Stable, Fast and Accurate: Kernelized Attention with Relative Positional
Encoding", NeurIPS 2021, eq. 6-8. Softmax attention with an RPE, ``A_ij ~ exp(q_i . k_j / sqrt(d)) c(x_i -
x_j)``, is replaced by positive random features ``phi`` (Choromanski et al., "Rethinking Attention with
Performers", ICLR 2021, eq. 8; ``phi(x) = exp(W x - |x|^2 / 2) / sqrt(m)``, ``W`` with i.i.d. N(0, 1)
rows, so ``E[phi(q) . phi(k)] = exp(q . k)``):

    y_i = sum_j c(x_i - x_j) phi(q_i) . phi(k_j) v_j  /  sum_j c(x_i - x_j) phi(q_i) . phi(k_j)
        = phi(q_i) . T_i[v]  /  phi(q_i) . T_i[1],     T_i[v] = sum_j c(x_i - x_j) phi(k_j) v_j^T

``T`` is a convolution of the token field ``phi(k_j) v_j^T`` with the RPE kernel ``c`` over the grid of
positions: a Toeplitz (or, on a periodic domain, circulant) product, computed by FFT in
``O(N log N m d)`` instead of the ``O(N^2 m)`` of forming the attention matrix. ``c = exp(b)`` keeps the
weights positive (the paper's stability argument); here ``b`` is a short real Fourier series of the
physical offset, ``b(D) = Re sum_k g_k exp(2 pi i k . D / P)`` (``P = 1`` on the torus, ``P = 2`` for
offsets in ``(-1, 1)``), so the same parameters give the same kernel at every resolution.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from specops.layers.attention import GridAttention
from specops.layers.spectral_conv import as_modes


def positive_features(x: torch.Tensor, w: torch.Tensor, stabilize_rows: bool) -> torch.Tensor:
    """``phi(x) = exp(W x - |x|^2 / 2 - s) / sqrt(m)``; ``s`` a per-row (queries) or global (keys) shift.

    The shift multiplies the numerator and denominator of the attention alike, so it cancels; it keeps the
    exponentials finite.
    """
    proj = torch.matmul(x, w.transpose(0, 1)) - 0.5 * (x * x).sum(-1, keepdim=True)
    shift = proj.amax(-1, keepdim=True) if stabilize_rows else proj.amax(dim=(-1, -2), keepdim=True)
    return torch.exp(proj - shift.detach()) / math.sqrt(w.shape[0])


def offsets(n: int, periodic: bool) -> torch.Tensor:
    """Integer offsets in the circular order of an FFT of length ``n`` (periodic) or ``2n`` (Toeplitz,
    entry ``n`` unused: offsets ``0..n-1`` then ``-(n-1)..-1``)."""
    if periodic:
        return torch.arange(n)
    return torch.cat([torch.arange(n), torch.zeros(1, dtype=torch.long), torch.arange(-(n - 1), 0)])


def rpe_attention_fft(
    phi_q: torch.Tensor,
    phi_k: torch.Tensor,
    v: torch.Tensor,
    kernel: torch.Tensor,
    space: Sequence[int],
    periodic: bool,
) -> torch.Tensor:
    """``y_i = phi_q_i . sum_j c_{i-j} phi_k_j v_j^T / phi_q_i . sum_j c_{i-j} phi_k_j`` by FFT.

    Parameters
    ----------
    phi_q, phi_k : (batch, heads, N, m) features; v : (batch, heads, N, d); ``N = prod(space)``
    kernel : (heads, *fft_shape) the RPE ``c`` on the offsets in FFT order (``offsets``): ``space``
        (periodic) or twice it (Toeplitz).
    """
    b, h, n, m = phi_k.shape
    d = v.shape[-1]
    dim = len(space)
    ones = torch.ones_like(v[..., :1])
    z = phi_k[..., :, None] * torch.cat([v, ones], -1)[..., None, :]  # (b, h, N, m, d+1)
    z = z.reshape(b, h, *space, m * (d + 1)).movedim(-1, 2)  # (b, h, F, *space)
    fft_shape = tuple(kernel.shape[1:])
    axes = tuple(range(-dim, 0))
    zh = torch.fft.rfftn(z, s=fft_shape, dim=axes)
    kh = torch.fft.rfftn(kernel, dim=axes)[None, :, None]
    t = torch.fft.irfftn(zh * kh, s=fft_shape, dim=axes)
    t = t[(..., *[slice(0, s) for s in space])]
    t = t.movedim(2, -1).reshape(b, h, n, m, d + 1)
    out = torch.einsum("bhnm,bhnme->bhne", phi_q, t)
    return out[..., :d] / out[..., d:]


def rpe_attention_quadratic(
    phi_q: torch.Tensor, phi_k: torch.Tensor, v: torch.Tensor, c: torch.Tensor, chunk: int = 4096
) -> torch.Tensor:
    """The same attention by forming ``A = (phi_q phi_k^T) * C`` (``C`` (heads, N, N)), rows in chunks:
    ``O(N^2 m)``. The reference for ``rpe_attention_fft``."""
    rows = []
    for s in range(0, phi_q.shape[-2], chunk):
        a = torch.matmul(phi_q[..., s : s + chunk, :], phi_k.transpose(-1, -2)) * c[:, s : s + chunk]
        rows.append(torch.matmul(a, v) / a.sum(-1, keepdim=True))
    return torch.cat(rows, -2)


class KernelizedRPEAttention(GridAttention):
    """Random-feature attention with a relative positional encoding, FFT-applied (module docstring).

    Parameters
    ----------
    channels : int
    dim : int
        Spatial dimension of the fields.
    heads : int
    features : int
        Random features ``m`` per head.
    rpe_modes : int or sequence of int
        Fourier modes of the RPE logit ``b`` per axis (zero-initialized: ``c = 1``, no positional bias).
    periodic : bool
        Offsets on the torus (circulant ``C``, FFTs of the grid's size) or in ``(-1, 1)`` (Toeplitz ``C``,
        FFTs of twice the size).
    seed : int
        Seed of the random feature matrix (a buffer, saved with the model).
    """

    def __init__(
        self,
        channels: int,
        dim: int,
        heads: int = 4,
        features: int = 16,
        rpe_modes: int | Sequence[int] = 4,
        periodic: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__(channels, heads)
        self.dim = int(dim)
        modes = as_modes((rpe_modes,) * self.dim if isinstance(rpe_modes, int) else rpe_modes, "rpe_modes")
        if len(modes) != self.dim:
            raise ValueError(f"rpe_modes={modes} must have one entry per spatial axis ({self.dim})")
        if features < 1:
            raise ValueError(f"features={features} must be a positive number of random features")
        self.periodic = bool(periodic)
        gen = torch.Generator().manual_seed(int(seed))
        self.register_buffer(
            "projection", torch.randn(int(features), self.head_dim, generator=gen, device="cpu")
        )
        self.rpe = nn.Parameter(torch.zeros(self.heads, *modes, 2))
        self.rpe_modes = modes

    def rpe_logit(self, delta: torch.Tensor) -> torch.Tensor:
        """``b_h(D) = Re sum_k g_hk exp(2 pi i k . D / P)`` at offsets ``delta`` ``(..., dim)``: ``(heads, ...)``."""
        period = 1.0 if self.periodic else 2.0
        phase = 0.0
        for a, m in enumerate(self.rpe_modes):
            k = torch.arange(-(m // 2), m - m // 2, dtype=delta.dtype, device=delta.device)
            shape = [1] * self.dim
            shape[a] = m
            phase = phase + (2 * math.pi / period) * delta[(..., a) + (None,) * self.dim] * k.reshape(shape)
        g = self.rpe.to(delta.dtype)
        flat = phase.reshape(*phase.shape[: -self.dim], -1)
        gr, gi = g[..., 0].reshape(self.heads, -1), g[..., 1].reshape(self.heads, -1)
        return torch.einsum("...k,hk->h...", torch.cos(flat), gr) - torch.einsum(
            "...k,hk->h...", torch.sin(flat), gi
        )

    def kernel(self, space: Sequence[int], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """``c = exp(b)`` on the offsets of the grid ``space`` in FFT order: ``(heads, *fft_shape)``."""
        axes = [offsets(n, self.periodic).to(device, dtype) / n for n in space]
        delta = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1)
        c = torch.exp(self.rpe_logit(delta))
        if not self.periodic:  # the unused middle entry of each axis
            for a, n in enumerate(space):
                c = c.index_fill(1 + a, torch.tensor([n], device=device), 0.0)
        return c

    def dense_kernel(self, space: Sequence[int], dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """``C_ij = c(x_i - x_j)`` as a dense ``(heads, N, N)`` matrix from the coordinates (the reference)."""
        axes = [torch.arange(n, dtype=dtype) / n for n in space]
        x = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(space))
        delta = x[:, None] - x[None]
        if self.periodic:
            delta = torch.remainder(delta, 1.0)
        return torch.exp(self.rpe_logit(delta))

    def features(self, q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``phi(q / d^(1/4))``, ``phi(k / d^(1/4))``: the scaling of ``q . k / sqrt(d)``."""
        s = self.scale**0.5
        w = self.projection.to(q.dtype)
        return positive_features(q * s, w, True), positive_features(k * s, w, False)

    def attend(self, q, k, v, space):
        phi_q, phi_k = self.features(q, k)
        return rpe_attention_fft(phi_q, phi_k, v, self.kernel(space, q.dtype, q.device), space, self.periodic)

    def extra_repr(self) -> str:
        return (
            f"{self.channels}, heads={self.heads}, features={self.projection.shape[0]}, "
            f"rpe_modes={self.rpe_modes}, periodic={self.periodic}"
        )
