"""Training NODA by unrolled assimilation windows on trajectories with synthetic sparse noisy sensors.

For a window of ``W`` frames from a random start ``t_0`` (Singh et al., ICLR 2024, sec. 4): the background
``u_0 = u(t_0) + e_0 rms(u) xi`` (``xi`` smooth, unit rms; ``e_0 = init_error``, or uniform in ``init_error = (lo, hi)``
per window, so that the gain learns both to pull a far background in and to hold a close one), then ``W - 1`` steps of the
recursion with measurements ``y_k = H_k u(t_k) + sigma eps`` at freshly drawn sensors (their number uniform
in ``sensors`` when a range is given; a step has none with probability ``missing``). The loss is

    (1 / |K|) sum_{k in K} |u_k^a - u(t_k)|^2 / |u(t_k)|^2  +  lambda (1/W) sum_k |y_k - E(u_k^f)|^2 / (S rms^2)
      + mu (1 / (W - 1)) sum_k |T u(t_k) + F_theta(u(t_k)) - u(t_{k+1})|^2 / |u(t_{k+1})|^2,

``K = {warmup, ..., W - 1}``: the first ``warmup`` frames assimilate without a state loss (the warm-up
window), so the operator learns to pull a wrong background onto the truth before predicting. The last
term (``mu = prediction_weight``) is the teacher-forced one-step loss of the prediction step from the true
states, so ``F_theta`` learns the dynamics even while the corrected states are still far from the truth.

Two options make the prediction step a better forecast model inside a filter:

- ``prediction_noise = s``: the teacher-forced inputs are ``u(t_k) + s' rms(u) xi`` (``s'`` uniform in
  ``[0, s]``) with the clean target ``u(t_{k+1})``, so ``F_theta`` learns to carry a slightly wrong state
  back towards the trajectories it was trained on (noise injection; the analysis states it steps from are
  never exact), instead of keeping or amplifying errors it never saw;
- ``pretrain_steps``: that one-step loss alone on the prediction FNO first (cheap: one FNO call per
  pair), so the unrolled windows start from a working predictor and train mostly the gain.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from specops.assimilation.noda import NODA
from specops.assimilation.observe import PointSensors, random_points
from specops.spectral.filters import smooth_perturbation


def fit_noda(
    model: NODA,
    trajectories: torch.Tensor,
    coords: Sequence[np.ndarray],
    *,
    periodic: bool = True,
    sensors: int | tuple[int, int],
    noise: float,
    window: int = 8,
    warmup: int = 2,
    steps: int = 500,
    batch_size: int = 8,
    lr: float = 1e-3,
    measurement_weight: float = 0.1,
    prediction_weight: float = 1.0,
    missing: float = 0.0,
    init_error: float | tuple[float, float] = 0.5,
    prediction_noise: float = 0.0,
    pretrain_steps: int = 0,
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
    lo, hi = (int(sensors), int(sensors)) if isinstance(sensors, (int, np.integer)) else map(int, sensors)
    if not 1 <= lo <= hi:
        raise ValueError(f"sensors={sensors} must be a positive count or a range (lo, hi) with 1 <= lo <= hi")
    e_lo, e_hi = (float(init_error),) * 2 if isinstance(init_error, (int, float)) else map(float, init_error)
    if not 0 <= e_lo <= e_hi:
        raise ValueError(f"init_error={init_error} must be >= 0 or a range (lo, hi) with 0 <= lo <= hi")
    if not (math.isfinite(prediction_noise) and prediction_noise >= 0):
        raise ValueError(
            f"prediction_noise={prediction_noise} must be >= 0 (a fraction of the rms, 0.05 typical)"
        )
    rng = np.random.default_rng(int(seed))
    gen = torch.Generator().manual_seed(int(seed))
    dtype = next(model.parameters()).dtype
    data = trajectories.to(dtype)
    rms = float(data.double().pow(2).mean().sqrt())
    sigma = float(noise) * rms
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, int(steps))
    ndim = data.dim() - 3

    def one_step_loss(truth: torch.Tensor) -> torch.Tensor:
        inputs = truth[:, :-1].flatten(0, 1)
        if prediction_noise > 0:
            level = prediction_noise * rms * torch.rand(inputs.shape[0], generator=gen, dtype=dtype)
            level = level.reshape(-1, *([1] * (inputs.dim() - 1)))
            inputs = inputs + level * smooth_perturbation(inputs.shape, ndim, gen, dtype)
        pred = model.predict(inputs)
        target = truth[:, 1:].flatten(0, 1)
        err = (pred - target).flatten(1).pow(2).sum(1)
        return (err / target.flatten(1).pow(2).sum(1).clamp(min=1e-12)).mean()

    def windows() -> torch.Tensor:
        idx = torch.randint(n, (int(batch_size),), generator=gen)
        t0 = torch.randint(t - int(window) + 1, (int(batch_size),), generator=gen)
        return torch.stack(
            [data[i, s : s + int(window)] for i, s in zip(idx.tolist(), t0.tolist(), strict=True)]
        )

    start = time.perf_counter()
    if int(pretrain_steps) > 0:
        pre = torch.optim.Adam(model.predictor.parameters(), lr=lr)
        pre_sched = torch.optim.lr_scheduler.CosineAnnealingLR(pre, int(pretrain_steps))
        for step in range(int(pretrain_steps)):
            loss = one_step_loss(windows())
            pre.zero_grad(set_to_none=True)
            loss.backward()
            pre.step()
            pre_sched.step()
            if log is not None and (step + 1) % max(1, int(pretrain_steps) // 5) == 0:
                log(f"noda predictor {step + 1}/{pretrain_steps}: one-step loss {loss.item():.4e}")
    history = []
    for step in range(int(steps)):
        truth = windows()
        e0 = torch.full((int(batch_size),), e_lo, dtype=dtype)
        if e_hi > e_lo:
            e0 = e0 + (e_hi - e_lo) * torch.rand(int(batch_size), generator=gen, dtype=dtype)
        u = truth[:, 0] + e0.reshape(-1, *([1] * (truth.dim() - 2))) * rms * smooth_perturbation(
            truth[:, 0].shape, ndim, gen, dtype
        )
        state_loss, meas_loss, count = 0.0, 0.0, 0
        for k in range(int(window)):
            if k > 0:
                u = model.predict(u)
            if k == 0 or rng.random() >= missing:
                h = PointSensors(
                    random_points(int(rng.integers(lo, hi + 1)), coords, periodic=periodic, generator=rng),
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
        pred_loss = one_step_loss(truth)
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
