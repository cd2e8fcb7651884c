"""The Leray (Helmholtz) projection onto divergence-free periodic vector fields, by FFT.

For a periodic vector field ``u`` on ``[0, L)^d`` with Fourier coefficients ``u_hat(k)``,

    (P u)^(k) = u_hat(k) - k (k . u_hat(k)) / |k|^2        (k != 0),      (P u)^(0) = u_hat(0),

the orthogonal projection in ``L^2`` onto fields with ``div u = 0`` (the Helmholtz decomposition
``u = P u + grad phi``; Chorin & Marsden, "A Mathematical Introduction to Fluid Mechanics", 1993, sec. 1.3).
It is exact for every mode the grid resolves: ``P`` is idempotent, ``div P u = 0`` and ``P grad phi = 0``
to rounding. As in ``specops.spectral.derivatives``, the Nyquist wavenumber of an even axis is taken as
zero (the first derivative of that mode is not a real field): ``div`` and ``P`` then agree on every mode,
and the projected field stays real.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from specops.spectral.grid import per_dim, wavenumbers


def leray_projection(u: torch.Tensor, ndim: int, lengths: Sequence[float] | float = 1.0) -> torch.Tensor:
    """Divergence-free part ``P u`` of a periodic vector field (see the module docstring for the formula).

    Parameters
    ----------
    u : Tensor, shape ``(..., d, n_1, ..., n_d)``, real
        ``d`` velocity components (the axis before the ``d`` spatial axes) on a uniform periodic grid.
    ndim : int
        The spatial dimension ``d`` (1, 2 or 3).
    lengths : float or sequence of d floats
        Period of each spatial axis.

    Returns
    -------
    Tensor of the shape and dtype of ``u``.
    """
    d = int(ndim)
    if d not in (1, 2, 3) or u.dim() < d + 1 or u.shape[-d - 1] != d:
        raise ValueError(
            f"u has shape {tuple(u.shape)} with ndim={ndim}: a vector field in d = 1, 2 or 3 dimensions has "
            f"d components on the axis before its d spatial axes, e.g. (batch, 2, nx, ny) for ndim=2"
        )
    lengths = per_dim(lengths, d, "lengths")
    space = tuple(u.shape[-d:])
    dims = tuple(range(-d, 0))
    cdtype = torch.complex128 if u.dtype == torch.float64 else torch.complex64
    uh = torch.fft.rfftn(u, dim=dims)
    ks = []
    for axis, (n, length) in enumerate(zip(space, lengths)):
        k = wavenumbers(n, length, real=axis == d - 1, device=u.device)
        if n % 2 == 0:
            k[n // 2] = 0.0
        view = [1] * d
        view[axis] = k.numel()
        ks.append(k.reshape(view).to(cdtype))
    k2 = sum(k * k for k in ks)
    k2 = torch.where(k2 == 0, torch.ones_like(k2), k2)
    k_dot_u = sum(ks[i] * uh.select(-d - 1, i) for i in range(d))
    correction = torch.stack([ks[i] * k_dot_u / k2 for i in range(d)], dim=-d - 1)
    return torch.fft.irfftn(uh - correction, s=space, dim=dims).to(u.dtype)
