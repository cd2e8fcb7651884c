"""Autoregressive time stepping with an operator model: ``k`` past states in, ``m`` next states out.

A window of history ``x (batch, k, C, *space)`` is flattened to ``k * C`` input channels; the model's
``m * C`` output channels are reshaped to ``(batch, m, C, *space)``. A rollout repeats this, appending the
``m`` predicted states and keeping the last ``k`` as the next input, until the requested number of states
is produced. Training (teacher forcing, pushforward) and evaluation share these functions.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

Forward = Callable[[torch.Tensor], torch.Tensor]


def flatten_window(window: torch.Tensor) -> torch.Tensor:
    """``(batch, k, C, *space) -> (batch, k * C, *space)``: history steps become channels."""
    if window.dim() < 4:
        raise ValueError(
            f"a history window must be (batch, time, channel, *space); got shape {tuple(window.shape)}"
        )
    return window.reshape(window.shape[0], -1, *window.shape[3:])


def unflatten_states(y: torch.Tensor, channels: int) -> torch.Tensor:
    """``(batch, m * C, *space) -> (batch, m, C, *space)``."""
    if y.shape[1] % channels:
        raise ValueError(
            f"model output has {y.shape[1]} channels, not a multiple of the {channels} channels of one state; "
            f"set out_channels = horizon * channels"
        )
    return y.reshape(y.shape[0], y.shape[1] // channels, channels, *y.shape[2:])


def autoregressive_step(forward: Forward, window: torch.Tensor) -> torch.Tensor:
    """The next ``m`` states ``(batch, m, C, *space)`` predicted from ``window (batch, k, C, *space)``."""
    return unflatten_states(forward(flatten_window(window)), window.shape[2])


def advance(window: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
    """Append ``states`` to ``window`` along time and keep the last ``k`` (the window's length)."""
    k = window.shape[1]
    return torch.cat([window, states], dim=1)[:, -k:]


def _identity(t: torch.Tensor) -> torch.Tensor:
    return t


def rollout(
    model: nn.Module | Forward,
    x0: torch.Tensor,
    n_states: int,
    *,
    x_normalizer: nn.Module | None = None,
    y_normalizer: nn.Module | None = None,
) -> torch.Tensor:
    """Predict ``n_states`` future states from the history ``x0 (batch, k, C, *space)``, without gradients.

    Inputs are encoded with ``x_normalizer``, each prediction is decoded with ``y_normalizer`` (physical
    units) and re-encoded with ``x_normalizer`` to become input again.

    Returns
    -------
    Tensor ``(batch, n_states, C, *space)`` in physical units.
    """
    if n_states < 1:
        raise ValueError(f"n_states={n_states} must be at least 1")
    encode = x_normalizer.encode if x_normalizer is not None else _identity
    decode = y_normalizer.decode if y_normalizer is not None else _identity
    was_training = getattr(model, "training", False)
    if isinstance(model, nn.Module):
        model.eval()
    out = []
    produced = 0
    try:
        with torch.no_grad():
            window = encode(x0)
            while produced < n_states:
                states = decode(autoregressive_step(model, window))
                out.append(states)
                produced += states.shape[1]
                window = advance(window, encode(states))
    finally:
        if isinstance(model, nn.Module):
            model.train(was_training)
    return torch.cat(out, dim=1)[:, :n_states]
