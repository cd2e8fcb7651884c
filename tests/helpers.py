"""Shared test helpers: one ``assert_close`` that says how far apart two tensors are."""

from __future__ import annotations

import math

import torch


def assert_close(actual, expected, *, rtol: float = 1e-6, atol: float = 1e-8, what: str = "") -> None:
    """Assert ``|actual - expected| <= atol + rtol * |expected|`` elementwise; report max abs/rel error."""
    actual = torch.as_tensor(actual)
    expected = torch.as_tensor(expected, dtype=actual.dtype, device=actual.device)
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    diff = (actual - expected).abs().double()
    scale = expected.abs().double()
    ok = bool((diff <= atol + rtol * scale).all())
    max_abs = diff.max().item() if diff.numel() else 0.0
    max_rel = (diff / scale.clamp_min(1e-300)).max().item() if diff.numel() else 0.0
    assert ok, f"{what}: max abs error {max_abs:.3e}, max rel error {max_rel:.3e} (rtol={rtol}, atol={atol})"


def fitted_slope(steps, errors) -> float:
    """Least-squares slope of ``log(error)`` against ``log(step)``: the observed order of convergence."""
    xs = [math.log(s) for s in steps]
    ys = [math.log(e) for e in errors]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def free_port() -> int:
    """A TCP port free now on 127.0.0.1 (another process may still take it before the store binds it)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def set_rank_env(rank: int, world_size: int, port: int, *, local_rank: int | None = None) -> None:
    """The environment torchrun gives process ``rank`` of ``world_size`` (rendezvous on 127.0.0.1:port)."""
    import os

    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_RANK=str(rank if local_rank is None else local_rank),
    )
