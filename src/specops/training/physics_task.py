"""Physics-informed training: a task whose loss adds a PDE residual to (or replaces) the data loss.

``PhysicsTask`` wraps an ``OperatorTask`` (``a -> u``, e.g. Darcy) or an ``AutoregressiveTask`` (frames ->
next frames, e.g. Burgers trajectories) and minimises

    ``data_weight * loss_fn(G(x)[labelled], y[labelled]) + physics_weight * PhysicsLoss(a, G(a))``

(PINO, Li et al., arXiv 2111.03794, sec. 3). The physics term sees physical fields: inputs decoded by the
input normaliser, predictions by the output normaliser. Samples whose target holds NaN are unlabelled:
they enter only the physics term, which is how label-free (every target NaN) and mixed training (a
fraction labelled, ``specops.pipeline.physics.hide_labels``) are run; a target that is never read cannot
leak into training. With ``refine > 1`` the physics term queries the model on a grid ``refine`` times
finer than the data (inputs interpolated by the residual's ``resample``), PINO's point that the residual
can be imposed at a higher resolution than the labels.

Space-time layout (``PhysicsLoss(..., outputs_include_initial=True)``, autoregressive runs only): the model
maps the state ``u(t)`` to the ``m + 1`` frames ``u(t), u(t + dt), ..., u(t + m dt)`` (PINO's layout, where
the initial condition is a soft constraint): the physics term takes the residual of all of them plus
``initial_weight * ||G(u)(t) - u(t)||``, and the data term, the prediction and the rollout use the last
``m`` (``drop_initial_frame``).
"""

from __future__ import annotations

import torch
from torch import nn

from specops.models.normalization import FieldNormalization
from specops.models.rollout import autoregressive_step
from specops.physics.loss import PhysicsLoss
from specops.training.tasks import AutoregressiveTask, Feedback, Forward, OperatorTask


def labelled_samples(y: torch.Tensor) -> torch.Tensor:
    """Boolean ``(batch,)``: the samples whose target is finite (NaN marks a hidden label)."""
    return torch.isfinite(y.reshape(y.shape[0], -1)).all(dim=1)


class PhysicsTask:
    """A data task plus the physics loss of its predictions.

    Parameters
    ----------
    base : OperatorTask or AutoregressiveTask
        What a batch means (predictions and targets); the data term is its loss on labelled samples.
    physics : PhysicsLoss
    normalization : FieldNormalization
        The trainer's normalisers (the same modules), to decode inputs and predictions.
    physics_weight, data_weight : float
        Weights of the two terms (``data_weight = 0``: label-free).
    refine : int
        The physics term is evaluated on a grid ``refine`` times finer than the data.
    """

    def __init__(
        self,
        base: OperatorTask | AutoregressiveTask,
        physics: PhysicsLoss,
        normalization: FieldNormalization,
        *,
        physics_weight: float = 1.0,
        data_weight: float = 1.0,
        refine: int = 1,
    ) -> None:
        if type(base) not in (OperatorTask, AutoregressiveTask):
            raise ValueError(
                f"physics-informed training supports train.mode=operator and train.mode=autoregressive, not "
                f"{type(base).__name__}"
            )
        if physics_weight < 0 or data_weight < 0 or physics_weight + data_weight == 0:
            raise ValueError(
                f"physics_weight={physics_weight} and data_weight={data_weight} must be 0 or more, not both 0"
            )
        if int(refine) < 1:
            raise ValueError(f"refine={refine} must be a whole number of at least 1")
        self.base = base
        self.physics = physics
        self.normalization = normalization
        self.physics_weight = float(physics_weight)
        self.data_weight = float(data_weight)
        self.refine = int(refine)
        self.fields = base.fields
        self.includes_initial = physics.outputs_include_initial
        if self.includes_initial and type(base) is not AutoregressiveTask:
            raise ValueError(
                "outputs_include_initial (physics.outputs_include_initial) needs a time-stepping run: "
                "train.mode=autoregressive"
            )
        self._step = _operator if type(base) is OperatorTask else autoregressive_step

    def decode_input(self, x: torch.Tensor) -> torch.Tensor:
        """Encoded model inputs -> physical fields."""
        norm = self.normalization.x_normalizer
        return norm.decode(x) if norm is not None else x

    def physics_loss(
        self, forward: Forward, x: torch.Tensor, pred: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The physics term for encoded inputs ``x`` (``pred``: the model's encoded prediction on the data
        grid, reused when the residual is taken there)."""
        inputs = self.decode_input(x)
        if self.refine > 1:
            inputs = self.physics.resample(inputs, self.refine)
            pred = self._step(forward, self.normalization.encode_input(inputs))
        elif pred is None:
            pred = self._step(forward, x)
        outputs = self.normalization.decode_output(_full_precision(pred))
        return self.physics(_full_precision(inputs), outputs)

    def loss(
        self, forward: Forward, x: torch.Tensor, y: torch.Tensor, loss_fn: nn.Module, feedback: Feedback
    ):
        pred = self._step(forward, x)
        total = self.physics_weight * self.physics_loss(forward, x, pred) if self.physics_weight else 0.0
        if self.includes_initial:
            pred = drop_initial_frame(pred)
        if self.data_weight:
            labelled = labelled_samples(y)
            if bool(labelled.any()):
                data = loss_fn(_full_precision(self.fields(pred[labelled])), self.fields(y[labelled]))
                total = total + self.data_weight * data
        if not isinstance(total, torch.Tensor):  # a batch without labels in data-only training
            total = pred.sum() * 0.0
        return total

    def predict(self, forward: Forward, x: torch.Tensor, y: torch.Tensor, feedback: Feedback) -> torch.Tensor:
        if self.includes_initial:
            return drop_initial_frame(autoregressive_step(forward, x))
        return self.base.predict(forward, x, y, feedback)

    def __repr__(self) -> str:
        return (
            f"PhysicsTask({type(self.base).__name__}, physics_weight={self.physics_weight:g}, "
            f"data_weight={self.data_weight:g}, refine={self.refine})"
        )


def drop_initial_frame(frames: torch.Tensor) -> torch.Tensor:
    """The predicted future ``(B, m, C, *space)`` of a space-time output ``(B, m + 1, C, *space)`` whose first
    frame is the model's copy of the initial state."""
    return frames[:, 1:]


def _full_precision(t: torch.Tensor) -> torch.Tensor:
    """Half-precision outputs of autocast in float32 (residuals and norms are never taken in half)."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def _operator(forward: Forward, x: torch.Tensor) -> torch.Tensor:
    return forward(x)
