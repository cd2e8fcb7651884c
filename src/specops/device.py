"""Device names from configs and the command line, checked once: ``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``."""

from __future__ import annotations

import os
import time

import torch


def _setting(what: str, value: object) -> str:
    """``--device cuda`` for a command-line flag, ``train.device='cuda'`` for a configuration key."""
    return f"{what} {value}" if what.startswith("-") else f"{what}={value!r}"


def resolve_device(requested: str | torch.device | None = "auto", *, what: str = "device") -> torch.device:
    """The ``torch.device`` that ``requested`` names, checked to exist here, or a ``ValueError`` saying
    what to use instead.

    ``auto`` is the first CUDA device when there is one, else the CPU; None is the CPU. ``what`` names the
    setting in messages: a flag (``"--device"``) or a configuration key (``"train.device"``).
    """
    text = "cpu" if requested is None else str(requested).strip().lower()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    named = _setting(what, text)
    use_cpu = f"use {what} cpu" if what.startswith("-") else f"use {what}=cpu"
    try:
        device = torch.device(text)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"{named}: not a device name; {use_cpu}, cuda, cuda:N or auto") from None
    if device.type == "cpu":
        return device
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{named}: no CUDA device is available; {use_cpu}")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ValueError(
                f"{named}: there is no CUDA device {device.index}, only {count} (cuda:0 to cuda:{count - 1})"
            )
        return device
    if device.type == "meta":
        raise ValueError(f"{named}: meta tensors hold no data; {use_cpu} or cuda")
    try:  # other backends (mps, xpu, ...) report their absence each in their own way
        torch.zeros(1, device=device)
    except Exception as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0].split(". ")[0][:160]
        raise ValueError(f"{named}: not usable here ({reason}); {use_cpu}") from None
    return device


def _usable_set() -> set[int] | None:
    try:
        return set(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return None


def _usable_cores() -> int:
    usable = _usable_set()
    return len(usable) if usable else (os.cpu_count() or 1)


def _cpu_ticks(stat: str) -> dict[int, tuple[float, float]] | None:
    """``{cpu: (busy, total)}`` clock ticks since boot, per CPU, from ``/proc/stat`` (None: unreadable)."""
    ticks = {}
    try:
        with open(stat) as fh:
            for line in fh:
                name, *values = line.split()
                if name.startswith("cpu") and name[3:].isdigit() and len(values) >= 5:
                    fields = [float(v) for v in values[:8]]  # user nice system idle iowait irq softirq steal
                    ticks[int(name[3:])] = (sum(fields) - fields[3] - fields[4], sum(fields))
    except (OSError, ValueError):
        return None
    return ticks or None


def busy_cores(window: float = 0.25, stat: str = "/proc/stat") -> float:
    """How many of this process's usable cores other processes keep busy now: their non-idle share over
    ``window`` seconds of ``/proc/stat`` (this process sleeps meanwhile), or the 1-minute load average
    where there is no ``/proc/stat``. The load average decays over minutes, so right after a heavy run (a
    previous ``specops`` command) it still counts cores that are idle again; the window sees what runs now.
    """
    first = _cpu_ticks(stat)
    if first is not None:
        time.sleep(window)
        second = _cpu_ticks(stat) or {}
        usable = _usable_set() or set(second)
        busy = 0.0
        for cpu in usable & set(first) & set(second):
            elapsed = second[cpu][1] - first[cpu][1]
            busy += (second[cpu][0] - first[cpu][0]) / elapsed if elapsed > 0 else 0.0
        return busy
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def choose_threads(requested: int | str | None = "auto") -> int:
    """Torch threads for this process: ``requested`` if a number, else (``auto``) the usable cores that
    other processes leave idle now (:func:`busy_cores`), at least 1.

    On a 2-core machine with the other core busy, two OpenMP threads on small tensors spend their time in
    barrier waits: ``make demo`` took 652 s with two threads against 172 s with one (the test suite 508 s
    against 97 s); on an idle machine two threads are faster (the demo 77 s against 109 s).
    ``OMP_NUM_THREADS`` set by the user wins over ``auto``, as does the ``SPECOPS_THREADS`` variable.
    """
    if requested in (None, "auto"):
        env = os.environ.get("SPECOPS_THREADS") or os.environ.get("OMP_NUM_THREADS")
        if env:
            requested = env
    if requested not in (None, "auto"):
        try:
            threads = int(requested)
        except (TypeError, ValueError):
            threads = 0
        if threads < 1:
            raise ValueError(f"threads={requested!r} must be a positive integer or 'auto'")
        return threads
    cores = _usable_cores()
    return max(1, min(cores, round(cores - busy_cores())))
