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
        Length of the stream; None: unbounded (up to the seed range, ``S + i < 2**63``).
    """

    def __init__(self, seed: int, chunk: int, max_samples: int | None = None) -> None:
        if int(chunk) < 1:
            raise ValueError(f"chunk={chunk} must be at least 1 (online.chunk)")
        if max_samples is not None and int(max_samples) < 1:
            raise ValueError(f"max_samples={max_samples} must be at least 1 or None (--max-samples)")
        limit = 2**63 - int(seed) if max_samples is None else int(max_samples)
        self.seed = check_seed_range(seed, limit, "seed")
        self.chunk, self.limit = int(chunk), limit
        self.max_samples = None if max_samples is None else int(max_samples)
        self.frontier = 0
        self.delivered: set[int] = set()
        self.skipped: list[tuple[int, int]] = []  # (index, seed) that failed in the solver
        self.next_index = 0  # start of the next fresh chunk
        self.reissue: deque[list[int]] = deque()
        self.in_flight: dict[int, dict[int, list[int]]] = {}  # worker -> task id -> indices
        self._task_ids = 0

    # -- issuing --------------------------------------------------------------------------------------
    def next_task(self, worker: int) -> tuple[int, list[int], list[int]] | None:
        """The next task for ``worker``: ``(task_id, indices, seeds)``, or None when the stream is issued."""
        if self.reissue:
            indices = self.reissue.popleft()
        elif self.next_index < self.limit:
            stop = min(self.next_index + self.chunk, self.limit)
            indices = list(range(self.next_index, stop))
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
        return index < self.frontier or index in self.delivered

    def deliver(self, index: int) -> None:
        """Record ``index`` as delivered (idempotent) and advance the frontier."""
        if index < self.frontier:
            return
        self.delivered.add(int(index))
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
        """Indices delivered or skipped so far."""
        return self.frontier + len(self.delivered)

    # -- state ----------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The stream position: frontier, delivered indices above it, skipped seeds, the length."""
        return {
            "seed": self.seed,
            "chunk": self.chunk,
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
        self.frontier = int(state["frontier"])
        self.delivered = {int(i) for i in state["delivered"]}
        self.skipped = [(int(i), int(s)) for i, s in state["skipped"]]
        top = max(self.delivered, default=self.frontier - 1) + 1
        self.next_index = min(math.ceil(max(top, self.frontier) / self.chunk) * self.chunk, self.limit)
        left = [i for i in range(self.frontier, self.next_index) if i not in self.delivered]
        self.reissue = deque()
        for i in left:
            if self.reissue and i // self.chunk == self.reissue[-1][-1] // self.chunk:
                self.reissue[-1].append(i)
            else:
                self.reissue.append([i])
        self.in_flight = {}
