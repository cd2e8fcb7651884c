"""Validation during training: the mean loss on encoded fields and the relative L2 error on decoded
predictions (physical units), summed over every process of a multi-process run."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, IterableDataset

from specops.data.patches import PATCH_KEY
from specops.metrics import relative_l2
from specops.models.normalization import FieldNormalization
from specops.training import distributed as ddp
from specops.training.patch_task import PatchInput
from specops.training.tasks import Task, unpack_batch


def encoded_batch(
    batch: Any, normalization: FieldNormalization, device: torch.device
) -> tuple[torch.Tensor | PatchInput, torch.Tensor, torch.Tensor]:
    """``(x, y)`` of ``batch`` on ``device``, encoded, and the raw ``y`` for physical metrics. A batch of
    (sample, patch) items (``data.patches.PatchItems``) gives ``x`` as a ``PatchInput``: the encoded whole
    fields and the items' patch positions, for ``PatchTask``."""
    x, y = unpack_batch(batch)
    nb = device.type == "cuda"
    x, y = x.to(device, non_blocking=nb), y.to(device, non_blocking=nb)
    encoded = normalization.encode_input(x)
    if isinstance(batch, dict) and PATCH_KEY in batch:
        encoded = PatchInput(encoded, torch.as_tensor(batch[PATCH_KEY]).to(device, non_blocking=nb))
    return encoded, normalization.encode_target(y), y


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """Mixed precision in ``dtype`` on ``device``'s type (``None``: full precision)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def validation_batches(data: Dataset | Iterable, ctx: ddp.DistributedContext, batch_size: int) -> Iterable:
    """This process's share of a map-style dataset in batches; any other iterable as given."""
    if isinstance(data, Dataset) and not isinstance(data, IterableDataset):
        indices = list(ddp.shard_indices(len(data), ctx))
        return DataLoader(torch.utils.data.Subset(data, indices), batch_size=batch_size)
    return data


@torch.no_grad()
def validate(
    model: nn.Module,
    batches: Iterable,
    *,
    task: Task,
    loss_fn: Callable,
    normalization: FieldNormalization,
    device: torch.device,
    ctx: ddp.DistributedContext,
    amp_dtype: torch.dtype | None = None,
) -> dict[str, float]:
    """``{"val_loss", "val_rel_l2"}``: sample-weighted means over ``batches`` (and over processes)."""
    totals = torch.zeros(3, dtype=torch.float64, device=device)
    was_training = model.training
    model.eval()
    fields = task.fields
    try:
        for batch in batches:
            x, y, raw = encoded_batch(batch, normalization, device)
            with autocast(device, amp_dtype):
                pred = task.predict(model, x, y, normalization.feedback).float()
            loss = loss_fn(fields(pred), fields(y))
            rel = relative_l2(fields(normalization.decode_output(pred)), fields(raw))
            n = torch.tensor(raw.shape[0], dtype=torch.float64, device=device)
            totals += torch.stack([loss.double() * n, rel.double().mean(1).sum(), n])
    finally:
        model.train(was_training)
    ddp.all_reduce_sum(totals, ctx)
    count = max(totals[2].item(), 1.0)
    return {"val_loss": totals[0].item() / count, "val_rel_l2": totals[1].item() / count}
