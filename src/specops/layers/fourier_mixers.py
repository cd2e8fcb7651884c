"""Token mixers that filter in the frequency domain: AFF (adaptive frequency filtering) and the fast Fourier
convolution (FFC).

AFF (Huang, Zhang, Lan, Zha, Lu, Guo, "Adaptive Frequency Filtering Is Efficient Global Token Mixer", ICCV
2023, sec. 3.2). With ``P`` a pointwise projection and ``X = F[P x]`` the normalized DFT
(``X(k) = (1/n^d) sum_y (P x)(y) exp(-2 pi i k . y / n)``, so ``X`` approximates Fourier coefficients at
any resolution):

    M(k) = W_2 relu(W_1 [Re X(k); Im X(k)] + b_1) + b_2          (per frequency; block-diagonal W_1, W_2)
    y    = Re F^{-1}[ X * (M_re + i M_im) ]

The mask depends on the instance, so ``y`` is a depthwise circular convolution of ``P x`` with the
instance-adaptive kernel ``K_c = Re F^{-1}[M_c]`` as large as the grid (the paper's equivalence), at the
cost of two FFTs.

FFC (Chi, Jiang, Mu, "Fast Fourier Convolution", NeurIPS 2020, eq. 1-3). Channels split into local
``x_l`` and global ``x_g`` parts (``ratio`` of them global); with periodic ``k x k`` convolutions
``f_{l->l}, f_{g->l}, f_{l->g}`` and the spectral transform ``f_{g->g}``:

    y_l = f_{l->l}(x_l) + f_{g->l}(x_g),      y_g = f_{l->g}(x_l) + f_{g->g}(x_g)
    f_{g->g}(x) = W_out (h + FU(h)),  h = act(W_in x),  FU(h) = Re F^{-1}[ act(W_f [Re F h; Im F h]) ]

``W_f`` mixes real and imaginary parts of all channels at each frequency (the Fourier unit); the
nonlinearity there makes the branch global and nonlinear. Batch norms of the paper are left out (operator
blocks carry their own norm option). The local convolutions have pixel kernels, so FFC keeps the
resolution it was built for (``FixedResolution``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from specops.layers.local_conv import FixedResolution, check_kernel_size, periodic_conv
from specops.layers.mlp import PointwiseLinear


def spectrum(x: torch.Tensor) -> torch.Tensor:
    """Normalized DFT over the spatial axes of ``(batch, C, *space)``: ``(1/n^d) sum_y x(y) e^{-2 pi i k.y/n}``."""
    return torch.fft.fftn(x, dim=tuple(range(2, x.dim())), norm="forward")


def real_field(spec: torch.Tensor) -> torch.Tensor:
    """``Re F^{-1}[spec]``, the inverse of ``spectrum`` for the real part."""
    return torch.fft.ifftn(spec, dim=tuple(range(2, spec.dim())), norm="forward").real


def as_channels(spec: torch.Tensor) -> torch.Tensor:
    """``[Re; Im]`` stacked on the channel axis: ``(batch, 2C, *space)``."""
    return torch.cat([spec.real, spec.imag], 1)


class AFFMixer(nn.Module):
    """Adaptive frequency filtering token mixer (module docstring).

    Parameters
    ----------
    channels : int
    groups : int
        Blocks of the mask network's weights (the paper's group 1x1 convolutions); must divide ``channels``.
    hidden_ratio : float
        Width of the mask network relative to ``2 * channels``.

    The mask network starts at ``M = 1`` (``W_2 = 0``, ``b_2 = (1, 0)``): the layer starts as ``P``.
    """

    def __init__(self, channels: int, groups: int = 4, hidden_ratio: float = 1.0) -> None:
        super().__init__()
        if groups < 1 or channels % groups:
            raise ValueError(f"groups={groups} must divide channels={channels}")
        self.channels = int(channels)
        hidden = max(groups, round(2 * channels * hidden_ratio / groups) * groups)
        self.project = PointwiseLinear(channels, channels)
        self.groups = int(groups)
        # group g mixes the real and imaginary parts of its own channels
        self.mask_in = nn.Conv1d(2 * channels, hidden, 1, groups=groups)
        self.mask_out = nn.Conv1d(hidden, 2 * channels, 1, groups=groups)
        self.register_buffer("order", self._grouped_order(), persistent=False)
        nn.init.zeros_(self.mask_out.weight)
        with torch.no_grad():  # output j of the mask network is channel order[j]: real parts get 1
            self.mask_out.bias.copy_((self.order < channels).float())

    def _grouped_order(self) -> torch.Tensor:
        """Channel order ``[Re_g, Im_g]`` per group, so the grouped convolution sees both parts."""
        c, g = self.channels, self.groups
        per = c // g
        idx = [
            list(range(i * per, (i + 1) * per)) + list(range(c + i * per, c + (i + 1) * per))
            for i in range(g)
        ]
        return torch.tensor([j for block in idx for j in block])

    def mask(self, spec: torch.Tensor) -> torch.Tensor:
        """``M(k) = M_re + i M_im`` from the spectrum ``(batch, C, *space)`` (complex, same shape)."""
        b, c, *space = spec.shape
        z = as_channels(spec).reshape(b, 2 * c, -1)[:, self.order]
        m = self.mask_out(F.relu(self.mask_in(z)))
        m = m[:, torch.argsort(self.order)].reshape(b, 2 * c, *space)
        return torch.complex(m[:, :c], m[:, c:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 3 or x.shape[1] != self.channels:
            raise ValueError(
                f"AFFMixer input has shape {tuple(x.shape)}; expected (batch, {self.channels}, *space)"
            )
        spec = spectrum(self.project(x))
        return real_field(spec * self.mask(spec))


class FourierUnit(nn.Module):
    """``FU(h) = Re F^{-1}[ act(W_f [Re F h; Im F h]) ]`` (``W_f`` a 1x1 map on ``2C`` channels, no bias)."""

    def __init__(self, channels: int, activation: Callable[[torch.Tensor], torch.Tensor] = F.relu) -> None:
        super().__init__()
        self.channels = int(channels)
        self.weight = PointwiseLinear(2 * channels, 2 * channels, bias=False)
        self.activation = activation

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        z = self.activation(self.weight(as_channels(spectrum(h))))
        c = self.channels
        return real_field(torch.complex(z[:, :c], z[:, c:]))


class FFCMixer(FixedResolution):
    """Fast Fourier convolution: local and global channel branches with cross-talk (module docstring).

    Parameters
    ----------
    channels : int
    dim : int
        Spatial dimension (1-3).
    ratio : float
        Fraction of the channels in the global branch (0 < ratio < 1).
    kernel_size : int
        Odd size of the local convolutions.
    activation : callable
        Nonlinearity of the spectral transform (ReLU in the paper; identity makes the layer linear).
    """

    def __init__(
        self,
        channels: int,
        dim: int,
        ratio: float = 0.5,
        kernel_size: int = 3,
        activation: Callable[[torch.Tensor], torch.Tensor] = F.relu,
    ) -> None:
        super().__init__()
        if not 0 < ratio < 1:
            raise ValueError(f"ratio={ratio} must lie strictly between 0 and 1 (the global fraction)")
        k = check_kernel_size(kernel_size)
        self.channels, self.dim = int(channels), int(dim)
        self.n_global = min(max(1, round(channels * ratio)), channels - 1)
        self.n_local = self.channels - self.n_global
        conv = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[self.dim - 1]
        self.local_to_local = conv(self.n_local, self.n_local, k)
        self.global_to_local = conv(self.n_global, self.n_local, k, bias=False)
        self.local_to_global = conv(self.n_local, self.n_global, k)
        half = max(1, self.n_global // 2)
        self.spectral_in = PointwiseLinear(self.n_global, half)
        self.fourier = FourierUnit(half, activation)
        self.spectral_out = PointwiseLinear(half, self.n_global, bias=False)
        self.activation = activation
        self.init_resolution(self.dim)

    def global_to_global(self, xg: torch.Tensor) -> torch.Tensor:
        h = self.activation(self.spectral_in(xg))
        return self.spectral_out(h + self.fourier(h))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != self.dim + 2 or x.shape[1] != self.channels:
            raise ValueError(
                f"FFCMixer input has shape {tuple(x.shape)}; expected (batch, {self.channels}, {self.dim} axes)"
            )
        self.check_resolution(x.shape[2:])
        xl, xg = x[:, : self.n_local], x[:, self.n_local :]
        yl = periodic_conv(xl, self.local_to_local.weight, self.local_to_local.bias) + periodic_conv(
            xg, self.global_to_local.weight
        )
        yg = periodic_conv(
            xl, self.local_to_global.weight, self.local_to_global.bias
        ) + self.global_to_global(xg)
        return torch.cat([yl, yg], 1)
