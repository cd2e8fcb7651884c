"""Online training data: solver workers stream fresh samples into a buffer, the trainer draws batches.

The design of Melissa (Meyer et al., "Training Deep Surrogate Models with Large Scale Online Learning",
ICML 2023): nothing touches the disk, generation and training overlap, and the model sees as many distinct
samples as the solvers can make in the training time. Three parts:

- a pool of solver workers (:class:`~specops.data.workers.ProcessPool` on one machine,
  :class:`~specops.data.ray_pool.RayPool` on a Ray cluster) that turn tasks of seeds into samples;
- a :class:`~specops.data.ledger.SeedLedger`: sample ``i`` is made from seed ``S + i`` (so any streamed
  sample can be regenerated), which indices were delivered, which are in flight on which worker;
- a :class:`~specops.data.buffer.SampleBuffer` with its policy and watermark.

:class:`SampleStream` joins them with one feeder thread in the training process: it keeps every worker
``prefetch`` tasks ahead, puts the answers into the buffer, restarts a worker that died (up to
``max_restarts`` times each) and issues its unfinished indices again, and fails the buffer with a
:class:`~specops.data.buffer.StreamError` when no worker is left or a solver error is not to be skipped,
so the trainer never waits forever. :class:`OnlineBatches` is what the trainer iterates: batches
``{"x", "y"}`` of raw fields, ``steps_per_epoch`` per pass, until ``max_time`` or the end of a bounded
stream. Its ``state_dict`` (the ledger's position, the buffer's indices, times seen and generator) goes
into the trainer's checkpoints; on resume the buffer is rebuilt by regenerating its indices.

Under DDP every trainer process runs its own stream over its share of the indices (``SeedLedger``'s
``rank``/``world_size``: chunks ``r, r + W, ...``) and the ranks agree at every step whether all of them
have a batch (``agree``), so that they take the same steps.

The stream is reproducible as a multiset: whatever the number of workers, the samples are those of seeds
``S + i``, bit for bit (tested). The order in which they arrive, and so the batches drawn, depends on
timing, as in Melissa.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any, Literal

import torch

from specops.data.buffer import SampleBuffer, StreamError
from specops.data.ledger import SeedLedger

OnError = Literal["skip", "raise"]


class SampleStream:
    """Workers, ledger and buffer of one stream, fed by a background thread (module docstring).

    Parameters
    ----------
    pool : ProcessPool or RayPool
        The workers (not started yet).
    ledger : SeedLedger
    buffer : SampleBuffer
    prefetch : int
        Tasks kept in flight per worker.
    max_restarts : int
        Restarts allowed per worker; a worker that dies more often stays down.
    on_error : {"skip", "raise"}
        A seed whose solve fails (blow-up, NaN): skip it with a warning naming the seed, or stop the stream.
    """

    def __init__(
        self,
        pool: Any,
        ledger: SeedLedger,
        buffer: SampleBuffer,
        *,
        prefetch: int = 2,
        max_restarts: int = 3,
        on_error: OnError = "skip",
    ) -> None:
        if on_error not in ("skip", "raise"):
            raise ValueError(f"on_error={on_error!r} must be 'skip' or 'raise' (online.on_error)")
        self.pool, self.ledger, self.buffer = pool, ledger, buffer
        self.prefetch, self.max_restarts, self.on_error = int(prefetch), int(max_restarts), on_error
        self.restarts = [0] * pool.n_workers
        self.down: set[int] = set()
        self.failures: list[tuple[int, int, str]] = []
        self._restore: dict[str, Any] | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.started_at: float | None = None

    # -- life cycle -----------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the workers and the feeder thread (the buffer is rebuilt first after a resume)."""
        if self._thread is not None:
            return
        self.pool.start()
        self.started_at = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="specops-stream", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the feeder thread and every worker (idempotent)."""
        self._stop.set()
        self.buffer.finish()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.pool.close()

    def __enter__(self) -> SampleStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- state ----------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The ledger's position and the buffer's state, taken together under the buffer's lock."""
        if self._restore is not None:  # resumed but not started: the state loaded is still the state
            return self._restore
        with self.buffer.lock:
            return {"ledger": self.ledger.state_dict(), "buffer": self.buffer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`; the buffer's samples are regenerated when the stream starts."""
        if self._thread is not None:
            raise RuntimeError("load the stream's state before it starts")
        if "ranks" in state:
            raise ValueError(
                f"this stream state holds the shares of {len(state['ranks'])} DDP ranks: resume it with as many "
                f"trainer processes (pipeline.online.RankStreams gives each rank its share)"
            )
        self.ledger.load_state_dict(state["ledger"])
        self._restore = state

    # -- the feeder thread ----------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            if self._restore is not None:
                samples = self._regenerate(self._restore["buffer"]["indices"])
                self.buffer.load_state_dict(self._restore["buffer"], samples)
                self._restore = None
            while not self._stop.is_set():
                self._issue()
                results, dead = self.pool.poll(0.1)
                for wid, result in results:
                    self._deliver(wid, result)
                for wid in dead:
                    self._lost(wid)
                if self.ledger.complete:
                    self.buffer.finish()
                    return
        except BaseException as exc:  # handed to the trainer through the buffer
            self.buffer.fail(
                exc if isinstance(exc, StreamError) else StreamError(f"the stream failed: {exc!r}")
            )

    def _live(self) -> list[int]:
        return [w for w in range(self.pool.n_workers) if w not in self.down]

    def _issue(self) -> None:
        for wid in self._live():
            while self.ledger.outstanding(wid) < self.prefetch:
                task = self.ledger.next_task(wid)
                if task is None:
                    return
                if not self.pool.submit(wid, task):
                    break  # found dead by the next poll

    def _deliver(self, wid: int, result: tuple) -> None:
        task_id, indices, x, y, failures = result
        self.ledger.finish_task(wid, task_id)
        for index, seed, message in failures:
            if self.ledger.is_delivered(index):
                continue
            if self.on_error == "raise":
                raise StreamError(
                    f"the solver failed for sample {index} (seed {seed}): {message}; set online.on_error=skip "
                    f"to skip such seeds, or change the problem's parameters (--set dt=..., float64)"
                )
            warnings.warn(f"online stream: skipped sample {index} (seed {seed}): {message}", stacklevel=2)
            with self.buffer.lock:
                self.ledger.skip(index)
            self.failures.append((index, seed, message))
        for j, index in enumerate(indices):
            if self.ledger.is_delivered(index):
                continue  # the first copy of a re-issued task already came
            sample = {"x": x[j].clone(), "y": y[j].clone()}  # out of shared memory: one fd per chunk only
            if not self.buffer.put(index, sample, on_insert=self.ledger.deliver):
                self._stop.set()
                return

    def _lost(self, wid: int) -> None:
        self.ledger.lost(wid)
        self.restarts[wid] += 1
        if self.restarts[wid] > self.max_restarts:
            self.down.add(wid)
            if not self._live():
                raise StreamError(
                    f"all {self.pool.n_workers} solver workers died ({sum(self.restarts)} deaths, at most "
                    f"{self.max_restarts} restarts each); {self.ledger.count} samples were delivered. Check "
                    f"the workers' memory and the solver (a crash, not a blow-up), or raise online.max_restarts"
                )
            return
        warnings.warn(
            f"online stream: solver worker {wid} died; restarted, its seeds issued again", stacklevel=2
        )
        self.pool.restart(wid)

    def _regenerate(self, indices: list[int]) -> dict[int, Any]:
        """The samples of ``indices`` (the buffer of a resumed run), made again by the workers."""
        samples: dict[int, Any] = {}
        chunks = [indices[i : i + self.ledger.chunk] for i in range(0, len(indices), self.ledger.chunk)]
        todo = {n: c for n, c in enumerate(chunks)}
        in_flight: dict[int, int] = {}  # task id -> worker
        while todo or in_flight:
            if self._stop.is_set():
                raise StreamError("the stream was closed while rebuilding the buffer")
            for wid in self._live():
                if wid not in in_flight.values() and todo:
                    n = next(iter(todo))
                    chunk = todo.pop(n)
                    if self.pool.submit(wid, (n, chunk, [self.ledger.seed + i for i in chunk])):
                        in_flight[n] = wid
                    else:
                        todo[n] = chunk
            results, dead = self.pool.poll(0.1)
            for _, (n, got, x, y, failures) in results:
                in_flight.pop(n, None)
                if failures:
                    raise StreamError(f"cannot rebuild the buffer: {failures[0][2]} (seed {failures[0][1]})")
                for j, index in enumerate(got):
                    samples[index] = {"x": x[j].clone(), "y": y[j].clone()}
            for wid in dead:
                for n in [n for n, w in in_flight.items() if w == wid]:
                    in_flight.pop(n)
                    todo[n] = chunks[n]
                self._lost(wid)
        return samples

    @property
    def seconds(self) -> float:
        return 0.0 if self.started_at is None else time.perf_counter() - self.started_at


class OnlineBatches:
    """The trainer's view of a stream: an iterable of batches ``{"x", "y"}`` (raw fields, stacked).

    Parameters
    ----------
    stream : SampleStream
        Started on the first iteration.
    batch_size : int
    steps_per_epoch : int
        Batches per pass (an "epoch" of online training: how often the trainer validates and checkpoints).
    max_time : float, optional
        Seconds of training after which no more batches are given (``--max-time``).
    timeout : float
        Longest wait for one batch before ``TimeoutError``.
    on_end : callable, optional
        Called once when the batches end early (time up, or a bounded stream used up), so that the training
        loop stops rather than starting another pass.
    agree : callable, optional
        Combines this process's status of a step (0: a batch is ready, 1: the batches ended, 2: the stream
        failed) with the other trainer processes': under DDP every rank must take the same steps, so the
        largest status over the ranks decides (``training.distributed.all_reduce_max``); a rank whose
        batch is not used puts nothing back. Default: one process, the status itself.
    """

    def __init__(
        self,
        stream: SampleStream,
        batch_size: int,
        steps_per_epoch: int,
        *,
        max_time: float | None = None,
        timeout: float = 600.0,
        on_end: Callable[[], None] | None = None,
        agree: Callable[[int], int] = int,
    ) -> None:
        if int(batch_size) < 1 or int(steps_per_epoch) < 1:
            raise ValueError(
                f"batch_size={batch_size} and steps_per_epoch={steps_per_epoch} must be at least 1 "
                f"(train.batch_size, online.steps_per_epoch)"
            )
        self.stream, self.buffer = stream, stream.buffer
        self.batch_size, self.steps_per_epoch = int(batch_size), int(steps_per_epoch)
        self.max_time, self.timeout, self.on_end, self.agree = max_time, float(timeout), on_end, agree
        self.steps = 0
        self.waits = 0  # steps that waited for samples, the first (the watermark fill) excluded
        self.wait_seconds = 0.0
        self.fill_seconds = 0.0  # waiting for the watermark
        self.ended = False
        self._began: float | None = None
        self._position = 0

    def __len__(self) -> int:
        return self.steps_per_epoch

    def over(self) -> bool:
        """Whether no further batch will be given (time is up, or a bounded stream is used up)."""
        if self.ended:
            return True
        time_up = self.max_time is not None and self._began is not None
        if time_up and time.perf_counter() - self._began >= self.max_time:  # type: ignore[operator]
            return True
        return self.buffer.finished and len(self.buffer) == 0

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        self.stream.start()
        if self._began is None:
            self._began = time.perf_counter()
        steps, self._position = self.steps_per_epoch - self._position, 0  # a pass resumed mid-way is shorter
        for _ in range(steps):
            start = time.perf_counter()
            got, error = self._next()
            status = self.agree(2 if error is not None else 1 if got is None else 0)
            if status == 2:
                raise error or StreamError(
                    "the sample stream of another trainer process failed (see its error)"
                )
            if status == 1:
                return self._end()
            entries, waited = got  # type: ignore[misc]
            spent = time.perf_counter() - start
            if self.steps == 0:
                self.fill_seconds += spent
            elif waited:
                self.waits += 1
                self.wait_seconds += spent
            self.steps += 1
            yield {
                "x": torch.stack([e.sample["x"] for e in entries]),
                "y": torch.stack([e.sample["y"] for e in entries]),
            }

    def _next(self) -> tuple[Any, BaseException | None]:
        """``(batch from the buffer or None at the end, error or None)`` of this process."""
        if self.over():
            return None, None
        try:
            return self.buffer.get(self.batch_size, timeout=self.timeout), None
        except (StreamError, TimeoutError) as exc:
            return None, exc

    def _end(self) -> None:
        if not self.ended:
            self.ended = True
            if self.on_end is not None:
                self.on_end()

    def stats(self) -> dict[str, float]:
        """Buffer occupancy, distinct samples, generation and consumption rates, steps that waited."""
        hist = self.buffer.histogram()
        distinct = sum(hist.values())
        seen = sum(k * v for k, v in hist.items())
        seconds = max(self.stream.seconds, 1e-9)
        return {
            "buffer_occupancy": len(self.buffer) / self.buffer.capacity,
            "samples_received": self.buffer.received,
            "distinct_samples_seen": sum(v for k, v in hist.items() if k > 0),
            "mean_times_seen": seen / distinct if distinct else 0.0,
            "max_times_seen": max(hist, default=0),
            "generated_per_s": self.buffer.received / seconds,
            "consumed_per_s": seen / seconds,
            "wait_fraction": self.waits / max(self.steps - 1, 1),
            "skipped_seeds": len(self.stream.ledger.skipped),
            "worker_restarts": sum(self.stream.restarts),
        }

    def state_dict(self) -> dict[str, Any]:
        return self.stream.state_dict()

    def load_state_dict(self, state: dict[str, Any], position: int = 0) -> None:
        """Continue the stream of ``state``; the first pass gives the ``steps_per_epoch - position`` batches
        left of the epoch the checkpoint was written in."""
        self.stream.load_state_dict(state)
        self._position = int(position) % self.steps_per_epoch

    def close(self) -> None:
        self.stream.close()
