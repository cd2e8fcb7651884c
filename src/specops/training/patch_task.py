"""Patch-level training of a ``MultigridPatching`` model: the loss of each (sample, patch) item on its own.

MG-TFNO (Kossaifi et al., "Multi-Grid Tensorized Fourier Neural Operator for High-Resolution PDEs", TMLR
2024, sec. 3.3) trains on patches: a step's batch holds patches, not whole fields, so a step holds the
activations of its patches only and the patches of one field can go to different processes. With items
``(i, j)`` from ``specops.data.patches.PatchItems``, the training loss of a batch is

    ``L = loss_fn( G_j(x_i), core_j(y_i) )``,   ``G_j(x) = crop(model(V(x)[j]))``,

where ``V(x)[j]`` are patch ``j``'s views (the patch and its coarse levels, cut from the whole encoded
input) and ``core_j`` cuts the patch's points (overlap excluded) out of the encoded target. The stitched
model restricted to patch ``j`` is exactly ``G_j`` (``MultigridPatching``), so for a loss that is a mean
over points, such as the squared L2 error, the mean over the ``P`` equal patches of a field is the
whole-field loss:

    ``mean_j ||G_j(x) - core_j(y)||^2 / |core| = ||G(x) - y||^2 / |grid|``.

A relative loss is relative per patch: ``||e_j|| / ||y_j||`` weighs each patch by its own norm and is not
additive (the whole-field relative L2 squared is ``sum_j ||e_j||^2 / sum_j ||y_j||^2``). Validation and
evaluation stitch whole fields, as for a model trained on whole fields.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import NamedTuple

import torch
from torch import nn

from specops.models.patching import patch_cores
from specops.training.tasks import AutoregressiveTask, Feedback, Forward, OperatorTask


class PatchInput(NamedTuple):
    """An encoded input batch of whole fields ``(B, ..., *space)`` and each item's patch position ``(B,)``
    (how ``training.validation.encoded_batch`` hands patch items to the task)."""

    fields: torch.Tensor
    positions: torch.Tensor


class PatchTask:
    """Train on (sample, patch) items: the base task's loss on each item's patch core.

    Parameters
    ----------
    base : OperatorTask or AutoregressiveTask
        What a batch means; its loss is taken on the patch cores, its prediction (validation) on whole
        fields. A pushforward (unrolled) task feeds whole predicted fields back and cannot be split.
    patches : sequence of int
        Patches per axis of the ``MultigridPatching`` model being trained (``model.patches``).

    The model's forward must accept ``positions=`` (``MultigridPatching`` does; so does a
    ``DistributedDataParallel`` or compiled wrapper around it, which pass keyword arguments on).
    """

    def __init__(self, base: OperatorTask | AutoregressiveTask, patches: Sequence[int]) -> None:
        if type(base) not in (OperatorTask, AutoregressiveTask):
            raise ValueError(
                f"patch-level training supports train.mode=operator and train.mode=autoregressive, not "
                f"{type(base).__name__}: an unrolled rollout feeds whole predicted fields back"
            )
        patches = tuple(int(p) for p in patches)
        if not 1 <= len(patches) <= 3 or any(p < 1 for p in patches):
            raise ValueError(f"patches={list(patches)} must be 1 to 3 positive counts, one per spatial axis")
        self.base = base
        self.patches = patches
        self.fields = base.fields

    def loss(
        self, forward: Forward, x: PatchInput, y: torch.Tensor, loss_fn: nn.Module, feedback: Feedback
    ) -> torch.Tensor:
        """``loss_fn`` between the model's output on each item's patch and that patch's target core."""
        if not isinstance(x, PatchInput):
            raise ValueError(
                f"patch-level training needs batches of (sample, patch) items, got whole fields "
                f"{tuple(x.shape)} without patch positions: wrap the training set in "
                f"specops.data.patches.PatchItems(data, n_patches={self.n_patches})"
            )
        target = patch_cores(y, self.patches, x.positions)
        return self.base.loss(partial(forward, positions=x.positions), x.fields, target, loss_fn, feedback)

    def predict(self, forward: Forward, x: torch.Tensor, y: torch.Tensor, feedback: Feedback) -> torch.Tensor:
        """The stitched prediction of whole fields (validation)."""
        return self.base.predict(forward, x, y, feedback)

    @property
    def n_patches(self) -> int:
        """Patches per field."""
        return math.prod(self.patches)

    def __repr__(self) -> str:
        return f"PatchTask({type(self.base).__name__}, patches={list(self.patches)})"
