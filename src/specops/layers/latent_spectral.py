"""The neural spectral block of the Latent Spectral Model: patches, latent tokens, trigonometric operators.

Wu, Hu, Luo, Wang & Long, "Solving High-Dimensional PDEs with Latent Spectral Models", ICML 2023 (arXiv
2301.12664), section 3. A feature map ``x (B, C, *space)`` is cut into patches of ``p^d`` pixels, each an
independent set of points ``x_i``; per patch:

1. latent encoder: ``T <- softmax(T K^T / sqrt(c)) V + T``, ``num_tokens`` learned tokens attending to the
   patch's pixels (``K, V`` pointwise maps of ``x``), per head;
2. latent spectral transition, for every token channel ``z``:
   ``z <- sum_{m < M} (w_{c,m} sin(pi k_m z) + w'_{c,m} cos(pi k_m z)) + z``, ``k_m = m / M`` (the
   "multiple basis operators" on the latent space);
3. latent decoder: ``x <- softmax(Q T^T / sqrt(c)) T + x`` (``Q`` a pointwise map of ``x``).

The patches are re-assembled. The patch size is in pixels: a model built of these blocks is tied to its
grid.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from specops.layers.mlp import PointwiseLinear


def patchify(x: torch.Tensor, p: int) -> torch.Tensor:
    """``(B, C, *space) -> (B * n_patches, C, p^d)``: non-overlapping ``p^d`` patches as a batch."""
    b, c, *space = x.shape
    d = len(space)
    split = [s for n in space for s in (n // p, p)]
    x = x.reshape(b, c, *split)
    outer = [2 + 2 * i for i in range(d)]
    inner = [3 + 2 * i for i in range(d)]
    x = x.permute(0, *outer, 1, *inner)
    return x.reshape(-1, c, p**d)


def unpatchify(x: torch.Tensor, p: int, batch: int, space: tuple[int, ...]) -> torch.Tensor:
    """The inverse of :func:`patchify`."""
    d, c = len(space), x.shape[1]
    counts = [n // p for n in space]
    x = x.reshape(batch, *counts, c, *([p] * d))
    order = [0, d + 1] + [k for i in range(d) for k in (1 + i, d + 2 + i)]
    return x.permute(*order).reshape(batch, c, *space)


class NeuralSpectralBlock(nn.Module):
    """Latent encoder, spectral transition and decoder on ``p^d`` patches (module docstring).

    Parameters
    ----------
    channels : int
    patch_size : int
        Pixels per patch side; every spatial size must be a multiple of it.
    num_tokens : int
    num_basis : int
        ``M`` trigonometric frequencies ``k_m = m / M``.
    heads : int
        Attention heads (``channels`` must be a multiple).
    """

    def __init__(
        self, channels: int, patch_size: int, num_tokens: int = 4, num_basis: int = 12, heads: int = 8
    ) -> None:
        super().__init__()
        heads = max(1, min(int(heads), channels))
        while channels % heads:
            heads -= 1
        self.patch_size, self.heads = int(patch_size), heads
        self.tokens = nn.Parameter(torch.rand(1, heads, num_tokens, channels // heads) / math.sqrt(channels))
        self.key_value = PointwiseLinear(channels, 2 * channels)
        self.query = PointwiseLinear(channels, channels)
        self.out = PointwiseLinear(channels, channels)
        self.register_buffer(
            "frequencies", torch.arange(num_basis, dtype=torch.float32) / num_basis, persistent=False
        )
        self.basis_weight = nn.Parameter(
            torch.rand(channels // heads, 2 * num_basis) / (channels * num_basis)
        )

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(P, C, n) -> (P, heads, n, C / heads)``."""
        n_patch, c, n = x.shape
        return x.reshape(n_patch, self.heads, c // self.heads, n).transpose(-1, -2)

    def transition(self, t: torch.Tensor) -> torch.Tensor:
        """``z <- sum_m w_m phi_m(z) + z`` per channel of the tokens ``(P, heads, tokens, c)``."""
        angle = math.pi * t[..., None] * self.frequencies.to(t.dtype)
        basis = torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1)  # (..., c, 2M)
        return (basis * self.basis_weight).sum(-1) + t

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, *space = x.shape
        p = self.patch_size
        if any(n % p for n in space):
            raise ValueError(f"feature grid {tuple(space)} is not a multiple of the patch size {p}")
        patches = patchify(x, p)
        k, v = self._heads(self.key_value(patches)).chunk(2, dim=-1)
        scale = 1.0 / math.sqrt(k.shape[-1])
        tokens = self.tokens.expand(patches.shape[0], -1, -1, -1)
        tokens = torch.softmax(tokens @ k.transpose(-1, -2) * scale, dim=-1) @ v + tokens
        tokens = self.transition(tokens)
        q = self._heads(self.query(patches))
        y = torch.softmax(q @ tokens.transpose(-1, -2) * scale, dim=-1) @ tokens  # (P, heads, n, c/h)
        y = y.transpose(-1, -2).reshape(patches.shape)
        return unpatchify(self.out(y) + patches, p, b, tuple(space))
