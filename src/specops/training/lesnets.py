"""LESnets: neural operators trained on the LES equations without labels, predicting blocks of frames.

A block model maps a filtered velocity ``u(t) (batch, 3, n, n, n)`` to the next ``m`` frames
``u(t + dt) .. u(t + m dt)`` ``(batch, m, 3, n, n, n)``; long predictions chain blocks autoregressively,
each block starting from the previous block's last frame (LESnets predict 10-frame blocks 25 times).
Training minimises the ``LESResidual`` of ``[u(t), prediction]`` (``PhysicsLoss``) over random initial
fields: no solver output is used, only the filtered initial fields (Zhao et al., JCP 537, 114125, 2025,
sec. 3). ``C_s^2`` may be learned (``SmagorinskyCoefficient``) with its own learning rate; an optional data
term (relative L2 to reference frames, ``data_weight``, LESnets' ``xy_weight``) identifies it.

Here the operator is any registered 3D model with ``in_channels = 3`` and ``out_channels = 3 m`` (FNO or
IFNO with three mode counts): the frames of a block are output channels. LESnets' own FNO is 4D (modes in
time too); specops' spectral convolutions are 1D to 3D, so the time axis is carried by channels.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from specops.physics.les import LESResidual, SmagorinskyCoefficient
from specops.physics.loss import PhysicsLoss


class BlockModel(nn.Module):
    """``u (B, 3, *space) -> (B, frames, 3, *space)``: an operator whose ``3 frames`` output channels are the frames.

    Parameters
    ----------
    model : nn.Module
        A 3D operator ``(B, 3, n, n, n) -> (B, 3 frames, n, n, n)`` (e.g. ``create_model("fno", n_modes=(8,) * 3,
        in_channels=3, out_channels=3 * frames)``).
    frames : int
        Frames per block ``m``.
    residual_output : bool
        Predict ``u(t + j dt) = u(t) + model(u)_j`` (the model learns increments; LESnets predict frames
        directly, False).
    """

    def __init__(self, model: nn.Module, frames: int, residual_output: bool = True) -> None:
        super().__init__()
        frames = int(frames)
        if frames < 1:
            raise ValueError(f"frames={frames} must be at least 1")
        c_in, c_out = getattr(model, "in_channels", 3), getattr(model, "out_channels", 3 * frames)
        if c_in != 3 or c_out != 3 * frames:
            raise ValueError(
                f"the model maps {c_in} channels to {c_out}; a block model of {frames} frames of a 3D velocity "
                f"needs in_channels=3 and out_channels={3 * frames}"
            )
        self.model, self.frames, self.residual_output = model, frames, bool(residual_output)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """The next ``frames`` frames ``(B, frames, 3, *space)`` of velocities ``u (B, 3, n_x, n_y, n_z)``."""
        if u.dim() != 5 or u.shape[1] != 3:
            raise ValueError(
                f"u has shape {tuple(u.shape)}; a 3D velocity model takes (batch, 3, n_x, n_y, n_z) (a 2D field or "
                f"a scalar field is not a 3D velocity: generate hit-* or taylor-green-3d data)"
            )
        out = self.model(u).unflatten(1, (self.frames, 3))
        return out + u.unsqueeze(1) if self.residual_output else out

    @torch.no_grad()
    def rollout(self, u0: torch.Tensor, blocks: int) -> torch.Tensor:
        """``u0`` and ``blocks`` chained blocks: ``(B, 1 + blocks frames, 3, *space)``."""
        frames, u = [u0.unsqueeze(1)], u0
        for _ in range(int(blocks)):
            block = self(u)
            frames.append(block)
            u = block[:, -1]
        return torch.cat(frames, dim=1)


def train_lesnets(
    model: BlockModel,
    initial_fields: torch.Tensor,
    residual: LESResidual,
    *,
    steps: int,
    lr: float = 1e-3,
    batch_size: int = 1,
    milestones: Sequence[int] = (),
    coefficient: SmagorinskyCoefficient | None = None,
    coefficient_lr: float = 1e-4,
    targets: torch.Tensor | None = None,
    data_weight: float = 0.0,
    seed: int = 0,
) -> list[float]:
    """Train ``model`` on the LES residual from ``initial_fields (N, 3, *space)``; returns the loss per step.

    Adam with learning rate ``lr`` decayed by 10 at ``milestones`` (LESnets: 1e-3, x0.1 at 4k/10k/20k of 30k);
    ``coefficient``'s parameter in its own group at ``coefficient_lr``. With ``targets (N, frames, 3, *space)``
    and ``data_weight > 0`` the loss adds ``data_weight`` times the relative L2 error to them.
    """
    if initial_fields.dim() != 5 or initial_fields.shape[1] != 3:
        raise ValueError(f"initial_fields has shape {tuple(initial_fields.shape)}; expected (N, 3, n, n, n)")
    if targets is not None and targets.shape != (
        initial_fields.shape[0],
        model.frames,
        *initial_fields.shape[1:],
    ):
        raise ValueError(
            f"targets {tuple(targets.shape)} must be (N, {model.frames}, 3, *space) like the fields"
        )
    physics = PhysicsLoss(residual)
    groups = [{"params": list(model.parameters()), "lr": float(lr)}]
    if coefficient is not None:
        groups.append({"params": list(coefficient.parameters()), "lr": float(coefficient_lr)})
    optimizer = torch.optim.Adam(groups)
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(milestones), gamma=0.1)
    generator = torch.Generator().manual_seed(int(seed))
    n = initial_fields.shape[0]
    history = []
    for _ in range(int(steps)):
        index = torch.randint(n, (int(batch_size),), generator=generator)
        u0 = initial_fields[index]
        pred = model(u0)
        loss = physics(u0.unsqueeze(1), pred)
        if targets is not None and data_weight > 0:
            ref = targets[index]
            loss = loss + data_weight * ((pred - ref).norm() / ref.norm())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if coefficient is not None:
            with torch.no_grad():
                coefficient.value.clamp_(min=0.0)
        history.append(float(loss.detach()))
    return history
