"""FDConv: frequency dynamic convolution (Chen, Xu, Li, Zhang, Zhou, Yu, "Frequency Dynamic Convolution for
Dense Image Prediction", CVPR 2025, sec. 3).

Fourier disjoint weights (FDW, sec. 3.1). The kernel ``W`` (``C_out x C_in x k^d``) is stored as the 2-D
DFT ``What`` of its matrix form ``W_mat`` (``C_out k x C_in k^(d-1)``, real, so ``What`` is kept in the rfft
layout). The frequencies are partitioned by radius ``rho(u, v) = sqrt((u'/R)^2 + (v/C)^2)`` (``u'`` the
signed row frequency) into ``n`` disjoint groups ``G_g`` (equal radii in one group, so each group is closed
under the conjugate symmetry), and each group gives its own kernel:

    K_g = iDFT[ What * 1_{G_g} ],       sum_g K_g = iDFT[What] = W        (linearity, disjoint groups)

n frequency-diverse kernels for the parameters of one. They are combined per sample with attention
``alpha(x) = softmax(FC(GAP x))``, scaled by ``n`` so that uniform attention gives ``W``.

Kernel spatial modulation (KSM, sec. 3.2): ``K(x) = (sum_g n alpha_g K_g) * m(x)``, with
``m = 2 sigma(a_out) (x) 2 sigma(a_in) (x) 2 sigma(a_sp)``: ``a_in`` from a 1-D convolution over the channel
descriptor ``GAP x`` (local), ``a_out`` and ``a_sp`` from a fully connected map of it (global).

Frequency band modulation (FBM, sec. 3.3): the response ``z = K(x) * x`` is split into bands of the
feature grid's frequencies (``|k|_inf / (n/2)`` in ``[e_{b-1}, e_b)``, edges ``e = (0, 1/2^(B-1), ..., 1/2,
inf)``) and each band is modulated by its own spatial attention map before summing:

    y = sum_b A_b(x) * F^{-1}[1_b F z],      A_b = 2 sigma(conv_b(x))

All modulations start at 1 (zero-initialized), so an untrained FDConv is the periodic convolution with
``W``. The kernels have a fixed size in grid points: FDConv keeps the resolution it was built for.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from specops.layers.local_conv import FixedResolution, check_kernel_size, periodic_conv


def radial_groups(rows: int, cols: int, n_groups: int) -> torch.Tensor:
    """Group index ``(rows, cols // 2 + 1)`` of each rfft2 frequency: radius quantiles, equal radii together."""
    u = torch.fft.fftfreq(rows, dtype=torch.float64, device="cpu")  # CPU also under a meta-device build
    v = torch.fft.rfftfreq(cols, dtype=torch.float64, device="cpu")
    rho = torch.sqrt(u[:, None] ** 2 + v[None] ** 2)
    radii = torch.unique(rho)
    n_groups = min(n_groups, radii.numel())
    edges = radii[torch.linspace(0, radii.numel(), n_groups + 1, device="cpu")[1:-1].long()]
    return torch.bucketize(rho, edges, right=True)


class FDConv(FixedResolution):
    """Frequency dynamic convolution, periodic, ``(batch, C_in, *space) -> (batch, C_out, *space)``.

    Parameters
    ----------
    in_channels, out_channels : int
    dim : int
        Spatial dimension (1-3).
    kernel_size : int
        Odd.
    n_groups : int
        Disjoint frequency groups of the weight (at most the number of distinct radii).
    n_bands : int
        Frequency bands of the feature map modulated separately (FBM).
    reduction : int
        Width of the attention's hidden layer: ``max(4, C_in // reduction)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        dim: int,
        kernel_size: int = 3,
        n_groups: int = 8,
        n_bands: int = 2,
        reduction: int = 4,
    ) -> None:
        super().__init__()
        k = check_kernel_size(kernel_size)
        if n_groups < 1 or n_bands < 1:
            raise ValueError(f"n_groups={n_groups} and n_bands={n_bands} must be positive")
        self.in_channels, self.out_channels, self.dim, self.kernel_size = in_channels, out_channels, dim, k
        self.matrix_shape = (out_channels * k, in_channels * k ** (dim - 1))
        bound = 1.0 / math.sqrt(in_channels * k**dim)
        w = torch.empty(self.matrix_shape).uniform_(-bound, bound)
        self.spectrum = nn.Parameter(torch.view_as_real(torch.fft.rfft2(w)))
        groups = radial_groups(*self.matrix_shape, n_groups)
        self.n_groups = int(groups.max()) + 1
        self.register_buffer(
            "group_masks", F.one_hot(groups, self.n_groups).permute(2, 0, 1).float(), persistent=False
        )
        self.bias = nn.Parameter(torch.zeros(out_channels))
        hidden = max(4, in_channels // reduction)
        self.descriptor = nn.Linear(in_channels, hidden)
        self.group_attention = nn.Linear(hidden, self.n_groups)
        self.global_modulation = nn.Linear(hidden, out_channels + k**dim)
        self.local_modulation = nn.Conv1d(1, 1, 3, padding=1, bias=False)
        for layer in (self.group_attention, self.global_modulation, self.local_modulation):
            nn.init.zeros_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        self.n_bands = int(n_bands)
        self.band_attention = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[dim - 1](in_channels, self.n_bands, k)
        nn.init.zeros_(self.band_attention.weight)
        nn.init.zeros_(self.band_attention.bias)
        self.init_resolution(dim)

    def group_kernels(self) -> torch.Tensor:
        """``K_g`` for every group: ``(n_groups, C_out, C_in, k^d)``."""
        spec = torch.view_as_complex(self.spectrum)
        mats = torch.fft.irfft2(spec * self.group_masks.to(spec.real.dtype), s=self.matrix_shape)
        return (
            mats.reshape(self.n_groups, self.out_channels, self.kernel_size, self.in_channels, -1)
            .movedim(2, 3)
            .reshape(self.n_groups, self.out_channels, self.in_channels, *[self.kernel_size] * self.dim)
        )

    def full_kernel(self) -> torch.Tensor:
        """``W = iDFT[What]`` (the sum of the group kernels)."""
        mat = torch.fft.irfft2(torch.view_as_complex(self.spectrum), s=self.matrix_shape)
        k = self.kernel_size
        return (
            mat.reshape(self.out_channels, k, self.in_channels, -1)
            .movedim(1, 2)
            .reshape(self.out_channels, self.in_channels, *[k] * self.dim)
        )

    def band_masks(self, space: tuple[int, ...], device: torch.device) -> torch.Tensor:
        """``1_b`` on the FFT grid of ``space``: ``(n_bands, *space)``, summing to one."""
        freqs = [torch.fft.fftfreq(n, device=device).abs() * 2 for n in space]  # |k| / (n/2)
        r = freqs[0]
        for f in freqs[1:]:
            r = torch.maximum(r[..., None], f)
        edges = torch.tensor([2.0 ** -(self.n_bands - 1 - j) for j in range(self.n_bands - 1)], device=device)
        band = (
            torch.bucketize(r, edges, right=True)
            if self.n_bands > 1
            else torch.zeros_like(r, dtype=torch.long)
        )
        return F.one_hot(band, self.n_bands).movedim(-1, 0)

    def dynamic_kernel(self, x: torch.Tensor) -> torch.Tensor:
        """``K(x) = (sum_g n alpha_g(x) K_g) * m(x)``: ``(batch, C_out, C_in, k^d)``."""
        b = x.shape[0]
        gap = x.mean(dim=tuple(range(2, x.dim())))  # (b, C_in)
        h = F.relu(self.descriptor(gap))
        alpha = torch.softmax(self.group_attention(h), -1) * self.n_groups
        kernel = torch.einsum("bg,go...->bo...", alpha, self.group_kernels().to(x.dtype))
        mod = 2 * torch.sigmoid(self.global_modulation(h))
        a_out, a_sp = mod[:, : self.out_channels], mod[:, self.out_channels :]
        a_in = 2 * torch.sigmoid(self.local_modulation(gap[:, None])[:, 0])
        shape_sp = (b, 1, 1, *[self.kernel_size] * self.dim)
        m = a_out[:, :, None] * a_in[:, None, :]
        return kernel * m.reshape(*m.shape, *[1] * self.dim) * a_sp.reshape(shape_sp)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != self.dim + 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"FDConv input has shape {tuple(x.shape)}; expected (batch, {self.in_channels}, {self.dim} axes)"
            )
        self.check_resolution(x.shape[2:])
        b, _, *space = x.shape
        kernel = self.dynamic_kernel(x)
        z = periodic_conv(
            x.reshape(1, b * self.in_channels, *space),
            kernel.reshape(b * self.out_channels, self.in_channels, *kernel.shape[3:]),
            groups=b,
        ).reshape(b, self.out_channels, *space)
        axes = tuple(range(2, x.dim()))
        zh = torch.fft.fftn(z, dim=axes)
        masks = self.band_masks(tuple(space), x.device).to(x.dtype)
        att = 2 * torch.sigmoid(periodic_conv(x, self.band_attention.weight, self.band_attention.bias))
        y = sum(
            att[:, j : j + 1] * torch.fft.ifftn(zh * masks[j], dim=axes).real for j in range(self.n_bands)
        )
        return y + self.bias.reshape(1, -1, *[1] * self.dim)
