"""Where fields are encoded and decoded: the one place a model meets its normalizers.

Operator models are trained on normalized fields: inputs ``x`` are encoded with an input normalizer,
targets ``y`` with an output normalizer, and predictions are decoded with the output normalizer back to
physical units. A :class:`FieldNormalization` holds that pair; the trainer, rollouts, evaluation and
``Predictor`` all go through it, and nothing else encodes or decodes (datasets return raw fields).
A normalizer is any module with ``encode``/``decode`` (``specops.data.normalization``); a missing one is
the identity.
"""

from __future__ import annotations

import torch
from torch import nn


class FieldNormalization(nn.Module):
    """An input and an output normalizer: ``encode_input(x)``, ``encode_target(y)``, ``decode_output(y)``.

    Parameters
    ----------
    x_normalizer, y_normalizer : modules with ``encode``/``decode``, optional
        Fitted on the training inputs and targets; None is the identity.
    """

    def __init__(self, x_normalizer: nn.Module | None = None, y_normalizer: nn.Module | None = None) -> None:
        super().__init__()
        self.x_normalizer = x_normalizer
        self.y_normalizer = y_normalizer

    @property
    def active(self) -> bool:
        """Whether either side changes the fields (a normalizer of kind ``"none"`` does not)."""
        return any(
            n is not None and getattr(n, "kind", None) != "none"
            for n in (self.x_normalizer, self.y_normalizer)
        )

    def encode_input(self, x: torch.Tensor) -> torch.Tensor:
        """Physical inputs (or states fed back as inputs) -> the model's units."""
        return self.x_normalizer.encode(x) if self.x_normalizer is not None else x

    def encode_target(self, y: torch.Tensor) -> torch.Tensor:
        """Physical targets -> the units of the model's outputs (where training losses are computed)."""
        return self.y_normalizer.encode(y) if self.y_normalizer is not None else y

    def decode_output(self, y: torch.Tensor) -> torch.Tensor:
        """Model outputs -> physical units."""
        return self.y_normalizer.decode(y) if self.y_normalizer is not None else y

    def feedback(self, states: torch.Tensor) -> torch.Tensor:
        """Predicted states (model output units) re-encoded as inputs, for rollouts."""
        if self.x_normalizer is None and self.y_normalizer is None:
            return states
        return self.encode_input(self.decode_output(states))
