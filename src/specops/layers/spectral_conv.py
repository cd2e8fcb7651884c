"""Spectral convolution: multiply the lowest Fourier modes by learned complex weights.

``y = F^{-1}[ R(k) . (F x)(k) ]_{kept k} + b`` (Li et al., "Fourier Neural Operator for Parametric PDEs",
ICLR 2021, eq. 4). The transform is normalised with ``norm='forward'``, so the layer maps functions to
functions: the same weights give the same function values at any resolution that holds the kept modes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from specops.layers.joint import JointSpectralWeight
from specops.layers.spectral_weight import mode_slices
from specops.layers.weight_spec import SpectralWeightSpec, WeightFactory
from specops.spectral.fft import (
    Method,
    check_resolution,
    choose_method,
    irdft_modes,
    irfft_modes,
    modes_shape,
    rdft_modes,
    rfft_modes,
)

METHODS = ("auto", "fft", "dft")


def as_modes(n_modes: Sequence[int] | int, name: str = "n_modes") -> tuple[int, ...]:
    """``n_modes`` as a tuple of 1 to 3 positive ints (one int means a 1D layer); ``ValueError`` otherwise.

    ``name`` is the argument's name in the error message.
    """
    if isinstance(n_modes, int):
        n_modes = (n_modes,)
    n_modes = tuple(int(m) for m in n_modes)
    if not 1 <= len(n_modes) <= 3 or any(m < 1 for m in n_modes):
        raise ValueError(f"{name}={n_modes} must hold 1 to 3 positive integers, one per spatial dimension")
    return n_modes


def check_fft_method(fft_method: str) -> Method:
    """``fft_method`` if it is one of ``auto, fft, dft``; ``ValueError`` otherwise."""
    if fft_method not in METHODS:
        raise ValueError(f"fft_method={fft_method!r} must be 'auto', 'fft' or 'dft'")
    return fft_method


class SpectralConv(nn.Module):
    """Fourier layer kernel ``K`` for 1, 2 or 3 spatial dimensions (``len(n_modes)``).

    Parameters
    ----------
    in_channels, out_channels : int
    n_modes : sequence of int
        Modes kept per dimension, counting positive and negative frequencies together (neuraloperator's
        convention): ``n_modes=(16, 16)`` keeps frequencies ``-8..7`` on the first axis and ``0..8`` on
        the last. Can be changed after construction (``layer.n_modes = ...``): fewer modes use a centered
        subset of the weights (incremental training); more modes than stored grow the weights with zeros
        (refinement), leaving the layer's output unchanged.
    max_n_modes : sequence of int, optional
        Modes to allocate weights for (default ``n_modes``).
    bias : bool
        Add a learned per-channel constant.
    weight : callable, optional
        Builds the spectral weight: ``weight(in_channels, out_channels, modes, init_std)``; a
        ``SpectralWeightSpec`` (dense, CP, Tucker, tensor train; separable or not) or any factory of a
        ``SpectralWeight``. Default: dense.
    fft_method : "auto", "fft" or "dft"
        How the truncated transforms are computed (see ``specops.spectral.fft``); results agree to rounding.
    init_std : float, optional
        Standard deviation of the (reconstructed) complex weights; default ``sqrt(2 / (in + out))``.

    Shapes: input ``(batch, in_channels, *space)``, output ``(batch, out_channels, *space)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        n_modes: Sequence[int] | int,
        *,
        max_n_modes: Sequence[int] | None = None,
        bias: bool = True,
        weight: WeightFactory | None = None,
        fft_method: Method = "auto",
        init_std: float | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        n_modes = as_modes(n_modes)
        max_n_modes = n_modes if max_n_modes is None else as_modes(max_n_modes, "max_n_modes")
        if len(max_n_modes) != len(n_modes):
            raise ValueError(
                f"max_n_modes={max_n_modes} must have one entry per dimension of n_modes={n_modes}"
            )
        max_n_modes = tuple(max(a, b) for a, b in zip(n_modes, max_n_modes))
        self.fft_method = check_fft_method(fft_method)
        if init_std is None:
            init_std = math.sqrt(2.0 / (self.in_channels + self.out_channels))
        make_weight = SpectralWeightSpec() if weight is None else weight
        self.weight = make_weight(self.in_channels, self.out_channels, modes_shape(max_n_modes), init_std)
        self._max_n_modes = max_n_modes
        self._n_modes = n_modes
        self.bias = nn.Parameter(torch.zeros(self.out_channels)) if bias else None

    @property
    def dim(self) -> int:
        return len(self._n_modes)

    @property
    def n_modes(self) -> tuple[int, ...]:
        return self._n_modes

    @n_modes.setter
    def n_modes(self, value: Sequence[int] | int) -> None:
        value = as_modes(value)
        if len(value) != self.dim:
            raise ValueError(f"n_modes={value} must have {self.dim} entries, one per spatial dimension")
        if any(v > m for v, m in zip(value, self._max_n_modes)):
            self._max_n_modes = tuple(max(v, m) for v, m in zip(value, self._max_n_modes))
            self.weight.grow(modes_shape(self._max_n_modes))
        self._n_modes = value

    @property
    def max_n_modes(self) -> tuple[int, ...]:
        return self._max_n_modes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.dim
        if x.dim() != d + 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"SpectralConv input has shape {tuple(x.shape)}; expected (batch, {self.in_channels}, "
                f"{d} spatial axes)"
            )
        space = x.shape[-d:]
        check_resolution(space, self._n_modes)
        slices = mode_slices(self.weight.modes, modes_shape(self._n_modes))
        with torch.autocast(device_type=x.device.type, enabled=False):
            # FFTs and spectral weights stay in float32/complex64 under mixed precision.
            if choose_method(self.fft_method, space, self._n_modes, x.device) == "dft":
                yr = self.weight.contract_real(rdft_modes(x, self._n_modes), slices)
                if self.bias is not None:
                    yr = yr + self._bias_modes(yr.shape[1:], yr.dtype, real_layout=True)
                return irdft_modes(yr, space)
            yh = self.weight.contract(rfft_modes(x, self._n_modes, method="fft"), slices)
            if self.bias is not None:
                yh = yh + self._bias_modes(yh.shape[1:], yh.dtype, real_layout=False)
            return irfft_modes(yh, space, method="fft")

    def _bias_modes(self, shape, dtype, real_layout: bool) -> torch.Tensor:
        """The bias as a zero-frequency coefficient: adding it there adds the constant ``b`` in space (the
        transform is forward-normalised), at the cost of a pass over the small mode block instead of the
        whole field."""
        z = torch.zeros(shape, dtype=dtype, device=self.bias.device)
        if real_layout:  # (C, *m, 2, mL): real plane, zero frequency
            zero = (slice(None), *[m // 2 for m in shape[1:-2]], 0, 0)
        else:  # (C, *m, mL) complex
            zero = (slice(None), *[m // 2 for m in shape[1:-1]], 0)
        z[zero] = self.bias.to(dtype)
        return z

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, n_modes={self._n_modes}, "
            f"weight={type(self.weight).__name__}, fft_method={self.fft_method!r}"
        )


@dataclass(frozen=True)
class SpectralConvSpec(SpectralWeightSpec):
    """How a model builds its spectral convolutions, as plain data: a weight spec plus the layer's options.

    A model takes it as one constructor argument (``spectral={"factorization": "cp", "rank": 0.1}``), so
    an option added here reaches every model that builds ``SpectralConv`` layers with no other change.
    Being a ``SpectralWeightSpec``, it is also the weight factory of the layers it builds.

    Parameters
    ----------
    factorization, rank, separable
        The spectral weight (see ``SpectralWeightSpec``).
    max_n_modes : sequence of int, optional
        Modes to allocate weights for (default: the layer's ``n_modes``).
    fft_method : "auto", "fft" or "dft"
        How the truncated transforms are computed (see ``specops.spectral.fft``).
    joint_factorization : bool
        The weights of all a model's layers form one low-rank tensor (MG-TFNO's global tensorization,
        ``specops.layers.joint``); ``rank`` is then a fraction of the whole dense stack. Needs a low-rank
        ``factorization``; the model builds the shared tensor with ``joint_weight``.
    """

    max_n_modes: tuple[int, ...] | None = None
    fft_method: Method = "auto"
    joint_factorization: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_n_modes is not None:
            object.__setattr__(self, "max_n_modes", as_modes(self.max_n_modes, "max_n_modes"))
        check_fft_method(self.fft_method)
        if self.joint_factorization and not self.weight_class.low_rank:
            raise ValueError(
                f"joint_factorization=True needs a low-rank factorization ('cp', 'tucker' or 'tt'), got "
                f"factorization={self.factorization!r}"
            )

    def joint_weight(
        self, n_layers: int, in_channels: int, out_channels: int, n_modes: Sequence[int]
    ) -> JointSpectralWeight:
        """The shared tensor of ``n_layers`` layers of this spec; pass it to ``build(..., weight=)`` once per
        layer. Entries start with ``SpectralConv``'s default std ``sqrt(2 / (in + out))``."""
        n_modes = as_modes(n_modes)
        stored = n_modes if self.max_n_modes is None else tuple(map(max, n_modes, self.max_n_modes))
        return JointSpectralWeight(
            str(self.factorization).lower(),
            n_layers,
            in_channels,
            out_channels,
            modes_shape(stored),
            rank=float(self.rank),
            separable=self.separable,
            init_std=math.sqrt(2.0 / (in_channels + out_channels)),
        )

    def build(
        self,
        in_channels: int,
        out_channels: int,
        n_modes: Sequence[int],
        weight: WeightFactory | None = None,
    ) -> SpectralConv:
        """A ``SpectralConv(in_channels, out_channels, n_modes)`` with these options; its weight comes from
        ``weight`` when given (a ``JointSpectralWeight``'s next layer), else from this spec."""
        return SpectralConv(
            in_channels,
            out_channels,
            n_modes,
            max_n_modes=self.max_n_modes,
            weight=self if weight is None else weight,
            fft_method=self.fft_method,
        )
