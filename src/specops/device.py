"""Device names from configs and the command line, checked once: ``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``."""

from __future__ import annotations

import os

import torch


def resolve_device(requested: str | torch.device = "auto", *, what: str = "device") -> torch.device:
    """The ``torch.device`` that ``requested`` names, or a ``ValueError`` saying what is available.

    ``auto`` is the first CUDA device when there is one, else the CPU. ``what`` names the setting in
    messages (``"train.device"``, ``"--device"``).
    """
    if isinstance(requested, torch.device):
        text = str(requested)
    else:
        text = str(requested).strip().lower()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    available = ["auto", "cpu"]
    if torch.cuda.is_available():
        available += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        available.append("mps")
    try:
        device = torch.device(text)
    except RuntimeError:
        raise ValueError(
            f"{what}={requested!r} is not a device name; use one of {', '.join(available)}"
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"{what}={requested!r}: no CUDA device is available on this machine; use {what}=cpu (or auto)"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(
                f"{what}={requested!r}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                f"cuda:0 to cuda:{torch.cuda.device_count() - 1}"
            )
    elif device.type == "mps" and "mps" not in available:
        raise ValueError(f"{what}={requested!r}: the MPS backend is not available here; use {what}=cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(
            f"{what}={requested!r}: specops runs on {', '.join(available)}, not on {device.type!r} devices"
        )
    return device


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def choose_threads(requested: int | str | None = "auto") -> int:
    """Torch threads for this process: ``requested`` if a number, else (``auto``) the usable cores that
    other processes leave idle, from the 1-minute load average, at least 1.

    On a 2-core machine with the other core busy, two OpenMP threads on small tensors spend their time in
    barrier waits: ``make demo`` took 652 s with two threads against 172 s with one (the test suite 508 s
    against 97 s); on an idle machine both threads are used. ``OMP_NUM_THREADS`` set by the user wins
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
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):
        busy = 0.0
    return max(1, min(cores, round(cores - busy)))
