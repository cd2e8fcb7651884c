"""Training tasks: what a batch ``{"x", "y"}`` means and which loss a step minimises.

- ``OperatorTask``: ``x (B, C_in, *space) -> y (B, C_out, *space)``;
- ``AutoregressiveTask``: ``x (B, k, C, *space)`` history, ``y (B, m, C, *space)`` next states, one step
  from true history (teacher forcing);
- ``PushforwardTask``: ``y`` holds ``n * m`` future states; the model is rolled a random number
  ``j < n`` of steps without gradients, then trained on step ``j + 1`` from its own predictions
  (Brandstetter, Worrall & Welling, "Message Passing Neural PDE Solvers", ICLR 2022), which
  teaches it to correct its own errors and keeps long rollouts stable.

Every task gets the model's forward function, encoded ``x`` and ``y``, the loss and ``feedback``, which
turns predicted states (encoded as outputs) into inputs (encoded as inputs) for rollouts.

``NoisyInputs(task, level)`` (``train.input_noise``) perturbs the training inputs of any task with smooth
noise and keeps the clean targets (noise injection, Sanchez-Gonzalez et al., ICML 2020): a one-step model
then learns to carry a slightly wrong state back towards the data instead of keeping the error, which long
rollouts and ensemble filters (``specops assimilate --enkf model``) need.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from specops.models.rollout import advance, autoregressive_step, flatten_window
from specops.spectral.filters import smooth_perturbation

Forward = Callable[[torch.Tensor], torch.Tensor]
Feedback = Callable[[torch.Tensor], torch.Tensor]


def unpack_batch(batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` of a batch given as ``{"x", "y"}`` (the datasets' items) or as a pair."""
    if isinstance(batch, dict):
        if "x" not in batch or "y" not in batch:
            raise ValueError(
                f"a training batch must be a dict with keys 'x' and 'y', got keys {sorted(batch)}; "
                f"datasets should return {{'x': input, 'y': target}}"
            )
        return batch["x"], batch["y"]
    if isinstance(batch, (list, tuple)) and len(batch) == 2:
        return batch[0], batch[1]
    raise ValueError(
        f"a training batch must be a dict {{'x', 'y'}} or a pair (x, y), got {type(batch).__name__}"
    )


class OperatorTask:
    """Learn ``a -> u``: the model maps ``x (B, C_in, *space)`` to ``y (B, C_out, *space)``."""

    def loss(
        self, forward: Forward, x: torch.Tensor, y: torch.Tensor, loss_fn: nn.Module, feedback: Feedback
    ):
        return loss_fn(forward(x).float(), y)

    def predict(self, forward: Forward, x: torch.Tensor, y: torch.Tensor, feedback: Feedback) -> torch.Tensor:
        """Prediction with the shape of ``y`` (encoded units)."""
        return forward(x)

    def fields(self, y: torch.Tensor) -> torch.Tensor:
        """Targets as fields ``(B, channel, *space)`` for losses and metrics."""
        return y


class AutoregressiveTask:
    """Learn one step ``k`` states -> next ``m`` states from true history (teacher forcing)."""

    def fields(self, y: torch.Tensor) -> torch.Tensor:
        """States ``(B, m, C, *space)`` as fields ``(B, m * C, *space)``."""
        return flatten_window(y)

    def loss(
        self, forward: Forward, x: torch.Tensor, y: torch.Tensor, loss_fn: nn.Module, feedback: Feedback
    ):
        pred = autoregressive_step(forward, x)
        _check_horizon(pred, y)
        return loss_fn(flatten_window(pred).float(), flatten_window(y))

    def predict(self, forward: Forward, x: torch.Tensor, y: torch.Tensor, feedback: Feedback) -> torch.Tensor:
        pred = autoregressive_step(forward, x)
        _check_horizon(pred, y)
        return pred


class PushforwardTask(AutoregressiveTask):
    """Train on step ``j + 1`` of a rollout whose first ``j`` steps (random, ``j < unroll_steps``) carry
    no gradient; ``y`` holds ``unroll_steps * m`` states. ``unroll_steps=1`` is teacher forcing."""

    def __init__(self, unroll_steps: int) -> None:
        if unroll_steps < 1:
            raise ValueError(f"unroll_steps={unroll_steps} must be at least 1")
        self.unroll_steps = int(unroll_steps)

    def loss(
        self, forward: Forward, x: torch.Tensor, y: torch.Tensor, loss_fn: nn.Module, feedback: Feedback
    ):
        if y.shape[1] % self.unroll_steps:
            raise ValueError(
                f"pushforward training with unroll_steps={self.unroll_steps} needs y with a multiple of "
                f"{self.unroll_steps} states, got {y.shape[1]}: y must hold unroll_steps * horizon states"
            )
        m = y.shape[1] // self.unroll_steps
        j = int(torch.randint(self.unroll_steps, ()).item())
        window = x
        with torch.no_grad():
            for _ in range(j):
                window = advance(window, feedback(autoregressive_step(forward, window)[:, :m]))
        pred = autoregressive_step(forward, window)
        target = y[:, j * m : (j + 1) * m]
        _check_horizon(pred, target)
        return loss_fn(flatten_window(pred).float(), flatten_window(target))

    def predict(self, forward: Forward, x: torch.Tensor, y: torch.Tensor, feedback: Feedback) -> torch.Tensor:
        """The rollout over all of ``y``'s states."""
        out, window, produced = [], x, 0
        while produced < y.shape[1]:
            states = autoregressive_step(forward, window)
            out.append(states)
            produced += states.shape[1]
            window = advance(window, feedback(states))
        return torch.cat(out, dim=1)[:, : y.shape[1]]


class NoisyInputs:
    """``task`` trained on ``x + s xi`` (clean targets): ``xi`` smooth Gaussian noise of unit rms per field
    (``specops.spectral.filters.smooth_perturbation``, the lowest quarter of the modes per axis), ``s``
    uniform in ``[0, level]`` per sample, in the encoded (normalised) units of ``x``. Validation and
    prediction see the clean inputs. ``lead_dims``: the axes of ``x`` before the spatial ones (2 for
    operator inputs ``(B, C, *space)``, 3 for histories ``(B, k, C, *space)``).
    """

    def __init__(self, task: Task, level: float, lead_dims: int) -> None:
        if not level > 0:
            raise ValueError(f"input noise level={level} must be positive (0: use the task itself)")
        self.task, self.level, self.lead_dims = task, float(level), int(lead_dims)

    def perturb(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.level * torch.rand(x.shape[0], *([1] * (x.dim() - 1)), device=x.device, dtype=x.dtype)
        gen = torch.Generator().manual_seed(int(torch.randint(2**62, ()).item()))
        noise = smooth_perturbation(x.shape, x.dim() - self.lead_dims, gen, x.dtype).to(x.device)
        return x + scale * noise

    def loss(
        self, forward: Forward, x: torch.Tensor, y: torch.Tensor, loss_fn: nn.Module, feedback: Feedback
    ):
        return self.task.loss(forward, self.perturb(x), y, loss_fn, feedback)

    def predict(self, forward: Forward, x: torch.Tensor, y: torch.Tensor, feedback: Feedback) -> torch.Tensor:
        return self.task.predict(forward, x, y, feedback)

    def fields(self, y: torch.Tensor) -> torch.Tensor:
        return self.task.fields(y)


def _check_horizon(pred: torch.Tensor, y: torch.Tensor) -> None:
    if pred.shape != y.shape:
        raise ValueError(
            f"the model predicts states of shape {tuple(pred.shape[1:])} but the targets y have "
            f"{tuple(y.shape[1:])}: out_channels must be horizon * channels ({y.shape[1]} * {y.shape[2]})"
        )


Task = OperatorTask | AutoregressiveTask | PushforwardTask | NoisyInputs
