"""Solver workers of online training on one machine: processes that turn seeds into samples.

A task is a list of stream indices ``i`` with their seeds ``S + i`` (as ``specops generate``: any streamed
sample can be regenerated). A worker builds its problem once, then per task calls
``problem.generate(seeds)`` and answers ``(task_id, indices, x, y, failures)``: ``x`` and ``y`` are the
input and output fields concatenated on the channel axis, ``(B, C, *space)``, for the samples that
succeeded. A batch that raises or holds NaN/inf is retried seed by seed, so one bad seed costs only
itself; each failure is reported as ``(index, seed, message)`` and the stream's policy skips it or stops.

:class:`ProcessPool` runs the workers as ``torch.multiprocessing`` processes (``forkserver`` or
``spawn``, never a plain fork: safe with threads in the parent and with CUDA). Each worker has its own duplex pipe to the parent, so a worker
killed mid-message can corrupt only its own pipe (a shared queue's lock would die with it). Tensors
travel through shared memory (torch's reducers of ``ForkingPickler``): only a handle crosses the pipe.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

import torch
import torch.multiprocessing as mp

Task = tuple[int, list[int], list[int]]  # (task id, stream indices, seeds)
Result = tuple[int, list[int], torch.Tensor | None, torch.Tensor | None, list[tuple[int, int, str]]]


@dataclass(frozen=True)
class ProblemSpec:
    """A registered problem by name and overrides (``make_problem(name, **overrides)``), picklable so that
    every worker builds its own copy."""

    name: str
    overrides: dict[str, Any] = field(default_factory=dict)

    def __call__(self) -> Any:
        from specops.solvers.problems import make_problem

        return make_problem(self.name, **self.overrides)


def pair_fields(problem: Any, data: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` of a generated batch: input fields, then output fields, concatenated on the channel axis."""
    x = torch.cat([data[name] for name in problem.input_fields], dim=1)
    y = torch.cat([data[name] for name in problem.output_fields], dim=1)
    return x, y


def make_samples(
    problem: Any, task: Task, *, device: str | None = None, dtype: torch.dtype = torch.float32
) -> Result:
    """Run one task: the samples of its seeds as ``(task_id, indices, x, y, failures)`` on the CPU.

    The whole batch first; if it raises or is not finite, seed by seed, keeping the samples that succeed
    and reporting each failure with its index, seed and message.
    """
    task_id, indices, seeds = task
    try:
        x, y = _generate(problem, seeds, device, dtype)
        return task_id, list(indices), x, y, []
    except (FloatingPointError, ArithmeticError, ValueError, RuntimeError):
        pass  # find which seeds fail
    good, xs, ys, failures = [], [], [], []
    for index, seed in zip(indices, seeds):
        try:
            x, y = _generate(problem, [seed], device, dtype)
        except (FloatingPointError, ArithmeticError, ValueError, RuntimeError) as exc:
            failures.append((int(index), int(seed), f"{type(exc).__name__}: {exc}"))
            continue
        good.append(index)
        xs.append(x)
        ys.append(y)
    if not good:
        return task_id, [], None, None, failures
    return task_id, good, torch.cat(xs), torch.cat(ys), failures


def _generate(problem: Any, seeds: list[int], device: str | None, dtype: torch.dtype):
    with torch.no_grad():
        x, y = pair_fields(problem, problem.generate(seeds, device=device, dtype=dtype))
    if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
        raise FloatingPointError("the solver produced NaN or inf")
    return x.detach().cpu().contiguous(), y.detach().cpu().contiguous()


def _worker_main(
    conn: Connection, factory: Callable[[], Any], device: str | None, dtype: torch.dtype, threads: int
) -> None:
    """A worker process: build the problem, then answer tasks until ``None`` or the pipe closes."""
    torch.set_num_threads(threads)
    problem = factory()
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        conn.send(make_samples(problem, task, device=device, dtype=dtype))


class ProcessPool:
    """``n_workers`` solver processes, each with its own pipe; dead ones are detected and replaced.

    Parameters
    ----------
    factory : picklable callable ``() -> Problem``
        Builds the problem in each worker (e.g. :class:`ProblemSpec`).
    n_workers : int
    device : str, optional
        Where the workers' solvers run (``"cuda"`` puts them on the GPU; samples come back on the CPU).
    dtype : torch.dtype
    threads : int
        Torch threads per worker.
    start_method : str
        ``"forkserver"`` (default: a server process imports torch once, workers are forks of it, so a
        restart takes milliseconds) or ``"spawn"`` (a fresh interpreter per worker).
    """

    def __init__(
        self,
        factory: Callable[[], Any],
        n_workers: int,
        *,
        device: str | None = None,
        dtype: torch.dtype = torch.float32,
        threads: int = 1,
        start_method: str = "forkserver",
    ) -> None:
        if int(n_workers) < 1:
            raise ValueError(f"n_workers={n_workers} must be at least 1 (--workers)")
        self.factory, self.n_workers = factory, int(n_workers)
        self.device, self.dtype, self.threads = device, dtype, int(threads)
        if start_method not in mp.get_all_start_methods() or start_method == "fork":
            raise ValueError(
                f"start_method={start_method!r} is not one of {[m for m in mp.get_all_start_methods() if m != 'fork']}"
                f" (fork is unsafe with the feeder thread and with CUDA)"
            )
        self.ctx = mp.get_context(start_method)
        if start_method == "forkserver":
            # The server imports torch and the problems once; each worker is then a cheap fork of it.
            self.ctx.set_forkserver_preload(["specops.data.workers", "specops.solvers.problems"])
        self.procs: list[Any] = [None] * self.n_workers
        self.conns: list[Connection | None] = [None] * self.n_workers

    def start(self) -> None:
        for wid in range(self.n_workers):
            self.restart(wid)

    def restart(self, wid: int) -> None:
        """Start worker ``wid`` (again): a fresh process and pipe; the old ones are discarded."""
        self._stop(wid, graceful=False)
        parent, child = self.ctx.Pipe(duplex=True)
        proc = self.ctx.Process(
            target=_worker_main,
            args=(child, self.factory, self.device, self.dtype, self.threads),
            daemon=True,
            name=f"specops-solver-{wid}",
        )
        proc.start()
        child.close()
        self.procs[wid], self.conns[wid] = proc, parent

    def submit(self, wid: int, task: Task) -> bool:
        """Send ``task`` to worker ``wid``; False if its pipe is broken (the worker died)."""
        try:
            self.conns[wid].send(task)  # type: ignore[union-attr]
        except (OSError, ValueError, AttributeError):
            return False
        return True

    def poll(self, timeout: float) -> tuple[list[tuple[int, Result]], list[int]]:
        """Results ready within ``timeout`` seconds as ``(wid, result)``, and the workers found dead."""
        live = {conn: wid for wid, conn in enumerate(self.conns) if conn is not None}
        results, dead = [], set()
        for conn in wait(list(live), timeout):
            wid = live[conn]  # type: ignore[index]
            try:
                results.append((wid, conn.recv()))  # type: ignore[union-attr]
            except (EOFError, OSError, RuntimeError, ConnectionError):
                dead.add(wid)  # closed, or died before its shared memory could be received
        for wid, proc in enumerate(self.procs):
            if proc is not None and not proc.is_alive() and not self.conns[wid].poll():  # type: ignore[union-attr]
                dead.add(wid)
        return results, sorted(dead)

    @property
    def pids(self) -> list[int | None]:
        return [p.pid if p is not None else None for p in self.procs]

    def _stop(self, wid: int, graceful: bool) -> None:
        proc, conn = self.procs[wid], self.conns[wid]
        if conn is not None and graceful:
            try:
                conn.send(None)
            except (OSError, ValueError):
                pass
        if proc is not None:
            proc.join(timeout=2.0 if graceful else 0.0)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5.0)
        if conn is not None:
            conn.close()
        self.procs[wid], self.conns[wid] = None, None

    def close(self) -> None:
        """Stop every worker (asked first, killed after 2 s) and reap it: no process is left behind."""
        for wid in range(self.n_workers):
            self._stop(wid, graceful=True)


def worker_threads(n_workers: int, cores: int | None = None) -> int:
    """Torch threads per worker: the cores left after one for the trainer, shared out, at least one."""
    cores = cores or os.cpu_count() or 1
    return max(1, (cores - 1) // max(1, n_workers))


def seeds_of(indices: Sequence[int], seed: int) -> list[int]:
    """Seeds of stream indices: sample ``i`` uses seed ``seed + i``."""
    return [int(seed) + int(i) for i in indices]
