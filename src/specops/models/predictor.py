"""A trained network with its normalizers: physical fields in, physical fields out, at any resolution.

``specops train`` fits its networks on normalized fields (``encode(x) -> net -> decode``). A network
loaded alone (``specops.load``) therefore expects and returns normalized units; :class:`Predictor` carries
the normalizers with it (a :class:`~specops.models.normalization.FieldNormalization`), so that
``predictor(a)`` is the solution operator in the data's own units. ``specops.load_predictor(run)`` builds
one from a run; evaluation takes one.

Operator runs map ``(batch, C_in, *space) -> (batch, C_out, *space)``. Time-stepping runs map a history
``(batch, k, C, *space)`` to the next ``(batch, m, C, *space)`` states, and :meth:`Predictor.rollout`
repeats that. Normalizers act per channel, so any grid the network accepts works.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from specops.models.normalization import FieldNormalization
from specops.models.rollout import autoregressive_step, rollout

Task = Literal["operator", "autoregressive"]


class Predictor(nn.Module):
    """``decode(net(encode(x)))``: the network of a run between its input and output normalizers.

    Parameters
    ----------
    model : nn.Module
        The network, working in normalized units.
    x_normalizer, y_normalizer : modules with ``encode``/``decode``, optional
        Input and output normalizers fitted in training (None: the network works in physical units).
    task : ``"operator"`` or ``"autoregressive"``
        Whether ``x`` is an input field or a history window of states.
    initial_frame : bool
        Autoregressive only: the network's states start with its copy of the last input state (the
        space-time layout of physics-informed runs, ``physics.outputs_include_initial``); it is dropped.
    """

    def __init__(
        self,
        model: nn.Module,
        x_normalizer: nn.Module | None = None,
        y_normalizer: nn.Module | None = None,
        *,
        task: Task = "operator",
        initial_frame: bool = False,
    ) -> None:
        super().__init__()
        if task not in ("operator", "autoregressive"):
            raise ValueError(f"task={task!r} is not one of 'operator', 'autoregressive'")
        if initial_frame and task != "autoregressive":
            raise ValueError("initial_frame=True is for task='autoregressive' (states in, states out)")
        self.initial_frame = bool(initial_frame)
        self.model = model
        self.normalization = FieldNormalization(x_normalizer, y_normalizer)
        self.task = task

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Physical ``x`` -> physical prediction (an output field, or the next states of a history)."""
        norm = self.normalization
        if self.task == "operator":
            return norm.decode_output(self.model(norm.encode_input(x)))
        x = norm.encode_input(x)
        return norm.decode_output(autoregressive_step(self._stepper(x.shape[2]), x))

    def _stepper(self, channels: int) -> nn.Module:
        """The network on flattened windows of states of ``channels`` channels, without the leading copy of
        the input state when it makes one (``initial_frame``)."""
        return _DropLeadingChannels(self.model, channels) if self.initial_frame else self.model

    def rollout(self, x0: torch.Tensor, n_states: int) -> torch.Tensor:
        """``n_states`` future states ``(batch, n_states, C, *space)`` from a history ``x0`` (physical
        units, no gradients); see ``specops.models.rollout``."""
        if self.task != "autoregressive":
            raise ValueError("rollout needs a time-stepping run (train.mode autoregressive or unrolled)")
        return rollout(self._stepper(x0.shape[2]), x0, n_states, normalization=self.normalization)


class _DropLeadingChannels(nn.Module):
    """``net(x)[:, channels:]``: a space-time network's output without its first state."""

    def __init__(self, net: nn.Module, channels: int) -> None:
        super().__init__()
        self.net = net
        self.channels = int(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[:, self.channels :]


def as_predictor(model: nn.Module, task: Task = "operator") -> Predictor:
    """``model`` if it is a :class:`Predictor`, else ``model`` taken to work in physical units."""
    return model if isinstance(model, Predictor) else Predictor(model, task=task)
