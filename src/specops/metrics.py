"""Evaluation numbers, computed without gradients.

Fields are ``(batch, channel, *space)``; every pointwise metric returns one number per sample and channel,
shape ``(batch, channel)``, so a caller can report each physical field separately and average afterwards.
Trajectories are ``(batch, time, channel, *space)``. Spectral metrics assume periodic grids.

Definitions (``e = pred - target``, means over the grid points of one sample and channel):

- relative L2: ``||e|| / ||target||``; nRMSE (PDEBench): ``rms(e) / rms(target)``, the same number;
- relative H1: ``||e||_{H1} / ||target||_{H1}`` (exact by Parseval on periodic grids, finite differences
  otherwise);
- VRMSE (The Well): ``sqrt(mean(e^2) / (var(target) + eps))``, so predicting the mean scores 1;
- max error: ``max |e|``;
- band errors: the RMS of ``e`` restricted to Fourier modes whose integer radial wavenumber
  ``|k| = sqrt(k_1^2 + ... + k_d^2)`` (``k_i`` in cycles per domain length) lies in a band; the default
  bands are low ``|k| < 4``, mid ``4 <= |k| < 12``, high ``|k| >= 12`` (PDEBench's fRMSE split). By
  Parseval the squared band errors add up to ``mean(e^2)``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import torch

from specops.losses import H1FDLoss, LpLoss, SobolevLoss
from specops.spectral.derivatives import squared_wavenumber
from specops.spectral.norms import sobolev_weights

Metric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _check(pred: torch.Tensor, target: torch.Tensor, ndim: int | None, name: str) -> int:
    if not isinstance(pred, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise TypeError(f"{name}: pred and target must be torch.Tensors")
    if pred.shape != target.shape:
        raise ValueError(
            f"{name}: pred has shape {tuple(pred.shape)} but target has {tuple(target.shape)}; both must be "
            f"(batch, channel, *space)"
        )
    ndim = pred.dim() - 2 if ndim is None else int(ndim)
    if ndim < 1 or pred.dim() != ndim + 2:
        raise ValueError(
            f"{name}: input of shape {tuple(pred.shape)} is not (batch, channel, *space) with {ndim} spatial "
            f"axes"
        )
    return ndim


def _per_channel(loss: torch.nn.Module, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Apply a per-sample loss (``reduction='none'``) to every channel separately: ``(B, C)``."""
    b, c = pred.shape[:2]
    flat = (b * c, 1, *pred.shape[2:])
    return loss(pred.reshape(flat), target.reshape(flat)).reshape(b, c)


def _float(t: torch.Tensor) -> torch.Tensor:
    return t if t.dtype == torch.float64 else t.float()


@torch.no_grad()
def relative_l2(pred: torch.Tensor, target: torch.Tensor, *, eps: float = 1e-12) -> torch.Tensor:
    """``||pred - target||_2 / ||target||_2`` per sample and channel, shape ``(batch, channel)``."""
    _check(pred, target, None, "relative_l2")
    return _per_channel(LpLoss(2, relative=True, reduction="none", eps=eps), _float(pred), _float(target))


@torch.no_grad()
def relative_h1(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    lengths: Sequence[float] | float = 1.0,
    periodic: bool = True,
    eps: float = 1e-12,
) -> torch.Tensor:
    """``||pred - target||_{H1} / ||target||_{H1}`` per sample and channel, shape ``(batch, channel)``.

    ``||u||_{H1}^2 = ||u||^2 + ||grad u||^2``: exact in Fourier space on periodic grids
    (``specops.losses.SobolevLoss``), second-order finite differences otherwise (``H1FDLoss``).
    """
    ndim = _check(pred, target, None, "relative_h1")
    if periodic:
        loss = SobolevLoss(1.0, relative=True, reduction="none", ndim=ndim, lengths=lengths, eps=eps)
    else:
        loss = H1FDLoss(relative=True, reduction="none", ndim=ndim, lengths=lengths, eps=eps)
    return _per_channel(loss, _float(pred), _float(target))


def _mean_space(u: torch.Tensor) -> torch.Tensor:
    return u.reshape(*u.shape[:2], -1).mean(-1)


@torch.no_grad()
def rmse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Root mean square error over the grid, shape ``(batch, channel)``."""
    _check(pred, target, None, "rmse")
    return _mean_space((_float(pred) - _float(target)).pow(2)).sqrt()


@torch.no_grad()
def nrmse(pred: torch.Tensor, target: torch.Tensor, *, eps: float = 1e-12) -> torch.Tensor:
    """PDEBench's normalised RMSE ``rms(pred - target) / rms(target)``, shape ``(batch, channel)``.

    Equal to the per-channel relative L2 error; kept under this name for comparison with PDEBench tables.
    """
    _check(pred, target, None, "nrmse")
    target = _float(target)
    return rmse(pred, target) / _mean_space(target.pow(2)).sqrt().clamp_min(eps)


@torch.no_grad()
def vrmse(pred: torch.Tensor, target: torch.Tensor, *, eps: float = 1e-7) -> torch.Tensor:
    """The Well's variance-scaled RMSE ``sqrt(mean(e^2) / (var(target) + eps))``, shape ``(batch, channel)``.

    ``var`` is the population variance over the grid of each sample and channel, so the constant
    prediction ``mean(target)`` scores ``~1`` (Ohana et al., "The Well", NeurIPS 2024 Datasets and Benchmarks).
    """
    _check(pred, target, None, "vrmse")
    pred, target = _float(pred), _float(target)
    mse = _mean_space((pred - target).pow(2))
    var = _mean_space((target - _mean_space(target)[(...,) + (None,) * (target.dim() - 2)]).pow(2))
    return (mse / (var + eps)).sqrt()


@torch.no_grad()
def max_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``max |pred - target|`` over the grid, shape ``(batch, channel)``."""
    _check(pred, target, None, "max_error")
    return (_float(pred) - _float(target)).abs().reshape(*pred.shape[:2], -1).amax(-1)


def radial_wavenumber(shape: Sequence[int], *, device=None) -> torch.Tensor:
    """Integer-frequency radius ``|k| = sqrt(sum_i k_i^2)`` on the ``rfftn`` grid of ``shape``, float64.

    ``k_i`` counts cycles per domain length (``-n/2 .. n/2``), independent of the domain size.
    """
    return squared_wavenumber(shape, 2 * math.pi, device=device).sqrt()


def _power(u: torch.Tensor, ndim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-mode contributions ``c_k |u_hat_k|^2`` to ``mean(u^2)`` (half spectrum), and ``|k|``."""
    shape = u.shape[-ndim:]
    dtype = torch.float64 if u.dtype == torch.float64 else torch.float32
    with torch.autocast(device_type=u.device.type, enabled=False):
        uh = torch.fft.rfftn(u.to(dtype), dim=tuple(range(-ndim, 0)), norm="forward")
        pair = sobolev_weights(shape, 0.0, device=u.device).to(dtype)  # s=0: the Hermitian pair counts only
        power = pair * (uh.real**2 + uh.imag**2)
    return power, radial_wavenumber(shape, device=u.device)


@torch.no_grad()
def band_errors(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    edges: Sequence[float] = (4.0, 12.0),
    names: Sequence[str] | None = None,
    normalize: bool = True,
) -> dict[str, torch.Tensor]:
    """Error in wavenumber bands: the RMS of ``pred - target`` restricted to ``edges[i-1] <= |k| < edges[i]``.

    ``|k|`` is the integer radial wavenumber (see ``radial_wavenumber``); ``edges=(4, 12)`` gives the bands
    low ``|k| < 4``, mid ``4 <= |k| < 12``, high ``|k| >= 12``. With ``normalize`` each band error is
    divided by ``rms(target)`` (all modes), so the squared band errors add up to ``nrmse**2``.

    Returns
    -------
    dict band name -> Tensor ``(batch, channel)``; names default to ``low``/``mid``/``high`` for two edges
    and ``band0, band1, ...`` otherwise.
    """
    ndim = _check(pred, target, None, "band_errors")
    edges = [float(e) for e in edges]
    if any(b <= a for a, b in itertools.pairwise(edges)) or any(e <= 0 for e in edges):
        raise ValueError(f"band_errors: edges={edges} must be positive and increasing")
    if names is None:
        names = ["low", "mid", "high"] if len(edges) == 2 else [f"band{i}" for i in range(len(edges) + 1)]
    if len(names) != len(edges) + 1:
        raise ValueError(f"band_errors: {len(edges)} edges make {len(edges) + 1} bands, got names={names}")
    power, k = _power(_float(pred) - _float(target), ndim)
    bounds = [0.0, *edges, math.inf]
    out = {}
    for name, lo, hi in zip(names, bounds[:-1], bounds[1:]):
        mask = ((k >= lo) & (k < hi)).to(power.dtype)
        out[name] = (power * mask).reshape(*power.shape[:2], -1).sum(-1).sqrt()
    if normalize:
        scale = _mean_space(_float(target).pow(2)).sqrt().clamp_min(1e-12)
        out = {name: v / scale for name, v in out.items()}
    return out


@torch.no_grad()
def energy_spectrum(u: torch.Tensor, *, length: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Isotropic energy spectrum ``E(k) = 1/2 sum_{k - 1/2 <= |k'| < k + 1/2} sum_c |u_hat_c(k')|^2``.

    Channels are the components of one vector field (velocity) and are summed. ``u_hat`` is the DFT
    normalised by the number of points, so ``sum_k E(k) = 1/2 mean(|u|^2)``, the kinetic energy per
    unit volume (Parseval). Shells are integer radii in cycles per domain length (exactly isotropic when
    every axis has the same length).

    Parameters
    ----------
    u : Tensor ``(batch, channel, *space)`` on a periodic grid
    length : float
        Domain length, only to express the shells as angular wavenumbers ``2 pi k / length``.

    Returns
    -------
    k : Tensor ``(n_shells,)``, angular wavenumber of each shell (float64)
    E : Tensor ``(batch, n_shells)``
    """
    if not isinstance(u, torch.Tensor) or u.dim() < 3:
        raise ValueError(
            f"energy_spectrum: u must be a tensor (batch, channel, *space), got shape "
            f"{tuple(getattr(u, 'shape', ()))}"
        )
    ndim = u.dim() - 2
    power, k = _power(_float(u), ndim)
    shell = torch.round(k).long().expand_as(power[0, 0]).reshape(-1)
    n_shells = int(shell.max().item()) + 1
    flat = power.sum(1).reshape(u.shape[0], -1)
    energy = torch.zeros(u.shape[0], n_shells, dtype=flat.dtype, device=u.device)
    energy.index_add_(1, shell, flat)
    wavenumber = 2 * math.pi / float(length) * torch.arange(n_shells, dtype=torch.float64)
    return wavenumber, 0.5 * energy


@torch.no_grad()
def spectrum_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Relative error of the energy spectrum ``sum_k |E_p(k) - E_t(k)| / sum_k E_t(k)``, shape ``(batch,)``.

    Zero when the prediction has the target's energy in every shell, whatever the phases; it measures
    whether the predicted field has the right scales, not whether it is in the right place.
    """
    _check(pred, target, None, "spectrum_error")
    _, ep = energy_spectrum(pred)
    _, et = energy_spectrum(target)
    return (ep - et).abs().sum(-1) / et.sum(-1).clamp_min(1e-30)


@torch.no_grad()
def error_vs_time(pred: torch.Tensor, target: torch.Tensor, metric: Metric = relative_l2) -> torch.Tensor:
    """A per-field metric at every time step of trajectories ``(batch, time, channel, *space)``.

    Returns ``(batch, time, channel)``: ``metric(pred[:, t], target[:, t])`` for each ``t``.
    """
    if pred.shape != target.shape or pred.dim() < 4:
        raise ValueError(
            f"error_vs_time: pred {tuple(pred.shape)} and target {tuple(target.shape)} must both be "
            f"(batch, time, channel, *space)"
        )
    b, t = pred.shape[:2]
    flat = (b * t, *pred.shape[2:])
    return metric(pred.reshape(flat), target.reshape(flat)).reshape(b, t, -1)


@torch.no_grad()
def correlation(pred: torch.Tensor, target: torch.Tensor, *, start_dim: int = 2) -> torch.Tensor:
    """Pearson correlation between prediction and truth over all axes from ``start_dim`` on.

    ``rho = sum (p - p_mean)(q - q_mean) / sqrt(sum (p - p_mean)^2 sum (q - q_mean)^2)``. For trajectories
    ``(batch, time, channel, *space)`` and ``start_dim=2`` this is one number per sample and time step.
    """
    if pred.shape != target.shape:
        raise ValueError(f"correlation: pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    p = _float(pred).flatten(start_dim)
    q = _float(target).flatten(start_dim)
    p = p - p.mean(-1, keepdim=True)
    q = q - q.mean(-1, keepdim=True)
    denom = (p.pow(2).sum(-1) * q.pow(2).sum(-1)).sqrt().clamp_min(1e-30)
    return (p * q).sum(-1) / denom


@torch.no_grad()
def correlation_time(
    corr: torch.Tensor, times: torch.Tensor | Sequence[float] | None = None, *, threshold: float = 0.8
) -> torch.Tensor:
    """Time at which the correlation with the truth first falls below ``threshold``.

    The crossing is interpolated linearly between the last step at or above the threshold and the first
    below it. A trajectory that never falls below within the horizon gets ``inf``; one that starts below
    gets ``times[0]``.

    Parameters
    ----------
    corr : Tensor ``(batch, time)`` (from ``correlation``)
    times : sequence ``(time,)``, increasing; default ``0, 1, 2, ...`` (steps)

    Returns
    -------
    Tensor ``(batch,)``, float64.
    """
    if corr.dim() != 2:
        raise ValueError(f"correlation_time: corr must be (batch, time), got shape {tuple(corr.shape)}")
    n = corr.shape[1]
    times = torch.arange(n, dtype=torch.float64) if times is None else torch.as_tensor(times).double()
    if times.shape != (n,):
        raise ValueError(f"correlation_time: times has shape {tuple(times.shape)}, expected ({n},)")
    corr = corr.double().cpu()
    out = torch.full((corr.shape[0],), math.inf, dtype=torch.float64)
    below = corr < threshold
    for b in range(corr.shape[0]):
        idx = torch.nonzero(below[b])
        if idx.numel() == 0:
            continue
        i = int(idx[0])
        if i == 0:
            out[b] = times[0]
            continue
        c0, c1 = corr[b, i - 1], corr[b, i]
        frac = (c0 - threshold) / (c0 - c1)
        out[b] = times[i - 1] + frac * (times[i] - times[i - 1])
    return out
