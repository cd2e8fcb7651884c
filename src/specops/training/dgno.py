"""Label-free training of a DGNO on coefficient fields alone (weak-form residuals + reconstruction of a).

Loss per batch of coefficients ``a`` (Zang & Koutsourelakis, arXiv 2502.06250, sec. 3.2):

    L = w_1 mean(r_1) + sqrt(n_c) mean(r_2^2) + lambda * BCE(A(beta, x_nodes), (a - a_lo) / (a_hi - a_lo))
        + mu * mean(z^2),        beta = tanh(z),

``r_1, r_2`` the flux and weak residuals of ``specops.physics.weak.WeakDarcyResidual`` on fresh random test
functions each step, ``a`` at the quadrature points read from the given nodes: the nearest node (default, the
piecewise-constant coefficient, as DGenNO's ``Get_High_Resolution_a``) or bilinear interpolation (smooth
coefficients). Adam with a step schedule (DGenNO: lr 5e-4, halved every ``epochs / 5``). No solution ``u`` is
ever read. The last term (``mu = latent_penalty``, not in DGenNO, default 0) keeps the encoder out of tanh's
flat tails: with output scales the early PDE gradients drove every ``|z|`` past 10 within 30 steps, where the
encoder's gradient vanished and ``beta`` stopped depending on ``a`` (the reconstruction stuck at ``ln 2``); it
also keeps ``z`` on the scale of the inverse problem's prior ``z ~ N(0, I)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from specops.models.dgno import DGNO, interpolate_nodes, nearest_nodes, node_points
from specops.physics.weak import WeakDarcyResidual

CoefficientReader = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
_READERS: dict[str, CoefficientReader] = {"nearest": nearest_nodes, "bilinear": interpolate_nodes}


def coefficient_reader(name: str) -> CoefficientReader:
    """``nearest_nodes`` (``"nearest"``) or ``interpolate_nodes`` (``"bilinear"``): ``a`` between the nodes."""
    if name not in _READERS:
        raise ValueError(
            f"interpolation={name!r} must be one of {sorted(_READERS)} ('nearest' for piecewise-constant a)"
        )
    return _READERS[name]


def dgno_loss(
    model: DGNO,
    a: torch.Tensor,
    residual: WeakDarcyResidual,
    *,
    data_weight: float = 1.0,
    generator: torch.Generator | None = None,
    read_coefficient: CoefficientReader = nearest_nodes,
    latent_penalty: float = 0.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The DGNO loss of the coefficients ``a`` ``(B, 1, n, n)``; returns it and its terms as floats.

    ``read_coefficient(a, points)`` gives ``a`` at the quadrature points (see :func:`coefficient_reader`).
    """
    z = model.latent_logits(a)
    beta = torch.tanh(z)
    points = residual.sample_points(generator, beta.dtype)
    flux = model.flux_at(beta, points)
    grad_u = model.grad_u_at(beta, points)
    a_pts = read_coefficient(a.to(beta), points)
    pde = residual.loss(points, flux, grad_u, a_pts)
    n = a.shape[-1]
    target = ((a.to(beta) - model.a_lo) / (model.a_hi - model.a_lo)).clamp(0, 1).reshape(a.shape[0], -1)
    logits = model.a_logits_at(beta, node_points(n, beta.dtype, beta.device))
    data = F.binary_cross_entropy_with_logits(logits, target)
    total = pde + data_weight * data
    if latent_penalty:
        total = total + latent_penalty * z.pow(2).mean()
    return total, {"loss": total.item(), "pde": pde.item(), "reconstruction": data.item()}


def fit_dgno(
    model: DGNO,
    coefficients: torch.Tensor,
    residual: WeakDarcyResidual,
    *,
    epochs: int,
    batch_size: int = 25,
    lr: float = 5e-4,
    data_weight: float = 1.0,
    seed: int = 0,
    interpolation: str = "nearest",
    latent_penalty: float = 0.0,
    log: Callable[[str], None] | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` on unlabelled ``coefficients`` ``(N, 1, n, n)``; returns the per-epoch mean terms.

    ``interpolation``: how ``a`` is read between the nodes, ``"nearest"`` or ``"bilinear"``;
    ``latent_penalty``: ``mu`` of the module's loss.
    """
    if int(epochs) < 1 or int(batch_size) < 1:
        raise ValueError(f"epochs={epochs} and batch_size={batch_size} must be positive integers")
    if not float(latent_penalty) >= 0:
        raise ValueError(f"latent_penalty={latent_penalty} must be >= 0 (the weight of mean(z^2))")
    read = coefficient_reader(interpolation)
    gen = torch.Generator().manual_seed(int(seed))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, int(epochs) // 5), gamma=0.5)
    history = []
    start = time.perf_counter()
    for epoch in range(int(epochs)):
        order = torch.randperm(coefficients.shape[0], generator=gen)
        sums: dict[str, float] = {}
        batches = 0
        for i in range(0, len(order), int(batch_size)):
            loss, terms = dgno_loss(
                model,
                coefficients[order[i : i + batch_size]],
                residual,
                data_weight=data_weight,
                generator=gen,
                read_coefficient=read,
                latent_penalty=float(latent_penalty),
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v
            batches += 1
        sched.step()
        history.append({k: v / batches for k, v in sums.items()})
        if log is not None:
            log(
                f"epoch {epoch + 1}/{epochs}: "
                + ", ".join(f"{k} {v:.3e}" for k, v in history[-1].items())
                + f" ({time.perf_counter() - start:.0f} s)"
            )
    return history
