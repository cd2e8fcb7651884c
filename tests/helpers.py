"""Shared test helpers."""

from __future__ import annotations

import torch


def assert_close(actual, expected, *, atol: float = 0.0, rtol: float = 1e-12, what: str = "") -> None:
    """Assert ``|actual - expected| <= atol + rtol |expected|`` elementwise, reporting max abs/rel error."""
    actual = torch.as_tensor(actual)
    expected = torch.as_tensor(expected, dtype=actual.dtype, device=actual.device)
    assert actual.shape == expected.shape, f"{what} shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    diff = (actual - expected).abs()
    bound = atol + rtol * expected.abs()
    max_abs = diff.max().item() if diff.numel() else 0.0
    scale = expected.abs().max().item() if expected.numel() else 0.0
    max_rel = max_abs / scale if scale > 0 else float("inf") if max_abs > 0 else 0.0
    assert bool((diff <= bound).all()), (
        f"{what} not close: max abs error {max_abs:.3e}, max rel error {max_rel:.3e} (atol={atol}, rtol={rtol})"
    )
