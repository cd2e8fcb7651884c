"""Data-parallel training over several processes (``torchrun``); the only module that touches
``torch.distributed``.

Launch with ``torchrun --nproc_per_node=N -m specops train ...``: every process builds the same model,
``init_distributed`` joins the process group from the environment torchrun sets (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``), the model is wrapped in ``DistributedDataParallel``
(gradients are averaged over processes after each backward pass), and each process reads its own
shard of every epoch. The batch size is per process: N processes with batch ``B`` take the same steps
as one process with batch ``N * B``. Logs and checkpoints are written by rank 0 only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, IterableDataset
from torch.utils.data.distributed import DistributedSampler

from specops.device import resolve_device


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands: its rank among ``world_size`` processes and its local device index."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that logs and writes checkpoints."""
        return self.rank == 0


def init_distributed(backend: str | None = None) -> DistributedContext:
    """Join the process group described by torchrun's environment; a single process when there is none.

    ``backend`` defaults to ``nccl`` when CUDA is available and ``gloo`` otherwise. With CUDA, each
    process uses the GPU ``LOCAL_RANK``.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistributedContext()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        if backend is None:
            backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    return DistributedContext(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank)


def shutdown(ctx: DistributedContext) -> None:
    """Leave the process group (call once at the end of a distributed run).

    Every process waits for the others first: rank 0 hosts the rendezvous store, and tearing it down
    while another process still uses it aborted rank 0 at exit (about one run in ten of the two-process
    test).
    """
    if ctx.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def device_for(ctx: DistributedContext, requested: str = "auto") -> torch.device:
    """``requested`` (``auto``, ``cpu``, ``cuda``, ``cuda:1`` ...); ``auto``/``cuda`` pick this rank's GPU."""
    device = resolve_device(requested, what="train.device")
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", ctx.local_rank if ctx.enabled else torch.cuda.current_device())
    return device


def wrap_model(model: nn.Module, ctx: DistributedContext, device: torch.device) -> nn.Module:
    """``DistributedDataParallel(model)`` in a multi-process run, ``model`` itself otherwise."""
    if not ctx.enabled:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def all_reduce_sum(tensor: torch.Tensor, ctx: DistributedContext) -> torch.Tensor:
    """Sum ``tensor`` over all processes (in place) and return it; a no-op for one process."""
    if ctx.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_reduce_max(value: int, ctx: DistributedContext) -> int:
    """The largest of every process's ``value`` (e.g. a status code all ranks must agree on); ``value``
    itself for one process."""
    if not ctx.enabled:
        return int(value)
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
    tensor = torch.tensor([int(value)], dtype=torch.int64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return int(tensor.item())


def all_gather_objects(obj: Any, ctx: DistributedContext) -> list[Any]:
    """``[obj of rank 0, obj of rank 1, ...]`` on every process (small picklable objects, such as a
    stream's state); ``[obj]`` for one process."""
    if not ctx.enabled:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def barrier(ctx: DistributedContext) -> None:
    """Wait for every process (e.g. until rank 0 has written a checkpoint)."""
    if ctx.enabled:
        dist.barrier()


class ResumableSampler(DistributedSampler):
    """``DistributedSampler`` that can start part-way through an epoch.

    The order of epoch ``e`` is a permutation drawn from ``seed + e`` (the same in every process and in
    every run), split across processes; ``set_epoch(e, start=n)`` skips the first ``n`` indices of this
    process's share, so a run resumed after ``n // batch_size`` batches sees exactly the batches it would
    have seen without the interruption. With one process it is a seeded shuffle of the whole dataset.
    """

    def __init__(self, dataset: Dataset, ctx: DistributedContext, *, shuffle: bool = True, seed: int = 0):
        super().__init__(
            dataset, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=shuffle, seed=seed, drop_last=False
        )
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:  # type: ignore[override]
        super().set_epoch(epoch)
        self.start = int(start)

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        return iter(indices[self.start :])

    def __len__(self) -> int:
        return max(self.num_samples - self.start, 0)


def epoch_loader(
    data: Dataset,
    ctx: DistributedContext,
    *,
    batch_size: int,
    seed: int,
    num_workers: int = 0,
    pin: bool = False,
) -> DataLoader:
    """Batches of this process's share of ``data`` in the seeded, resumable order of
    :class:`ResumableSampler` (``loader.sampler``); seed ``loader.generator`` per epoch for workers."""
    return DataLoader(
        data,
        batch_size=batch_size,
        sampler=ResumableSampler(data, ctx, shuffle=True, seed=seed),
        num_workers=num_workers,
        pin_memory=pin,
        generator=torch.Generator(),
        persistent_workers=False,
    )


def training_batches(
    data: Dataset | Iterable,
    ctx: DistributedContext,
    *,
    batch_size: int,
    seed: int,
    num_workers: int = 0,
    pin: bool = False,
    epochs: int,
    max_steps: int | None = None,
) -> tuple[Iterable, ResumableSampler | None, int | None, int]:
    """``(batches, sampler or None, steps per epoch or None, total steps)`` of a training run.

    A map-style dataset goes through :func:`epoch_loader`; any other iterable (a stream) is used as
    given, one pass per epoch, and needs ``max_steps`` when it has no length.
    """
    if isinstance(data, Dataset) and not isinstance(data, IterableDataset):
        if len(data) == 0:
            raise ValueError("the training dataset is empty")
        loader = epoch_loader(data, ctx, batch_size=batch_size, seed=seed, num_workers=num_workers, pin=pin)
        sampler, steps_per_epoch = loader.sampler, len(loader)
    else:
        loader, sampler = data, None
        steps_per_epoch = len(data) if hasattr(data, "__len__") else None
    if max_steps is not None:
        total = int(max_steps)
    elif steps_per_epoch is not None:
        total = int(epochs) * steps_per_epoch
    else:
        raise ValueError("a training stream without a length needs max_steps (train.max_steps)")
    return loader, sampler, steps_per_epoch, total


def shard_indices(n: int, ctx: DistributedContext) -> range:
    """This process's share ``rank, rank + N, ...`` of ``n`` items, without padding (for evaluation)."""
    return range(ctx.rank, n, ctx.world_size)
