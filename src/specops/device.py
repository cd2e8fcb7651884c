"""Device names from configs and the command line, checked once: ``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``."""

from __future__ import annotations

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
