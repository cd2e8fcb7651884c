"""Joint (global) tensorization: the spectral weights of all Fourier layers as one low-rank tensor.

MG-TFNO (Kossaifi et al., "Multi-Grid Tensorized Fourier Neural Operator for High-Resolution PDEs", TMLR
2024, sec. 3.2) stacks the complex weights of the ``L`` layers into one tensor
``W[l, i, o, k_1, ..., k_d]`` and learns it in low-rank form; the layer axis is one more mode of the
factorization, so layers share every factor but one small one:

=========  ==================================================================  ==============================
name       joint weight                                                        layer ``l``'s slice
=========  ==================================================================  ==============================
``cp``     ``W = sum_r lam_r (x) a_r (x) b_r (x) k1_r ... (x) kd_r``           CP with ``a_r <- lam[l, r] a_r``
``tucker`` ``W = G x_0 U_layer x_1 U_in x_2 U_out x_3 U_k1 ...``               Tucker with core
                                                                               ``G_l = sum_s U_layer[l, s] G[s]``
``tt``     ``W[l, i, o, k] = G_L[l] G_0[i] G_1[o] G_2[k1] ...``                TT with ``G_0 <- G_L[l] G_0``
=========  ==================================================================  ==============================

A layer's slice is computed from the factors (a small vector, matrix or core: never the dense weight) and
contracted with the input by the per-layer code of ``specops.layers.factorized``. ``rank`` is the fraction
of the parameter count of the whole dense stack (``L`` dense weights) to keep.

``JointSpectralWeight`` holds the factors (a model registers it once); calling it is a weight factory with
the signature of ``SpectralWeightSpec`` that hands out ``LayerWeight`` views, one per layer in order, which
``SpectralConv(weight=...)`` uses like any ``SpectralWeight``. Growing one view's modes grows the shared
tensor, and every view reads the stored modes from it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from specops.layers.factorized import (
    cp_contract,
    cp_dense,
    cp_mode_tensor,
    cp_rank,
    grow_factors,
    tt_contract,
    tt_dense,
    tt_mode_chain,
    tt_ranks,
    tucker_contract,
    tucker_core_times_modes,
    tucker_dense,
    tucker_ranks,
)
from specops.layers.spectral_weight import SpectralWeight, as_complex, complex_parameter

JOINT_FORMS = ("cp", "tucker", "tt")


class JointSpectralWeight(nn.Module):
    """One low-rank complex tensor ``W[l, i, o, *modes]`` for the spectral weights of ``n_layers`` layers.

    Parameters
    ----------
    factorization : "cp", "tucker" or "tt"
        The low-rank form (table in the module docstring).
    n_layers, in_channels, out_channels : int
    modes : sequence of int
        Stored mode counts per axis (``specops.spectral.fft.modes_shape`` of the layers' max modes).
    rank : float
        Fraction in (0, 1] of the dense stack's ``2 L C_in C_out prod(modes)`` real parameters to keep.
    separable : bool
        Depthwise ``W[l, c, *modes]`` (needs ``in_channels == out_channels``).
    init_std : float
        Standard deviation of the reconstructed complex entries.

    Calling it, ``joint(in_channels, out_channels, modes, init_std)``, returns the next layer's
    ``LayerWeight`` (up to ``n_layers`` of them); the arguments must match the joint tensor's.
    """

    def __init__(
        self,
        factorization: str,
        n_layers: int,
        in_channels: int,
        out_channels: int,
        modes: Sequence[int],
        *,
        rank: float,
        separable: bool = False,
        init_std: float = 1.0,
    ) -> None:
        super().__init__()
        if factorization not in JOINT_FORMS:
            raise ValueError(
                f"factorization={factorization!r} cannot be jointly factorized: joint_factorization needs "
                f"one of {JOINT_FORMS} (a dense stack is the per-layer dense weight)"
            )
        if not 0.0 < rank <= 1.0:
            raise ValueError(f"rank={rank!r} must be a fraction of the dense parameter count in (0, 1]")
        if separable and in_channels != out_channels:
            raise ValueError(
                f"separable spectral weights need in_channels == out_channels, got {in_channels} and "
                f"{out_channels}"
            )
        self.factorization = factorization
        self.n_layers = int(n_layers)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.separable = separable
        self.channel_shape = (self.in_channels,) if separable else (self.in_channels, self.out_channels)
        self.modes = tuple(int(m) for m in modes)
        dims = (self.n_layers, *self.channel_shape, *self.modes)
        target = rank * self.dense_numel / 2  # complex entries
        nc = len(self.channel_shape)
        if factorization == "cp":
            self.rank = cp_rank(dims, target)
            std = (init_std**2 / self.rank) ** (1.0 / (2 * len(dims)))
            self.factors = nn.ParameterList([complex_parameter((n, self.rank), std) for n in dims])
            self._mode_start = 1 + nc
        elif factorization == "tucker":
            self.ranks = tuple(tucker_ranks(dims, target))
            self.core = complex_parameter(self.ranks, init_std)
            self.factors = nn.ParameterList(
                [complex_parameter((n, r), 1 / math.sqrt(r)) for n, r in zip(dims, self.ranks)]
            )
            self._mode_start = 1 + nc
        else:
            self.ranks = tuple(tt_ranks(dims, target))
            v = init_std ** (2.0 / len(dims))
            self.factors = nn.ParameterList(
                [
                    complex_parameter((self.ranks[j], n, self.ranks[j + 1]), math.sqrt(v / self.ranks[j + 1]))
                    for j, n in enumerate(dims)
                ]
            )
            self._mode_start = 1 + nc
        self._handed_out = 0

    @property
    def dense_numel(self) -> int:
        """Real parameters of the dense stack of ``n_layers`` weights."""
        return 2 * self.n_layers * math.prod(self.channel_shape) * math.prod(self.modes)

    def __call__(self, in_channels: int, out_channels: int, modes: Sequence[int], init_std: float = 1.0):
        """The next layer's view (a ``WeightFactory``; ``init_std`` was fixed when the tensor was made)."""
        del init_std
        want = (self.in_channels, self.out_channels, self.modes)
        got = (int(in_channels), int(out_channels), tuple(int(m) for m in modes))
        if got != want:
            raise ValueError(
                f"a layer asked the joint spectral weight for (in, out, modes) = {got}; it holds {want}: every "
                f"jointly factorized layer must have the same shape"
            )
        if self._handed_out >= self.n_layers:
            raise ValueError(f"the joint spectral weight holds {self.n_layers} layers; all are in use")
        view = LayerWeight(self, self._handed_out)
        self._handed_out += 1
        return view

    def forward(self, *args, **kwargs):  # pragma: no cover - the weight is used through its views
        raise TypeError("JointSpectralWeight is a weight factory: use the LayerWeight views it returns")

    def _mode_factors(self):
        return self.factors[self._mode_start :]

    def layer_contract(self, layer: int, x: torch.Tensor, slices) -> torch.Tensor:
        """Layer ``layer``'s ``y[b, o, k] = sum_i x[b, i, k] W[layer, i, o, k]`` from the factors."""
        if self.factorization == "cp":
            lam = as_complex(self.factors[0])[layer]
            a, b = (as_complex(f) for f in self.factors[1:3])
            return cp_contract(x, a * lam, b, cp_mode_tensor(self._mode_factors(), slices))
        if self.factorization == "tucker":
            u_in, u_out = (as_complex(f) for f in self.factors[1:3])
            return tucker_contract(x, u_in, u_out, self._tucker_core(layer, slices))
        g0, g1 = self._tt_channel_cores(layer)
        return tt_contract(x, g0, g1, tt_mode_chain(self._mode_factors(), slices))

    def layer_dense(self, layer: int, slices=None) -> torch.Tensor:
        """Layer ``layer``'s dense complex weight ``(*channel_shape, *used_modes)`` (tests, inspection)."""
        nc = len(self.channel_shape)
        if self.factorization == "cp":
            lam = as_complex(self.factors[0])[layer]
            chans = [as_complex(f) for f in self.factors[1 : 1 + nc]]
            chans[0] = chans[0] * lam
            return cp_dense(chans, cp_mode_tensor(self._mode_factors(), slices))
        if self.factorization == "tucker":
            chans = [as_complex(f) for f in self.factors[1 : 1 + nc]]
            return tucker_dense(self._tucker_core(layer, slices), chans)
        return tt_dense(*self._tt_channel_cores(layer), tt_mode_chain(self._mode_factors(), slices))

    def to_dense(self, slices=None) -> torch.Tensor:
        """The whole stack ``(n_layers, *channel_shape, *used_modes)`` (tests and inspection only)."""
        return torch.stack([self.layer_dense(layer, slices) for layer in range(self.n_layers)])

    def _tucker_core(self, layer: int, slices) -> torch.Tensor:
        """``G_l = sum_s U_layer[l, s] G[s]``, then times the mode factors: ``(r_in, [r_out,] *modes)``."""
        core = torch.tensordot(as_complex(self.factors[0])[layer], as_complex(self.core), dims=([0], [0]))
        return tucker_core_times_modes(core, self._mode_factors(), slices)

    def _tt_channel_cores(self, layer: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``G_0 <- G_L[0, l, :] G_0``: the first channel core with the layer's row folded in."""
        row = as_complex(self.factors[0])[0, layer]  # (r1,)
        g0 = torch.tensordot(row, as_complex(self.factors[1]), dims=([0], [0]))  # (C_in, r2)
        return g0, None if self.separable else as_complex(self.factors[2])

    def grow(self, modes: Sequence[int]) -> None:
        """Zero-pad the stored modes to ``modes`` (at least the current counts; equal counts do nothing)."""
        modes = tuple(max(int(n), m) for n, m in zip(modes, self.modes))
        if modes == self.modes:
            return
        axis = 1 if self.factorization == "tt" else 0
        grow_factors(self.factors, self._mode_start, axis, modes)
        self.modes = modes


class LayerWeight(SpectralWeight):
    """Layer ``index``'s slice of a ``JointSpectralWeight``: a ``SpectralWeight`` that owns no parameters.

    The joint tensor is held outside the module tree (the model registers it once), so its parameters
    appear once in ``parameters()`` and ``state_dict()``; ``modes`` always reads the shared tensor's.
    """

    def __init__(self, joint: JointSpectralWeight, index: int) -> None:
        nn.Module.__init__(self)
        self.__dict__["_joint"] = joint  # not a submodule: the model owns the shared tensor
        self.index = int(index)
        self.in_channels, self.out_channels = joint.in_channels, joint.out_channels
        self.separable = joint.separable

    @property
    def joint(self) -> JointSpectralWeight:
        return self.__dict__["_joint"]

    @property
    def modes(self) -> tuple[int, ...]:  # type: ignore[override]
        return self.joint.modes

    @property
    def dense_numel(self) -> int:
        return self.joint.dense_numel // self.joint.n_layers

    def to_dense(self, slices=None):
        return self.joint.layer_dense(self.index, slices)

    def _contract(self, x, slices):
        return self.joint.layer_contract(self.index, x, slices)

    def grow(self, modes):
        self.joint.grow(modes)

    def extra_repr(self) -> str:
        return f"layer {self.index} of a joint {self.joint.factorization} tensor"
