"""Spectral weights: dense, or low-rank CP / Tucker / tensor-train factorizations.

A spectral weight is a complex tensor ``W[i, o, k_1, ..., k_d]`` (or ``W[c, k_1, ..., k_d]`` when separable)
over the kept modes. The factorized classes hold only the factors and contract the input with them
directly: the full ``(C_in, C_out, modes)`` tensor is never built (Kossaifi et al., "Multi-Grid Tensorized
Fourier Neural Operator", TMLR 2024). ``to_dense`` rebuilds it for tests and inspection.

Complex parameters are stored as real tensors with a trailing axis of 2 (real, imaginary): optimizers,
gradient clipping and distributed reducers then see ordinary real tensors.

Mode axes: every mode axis but the last is stored centered (frequency ``-(M//2) + index``); the last
stores the non-negative frequencies ``0 .. M-1``. ``mode_slices`` selects a centered or leading subset,
``grow`` zero-pads to more modes (new modes start at zero, so the operator is unchanged).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

Factorization = Literal["dense", "cp", "tucker", "tt"]
FACTORIZATIONS = ("dense", "cp", "tucker", "tt")


def _complex_param(
    shape: Sequence[int], std: float, generator: torch.Generator | None = None
) -> nn.Parameter:
    """Complex entries with ``E|w|^2 = std^2``, stored as real ``(*shape, 2)``."""
    data = torch.randn(*shape, 2, generator=generator) * (std / math.sqrt(2.0))
    return nn.Parameter(data)


def _c(p: torch.Tensor) -> torch.Tensor:
    if p.dtype in (torch.float16, torch.bfloat16):
        p = p.float()
    return torch.view_as_complex(p)


def mode_slices(stored: Sequence[int], used: Sequence[int]) -> tuple[slice, ...]:
    """Slices of stored mode axes that give the ``used`` modes (centered subset; leading for the last)."""
    out = []
    for axis, (big, small) in enumerate(zip(stored, used)):
        if small > big:
            raise ValueError(f"cannot use {small} modes on axis {axis}: only {big} are stored")
        if axis == len(stored) - 1:
            out.append(slice(0, small))
        else:
            start = big // 2 - small // 2
            out.append(slice(start, start + small))
    return tuple(out)


def _pad_modes(t: torch.Tensor, axis: int, new: int, last: bool) -> torch.Tensor:
    """Zero-pad ``t`` along ``axis`` (a mode axis, stored as described above) to ``new`` entries."""
    old = t.shape[axis]
    if new == old:
        return t
    left = 0 if last else new // 2 - old // 2
    shape = list(t.shape)
    shape[axis] = new
    out = t.new_zeros(shape)
    index = [slice(None)] * t.dim()
    index[axis] = slice(left, left + old)
    out[tuple(index)] = t
    return out


def _grow_factors(params: nn.ParameterList, start: int, axis: int, modes: Sequence[int]) -> None:
    """Zero-pad the mode axis ``axis`` of the per-mode factors ``params[start:]`` to the counts ``modes``."""
    for i, new in enumerate(modes):
        padded = _pad_modes(params[start + i].data, axis, int(new), last=i == len(modes) - 1)
        params[start + i] = nn.Parameter(padded)


class SpectralWeight(nn.Module):
    """Base class: a complex weight over channels and modes, applied by ``contract``."""

    def __init__(self, in_channels: int, out_channels: int, modes: Sequence[int], separable: bool) -> None:
        super().__init__()
        if separable and in_channels != out_channels:
            raise ValueError(
                f"separable spectral weights need in_channels == out_channels, got {in_channels} and "
                f"{out_channels}"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.modes = tuple(int(m) for m in modes)
        self.separable = separable

    @property
    def channel_shape(self) -> tuple[int, ...]:
        return (self.in_channels,) if self.separable else (self.in_channels, self.out_channels)

    @property
    def dense_numel(self) -> int:
        """Real parameters a dense weight of the same shape would have."""
        return 2 * math.prod(self.channel_shape) * math.prod(self.modes)

    def to_dense(self, slices: tuple[slice, ...] | None = None) -> torch.Tensor:
        raise NotImplementedError

    def contract(self, x: torch.Tensor, slices: tuple[slice, ...]) -> torch.Tensor:
        """``y[b, o, k] = sum_i x[b, i, k] W[i, o, k]`` (or ``x[b, c, k] W[c, k]`` when separable).

        ``x`` has shape ``(batch, in_channels, *used_modes)``, complex.
        """
        if self.separable:
            return x * self.to_dense(slices)
        return self._contract(x, slices)

    def _contract(self, x: torch.Tensor, slices: tuple[slice, ...]) -> torch.Tensor:
        raise NotImplementedError

    def contract_real(self, x: torch.Tensor, slices: tuple[slice, ...]) -> torch.Tensor:
        """``contract`` on the real layout ``(batch, C, *m, 2, m_last)`` of ``specops.spectral.rdft_modes``."""
        xc = torch.view_as_complex(x.movedim(-2, -1).contiguous())
        return torch.view_as_real(self.contract(xc, slices)).movedim(-1, -2)

    def grow(self, modes: Sequence[int]) -> None:
        """Zero-pad the stored modes to ``modes`` (each at least the current count)."""
        raise NotImplementedError


def _letters(n: int) -> str:
    return "klmnpqrstuvw"[:n]


class DenseWeight(SpectralWeight):
    """The full complex weight tensor.

    Stored modes-first, ``(*modes, C_in, C_out)``, so that the contraction is one batched complex GEMM over
    the modes (``bmm``) with no copy of the weight; ``to_dense`` returns the ``(C_in, C_out, *modes)`` view.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: Sequence[int],
        separable: bool = False,
        init_std: float = 1.0,
    ) -> None:
        super().__init__(in_channels, out_channels, modes, separable)
        self.weight = _complex_param((*self.modes, *self.channel_shape), init_std)

    def _modes_first(self, slices) -> torch.Tensor:
        w = _c(self.weight)
        return w[tuple(slices)] if slices is not None else w

    def to_dense(self, slices=None):
        w = self._modes_first(slices)
        d, nc = len(self.modes), len(self.channel_shape)
        return w.permute(*range(d, d + nc), *range(d))

    def _contract(self, x, slices):
        w = self._modes_first(slices)
        b, ci, *m = x.shape
        d = len(m)
        n_modes = math.prod(m)
        # (B, Ci, *m) -> (M, B, Ci): a copy of the small mode block, then one batched GEMM over modes.
        xm = x.permute(*range(2, 2 + d), 0, 1).reshape(n_modes, b, ci)
        y = torch.bmm(xm, w.reshape(n_modes, ci, self.out_channels))
        return y.reshape(*m, b, self.out_channels).permute(d, d + 1, *range(d))

    def contract_real(self, x, slices):
        if self.separable:
            return super().contract_real(x, slices)
        w = self._modes_first(slices)
        b, ci = x.shape[:2]
        m = x.shape[2:-2]
        m_last = x.shape[-1]
        d = len(m) + 1
        n_modes = math.prod(m) * m_last
        # (B, Ci, *m, 2, mL) -> (*m, mL, B, Ci, 2): one copy of the small mode block; then a batched
        # complex GEMM over modes, with the weight used in place (modes-first storage).
        xm = x.permute(*range(2, 2 + d - 1), x.dim() - 1, 0, 1, x.dim() - 2).contiguous()
        xm = torch.view_as_complex(xm).reshape(n_modes, b, ci)
        y = torch.bmm(xm, w.reshape(n_modes, ci, self.out_channels))
        y = torch.view_as_real(y).reshape(*m, m_last, b, self.out_channels, 2)
        return y.permute(d, d + 1, *range(d - 1), d + 2, d - 1)

    def grow(self, modes):
        w = self.weight.data
        for axis, new in enumerate(modes):
            w = _pad_modes(w, axis, int(new), last=axis == len(modes) - 1)
        self.weight = nn.Parameter(w)
        self.modes = tuple(int(m) for m in modes)


class CPWeight(SpectralWeight):
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
            [_complex_param((n, self.rank), std) for n in self.channel_shape]
        )
        self.mode_factors = nn.ParameterList([_complex_param((m, self.rank), std) for m in self.modes])

    def _mode_tensor(self, slices) -> torch.Tensor:
        """``M[r, k1, .., kd] = prod_j K_j[k_j, r]`` over the used modes."""
        out = None
        for axis, factor in enumerate(self.mode_factors):
            f = _c(factor)
            if slices is not None:
                f = f[slices[axis]]
            f = f.T  # (R, m)
            out = f if out is None else out[..., None] * f.reshape(f.shape[0], *([1] * (out.dim() - 1)), -1)
        return out

    def to_dense(self, slices=None):
        k = _letters(len(self.modes))
        chans = "io"[: len(self.channel_shape)]
        ops = ",".join(f"{c}r" for c in chans)
        return torch.einsum(
            f"{ops},r{k}->{chans}{k}", *[_c(f) for f in self.channel_factors], self._mode_tensor(slices)
        )

    def _contract(self, x, slices):
        k = _letters(len(self.modes))
        a, b = (_c(f) for f in self.channel_factors)
        t = torch.einsum(f"bi{k},ir->br{k}", x, a) * self._mode_tensor(slices)
        return torch.einsum(f"br{k},or->bo{k}", t, b)

    def grow(self, modes):
        _grow_factors(self.mode_factors, 0, 0, modes)
        self.modes = tuple(int(m) for m in modes)


def _scaled_ranks(dims: Sequence[int], target: float, count) -> list[int]:
    """Ranks ``max(1, round(t * n))`` with the scale ``t`` chosen by bisection so that ``count`` ~ target."""
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if count([max(1, round(mid * n)) for n in dims]) > target:
            hi = mid
        else:
            lo = mid
    return [max(1, round(lo * n)) for n in dims]


class TuckerWeight(SpectralWeight):
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

        self.ranks = tuple(_scaled_ranks(dims, rank * self.dense_numel / 2, count))
        nc = len(self.channel_shape)
        self.core = _complex_param(self.ranks, init_std)
        self.channel_factors = nn.ParameterList(
            [_complex_param((n, r), 1 / math.sqrt(r)) for n, r in zip(self.channel_shape, self.ranks[:nc])]
        )
        self.mode_factors = nn.ParameterList(
            [_complex_param((m, r), 1 / math.sqrt(r)) for m, r in zip(self.modes, self.ranks[nc:])]
        )

    def _core_times_modes(self, slices) -> torch.Tensor:
        """Core contracted with the mode factors: ``(r_in, [r_out,] *used_modes)``."""
        nc = len(self.channel_shape)
        out = _c(self.core)
        for axis, factor in enumerate(self.mode_factors):
            f = _c(factor)
            if slices is not None:
                f = f[slices[axis]]
            # contract core axis nc+axis (rank) with f's rank axis; the new mode axis lands last
            out = torch.tensordot(out, f, dims=([nc], [1]))
        return out

    def to_dense(self, slices=None):
        m = self._core_times_modes(slices)
        k = _letters(len(self.modes))
        if self.separable:
            return torch.einsum(f"a{k},ca->c{k}", m, _c(self.channel_factors[0]))
        u_in, u_out = (_c(f) for f in self.channel_factors)
        return torch.einsum(f"ac{k},ia,oc->io{k}", m, u_in, u_out)

    def _contract(self, x, slices):
        k = _letters(len(self.modes))
        u_in, u_out = (_c(f) for f in self.channel_factors)
        t = torch.einsum(f"bi{k},ia->ba{k}", x, u_in)
        t = torch.einsum(f"ba{k},ac{k}->bc{k}", t, self._core_times_modes(slices))
        return torch.einsum(f"bc{k},oc->bo{k}", t, u_out)

    def grow(self, modes):
        _grow_factors(self.mode_factors, 0, 0, modes)
        self.modes = tuple(int(m) for m in modes)


class TTWeight(SpectralWeight):
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
                _complex_param((self.ranks[j], n, self.ranks[j + 1]), math.sqrt(v / self.ranks[j + 1]))
                for j, n in enumerate(dims)
            ]
        )

    def _mode_chain(self, slices) -> torch.Tensor:
        """Product of the mode cores: ``(r_left, *used_modes)`` (the trailing rank is 1)."""
        nc = len(self.channel_shape)
        out = None
        for axis in range(len(self.modes)):
            g = _c(self.cores[nc + axis])
            if slices is not None:
                g = g[:, slices[axis]]
            if out is None:
                out = g
            else:
                out = torch.tensordot(out, g, dims=([out.dim() - 1], [0]))
        return out.squeeze(-1)

    def to_dense(self, slices=None):
        chain = self._mode_chain(slices)
        k = _letters(len(self.modes))
        g0 = _c(self.cores[0]).squeeze(0)  # (C_in, r1)
        if self.separable:
            return torch.einsum(f"ia,a{k}->i{k}", g0, chain)
        g1 = _c(self.cores[1])  # (r1, C_out, r2)
        return torch.einsum(f"ia,aoc,c{k}->io{k}", g0, g1, chain)

    def _contract(self, x, slices):
        k = _letters(len(self.modes))
        g0 = _c(self.cores[0]).squeeze(0)
        g1 = _c(self.cores[1])
        t = torch.einsum(f"bi{k},ia->ba{k}", x, g0)
        p = torch.einsum(f"aoc,c{k}->ao{k}", g1, self._mode_chain(slices))
        return torch.einsum(f"ba{k},ao{k}->bo{k}", t, p)

    def grow(self, modes):
        _grow_factors(self.cores, len(self.channel_shape), 1, modes)
        self.modes = tuple(int(m) for m in modes)


def make_spectral_weight(
    in_channels: int,
    out_channels: int,
    modes: Sequence[int],
    *,
    factorization: Factorization | None = None,
    rank: float = 1.0,
    separable: bool = False,
    init_std: float = 1.0,
) -> SpectralWeight:
    """Build the spectral weight named by ``factorization`` (``None`` or ``"dense"``: dense)."""
    name = "dense" if factorization is None else str(factorization).lower()
    if name not in FACTORIZATIONS:
        raise ValueError(f"factorization={factorization!r} is not one of {(None, *FACTORIZATIONS)}")
    if name == "dense":
        return DenseWeight(in_channels, out_channels, modes, separable, init_std)
    if not 0.0 < float(rank) <= 1.0:
        raise ValueError(
            f"rank={rank} must be a fraction of the dense parameter count in (0, 1], e.g. 0.05 keeps ~5%"
        )
    cls = {"cp": CPWeight, "tucker": TuckerWeight, "tt": TTWeight}[name]
    return cls(in_channels, out_channels, modes, separable, float(rank), init_std)
