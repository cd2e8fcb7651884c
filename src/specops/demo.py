"""``specops demo`` (interim): learn the heat-equation solution operator and check zero-shot super-resolution.

The operator ``u0 -> u(t) = exp(t kappa Delta) u0`` on the unit torus is known exactly, so the error of the
trained FNO is measured against the truth, at the training resolution and at twice it.
"""

from __future__ import annotations

import time

import torch

from specops.losses import LpLoss
from specops.models.fno import FNO
from specops.solvers.random_fields import GaussianRandomField
from specops.spectral.derivatives import squared_wavenumber


def heat_operator(u0: torch.Tensor, t: float = 0.01, kappa: float = 1.0) -> torch.Tensor:
    """Exact heat-equation solution ``exp(t kappa Delta) u0`` of periodic fields ``(batch, 1, *space)``."""
    space = u0.shape[2:]
    dims = tuple(range(2, u0.dim()))
    decay = torch.exp(-t * kappa * squared_wavenumber(space, device=u0.device)).to(u0.dtype)
    return torch.fft.irfftn(torch.fft.rfftn(u0, dim=dims) * decay, s=space, dim=dims)


def run_demo(
    resolution: int = 32, n_train: int = 256, n_test: int = 64, steps: int = 300, seed: int = 0
) -> dict:
    """Train a small 2D FNO on the heat operator; return the relative L2 test errors by resolution."""
    torch.manual_seed(seed)
    start = time.perf_counter()
    fine = 2 * resolution
    grf = GaussianRandomField((fine, fine), alpha=2.5, tau=7.0)
    u0_fine = grf.sample(range(seed, seed + n_train + n_test)).unsqueeze(1)
    u_fine = heat_operator(u0_fine)
    u0, u = u0_fine[..., ::2, ::2], u_fine[..., ::2, ::2]  # the coarse grid is every other fine point
    x_train, y_train = u0[:n_train], u[:n_train]
    model = FNO((12, 12), 1, 1, hidden_channels=24, n_layers=4)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    loss_fn = LpLoss(relative=True)
    batch = 32
    print(f"specops demo: FNO ({model.n_parameters:,} parameters) learns the heat operator at {resolution}^2")
    for step in range(steps):
        idx = torch.randint(0, n_train, (batch,))
        loss = loss_fn(model(x_train[idx]), y_train[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % 50 == 0:
            print(f"  step {step + 1:4d}/{steps}  train rel. L2 {loss.item():.4f}")
    model.eval()
    errors = {}
    with torch.no_grad():
        for res, (a, b) in {
            resolution: (u0[n_train:], u[n_train:]),
            fine: (u0_fine[n_train:], u_fine[n_train:]),
        }.items():
            errors[res] = loss_fn(model(a), b).item()
    print(f"test relative L2 at {resolution}^2 (training resolution): {errors[resolution]:.4f}")
    print(f"test relative L2 at {fine}^2 (zero-shot, twice the resolution): {errors[fine]:.4f}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return errors
