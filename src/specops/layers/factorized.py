"""Low-rank spectral weights: CP, Tucker and tensor-train factorizations of ``W[i, o, k_1, ..., k_d]``.

The classes hold only the factors and contract the input with them directly: the full
``(C_in, C_out, modes)`` tensor is never built (Kossaifi et al., "Multi-Grid Tensorized Fourier Neural
Operator", TMLR 2024, sec. 3). ``to_dense`` rebuilds it for tests and inspection. ``rank`` is the fraction
of the dense weight's parameter count to keep; each class turns it into its own ranks. Storage conventions
(complex parameters as real pairs, centered mode axes) are those of ``specops.layers.spectral_weight``.

=========  ===========================================================================  ===================
name       weight                                                                       complex entries
=========  ===========================================================================  ===================
``cp``     ``W = sum_r a_r (x) b_r (x) k1_r (x) ... (x) kd_r``                          ``R sum_j n_j``
``tucker`` ``W = G x_1 U_in x_2 U_out x_3 U_k1 ... x_{d+2} U_kd``                       ``prod R_j + sum n_j R_j``
``tt``     ``W[i, o, k] = G_0[i] G_1[o] G_2[k1] ... G_{d+1}[kd]`` (matrix products)     ``sum R_j n_j R_{j+1}``
=========  ===========================================================================  ===================
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import ClassVar

import torch
from torch import nn

from specops.layers.spectral_weight import (
    SpectralWeight,
    as_complex,
    complex_parameter,
    mode_letters,
    pad_modes,
)
from specops.registry import SPECTRAL_WEIGHTS


def grow_factors(params: nn.ParameterList, start: int, axis: int, modes: Sequence[int]) -> None:
    """Zero-pad the mode axis ``axis`` of the per-mode factors ``params[start:]`` to the counts ``modes``."""
    for i, new in enumerate(modes):
        padded = pad_modes(params[start + i].data, axis, int(new), last=i == len(modes) - 1)
        params[start + i] = nn.Parameter(padded)


def _used(factor: torch.Tensor, axis: int, slices: tuple[slice, ...] | None, at: int) -> torch.Tensor:
    """The complex view of a per-mode factor, restricted to the used modes of mode axis ``axis`` (the
    factor's axis ``at`` runs over that mode)."""
    f = as_complex(factor)
    if slices is None:
        return f
    index = [slice(None)] * f.dim()
    index[at] = slices[axis]
    return f[tuple(index)]


# The forms as functions of their (complex) factors: the per-layer weights below and the joint weights of
# ``specops.layers.joint`` (one tensor for all layers) contract through the same code.


def cp_rank(dims: Sequence[int], target: float) -> int:
    """CP rank ``R = max(1, round(target / sum(dims)))``: ``R sum_j n_j`` complex entries ~ ``target``."""
    return max(1, round(target / sum(dims)))


def cp_mode_tensor(mode_factors: Sequence[torch.Tensor], slices: tuple[slice, ...] | None) -> torch.Tensor:
    """``M[r, k1, .., kd] = prod_j K_j[k_j, r]`` over the used modes (``K_j`` stored real ``(m_j, R, 2)``)."""
    out = None
    for axis, factor in enumerate(mode_factors):
        f = _used(factor, axis, slices, 0).T  # (R, m)
        out = f if out is None else out[..., None] * f.reshape(f.shape[0], *([1] * (out.dim() - 1)), -1)
    return out


def cp_dense(channel_factors: Sequence[torch.Tensor], mode_tensor: torch.Tensor) -> torch.Tensor:
    """``W[i, o, k] = sum_r A[i, r] B[o, r] M[r, k]`` (``W[c, k] = sum_r A[c, r] M[r, k]`` if separable)."""
    k = mode_letters(mode_tensor.dim() - 1)
    chans = "io"[: len(channel_factors)]
    ops = ",".join(f"{c}r" for c in chans)
    return torch.einsum(f"{ops},r{k}->{chans}{k}", *channel_factors, mode_tensor)


def cp_contract(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor, mode_tensor: torch.Tensor) -> torch.Tensor:
    """``y[b, o, k] = sum_r B[o, r] M[r, k] sum_i A[i, r] x[b, i, k]``, never forming ``W``."""
    k = mode_letters(mode_tensor.dim() - 1)
    t = torch.einsum(f"bi{k},ir->br{k}", x, a) * mode_tensor
    return torch.einsum(f"br{k},or->bo{k}", t, b)


def scaled_ranks(dims: Sequence[int], target: float, count: Callable[[list[int]], int]) -> list[int]:
    """Ranks ``max(1, round(t * n))`` with the scale ``t`` chosen by bisection so that ``count`` ~ target."""
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if count([max(1, round(mid * n)) for n in dims]) > target:
            hi = mid
        else:
            lo = mid
    return [max(1, round(lo * n)) for n in dims]


def tucker_ranks(dims: Sequence[int], target: float) -> list[int]:
    """Tucker ranks ``max(1, round(t n_j))`` with ``prod R_j + sum n_j R_j`` ~ ``target``."""

    def count(ranks):
        return math.prod(ranks) + sum(n * r for n, r in zip(dims, ranks))

    return scaled_ranks(dims, target, count)


def tucker_core_times_modes(
    core: torch.Tensor, mode_factors: Sequence[torch.Tensor], slices: tuple[slice, ...] | None
) -> torch.Tensor:
    """The complex core ``(r_in, [r_out,] *r_k)`` times the mode factors: ``(r_in, [r_out,] *used_modes)``."""
    nc = core.dim() - len(mode_factors)
    out = core
    for axis, factor in enumerate(mode_factors):
        # contract core axis nc (the next rank) with the factor's rank axis; the new mode axis lands last
        out = torch.tensordot(out, _used(factor, axis, slices, 0), dims=([nc], [1]))
    return out


def tucker_dense(core_modes: torch.Tensor, channel_factors: Sequence[torch.Tensor]) -> torch.Tensor:
    """``W[i, o, k] = sum_ac G'[a, c, k] U_in[i, a] U_out[o, c]`` (``G'`` from ``tucker_core_times_modes``)."""
    k = mode_letters(core_modes.dim() - len(channel_factors))
    if len(channel_factors) == 1:
        return torch.einsum(f"a{k},ca->c{k}", core_modes, channel_factors[0])
    return torch.einsum(f"ac{k},ia,oc->io{k}", core_modes, *channel_factors)


def tucker_contract(
    x: torch.Tensor, u_in: torch.Tensor, u_out: torch.Tensor, core_modes: torch.Tensor
) -> torch.Tensor:
    """``y[b, o, k] = sum_c U_out[o, c] sum_a G'[a, c, k] sum_i U_in[i, a] x[b, i, k]``."""
    k = mode_letters(core_modes.dim() - 2)
    t = torch.einsum(f"bi{k},ia->ba{k}", x, u_in)
    t = torch.einsum(f"ba{k},ac{k}->bc{k}", t, core_modes)
    return torch.einsum(f"bc{k},oc->bo{k}", t, u_out)


def tt_ranks(dims: Sequence[int], target: float) -> list[int]:
    """Tensor-train ranks ``[1, r, ..., r, 1]`` (each capped by the unfolding sizes), the largest ``r``
    with ``sum R_j n_j R_{j+1} <= target``."""

    def ranks_for(r: int) -> list[int]:
        inner = []
        for j in range(1, len(dims)):
            left, right = math.prod(dims[:j]), math.prod(dims[j:])
            inner.append(max(1, min(r, left, right)))
        return [1, *inner, 1]

    def count(ranks):
        return sum(ranks[j] * n * ranks[j + 1] for j, n in enumerate(dims))

    r = 1
    while r < max(dims) ** 2 and count(ranks_for(r + 1)) <= target:
        r += 1
    return ranks_for(r)


def tt_mode_chain(mode_cores: Sequence[torch.Tensor], slices: tuple[slice, ...] | None) -> torch.Tensor:
    """Product of the mode cores ``G[r, k, r']``: ``(r_left, *used_modes)`` (the trailing rank is 1)."""
    out = None
    for axis, core in enumerate(mode_cores):
        g = _used(core, axis, slices, 1)
        out = g if out is None else torch.tensordot(out, g, dims=([out.dim() - 1], [0]))
    return out.squeeze(-1)


def tt_dense(g0: torch.Tensor, g1: torch.Tensor | None, chain: torch.Tensor) -> torch.Tensor:
    """``W[i, o, k] = sum_ac G0[i, a] G1[a, o, c] C[c, k]`` (separable, ``g1`` None: ``G0[c, a] C[a, k]``)."""
    k = mode_letters(chain.dim() - 1)
    if g1 is None:
        return torch.einsum(f"ia,a{k}->i{k}", g0, chain)
    return torch.einsum(f"ia,aoc,c{k}->io{k}", g0, g1, chain)


def tt_contract(x: torch.Tensor, g0: torch.Tensor, g1: torch.Tensor, chain: torch.Tensor) -> torch.Tensor:
    """``y[b, o, k] = sum_a (sum_c G1[a, o, c] C[c, k]) sum_i G0[i, a] x[b, i, k]``."""
    k = mode_letters(chain.dim() - 1)
    t = torch.einsum(f"bi{k},ia->ba{k}", x, g0)
    p = torch.einsum(f"aoc,c{k}->ao{k}", g1, chain)
    return torch.einsum(f"ba{k},ao{k}->bo{k}", t, p)


class LowRankWeight(SpectralWeight):
    """Base of the factorized weights: built from a spec's ``separable`` and ``rank`` (a fraction in (0, 1])."""

    low_rank: ClassVar[bool] = True

    @classmethod
    def from_spec(cls, in_channels, out_channels, modes, spec, init_std):
        """Build with ``spec.separable`` and ``spec.rank`` (checked by the spec)."""
        return cls(in_channels, out_channels, modes, spec.separable, float(spec.rank), init_std)


@SPECTRAL_WEIGHTS.register("cp")
class CPWeight(LowRankWeight):
    """Canonical polyadic weight ``W = sum_r a_r (x) b_r (x) k1_r (x) ... (x) kd_r``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: Sequence[int],
        separable: bool = False,
        rank: float = 0.1,
        init_std: float = 1.0,
    ) -> None:
        super().__init__(in_channels, out_channels, modes, separable)
        dims = (*self.channel_shape, *self.modes)
        self.rank = cp_rank(dims, rank * self.dense_numel / 2)
        n_factors = len(dims)
        std = (init_std**2 / self.rank) ** (1.0 / (2 * n_factors))
        self.channel_factors = nn.ParameterList(
            [complex_parameter((n, self.rank), std) for n in self.channel_shape]
        )
        self.mode_factors = nn.ParameterList([complex_parameter((m, self.rank), std) for m in self.modes])

    def to_dense(self, slices=None):
        factors = [as_complex(f) for f in self.channel_factors]
        return cp_dense(factors, cp_mode_tensor(self.mode_factors, slices))

    def _contract(self, x, slices):
        a, b = (as_complex(f) for f in self.channel_factors)
        return cp_contract(x, a, b, cp_mode_tensor(self.mode_factors, slices))

    def grow(self, modes):
        grow_factors(self.mode_factors, 0, 0, modes)
        self.modes = tuple(int(m) for m in modes)


@SPECTRAL_WEIGHTS.register("tucker")
class TuckerWeight(LowRankWeight):
    """Tucker weight ``W = G x_1 U_in x_2 U_out x_3 U_k1 ... x_{d+2} U_kd``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: Sequence[int],
        separable: bool = False,
        rank: float = 0.1,
        init_std: float = 1.0,
    ) -> None:
        super().__init__(in_channels, out_channels, modes, separable)
        dims = (*self.channel_shape, *self.modes)
        self.ranks = tuple(tucker_ranks(dims, rank * self.dense_numel / 2))
        nc = len(self.channel_shape)
        self.core = complex_parameter(self.ranks, init_std)
        self.channel_factors = nn.ParameterList(
            [complex_parameter((n, r), 1 / math.sqrt(r)) for n, r in zip(self.channel_shape, self.ranks[:nc])]
        )
        self.mode_factors = nn.ParameterList(
            [complex_parameter((m, r), 1 / math.sqrt(r)) for m, r in zip(self.modes, self.ranks[nc:])]
        )

    def _core_times_modes(self, slices) -> torch.Tensor:
        """Core contracted with the mode factors: ``(r_in, [r_out,] *used_modes)``."""
        return tucker_core_times_modes(as_complex(self.core), self.mode_factors, slices)

    def to_dense(self, slices=None):
        factors = [as_complex(f) for f in self.channel_factors]
        return tucker_dense(self._core_times_modes(slices), factors)

    def _contract(self, x, slices):
        u_in, u_out = (as_complex(f) for f in self.channel_factors)
        return tucker_contract(x, u_in, u_out, self._core_times_modes(slices))

    def grow(self, modes):
        grow_factors(self.mode_factors, 0, 0, modes)
        self.modes = tuple(int(m) for m in modes)


@SPECTRAL_WEIGHTS.register("tt")
class TTWeight(LowRankWeight):
    """Tensor-train weight: ``W[i, o, k1..kd] = G_0[i] G_1[o] G_2[k1] ... G_{d+1}[kd]`` (matrix products)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: Sequence[int],
        separable: bool = False,
        rank: float = 0.1,
        init_std: float = 1.0,
    ) -> None:
        super().__init__(in_channels, out_channels, modes, separable)
        dims = (*self.channel_shape, *self.modes)
        self.ranks = tuple(tt_ranks(dims, rank * self.dense_numel / 2))
        n_cores = len(dims)
        v = init_std ** (2.0 / n_cores)
        self.cores = nn.ParameterList(
            [
                complex_parameter((self.ranks[j], n, self.ranks[j + 1]), math.sqrt(v / self.ranks[j + 1]))
                for j, n in enumerate(dims)
            ]
        )

    def _mode_chain(self, slices) -> torch.Tensor:
        """Product of the mode cores: ``(r_left, *used_modes)`` (the trailing rank is 1)."""
        return tt_mode_chain(self.cores[len(self.channel_shape) :], slices)

    def _channel_cores(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        g0 = as_complex(self.cores[0]).squeeze(0)  # (C_in, r1)
        return g0, None if self.separable else as_complex(self.cores[1])  # (r1, C_out, r2)

    def to_dense(self, slices=None):
        return tt_dense(*self._channel_cores(), self._mode_chain(slices))

    def _contract(self, x, slices):
        return tt_contract(x, *self._channel_cores(), self._mode_chain(slices))

    def grow(self, modes):
        grow_factors(self.cores, len(self.channel_shape), 1, modes)
        self.modes = tuple(int(m) for m in modes)
