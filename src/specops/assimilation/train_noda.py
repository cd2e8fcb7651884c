"""Training NODA by unrolled assimilation windows on trajectories with synthetic sparse noisy sensors.

For a window of ``W`` frames from a random start ``t_0`` (Singh et al., ICLR 2024, sec. 4): the background
``u_0 = u(t_0) + e_0 rms(u) xi`` (``xi`` smooth, unit rms) (``e_0 = init_error``), then ``W - 1`` steps of the recursion with
measurements ``y_k = H_k u(t_k) + sigma eps`` at freshly drawn sensors (a step has none with probability
``missing``). The loss is

    (1 / |K|) sum_{k in K} |u_k^a - u(t_k)|^2 / |u(t_k)|^2  +  lambda (1/W) sum_k |y_k - E(u_k^f)|^2 / (S rms^2)
      + mu (1 / (W - 1)) sum_k |T u(t_k) + F_theta(u(t_k)) - u(t_{k+1})|^2 / |u(t_{k+1})|^2,

``K = {warmup, ..., W - 1}``: the first ``warmup`` frames assimilate without a state loss (the warm-up
window), so the operator learns to pull a wrong background onto the truth before predicting. The last
term (``mu = prediction_weight``) is the teacher-forced one-step loss of the prediction step from the true
states, so ``F_theta`` learns the dynamics even while the corrected states are still far from the truth.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from specops.assimilation.noda import NODA
from specops.assimilation.observe import PointSensors, random_points, smooth_perturbation


def fit_noda(
    model: NODA,
    trajectories: torch.Tensor,
    coords: Sequence[np.ndarray],
    *,
    periodic: bool = True,
    sensors: int,
    noise: float,
    window: int = 8,
    warmup: int = 2,
    steps: int = 500,
    batch_size: int = 8,
    lr: float = 1e-3,
    measurement_weight: float = 0.1,
    prediction_weight: float = 1.0,
    missing: float = 0.0,
    init_error: float = 0.5,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> list[float]:
    """Adam on unrolled windows of ``trajectories`` ``(N, T, C, *space)``; returns the loss per step."""
    n, t = trajectories.shape[:2]
    if not 2 <= int(window) <= t:
        raise ValueError(f"window={window} must be between 2 and the {t} frames of a trajectory")
    if not 0 <= int(warmup) < int(window):
        raise ValueError(f"warmup={warmup} must be between 0 and window - 1 = {int(window) - 1}")
    if not 0 <= missing < 1:
        raise ValueError(f"missing={missing} must be a probability in [0, 1)")
    rng = np.random.default_rng(int(seed))
    gen = torch.Generator().manual_seed(int(seed))
    dtype = next(model.parameters()).dtype
    data = trajectories.to(dtype)
    rms = float(data.double().pow(2).mean().sqrt())
    sigma = float(noise) * rms
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, int(steps))
    history = []
    start = time.perf_counter()
    for step in range(int(steps)):
        idx = torch.randint(n, (int(batch_size),), generator=gen)
        t0 = torch.randint(t - int(window) + 1, (int(batch_size),), generator=gen)
        truth = torch.stack(
            [data[i, s : s + int(window)] for i, s in zip(idx.tolist(), t0.tolist(), strict=True)]
        )
        u = truth[:, 0] + init_error * rms * smooth_perturbation(
            truth[:, 0].shape, data.dim() - 3, gen, dtype
        )
        state_loss, meas_loss, count = 0.0, 0.0, 0
        for k in range(int(window)):
            if k > 0:
                u = model.predict(u)
            if k == 0 or rng.random() >= missing:
                h = PointSensors(
                    random_points(sensors, coords, periodic=periodic, generator=rng),
                    coords,
                    periodic=periodic,
                )
                clean = h(truth[:, k])
                y = clean + sigma * torch.randn(clean.shape, generator=gen, dtype=dtype)
                u, predicted = model.correct(u, y, h)
                meas_loss = meas_loss + (y - predicted).pow(2).mean() / rms**2
            if k >= int(warmup):
                err = (u - truth[:, k]).flatten(1).pow(2).sum(1) / truth[:, k].flatten(1).pow(2).sum(1).clamp(
                    min=1e-12
                )
                state_loss = state_loss + err.mean()
                count += 1
        # teacher-forced one-step prediction from the true states: trains F_theta as a forecast model
        # even while the corrected states are still far from the truth
        pred = model.predict(truth[:, :-1].flatten(0, 1))
        target = truth[:, 1:].flatten(0, 1)
        pred_loss = (
            (pred - target).flatten(1).pow(2).sum(1) / target.flatten(1).pow(2).sum(1).clamp(min=1e-12)
        ).mean()
        loss = (
            state_loss / max(1, count)
            + measurement_weight * meas_loss / int(window)
            + prediction_weight * pred_loss
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        history.append(loss.item())
        if not math.isfinite(history[-1]):
            raise FloatingPointError(
                f"NODA training diverged at step {step} (loss {history[-1]}); lower lr={lr}"
            )
        if log is not None and (step + 1) % max(1, int(steps) // 10) == 0:
            log(
                f"noda step {step + 1}/{steps}: loss {np.mean(history[-10:]):.4e} ({time.perf_counter() - start:.0f} s)"
            )
    return history
