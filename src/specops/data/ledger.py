"""Which samples of an online stream exist: issued, delivered, skipped; the stream position of a checkpoint.

Sample ``i`` of a stream with base seed ``S`` is made from seed ``S + i`` (as ``specops generate``), so the
stream is the sequence of indices ``0, 1, 2, ...`` (up to ``max_samples``). Indices are issued in chunks of
``chunk`` consecutive indices aligned on multiples of ``chunk`` (one call to the solver each, like the
batches of ``generate``); chunks may be delivered out of order by several workers. The ledger keeps

- the *frontier* ``f``: every index below ``f`` was delivered (or skipped after a solver failure);
- the delivered indices above ``f`` (bounded by the chunks in flight);
- the chunks in flight per worker, so a dead worker's chunks are issued again.

A delivery of an index already delivered is ignored, so a re-issued chunk whose first copy arrives late
duplicates nothing. :meth:`state_dict` is the stream position; a ledger restored from it issues again
exactly the indices not delivered, then continues with fresh chunks: resuming loses no index and repeats
none.

Several trainer processes (DDP ranks) share one stream by chunks: rank ``r`` of ``W`` owns chunks
``r, r + W, r + 2W, ...``, so the ranks' shares are disjoint and their union is the one-process stream.
A ledger keeps its bookkeeping in *local* indices ``j = 0, 1, ...`` of its share (frontier, delivered,
state); ``to_global`` maps ``j`` to the stream index ``g = ((j // c) W + r) c + j mod c`` (``c`` the
chunk), and tasks, deliveries and seeds use ``g``. With ``W = 1`` both are the same.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from specops.seeding import check_seed_range


class SeedLedger:
    """Bookkeeping of the indices of one stream (module docstring).

    Parameters
    ----------
    seed : int
        Base seed ``S``: index ``i`` uses seed ``S + i``.
    chunk : int
        Indices per task (per solver call).
    max_samples : int, optional
        Length of the whole stream (all ranks); None: unbounded (up to the seed range, ``S + i < 2**63``).
    rank, world_size : int
        This ledger's share of the stream: chunks ``rank, rank + world_size, ...`` (module docstring).
    """

    def __init__(
        self, seed: int, chunk: int, max_samples: int | None = None, *, rank: int = 0, world_size: int = 1
    ) -> None:
        if int(chunk) < 1:
            raise ValueError(f"chunk={chunk} must be at least 1 (online.chunk)")
        if max_samples is not None and int(max_samples) < 1:
            raise ValueError(f"max_samples={max_samples} must be at least 1 or None (--max-samples)")
        if not 0 <= int(rank) < int(world_size):
            raise ValueError(f"rank={rank} must lie in [0, world_size={world_size})")
        total = 2**63 - int(seed) if max_samples is None else int(max_samples)
        self.seed = check_seed_range(seed, total, "seed")
        self.chunk, self.rank, self.world_size = int(chunk), int(rank), int(world_size)
        self.max_samples = None if max_samples is None else int(max_samples)
        self.limit = self._share_of(total)  # local indices of this rank's share
        self.frontier = 0
        self.delivered: set[int] = set()
        self.skipped: list[tuple[int, int]] = []  # (index, seed) that failed in the solver
        self.next_index = 0  # start of the next fresh chunk
        self.reissue: deque[list[int]] = deque()
        self.in_flight: dict[int, dict[int, list[int]]] = {}  # worker -> task id -> indices
        self._task_ids = 0

    def _share_of(self, total: int) -> int:
        """How many of the stream indices ``0 .. total - 1`` lie in this rank's chunks."""
        full, rest = divmod(total, self.chunk)
        mine = len(range(self.rank, full, self.world_size)) * self.chunk
        return mine + (rest if full % self.world_size == self.rank else 0)

    def to_global(self, local: int) -> int:
        """Stream index of local index ``local`` of this rank's share."""
        block, offset = divmod(int(local), self.chunk)
        return (block * self.world_size + self.rank) * self.chunk + offset

    def to_local(self, index: int) -> int:
        """Local index of stream index ``index`` (which must lie in this rank's share)."""
        block, offset = divmod(int(index), self.chunk)
        if block % self.world_size != self.rank:
            raise ValueError(
                f"stream index {index} is not in the share of rank {self.rank}/{self.world_size}"
            )
        return (block // self.world_size) * self.chunk + offset

    def delivered_indices(self) -> list[int]:
        """The stream indices delivered (or skipped) so far, ascending."""
        return [self.to_global(j) for j in [*range(self.frontier), *sorted(self.delivered)]]

    # -- issuing --------------------------------------------------------------------------------------
    def next_task(self, worker: int) -> tuple[int, list[int], list[int]] | None:
        """The next task for ``worker``: ``(task_id, indices, seeds)``, or None when the stream is issued."""
        if self.reissue:
            indices = self.reissue.popleft()
        elif self.next_index < self.limit:
            stop = min(self.next_index + self.chunk, self.limit)
            indices = [self.to_global(j) for j in range(self.next_index, stop)]
            self.next_index = stop
        else:
            return None
        self._task_ids += 1
        self.in_flight.setdefault(worker, {})[self._task_ids] = indices
        return self._task_ids, indices, [self.seed + i for i in indices]

    def outstanding(self, worker: int) -> int:
        """Tasks in flight on ``worker``."""
        return len(self.in_flight.get(worker, {}))

    def lost(self, worker: int) -> list[list[int]]:
        """``worker`` died: its tasks' undelivered indices are issued again first; returns them."""
        tasks = self.in_flight.pop(worker, {})
        again = []
        for indices in tasks.values():
            left = [i for i in indices if not self.is_delivered(i)]
            if left:
                again.append(left)
        self.reissue.extendleft(reversed(again))
        return again

    def finish_task(self, worker: int, task_id: int) -> None:
        """``worker`` answered ``task_id`` (its samples are being delivered)."""
        self.in_flight.get(worker, {}).pop(task_id, None)

    # -- delivery -------------------------------------------------------------------------------------
    def is_delivered(self, index: int) -> bool:
        """Whether stream index ``index`` was delivered (or skipped)."""
        local = self.to_local(index)
        return local < self.frontier or local in self.delivered

    def deliver(self, index: int) -> None:
        """Record stream index ``index`` as delivered (idempotent) and advance the frontier."""
        local = self.to_local(index)
        if local < self.frontier:
            return
        self.delivered.add(local)
        while self.frontier in self.delivered:
            self.delivered.remove(self.frontier)
            self.frontier += 1

    def skip(self, index: int) -> None:
        """``index`` failed in the solver and is skipped by policy: it counts as delivered."""
        if not self.is_delivered(index):
            self.skipped.append((int(index), self.seed + int(index)))
            self.deliver(index)

    @property
    def complete(self) -> bool:
        """Every index of a bounded stream was delivered or skipped."""
        return self.frontier >= self.limit

    @property
    def count(self) -> int:
        """Indices of this share delivered or skipped so far."""
        return self.frontier + len(self.delivered)

    # -- state ----------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The stream position: frontier, delivered (local) indices above it, skipped seeds, the share."""
        return {
            "seed": self.seed,
            "chunk": self.chunk,
            "rank": self.rank,
            "world_size": self.world_size,
            "max_samples": self.max_samples,
            "frontier": self.frontier,
            "delivered": sorted(self.delivered),
            "skipped": [list(s) for s in self.skipped],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue the stream of ``state``: undelivered indices below the last issued chunk first."""
        if int(state["seed"]) != self.seed or int(state["chunk"]) != self.chunk:
            raise ValueError(
                f"cannot resume the stream: it had seed={state['seed']}, chunk={state['chunk']}, this run has "
                f"seed={self.seed}, chunk={self.chunk}; resume with the same online.seed and online.chunk"
            )
        share = (int(state.get("rank", 0)), int(state.get("world_size", 1)))
        if share != (self.rank, self.world_size):
            raise ValueError(
                f"cannot resume the stream: it was the share of rank {share[0]} of {share[1]} trainer "
                f"process(es), this ledger is rank {self.rank} of {self.world_size}; resume with the same "
                f"number of processes (torchrun --nproc_per_node)"
            )
        self.frontier = int(state["frontier"])
        self.delivered = {int(i) for i in state["delivered"]}
        self.skipped = [(int(i), int(s)) for i, s in state["skipped"]]
        top = max(self.delivered, default=self.frontier - 1) + 1
        self.next_index = min(math.ceil(max(top, self.frontier) / self.chunk) * self.chunk, self.limit)
        left = [i for i in range(self.frontier, self.next_index) if i not in self.delivered]
        self.reissue = deque()
        for i in (self.to_global(j) for j in left):
            if self.reissue and i // self.chunk == self.reissue[-1][-1] // self.chunk:
                self.reissue[-1].append(i)
            else:
                self.reissue.append([i])
        self.in_flight = {}
