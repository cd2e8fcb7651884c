"""Truncated real Fourier transforms: the lowest modes of a real field, and back.

A spectral convolution only needs the few lowest modes of its input. ``rfft_modes`` returns exactly the
coefficients that ``torch.fft.rfftn`` followed by mode selection would give, computed one of two ways:

- ``"fft"``: full FFTs, then selection (cost ``O(N log N)`` per line);
- ``"dft"``: a pruned transform, one matrix product per dimension with a cached matrix of only the kept
  frequencies (cost ``O(N m)`` per line, but run by GEMM kernels and never materialising the discarded
  modes). For the few modes neural operators keep this is several times faster than the FFT on CPUs.

Layout of the returned modes: for every dimension but the last, the ``m`` frequencies
``-(m//2) .. m - m//2 - 1`` in increasing (centered) order, the convention neuraloperator uses so that
``n_modes`` means the same in both libraries; for the last dimension the ``m//2 + 1`` non-negative
frequencies ``0 .. m//2`` of the real transform.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Literal

import torch

Method = Literal["auto", "fft", "dft"]
Norm = Literal["forward", "backward", "ortho"]
_METHODS = ("auto", "fft", "dft")
_NORMS = ("forward", "backward", "ortho")


def kept_frequencies(n_modes: Sequence[int]) -> list[torch.Tensor]:
    """Signed integer frequencies kept per dimension, in the order ``rfft_modes`` stores them."""
    n_modes = [int(m) for m in n_modes]
    out = [torch.arange(-(m // 2), m - m // 2) for m in n_modes[:-1]]
    out.append(torch.arange(0, n_modes[-1] // 2 + 1))
    return out


def modes_shape(n_modes: Sequence[int]) -> tuple[int, ...]:
    """Shape of the mode block ``rfft_modes`` returns for ``n_modes``."""
    return (*[int(m) for m in n_modes[:-1]], int(n_modes[-1]) // 2 + 1)


def check_resolution(shape: Sequence[int], n_modes: Sequence[int], what: str = "input") -> None:
    """Raise ``ValueError`` unless a grid of ``shape`` holds ``n_modes`` distinct kept modes."""
    for axis, (n, m) in enumerate(zip(shape, n_modes)):
        last = axis == len(n_modes) - 1
        ok = (n // 2 + 1 >= m // 2 + 1) if last else (n >= m)
        if not ok:
            raise ValueError(
                f"{what} resolution {tuple(shape)} is too coarse for n_modes={tuple(n_modes)}: spatial axis "
                f"{axis} has {n} points but must have at least {m} to hold the kept modes; pass a finer grid "
                f"or lower n_modes"
            )


def _scales(n: int, norm: Norm) -> tuple[float, float]:
    """(forward scale, inverse scale) of a length-``n`` transform under ``norm``."""
    if norm == "forward":
        return 1.0 / n, 1.0
    if norm == "backward":
        return 1.0, 1.0 / n
    return 1.0 / math.sqrt(n), 1.0 / math.sqrt(n)


@functools.lru_cache(maxsize=128)
def _dft_matrix(
    kind: str, n: int, m: int, norm: str, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """Cached transform matrices, built in float64 and rounded once to ``dtype``.

    kinds: ``rf`` real forward ``(n, 2*mr)`` giving ``[re | im]`` of modes ``0..mr-1``; ``ri`` real inverse
    ``(2*mr, n)`` taking ``[re; im]``; ``cf`` complex forward for centered frequencies as stacked real and
    imaginary parts ``(2m, n)``; ``ci`` complex inverse, likewise ``(2n, m)``.
    """
    fwd, inv = _scales(n, norm)
    j = torch.arange(n, dtype=torch.float64)
    if kind in ("rf", "ri"):
        k = torch.arange(m, dtype=torch.float64)
        angle = 2 * math.pi * torch.outer(j, k) / n  # (n, m)
        if kind == "rf":
            mat = torch.cat([torch.cos(angle), -torch.sin(angle)], dim=1) * fwd
        else:
            # Hermitian symmetry: interior modes count twice; the zero and Nyquist modes once, and
            # their imaginary parts drop out (sin vanishes on the grid), exactly as irfft treats them.
            weight = torch.full((m,), 2.0, dtype=torch.float64)
            weight[0] = 1.0
            if n % 2 == 0 and m - 1 == n // 2:
                weight[-1] = 1.0
            cos, sin = torch.cos(angle.T), torch.sin(angle.T)  # (m, n)
            mat = torch.cat([weight[:, None] * cos, -weight[:, None] * sin], dim=0) * inv
        real_dtype = torch.float64 if dtype in (torch.float64, torch.complex128) else torch.float32
        return mat.to(dtype=real_dtype, device=device).contiguous()
    freqs = torch.arange(-(m // 2), m - m // 2, dtype=torch.float64)
    phase = 2 * math.pi * torch.outer(freqs, j) / n  # (m, n)
    real_dtype = torch.float64 if dtype in (torch.float64, torch.complex128) else torch.float32
    if kind == "cf":  # [Re F; Im F], F = fwd * exp(-i phase): (2m, n)
        mat = torch.cat([torch.cos(phase), -torch.sin(phase)], dim=0) * fwd
    else:  # [Re G; Im G], G = inv * exp(+i phase).T: (2n, m)
        mat = torch.cat([torch.cos(phase.T), torch.sin(phase.T)], dim=0) * inv
    return mat.to(dtype=real_dtype, device=device).contiguous()


def choose_method(
    method: Method, shape: Sequence[int], n_modes: Sequence[int], device: torch.device | None = None
) -> Literal["fft", "dft"]:
    """The transform ``method`` stands for on a grid of ``shape`` keeping ``n_modes`` on ``device``.

    ``"fft"`` and ``"dft"`` are returned as given; ``"auto"`` picks the faster one (the rule and its
    measurements are below). Results agree to rounding either way.
    """
    if method not in _METHODS:
        raise ValueError(f"method={method!r} is not one of {_METHODS}")
    if method != "auto":
        return method
    if device is None or device.type == "cpu":
        # Measured on 2 CPU cores (SpectralConv forward + backward, 32 channels): the pruned DFT beat the
        # FFT path at every size tried, 64^2 to 1024^2 with 16 to 256 modes per axis (e.g. 128^2, 32
        # modes: 23 vs 44 ms; 512^2, 256 modes: 247 vs 389 ms).
        return "dft"
    # Not measured on accelerators yet: a matrix product costs ~8 n m flops per line against ~5 n log2 n
    # for an FFT, so keep the FFT once many modes are kept.
    for n, m in zip(shape, n_modes):
        if m > max(8.0, 4.0 * math.log2(max(n, 2))):
            return "fft"
    return "dft"


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    if x.dtype in (torch.float64, torch.complex128):
        return torch.float64
    return torch.float32


def rfft_modes(
    x: torch.Tensor, n_modes: Sequence[int], *, norm: Norm = "forward", method: Method = "auto"
) -> torch.Tensor:
    """Lowest Fourier modes of a real field over its last ``len(n_modes)`` dimensions.

    Equals ``torch.fft.rfftn(x, dim=last d dims, norm=norm)`` restricted to the kept frequencies
    (see module docstring for their layout). Half-precision inputs are computed in float32.

    Parameters
    ----------
    x : Tensor, shape ``(..., n_1, ..., n_d)``, real
    n_modes : sequence of d ints
        Modes kept per dimension, counting positive and negative frequencies together.

    Returns
    -------
    Tensor, shape ``(..., m_1, ..., m_{d-1}, m_d//2 + 1)``, complex.
    """
    if norm not in _NORMS:
        raise ValueError(f"norm={norm!r} is not one of {_NORMS}")
    d = len(n_modes)
    shape = tuple(x.shape[-d:])
    check_resolution(shape, n_modes)
    real_dtype = _compute_dtype(x)
    with torch.autocast(device_type=x.device.type, enabled=False):
        x = x.to(real_dtype)
        how = choose_method(method, shape, n_modes, x.device)
        m_last = n_modes[-1] // 2 + 1
        if how == "fft":
            out = torch.fft.rfft(x, dim=-1, norm=norm)[..., :m_last]
            for axis in range(d - 1):
                dim = x.dim() - d + axis
                n = shape[axis]
                idx = kept_frequencies(n_modes)[axis].remainder(n).to(x.device)
                out = torch.fft.fft(out, dim=dim, norm=norm).index_select(dim, idx)
            return out
        return real_to_complex(rdft_modes(x, n_modes, norm=norm))


def irfft_modes(
    modes: torch.Tensor,
    shape: Sequence[int],
    *,
    norm: Norm = "forward",
    method: Method = "auto",
) -> torch.Tensor:
    """Real field on a grid of ``shape`` from its lowest modes (the inverse of ``rfft_modes``).

    All other modes are taken as zero: this is ``torch.fft.irfftn`` of the zero-padded spectrum.

    Parameters
    ----------
    modes : Tensor, shape ``(..., m_1, ..., m_{d-1}, m_d//2 + 1)``, complex
    shape : sequence of d ints
        Output grid; may differ from the grid the modes came from (Fourier interpolation).
    """
    if norm not in _NORMS:
        raise ValueError(f"norm={norm!r} is not one of {_NORMS}")
    d = len(shape)
    shape = tuple(int(s) for s in shape)
    n_modes = [*modes.shape[-d:-1], 2 * (modes.shape[-1] - 1)]
    if shape[-1] // 2 + 1 < modes.shape[-1]:
        raise ValueError(
            f"output shape {shape} cannot hold {modes.shape[-1]} non-negative modes along its last axis; "
            f"it needs at least {2 * (modes.shape[-1] - 1)} points"
        )
    if d > 1:
        check_resolution(shape[:-1], n_modes[:-1], what="output")
    real_dtype = torch.float64 if modes.dtype == torch.complex128 else torch.float32
    with torch.autocast(device_type=modes.device.type, enabled=False):
        modes = modes.to(torch.complex128 if real_dtype == torch.float64 else torch.complex64)
        how = choose_method(method, shape, n_modes, modes.device)
        if how == "fft":
            out = modes
            for axis in range(d - 1):
                dim = out.dim() - d + axis
                n = shape[axis]
                idx = kept_frequencies(n_modes)[axis].remainder(n).to(out.device)
                full_shape = list(out.shape)
                full_shape[dim] = n
                full = out.new_zeros(full_shape).index_copy(dim, idx, out)
                out = torch.fft.ifft(full, dim=dim, norm=norm)
            return torch.fft.irfft(out, n=shape[-1], dim=-1, norm=norm)
        return irdft_modes(complex_to_real(modes), shape, norm=norm)


def real_to_complex(x: torch.Tensor) -> torch.Tensor:
    """``(..., 2, m_last)`` real layout (real and imaginary planes) to a complex ``(..., m_last)`` tensor."""
    return torch.view_as_complex(x.movedim(-2, -1).contiguous())


def complex_to_real(x: torch.Tensor) -> torch.Tensor:
    """Complex ``(..., m_last)`` to the ``(..., 2, m_last)`` real layout of ``rdft_modes``."""
    return torch.view_as_real(x).movedim(-1, -2).contiguous()


def _combine(q: torch.Tensor, m: int) -> torch.Tensor:
    """Finish a complex matrix product done in real arithmetic.

    ``q`` is ``[Re A; Im A] @ z`` with ``z`` in the real layout ``(L, n, ..., 2, mL)``, shape
    ``(L, 2m, ..., 2, mL)``. Returns ``A z`` in the same layout: ``Re = ReA zr - ImA zi``,
    ``Im = ReA zi + ImA zr``.
    """
    lead, rest = q.shape[0], q.shape[2:]
    q = q.reshape(lead, 2, m, *rest)
    a_re, a_im = q[:, 0], q[:, 1]
    re = a_re.select(-2, 0) - a_im.select(-2, 1)
    im = a_re.select(-2, 1) + a_im.select(-2, 0)
    return torch.stack([re, im], dim=-2)


def rdft_modes(x: torch.Tensor, n_modes: Sequence[int], *, norm: Norm = "forward") -> torch.Tensor:
    """Pruned real DFT in real arithmetic: the kept modes of ``x`` as real and imaginary planes.

    Same coefficients as ``rfft_modes`` but laid out ``(..., m_1, ..., m_{d-1}, 2, m_d//2 + 1)`` (axis -2
    holds the real and imaginary parts), computed by one GEMM per axis with cached matrices of only the
    kept frequencies. Real GEMMs run at full speed forward and backward on every backend; complex batched
    products do not on CPUs.
    """
    d = len(n_modes)
    shape = tuple(x.shape[-d:])
    check_resolution(shape, n_modes)
    real_dtype = _compute_dtype(x)
    x = x.to(real_dtype)
    lead = x.shape[:-d]
    m_last = n_modes[-1] // 2 + 1
    rf = _dft_matrix("rf", shape[-1], m_last, norm, real_dtype, x.device)
    out = torch.matmul(x.reshape(-1, shape[-1]), rf)  # (rows, 2 mL): [re | im]
    sizes = list(shape[:-1])
    out = out.reshape(math.prod(lead) if lead else 1, *sizes, 2, m_last)
    for axis in range(d - 2, -1, -1):
        n, m = sizes[axis], n_modes[axis]
        mat = _dft_matrix("cf", n, m, norm, real_dtype, x.device)  # (2m, n)
        before = math.prod(sizes[:axis]) * out.shape[0]
        after = out.shape[axis + 2 :]
        q = torch.matmul(mat, out.reshape(before, n, math.prod(after)))
        out = _combine(q.reshape(before, 2 * m, *after), m)
        sizes[axis] = m
        out = out.reshape(-1, *sizes, 2, m_last)
    return out.reshape(*lead, *sizes, 2, m_last)


def irdft_modes(y: torch.Tensor, shape: Sequence[int], *, norm: Norm = "forward") -> torch.Tensor:
    """Inverse of ``rdft_modes``: a real field on the grid ``shape`` from kept modes in the real layout."""
    d = len(shape)
    shape = tuple(int(s) for s in shape)
    m_last = y.shape[-1]
    sizes = list(y.shape[-d - 1 : -2])
    lead = y.shape[: y.dim() - d - 1]
    real_dtype = torch.float64 if y.dtype == torch.float64 else torch.float32
    out = y.to(real_dtype).reshape(math.prod(lead) if lead else 1, *sizes, 2, m_last)
    for axis in range(d - 1):
        n, m = shape[axis], sizes[axis]
        mat = _dft_matrix("ci", n, m, norm, real_dtype, y.device)  # (2n, m)
        before = math.prod(sizes[:axis]) * out.shape[0]
        after = out.shape[axis + 2 :]
        q = torch.matmul(mat, out.reshape(before, m, math.prod(after)))
        out = _combine(q.reshape(before, 2 * n, *after), n)
        sizes[axis] = n
        out = out.reshape(-1, *sizes, 2, m_last)
    ri = _dft_matrix("ri", shape[-1], m_last, norm, real_dtype, y.device)
    out = torch.matmul(out.reshape(-1, 2 * m_last), ri)
    return out.reshape(*lead, *shape)


def truncate_modes(x: torch.Tensor, n_modes: Sequence[int], *, method: Method = "auto") -> torch.Tensor:
    """Fourier truncation: keep only the modes ``n_modes`` selects, on the same grid."""
    d = len(n_modes)
    return irfft_modes(rfft_modes(x, n_modes, method=method), x.shape[-d:], method=method).to(x.dtype)


def dealias_mask(shape: Sequence[int], fraction: float = 2.0 / 3.0, *, device=None) -> torch.Tensor:
    """Boolean mask in ``rfftn`` layout keeping the modes with ``|k_j| < fraction * n_j / 2`` on every axis.

    The default is Orszag's 2/3 rule, ``3 |k| < n``: the product of two fields with modes ``|k| <= K``
    has modes up to ``2K``, which alias onto ``2K - n``; they miss every kept mode exactly when
    ``2K - n < -K``. The inequality is strict: at ``n = 48`` the mode ``|k| = 16`` would take the alias of
    ``32 -> -16``. ``fraction`` is read as the nearest ratio of integers with denominator at most 1000, so
    ``2/3`` is exact and the comparison ``2 |k| q < p n`` (``fraction = p / q``) is done in integers;
    ``fraction = 1`` keeps every mode but the Nyquist mode of even axes.
    """
    ratio = Fraction(float(fraction)).limit_denominator(1000)
    if not 0 < ratio <= 1:
        raise ValueError(f"fraction={fraction} must be in (0, 1]; 2/3 is Orszag's rule")
    masks = []
    for axis, n in enumerate(shape):
        last = axis == len(shape) - 1
        freq = torch.fft.rfftfreq(n, d=1.0 / n) if last else torch.fft.fftfreq(n, d=1.0 / n)
        k = freq.abs().round().to(torch.int64)
        masks.append(2 * k * ratio.denominator < ratio.numerator * int(n))
    mask = masks[0]
    for m in masks[1:]:
        mask = mask[..., None] & m
    return mask.to(device) if device is not None else mask
