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


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _cpu_times(stat: str = "/proc/stat") -> tuple[float, float, int] | None:
    """``(busy, total, number of CPUs)`` in clock ticks since boot from ``/proc/stat`` (None: unreadable)."""
    try:
        with open(stat) as fh:
            lines = fh.read().splitlines()
        fields = [float(v) for v in lines[0].split()[1:]]
    except (OSError, IndexError, ValueError):
        return None
    if len(fields) < 5:
        return None
    n_cpus = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal (guest is inside user)
    return total - idle, total, max(n_cpus, 1)


def busy_cores(window: float = 0.25, stat: str = "/proc/stat") -> float:
    """How many cores other processes keep busy now: the machine's non-idle time over ``window`` seconds
    of ``/proc/stat`` (this process sleeps meanwhile), or the 1-minute load average where there is no
    ``/proc/stat``. The load average decays over minutes, so right after a heavy run (a previous
    ``specops`` command) it still counts cores that are idle again; the window sees only what runs now."""
    first = _cpu_times(stat)
    if first is not None:
        time.sleep(window)
        second = _cpu_times(stat)
        if second is not None and second[1] > first[1]:
            return (second[0] - first[0]) / (second[1] - first[1]) * second[2]
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def choose_threads(requested: int | str | None = "auto") -> int:
    """Torch threads for this process: ``requested`` if a number, else (``auto``) the usable cores that
    other processes leave idle now (:func:`busy_cores`), at least 1.

    On a 2-core machine with the other core busy, two OpenMP threads on small tensors spend their time in
    barrier waits: ``make demo`` took 652 s with two threads against 172 s with one (the test suite 508 s
    against 97 s); on an idle machine two threads are faster (the demo 77 s against 109 s). ``OMP_NUM_THREADS`` set by the user wins
    over ``auto``, as does the ``SPECOPS_THREADS`` environment variable.
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
