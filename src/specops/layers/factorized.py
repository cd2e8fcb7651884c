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
        self.rank = max(1, round(rank * self.dense_numel / 2 / sum(dims)))
        n_factors = len(dims)
        std = (init_std**2 / self.rank) ** (1.0 / (2 * n_factors))
        self.channel_factors = nn.ParameterList(
            [complex_parameter((n, self.rank), std) for n in self.channel_shape]
        )
        self.mode_factors = nn.ParameterList([complex_parameter((m, self.rank), std) for m in self.modes])

    def _mode_tensor(self, slices) -> torch.Tensor:
        """``M[r, k1, .., kd] = prod_j K_j[k_j, r]`` over the used modes."""
        out = None
        for axis, factor in enumerate(self.mode_factors):
            f = as_complex(factor)
            if slices is not None:
                f = f[slices[axis]]
            f = f.T  # (R, m)
            out = f if out is None else out[..., None] * f.reshape(f.shape[0], *([1] * (out.dim() - 1)), -1)
        return out

    def to_dense(self, slices=None):
        k = mode_letters(len(self.modes))
        chans = "io"[: len(self.channel_shape)]
        ops = ",".join(f"{c}r" for c in chans)
        return torch.einsum(
            f"{ops},r{k}->{chans}{k}",
            *[as_complex(f) for f in self.channel_factors],
            self._mode_tensor(slices),
        )

    def _contract(self, x, slices):
        k = mode_letters(len(self.modes))
        a, b = (as_complex(f) for f in self.channel_factors)
        t = torch.einsum(f"bi{k},ir->br{k}", x, a) * self._mode_tensor(slices)
        return torch.einsum(f"br{k},or->bo{k}", t, b)

    def grow(self, modes):
        grow_factors(self.mode_factors, 0, 0, modes)
        self.modes = tuple(int(m) for m in modes)


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

        def count(ranks):
            return math.prod(ranks) + sum(n * r for n, r in zip(dims, ranks))

        self.ranks = tuple(scaled_ranks(dims, rank * self.dense_numel / 2, count))
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
        nc = len(self.channel_shape)
        out = as_complex(self.core)
        for axis, factor in enumerate(self.mode_factors):
            f = as_complex(factor)
            if slices is not None:
                f = f[slices[axis]]
            # contract core axis nc+axis (rank) with f's rank axis; the new mode axis lands last
            out = torch.tensordot(out, f, dims=([nc], [1]))
        return out

    def to_dense(self, slices=None):
        m = self._core_times_modes(slices)
        k = mode_letters(len(self.modes))
        if self.separable:
            return torch.einsum(f"a{k},ca->c{k}", m, as_complex(self.channel_factors[0]))
        u_in, u_out = (as_complex(f) for f in self.channel_factors)
        return torch.einsum(f"ac{k},ia,oc->io{k}", m, u_in, u_out)

    def _contract(self, x, slices):
        k = mode_letters(len(self.modes))
        u_in, u_out = (as_complex(f) for f in self.channel_factors)
        t = torch.einsum(f"bi{k},ia->ba{k}", x, u_in)
        t = torch.einsum(f"ba{k},ac{k}->bc{k}", t, self._core_times_modes(slices))
        return torch.einsum(f"bc{k},oc->bo{k}", t, u_out)

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
        target = rank * self.dense_numel / 2

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
        self.ranks = tuple(ranks_for(r))
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
        nc = len(self.channel_shape)
        out = None
        for axis in range(len(self.modes)):
            g = as_complex(self.cores[nc + axis])
            if slices is not None:
                g = g[:, slices[axis]]
            if out is None:
                out = g
            else:
                out = torch.tensordot(out, g, dims=([out.dim() - 1], [0]))
        return out.squeeze(-1)

    def to_dense(self, slices=None):
        chain = self._mode_chain(slices)
        k = mode_letters(len(self.modes))
        g0 = as_complex(self.cores[0]).squeeze(0)  # (C_in, r1)
        if self.separable:
            return torch.einsum(f"ia,a{k}->i{k}", g0, chain)
        g1 = as_complex(self.cores[1])  # (r1, C_out, r2)
        return torch.einsum(f"ia,aoc,c{k}->io{k}", g0, g1, chain)

    def _contract(self, x, slices):
        k = mode_letters(len(self.modes))
        g0 = as_complex(self.cores[0]).squeeze(0)
        g1 = as_complex(self.cores[1])
        t = torch.einsum(f"bi{k},ia->ba{k}", x, g0)
        p = torch.einsum(f"aoc,c{k}->ao{k}", g1, self._mode_chain(slices))
        return torch.einsum(f"ba{k},ao{k}->bo{k}", t, p)

    def grow(self, modes):
        grow_factors(self.cores, len(self.channel_shape), 1, modes)
        self.modes = tuple(int(m) for m in modes)
