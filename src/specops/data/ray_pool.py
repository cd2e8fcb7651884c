"""Solver workers as Ray actors: online training with workers on many machines (``specops[cluster]``).

:class:`RayPool` offers what :class:`~specops.data.workers.ProcessPool` offers (start, submit a task to a
worker, poll for results and dead workers, restart, close), so :class:`~specops.data.streaming.SampleStream`
runs unchanged on a cluster: each worker is an actor that builds the problem once and answers tasks with
:func:`~specops.data.workers.make_samples`. An actor that dies (its node lost, its process killed) shows
up as ``RayActorError`` on its pending results; the stream restarts it and issues its seeds again.

``address`` is what ``ray.init`` takes: ``ray://HOST:PORT`` (Ray client), ``auto`` (the cluster this node
joined with ``ray start``), or ``local`` to start a private instance on this machine (what the tests do).
Samples come back through Ray's object store as NumPy arrays (zero-copy on the same node).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch

from specops.data.workers import Result, Task, make_samples


def import_ray() -> Any:
    """The ``ray`` module, or an ImportError that names the extra to install."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError(
            "online training on a cluster (--cluster / online.cluster) needs Ray: pip install 'specops[cluster]'"
        ) from exc
    return ray


class _Worker:
    """The actor: one problem, built once; each call answers one task."""

    def __init__(self, factory: Callable[[], Any], device: str | None, dtype: torch.dtype, threads: int):
        torch.set_num_threads(threads)
        self.problem, self.device, self.dtype = factory(), device, dtype

    def run(self, task: Task) -> tuple:
        task_id, indices, x, y, failures = make_samples(
            self.problem, task, device=self.device, dtype=self.dtype
        )
        return task_id, indices, None if x is None else x.numpy(), None if y is None else y.numpy(), failures

    def pid(self) -> int:
        return os.getpid()


class RayPool:
    """``n_workers`` Ray actors running the solver (the interface of ``ProcessPool``).

    Parameters
    ----------
    factory : picklable callable ``() -> Problem``
    n_workers : int
    address : str
        ``ray://HOST:PORT``, ``auto`` or ``local`` (module docstring). An already initialized Ray is used
        as it is.
    device : str, optional
        ``"cuda"`` asks Ray for one GPU per actor.
    dtype : torch.dtype
    threads : int
        CPUs reserved, and torch threads used, per actor.
    """

    def __init__(
        self,
        factory: Callable[[], Any],
        n_workers: int,
        *,
        address: str = "auto",
        device: str | None = None,
        dtype: torch.dtype = torch.float32,
        threads: int = 1,
    ) -> None:
        if int(n_workers) < 1:
            raise ValueError(f"n_workers={n_workers} must be at least 1 (--workers)")
        self.ray = import_ray()
        self.factory, self.n_workers, self.address = factory, int(n_workers), address
        self.device, self.dtype, self.threads = device, dtype, int(threads)
        self.actors: list[Any] = [None] * self.n_workers
        self.refs: dict[Any, int] = {}
        self._owns_ray = False

    def start(self) -> None:
        ray = self.ray
        if not ray.is_initialized():
            local = self.address in (None, "", "local")
            options = {"num_cpus": self.n_workers * self.threads} if local else {"address": self.address}
            ray.init(**options, include_dashboard=False, log_to_driver=False, configure_logging=False)
            self._owns_ray = True
        gpus = 1 if self.device is not None and str(self.device).startswith("cuda") else 0
        self._actor = ray.remote(num_cpus=self.threads, num_gpus=gpus, max_restarts=0)(_Worker)
        for wid in range(self.n_workers):
            self.restart(wid)

    def restart(self, wid: int) -> None:
        """A fresh actor for worker ``wid``; the old one (if any) is killed and its pending results dropped."""
        if self.actors[wid] is not None:
            self.ray.kill(self.actors[wid], no_restart=True)
        self.refs = {ref: w for ref, w in self.refs.items() if w != wid}
        self.actors[wid] = self._actor.remote(self.factory, self.device, self.dtype, self.threads)

    def submit(self, wid: int, task: Task) -> bool:
        self.refs[self.actors[wid].run.remote(task)] = wid
        return True

    def poll(self, timeout: float) -> tuple[list[tuple[int, Result]], list[int]]:
        """Results ready within ``timeout`` seconds as ``(wid, result)``, and the workers found dead."""
        if not self.refs:
            return [], []
        ray = self.ray
        ready, _ = ray.wait(list(self.refs), num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(list(self.refs), num_returns=len(self.refs), timeout=0)
        results, dead = [], set()
        for ref in ready:
            wid = self.refs.pop(ref)
            try:
                task_id, indices, x, y, failures = ray.get(ref)
            except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError):
                dead.add(wid)
                continue
            x = None if x is None else torch.from_numpy(x.copy())
            y = None if y is None else torch.from_numpy(y.copy())
            results.append((wid, (task_id, indices, x, y, failures)))
        return results, sorted(dead)

    @property
    def pids(self) -> list[int | None]:
        return [self.ray.get(a.pid.remote()) if a is not None else None for a in self.actors]

    def close(self) -> None:
        """Kill every actor; shut Ray down if this pool started it."""
        for wid, actor in enumerate(self.actors):
            if actor is not None:
                self.ray.kill(actor, no_restart=True)
                self.actors[wid] = None
        self.refs = {}
        if self._owns_ray and self.ray.is_initialized():
            self.ray.shutdown()
            self._owns_ray = False
