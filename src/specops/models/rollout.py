"""Autoregressive time stepping with an operator model: ``k`` past states in, ``m`` next states out.

A window of history ``x (batch, k, C, *space)`` is flattened to ``k * C`` input channels; the model's
``m * C`` output channels are reshaped to ``(batch, m, C, *space)``. A rollout repeats this, appending the
``m`` predicted states and keeping the last ``k`` as the next input, until the requested number of states
is produced. Training (teacher forcing, pushforward), evaluation and ``Predictor.rollout`` share these
functions; fields are encoded and decoded by a :class:`~specops.models.predictor.FieldNormalization`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from specops.models.normalization import FieldNormalization

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


def rollout(
    model: nn.Module | Forward,
    x0: torch.Tensor,
    n_states: int,
    *,
    normalization: FieldNormalization | None = None,
) -> torch.Tensor:
    """Predict ``n_states`` future states from the history ``x0 (batch, k, C, *space)``, without gradients.

    The history is encoded as input by ``normalization``; each prediction is decoded (physical units) and
    re-encoded to become input again (``normalization.feedback``).

    Returns
    -------
    Tensor ``(batch, n_states, C, *space)`` in physical units.
    """
    if n_states < 1:
        raise ValueError(f"n_states={n_states} must be at least 1")
    norm = normalization if normalization is not None else FieldNormalization()
    was_training = getattr(model, "training", False)
    if isinstance(model, nn.Module):
        model.eval()
    out = []
    produced = 0
    try:
        with torch.no_grad():
            window = norm.encode_input(x0)
            while produced < n_states:
                states = norm.decode_output(autoregressive_step(model, window))
                out.append(states)
                produced += states.shape[1]
                window = advance(window, norm.encode_input(states))
    finally:
        if isinstance(model, nn.Module):
            model.train(was_training)
    return torch.cat(out, dim=1)[:, :n_states]
