"""The training buffer of online learning: samples streamed in by solvers, batches drawn out by the trainer.

Meyer, Schouler, Caulk, Ribes & Raffin, "Training Deep Surrogate Models with Large Scale Online Learning",
ICML 2023 (the Melissa framework), sec. 3: a bounded in-memory buffer of capacity ``C`` decouples the
solvers from the trainer and de-biases the stream. Training starts once ``watermark`` samples are held;
every batch is drawn by the buffer's policy. With ``n`` residents, ``k`` the batch size:

=============  ==========================================  =========================================
policy         batch drawn                                  when a sample arrives and ``n = C``
=============  ==========================================  =========================================
``fifo``       the ``k`` oldest residents, removed          the producer waits for room
``firo``       ``k`` residents uniformly at random without  the producer waits for room
               replacement, removed (first in, random out)
``reservoir``  ``k`` residents uniformly at random without  it replaces a resident drawn uniformly among
               replacement, kept (they can be drawn again)  those already drawn at least once; the
                                                            producer waits while none has been drawn
=============  ==========================================  =========================================

``fifo`` and ``firo`` use every sample exactly once; ``reservoir`` reuses samples (as an epoch over a
stored set does) while replacing only samples the model has already seen, so no streamed sample is
thrown away unseen. Each sample carries its stream index and how often it was drawn; :meth:`histogram`
counts samples by times seen (Melissa's diagnostic for over-fitting to early samples).

The buffer is thread-safe: a producer thread calls :meth:`put` while the training loop calls :meth:`get`;
both wait on one condition. The buffer draws from its own ``torch.Generator``, whose state is part of
:meth:`state_dict`, so a resumed run draws as the interrupted one would have from the same contents.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch

PolicyName = Literal["fifo", "firo", "reservoir"]


@dataclass
class Entry:
    """One resident sample: its stream index, the sample itself, and how many batches drew it."""

    index: int
    sample: Any
    seen: int = 0


class Policy(ABC):
    """How a buffer draws batches and where an arriving sample goes when it is full."""

    consumes: bool  # drawn samples leave the buffer

    @abstractmethod
    def draw(self, entries: list[Entry], k: int, generator: torch.Generator) -> list[int]:
        """Positions in ``entries`` of the next batch (``k <= len(entries)``)."""

    def replace(self, entries: list[Entry], generator: torch.Generator) -> int | None:
        """Position of the resident an arriving sample replaces in a full buffer; None: wait for room."""
        del entries, generator
        return None


class FIFO(Policy):
    """First in, first out: the ``k`` oldest residents, each used once."""

    consumes = True

    def draw(self, entries: list[Entry], k: int, generator: torch.Generator) -> list[int]:
        return list(range(k))


class FIRO(Policy):
    """First in, random out: ``k`` residents uniformly without replacement, each used once."""

    consumes = True

    def draw(self, entries: list[Entry], k: int, generator: torch.Generator) -> list[int]:
        return torch.randperm(len(entries), generator=generator)[:k].tolist()


class Reservoir(Policy):
    """Residents drawn uniformly without replacement and kept; an arrival replaces a seen resident."""

    consumes = False

    def draw(self, entries: list[Entry], k: int, generator: torch.Generator) -> list[int]:
        return torch.randperm(len(entries), generator=generator)[:k].tolist()

    def replace(self, entries: list[Entry], generator: torch.Generator) -> int | None:
        seen = [i for i, e in enumerate(entries) if e.seen > 0]
        if not seen:
            return None
        return seen[int(torch.randint(len(seen), (1,), generator=generator))]


POLICIES: dict[str, type[Policy]] = {"fifo": FIFO, "firo": FIRO, "reservoir": Reservoir}


class StreamError(RuntimeError):
    """The producers of a buffer failed for good (every worker died, or a solver error under ``raise``)."""


class SampleBuffer:
    """Bounded, thread-safe buffer of streamed samples with a watermark and a drawing policy.

    Parameters
    ----------
    capacity : int
        Most samples held at once (``C``).
    policy : {"fifo", "firo", "reservoir"}
        How batches are drawn and full buffers refilled (module docstring).
    watermark : int, optional
        Samples that must be held before the first batch is drawn (default: ``capacity``); at most
        ``capacity``.
    seed : int
        Seeds the buffer's own generator (random draws and replacements).

    References
    ----------
    Meyer et al., ICML 2023 (arXiv 2306.16133), sec. 3.2 "training buffer".
    """

    def __init__(
        self, capacity: int, policy: PolicyName = "reservoir", *, watermark: int | None = None, seed: int = 0
    ) -> None:
        if int(capacity) < 1:
            raise ValueError(f"buffer capacity={capacity} must be at least 1 (online.buffer_size)")
        if policy not in POLICIES:
            raise ValueError(f"buffer policy={policy!r} is not one of {sorted(POLICIES)} (online.policy)")
        watermark = int(capacity) if watermark is None else int(watermark)
        if not 1 <= watermark <= int(capacity):
            raise ValueError(
                f"buffer watermark={watermark} must lie in [1, capacity={capacity}] (online.watermark)"
            )
        self.capacity, self.watermark, self.policy_name = int(capacity), watermark, policy
        self.policy = POLICIES[policy]()
        self.generator = torch.Generator().manual_seed(int(seed))
        self.entries: list[Entry] = []
        self.departed: Counter[int] = Counter()  # times seen -> samples that left the buffer
        self.started = False  # the watermark was reached once
        self.finished = False  # no more samples will arrive
        self.received = 0
        self.error: BaseException | None = None
        self.lock = threading.Condition()

    # -- producer side --------------------------------------------------------------------------------
    def put(self, index: int, sample: Any, *, on_insert: Callable[[int], None] | None = None) -> bool:
        """Insert a sample, waiting while the policy asks for room; False if the buffer was closed.

        ``on_insert(index)`` runs under the buffer's lock once the sample is in, so a :meth:`state_dict`
        taken by another thread never sees the sample without the caller's record of it.
        """
        with self.lock:
            while True:
                if self.finished or self.error is not None:
                    return False
                if len(self.entries) < self.capacity:
                    break
                slot = self.policy.replace(self.entries, self.generator)
                if slot is not None:
                    self.departed[self.entries.pop(slot).seen] += 1
                    break
                self.lock.wait(0.5)
            self.entries.append(Entry(int(index), sample))
            self.received += 1
            if on_insert is not None:
                on_insert(int(index))
            self.lock.notify_all()
            return True

    def finish(self) -> None:
        """No more samples will arrive: consuming policies hand out what is left, then :meth:`get` ends."""
        with self.lock:
            self.finished = True
            self.lock.notify_all()

    def fail(self, error: BaseException) -> None:
        """The producers failed: every waiting and future :meth:`get` raises ``error``."""
        with self.lock:
            self.error = error
            self.lock.notify_all()

    # -- consumer side --------------------------------------------------------------------------------
    def ready(self, k: int) -> bool:
        """Whether a batch of ``k`` can be drawn now without waiting (watermark reached, enough samples)."""
        with self.lock:
            return self._can_draw(k)

    def _can_draw(self, k: int) -> bool:
        n = len(self.entries)
        if not self.started and n < self.watermark and not self.finished:
            return False
        return n >= k or (self.finished and n > 0)

    def get(self, k: int, *, timeout: float | None = None) -> tuple[list[Entry], bool] | None:
        """Draw a batch of ``k`` samples: ``(entries, waited)``, or None when the stream is over.

        Waits until the watermark was reached once and ``k`` samples are held (after :meth:`finish`, the
        last batch may be smaller). ``waited`` says whether the caller had to wait. Raises the producers'
        error (:meth:`fail`), or ``TimeoutError`` after ``timeout`` seconds without a batch.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        waited = False
        with self.lock:
            while True:
                if self.error is not None:
                    raise self.error
                if self._can_draw(k):
                    break
                if self.finished and not self.entries:
                    return None
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(
                        f"no batch of {k} samples within {timeout:.0f} s: the buffer holds {len(self.entries)} "
                        f"of watermark {self.watermark}; the solver workers are too slow or stuck (raise "
                        f"online.timeout, or lower online.watermark)"
                    )
                waited = True
                self.lock.wait(0.5 if left is None else min(left, 0.5))
            self.started = True
            picks = self.policy.draw(self.entries, min(k, len(self.entries)), self.generator)
            batch = [self.entries[i] for i in picks]
            for entry in batch:
                entry.seen += 1
            if self.policy.consumes:
                for i in sorted(picks, reverse=True):
                    self.departed[self.entries.pop(i).seen] += 1
            self.lock.notify_all()
            return batch, waited

    # -- diagnostics and state ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.entries)

    def histogram(self) -> dict[int, int]:
        """Samples by how many batches drew them: ``{times_seen: n_samples}``, departed and resident."""
        with self.lock:
            counts = Counter(self.departed)
            counts.update(e.seen for e in self.entries)
            return dict(sorted(counts.items()))

    def indices(self) -> list[int]:
        """Stream indices of the residents, oldest first."""
        with self.lock:
            return [e.index for e in self.entries]

    def state_dict(self) -> dict[str, Any]:
        """Residents (index, times seen; not the samples: they are regenerated from their seeds), the
        departed histogram, counters and the generator state. Call under ``self.lock`` to pair it with
        other state atomically (the lock is reentrant)."""
        with self.lock:
            return {
                "policy": self.policy_name,
                "capacity": self.capacity,
                "indices": [e.index for e in self.entries],
                "seen": [e.seen for e in self.entries],
                "departed": {int(k): int(v) for k, v in self.departed.items()},
                "started": self.started,
                "received": self.received,
                "generator": self.generator.get_state(),
            }

    def load_state_dict(self, state: dict[str, Any], samples: dict[int, Any]) -> None:
        """Restore :meth:`state_dict` with the residents' samples regenerated (``{index: sample}``)."""
        if state["policy"] != self.policy_name or int(state["capacity"]) != self.capacity:
            raise ValueError(
                f"cannot resume the buffer: it was a {state['policy']!r} buffer of capacity {state['capacity']}, "
                f"this run has {self.policy_name!r} with capacity {self.capacity}; resume with the same "
                f"online.policy and online.buffer_size"
            )
        missing = [i for i in state["indices"] if i not in samples]
        if missing:
            raise ValueError(f"cannot rebuild the buffer: samples {missing[:5]} were not regenerated")
        with self.lock:
            self.entries = [
                Entry(int(i), samples[int(i)], int(s)) for i, s in zip(state["indices"], state["seen"])
            ]
            self.departed = Counter({int(k): int(v) for k, v in state["departed"].items()})
            self.started, self.received = bool(state["started"]), int(state["received"])
            self.generator.set_state(state["generator"])
            self.lock.notify_all()
