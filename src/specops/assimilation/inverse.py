"""The DGNO inverse problem: the coefficient field from sparse noisy values of the solution, with uncertainty.

With a trained :class:`~specops.models.dgno.DGNO`, put ``beta = tanh(z)``, prior ``z ~ N(0, I)`` and the
likelihood of observations ``y_s = u(x_s; beta) + eps_s``, ``eps_s ~ N(0, sigma^2)``. The potential

    U(z) = |y - u(X; tanh z)|^2 / (2 sigma^2) + |z|^2 / 2

is minimised by Adam from prior draws (one chain per posterior sample), then sampled by the unadjusted
Langevin algorithm ``z <- z - eta grad U + sqrt(2 eta) xi`` (Roberts & Tweedie, Bernoulli 2 (1996) 341);
each chain's final state is one posterior sample of ``a(x) = a(x; tanh z)``. The posterior mean of ``a``
is the estimate and the pointwise standard deviation over chains its uncertainty (Zang & Koutsourelakis,
arXiv 2502.06250, sec. 4).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from specops.models.dgno import DGNO, node_points


@dataclass
class Posterior:
    """Posterior samples of the coefficient and solution on ``n x n`` nodes, and their mean and std."""

    a_samples: torch.Tensor
    u_samples: torch.Tensor

    @property
    def a_mean(self) -> torch.Tensor:
        return self.a_samples.mean(0)

    @property
    def a_std(self) -> torch.Tensor:
        return self.a_samples.std(0) if self.a_samples.shape[0] > 1 else torch.zeros_like(self.a_mean)

    @property
    def u_mean(self) -> torch.Tensor:
        return self.u_samples.mean(0)


def sample_posterior(
    model: DGNO,
    points: torch.Tensor,
    y: torch.Tensor,
    sigma: float,
    *,
    n_grid: int,
    samples: int = 16,
    map_steps: int = 300,
    langevin_steps: int = 100,
    lr: float = 0.05,
    step_size: float = 1e-4,
    seed: int = 0,
) -> Posterior:
    """Posterior samples of ``a`` given ``y`` ``(S,)`` at ``points`` ``(S, 2)`` in ``[0, 1]^2``.

    ``samples`` chains, each ``map_steps`` Adam steps at ``lr`` then ``langevin_steps`` Langevin steps of
    size ``step_size`` (in ``z``); fields are returned on ``n_grid x n_grid`` nodes.
    """
    if not sigma > 0:
        raise ValueError(f"sigma={sigma} must be a positive noise standard deviation")
    if points.ndim != 2 or points.shape[1] != 2 or y.shape != (points.shape[0],):
        raise ValueError(f"points {tuple(points.shape)} must be (S, 2) and y {tuple(y.shape)} must be (S,)")
    if ((points < 0) | (points > 1)).any():
        raise ValueError("observation points must lie in the domain [0, 1]^2")
    if int(samples) < 1:
        raise ValueError(f"samples={samples} must be a positive number of posterior samples")
    dtype = next(model.parameters()).dtype
    points, y = points.to(dtype), y.to(dtype)
    gen = torch.Generator().manual_seed(int(seed))
    z = torch.randn(int(samples), model.latent, generator=gen, dtype=dtype).requires_grad_(True)
    for p in model.parameters():
        p.requires_grad_(False)
    try:

        def potential(z: torch.Tensor) -> torch.Tensor:
            misfit = model.u_at(torch.tanh(z), points) - y
            return misfit.pow(2).sum(-1) / (2 * sigma**2) + z.pow(2).sum(-1) / 2

        opt = torch.optim.Adam([z], lr=lr)
        for _ in range(int(map_steps)):
            opt.zero_grad(set_to_none=True)
            potential(z).sum().backward()
            opt.step()
        for _ in range(int(langevin_steps)):
            (grad,) = torch.autograd.grad(potential(z).sum(), z)
            noise = torch.randn(z.shape, generator=gen, dtype=dtype)
            z = (z - step_size * grad + (2 * step_size) ** 0.5 * noise).detach().requires_grad_(True)
        with torch.no_grad():
            beta = torch.tanh(z)
            nodes = node_points(int(n_grid), dtype)
            a = model.coefficient_at(beta, nodes).reshape(-1, n_grid, n_grid)
            u = model.u_at(beta, nodes).reshape(-1, n_grid, n_grid)
    finally:
        for p in model.parameters():
            p.requires_grad_(True)
    return Posterior(a, u)
